"""Cluster DNS: the lab's CoreDNS, run by the `coredns` pods of kube-system behind `kube-dns`.

    Corefile (kubeadm's, from the ConfigMap `coredns`)  ->  ttl, pods mode, upstream, cache
    list + watch Services, EndpointSlices, Namespaces   ->  ClusterZone (lab_kit.render.dns)
    UDP/TCP :53  ->  answer(zone, query)  ->  reply | forward upstream | chase an ExternalName
    :8080 /health, :8181 /ready (once the zone synced), :9153 /metrics (CoreDNS's names)
    each sync: reload an edited Corefile; rebuild the zone if objects changed; report

`ClusterDns` is the agent (the loop around it is the runner's, `lab_kit/agents/runner.py`);
`Server` answers queries. Each sync whose objects changed rebuilds the zone (a few ms even
for a thousand Services) and swaps it in, with the answer caches, in one assignment, so
the next query after the event sees it; then the runner reports the version the zone
reflects, so `labkit apply --wait` covers DNS too.
Answers from the zone are cached as wire bytes keyed by the query's bytes after its ID:
a repeated question costs one dict lookup; the same question with another EDNS cookie is
found by its normalised form (`wire.question_key`) and costs a few microseconds more (the
same name in other letter case is answered afresh: replies spell names from the
question's zone). A question not cached that has a common shape (A/AAAA for a Service,
endpoint or pod name, NXDOMAIN, NODATA) is answered by lab_kit/render/dns/fast.py from
the query's bytes in ~6-8 µs, the same bytes the full path (dnslib: parse, answer,
pack; ~80 µs) gives; every other question takes the full path. A new zone keeps the
cached answers its changes cannot have touched (positive answers of Services, endpoints
and pods whose objects and namespace are unchanged, `ClusterZone.changes_since`), so a
rolling update elsewhere leaves them cached; negative answers (they carry the SOA serial,
which moves with every change) and anything else are dropped, as is everything when the
configuration changed. Answers the `loadbalance` plugin would shuffle
(several addresses) are never cached. Upstream answers are cached as `cache 30` says
(not for cluster.local), with their TTLs counting down; and as in CoreDNS every reply
leaves with its TTLs clamped by the cache plugin (lab_kit/render/dns/cache.py): upstream
records published with 300 s reach pods with 30.

A Corefile CoreDNS would refuse (lab_kit/render/dns/corefile.py) stops the server at start
with CoreDNS's message and exit status 1, so the pod crash-loops as a real one does. With
the `reload` plugin in the running Corefile, an edit is applied as CoreDNS's reload does
(`[INFO] Reloading` ... `[INFO] Reloading complete`), including the watches it implies
(`pods verified` starts a watch on Pods); one CoreDNS refuses is logged in its words and
the running configuration keeps serving; without `reload`, edits are not looked at.

Deviations from a real pod, on purpose: the API is reached over the lab's Unix socket
(`LABKIT_APISERVER`, set by the kubelet for this image) instead of in-cluster config and
the `kubernetes` Service, and the Corefile is read from the ConfigMap through the API when
no file is mounted (the lab's kubelet does not mount configMap volumes); an edited
ConfigMap takes effect at once (CoreDNS sees it after the kubelet's volume sync and the
`reload` plugin's 30 s check). Changed ports wait for a restart of the pod.

Run (what the image `registry.k8s.io/coredns/coredns` runs in a lab pod):
    python -m lab_kit.agents coredns -conf /etc/coredns/Corefile
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import random
from collections import Counter
from collections.abc import Iterator

from aiohttp import web
from dnslib import QTYPE, RCODE, DNSRecord
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

from lab_kit.adapters.apiclient import AsyncApiClient
from lab_kit.adapters.clock import Clock, SystemClock, wait_event
from lab_kit.adapters.dns_listener import DnsListener, Reply, ask
from lab_kit.agents.runner import Agent, Context, Watch
from lab_kit.model import meta
from lab_kit.model.kinds import by_kind_name
from lab_kit.node.dnsconfig import parse_resolv_conf
from lab_kit.render.dns import cache as cache_plugin
from lab_kit.render.dns import corefile, names, wire
from lab_kit.render.dns.answer import Answer, answer, complete_chase, load_balance
from lab_kit.render.dns.fast import FastPath
from lab_kit.render.dns.names import is_ip
from lab_kit.render.dns.zone import ClusterZone, cache_tag

log = logging.getLogger("coredns")
VERSION = "CoreDNS-1.11.3"  # the version kubeadm 1.31-1.33 deploys
UPSTREAM_TIMEOUT_S = 2.0  # CoreDNS forward's read timeout
CACHE_MAX_ENTRIES = 50_000  # a bound on memory: a full cache starts over
METRIC_KEYS_MAX = 10_000  # (query type, rcode) pairs remembered: random types are many
ADDRESS_TYPES = (QTYPE.A, QTYPE.AAAA, QTYPE.MX)
ZONE_KINDS = ("Service", "EndpointSlice", "Namespace")  # what every `kubernetes` plugin lists
COREFILE_CONFIGMAP = ("kube-system", "coredns")
STARTUP_TIMEOUT_S = 5.0  # CoreDNS waits this long for its informers, then serves unsynced


class Server:
    """The DNS handler: state is one (zone, answer caches, fast path, config) tuple,
    swapped whole on changes."""

    def __init__(
        self,
        config: corefile.Corefile,
        upstreams: list[tuple[str, int]],
        clock: Clock | None = None,
    ):
        self.config, self.upstreams = config, upstreams
        self.clock: Clock = clock or SystemClock()  # ages cached upstream answers
        # The answer caches. Exact: query bytes after the ID -> (reply bytes after the ID,
        # the request and response metric keys to count on a hit, the cache tag). By
        # question: a plain query's wire.question_key -> (reply header after the ID, the
        # reply after its question, the metric keys, the tag): the same question with any
        # EDNS cookie. The tag (zone.cache_tag) says what the answer read, so a new zone
        # keeps the entries its changes cannot touch (set_zone).
        zone = self._empty_zone()
        self.state: tuple[ClusterZone, dict[bytes, tuple], dict[bytes, tuple], FastPath,
                          corefile.Corefile] = (
            zone, {}, {}, self._fast_path(zone), config
        )  # fmt: skip
        self.forward_cache: dict[bytes, tuple[bytes, float, int]] = {}
        self.rng = random.Random()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.cache_hits = 0  # answered from the wire cache (also counted as requests)
        self.requests: Counter[tuple[str, str, str]] = Counter()  # (zone, proto, type)
        self.responses: Counter[tuple[str, str]] = Counter()  # (zone, rcode)
        self.forwards = 0
        self._metric_keys: dict[tuple, tuple[tuple, tuple]] = {}  # _count's, by its arguments

    def _empty_zone(self) -> ClusterZone:
        return ClusterZone(**zone_options(self.config))

    def _fast_path(self, zone: ClusterZone) -> FastPath:
        return FastPath(zone, self.config.cache_s, self.config.loadbalance)

    def set_zone(self, zone: ClusterZone) -> None:
        """Serve `zone` from the next query on, with the cached answers its changes cannot
        have touched (all of them dropped when the configuration or the zone's options
        changed, or either zone is not synced)."""
        old, cache, by_question, _, config = self.state
        changes = zone.changes_since(old) if config is self.config else None
        if changes is None:
            cache, by_question = {}, {}
        else:  # copies first: the UDP thread may add entries to the old caches meanwhile
            keeps = changes.keeps
            cache = {k: v for k, v in cache.copy().items() if keeps(v[-1])}
            by_question = {k: v for k, v in by_question.copy().items() if keeps(v[-1])}
        # One assignment: queries see the old state or the new one.
        self.state = (zone, cache, by_question, self._fast_path(zone), self.config)

    # --- queries (UDP thread and event loop) ---------------------------------------------
    def handle(self, data: bytes, reply: Reply, tcp: bool) -> None:
        zone, cache, by_question, fast, config = self.state
        hit = cache.get(data[2:])
        if hit is not None and not tcp:
            tail, request_key, response_key, _ = hit
            self.cache_hits += 1
            self.requests[request_key] += 1
            self.responses[response_key] += 1
            reply(data[:2] + tail)
            return
        plain = None if tcp else wire.question_key(data)
        if plain is not None:
            known = by_question.get(plain[0])
            if known is not None:  # the same question with a new EDNS cookie
                header, records, request_key, response_key, tag = known
                out = data[:2] + header + data[12 : plain[1]] + records
                self._remember(cache, data[2:], (out[2:], request_key, response_key, tag))
                self.cache_hits += 1
                self.requests[request_key] += 1
                self.responses[response_key] += 1
                reply(out)
                return
            quick = fast.reply(data, plain[1]) if config is self.config else None
            if quick is not None:  # a common reply, written without dnslib (fast.py)
                out, qtype, rcode, tag = quick
                request_key, response_key = self._count(config.server_zone, "udp", qtype, rcode)
                if len(cache) >= CACHE_MAX_ENTRIES or len(by_question) >= CACHE_MAX_ENTRIES:
                    cache.clear()  # as _remember, for both at once
                    by_question.clear()
                cache[data[2:]] = (out[2:], request_key, response_key, tag)
                by_question[plain[0]] = (out[2:12], out[plain[1] :], request_key, response_key, tag)
                reply(out)
                return
        query = wire.parse_query(data)
        if query is None:
            return  # not worth an answer (a reply, or too short to carry an ID)
        if isinstance(query, bytes):
            self._count("dropped", "tcp" if tcp else "udp", -1, query[3] & 0x0F)
            reply(query)
            return
        result = answer(zone, query)
        proto = "tcp" if tcp else "udp"
        if result.forward or result.chase:
            if self.loop is not None:
                coro = self._forward(data, query, result, reply, tcp)
                asyncio.run_coroutine_threadsafe(coro, self.loop)
            return
        if result.reply is None:
            return
        shuffled = self.config.loadbalance and _shufflable(result.reply)
        if shuffled:
            load_balance(result.reply, self.rng)
        self._cap(result.reply)
        out = result.pack()
        if out is None:
            return
        keys = self._count(self.config.server_zone, proto, query.q.qtype, result.reply.header.rcode)
        if not tcp:
            out = _fit(out, query)
            if zone.synced and not shuffled:
                tag = _tag(zone, query, result.reply)
                self._remember(cache, data[2:], (out[2:], *keys, tag))
                if plain is not None:
                    end = plain[1]
                    self._remember(by_question, plain[0], (out[2:12], out[end:], *keys, tag))
        reply(out)

    @staticmethod
    def _remember(cache: dict, key: bytes, entry: tuple) -> None:
        if len(cache) >= CACHE_MAX_ENTRIES:
            cache.clear()  # junk questions must not switch the cache off
        cache[key] = entry

    async def _forward(
        self, data: bytes, query: DNSRecord, result: Answer, reply: Reply, tcp: bool
    ) -> None:
        try:
            await self._relay(data, query, result, reply, tcp)
        except Exception:  # a bug costs this query one SERVFAIL, never the server
            log.exception("[ERROR] forwarding %s", query.q.qname)
            reply(bytes(wire.error_reply(query.header, RCODE.SERVFAIL).pack()))

    async def _relay(
        self, data: bytes, query: DNSRecord, result: Answer, reply: Reply, tcp: bool
    ) -> None:
        """Relay a query upstream (or chase an ExternalName's target) and answer with it."""
        self.forwards += 1
        proto = "tcp" if tcp else "udp"
        if result.chase:
            ask_for = DNSRecord.question(result.chase, QTYPE[query.q.qtype])
            upstream = _parse(await self._ask_upstream(bytes(ask_for.pack()), tcp))
            chased = complete_chase(result, upstream).reply
            if chased is None:
                return
            self._cap(chased)
            out = bytes(chased.pack())
        else:
            forwarded = await self._forwarded(data, tcp)
            if forwarded is None:
                forwarded = bytes(wire.error_reply(query.header, RCODE.SERVFAIL).pack())
            out = forwarded
        self._count(self.config.server_zone, proto, query.q.qtype, out[3] & 0x0F)
        reply(out if tcp else _fit(out, query))

    def _cap(self, reply: DNSRecord) -> int:
        """What the `cache` plugin does to every reply it passes: one TTL for all records."""
        if not self.config.cache_s:
            return 0
        ttl = cache_plugin.cache_ttl(reply, self.config.cache_s)
        cache_plugin.set_ttls(reply, ttl)
        return ttl

    async def _forwarded(self, data: bytes, tcp: bool) -> bytes | None:
        """The upstream's reply as the cache plugin hands it on: from the cache (TTLs counted
        down) while it is fresh, else asked for, stored and capped."""
        key = data[2:]
        cached = self.forward_cache.get(key)
        if cached is not None:
            out = _aged(cached, data[:2], self.clock.monotonic())
            if out is not None:
                return out
            del self.forward_cache[key]
        raw = await self._ask_upstream(data, tcp)
        upstream = _parse(raw)
        if upstream is None:
            return raw
        ttl = self._cap(upstream)
        out = bytes(upstream.pack())
        if ttl and not upstream.header.tc:
            if len(self.forward_cache) >= CACHE_MAX_ENTRIES:
                self.forward_cache.clear()
            self.forward_cache[key] = (out, self.clock.monotonic(), ttl)
        return out

    async def _ask_upstream(self, data: bytes, tcp: bool) -> bytes | None:
        for server in self.upstreams:
            out = await ask(server, data, tcp, UPSTREAM_TIMEOUT_S)
            if out is not None:
                return out
        return None

    def _count(self, zone: str, proto: str, qtype: int, rcode: int) -> tuple[tuple, tuple]:
        keys = self._metric_keys.get((zone, proto, qtype, rcode))
        if keys is None:
            request_key = (zone, proto, QTYPE.get(qtype, "other") if qtype >= 0 else "other")
            keys = (request_key, (zone, RCODE.get(rcode, str(rcode))))
            if len(self._metric_keys) < METRIC_KEYS_MAX:
                self._metric_keys[(zone, proto, qtype, rcode)] = keys
        self.requests[keys[0]] += 1
        self.responses[keys[1]] += 1
        return keys


def _tag(zone: ClusterZone, query: DNSRecord, reply: DNSRecord) -> tuple[str, ...] | None:
    """The cache tag of a reply from the zone: zone.cache_tag of its name for positive
    answers without a CNAME (whose target is another name), None for all others."""
    if reply.header.rcode or not reply.rr or reply.auth:
        return None
    if any(record.rtype == QTYPE.CNAME for record in reply.rr):
        return None
    low = names.split(query.q.qname)[1]
    if zone.zone_of(low) != zone.labels:
        return None
    return cache_tag(low[: len(low) - len(zone.labels)])


def _shufflable(reply: DNSRecord) -> bool:
    """Would `loadbalance` reorder this reply (a section with several addresses or MX)?"""
    for section in (reply.rr, reply.ar):
        if sum(1 for r in section if r.rtype in ADDRESS_TYPES) > 1:
            return True
    return False


def _fit(out: bytes, query: DNSRecord) -> bytes:
    size = wire.udp_size(query)
    return out if len(out) <= size else wire.truncate_for_udp(out, size)


def _parse(data: bytes | None) -> DNSRecord | None:
    if data is None:
        return None
    try:
        return DNSRecord.parse(data)
    except Exception:
        return None


def _aged(cached: tuple[bytes, float, int], query_id: bytes, now: float) -> bytes | None:
    """A cached upstream reply with its TTLs lowered by its age (None once expired). As
    the cache plugin's item.toMsg, it says it is authoritative (AA): "some DNS clients
    discard the entire packet when it's non-authoritative"."""
    out, stored_at, ttl = cached
    age = int(now - stored_at)
    if age >= ttl:
        return None
    reply = DNSRecord.parse(out)
    reply.header.aa = 1
    for record in reply.rr + reply.auth + reply.ar:
        if record.rtype != QTYPE.OPT:
            record.ttl = max(0, record.ttl - age)
    return query_id + bytes(reply.pack())[2:]


# --- the agent ------------------------------------------------------------------------------


class ClusterDns(Agent):
    """Informers feed the zone; the listener serves it; HTTP says healthy/ready/metrics."""

    # What every Corefile's `kubernetes` plugin lists; __init__ adds what this one needs.
    watches = {kind: Watch(kind) for kind in ZONE_KINDS}
    goodbye_on_exit = True  # a stopped server must not hold `apply --wait` up
    log_format = "%(message)s"  # `labkit logs` of a coredns pod reads as CoreDNS's

    def __init__(
        self,
        ctx: Context,
        text: str,
        *,
        reload_key: str = "",
        pod: str = "",
        host: str = "0.0.0.0",
        any_port: bool = False,
        conf_path: str = "/etc/coredns/Corefile",
    ):
        """`text`: the Corefile; `reload_key`: its key in the ConfigMap coredns when it came
        from there (the `reload` plugin watches it); `pod`: "<namespace>/<name>" of the pod
        this runs in; `host`, `any_port`: where to listen (tests: 127.0.0.1, free ports);
        `conf_path`: the -conf path, as error messages name the file."""
        super().__init__(ctx)
        self.conf_path = conf_path
        config = corefile.parse(text, conf_path)  # a bad Corefile: CoreDNS does not start
        self.server = Server(config, upstream_servers(config), ctx.clock)
        self.corefile_key, self.corefile_text = reload_key, text
        self.pod = pod
        self.report_as = f"coredns/{pod.partition('/')[2]}" if pod else ""
        self.host, self.any_port = host, any_port
        self.watches = dict(ClusterDns.watches)
        if config.pods_mode == "verified":
            self.watches["Pod"] = Watch("Pod")  # `pods verified` answers only for pods that exist
        self.pod_watch: asyncio.Task | None = None  # one started by a reload to `pods verified`
        if reload_key:
            ns, name = COREFILE_CONFIGMAP
            self.watches["ConfigMap"] = Watch(
                "ConfigMap", ns, field_selector=f"metadata.name={name}"
            )
        self.listener: DnsListener | None = None
        self.http: list[web.AppRunner] = []
        self.built_from: tuple | None = None  # the objects the zone was built from
        self.reconfigured = False
        self.zone_builds = 0

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-conf", "--conf", default="/etc/coredns/Corefile",
                            help="the Corefile (read from the ConfigMap coredns when not mounted)")  # fmt: skip

    @classmethod
    async def create(cls, ctx: Context, options: argparse.Namespace) -> ClusterDns:
        """The Corefile: the mounted file if there is one, else the ConfigMap
        kube-system/coredns (then watched, as the `reload` plugin does). One CoreDNS would
        not load ends the process as CoreDNS's log.Fatal does: the message, exit status 1."""
        pod = os.environ.get("LABKIT_POD", "")
        try:
            if os.path.exists(options.conf):
                with open(options.conf) as f:
                    return cls(ctx, f.read(), pod=pod, conf_path=options.conf)
            key = os.path.basename(options.conf)
            text = await corefile_from_api(ctx.client, key)
            return cls(ctx, text, reload_key=key, pod=pod, conf_path=options.conf)
        except (corefile.CorefileError, OSError) as e:
            raise SystemExit(str(e)) from None

    @property
    def ready(self) -> bool:
        return self.server.state[0].synced

    async def start(self) -> None:
        """Listen (DNS, then health/ready/metrics) and say so as CoreDNS does."""
        config = self.server.config
        self.server.loop = asyncio.get_running_loop()
        self.listener = DnsListener(self.server.handle, self.host, self.port_for(config.port))
        await self.listener.start()
        self.http = await serve_http(self, config)
        print(f".:{config.port}\n{VERSION} (lab_kit)\nlinux/amd64, python", flush=True)
        log.info("zone %s ttl %d pods %s; upstream %s; ignored plugins: %s", config.domain,
                 config.ttl, config.pods_mode, self.server.upstreams,
                 " ".join(config.ignored) or "none")  # fmt: skip
        self._log_loaded(config)

    def port_for(self, configured: int) -> int:
        """Where to listen for a port of the Corefile (any free one in tests)."""
        return 0 if self.any_port else configured

    async def sync(self) -> dict | None:
        """Apply an edited Corefile, rebuild the zone only when the objects changed (a
        BOOKMARK only moves the version), then report (a server in a pod)."""
        if self.corefile_key:
            self._reload()
        await self._pods_listed()
        content = self._content()
        if content != self.built_from or self.reconfigured:
            self._rebuild()
            self.built_from, self.reconfigured = content, False
        return {"pod": self.pod} if self.pod else None

    async def _pods_listed(self) -> None:
        """After a reload turned `pods verified` on: CoreDNS's new instance waits for its new
        informer (up to 5 s) before it serves, then serves unsynced (SERVFAIL, not NXDOMAIN)."""
        pods = self.ctx.informers.get("Pod") if "Pod" in self.watches else None
        if pods is None or pods.synced.is_set():
            return
        if not await wait_event(pods.synced, STARTUP_TIMEOUT_S, self.ctx.clock):
            log.warning("[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API")  # fmt: skip

    def _content(self) -> tuple:
        """Per informer of the zone: how many objects, the newest resourceVersion."""
        return tuple(
            (len(items), max((meta.resource_version(o) for o in items), default=0))
            for items in (self.ctx.items(name) for name in self.watches if name != "ConfigMap")
        )

    def _reload(self) -> None:
        """The `reload` plugin, when the running Corefile has it: apply an edited
        ConfigMap's Corefile (zones, ttl, pods mode, fallthrough, upstreams, cache,
        loadbalance). One CoreDNS refuses is logged in its words and the running one keeps
        serving; changed ports need the pod restarted (logged)."""
        cms = self.ctx.items("ConfigMap")
        text = (cms[0].get("data") or {}).get(self.corefile_key, "") if cms else ""
        if not cms or text == self.corefile_text or not self.server.config.reload:
            return  # deleted (CoreDNS keeps running), unchanged, or no `reload` plugin
        self.corefile_text = text
        try:
            config = corefile.parse(text, self.conf_path)
            upstreams = upstream_servers(config)
        except corefile.CorefileError as e:
            if e.syntax:  # the reload plugin's own parse refuses it: no restart is tried
                log.warning("[WARNING] plugin/reload: Corefile parse failed: %s", e)
                return
            # caddy's Restart and the reload plugin each say why; the old one serves on.
            log.info("[INFO] Reloading")
            log.error("[ERROR] Restart failed: %s", e)
            log.error("[ERROR] plugin/reload: Corefile changed but reload failed: "
                      "starting with listener file descriptors: %s", e)  # fmt: skip
            return
        log.info("[INFO] Reloading")
        self._apply(config, upstreams)
        self._log_loaded(config)
        log.info("[INFO] Reloading complete")

    def _apply(self, config: corefile.Corefile, upstreams: list[tuple[str, int]]) -> None:
        old = self.server.config
        if (config.port, config.health_port, config.ready_port) != (
            old.port, old.health_port, old.ready_port,
        ):  # fmt: skip
            log.warning("[WARNING] ports changed: they take effect when the pod restarts")
        self.server.config, self.server.upstreams = config, upstreams
        self.server.forward_cache = {}
        self._watch_pods(config.pods_mode == "verified")
        self.reconfigured = True  # rebuild with the new zones, ttl, pods mode

    def _watch_pods(self, wanted: bool) -> None:
        """`pods verified` reads every Pod: a reload that turns it on starts the watch (as
        CoreDNS's new instance starts its pod informer); one that turns it off stops using
        it (the watch itself runs on until the process ends)."""
        if not wanted:
            self.watches.pop("Pod", None)
            return
        self.watches["Pod"] = Watch("Pod")
        if "Pod" not in self.ctx.informers:
            informer = self.ctx.watch("Pod", self.watches["Pod"])
            self.pod_watch = asyncio.create_task(informer.run())

    def _log_loaded(self, config: corefile.Corefile) -> None:
        """The reload plugin's line for a configuration that runs, and what the lab leaves
        undone of it."""
        if config.reload:
            digest = hashlib.sha512(self.corefile_text.encode()).hexdigest()
            log.info("[INFO] plugin/reload: Running configuration SHA512 = %s", digest)
        if config.unsupported:
            log.warning("[WARNING] lab_kit: accepted as CoreDNS does, but not implemented "
                        "here: %s", ", ".join(config.unsupported))  # fmt: skip

    def _rebuild(self) -> None:
        config = self.server.config  # after a reload: the new zones, ttl, pods mode
        pods = self.ctx.items("Pod") if "Pod" in self.watches else []
        zone = ClusterZone.build(
            self.ctx.items("Service"), self.ctx.items("EndpointSlice"), pods,
            self.ctx.items("Namespace"), **zone_options(config),
        )  # fmt: skip
        zone.synced = self.ctx.synced  # an informer still listing: SERVFAIL, not NXDOMAIN
        self.server.set_zone(zone)
        self.zone_builds += 1

    async def stop(self) -> None:
        if self.pod_watch is not None:
            self.pod_watch.cancel()
            await asyncio.gather(self.pod_watch, return_exceptions=True)
        if self.listener is not None:
            self.listener.close()
        for runner in self.http:
            await runner.cleanup()
        self.http = []


