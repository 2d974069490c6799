"""The cache plugin's TTLs (CoreDNS plugin/cache computeTTL, dnsutil.MinimalTTL)."""

from __future__ import annotations

from dnslib import QTYPE, RCODE, RR, SOA, A, DNSRecord

from lab_kit.render.dns.cache import cache_ttl, reply_ttl, set_ttls


def reply(*records, rcode=RCODE.NOERROR, auth=()):
    r = DNSRecord.question("example.com").reply()
    r.header.rcode = rcode
    for rec in records:
        r.add_answer(rec)
    for rec in auth:
        r.add_auth(rec)
    return r


SOA_RR = RR(
    ".",
    QTYPE.SOA,
    ttl=300,
    rdata=SOA("ns.internet.", "hostmaster.internet.", (1, 7200, 1800, 86400, 60)),
)


def test_positive_replies_take_their_smallest_ttl_clamped_to_5_30():
    assert cache_ttl(reply(RR("example.com", rdata=A("203.0.113.10"), ttl=300)), 30) == 30
    assert cache_ttl(reply(RR("example.com", rdata=A("203.0.113.10"), ttl=7)), 30) == 7
    assert cache_ttl(reply(RR("example.com", rdata=A("203.0.113.10"), ttl=0)), 30) == 5


def test_negative_replies_take_the_soa_minimum_and_servfail_five_seconds():
    assert reply_ttl(reply(rcode=RCODE.NXDOMAIN, auth=[SOA_RR])) == 60
    assert cache_ttl(reply(rcode=RCODE.NXDOMAIN, auth=[SOA_RR]), 30) == 30
    assert cache_ttl(reply(rcode=RCODE.SERVFAIL), 30) == 5


def test_every_record_leaves_with_the_same_ttl():
    r = reply(
        RR("a", rdata=A("192.0.2.1"), ttl=300), RR("b", rdata=A("192.0.2.2"), ttl=20), auth=[SOA_RR]
    )
    set_ttls(r, cache_ttl(r, 30))
    assert [x.ttl for x in r.rr + r.auth] == [20, 20, 20]
