"""Lab 12's named checks over data (kube-proxy's rules, answers per node, SYNs at the pods,
captures, a conntrack entry): each passes on what a working lab shows and fails, saying what
it saw, on what a broken one would."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab12 import (
    CLIENT_IP,
    check_every_node_serves,
    check_local_answers_only_at_home,
    check_node_gone,
    check_nodeport_chain,
    check_open_again,
    check_pods_see_nodes,
    check_port_allowed,
    check_rewritten_on_node2,
)
from lab_kit.lab.packets import PacketRow, PacketTable
from lab_kit.lab.proxy_view import ConntrackEntry, ConntrackTable, RulesText

EXT, SVC = "KUBE-EXT-FLNJ4FGQ5UX5NSDC", "KUBE-SVC-FLNJ4FGQ5UX5NSDC"
RULES = f"""*nat
-A KUBE-NODEPORTS -m comment --comment "default/random-generator" -m tcp -p tcp --dport 32766 -j {EXT}
-A {EXT} -m comment --comment "masquerade traffic for default/random-generator external destinations" -j KUBE-MARK-MASQ
-A {EXT} -j {SVC}
COMMIT"""
PLACED = {"rg-a": "node1", "rg-b": "node2", "rg-c": "node3", "rg-d": "node3"}


def syn(src: str, dst: str, dport: int, sport: int = 40000, flags: str = "S") -> PacketRow:
    return PacketRow(0.0, src, sport, dst, dport, "TCP", 60, flags)


def capture(*rows: PacketRow) -> SimpleNamespace:
    return SimpleNamespace(packets=lambda: PacketTable(rows))


def test_the_nodeport_chain_masquerades_then_picks_a_pod(capsys):
    assert check_nodeport_chain(RulesText(RULES)) == EXT
    assert capsys.readouterr().out.startswith("✓ KUBE-NODEPORTS --dport 32766 -> KUBE-EXT-")
    with pytest.raises(CheckFailed, match="first marks for masquerade"):
        check_nodeport_chain(RulesText(RULES.replace(" -j KUBE-MARK-MASQ", " -j ACCEPT")))
    with pytest.raises(CheckFailed, match="a KUBE-NODEPORTS rule for --dport 32766"):
        check_nodeport_chain(RulesText(RULES.replace("32766", "30080")))


def test_every_node_serves_and_some_requests_hop():
    served = {"node1": Counter({"rg-a": 2, "rg-b": 2, "rg-c": 4}),
              "node2": Counter({"rg-b": 3, "rg-d": 5}),
              "node3": Counter({"rg-c": 4, "rg-d": 4})}  # fmt: skip
    assert check_every_node_serves(served, PLACED) == 2 + 4 + 5
    home = {"node1": Counter({"rg-a": 8}), "node2": Counter({"rg-b": 8}),
            "node3": Counter({"rg-c": 4, "rg-d": 4})}  # fmt: skip
    with pytest.raises(CheckFailed, match="some requests went on to a pod on another node; saw 0"):
        check_every_node_serves(home, PLACED)
    with pytest.raises(CheckFailed, match="node2: 8 answers, each from a known pod"):
        check_every_node_serves({**served, "node2": Counter({"rg-b": 3, "ERR": 5})}, PLACED)


def test_the_pods_see_only_nodes():
    seen = Counter({("rg-a", "node1", "10.244.1.1"): 4, ("rg-b", "node2", "172.18.0.2"): 4,
                    ("rg-c", "node3", "172.18.0.3"): 4})  # fmt: skip
    assert check_pods_see_nodes(seen) == 8
    with pytest.raises(CheckFailed, match=f"none from the client {CLIENT_IP}"):
        check_pods_see_nodes(Counter({**seen, ("rg-a", "node1", "10.244.1.1"): 3,
                                      ("rg-a", "node1", CLIENT_IP): 1}))  # fmt: skip
    with pytest.raises(CheckFailed, match="rg-c on node3: from 10.244.3.1 or another node's"):
        check_pods_see_nodes(Counter({**seen, ("rg-c", "node3", "172.18.0.3"): 0,
                                      ("rg-c", "node3", "172.18.0.4"): 4}))  # fmt: skip


def test_one_connection_rewritten_twice_on_node2():
    at_client = capture(syn(CLIENT_IP, "172.18.0.3", 32766, sport=41000))
    at_pod = capture(syn("172.18.0.3", "10.244.1.5", 8080, sport=52000))
    both = ConntrackEntry("tcp", {"src": CLIENT_IP, "dst": "172.18.0.3", "dport": "32766"},
                          {"src": "10.244.1.5", "sport": "8080", "dst": "172.18.0.3"})  # fmt: skip
    lab = SimpleNamespace(conntrack=lambda *a: ConntrackTable([both]))
    check_rewritten_on_node2(lab, at_client, at_pod, "rg-a")
    only_dnat = ConntrackEntry("tcp", both.original, {**both.reply, "dst": CLIENT_IP})
    lab = SimpleNamespace(conntrack=lambda *a: ConntrackTable([only_dnat]))
    with pytest.raises(CheckFailed, match="both rewrites"):
        check_rewritten_on_node2(lab, at_client, at_pod, "rg-a")
    unmasqueraded = capture(syn(CLIENT_IP, "10.244.1.5", 8080))
    with pytest.raises(CheckFailed, match="the pod's SYN from node2"):
        check_rewritten_on_node2(lab, at_client, unmasqueraded, "rg-a")


def test_local_answers_at_home_and_drops_elsewhere():
    results = {"node1": 28, "node2": 0, "node3": 28}
    at_pod = capture(syn(CLIENT_IP, "10.244.2.4", 8080))
    tries = [syn(CLIENT_IP, ip, 32766, sport=port) for ip in ("172.18.0.2", "172.18.0.4")
             for port in (40001, 40001)]  # fmt: skip
    answered = [
        syn(CLIENT_IP, "172.18.0.3", 32766),
        syn("172.18.0.3", CLIENT_IP, 40000, 32766, "SA"),
    ]
    at_client = capture(*tries, *answered)
    check_local_answers_only_at_home(results, at_pod, at_client, "node2", ["node1", "node3"])
    with pytest.raises(CheckFailed, match=f"the pod sees the client's own {CLIENT_IP}; saw '172"):
        check_local_answers_only_at_home(results, capture(syn("172.18.0.3", "10.244.2.4", 8080)),
                                         at_client, "node2", ["node1", "node3"])  # fmt: skip
    refused = capture(*tries, *answered, syn("172.18.0.4", CLIENT_IP, 40001, 32766, "RA"))
    with pytest.raises(CheckFailed, match="nothing back from node3"):
        check_local_answers_only_at_home(results, at_pod, refused, "node2", ["node1", "node3"])


def test_a_gone_node_answers_nothing_and_takes_some_requests_with_it():
    after = {"node3": ["ERR"] * 10, "node1": ["rg-a", "ERR", "rg-b"] + ["rg-a"] * 7,
             "node2": ["rg-b"] * 9 + ["ERR"]}  # fmt: skip
    check_node_gone(after, PLACED, "node3")
    with pytest.raises(CheckFailed, match="some requests through node1, node2 lost"):
        check_node_gone({**after, "node1": ["rg-a"] * 10, "node2": ["rg-b"] * 10}, PLACED, "node3")
    with pytest.raises(CheckFailed, match=r"only pods on node1, node2 answer; saw \['rg-c'\]"):
        check_node_gone({**after, "node2": ["rg-c"] + ["ERR"] * 9}, PLACED, "node3")


def test_the_firewall_allows_one_port_then_opens_all():
    lab = SimpleNamespace(firewall=lambda action="list": "Firewall on; allow tcp:32766")
    check_port_allowed(lab, ["{}"] * 3)
    with pytest.raises(CheckFailed, match="every request answered"):
        check_port_allowed(lab, ["{}", "ERR", "{}"])
    check_open_again(['{"id": "x"}'])
    with pytest.raises(CheckFailed, match="an answer with the firewall off"):
        check_open_again(["ERR"])
