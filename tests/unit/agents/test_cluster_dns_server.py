"""The cluster DNS server on loopback sockets: answers, the answer cache and its
invalidation, forwarding and ExternalName chasing through an upstream, UDP truncation
and TCP, and random bytes that never stop it. No lab, no root; cached upstream answers
age on virtual time (FakeClock)."""

from __future__ import annotations

import asyncio
import random
import socket
import sys
from pathlib import Path

from dnslib import QTYPE, RCODE, DNSRecord

sys.path.insert(0, str(Path(__file__).parents[1] / "dns"))
from dns_objects import endpoint, endpoint_slice, external, headless, namespace, query, service  # noqa: E402

from lab_kit.adapters.clock import FakeClock  # noqa: E402
from lab_kit.adapters.dns_listener import DnsListener  # noqa: E402
from lab_kit.agents.cluster_dns import Server  # noqa: E402
from lab_kit.render.dns.corefile import KUBEADM_COREFILE, parse  # noqa: E402
from lab_kit.render.dns.world import WorldZone  # noqa: E402
from lab_kit.render.dns.zone import ClusterZone  # noqa: E402


def zone_with(*services, slices=()) -> ClusterZone:
    return ClusterZone.build(services, slices, [], [namespace("default")], ttl=30)


def run(scenario):
    """Start the world resolver and the cluster server on 127.0.0.1, run `scenario(ask,
    server)` in a thread (blocking dnslib clients), return its result."""

    async def main():
        world = WorldZone.default()
        upstream = DnsListener(lambda d, reply, _tcp: reply(world.answer(d)), "127.0.0.1", 0)
        await upstream.start()
        server = Server(parse(KUBEADM_COREFILE), [("127.0.0.1", upstream.port)], FakeClock())
        server.loop = asyncio.get_running_loop()
        listener = DnsListener(server.handle, "127.0.0.1", 0)
        await listener.start()

        def ask(name, qtype="A", tcp=False, **kw):
            data = query(name, qtype, **kw).send("127.0.0.1", listener.port, tcp=tcp, timeout=3)
            return DNSRecord.parse(data)

        try:
            return await asyncio.to_thread(scenario, ask, server, listener.port)
        finally:
            listener.close()
            upstream.close()

    return asyncio.run(main())


def elapse(server: Server, seconds: float) -> None:
    """From the scenario's thread: let `seconds` of the server's virtual time pass."""
    assert isinstance(server.clock, FakeClock) and server.loop is not None
    asyncio.run_coroutine_threadsafe(server.clock.advance(seconds), server.loop).result()


def addresses(reply: DNSRecord) -> list[str]:
    return [str(r.rdata) for r in reply.rr]


def test_a_new_service_answers_on_the_next_query_after_the_zone_changes():
    def scenario(ask, server, _port):
        server.set_zone(zone_with())
        before = ask("web.default.svc.cluster.local")
        ask("web.default.svc.cluster.local")  # the NXDOMAIN is now cached
        server.set_zone(zone_with(service("web", cluster_ip="10.96.0.50")))
        return before, ask("web.default.svc.cluster.local")

    before, after = run(scenario)
    assert before.header.rcode == RCODE.NXDOMAIN
    assert after.header.rcode == RCODE.NOERROR and addresses(after) == ["10.96.0.50"]


def test_repeated_questions_are_served_from_the_cache_with_the_askers_id():
    def scenario(ask, server, _port):
        server.set_zone(zone_with(service("web", cluster_ip="10.96.0.50")))
        replies = [ask("web.default.svc.cluster.local") for _ in range(5)]
        return replies, server.cache_hits, server.requests[(".", "udp", "A")]

    replies, hits, counted = run(scenario)
    assert hits == 4 and counted == 5  # cache hits count as requests in the metrics too
    assert all(addresses(r) == ["10.96.0.50"] for r in replies)
    assert len({r.header.id for r in replies}) > 1  # each reply carries its query's ID


def test_the_same_question_with_a_new_cookie_is_a_cache_hit_and_other_letters_are_not():
    from dnslib import EDNS0, EDNSOption

    def scenario(ask, server, port):
        server.set_zone(zone_with(service("web", cluster_ip="10.96.0.50")))
        replies = []
        for i, name in enumerate(
            ["web.default.svc.cluster.local", "web.default.svc.cluster.local",
             "WEB.Default.svc.CLUSTER.local"]
        ):  # fmt: skip
            q = DNSRecord.question(name)
            q.add_ar(EDNS0(udp_len=1232, opts=[EDNSOption(10, bytes([i]) * 8)]))  # a client cookie
            replies.append(DNSRecord.parse(q.send("127.0.0.1", port, timeout=3)))
        return replies, server.cache_hits

    (first, second, other), hits = run(scenario)
    assert hits == 1  # the new cookie never reached the zone; the other spelling did
    assert addresses(second) == ["10.96.0.50"] and second.rr[0].ttl == 30
    assert (second.header.aa, second.header.rcode) == (first.header.aa, first.header.rcode)
    assert str(other.q.qname) == str(other.rr[0].rname) == "WEB.Default.svc.CLUSTER.local."
    assert addresses(other) == ["10.96.0.50"]


