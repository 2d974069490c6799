"""Nothing a client sends may crash the server: random bytes, mutated queries, odd names.

After every input, a plain valid query must still get its right answer (the zone is
never changed by answering)."""

from __future__ import annotations

import struct

from dns_objects import coredns_fixture, query
from dnslib import QTYPE, RCODE, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab_kit.render.dns import ClusterZone, answer, parse_query, truncate_for_udp

ZONE = ClusterZone.build(*coredns_fixture(), ttl=5)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEEDS = [
    query("svc1.testns.svc.cluster.local.").pack(),
    query("_http._tcp.hdls1.testns.svc.cluster.local.", "SRV", edns=1232, do=True).pack(),
    query("external.testns.svc.cluster.local.", "CNAME").pack(),
    query("1.0.0.172.in-addr.arpa.", "PTR", edns=512).pack(),
    query("example.com.", "AAAA").pack(),
]


def still_answers() -> None:
    reply = answer(ZONE, query("SVC1.testns.svc.cluster.local.")).reply
    assert [(str(r.rname), r.rdata.toZone()) for r in reply.rr] == [
        ("SVC1.testns.svc.cluster.local.", "10.0.0.1")
    ]


def survive(data: bytes) -> None:
    """parse_query, answer, pack and truncate without raising; replies are replies."""
    parsed = parse_query(data)
    assert parsed is None or isinstance(parsed, (bytes, DNSRecord))
    if isinstance(parsed, bytes):
        error = DNSRecord.parse(parsed)
        assert error.header.qr == 1 and error.header.id == struct.unpack("!H", data[:2])[0]
    result = answer(ZONE, data)
    packed = result.pack()
    if result.forward:
        assert packed is None and isinstance(parsed, DNSRecord)
    elif packed is not None:
        reply = DNSRecord.parse(packed)
        assert reply.header.qr == 1 and reply.header.id == struct.unpack("!H", data[:2])[0]
        # The zone is synced: a SERVFAIL could only come from answer()'s safety net.
        assert reply.header.rcode != RCODE.SERVFAIL
        assert len(truncate_for_udp(packed)) <= max(512, len(packed))
    still_answers()


@FUZZ
@given(st.binary(max_size=700))
def test_random_bytes(data):
    survive(data)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.integers(min_value=0), min_size=1, max_size=8))
def test_bit_flips(seed, positions):
    data = bytearray(seed)
    for position in positions:
        bit = position % (len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
    survive(bytes(data))


def test_truncation_at_every_length():
    for seed in SEEDS:
        for length in range(len(seed) + 1):
            survive(seed[:length])


@FUZZ
@given(st.sampled_from(SEEDS), st.tuples(*[st.integers(0, 65535)] * 4))
def test_wrong_counts(seed, counts):
    survive(seed[:4] + struct.pack("!4H", *counts) + seed[12:])


@FUZZ
@given(st.sampled_from(SEEDS), st.binary(min_size=1, max_size=300))
def test_trailing_garbage(seed, tail):
    survive(seed + tail)


LABEL = st.text(alphabet="abcAB019-_*.", min_size=1, max_size=20).filter(lambda s: "." not in s)
QTYPES = st.sampled_from(
    ["A", "AAAA", "SRV", "PTR", "TXT", "CNAME", "SOA", "NS", "MX", "ANY", "AXFR", "HINFO"]
)
SUFFIXES = st.sampled_from(
    [
        "cluster.local",
        "svc.cluster.local",
        "testns.svc.cluster.local",
        "hdls1.testns.svc.cluster.local",
        "podns.pod.cluster.local",
        "in-addr.arpa",
        "0.0.172.in-addr.arpa",
        "example.com",
    ]
)


@FUZZ
@given(st.lists(LABEL, max_size=5), SUFFIXES, QTYPES)
def test_odd_names_get_well_formed_answers(labels, suffix, qtype):
    name = ".".join([*labels, suffix])
    q = DNSRecord.question(name, qtype)
    result = answer(ZONE, q)
    if result.forward:
        assert not name.endswith("cluster.local")
    elif qtype == "AXFR":  # no `transfer` plugin: the kubernetes plugin refuses it
        assert (result.rcode, result.reply.header.aa, result.reply.rr) == (RCODE.REFUSED, 0, [])
    else:
        assert result.rcode in (0, 3)  # NOERROR (data or NODATA) or NXDOMAIN, never SERVFAIL
        reply = DNSRecord.parse(result.pack())
        assert reply.q == q.q and reply.header.aa == 1
        if not reply.rr:
            assert [QTYPE[r.rtype] for r in reply.auth] == ["SOA"]
    survive(q.pack())
