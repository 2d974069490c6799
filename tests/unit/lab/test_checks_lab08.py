"""Lab 08's named checks that read only data (rules, outcomes, a trace, conntrack, metrics):
each passes on what a working lab shows and fails, saying what it saw, on what a broken one
would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab08 import (
    JUMPS,
    check_builtin_jumps,
    check_conntrack_remembers,
    check_equal_outcomes,
    check_kube_services,
    check_sep_chain,
    check_sync_metrics,
    check_traced_packet,
)
from lab_kit.lab.proxy_view import ConntrackEntry, RulesText
from lab_kit.render.proxy_rules import svc_chain

CLUSTER_IP = "10.96.0.20"
# kube-proxy's order is the `ip:port` string's: 10.244.1.10 before 10.244.1.9
ENDPOINTS = sorted(["10.244.1.9", "10.244.1.10", "10.244.2.4", "10.244.3.4"])
CHAIN = svc_chain("default/random-generator", "tcp")


def test_the_builtin_chains_jump_into_kube_proxy_first():
    check_builtin_jumps([*JUMPS, "-A POSTROUTING -j IP-MASQ-AGENT"])
    with pytest.raises(CheckFailed, match="the 3 jumps into kube-proxy's chains, first"):
        check_builtin_jumps(["-A POSTROUTING -j IP-MASQ-AGENT", *JUMPS])
    with pytest.raises(CheckFailed, match=r"then the jump to IP-MASQ-AGENT; saw \[\]"):
        check_builtin_jumps(JUMPS)


def services(cluster_ip: str = CLUSTER_IP) -> list[str]:
    api = svc_chain("default/kubernetes:https", "tcp")
    return [
        f'-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https '
        f'cluster IP" -m tcp --dport 443 -j {api}',
        f'-A KUBE-SERVICES -d {cluster_ip}/32 -p tcp -m comment --comment "default/random-generator'
        f' cluster IP" -m tcp --dport 80 -j {CHAIN}',
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
        'the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    ]


def test_kube_services_has_both_services_and_nodeports_last():
    assert check_kube_services(services(), CLUSTER_IP) == CHAIN
    with pytest.raises(CheckFailed, match="the rule -A KUBE-SERVICES -d 10.96.0.99/32"):
        check_kube_services(services(), "10.96.0.99")
    with pytest.raises(CheckFailed, match="KUBE-NODEPORTS last"):
        check_kube_services(services()[::-1], CLUSTER_IP)


def outcome(fraction: str, dnat_to: str) -> SimpleNamespace:
    return SimpleNamespace(fraction=fraction, dnat_to=dnat_to)


def test_four_equal_outcomes_one_per_pod():
    check_equal_outcomes([outcome("1/4", f"{ip}:8080") for ip in ENDPOINTS], ENDPOINTS)
    uneven = [
        outcome(f, f"{ip}:8080")
        for f, ip in zip(["1/4", "1/3", "1/2", "1"], ENDPOINTS, strict=True)
    ]
    with pytest.raises(CheckFailed, match="4 outcomes of 1/4 each"):
        check_equal_outcomes(uneven, ENDPOINTS)
    with pytest.raises(CheckFailed, match="each to port 8080"):
        check_equal_outcomes([outcome("1/4", f"{ip}:80") for ip in ENDPOINTS], ENDPOINTS)


def nat(first: str, sep: str = "KUBE-SEP-AAAA") -> RulesText:
    return RulesText(
        f'-A {sep} -s {first}/32 -m comment --comment "default/random-generator" -j KUBE-MARK-MASQ\n'
        f'-A {sep} -p tcp -m comment --comment "default/random-generator" -m tcp '
        f"-j DNAT --to-destination {first}:8080\n"
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
    )


def test_the_sep_chain_marks_hairpin_then_dnats():
    first = "10.244.1.10"  # "10.244.1.10:8080" < "10.244.1.9:8080"
    check_sep_chain(nat(first), "KUBE-SEP-AAAA", ENDPOINTS)
    with pytest.raises(CheckFailed, match="first: packets from 10.244.1.10 itself marked"):
        check_sep_chain(nat("10.244.1.9"), "KUBE-SEP-AAAA", ENDPOINTS)


def trace(verdict="ACCEPT", dnat_to=None, snat_to=None) -> SimpleNamespace:
    return SimpleNamespace(verdict=verdict, dnat_to=dnat_to, snat_to=snat_to,
                           summary=lambda: f"{verdict}, DNAT → {dnat_to}")  # fmt: skip


def test_the_traced_packet_takes_the_third_branch_without_snat(capsys):
    check_traced_packet(trace(dnat_to="10.244.2.4:8080"), ENDPOINTS)
    assert capsys.readouterr().out == "✓ ACCEPT, DNAT → 10.244.2.4:8080\n"
    with pytest.raises(CheckFailed, match="DNAT to the 3rd endpoint 10.244.2.4:8080"):
        check_traced_packet(trace(dnat_to="10.244.1.9:8080"), ENDPOINTS)
    with pytest.raises(CheckFailed, match="no SNAT"):
        check_traced_packet(trace(dnat_to="10.244.2.4:8080", snat_to="10.244.1.1"), ENDPOINTS)


def entry(dst: str, reply_src: str) -> ConntrackEntry:
    return ConntrackEntry("tcp", {"src": "10.244.1.5", "dst": dst, "sport": 41000, "dport": 80},
                          {"src": reply_src, "dst": "10.244.1.5", "sport": 8080, "dport": 41000})  # fmt: skip


def test_conntrack_remembers_the_chosen_endpoint():
    check_conntrack_remembers([entry(CLUSTER_IP, "10.244.3.4")], CLUSTER_IP, "10.244.3.4:8080")
    with pytest.raises(CheckFailed, match="the reply from 10.244.3.4:8080; saw '10.244.2.4:8080'"):
        check_conntrack_remembers([entry(CLUSTER_IP, "10.244.2.4")], CLUSTER_IP, "10.244.3.4:8080")
    with pytest.raises(CheckFailed, match="one conntrack entry; saw 2"):
        check_conntrack_remembers([entry(CLUSTER_IP, "10.244.3.4")] * 2, CLUSTER_IP,
                                  "10.244.3.4:8080")  # fmt: skip


def test_kube_proxy_synced_often_and_fast(capsys):
    count = "kubeproxy_sync_proxy_rules_duration_seconds_count"
    total = "kubeproxy_sync_proxy_rules_duration_seconds_sum"
    check_sync_metrics({count: 12, total: 0.06})
    assert capsys.readouterr().out == "✓ 12 syncs on node1, 5.0 ms each on average\n"
    with pytest.raises(CheckFailed, match="at least 3 syncs; saw 2"):
        check_sync_metrics({count: 2, total: 0.01})
    with pytest.raises(CheckFailed, match=r"under 1000 ms per sync on average; saw 1500.0"):
        check_sync_metrics({count: 4, total: 6.0})
