"""Reading dig's output back, as notebooks do with `Lab.dig`."""

from __future__ import annotations

from lab_kit.lab.dns_view import parse_dig
from lab_kit.lab.packets import PacketRow, PacketTable

DIG = """
; <<>> DiG 9.18.49-1~deb12u3-Debian <<>> shop.default.svc.cluster.local A
;; global options: +cmd
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 8900
;; flags: qr aa rd; QUERY: 1, ANSWER: 3, AUTHORITY: 0, ADDITIONAL: 1
;; WARNING: recursion requested but not available

;; QUESTION SECTION:
;shop.default.svc.cluster.local.	IN A

;; ANSWER SECTION:
shop.default.svc.cluster.local.	30 IN CNAME	www.example.com.
www.example.com.	300	IN	CNAME	example.com.
example.com.		300	IN	A	203.0.113.10

;; ADDITIONAL SECTION:
example.com.		300	IN	A	203.0.113.10

;; Query time: 0 msec
;; SERVER: 10.96.0.10#53(10.96.0.10) (UDP)
"""

NXDOMAIN = """;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1
;; flags: qr aa rd; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1

;; AUTHORITY SECTION:
cluster.local.		30	IN	SOA	ns.dns.cluster.local. hostmaster.cluster.local. 12 7200 1800 86400 30
"""


def test_answers_flags_and_server():
    r = parse_dig(DIG)
    assert (r.status, r.flags, r.server) == (
        "NOERROR",
        ["qr", "aa", "rd"],
        "10.96.0.10#53(10.96.0.10)",
    )
    assert r.records("CNAME") == ["www.example.com.", "example.com."]
    assert r.addresses == ["203.0.113.10"]
    assert r.additional == [("example.com.", 300, "A", "203.0.113.10")]
    assert r.answers[0] == ("shop.default.svc.cluster.local.", 30, "CNAME", "www.example.com.")
    assert str(r).startswith("; <<>> DiG")


def test_negative_answers_carry_the_soa_and_timeouts_are_named():
    r = parse_dig(NXDOMAIN)
    assert r.status == "NXDOMAIN" and not r.answers
    assert r.authority[0][2] == "SOA" and r.authority[0][3].endswith(" 30")
    assert (
        parse_dig(";; communications error\n;; no servers could be reached\n").status == "TIMEOUT"
    )


def test_dns_queries_read_from_a_capture():
    table = PacketTable([
        PacketRow(0.0, "10.244.1.3", 40000, "10.96.0.10", 53, "UDP", 80, "", "A? example.com.default.svc.cluster.local"),
        PacketRow(0.1, "10.96.0.10", 53, "10.244.1.3", 40000, "UDP", 80, "", "NXDOMAIN A? example.com.default.svc.cluster.local"),
        PacketRow(0.2, "10.244.1.3", 40001, "10.96.0.10", 53, "UDP", 80, "", "AAAA? example.com"),
    ])  # fmt: skip
    assert table.dns_queries() == [
        ("A", "example.com.default.svc.cluster.local"),
        ("AAAA", "example.com"),
    ]