def test_srv_targets_keep_the_question_zone_spelling_whatever_was_asked_before():
    """Regression (issue 12): a reply cached for one spelling was reused for another, and
    names that are not copies of the question (SRV targets, their addresses) kept the first
    asker's letters. CoreDNS (handler_case_test.go): the owner is the question as asked, the
    target is the object's name in lower case plus the zone as the question spells it."""
    pods = [endpoint("10.244.1.5", "db-0")]

    def scenario(ask, server, _port):
        server.set_zone(zone_with(service("web", cluster_ip="10.96.0.50"), headless("db"),
                                  slices=[endpoint_slice("db", pods)]))  # fmt: skip
        return [
            ask(name, "SRV")
            for name in (
                "_http._tcp.web.default.svc.cluster.local",
                "_HtTp._TcP.wEb.DeFault.SvC.cLuStEr.LoCaL",
                "_HTTP._TCP.DB.default.svc.CLUSTER.local",
                "_http._tcp.db.default.svc.cluster.local",
            )
        ]

    web, web_mixed, db_upper, db = run(scenario)
    assert [str(r.rdata.target) for r in web.rr] == ["web.default.svc.cluster.local."]
    assert str(web_mixed.rr[0].rname) == "_HtTp._TcP.wEb.DeFault.SvC.cLuStEr.LoCaL."
    assert [str(r.rdata.target) for r in web_mixed.rr] == ["web.default.svc.cLuStEr.LoCaL."]
    assert [str(r.rname) for r in web_mixed.ar] == ["web.default.svc.cLuStEr.LoCaL."]
    assert [str(r.rdata.target) for r in db_upper.rr] == ["db-0.db.default.svc.CLUSTER.local."]
    assert [str(r.rdata.target) for r in db.rr] == ["db-0.db.default.svc.cluster.local."]
    assert [str(r.rname) for r in db.ar] == ["db-0.db.default.svc.cluster.local."]


def test_the_dns_version_ttl_is_the_plugins_unless_the_cache_plugin_lowers_it():
    """CoreDNS serves dns-version.<zone> with TTL 28800 (kubernetes.go), and kubeadm's
    `cache 30` caps every reply it passes (cache.go WriteMsg), so pods see 30; a Corefile
    without `cache` shows the plugin's own 28800."""

    def scenario(ask, server, _port):
        server.set_zone(zone_with())
        kubeadm = ask("dns-version.cluster.local", "TXT")
        server.config = parse(KUBEADM_COREFILE.replace("cache 30", "errors"))
        return kubeadm, ask("dns-version.cluster.local", "TXT", tcp=True)

    kubeadm, without_cache = run(scenario)
    assert [(r.ttl, str(r.rdata)) for r in kubeadm.rr] == [(30, '"1.1.0"')]
    assert [(r.ttl, str(r.rdata)) for r in without_cache.rr] == [(28800, '"1.1.0"')]


def test_zone_transfers_are_refused_over_tcp():
    """Regression (issue 12): `dig AXFR cluster.local` got NODATA; CoreDNS without a
    `transfer` plugin refuses it."""

    def scenario(ask, server, _port):
        server.set_zone(zone_with(service("web", cluster_ip="10.96.0.50")))
        return ask("cluster.local", "AXFR", tcp=True), ask("cluster.local", "IXFR")

    for reply in run(scenario):
        assert (RCODE[reply.header.rcode], reply.header.aa, reply.rr, reply.auth) == (
            "REFUSED", 0, [], [],
        )  # fmt: skip


def test_headless_answers_are_shuffled_and_never_cached():
    pods = [endpoint(f"10.244.1.{i}") for i in range(2, 8)]
    slices = [endpoint_slice("db", pods)]

    def scenario(ask, server, _port):
        server.set_zone(zone_with(headless("db"), slices=slices))
        return [
            addresses(ask("db.default.svc.cluster.local")) for _ in range(12)
        ], server.cache_hits

    orders, hits = run(scenario)
    assert hits == 0
    assert all(sorted(o) == sorted(f"10.244.1.{i}" for i in range(2, 8)) for o in orders)
    assert len({tuple(o) for o in orders}) > 1  # loadbalance: the order changes


