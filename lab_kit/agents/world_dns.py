"""The lab's upstream resolver: the whole "internet" DNS, on the internet host (203.0.113.10).

    start: read the zone file (lab_kit/render/dns/world.zone) -> listen on UDP/TCP :53
    each query -> WorldZone.answer (pure) -> reply: records, NODATA or NXDOMAIN
    (no watches: nothing in the API changes what the world knows)

Cluster DNS forwards every name outside cluster.local here (kubeadm's `forward .
/etc/resolv.conf`, and the coredns pods' resolv.conf is the node's, which names this host).
It answers from the zone file and never asks anyone else: no lab query reaches this
machine's real resolvers. `labkit up` starts it inside the internet host's network
namespace (the agent table's `world-dns`, host:internet); `labkit down` stops it. The
loop, "ready" and signals are the agent runner's (`lab_kit/agents/runner.py`).

Run (inside the internet host's network namespace):
    python -m lab_kit.agents world-dns [--zone-file F] [--port 53]
"""

from __future__ import annotations

import argparse
import logging

from lab_kit.adapters.dns_listener import DnsListener, Reply
from lab_kit.agents.runner import Agent, Context
from lab_kit.render.dns.world import WORLD_ZONE, WorldZone

log = logging.getLogger("world-dns")


class WorldDns(Agent):
    def __init__(
        self,
        ctx: Context,
        world: WorldZone,
        port: int = 53,
        host: str = "0.0.0.0",
        source: str = "",
    ):
        """`world`: the names it knows; `port` 0 and `host` 127.0.0.1 in tests (no root)."""
        super().__init__(ctx)
        self.world, self.port, self.host, self.source = world, port, host, source
        self.listener: DnsListener | None = None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--zone-file", default=str(WORLD_ZONE), help="the world's names")
        parser.add_argument("--port", type=int, default=53, help="the UDP and TCP port")

    @classmethod
    def create(cls, ctx: Context, options: argparse.Namespace) -> WorldDns:
        with open(options.zone_file) as f:
            world = WorldZone(f.read())
        return cls(ctx, world, options.port, source=options.zone_file)

    def handle(self, data: bytes, reply: Reply, _tcp: bool) -> None:
        out = self.world.answer(data)
        if out is not None:  # None: not worth an answer (a reply, or too short for an ID)
            reply(out)

    async def start(self) -> None:
        self.listener = DnsListener(self.handle, self.host, self.port)
        await self.listener.start()
        log.info("serving %d names from %s on :%d", len(self.world.records),
                 self.source or "a zone", self.listener.port)  # fmt: skip

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
