"""The fast path (fast.py) against the full path: for every query it takes, the same bytes.

The full path is the server's own (Server.handle with the fast path switched off), so
the reference includes everything the server does to a reply: the cache plugin's TTLs,
`loadbalance`, UDP truncation. Queries: every name the zone lists, pod names, names
that are not there, the zone's ancestors and empty non-terminals, other letter cases
(which move the SOA's compression), every common query type and a private one, with and
without EDNS (a cookie, the DO bit, version 1), with RD and CD set and unset; then bit
flips and random names. Several Corefiles: kubeadm's, and ones changing the TTL, the
cache, loadbalance, the pods mode, fallthrough and the domain."""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

import pytest
from dns_objects import (
    coredns_fixture,
    endpoint,
    endpoint_slice,
    headless,
    namespace,
    pod,
    service,
)
from dnslib import EDNS0, DNSRecord, EDNSOption
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from lab_kit.agents.cluster_dns import Server, zone_options  # noqa: E402
from lab_kit.render.dns import wire  # noqa: E402
from lab_kit.render.dns.corefile import KUBEADM_COREFILE, parse  # noqa: E402
from lab_kit.render.dns.fast import FastPath  # noqa: E402
from lab_kit.render.dns.zone import ClusterZone  # noqa: E402

CACHE_BLOCK = """    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
"""
COREFILES = {
    "kubeadm": KUBEADM_COREFILE,
    "ttl 5": KUBEADM_COREFILE.replace("ttl 30", "ttl 5"),
    "ttl 600, cache 3600": KUBEADM_COREFILE.replace("ttl 30", "ttl 600").replace(
        "cache 30", "cache 3600"
    ),
    "ttl 0": KUBEADM_COREFILE.replace("ttl 30", "ttl 0"),
    "no cache, no loadbalance": KUBEADM_COREFILE.replace(CACHE_BLOCK, "").replace(
        "    loadbalance\n", ""
    ),
    "ttl 600, no cache": KUBEADM_COREFILE.replace("ttl 30", "ttl 600").replace(CACHE_BLOCK, ""),
    "pods verified": KUBEADM_COREFILE.replace("pods insecure", "pods verified"),
    "pods disabled": KUBEADM_COREFILE.replace("pods insecure", "pods disabled"),
    "fallthrough everything": KUBEADM_COREFILE.replace(
        "fallthrough in-addr.arpa ip6.arpa", "fallthrough"
    ),
    "another domain": KUBEADM_COREFILE.replace("cluster.local in-addr", "Lab.Example in-addr"),
}


class _Never(FastPath):
    def reply(self, data, end):
        return None


def objects():
    services, slices, pods, namespaces = coredns_fixture()
    services += [
        service("web", "default", "10.96.0.20"),
        service("api", "shop", "10.96.0.30", selector={}),
        headless("db", "shop"),
        headless("big", "shop"),
    ]
    slices += [
        endpoint_slice(
            "db", [endpoint("10.244.2.1", "db-0"), endpoint("10.244.2.2", "db-1")], ns="shop"
        ),
        endpoint_slice("web", [endpoint("10.244.3.1")]),
        # 40 addresses: 656 octets, over 512 (a UDP reply without EDNS is truncated)
        endpoint_slice("big", [endpoint(f"10.244.4.{i}") for i in range(1, 41)], ns="shop"),
    ]
    pods += [pod("db-0", "10.244.2.1", "shop"), pod("v6", "fd00::5", "shop")]
    return services, slices, pods, [*namespaces, namespace("default"), namespace("shop")]


def servers(text: str) -> tuple[Server, Server]:
    """A server with the fast path and one without, serving the same zone (the objects'
    resourceVersions, hence the SOA serial, differ from one objects() to the next)."""
    zone = ClusterZone.build(*objects(), **zone_options(parse(text)))
    return server_for(text, zone, True), server_for(text, zone, False)