def metrics_registry(server: Server) -> CollectorRegistry:
    """CoreDNS's own metric names, read from the server's plain counters at scrape time."""

    class Collector:
        def collect(self) -> Iterator[Metric]:
            s = server
            requests = CounterMetricFamily("coredns_dns_requests", "Counter of DNS requests made per zone, protocol and family.",
                                           labels=["server", "zone", "proto", "family", "type"])  # fmt: skip
            for (zone, proto, qtype), n in list(s.requests.items()):  # the UDP thread adds keys
                requests.add_metric(["dns://:53", zone, proto, "1", qtype], n)
            responses = CounterMetricFamily("coredns_dns_responses", "Counter of response status codes.",
                                            labels=["server", "zone", "rcode"])  # fmt: skip
            for (zone, rcode), n in list(s.responses.items()):
                responses.add_metric(["dns://:53", zone, rcode], n)
            hits = CounterMetricFamily("coredns_cache_hits", "The count of cache hits.",
                                       labels=["server", "type"])  # fmt: skip
            hits.add_metric(["dns://:53", "success"], s.cache_hits)
            forwards = CounterMetricFamily("coredns_forward_requests", "Counter of requests made per upstream.",
                                           labels=["to"])  # fmt: skip
            forwards.add_metric([",".join(f"{h}:{p}" for h, p in s.upstreams)], s.forwards)
            yield from (requests, responses, hits, forwards)

    registry = CollectorRegistry()
    registry.register(Collector())
    return registry


