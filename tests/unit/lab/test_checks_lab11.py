"""Lab 11's named checks over data (dig answers, getent, packets, curl's request): each passes
on what a working lab shows and fails, saying what it saw, on what a broken one would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab11 import (
    SHOP,
    check_cname_and_getent,
    check_cname_chain,
    check_forwarded_upstream,
    check_host_header,
    check_ip_is_not_a_name,
    check_moved,
    check_straight_to_outside,
)
from lab_kit.lab.dns_view import DigResult, parse_dig
from lab_kit.lab.packets import PacketRow, PacketTable

TOOLBOX = "10.244.1.5"
WORLD = ["www.example.com.\t30\tIN\tCNAME\texample.com.", "example.com.\t30\tIN\tA\t203.0.113.10"]
SOA = "cluster.local.\t30\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30"


def dig(answers: list[str] = (), status: str = "NOERROR", flags: str = "qr aa rd",
        authority: list[str] = ()) -> DigResult:  # fmt: skip
    text = (f";; ->>HEADER<<- opcode: QUERY, status: {status}, id: 1\n;; flags: {flags}; "
            "QUERY: 1\n\n")  # fmt: skip
    if answers:
        text += ";; ANSWER SECTION:\n" + "\n".join(answers) + "\n\n"
    if authority:
        text += ";; AUTHORITY SECTION:\n" + "\n".join(authority) + "\n\n"
    return parse_dig(text + ";; SERVER: 10.96.0.10#53(10.96.0.10) (UDP)\n")


def test_the_world_is_relayed_with_clamped_ttls():
    check_forwarded_upstream(dig(WORLD, flags="qr rd ra"))
    with pytest.raises(CheckFailed, match="no aa: relayed from the upstream resolver"):
        check_forwarded_upstream(dig(WORLD, flags="qr aa rd ra"))
    with pytest.raises(CheckFailed, match=r"TTLs clamped to 30; saw \[300, 300\]"):
        check_forwarded_upstream(
            dig([r.replace("\t30\t", "\t300\t") for r in WORLD], flags="qr rd ra")
        )


def test_shop_answers_with_the_whole_chain():
    check_cname_chain(dig([f"{SHOP}.\t30\tIN\tCNAME\twww.example.com.", *WORLD]))
    with pytest.raises(CheckFailed, match="the chain"):
        check_cname_chain(dig([f"{SHOP}.\t30\tIN\tCNAME\twww.example.com."]))
    with pytest.raises(
        CheckFailed, match="the cluster's own record with the Corefile's ttl 30; saw 5"
    ):
        check_cname_chain(dig([f"{SHOP}.\t5\tIN\tCNAME\twww.example.com.", *WORLD]))


def test_a_cname_query_and_getent():
    cname = dig([f"{SHOP}.\t30\tIN\tCNAME\twww.example.com."])
    hosts = SimpleNamespace(stdout=f"203.0.113.10    example.com www.example.com {SHOP}\n")
    check_cname_and_getent(cname, hosts)
    with pytest.raises(CheckFailed, match="one CNAME record to www.example.com., TTL 30"):
        check_cname_and_getent(dig([f"{SHOP}.\t30\tIN\tCNAME\twww.example.com.", *WORLD]), hosts)
    with pytest.raises(CheckFailed, match="the canonical name example.com; saw 'shop'"):
        check_cname_and_getent(cname, SimpleNamespace(stdout="203.0.113.10 shop\n"))


CHAIN = (f"CNAME {SHOP}. -> www.example.com.; CNAME www.example.com. -> example.com.; "
         "A example.com. -> 203.0.113.10")  # fmt: skip


def row(src, sport, dst, dport, protocol="TCP", flags="", summary="") -> PacketRow:
    return PacketRow(0.0, src, sport, dst, dport, protocol, 80, flags, summary)


def capture(dst: str = "203.0.113.10") -> PacketTable:
    return PacketTable([
        row(TOOLBOX, 40000, "10.96.0.10", 53, "UDP", summary=f"A? {SHOP}."),
        row(TOOLBOX, 40001, "10.96.0.10", 53, "UDP", summary=f"AAAA? {SHOP}."),
        row("10.96.0.10", 53, TOOLBOX, 40000, "UDP", summary=CHAIN),
        row(TOOLBOX, 50000, dst, 80, flags="S"),
    ])  # fmt: skip


def test_the_client_connects_straight_to_the_outside_address():
    reply = SimpleNamespace(returncode=0, stdout="lab-host\n")
    check_straight_to_outside(reply, capture(), TOOLBOX)
    with pytest.raises(CheckFailed, match="from the pod straight to 203.0.113.10:80"):
        check_straight_to_outside(reply, capture("10.96.0.44"), TOOLBOX)
    with pytest.raises(CheckFailed, match="the answer CNAME"):
        check_straight_to_outside(
            reply, PacketTable(r for r in capture() if r.sport != 53), TOOLBOX
        )


def test_the_request_names_shop():
    sent = ["> GET /hostname HTTP/1.1", "> Host: shop", "> User-Agent: curl/7.88.1"]
    check_host_header(SimpleNamespace(returncode=0), sent)
    with pytest.raises(CheckFailed, match="> Host: shop"):
        check_host_header(SimpleNamespace(returncode=0), [sent[0], "> Host: www.example.com"])


def test_the_moved_target():
    check_moved(
        dig(
            [f"{SHOP}.\t30\tIN\tCNAME\tdb.example.net.", "db.example.net.\t30\tIN\tA\t203.0.113.10"]
        )
    )
    with pytest.raises(CheckFailed, match="the chain"):
        check_moved(dig([f"{SHOP}.\t30\tIN\tCNAME\twww.example.com.", *WORLD]))


class FakeLab:
    def __init__(self, external_name: str):
        self.service = {"spec": {"type": "ExternalName", "externalName": external_name}}

    def get(self, kind: str, *args, **kwargs) -> dict:
        return self.service


def test_an_ip_as_external_name_is_nxdomain():
    search = [f"{SHOP}.", "shop.svc.cluster.local.", "shop.cluster.local.", "shop."]
    packets = PacketTable(
        [
            row(TOOLBOX, 40000 + i, "10.96.0.10", 53, "UDP", summary=f"A? {n}")
            for i, n in enumerate(search)
        ]
        + [row("10.96.0.10", 53, TOOLBOX, 40000, "UDP", summary=f"NXDOMAIN A? {SHOP}.")]
    )
    failed = SimpleNamespace(returncode=6, stderr="curl: (6) Could not resolve host: shop\n")
    check_ip_is_not_a_name(
        FakeLab("203.0.113.10"), dig(status="NXDOMAIN", authority=[SOA]), failed, packets
    )
    with pytest.raises(CheckFailed, match="NXDOMAIN; saw 'NOERROR'"):
        check_ip_is_not_a_name(FakeLab("203.0.113.10"), dig(WORLD), failed, packets)
    with pytest.raises(CheckFailed, match="A queries down the search list"):
        check_ip_is_not_a_name(FakeLab("203.0.113.10"), dig(status="NXDOMAIN", authority=[SOA]),
                               failed, PacketTable(packets[:1]))  # fmt: skip
