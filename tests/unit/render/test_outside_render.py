"""The router's NodePort firewall as iptables-restore text, port spellings, and the
commands that take a node off the network."""

from __future__ import annotations

import pytest

from lab_kit.render import outside
from lab_kit.render.outside import FirewallState, PortRule, parse_port


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("30080", PortRule("tcp", 30080, 30080)),
        ("30080/tcp", PortRule("tcp", 30080, 30080)),
        ("30053/UDP", PortRule("udp", 30053, 30053)),
        ("tcp:30080", PortRule("tcp", 30080, 30080)),
        ("30000-30100/tcp", PortRule("tcp", 30000, 30100)),
    ],
)
def test_ports_are_spelled_as_users_and_gcloud_spell_them(text, rule):
    assert parse_port(text) == rule


@pytest.mark.parametrize("text", ["", "http", "30080/icmp", "tcp:30080/udp", "0", "70000",
                                  "30100-30000"])  # fmt: skip
def test_a_port_that_is_not_one_says_what_is_accepted(text):
    with pytest.raises(ValueError, match="invalid"):
        parse_port(text)


def test_gcloud_spelling_round_trips():
    assert str(parse_port("30080")) == "tcp:30080"
    assert str(parse_port("30000-30100/udp")) == "udp:30000-30100"


def test_off_renders_an_empty_chain():
    assert outside.firewall_restore(FirewallState(), ["198.51.100.10"]) == (
        "*filter\n:LAB-FIREWALL - [0:0]\nCOMMIT\n"
    )


def test_on_drops_the_node_port_range_except_allowed_ports_and_the_load_balancer():
    state = FirewallState(True).allow(parse_port("30080")).allow(parse_port("30053/udp"))
    lines = outside.firewall_restore(state, ["198.51.100.10"]).splitlines()
    assert lines[:2] == ["*filter", ":LAB-FIREWALL - [0:0]"]
    body = lines[2:-1]
    assert body[0].startswith("-A LAB-FIREWALL -s 198.51.100.10/32 ")
    assert body[0].endswith("-j RETURN")
    accepts = [line for line in body if line.endswith("-j ACCEPT")]
    assert accepts == [
        '-A LAB-FIREWALL -p tcp -m tcp --dport 30080 -m comment --comment "allow tcp:30080" '
        "-j ACCEPT",
        '-A LAB-FIREWALL -p udp -m udp --dport 30053 -m comment --comment "allow udp:30053" '
        "-j ACCEPT",
    ]
    drops = [line for line in body if line.endswith("-j DROP")]
    assert [d.split()[3] for d in drops] == ["tcp", "udp", "sctp"]
    assert all("--dport 30000:32767" in d for d in drops)
    assert body.index(accepts[-1]) < body.index(drops[0])  # first match wins
    assert lines[-1] == "COMMIT"


def test_allow_and_deny_keep_one_sorted_rule_each():
    state = FirewallState(True).allow(parse_port("30081")).allow(parse_port("30080"))
    state = state.allow(parse_port("tcp:30080"))
    assert [str(r) for r in state.allowed] == ["tcp:30080", "tcp:30081"]
    assert [str(r) for r in state.deny(parse_port("30081")).allowed] == ["tcp:30080"]
    assert FirewallState.from_json(state.to_json()) == state


def test_the_jump_takes_only_outside_to_cluster_traffic():
    jump = outside.jump_rule()
    assert jump[:4] == ["-i", "gw-eth1", "-o", "gw-eth0"]
    assert jump[-2:] == ["-j", "LAB-FIREWALL"]


def test_the_list_says_on_or_off_and_each_opened_port():
    assert outside.describe_firewall(FirewallState()).startswith("Firewall off")
    text = outside.describe_firewall(FirewallState(True, (parse_port("30080"),)))
    assert text.splitlines() == [
        "Firewall on: outside hosts cannot reach the nodes' ports 30000-32767, except:",
        "  allow tcp:30080",
    ]


def test_a_disconnected_node_is_pinned_so_peers_never_answer_unreachable():
    assert outside.pin_neighbour("172.18.0.3", "aa:bb:cc:dd:ee:ff", "gw-eth0") == [
        "ip", "neigh", "replace", "172.18.0.3", "lladdr", "aa:bb:cc:dd:ee:ff",
        "dev", "gw-eth0", "nud", "permanent",
    ]  # fmt: skip
    assert outside.cluster_interface("node2") == "node2-eth0"
    assert outside.node_route_commands([("default", "172.18.0.1")]) == [
        ["ip", "route", "replace", "default", "via", "172.18.0.1"]
    ]