def test_outside_names_are_forwarded_and_externalname_targets_chased():
    def scenario(ask, server, _port):
        server.set_zone(zone_with(external("shop", "www.example.com")))
        return ask("example.com"), ask("nope.example.com"), ask("shop.default.svc.cluster.local")

    outside, missing, chased = run(scenario)
    assert addresses(outside) == ["203.0.113.10"] and outside.header.ra == 1
    # The world publishes 300 s; kubeadm's `cache 30` clamps every record it passes on.
    assert [r.ttl for r in outside.rr] == [30] and [r.ttl for r in chased.rr] == [30, 30, 30]
    assert missing.header.rcode == RCODE.NXDOMAIN
    assert addresses(chased) == ["www.example.com.", "example.com.", "203.0.113.10"]
    assert chased.rr[0].rtype == QTYPE.CNAME and chased.header.aa == 1


def test_cached_upstream_answers_count_their_ttl_down():
    def scenario(ask, server, _port):
        server.set_zone(zone_with())
        first = ask("api.example.com")
        server.upstreams = [("127.0.0.1", 9)]  # a cache hit never asks upstream
        elapse(server, 12)
        again = ask("api.example.com")
        elapse(server, 18)  # 30 s: expired, so it asks the (now silent) upstream again
        return first, again, ask("api.example.com")

    first, again, expired = run(scenario)
    assert [r.ttl for r in first.rr] == [30] and [r.ttl for r in again.rr] == [18]
    # The upstream's reply as it came (not authoritative); from the cache plugin, AA set
    # (plugin/cache item.go toMsg).
    assert (first.header.aa, again.header.aa, again.header.ra) == (0, 1, 1)
    assert addresses(again) == ["203.0.113.10"]
    assert expired.header.rcode == RCODE.SERVFAIL


def test_an_unreachable_upstream_gives_servfail():
    def scenario(ask, server, _port):
        server.set_zone(zone_with())
        server.upstreams = [("127.0.0.1", 9)]  # nothing answers there
        return ask("example.com")

    assert run(scenario).header.rcode == RCODE.SERVFAIL


def test_udp_replies_fit_the_buffer_and_tcp_carries_everything():
    pods = [endpoint(f"10.244.1.{i}") for i in range(2, 102)]
    slices = [endpoint_slice("big", pods)]

    def scenario(ask, server, _port):
        server.set_zone(zone_with(headless("big"), slices=slices))
        return ask("big.default.svc.cluster.local"), ask("big.default.svc.cluster.local", tcp=True)

    udp, tcp = run(scenario)
    assert udp.header.tc == 1 and len(udp.pack()) <= 512
    assert tcp.header.tc == 0 and len(tcp.rr) == 100


def test_random_bytes_never_stop_the_server():
    def scenario(ask, server, port):
        server.set_zone(zone_with(service("web", cluster_ip="10.96.0.50")))
        rng = random.Random(7)
        good = bytes(query("web.default.svc.cluster.local").pack())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(3000):
                junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))
                if i % 3 == 0:  # a real header with nonsense after it
                    junk = good[:12] + junk
                s.sendto(junk, ("127.0.0.1", port))
        with socket.create_connection(("127.0.0.1", port)) as s:  # a TCP message cut short
            s.sendall(b"\x00\x40" + good[:10])
        return ask("web.default.svc.cluster.local"), ask("web.default.svc.cluster.local", tcp=True)

    udp, tcp = run(scenario)
    assert addresses(udp) == ["10.96.0.50"] and addresses(tcp) == ["10.96.0.50"]


# --- the answer caches across zone changes (in-process: Server.handle, no sockets) --------

WEB, SHOP = service("web", cluster_ip="10.96.0.50"), service("shop", cluster_ip="10.96.0.60")
DB = headless("db")
DB_SLICE = endpoint_slice("db", [endpoint("10.244.1.5", "db-0")])
QUESTIONS = [
    (name, qtype)
    for name in (
        "web.default.svc.cluster.local", "WEB.default.svc.cluster.local",
        "shop.default.svc.cluster.local", "db.default.svc.cluster.local",
        "db-0.db.default.svc.cluster.local", "_http._tcp.db.default.svc.cluster.local",
        "new.default.svc.cluster.local", "1-2-3-4.default.pod.cluster.local",
        "1-2-3-4.other.pod.cluster.local", "x.other.svc.cluster.local", "default.svc.cluster.local",
        "nope.cluster.local", "cluster.local", "50.0.96.10.in-addr.arpa", "dns-version.cluster.local",
    )
    for qtype in ("A", "AAAA", "SRV", "TXT", "PTR", "SOA")
]  # fmt: skip


