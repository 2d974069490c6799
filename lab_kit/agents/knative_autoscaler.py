"""Knative's autoscaler: every tick, how busy each Revision is, and how many pods it gets.

Mirrors knative/serving `cmd/autoscaler` (the KPA): each tick (config-autoscaler's
`tick-interval`, 2 s) it scrapes every ready pod's queue-proxy (:9090/metrics) and the
activators (what they hold or carry for the Revision), feeds the sum to the Revision's
decider (`lab_kit/controllers/kpa.py`), and writes the decision: the PodAutoscaler's
`status.desiredScale` (the controller-manager scales the Deployment to it) and the
ServerlessService's `spec.mode` (Serve: the pods take traffic directly; Proxy: through
the activator). An activator holding a request for a Revision at zero POSTs to `/poke`
on :8080, which ticks that Revision at once: scale from zero does not wait for a tick.

config-autoscaler (knative-serving) is read live; a value Knative would refuse is logged
and the previous settings kept.

Run in its pod by the image gcr.io/knative-releases/knative.dev/serving/cmd/autoscaler.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging

from lab_kit.agents.pod_http import PodHttpAgent
from lab_kit.agents.runner import Context, Watch
from lab_kit.controllers import kpa
from lab_kit.controllers.knative_objects import (
    ACTIVATOR_SERVICE,
    SYSTEM_NAMESPACE,
    private_service_name,
)
from lab_kit.controllers.knative_revision import SERVICE_TYPE_LABEL, ready_addresses
from lab_kit.controllers.state import Snapshot, Update
from lab_kit.model.errors import ApiError
from lab_kit.workloads import _http

log = logging.getLogger("autoscaler")
CONFIG = "config-autoscaler"
SCRAPE_TIMEOUT_S = 0.5


class Autoscaler(PodHttpAgent):
    log_format = "%(asctime)s autoscaler %(levelname)s %(message)s"

    def __init__(self, ctx: Context, options: argparse.Namespace):
        super().__init__(ctx, options)
        self.watches = {
            "PodAutoscaler": Watch("PodAutoscaler"),
            "ServerlessService": Watch("ServerlessService"),
            "Private": Watch("EndpointSlice", label_selector=f"{SERVICE_TYPE_LABEL}=Private"),
            "Activator": Watch(
                "EndpointSlice",
                namespace=SYSTEM_NAMESPACE,
                label_selector=f"kubernetes.io/service-name={ACTIVATOR_SERVICE}",
            ),  # fmt: skip
            "ConfigMap": Watch(
                "ConfigMap", namespace=SYSTEM_NAMESPACE, field_selector=f"metadata.name={CONFIG}"
            ),
        }
        self.config: dict = {}
        self.deciders: dict[str, tuple[tuple, kpa.Decider]] = {}
        self.last_tick = float("-inf")
        self.poked: set[str] = set()
        self.resync_s = 2.0
        self.decisions: dict[str, kpa.Decision] = {}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8080, help="where activators poke")

    def handlers(self) -> dict[int, _http.Handler]:
        return {self.options.port: self.handle}

    async def handle(self, request: _http.Request) -> _http.Response:
        if request.method == "POST" and request.path == "/poke":
            body = json.loads(request.body or b"{}")
            key = f"{body.get('namespace')}/{body.get('revision')}"
            self.poked.add(key)
            self.ctx.changed()  # tick now
            return _http.text("ok\n")
        if request.path == "/decisions":  # what `labkit` shows: the last decision per Revision
            return _http.Response(200, json.dumps({k: vars(d) for k, d in self.decisions.items()}).encode(),
                                  "application/json")  # fmt: skip
        return _http.text("404 page not found\n", 404)

    def _settings(self, pa: dict) -> kpa.Settings:
        notes = pa["metadata"].get("annotations") or {}
        cc = int((pa.get("spec") or {}).get("containerConcurrency", 0))
        try:
            return kpa.Settings.from_config(self.config, notes, cc)
        except (kpa.ConfigError, ValueError) as e:
            log.warning("%s: %s; using config-autoscaler's defaults", CONFIG, e)
            return kpa.Settings.from_config({}, notes, cc)

    async def sync(self) -> dict | None:
        configs = self.ctx.items("ConfigMap")
        self.config = dict((configs[0].get("data") or {}) if configs else {})
        tick = self._settings({"metadata": {}}).tick_s
        self.resync_s = tick
        now = self.ctx.clock.monotonic()
        due = now - self.last_tick >= tick * 0.9
        if not due and not self.poked:
            return None
        if due:
            self.last_tick = now
        poked, self.poked = self.poked, set()
        private = Snapshot.of(self.ctx.items("Private"))
        activators = ready_addresses(
            Snapshot.of(self.ctx.items("Activator")), SYSTEM_NAMESPACE, ACTIVATOR_SERVICE
        )
        carried = await self._activator_load(activators)
        for pa in self.ctx.items("PodAutoscaler"):
            md = pa["metadata"]
            key = f"{md['namespace']}/{md['name']}"
            if not due and key not in poked:
                continue
            pods = ready_addresses(private, md["namespace"], private_service_name(md["name"]))
            decider = self._decider(key, pa)
            if key in poked:
                decider.poke(now)
            load = sum(await asyncio.gather(*(self._pod_load(ip) for ip in pods))) + carried.get(
                key, 0.0
            )
            decision = decider.tick(now, len(pods), load if due else None)
            self.decisions[key] = decision
            await self._write(pa, decision, len(pods))
        return None

    def _decider(self, key: str, pa: dict) -> kpa.Decider:
        settings = self._settings(pa)
        current = self.deciders.get(key)
        if current is None or current[0] != (settings,):
            old = current[1] if current else None
            decider = kpa.Decider(settings)
            if old is not None:  # new settings, same history
                decider.samples, decider.zero_since = old.samples, old.zero_since
            self.deciders[key] = ((settings,), decider)
        return self.deciders[key][1]

    async def _pod_load(self, ip: str) -> float:
        data = await _get_json(ip, 9090, "/metrics?format=json")
        return float(data.get("queue_average_concurrent_requests", 0.0)) if data else 0.0

    async def _activator_load(self, ips: list[str]) -> dict[str, float]:
        total: dict[str, float] = {}
        for data in await asyncio.gather(*(_get_json(ip, 9090, "/metrics") for ip in ips)):
            for key, stats in (data or {}).items():
                load = float(stats.get("queue_average_concurrent_requests", 0.0)) + float(
                    stats.get("held", 0)
                )
                total[key] = total.get(key, 0.0) + load
        return total

    async def _write(self, pa: dict, decision: kpa.Decision, ready: int) -> None:
        status = {
            **(pa.get("status") or {}),
            "desiredScale": decision.desired_scale,
            "actualScale": ready,
        }
        client = self.ctx.client
        if status != pa.get("status"):
            updated = copy.deepcopy(pa)
            updated["status"] = status
            await _quietly(client.perform(Update(updated, subresource="status")))
        md = pa["metadata"]
        for sks in self.ctx.items("ServerlessService"):
            same = (
                sks["metadata"]["namespace"] == md["namespace"]
                and sks["metadata"]["name"] == md["name"]
            )
            if same and (sks.get("spec") or {}).get("mode") != decision.mode:
                updated = copy.deepcopy(sks)
                updated["spec"]["mode"] = decision.mode
                log.info("%s/%s: %s (%s)", md["namespace"], md["name"], decision.mode, decision.why)
                await _quietly(client.perform(Update(updated)))


async def _quietly(call) -> None:
    """A conflict or a vanished object: the next tick writes again."""
    try:
        await call
    except ApiError as e:
        if e.code not in (404, 409):
            raise


async def _get_json(host: str, port: int, path: str) -> dict | None:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), SCRAPE_TIMEOUT_S
        )
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), SCRAPE_TIMEOUT_S)
        writer.close()
        return json.loads(raw.partition(b"\r\n\r\n")[2] or b"{}")
    except (OSError, asyncio.TimeoutError, ValueError):
        return None
