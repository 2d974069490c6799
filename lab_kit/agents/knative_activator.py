"""Knative's activator: stands in a Revision's data path while it has no pod (or too few),
holds requests, asks for a pod, and forwards once one is ready.

Mirrors knative/serving `cmd/activator` and `pkg/activator/handler` as a learner sees it:

- Requests arrive on :8012 through the Revision's public Service (the ServerlessService
  points it here in Proxy mode) with the gateway's `Knative-Serving-Namespace` and
  `Knative-Serving-Revision` headers.
- With no ready pod, the request is held: the activator tells the autoscaler at once
  (Knative pushes its stats over a websocket; here one POST to the autoscaler's
  `/poke`), waits until the Revision's private endpoints list a ready pod, and forwards
  to it (`lab_kit/agents/knative_buffer.py` holds the waiting and the per-pod capacity).
  The client sees one slow 200. A request still waiting after the Revision's
  `timeoutSeconds` gets 503.
- Per pod, at most `containerConcurrency` requests at once (0: no limit), round robin.
- The autoscaler scrapes the concurrency it carries per Revision on :9090/metrics;
  :9090/held says how many requests wait right now (for the lab's pictures).

Run in its pod by the image gcr.io/knative-releases/knative.dev/serving/cmd/activator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

from lab_kit.agents import knative_buffer
from lab_kit.agents.pod_http import PodHttpAgent
from lab_kit.agents.runner import Context, Watch
from lab_kit.controllers.knative_objects import QUEUE_PORT, private_service_name
from lab_kit.controllers.knative_revision import SERVICE_TYPE_LABEL, ready_addresses
from lab_kit.controllers.state import Snapshot
from lab_kit.workloads import _http, _proxy, queue_proxy

log = logging.getLogger("activator")
NAMESPACE_HEADER, REVISION_HEADER = "knative-serving-namespace", "knative-serving-revision"
AUTOSCALER = "autoscaler.knative-serving.svc.cluster.local"


class Activator(PodHttpAgent):
    log_format = "%(asctime)s activator %(levelname)s %(message)s"

    def __init__(self, ctx: Context, options: argparse.Namespace):
        super().__init__(ctx, options)
        self.watches = {
            "EndpointSlice": Watch("EndpointSlice", label_selector=f"{SERVICE_TYPE_LABEL}=Private"),
            "Revision": Watch("Revision"),
        }
        self.buffer = knative_buffer.Buffer(ctx.clock)
        self.stats: dict[str, queue_proxy.Stats] = {}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8012, help="where requests come in")
        parser.add_argument("--metrics-port", type=int, default=9090)
        parser.add_argument("--autoscaler", default=f"{AUTOSCALER}:8080",
                            help="HOST:PORT of the autoscaler (its /poke)")  # fmt: skip

    def handlers(self) -> dict[int, _http.Handler]:
        return {self.options.port: self.handle, self.options.metrics_port: self.metrics}

    async def sync(self) -> dict | None:
        """Ready pods per Revision, from its private Service's EndpointSlices."""
        state = Snapshot.of(self.ctx.items("EndpointSlice"))
        for rev in self.ctx.items("Revision"):
            md, spec = rev["metadata"], rev.get("spec") or {}
            pods = ready_addresses(state, md["namespace"], private_service_name(md["name"]))
            self.buffer.update(f"{md['namespace']}/{md['name']}", pods,
                               int(spec.get("containerConcurrency", 0)), float(spec.get("timeoutSeconds", 300)))  # fmt: skip
        return None

    # --- the data path ---------------------------------------------------------------------
    async def handle(self, request: _http.Request) -> _http.Response:
        if request.headers.get(queue_proxy.PROBE_HEADER) == "activator":
            return _http.text("activator")
        ns, rev = request.headers.get(NAMESPACE_HEADER), request.headers.get(REVISION_HEADER)
        if not ns or not rev:
            return _http.text("missing Knative-Serving-Namespace/Revision headers\n", 400)
        key = f"{ns}/{rev}"
        stats = self.stats.setdefault(key, queue_proxy.Stats(time.monotonic()))
        stats.started(time.monotonic())
        try:
            if not self.buffer.has_capacity(key):
                asyncio.create_task(self.poke(ns, rev))
            try:
                async with self.buffer.slot(key) as pod:
                    return await _proxy.forward(request, pod, QUEUE_PORT,
                                                self.buffer.timeout(key))  # fmt: skip
            except knative_buffer.TimedOut as e:
                return _http.text(f"{e}\n", 503)
            except _proxy.Unreachable as e:
                return _http.text(f"error forwarding to the revision: {e}\n", 502)
        finally:
            stats.finished(time.monotonic())

    async def poke(self, ns: str, rev: str) -> None:
        """Tell the autoscaler a request waits for `rev`: it wants a pod at once."""
        host, _, port = self.options.autoscaler.rpartition(":")
        body = json.dumps({"namespace": ns, "revision": rev}).encode()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2)
            writer.write(f"POST /poke HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)  # fmt: skip
            await writer.drain()
            await asyncio.wait_for(reader.read(), 2)
            writer.close()
        except (OSError, asyncio.TimeoutError) as e:
            log.warning("could not reach the autoscaler at %s: %r", self.options.autoscaler, e)

    async def metrics(self, request: _http.Request) -> _http.Response:
        """/metrics: per Revision, concurrency since the last scrape (the autoscaler's) and
        requests held now; /held: only the latter, without resetting anything (the lab's)."""
        if request.path == "/held":
            held = {key: self.buffer.waiting(key) for key in self.buffer.revisions}
            return _http.Response(200, json.dumps(held).encode(), "application/json")
        now = time.monotonic()
        out = {
            key: {**s.scrape(now), "held": self.buffer.waiting(key)}
            for key, s in self.stats.items()
        }
        return _http.Response(200, json.dumps(out).encode(), "application/json")
