"""The made-up internet's resolver: records, CNAME chains, NXDOMAIN vs NODATA, bad input."""

from __future__ import annotations

import random

from dns_objects import query
from dnslib import QTYPE, RCODE, DNSRecord

from lab_kit.render.dns.world import WorldZone

ZONE = """$ORIGIN .
$TTL 300
. IN SOA ns.internet. hostmaster.internet. 1 7200 1800 86400 300
example.com. IN A 203.0.113.10
www.example.com. IN CNAME example.com.
loop.example.com. IN CNAME loop.example.com.
"""


def ask(world: WorldZone, name: str, qtype: str = "A", **kw) -> DNSRecord:
    return DNSRecord.parse(world.answer(bytes(query(name, qtype, **kw).pack())))


def test_a_record_follows_cnames_like_a_recursive_resolver():
    reply = ask(WorldZone(ZONE), "WWW.example.com")
    assert [str(r.rdata) for r in reply.rr] == ["example.com.", "203.0.113.10"]
    assert (reply.header.rcode, reply.header.ra, reply.header.aa) == (RCODE.NOERROR, 1, 0)


def test_unknown_names_are_nxdomain_known_ones_without_the_type_nodata():
    world = WorldZone(ZONE)
    missing, nodata, parent = (
        ask(world, "nope.example.com"),
        ask(world, "example.com", "AAAA"),
        ask(world, "com"),
    )
    assert missing.header.rcode == RCODE.NXDOMAIN and missing.auth[0].rtype == QTYPE.SOA
    assert (
        nodata.header.rcode == RCODE.NOERROR and not nodata.rr and nodata.auth[0].rtype == QTYPE.SOA
    )
    assert (
        parent.header.rcode == RCODE.NOERROR and not parent.rr
    )  # "com." exists: it has names below


def test_edns_is_echoed_and_cname_loops_end():
    world = WorldZone(ZONE)
    reply = ask(world, "loop.example.com", edns=1232)
    assert reply.header.rcode == RCODE.NOERROR and len(reply.rr) == 8
    assert [r.rtype for r in reply.ar] == [QTYPE.OPT]


def test_the_lab_world_zone_loads_and_has_the_internet_host():
    reply = ask(WorldZone.default(), "example.com")
    assert [str(r.rdata) for r in reply.rr] == ["203.0.113.10"]


def test_bad_input_never_raises():
    world, rng = WorldZone(ZONE), random.Random(5)
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        out = world.answer(data)
        assert out is None or isinstance(out, bytes)
    assert ask(world, "example.com").rr
