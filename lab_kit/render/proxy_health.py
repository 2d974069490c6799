"""kube-proxy's two health servers, as answers: what each request gets, given the state.

Mirrors kubernetes/kubernetes `pkg/proxy/healthcheck` (v1.31-v1.33; `proxier_health.go`,
later `proxy_health.go`, and `service_health.go`) and the counting in `pkg/proxy/endpoints.go`
(`LocalReadyEndpoints`). The agent (`lab_kit/agents/kube_proxy.py`) owns the sockets; this
module decides the status, the headers and the body, byte for byte.

1. The proxier is *healthy* unless an update it has been told of (a Service or
   EndpointSlice change: `queued_update`) has waited `health_timeout_s` (2 x syncPeriod)
   without a successful sync (`updated`). A proxier that is starting, or fully synced,
   is healthy, however long ago its last sync was.
2. `<node IP>:10256/healthz` is 200 when the proxier is healthy AND the node is eligible
   (its Node not being deleted, not tainted `ToBeDeletedByClusterAutoscaler`); `/livez`
   ignores the node. Both bodies carry Go's `time.Time` strings; a healthy answer's
   `lastUpdated` is the current time (kube-proxy keeps the old releases' meaning).
3. A Service's `healthCheckNodePort` (type LoadBalancer, externalTrafficPolicy Local) is
   200 when this node has a local *ready* endpoint (distinct pod IPs over all the Service's
   ports; terminating ones do not count) and the proxier is healthy, else 503. Any path
   and method get the same answer.

    health = ProxierHealth(health_timeout_s=60)
    health.queued_update(now); ... ; health.updated(now)       # the agent, around a sync
    health.healthz(now) -> Answer(200, '{"lastUpdated": "2023-11-14 22:13:20 +0000 UTC m=+0.000000001",...}')
    service_health(("web", "default"), 2, True) -> Answer(200, '{\\n\\t"service": {...')

Unlike kube-proxy the times print in UTC whatever the machine's zone (a kube-proxy
container has no zone files, so real nodes print UTC too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from lab_kit.render.proxy_endpoints import (
    Endpoint,
    PortKey,
    ServicePort,
    endpoints_by_port,
    service_ports,
)

TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"  # cluster-autoscaler's taint key
JSON_HEADERS = (("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"))
# Go's http.NotFound (net/http ServeMux) for any other path on :10256.
NOT_FOUND_HEADERS = (
    ("Content-Type", "text/plain; charset=utf-8"),
    ("X-Content-Type-Options", "nosniff"),
)
GO_ZERO_TIME = "0001-01-01 00:00:00 +0000 UTC"

NamespacedName = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class Instant:
    """A Go `time.Time` from `time.Now()`: wall clock, and the monotonic reading Go keeps
    beside it (seconds since the process started; printed as `m=+1.500000000`)."""

    wall_s: float
    since_start_s: float


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS


def _ns(seconds: float) -> tuple[int, int]:
    """(whole seconds, nanoseconds); the fraction taken apart from the (large) whole, so
    float rounding does not show in the last digits."""
    whole = int(seconds // 1)
    frac = round((seconds - whole) * 1_000_000_000)
    return (whole + 1, 0) if frac == 1_000_000_000 else (whole, frac)


def go_time(t: Instant | None) -> str:
    """Go's `time.Time.String()` in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC m=+0.5`
    (trailing zeros of the fraction dropped; the zero Time for None)."""
    if t is None:
        return GO_ZERO_TIME
    whole, frac = _ns(t.wall_s)
    text = datetime.fromtimestamp(whole, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    mono_s, mono_ns = _ns(t.since_start_s)
    return f"{text} +0000 UTC m=+{mono_s}.{mono_ns:09d}"


def node_eligible(node: dict) -> bool:
    """`SyncNode`: a Node being deleted or tainted for deletion by the autoscaler is not."""
    if (node.get("metadata") or {}).get("deletionTimestamp"):
        return False
    taints = (node.get("spec") or {}).get("taints") or []
    return not any(t.get("key") == TO_BE_DELETED_TAINT for t in taints)


@dataclass
class ProxierHealth:
    """kube-proxy's ProxyHealthServer state (rules 1 and 2)."""

    health_timeout_s: float
    last_updated: Instant | None = None
    oldest_pending_queued: Instant | None = None
    node_is_eligible: bool = True  # until the first Node event says otherwise

    def queued_update(self, now: Instant) -> None:
        """A change to apply has arrived; only the oldest pending one counts."""
        if self.oldest_pending_queued is None:
            self.oldest_pending_queued = now

    def updated(self, now: Instant) -> None:
        """The rules now reflect everything received."""
        self.oldest_pending_queued = None
        self.last_updated = now

    def sync_node(self, node: dict) -> None:
        self.node_is_eligible = node_eligible(node)

    def is_healthy(self, now: Instant) -> bool:
        pending = self.oldest_pending_queued
        return pending is None or now.since_start_s - pending.since_start_s < self.health_timeout_s

    def _times(self, now: Instant, healthy: bool) -> str:
        last = now if healthy else self.last_updated
        return f'{{"lastUpdated": {json.dumps(go_time(last))},"currentTime": {json.dumps(go_time(now))}'

    def healthz(self, now: Instant) -> Answer:
        eligible = self.node_is_eligible
        healthy = self.is_healthy(now) and eligible
        body = self._times(now, healthy) + f', "nodeEligible": {str(eligible).lower()}}}'
        return Answer(200 if healthy else 503, body)

    def livez(self, now: Instant) -> Answer:
        healthy = self.is_healthy(now)
        return Answer(200 if healthy else 503, self._times(now, healthy) + "}")