def server_for(text: str, zone: ClusterZone, fast: bool) -> Server:
    server = Server(parse(text), [])
    server.rng = random.Random(3)
    server.set_zone(zone)
    if not fast:
        zone, cache, by_question, _, config = server.state
        server.state = (zone, cache, by_question, _Never(zone), config)
    return server


def slow_reply(server: Server, data: bytes) -> bytes | None:
    """The full path's reply (caches emptied first, so nothing is served from them)."""
    zone, _, _, never, config = server.state
    server.state = (zone, {}, {}, never, config)
    out: list[bytes] = []
    server.handle(data, out.append, False)
    return out[0] if out else None


def fast_reply(server: Server, data: bytes) -> bytes | None:
    plain = wire.question_key(data)
    if plain is None:
        return None
    quick = server.state[3].reply(data, plain[1])
    return None if quick is None else quick[0]


def spellings(name: str, rng: random.Random) -> list[str]:
    mixed = "".join(c.upper() if rng.random() < 0.5 else c for c in name)
    return [name, name.upper(), mixed]


def base_names(domain: str) -> list[str]:
    zone = ClusterZone.build(*objects(), domain=domain)
    listed = {name.rstrip(".") for name, _, _, _ in zone.records()}
    d = domain
    extra = [
        d, f"svc.{d}", f"pod.{d}", f"testns.svc.{d}", f"testns.pod.{d}", f"nons.svc.{d}",
        f"nons.pod.{d}", f"foo.{d}", f"ns.dns.{d}", f"dns.{d}", f"hostmaster.{d}",
        f"x.ns.dns.{d}", f"ns.dns.dns.{d}", f"a.hostmaster.{d}", f"dns-version.{d}",
        f"10-244-1-5.testns.pod.{d}", f"1-2-3-4.podns.pod.{d}", f"x.10-244-1-5.testns.pod.{d}",
        f"fd00--5.shop.pod.{d}", f"010-1-1-1.testns.pod.{d}", f"1-2-3.testns.pod.{d}",
        f"1-2-3-4.nons.pod.{d}", f"10-244-2-1.shop.pod.{d}", f"nope.testns.svc.{d}",
        f"a.b.c.d.testns.svc.{d}", f"a.b.c.d.e.testns.svc.{d}", f"nope.nons.svc.{d}",
        f"_http._tcp.web.default.svc.{d}", f"_x._y.web.default.svc.{d}",
        f"db-0.db.shop.svc.{d}", f"nope.db.shop.svc.{d}", f"external.testns.svc.{d}",
        f"x.external.testns.svc.{d}", f"extip.testns.svc.{d}", f"unready.testns.svc.{d}",
        f"kube-dns.kube-system.svc.{d}", f"x.{'y' * 63}.testns.svc.{d}",
        "example.com", "1.0.0.10.in-addr.arpa", "20.0.96.10.in-addr.arpa",
        f"svc1.testns.svc.{d}.example.com", "in-addr.arpa",
    ]  # fmt: skip
    return list(dict.fromkeys([*sorted(listed), *extra]))


QTYPES = ["A", "AAAA", "MX", "TXT", "SRV", "PTR", "CNAME", "SOA", "NS", "ANY", "HINFO", 65280]


VARIANTS = [
    (edns, rd, cd)
    for edns in (None, 1232, "cookie+do", "v1", 100)
    for rd, cd in ((1, 0), (0, 0), (1, 1))
]  # (EDNS, RD, CD): 12 the fast path may take, 3 with EDNS version 1 it must not
SOME_VARIANTS = [(None, 1, 0), ("cookie+do", 0, 0), ("v1", 1, 0), (100, 1, 1)]


def packets(name: str, qtype, rng: random.Random, variants=VARIANTS) -> list[bytes]:
    out = []
    for edns, rd, cd in variants:
        q = DNSRecord.question(name, qtype if isinstance(qtype, str) else "A")
        if not isinstance(qtype, str):
            q.q.qtype = qtype
        q.header.id = rng.randrange(65536)
        q.header.rd, q.header.cd = rd, cd
        if edns == "cookie+do":
            q.add_ar(EDNS0(udp_len=4096, flags="do", opts=[EDNSOption(10, b"c" * 8)]))
        elif edns == "v1":
            q.add_ar(EDNS0(udp_len=1232, version=1))
        elif edns is not None:
            q.add_ar(EDNS0(udp_len=edns))
        out.append(bytes(q.pack()))
    return out


