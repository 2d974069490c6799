"""An agent that runs in a pod and answers HTTP: Knative's activator, autoscaler and
gateway. Its command-line options are kept, its servers listen once the caches have
synced (so no request meets an empty cache), and they drain on SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os

from lab_kit.agents.runner import Agent, Context
from lab_kit.workloads import _http


class PodHttpAgent(Agent):
    goodbye_on_exit = True  # a stopped pod agent must not hold `apply --wait` up
    drain_s = 5.0  # how long SIGTERM waits for requests in flight

    def __init__(self, ctx: Context, options: argparse.Namespace):
        super().__init__(ctx)
        self.options = options
        self.servers: list[_http.Server] = []

    @classmethod
    def create(cls, ctx: Context, options: argparse.Namespace) -> Agent:
        return cls(ctx, options)

    def handlers(self) -> dict[int, _http.Handler]:
        """Port -> handler, for every port the agent serves."""
        return {}

    async def start(self) -> None:
        for port, handler in self.handlers().items():
            server = _http.Server(handler)
            await server.listen(port)
            self.servers.append(server)
        logging.getLogger(self.log_name()).info(
            "serving on %s (pod %s)",
            ", ".join(f":{p}" for p in self.handlers()),
            os.environ.get("LABKIT_POD", ""),
        )

    async def stop(self) -> None:
        for server in self.servers:
            await server.shutdown(self.drain_s)
