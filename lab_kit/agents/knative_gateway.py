"""Knative's ingress for the lab: the gateway that turns a Route into routing, as Kourier
(Envoy) or Istio's gateway do for a real Knative.

- Reads every Route's status: its hosts (`hello.default.example.com`, the cluster-local
  `hello.default.svc.cluster.local` and its short forms `hello.default.svc`,
  `hello.default`; a tag's `candidate-hello.default.example.com`) and its traffic split.
- A request is routed by its Host header: a tag's host goes to that Revision, the others
  pick a Revision at random weighted by `percent` (Envoy's weighted clusters). It is sent
  to the Revision's public Service (`hello-00001`, port 80: kube-proxy takes it to the
  activator or a pod, whichever the ServerlessService chose) with the
  `Knative-Serving-Namespace` and `Knative-Serving-Revision` headers the activator needs.
- Unknown host: 404, as Envoy answers with no matching virtual host.

Reached in the cluster through `knative-local-gateway` (what each Route's ExternalName
placeholder Service names) and from outside through the lab's ingress-nginx: the addon's
Ingress sends every host nothing else claims to the same gateway.

Run in its pod by lab_kit's image lab-kit/knative-gateway (no such image upstream).
"""

from __future__ import annotations

import argparse
import logging
import random
from urllib.parse import urlsplit

from lab_kit.agents.pod_http import PodHttpAgent
from lab_kit.agents.runner import Context, Watch
from lab_kit.workloads import _http, _proxy

log = logging.getLogger("knative-gateway")


def route_hosts(route: dict) -> dict[str, str | None]:
    """Host -> the tag it means (None: the Route's own split)."""
    md, status = route["metadata"], route.get("status") or {}
    name, ns = md["name"], md["namespace"]
    hosts: dict[str, str | None] = {
        f"{name}.{ns}.svc.cluster.local": None,
        f"{name}.{ns}.svc": None,
        f"{name}.{ns}": None,
    }
    if status.get("url"):
        hosts[urlsplit(status["url"]).hostname or ""] = None
    for target in status.get("traffic") or []:
        if target.get("url"):
            hosts[urlsplit(target["url"]).hostname or ""] = target.get("tag")
    return hosts


def pick(traffic: list[dict], tag: str | None, rng: random.Random) -> str | None:
    """The Revision for one request: the tag's, or one drawn by percent."""
    if tag is not None:
        return next((t["revisionName"] for t in traffic if t.get("tag") == tag), None)
    weighted = [
        (t["revisionName"], t.get("percent", 0)) for t in traffic if t.get("percent", 0) > 0
    ]
    if not weighted:
        return None
    draw = rng.uniform(0, sum(w for _, w in weighted))
    for revision, weight in weighted:
        draw -= weight
        if draw < 0:
            return revision
    return weighted[-1][0]


class Gateway(PodHttpAgent):
    log_format = "%(asctime)s knative-gateway %(levelname)s %(message)s"
    watches = {"Route": Watch("Route"), "Service": Watch("Service")}

    def __init__(self, ctx: Context, options: argparse.Namespace):
        super().__init__(ctx, options)
        self.table: dict[str, tuple[str, str, str | None]] = {}  # host -> (ns, route, tag)
        self.traffic: dict[tuple[str, str], list[dict]] = {}
        self.cluster_ips: dict[tuple[str, str], str] = {}
        self.rng = random.Random()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--timeout", type=float, default=300, help="seconds per request")

    def handlers(self) -> dict[int, _http.Handler]:
        return {self.options.port: self.handle}

    async def sync(self) -> dict | None:
        table, traffic = {}, {}
        for route in self.ctx.items("Route"):
            md = route["metadata"]
            key = (md["namespace"], md["name"])
            traffic[key] = (route.get("status") or {}).get("traffic") or []
            for host, tag in route_hosts(route).items():
                table[host] = (md["namespace"], md["name"], tag)
        self.table, self.traffic = table, traffic
        self.cluster_ips = {
            (s["metadata"]["namespace"], s["metadata"]["name"]): (s.get("spec") or {}).get(
                "clusterIP", ""
            )
            for s in self.ctx.items("Service")
        }
        return None

    async def handle(self, request: _http.Request) -> _http.Response:
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
        found = self.table.get(host)
        if found is None:
            return _http.Response(404)
        ns, route, tag = found
        revision = pick(self.traffic.get((ns, route), []), tag, self.rng)
        address = self.cluster_ips.get((ns, revision or ""))
        if not revision or not address or address == "None":
            return _http.text("no healthy upstream", 503)  # Envoy's words
        extra = {"Knative-Serving-Namespace": ns, "Knative-Serving-Revision": revision}
        try:
            return await _proxy.forward(request, address, 80, self.options.timeout, extra)
        except _proxy.Unreachable as e:
            log.warning("%s -> %s: %s", host, revision, e)
            return _http.text("upstream connect error or disconnect/reset before headers", 503)