async def serve_http(dns: ClusterDns, config: corefile.Corefile) -> list[web.AppRunner]:
    """The `health`, `ready` and `prometheus` plugins, each on its own port."""

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def ready(_request: web.Request) -> web.Response:
        if dns.ready:
            return web.Response(text="OK")
        return web.Response(status=503, text="kubernetes")  # CoreDNS names the plugin not ready

    registry = metrics_registry(dns.server)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    runners = []
    for port, path, handler in ((config.health_port, "/health", health),
                                (config.ready_port, "/ready", ready),
                                (config.metrics_port, "/metrics", metrics)):  # fmt: skip
        if port is None:
            continue
        app = web.Application()
        app.router.add_get(path, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, dns.host, dns.port_for(port)).start()
        runners.append(runner)
    return runners


async def corefile_from_api(client: AsyncApiClient, key: str) -> str:
    """The Corefile in the ConfigMap kube-system/coredns (what a mounted volume would hold)."""
    ns, name = COREFILE_CONFIGMAP
    cm = await client.get(by_kind_name("ConfigMap"), name, ns)
    return (cm.get("data") or {}).get(key, "")


def zone_options(config: corefile.Corefile) -> dict:
    """What the `kubernetes` plugin's configuration means for the zone (ClusterZone's
    keyword arguments)."""
    return {
        "domain": config.domain,
        "ttl": config.ttl,
        "pods_mode": config.pods_mode,
        "other_zones": [zone for zone in config.zones if zone != config.domain],
        "fallthrough": config.fallthrough,
    }


def upstream_servers(config: corefile.Corefile) -> list[tuple[str, int]]:
    """`forward . /etc/resolv.conf` means the pod's own resolv.conf (the node's: dnsPolicy
    Default); addresses are taken as they are. A file that cannot be read is refused as
    the forward plugin refuses it."""
    servers: list[tuple[str, int]] = []
    for target in config.forward_to:
        if target.startswith("/"):
            try:
                with open(target) as f:
                    servers += [(ip, 53) for ip in parse_resolv_conf(f.read()).servers]
            except OSError:
                raise corefile.CorefileError(
                    f'plugin/forward: not an IP address or file: "{target}"'
                ) from None
        else:
            host, _, port = target.removeprefix("dns://").partition(":")
            if not is_ip(host) or not (port or "53").isdigit():
                raise corefile.CorefileError(
                    f'plugin/forward: not an IP address or file: "{target}"'
                )
            servers.append((host, int(port or 53)))
    return servers