def ask_server(server: Server, name: str, qtype: str = "A", edns: int | None = None) -> bytes:
    """The reply, or b"--" for none (forwarded: this server has no event loop)."""
    out: list[bytes] = []
    server.handle(bytes(query(name, qtype, edns=edns).pack()), out.append, False)
    return out[0] if out else b"--"


def unshuffled(reply: bytes) -> bytes:
    """A reply after its ID, its records in one order (`loadbalance` shuffles them)."""
    if reply == b"--":
        return reply
    parsed = DNSRecord.parse(reply)
    for section in (parsed.rr, parsed.ar):
        section.sort(key=lambda r: (r.rtype, str(r.rname), str(r.rdata)))
    return bytes(parsed.pack())[2:]


def fresh_answer(zone: ClusterZone, name: str, qtype: str, edns: int | None) -> bytes:
    server = Server(parse(KUBEADM_COREFILE), [])
    server.set_zone(zone)
    return ask_server(server, name, qtype, edns)


def zone_of(services=(), slices=(), namespaces=("default",), pods=()) -> ClusterZone:
    return ClusterZone.build(services, slices, pods, [namespace(ns) for ns in namespaces])


def test_a_cached_answer_survives_a_change_to_another_service():
    server = Server(parse(KUBEADM_COREFILE), [])
    server.set_zone(zone_of([WEB]))
    first = ask_server(server, "web.default.svc.cluster.local")
    server.set_zone(zone_of([WEB, SHOP]))  # an unrelated Service is added
    hits = server.cache_hits
    again = ask_server(server, "web.default.svc.cluster.local")
    assert server.cache_hits == hits + 1
    assert again[2:] == first[2:]  # the same reply, with the new query's ID


def test_after_zone_changes_every_reply_is_a_fresh_servers():
    """Warm the caches on one zone, swap in another, ask again: each reply must be what a
    server that never cached anything gives for the new zone; answers the change cannot
    touch come from the cache."""
    web_moved = service("web", cluster_ip="10.96.0.51")
    db_scaled = endpoint_slice("db", [endpoint("10.244.1.5", "db-0"), endpoint("10.244.1.6")])
    db_renamed = endpoint_slice("db", [endpoint("10.244.1.5", "db-1")])
    before = {"services": [WEB, SHOP, DB], "slices": [DB_SLICE], "namespaces": ["default", "other"]}
    changes = {
        "nothing": {},
        "another Service added": {"services": [WEB, SHOP, DB, service("new", cluster_ip="10.96.0.70")]},
        "the Service's ClusterIP": {"services": [web_moved, SHOP, DB]},
        "the Service deleted": {"services": [SHOP, DB]},
        "its endpoints scaled": {"slices": [db_scaled]},
        "an endpoint's hostname": {"slices": [db_renamed]},
        "its slice deleted": {"slices": []},
        "a namespace deleted": {"namespaces": ["default"]},
        "every namespace object deleted": {"namespaces": []},
        "the headless Service made ClusterIP": {"services": [WEB, SHOP, service("db", cluster_ip="10.96.0.80")]},
    }  # fmt: skip
    kept = {}
    for change, edit in changes.items():
        server = Server(parse(KUBEADM_COREFILE), [])
        server.set_zone(zone_of(**before))
        for edns in (None, 1232):
            for name, qtype in QUESTIONS:
                ask_server(server, name, qtype, edns)
        new = zone_of(**{**before, **edit})
        server.set_zone(new)
        hits = server.cache_hits
        for edns in (None, 1232):
            for name, qtype in QUESTIONS:
                got = ask_server(server, name, qtype, edns)
                want = fresh_answer(new, name, qtype, edns)
                assert unshuffled(got) == unshuffled(want), (change, name, qtype)
        kept[change] = server.cache_hits - hits
    assert kept["nothing"] == kept["another Service added"] > 0
    assert kept["the Service's ClusterIP"] < kept["nothing"]
    assert kept["its endpoints scaled"] < kept["nothing"]


def test_a_new_configuration_drops_every_cached_answer():
    server = Server(parse(KUBEADM_COREFILE), [])
    zone = zone_of([WEB])
    server.set_zone(zone)
    ask_server(server, "web.default.svc.cluster.local")
    server.config = parse(KUBEADM_COREFILE.replace("ttl 30", "ttl 10"))
    server.set_zone(ClusterZone.build([WEB], [], [], [namespace("default")], ttl=10))
    hits = server.cache_hits
    reply = DNSRecord.parse(ask_server(server, "web.default.svc.cluster.local"))
    assert server.cache_hits == hits and reply.rr[0].ttl == 10
