"""Lab 10's named checks over data (a Service's spec, dig answers, packets, a pod's names):
each passes on what a working lab shows and fails, saying what it saw, on what a broken one
would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab10 import (
    check_a_records_are_the_pods,
    check_clusterip_srv,
    check_gone_from_dns,
    check_headless_spec,
    check_knows_itself,
    check_one_virtual_ip,
    check_same_pod_every_time,
    check_shuffled,
    check_srv_per_pod,
    check_straight_to_a_pod,
)
from lab_kit.lab.dns_view import DigResult, parse_dig
from lab_kit.lab.packets import PacketRow, PacketTable

FQDN = "random-generator-headless.default.svc.cluster.local"
PODS = ["10.244.1.4", "10.244.2.4", "10.244.3.4", "10.244.3.5"]
CLUSTER_IP = "10.96.0.20"


def dig(status: str = "NOERROR", answers: list[str] = (), additional: list[str] = (),
        authority: list[str] = (), flags: str = "qr aa rd") -> DigResult:  # fmt: skip
    text = (f";; ->>HEADER<<- opcode: QUERY, status: {status}, id: 1\n"
            f";; flags: {flags}; QUERY: 1, ANSWER: {len(answers)}, AUTHORITY: 0\n\n")  # fmt: skip
    for title, lines in (("ANSWER", answers), ("AUTHORITY", authority), ("ADDITIONAL", additional)):
        if lines:
            text += f";; {title} SECTION:\n" + "\n".join(lines) + "\n\n"
    return parse_dig(text + ";; SERVER: 10.96.0.10#53(10.96.0.10) (UDP)\n")


def test_the_headless_spec_has_no_address():
    spec = {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}]}  # fmt: skip
    check_headless_spec(spec, CLUSTER_IP, PODS)
    with pytest.raises(
        CheckFailed, match=r"type ClusterIP with clusterIP None; saw \('ClusterIP', '10.96.0.9'\)"
    ):
        check_headless_spec({**spec, "clusterIP": "10.96.0.9"}, CLUSTER_IP, PODS)
    with pytest.raises(CheckFailed, match="one port named http"):
        check_headless_spec({**spec, "ports": [{"port": 8080}]}, CLUSTER_IP, PODS)


def a_records(ips: list[str], name: str = FQDN, ttl: int = 30) -> list[str]:
    return [f"{name}.\t{ttl}\tIN\tA\t{ip}" for ip in ips]


def test_the_headless_name_answers_with_the_pods():
    check_a_records_are_the_pods(dig(answers=a_records(PODS[::-1])), PODS, FQDN)
    with pytest.raises(CheckFailed, match="exactly the pods' addresses"):
        check_a_records_are_the_pods(dig(answers=a_records(PODS[:3])), PODS, FQDN)
    with pytest.raises(CheckFailed, match="authoritative"):
        check_a_records_are_the_pods(dig(answers=a_records(PODS), flags="qr rd"), PODS, FQDN)
    with pytest.raises(CheckFailed, match="only A records for .*, TTL 30"):
        check_a_records_are_the_pods(dig(answers=a_records(PODS, ttl=5)), PODS, FQDN)


def test_answers_are_shuffled():
    orders = [PODS, PODS[::-1], PODS[1:] + PODS[:1]]
    check_shuffled(". {\n    loadbalance\n}", orders, PODS)
    with pytest.raises(CheckFailed, match="the loadbalance plugin"):
        check_shuffled(". {\n    cache 30\n}", orders, PODS)
    with pytest.raises(CheckFailed, match="more than one order; saw 1"):
        check_shuffled("loadbalance", [PODS] * 40, PODS)
    with pytest.raises(CheckFailed, match="always the four addresses"):
        check_shuffled("loadbalance", [*orders, PODS[:3]], PODS)


def test_a_clusterip_name_is_one_virtual_ip():
    name = "random-generator.default.svc.cluster.local"
    check_one_virtual_ip(dig(answers=a_records([CLUSTER_IP], name)), CLUSTER_IP, PODS)
    with pytest.raises(CheckFailed, match="one A record 10.96.0.20, TTL 30"):
        check_one_virtual_ip(dig(answers=a_records(PODS, name)), CLUSTER_IP, PODS)


def test_a_connection_straight_to_a_pod():
    reply = SimpleNamespace(returncode=0, stdout='{"random": 4, "id": "x"}')
    rows = [PacketRow(0.0, "10.244.1.9", 40000, PODS[1], 8080, "TCP", 74, "S"),
            PacketRow(0.1, PODS[1], 8080, "10.244.1.9", 40000, "TCP", 74, "SA")]  # fmt: skip
    check_straight_to_a_pod(reply, PacketTable(rows), PODS)
    rewritten = [rows[0], PacketRow(0.1, CLUSTER_IP, 8080, "10.244.1.9", 40000, "TCP", 74, "SA")]
    with pytest.raises(CheckFailed, match="answered by 10.244.2.4 itself"):
        check_straight_to_a_pod(reply, PacketTable(rewritten), PODS)
    with pytest.raises(CheckFailed, match="one SYN; saw 0"):
        check_straight_to_a_pod(reply, PacketTable(rows[1:]), PODS)


def srv_answer(ips: list[str], weight: int = 25) -> DigResult:
    targets = {ip: f"{ip.replace('.', '-')}.{FQDN}" for ip in ips}
    return dig(answers=[f"_http._tcp.{FQDN}.\t30\tIN\tSRV\t0 {weight} 8080 {t}." for t in targets.values()],
               additional=[f"{t}.\t30\tIN\tA\t{ip}" for ip, t in targets.items()])  # fmt: skip


def test_one_srv_record_per_pod_with_its_a_record():
    check_srv_per_pod(srv_answer(PODS), PODS, FQDN)
    with pytest.raises(CheckFailed, match="the SRV records"):
        check_srv_per_pod(srv_answer(PODS, weight=100), PODS, FQDN)
    no_additional = dig(
        answers=[str(srv_answer(PODS)).split(";; ANSWER SECTION:\n")[1].split("\n\n")[0]]
    )
    with pytest.raises(CheckFailed, match="an ADDITIONAL section"):
        check_srv_per_pod(no_additional, PODS, FQDN)


def test_a_named_clusterip_port_has_one_srv_record():
    name = "random-generator.default.svc.cluster.local"
    good = dig(answers=[f"_http._tcp.{name}.\t30\tIN\tSRV\t0 100 80 {name}."],
               additional=a_records([CLUSTER_IP], name))  # fmt: skip
    check_clusterip_srv(good, CLUSTER_IP)
    wrong_port = dig(answers=[f"_http._tcp.{name}.\t30\tIN\tSRV\t0 100 8080 {name}."],
                     additional=a_records([CLUSTER_IP], name))  # fmt: skip
    with pytest.raises(CheckFailed, match="one SRV record, .* port 80"):
        check_clusterip_srv(wrong_port, CLUSTER_IP)


def out(text: str) -> SimpleNamespace:
    return SimpleNamespace(stdout=text)


def test_the_pod_knows_its_own_name():
    hosts = "127.0.0.1\tlocalhost\n10.244.2.7\tpet-0.pets.default.svc.cluster.local\tpet-0\n"
    check_knows_itself(out("pet-0\n"), out("pet-0.pets.default.svc.cluster.local\n"), out(hosts),
                       "10.244.2.7")  # fmt: skip
    with pytest.raises(CheckFailed, match="hostname -f: pet-0.pets.default.svc.cluster.local"):
        check_knows_itself(out("pet-0\n"), out("pet-0\n"), out(hosts), "10.244.2.7")
    with pytest.raises(CheckFailed, match="the /etc/hosts line"):
        check_knows_itself(out("pet-0\n"), out("pet-0.pets.default.svc.cluster.local\n"),
                           out("127.0.0.1\tlocalhost\n"), "10.244.2.7")  # fmt: skip


def test_the_same_pod_every_time():
    check_same_pod_every_time(["pet-1"] * 5, "pet-1", requests=5)
    with pytest.raises(CheckFailed, match="pet-1, 5 times"):
        check_same_pod_every_time(["pet-1"] * 4 + ["pet-0"], "pet-1", requests=5)
    with pytest.raises(CheckFailed, match="pet-1, 5 times"):
        check_same_pod_every_time(["pet-1"] * 4, "pet-1", requests=5)


class FakeLab:
    def __init__(self, pods: list[str]):
        self.pods = [{"metadata": {"name": n}} for n in pods]

    def get(self, kind: str, *args, **kwargs) -> list[dict]:
        return self.pods


def test_deleted_pods_leave_dns():
    pets = {"pet-0": "10.244.2.7", "pet-1": "10.244.3.7", "pet-2": "10.244.1.7"}
    soa = [
        "cluster.local.\t30\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30"
    ]
    gone, empty = dig("NXDOMAIN", authority=soa), dig("NXDOMAIN", authority=soa)
    left = dig(answers=a_records([pets["pet-0"]], "pets.default.svc.cluster.local"))
    check_gone_from_dns(FakeLab(["pet-2"]), gone, left, empty, pets)
    with pytest.raises(CheckFailed, match="the zone's SOA in the negative answer"):
        check_gone_from_dns(FakeLab(["pet-2"]), gone, left, dig("NXDOMAIN"), pets)
    with pytest.raises(CheckFailed, match=r"pets: NXDOMAIN; saw 'NOERROR'"):
        check_gone_from_dns(FakeLab(["pet-2"]), gone, left, left, pets)
