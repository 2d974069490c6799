"""Topology files: the default, and errors that name the file and the field."""

import pytest

from lab_kit.lab.topologies import load_topology
from lab_kit.model.topology import TopologyError, parse_topology
from lab_kit.render.node_network import node_routes, render_masquerade


def test_default_topology():
    spec = load_topology()
    assert [(n.name, n.ip, n.pod_cidr) for n in spec.nodes] == [
        ("node1", "172.18.0.2", "10.244.1.0/24"),
        ("node2", "172.18.0.3", "10.244.2.0/24"),
        ("node3", "172.18.0.4", "10.244.3.0/24"),
    ]
    assert [(h.name, h.role, h.ip, h.gateway) for h in spec.hosts] == [
        ("client", "client", "192.0.2.10", "192.0.2.1"),
        ("cloud-lb", "cloud-lb", "198.51.100.10", "198.51.100.1"),
        ("internet", "internet", "203.0.113.10", "203.0.113.1"),
    ]
    assert spec.gateway_ip == "172.18.0.1"


def test_node_addresses_and_cidrs_default_in_order():
    spec = parse_topology('[[nodes]]\n[[nodes]]\nname = "b"\n', "t.toml")
    assert [(n.name, n.ip, n.pod_cidr) for n in spec.nodes] == [
        ("node1", "172.18.0.2", "10.244.1.0/24"),
        ("b", "172.18.0.3", "10.244.2.0/24"),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "t.toml: nodes: Required value: a cluster needs at least one node"),
        (
            '[[nodes]]\nip = "10.1.1.1"\n',
            't.toml: nodes[0].ip: Invalid value: "10.1.1.1": must be inside',
        ),
        ('[[nodes]]\nname = "Node_1"\n', 't.toml: nodes[0].name: Invalid value: "Node_1"'),
        (
            '[[nodes]]\ncolour = "red"\n',
            't.toml: nodes[0].colour: Invalid value: "colour": unknown field',
        ),
        ('[[nodes]]\n[[hosts]]\nname = "c"\nip = "8.8.8.8"\n', "must use the documentation ranges"),
        (
            '[[nodes]]\n[[hosts]]\nname = "c"\nip = "192.0.2.1"\n',
            "must not be .0, .1 (the lab's router)",
        ),
        (
            '[[nodes]]\npod_cidr = "10.245.0.0/24"\n',
            "must be inside cluster.pod_cidr 10.244.0.0/16",
        ),
        ('[[nodes]]\n[[nodes]]\nname = "node1"\n', 't.toml: name: Duplicate value: "node1"'),
        ('[[nodes]]\ndelay = "soon"\n', 't.toml: nodes[0].delay: Invalid value: "soon"'),
        ("[[nodes]\n", "t.toml: "),
    ],
)
def test_bad_topologies_name_the_field(text, message):
    with pytest.raises(TopologyError) as e:
        parse_topology(text, "t.toml")
    assert message in str(e.value)


def test_unknown_topology_name():
    with pytest.raises(TopologyError) as e:
        load_topology("nope")
    assert 'no topology "nope"' in str(e.value) and "default" in str(e.value)


def test_node_routes_and_masquerade():
    spec = load_topology()
    assert node_routes(spec, spec.nodes[0]) == [
        ("10.244.2.0/24", "172.18.0.3"),
        ("10.244.3.0/24", "172.18.0.4"),
        ("default", "172.18.0.1"),
    ]
    rules = render_masquerade(spec)
    assert rules.startswith("*nat\n:IP-MASQ-AGENT - [0:0]\n") and rules.endswith(
        "-j MASQUERADE\nCOMMIT\n"
    )
    assert (
        "-A IP-MASQ-AGENT -d 10.244.0.0/16" in rules
        and "-A IP-MASQ-AGENT -d 172.18.0.0/16" in rules
    )


def test_default_topology_has_a_load_balancer_pool_on_the_cloud_lb_host():
    spec = load_topology()
    assert spec.host_role("cloud-lb").pool == "198.51.100.32/27"
    assert spec.load_balancer_pool == "198.51.100.32/27"
    assert parse_topology("[[nodes]]\n", "t.toml").load_balancer_pool == ""


_LB = '[[nodes]]\n[[hosts]]\nname = "lb"\nip = "198.51.100.10"\nrole = "cloud-lb"\n'


@pytest.mark.parametrize(
    "extra, message",
    [
        ('pool = "nope"', 'hosts[0].pool: Invalid value: "nope": must be a valid IPv4 CIDR'),
        ('pool = "198.51.100.33/27"', "must be a valid IPv4 CIDR"),
        ('pool = "203.0.113.32/27"', "must be inside 198.51.100.0/24, the host's own range"),
        ('pool = "198.51.100.0/27"', "must not hold .0, .1 (the lab's router) or .255"),
        ('pool = "198.51.100.224/27"', "must not hold .0, .1 (the lab's router) or .255"),
        ('pool = "198.51.100.8/29"', "must not hold hosts[0].ip 198.51.100.10"),
    ],
)
def test_bad_pools_name_the_field(extra, message):
    with pytest.raises(TopologyError) as e:
        parse_topology(_LB + extra + "\n", "t.toml")
    assert message in str(e.value)


def test_a_pool_only_on_one_cloud_lb_host():
    client = '[[nodes]]\n[[hosts]]\nname = "c"\nip = "192.0.2.10"\nrole = "client"\n'
    with pytest.raises(TopologyError) as e:
        parse_topology(client + 'pool = "192.0.2.32/27"\n', "t.toml")
    assert "hosts[0].pool: Invalid value" in str(e.value) and "only a cloud-lb host" in str(e.value)
    two = (
        _LB
        + 'pool = "198.51.100.32/27"\n'
        + _LB.replace("[[nodes]]\n", "").replace('"lb"', '"lb2"').replace(".10", ".11")
        + 'pool = "198.51.100.64/27"\n'
    )
    with pytest.raises(TopologyError) as e:
        parse_topology(two, "t.toml")
    assert "hosts[1].pool" in str(e.value) and "only one host may hold a pool" in str(e.value)
