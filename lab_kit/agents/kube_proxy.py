"""kube-proxy for the lab, iptables mode: one process per node, inside the node's namespace.

    list + watch Services and EndpointSlices (label selector
    `!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless`)
    -> render the node's whole desired nat/filter state (`lab_kit.render.proxy_rules`)
    -> apply it with ONE `iptables-restore --noflush` (atomic per table)
    -> tell the API server which resourceVersion is now live (`labkit apply --wait`)

Like kube-proxy since v1.28 a sync is *partial*: the top-level chains are always rewritten,
a service's KUBE-SVC/SVL/EXT/FW/SEP chains only when their content changed, and chains of
services that went away are flushed and deleted (`-X`) in the same restore. A *full* sync
(at start, and whenever the `KUBE-PROXY-CANARY` chain has vanished — someone flushed the
tables) first re-inserts the jump rules from the built-in chains, then rewrites everything.
Which chains a sync writes is decided in the pure ring (`lab_kit.render.proxy_sync`), and
only the service ports whose Service or endpoints changed are rendered again
(`proxy_rules.Renderer`, as upstream's change trackers hand it only what changed).

Timing differs on purpose: real kube-proxy waits at least `minSyncPeriod` (1 s) between
syncs; here it defaults to 0 so a change is live within milliseconds (`--min-sync-period`
restores the real behaviour). After endpoint changes of UDP services stale conntrack
entries are deleted, as kube-proxy does, so datagrams move to the new endpoints.

Metrics (Prometheus text, kube-proxy's names) on 127.0.0.1:10249/metrics inside the node.
Health as kube-proxy serves it (`lab_kit.render.proxy_health` decides every answer):
`:10256/healthz` and `/livez` on all the node's addresses (unhealthy once a Service or
EndpointSlice change has waited 2 x --sync-period for a successful sync; /healthz also
when the Node is being deleted or tainted `ToBeDeletedByClusterAutoscaler`), and one
listener per `healthCheckNodePort` (LoadBalancer Services with externalTrafficPolicy
Local), opened and closed as those Services come and go, answering 200 with the node's
count of ready local endpoints, or 503.

The loop around `sync` is the agent runner's (`lab_kit/agents/runner.py`). Run (inside the
node's network namespace; `labkit up` does):
    python -m lab_kit.agents kube-proxy --node node1 --socket PATH --topology-file F
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from lab_kit.adapters.conntrack import Conntrack, ConntrackInterface
from lab_kit.adapters.iptables import Iptables, IptablesError, IptablesInterface
from lab_kit.agents.runner import Agent, Context, Watch, add_node_arguments, load_topology
from lab_kit.model import meta
from lab_kit.render import proxy_health, proxy_rules, proxy_sync
from lab_kit.render.proxy_endpoints import (
    INFORMER_LABEL_SELECTOR,
    Endpoint,
    PortKey,
    ServicePort,
)

log = logging.getLogger("kube-proxy")
TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"
METRICS_ADDRESS = ("127.0.0.1", 10249)  # --metrics-bind-address default
HEALTHZ_ADDRESS = ("0.0.0.0", 10256)  # --healthz-bind-address default
# Health check node ports listen on every node address (no --nodeport-addresses).
HEALTH_CHECK_HOST = "0.0.0.0"
RETRY_BACKOFF_S = 1.0  # after a failed restore (kube-proxy retries within syncPeriod)

UdpKey = tuple[str, int, str, str, str, str]  # clusterIP, port, namespace, name, port name, proto


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.sync = Histogram("kubeproxy_sync_proxy_rules_duration_seconds",
                              "SyncProxyRules latency in seconds", registry=r,
                              buckets=[0.001 * 2**i for i in range(15)])  # fmt: skip
        self.full = Histogram("kubeproxy_sync_full_proxy_rules_duration_seconds",
                              "SyncProxyRules latency in seconds for full resyncs", registry=r,
                              buckets=[0.001 * 2**i for i in range(15)])  # fmt: skip
        self.partial = Histogram("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                                 "SyncProxyRules latency in seconds for partial resyncs", registry=r,
                                 buckets=[0.001 * 2**i for i in range(15)])  # fmt: skip
        # kube-proxy's buckets: 0.25 s steps, then 1 s, 5 s, 30 s.
        buckets = [0.25, 0.5, *range(1, 60), *range(60, 120, 5), *range(120, 330, 30)]
        self.programming = Histogram("kubeproxy_network_programming_duration_seconds",
                                     "In Cluster Network Programming Latency in seconds",
                                     registry=r, buckets=buckets)  # fmt: skip
        self.last = Gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                          "The last time proxy rules were successfully synced", registry=r)  # fmt: skip
        self.rules = Gauge("kubeproxy_sync_proxy_rules_iptables_total",
                           "Total number of iptables rules owned by kube-proxy", ["table"], registry=r)  # fmt: skip
        self.failures = Counter("kubeproxy_sync_proxy_rules_iptables_restore_failures",
                                "Cumulative proxy iptables restore failures", registry=r)  # fmt: skip


class KubeProxy(Agent):
    """One node's kube-proxy: what it watches, one sync, the periodic canary check."""

    # cmd/kube-proxy/app/server.go: both informers skip opted-out and headless Services.
    watches = {
        "services": Watch("Service", label_selector=INFORMER_LABEL_SELECTOR),
        "slices": Watch("EndpointSlice", label_selector=INFORMER_LABEL_SELECTOR),
    }

    def __init__(
        self,
        ctx: Context,
        node: str,
        node_ip: str,
        cluster_cidr: str,
        *,
        iptables: IptablesInterface | None = None,
        conntrack: ConntrackInterface | None = None,
        min_sync_period_s: float = 0.0,
        sync_period_s: float = 30.0,
        serve_http: bool = True,
        render_in_thread: bool = True,
    ):
        """`serve_http=False`: no metrics/health listeners (tests call the handlers);
        `render_in_thread=False`: render on the loop (tests on virtual time)."""
        super().__init__(ctx)
        self.report_as = f"kube-proxy/{node}"
        # NodeManager's informer: this node only, for /healthz's node eligibility.
        self.watches = {**self.watches,
                        "node": Watch("Node", field_selector=f"metadata.name={node}")}  # fmt: skip
        self.node, self.node_ip, self.cluster_cidr = node, node_ip, cluster_cidr
        self.iptables: IptablesInterface = iptables or Iptables()
        self.conntrack: ConntrackInterface = conntrack or Conntrack()
        self.min_sync_period_s = min_sync_period_s
        self.resync_s = self.sync_period_s = sync_period_s  # the periodic canary check
        self.serve_http, self.render_in_thread = serve_http, render_in_thread
        self.metrics = Metrics()
        self.state = proxy_sync.SyncState()  # nothing written yet: the first sync is full
        # Remembers each service port's rules: a sync writes only the ports that changed.
        self.renderer = proxy_rules.Renderer(node, cluster_cidr, False, node_ip)
        self.udp_endpoints: dict[UdpKey, set[str]] = {}
        self.triggers: dict[tuple[str, str], str] = {}
        # ProxyHealthServer(healthTimeout = 2 x syncPeriod) and the service health server.
        self.health = proxy_health.ProxierHealth(health_timeout_s=2 * sync_period_s)
        self.service_health = proxy_health.ServiceHealthState()
        self.started_at = ctx.clock.monotonic()  # Go's monotonic readings count from here
        self.synced_inputs: frozenset[tuple[str, str, str, str]] | None = None
        self._http: list[web.AppRunner] = []
        self._health_checks: dict[proxy_health.NamespacedName, web.AppRunner] = {}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_node_arguments(parser)
        parser.add_argument("--min-sync-period", type=float, default=0.0,
                            help="seconds between syncs at least (kube-proxy's default is 1)")  # fmt: skip
        parser.add_argument("--sync-period", type=float, default=30.0,
                            help="seconds between periodic canary checks (kube-proxy's default)")  # fmt: skip

    @classmethod
    def create(cls, ctx: Context, options: argparse.Namespace) -> KubeProxy:
        spec = load_topology(options.topology_file)
        node = spec.node(options.node)
        return cls(ctx, node.name, node.ip, spec.pod_cidr,
                   min_sync_period_s=options.min_sync_period, sync_period_s=options.sync_period)  # fmt: skip

    async def start(self) -> None:
        # The runner starts us once both caches are synced: "Not syncing iptables until
        # Services and Endpoints have been received from master".
        if self.serve_http:
            self._http = await self.serve()

    async def stop(self) -> None:
        for runner in [*self._http, *self._health_checks.values()]:
            await runner.cleanup()
        self._http, self._health_checks = [], {}

    def now(self) -> proxy_health.Instant:
        clock = self.ctx.clock
        return proxy_health.Instant(clock.time(), clock.monotonic() - self.started_at)

    # --- one sync ------------------------------------------------------------------------------
    async def sync(self) -> dict | None:
        clock = self.ctx.clock
        t0 = clock.monotonic()
        services, slices = self.ctx.items("services"), self.ctx.items("slices")
        inputs = self.note_changes(services, slices)
        rules = await self.render(services, slices)
        full = self.state.needs_full
        try:
            await self.apply(rules)
        except IptablesError as e:
            await self.failed(e)
            return None
        self.synced_inputs = inputs
        self.health.updated(self.now())
        # What the render parsed, reused (each object is parsed once per version).
        ports, endpoints = self.renderer.ports, self.renderer.endpoints
        await self.sync_health_checks(ports, endpoints)
        elapsed = clock.monotonic() - t0
        self.observe_sync(rules, elapsed, full)
        self.observe_programming(slices, first=full and not self.triggers)
        await self.clear_stale_udp(ports, endpoints)
        return {
            "node": self.node,
            "syncSeconds": round(elapsed, 6),
            "full": full,
            "natRules": len(rules.nat.lines),
            "portsRendered": self.renderer.rendered,  # the rest were reused unchanged
            "filterRules": len(rules.filter.lines),
        }

    def note_changes(self, services: list[dict], slices: list[dict]) -> frozenset:
        """QueuedUpdate: Services or EndpointSlices changed since the last good sync (the
        health timeout runs from the first such sync, at most min-sync-period after the
        event), and SyncNode: this node's eligibility, from its Node object."""
        inputs = frozenset(
            (o.get("kind", ""), meta.namespace(o), meta.name(o), str(meta.resource_version(o)))
            for o in (*services, *slices)
        )
        if inputs != self.synced_inputs:
            self.health.queued_update(self.now())
        for node in self.ctx.items("node"):
            self.health.sync_node(node)
        return inputs

    async def render(self, services: list[dict], slices: list[dict]) -> proxy_rules.ProxyRules:
        if not self.render_in_thread:
            return self.renderer.render(services, slices)
        # A first render of thousands of Services takes a while: keep the loop (watches,
        # /metrics) free. One sync runs at a time, so the renderer is never shared.
        return await asyncio.to_thread(self.renderer.render, services, slices)

    async def apply(self, rules: proxy_rules.ProxyRules) -> None:
        """One restore (two on a full sync: the jump rules first); IptablesError if refused."""
        saved = ""
        if self.state.needs_full:
            saved = await self.iptables.save()
            await self.iptables.restore(proxy_rules.jump_rules_missing(saved))
        await self.iptables.restore(self.state.restore_text(rules, saved))
        self.state.applied(rules)

    async def failed(self, error: IptablesError) -> None:
        """Count it, make the next sync full, and retry after a back-off."""
        self.metrics.failures.inc()
        self.state.force_full()
        log.error("sync failed: %s", error)
        self.ctx.changed()
        await self.ctx.clock.sleep(RETRY_BACKOFF_S)

    async def periodic(self) -> None:
        """Every sync period: a vanished canary means someone flushed the tables."""
        if not await self.canary_present():
            log.warning("KUBE-PROXY-CANARY is gone: the tables were flushed; full resync")
            self.state.force_full()

    async def canary_present(self) -> bool:
        try:
            saved = await self.iptables.save("filter")
        except IptablesError:
            return False
        return proxy_sync.canary_present(saved)

    # --- metrics and conntrack -----------------------------------------------------------------
    def observe_sync(self, rules: proxy_rules.ProxyRules, elapsed: float, full: bool) -> None:
        self.metrics.sync.observe(elapsed)
        (self.metrics.full if full else self.metrics.partial).observe(elapsed)
        self.last_ok = self.ctx.clock.time()
        self.metrics.last.set(self.last_ok)
        for table in (rules.filter, rules.nat):
            self.metrics.rules.labels(table.name).set(len(table.lines))

    def observe_programming(self, slices: list[dict], first: bool) -> None:
        """network_programming_duration: from the slice's trigger time to rules live."""
        now = self.ctx.clock.time()
        for s in slices:
            key = (meta.namespace(s), meta.name(s))
            stamp = meta.annotations(s).get(TRIGGER)
            if stamp and self.triggers.get(key) != stamp:
                self.triggers[key] = stamp
                if not first:
                    self.metrics.programming.observe(max(0.0, now - meta.parse_rfc3339(stamp)))

    async def clear_stale_udp(self, ports: list[ServicePort],
                              eps: dict[PortKey, list[Endpoint]]) -> None:  # fmt: skip
        """conntrack.CleanStaleEntries for UDP: flows to endpoints that left, and flows
        that hit the REJECT while the service had no endpoints."""
        udp = [sp for sp in ports if sp.protocol == "udp"]
        if not udp and not self.udp_endpoints:
            return  # nothing to clean
        current: dict[UdpKey, set[str]] = {}
        for sp in udp:
            port = (sp.namespace, sp.name, sp.port_name, sp.protocol)
            current[(sp.cluster_ip, sp.port, *port)] = {
                e.ip for e in eps.get(port, []) if e.ready or (e.serving and e.terminating)
            }
        for key, ips in current.items():
            old = self.udp_endpoints.get(key)
            if old is None:
                continue  # a new UDP port: no flows of it can be stale yet
            cluster_ip = key[0]
            if not old and ips:
                await self.conntrack.clear_entries_for_ip(cluster_ip, "udp")
            for gone in sorted(old - ips):
                await self.conntrack.clear_entries_for_nat(cluster_ip, gone, "udp")
        self.udp_endpoints = current

    # --- serving metrics and health -------------------------------------------------------------
    async def metrics_page(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry),
                            content_type="text/plain", charset="utf-8")  # fmt: skip

    async def healthz(self, _request: web.Request) -> web.Response:
        return go_response(self.health.healthz(self.now()))

    async def livez(self, _request: web.Request) -> web.Response:
        return go_response(self.health.livez(self.now()))

    async def not_found(self, _request: web.Request) -> web.Response:
        return go_response(proxy_health.not_found())

    def metrics_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics_page)
        return app

    def health_app(self) -> web.Application:
        """ProxyHealthServer's mux: exactly /healthz and /livez, any method; Go's 404 else."""
        app = web.Application()
        app.router.add_route("*", "/healthz", self.healthz)
        app.router.add_route("*", "/livez", self.livez)
        app.router.add_route("*", "/{path:.*}", self.not_found)
        return app

    async def serve(self) -> list[web.AppRunner]:
        out = []
        for app, (host, port) in ((self.metrics_app(), METRICS_ADDRESS),
                                  (self.health_app(), HEALTHZ_ADDRESS)):  # fmt: skip
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            out.append(runner)
        return out

    # --- health check node ports ----------------------------------------------------------------
    def health_check_app(self, nsn: proxy_health.NamespacedName) -> web.Application:
        """One Service's health check server: every path and method get its answer."""

        async def answer(_request: web.Request) -> web.Response:
            healthy = self.health.is_healthy(self.now())
            return go_response(self.service_health.answer(nsn, healthy))

        app = web.Application()
        app.router.add_route("*", "/{path:.*}", answer)
        return app

    async def sync_health_checks(self, ports: list[ServicePort],
                                 eps: dict[PortKey, list[Endpoint]]) -> None:  # fmt: skip
        """SyncServices + SyncEndpoints: close listeners of Services gone (or moved to
        another port), open the new ones; a port that cannot open is tried next sync."""
        plan = self.service_health.sync(ports, eps, self.node)
        if not self.serve_http:
            return
        for nsn, port in plan.close.items():
            log.info("Closing healthcheck service=%s/%s port=%d", *nsn, port)
            runner = self._health_checks.pop(nsn, None)
            if runner is not None:
                await runner.cleanup()
        for nsn, port in plan.open.items():
            log.info("Opening healthcheck service=%s/%s port=%d", *nsn, port)
            runner = web.AppRunner(self.health_check_app(nsn), access_log=None)
            await runner.setup()
            try:
                await web.TCPSite(runner, HEALTH_CHECK_HOST, port).start()
            except OSError as e:
                log.error("Failed to start healthcheck service=%s/%s port=%d: %s", *nsn, port, e)
                await runner.cleanup()
                self.service_health.forget(nsn)
                continue
            self._health_checks[nsn] = runner


class GoResponse(web.Response):
    """A response with the headers Go's net/http writes: no `Server` header."""

    async def _write_headers(self) -> None:
        self.headers.popall(hdrs.SERVER, None)
        await super()._write_headers()


def go_response(answer: proxy_health.Answer) -> web.Response:
    return GoResponse(status=answer.status, body=answer.body.encode(), headers=dict(answer.headers))
