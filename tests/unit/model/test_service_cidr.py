"""The topology's `cluster.service_cidr`: what the lab honours (any range kube-apiserver
takes that holds kube-dns's 10.96.0.10 and overlaps no other lab network) and what it
refuses, with kube-apiserver's words where it has them."""

from __future__ import annotations

import pytest

from lab_kit.model.topology import TopologyError, parse_topology, service_cidr_problems


def topology(service_cidr: str) -> str:
    return f'[cluster]\nservice_cidr = "{service_cidr}"\n[[nodes]]\n'


@pytest.mark.parametrize("cidr", ["10.96.0.0/12", "10.96.0.0/16", "10.96.0.0/28", "10.96.0.8/29"])
def test_ranges_the_lab_honours(cidr):
    assert parse_topology(topology(cidr), "t.toml").service_cidr == cidr


@pytest.mark.parametrize(
    "cidr, message",
    [
        (
            "10.0.0.0/8",
            "specified --service-cluster-ip-range is too large; for 32-bit addresses, "
            "the mask must be >= 12",
        ),
        (
            "10.100.0.0/16",
            "must contain 10.96.0.10, the cluster DNS address (kube-dns) the lab's kubelets "
            "and its CoreDNS addon use",
        ),
        ("fd00:10:96::/108", "must be an IPv4 CIDR (the lab is single-stack IPv4)"),
        ("10.96.0.8/30", "the service cluster IP range must be at least 8 IP addresses"),
        ("10.96.0.0/11", "the mask must be >= 12"),
        ("10.96.0.5/12", "must be a valid CIDR"),
    ],
)
def test_ranges_refused_with_a_clear_topology_error(cidr, message):
    """Before, any service_cidr was accepted and ignored (ClusterIPs came from 10.96.0.0/12)."""
    with pytest.raises(TopologyError) as e:
        parse_topology(topology(cidr), "t.toml")
    assert str(e.value).startswith(f't.toml: cluster.service_cidr: Invalid value: "{cidr}": ')
    assert message in str(e.value)


def test_a_range_overlapping_the_pods_or_the_nodes_is_refused():
    text = '[cluster]\nservice_cidr = "10.96.0.0/12"\npod_cidr = "10.96.0.0/16"\n[[nodes]]\npod_cidr = "10.96.1.0/24"\n'
    with pytest.raises(TopologyError, match="must not overlap cluster.pod_cidr 10.96.0.0/16"):
        parse_topology(text, "t.toml")
    text = '[cluster]\nservice_cidr = "10.96.0.0/16"\nnode_network = "10.96.128.0/24"\n[[nodes]]\n'
    with pytest.raises(TopologyError, match="must not overlap cluster.node_network"):
        parse_topology(text, "t.toml")


def test_the_api_servers_own_checks_take_no_topology():
    assert service_cidr_problems("10.96.0.0/12") == []
    assert service_cidr_problems("10.100.0.0/16") == []  # kube-apiserver would take it
    assert service_cidr_problems("10.96.0.0/30") == [
        "the service cluster IP range must be at least 8 IP addresses"
    ]