@pytest.mark.parametrize("corefile", sorted(COREFILES))
def test_the_fast_path_gives_the_full_paths_bytes_or_declines(corefile):
    text = COREFILES[corefile]
    fast, slow = servers(text)
    domain = parse(text).domain
    rng = random.Random(corefile)
    variants = VARIANTS if corefile == "kubeadm" else SOME_VARIANTS  # the others: quicker
    taken: dict[tuple[str, str, int], int] = {}
    for base in base_names(domain):
        for name in spellings(base, rng):
            for qtype in QTYPES:
                for data in packets(name, qtype, rng, variants):
                    got = fast_reply(fast, data)
                    if got is not None:
                        assert got == slow_reply(slow, data), (name, qtype, data)
                        key = (base, str(qtype), DNSRecord.parse(got).header.rcode)
                        taken[key] = taken.get(key, 0) + 1
    d = domain
    if corefile == "pods disabled":
        assert (f"10-244-1-5.testns.pod.{d}", "A", 3) in taken
        return
    if corefile == "fallthrough everything":  # every NXDOMAIN goes to `forward` instead
        assert not [key for key in taken if key[2] == 3]
    # What the fast path is for: it must take these (NOERROR 0, NXDOMAIN 3).
    for shape in [
        (f"svc1.testns.svc.{d}", "A", 0),
        (f"svc1.testns.svc.{d}", "AAAA", 0),  # NODATA
        (f"svc1.testns.svc.{d}", "MX", 0),
        (f"ep1a.svc1.testns.svc.{d}", "A", 0),
        (f"_http._tcp.web.default.svc.{d}", "A", 0),
        (f"10-244-1-5.testns.pod.{d}", "A", 0),
        (f"fd00--5.shop.pod.{d}", "AAAA", 0),
        (f"nope.testns.svc.{d}", "A", 3),
        (f"nope.nons.svc.{d}", "AAAA", 3),
        (f"foo.{d}", "A", 3),
        (f"testns.svc.{d}", "A", 0),
        (f"ns.dns.{d}", "AAAA", 0),
        (f"hostmaster.{d}", "A", 3),
        (d, "A", 0),
    ]:
        if shape[2] == 3 and corefile == "fallthrough everything":
            continue
        assert shape in taken, shape
        # every spelling, every variant but EDNS version 1
        assert taken[shape] == 3 * sum(edns != "v1" for edns, _, _ in variants), shape
    balanced = "loadbalance" in text.replace(CACHE_BLOCK, "")
    assert ((f"db.shop.svc.{d}", "A", 0) in taken) != balanced  # several addresses
    # Too big for 512 octets: taken only with a larger EDNS size (cookie+do: 4096).
    assert taken.get((f"big.shop.svc.{d}", "A", 0), 0) == (0 if balanced else 3)


def test_the_server_counts_and_caches_fast_replies_as_slow_ones():
    rng = random.Random(5)
    fast, slow = servers(KUBEADM_COREFILE)
    datagrams = [
        data
        for base in base_names("cluster.local")
        for qtype in ("A", "AAAA", "MX", "SRV")
        for data in packets(base, qtype, rng)[:6]
    ]
    for _ in range(2):  # the second round: from the caches
        for data in datagrams:
            got: list[bytes] = []
            want: list[bytes] = []
            fast.handle(data, got.append, False)
            slow.handle(data, want.append, False)
            assert got == want, data
    assert fast.requests == slow.requests and fast.responses == slow.responses
    assert fast.cache_hits == slow.cache_hits > 0
    assert set(fast.state[1]) == set(slow.state[1])
    assert set(fast.state[2]) == set(slow.state[2])