def not_found() -> Answer:
    return Answer(404, "404 page not found\n", NOT_FOUND_HEADERS)


# --- the health check node ports ------------------------------------------------------------


def health_check_node_ports(services: list[dict] | list[ServicePort]) -> dict[NamespacedName, int]:
    """`ServicePortMap.HealthCheckNodePorts`: the Services kube-proxy serves a health check
    for (type LoadBalancer, externalTrafficPolicy Local, not skipped) and on which port.
    Takes the Services, or their ports already parsed."""
    ports: dict[NamespacedName, int] = {}
    for sp in _ports(services):
        if sp.health_check_node_port:
            ports[(sp.namespace, sp.name)] = sp.health_check_node_port
    return ports


def _ports(services: list[dict] | list[ServicePort]) -> list[ServicePort]:
    return [p for s in services for p in ([s] if isinstance(s, ServicePort) else service_ports(s))]


def local_ready_endpoints(slices: list[dict] | dict[PortKey, list[Endpoint]],
                          node_name: str) -> dict[NamespacedName, int]:  # fmt: skip
    """`EndpointsMap.LocalReadyEndpoints`: per Service, the distinct IPs of its ready
    endpoints on this node (10.0.0.1:80 and 10.0.0.1:443 are one). Takes the slices, or
    their endpoints already grouped (`endpoints_by_port`)."""
    grouped = slices if isinstance(slices, dict) else endpoints_by_port(slices)
    ips: dict[NamespacedName, set[str]] = {}
    for (namespace, name, _port, _proto), endpoints in grouped.items():
        for e in endpoints:
            if e.ready and e.node_name == node_name:
                ips.setdefault((namespace, name), set()).add(e.ip)
    return {nsn: len(v) for nsn, v in ips.items()}


def service_health(nsn: NamespacedName, local_endpoints: int, proxy_healthy: bool) -> Answer:
    """hcHandler.ServeHTTP: the body is Go's dedented template, tabs and all, no newline
    at the end."""
    namespace, name = nsn
    body = (
        "{\n"
        '\t"service": {\n'
        f'\t\t"namespace": {json.dumps(namespace)},\n'
        f'\t\t"name": {json.dumps(name)}\n'
        "\t},\n"
        f'\t"localEndpoints": {local_endpoints},\n'
        f'\t"serviceProxyHealthy": {str(proxy_healthy).lower()}\n'
        "}"
    )
    ok = local_endpoints != 0 and proxy_healthy
    return Answer(200 if ok else 503, body)


@dataclass
class ServiceHealthState:
    """The service health server's table: which Services have a listener on which port, and
    their local endpoint counts (`SyncServices`, `SyncEndpoints`)."""

    ports: dict[NamespacedName, int] = field(default_factory=dict)
    endpoints: dict[NamespacedName, int] = field(default_factory=dict)

    def sync(self, services: list[dict] | list[ServicePort],
             slices: list[dict] | dict[PortKey, list[Endpoint]], node_name: str) -> SyncPlan:  # fmt: skip
        """The new table; what to close (gone, or moved to another port) and open. Takes
        the objects, or (the agent) what its renderer parsed of them this sync."""
        new = health_check_node_ports(services)
        close = {nsn: p for nsn, p in self.ports.items() if new.get(nsn) != p}
        open_ = {nsn: p for nsn, p in new.items() if self.ports.get(nsn) != p}
        self.ports = new
        counts = local_ready_endpoints(slices, node_name)
        self.endpoints = {nsn: counts.get(nsn, 0) for nsn in new}
        return SyncPlan(close=close, open=open_)

    def answer(self, nsn: NamespacedName, proxy_healthy: bool) -> Answer:
        return service_health(nsn, self.endpoints.get(nsn, 0), proxy_healthy)

    def forget(self, nsn: NamespacedName) -> None:
        """Its listener could not open: the next sync tries again (kube-proxy keeps only
        the Services it is serving)."""
        self.ports.pop(nsn, None)


@dataclass(frozen=True)
class SyncPlan:
    close: dict[NamespacedName, int]
    open: dict[NamespacedName, int]
