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

Timing differs on purpose: real kube-proxy waits at least `minSyncPeriod` (1 s) between
syncs; here it defaults to 0 so a change is live within milliseconds (`--min-sync-period`
restores the real behaviour). After endpoint changes of UDP services stale conntrack
entries are deleted, as kube-proxy does, so datagrams move to the new endpoints.

Metrics (Prometheus text, kube-proxy's names) on 127.0.0.1:10249/metrics inside the node,
health on <node IP>:10256/healthz.

Run (inside the node's network namespace):
    python -m lab_kit.agents.kube_proxy --node node1 --socket PATH --topology-file F
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from lab_kit.adapters.apiclient import AsyncApiClient
from lab_kit.adapters.iptables import Iptables, IptablesError
from lab_kit.agents.informer import Informer
from lab_kit.model import meta
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.topology import parse_topology
from lab_kit.render import proxy_rules
from lab_kit.render.proxy_endpoints import INFORMER_LABEL_SELECTOR, endpoints_by_port, service_ports

log = logging.getLogger("kube-proxy")
TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")


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


class KubeProxy:
    def __init__(self, node: str, node_ip: str, cluster_cidr: str, client: AsyncApiClient,
                 iptables=None, min_sync_period_s: float = 0.0, sync_period_s: float = 30.0):  # fmt: skip
        self.node, self.node_ip, self.cluster_cidr = node, node_ip, cluster_cidr
        self.client = client
        self.iptables = iptables or Iptables()
        self.min_sync_period_s, self.sync_period_s = min_sync_period_s, sync_period_s
        self.name = f"kube-proxy/{node}"
        self.changed = asyncio.Event()
        self.services = Informer(client, by_kind_name("Service"), self.changed.set,
                                 label_selector=INFORMER_LABEL_SELECTOR)  # fmt: skip
        self.slices = Informer(client, by_kind_name("EndpointSlice"), self.changed.set,
                               label_selector=INFORMER_LABEL_SELECTOR)  # fmt: skip
        self.metrics = Metrics()
        self.written: dict[tuple[str, str], list[str]] | None = None  # None: next sync is full
        self.udp_endpoints: dict[tuple, set[str]] = {}
        self.triggers: dict[tuple[str, str], str] = {}
        self.last_ok = 0.0
        self.last_sync_start = 0.0

    async def run(self, ready_fd: int | None = None) -> None:
        tasks = [asyncio.create_task(i.run()) for i in (self.services, self.slices)]
        # "Not syncing iptables until Services and Endpoints have been received from master"
        await asyncio.gather(self.services.synced.wait(), self.slices.synced.wait())
        await self.sync()
        if ready_fd is not None:
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
        try:
            while True:
                try:
                    await asyncio.wait_for(self.changed.wait(), self.sync_period_s)
                except asyncio.TimeoutError:  # the periodic sync: check the canary
                    if not await self.canary_present():
                        log.warning(
                            "KUBE-PROXY-CANARY is gone: the tables were flushed; full resync"
                        )
                        self.written = None
                wait = self.last_sync_start + self.min_sync_period_s - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # minSyncPeriod: rate limit, as kube-proxy's runner
                self.changed.clear()
                await self.sync()
        finally:
            for t in tasks:
                t.cancel()

    async def canary_present(self) -> bool:
        try:
            saved = await self.iptables.save("filter")
        except IptablesError:
            return False
        return f":{proxy_rules.CANARY} " in saved

    async def sync(self) -> None:
        t0 = time.monotonic()
        self.last_sync_start = t0
        seen = min(self.services.seen_rv, self.slices.seen_rv)
        services, slices = self.services.items(), self.slices.items()
        # Rendering thousands of Services takes a while: keep the loop (watches, /metrics) free.
        rules = await asyncio.to_thread(
            proxy_rules.render, services, slices, self.node, self.cluster_cidr
        )
        full = self.written is None
        try:
            if full:
                saved = await self.iptables.save()
                await self.iptables.restore(proxy_rules.jump_rules_missing(saved))
                text = self.full_text(rules, saved)
            else:
                text = self.partial_text(rules)
            await self.iptables.restore(text)
        except IptablesError as e:
            self.metrics.failures.inc()
            self.written = None  # retry with a full sync
            log.error("sync failed: %s", e)
            self.changed.set()
            await asyncio.sleep(
                1.0
            )  # back off before the retry (kube-proxy retries after syncPeriod)
            return
        self.written = rules.chain_rules()
        elapsed = time.monotonic() - t0
        self.metrics.sync.observe(elapsed)
        (self.metrics.full if full else self.metrics.partial).observe(elapsed)
        self.metrics.last.set(time.time())
        for table in (rules.filter, rules.nat):
            self.metrics.rules.labels(table.name).set(len(table.lines))
        self.last_ok = time.time()
        self.observe_programming(slices, first=full and not self.triggers)
        await self.clear_stale_udp(services, slices)
        await self.client.report_applied(self.name, seen, {
            "node": self.node,
            "syncSeconds": round(elapsed, 6),
            "full": full,
            "natRules": len(rules.nat.lines),
            "filterRules": len(rules.filter.lines),
        })  # fmt: skip

    def full_text(self, rules: proxy_rules.ProxyRules, saved: str) -> str:
        existing = proxy_rules.saved_chains(saved, "nat").split()
        stale = tuple(
            c[1:] for c in existing
            if c[1:].startswith(SERVICE_CHAIN_PREFIXES) and not rules.nat.has(c[1:])
        )  # fmt: skip
        return rules.filter.text() + rules.nat.text(delete=stale)

    def partial_text(self, rules: proxy_rules.ProxyRules) -> str:
        before = self.written or {}
        changed = {
            c for c in rules.nat.chains
            if c in proxy_rules.NAT_CHAINS or before.get(("nat", c)) != rules.nat.by_chain.get(c, [])
        }  # fmt: skip
        stale = tuple(c for t, c in before if t == "nat" and not rules.nat.has(c))
        return rules.filter.text() + rules.nat.text(only=changed, delete=stale)

    def observe_programming(self, slices: list[dict], first: bool) -> None:
        """network_programming_duration: from the slice's trigger time to rules live."""
        now = time.time()
        for s in slices:
            key = (meta.namespace(s), meta.name(s))
            stamp = meta.annotations(s).get(TRIGGER)
            if stamp and self.triggers.get(key) != stamp:
                self.triggers[key] = stamp
                if not first:
                    self.metrics.programming.observe(max(0.0, now - meta.parse_rfc3339(stamp)))

    async def clear_stale_udp(self, services: list[dict], slices: list[dict]) -> None:
        """conntrack.CleanStaleEntries for UDP: flows to endpoints that left, and flows
        that hit the REJECT while the service had no endpoints."""
        udp = [sp for s in services for sp in service_ports(s) if sp.protocol == "udp"]
        if not udp and not self.udp_endpoints:
            return  # nothing to clean: skip grouping every slice again on this hot path
        eps = endpoints_by_port(slices)
        current: dict[tuple, set[str]] = {}
        for sp in udp:
            key = (sp.namespace, sp.name, sp.port_name, sp.protocol)
            current[(sp.cluster_ip, sp.port, *key)] = {
                e.ip for e in eps.get(key, []) if e.ready or (e.serving and e.terminating)
            }
        for key, ips in current.items():
            old = self.udp_endpoints.get(key)
            if old is None:
                continue
            cluster_ip = key[0]
            if not old and ips:
                await _conntrack("-D", "-p", "udp", "--orig-dst", cluster_ip)
            for gone in old - ips:
                await _conntrack("-D", "-p", "udp", "--orig-dst", cluster_ip, "--reply-src", gone)
        self.udp_endpoints = current

    # --- metrics and health ------------------------------------------------------------------
    async def serve(self) -> web.AppRunner:
        async def metrics(_request):
            return web.Response(body=generate_latest(self.metrics.registry),
                                content_type="text/plain", charset="utf-8")  # fmt: skip

        async def healthz(_request):
            healthy = time.time() - self.last_ok < 2 * self.sync_period_s
            body = {"lastUpdated": meta.rfc3339_nano(self.last_ok), "currentTime": meta.rfc3339_nano(time.time()),
                    "nodeEligible": True}  # fmt: skip
            return web.json_response(body, status=200 if healthy else 503)

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/livez", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 10249).start()
        await web.TCPSite(runner, self.node_ip, 10256).start()
        return runner


async def _conntrack(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "conntrack", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await proc.wait()  # exit 1 means "nothing matched": fine


async def main_async(args) -> None:
    with open(args.topology_file) as f:
        spec = parse_topology(f.read(), args.topology_file)
    node = spec.node(args.node)
    client = AsyncApiClient(args.socket)
    proxy = KubeProxy(node.name, node.ip, spec.pod_cidr, client,
                      min_sync_period_s=args.min_sync_period, sync_period_s=args.sync_period)  # fmt: skip
    runner = await proxy.serve()
    task = asyncio.create_task(proxy.run(args.ready_fd))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    done, _ = await asyncio.wait(
        [task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if task in done:
        log.error("kube-proxy loop ended: %r", task.exception())
        task.result()
    task.cancel()
    await runner.cleanup()
    await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="lab_kit.agents.kube_proxy", description="The lab's kube-proxy (iptables mode)."
    )
    parser.add_argument("--node", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--topology-file", required=True)
    parser.add_argument("--min-sync-period", type=float, default=0.0,
                        help="seconds between syncs at least (kube-proxy's default is 1)")  # fmt: skip
    parser.add_argument("--sync-period", type=float, default=30.0,
                        help="seconds between periodic canary checks (kube-proxy's default)")  # fmt: skip
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s kube-proxy/{args.node} %(levelname)s %(message)s"
    )
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