SEEDS = [
    bytes(DNSRecord.question(name, qtype).pack())
    for name, qtype in [
        ("svc1.testns.svc.cluster.local", "A"),
        ("nope.testns.svc.cluster.local", "AAAA"),
        ("10-244-1-5.testns.pod.cluster.local", "A"),
        ("ns.dns.cluster.local", "MX"),
    ]
] + [
    packets("hostmaster.cluster.local", "A", random.Random(1), [("cookie+do", 1, 0)])[0],
    packets("web.default.svc.cluster.local", "A", random.Random(1), [(1232, 1, 1)])[0],
]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KUBEADM_FAST, KUBEADM_SLOW = servers(KUBEADM_COREFILE)


def same_or_declined(data: bytes) -> None:
    got = fast_reply(KUBEADM_FAST, data)
    if got is not None:
        assert got == slow_reply(KUBEADM_SLOW, data)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.integers(min_value=0), min_size=1, max_size=4))
def test_bit_flips(seed, positions):
    data = bytearray(seed)
    for position in positions:
        bit = position % (len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
    same_or_declined(bytes(data))


LABEL = st.text(alphabet="abcAB019-_*.\x00\xe9", min_size=1, max_size=20)
SUFFIXES = st.sampled_from(
    ["cluster.local", "svc.cluster.local", "testns.svc.cluster.local",
     "svc1.testns.svc.cluster.local", "podns.pod.cluster.local", "dns.cluster.local",
     "shop.pod.CLUSTER.local", "example.com"]
)  # fmt: skip


@FUZZ
@given(st.lists(LABEL, max_size=5), SUFFIXES, st.integers(0, 65535), st.integers(0, 65535))
def test_odd_names_and_flags(labels, suffix, qtype, flags):
    q = DNSRecord.question("x")
    q.q.qname.label = tuple(label.encode("latin-1") for label in labels) + tuple(
        part.encode() for part in suffix.split(".")
    )
    q.q.qtype = qtype
    try:
        data = bytearray(q.pack())
    except Exception:
        return  # a label dnslib will not write (too long)
    data[2:4] = flags.to_bytes(2, "big")
    same_or_declined(bytes(data))


NAMES = ["svc1.testns.svc.cluster.local", "10-244-1-5.testns.pod.cluster.local",
         "nope.testns.svc.cluster.local", "ns.dns.cluster.local"]  # fmt: skip


def test_every_header_bit_query_class_and_opt_field():
    """Each flag bit set alone, other classes, and OPT records with every field odd."""
    taken = 0
    for name in NAMES:
        for qtype in ("A", "AAAA"):
            plain = bytes(DNSRecord.question(name, qtype).pack())
            variants = [plain[:2] + (1 << bit).to_bytes(2, "big") + plain[4:] for bit in range(16)]
            variants += [plain[:-2] + qclass.to_bytes(2, "big") for qclass in (3, 254, 255, 0)]
            for size, ext, version, flags in [
                (0, 0, 0, 0), (511, 0, 0, 0x8000), (513, 1, 0, 0xFFFF), (65535, 255, 0, 0x7FFF),
                (4096, 0, 1, 0), (4096, 0, 255, 0x8000),
            ]:  # fmt: skip
                opt = b"\x00\x00\x29" + struct.pack("!HBBHH", size, ext, version, flags, 0)
                variants.append(plain[:10] + b"\x00\x01" + plain[12:] + opt)
            for data in variants:
                got = fast_reply(KUBEADM_FAST, data)
                if got is not None:
                    taken += 1
                    assert got == slow_reply(KUBEADM_SLOW, data), data
    assert taken > len(NAMES) * 2 * 10


def test_an_unsynced_zone_takes_the_full_path():
    """Before the informers synced, a missing name is SERVFAIL: answer.py's business."""
    zone = ClusterZone.build(*objects())
    zone.synced = False
    data = bytes(DNSRecord.question("svc1.testns.svc.cluster.local").pack())
    assert FastPath(zone).reply(data, wire.question_key(data)[1]) is None
