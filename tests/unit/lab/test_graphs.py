"""graphs: the DOT source names what a learner should see, and is the same run to run."""

from __future__ import annotations

import random
import shutil

import graphviz
import pytest

from lab_kit.lab.graphs import packet_path_graph, service_graph, topology_graph
from lab_kit.model.topology import HostSpec, NodeSpec

NODES = [
    {"name": "node2", "ip": "172.18.0.3", "pod_cidr": "10.244.2.0/24"},
    {"name": "node1", "ip": "172.18.0.2", "pod_cidr": "10.244.1.0/24"},
]
HOSTS = [
    {"name": "internet", "ip": "203.0.113.10", "role": "internet"},
    {"name": "client", "ip": "192.0.2.10", "role": "client"},
    {"name": "cloud-lb", "ip": "198.51.100.10", "role": "cloud-lb"},
]


def pod(name, node=None, ip=None, namespace="default"):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"nodeName": node} if node else {},
        "status": {"podIP": ip} if ip else {"phase": "Pending"},
    }


PODS = [
    pod("random-generator-7d9c-abcde", "node2", "10.244.2.5"),
    pod("random-generator-7d9c-fghij", "node1", "10.244.1.7"),
    pod("client", "node1", "10.244.1.6"),
    pod("coredns-1", "node2", "10.244.2.2", namespace="kube-system"),
    pod("waiting"),
]

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "random-generator", "namespace": "default"},
    "spec": {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.12",
        "selector": {"app": "random-generator"},
        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
    },
}
NODEPORT = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "type": "NodePort",
        "clusterIP": "10.96.0.20",
        "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
    },
}
SLICE = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {
        "name": "random-generator-x7k2p",
        "namespace": "default",
        "labels": {"kubernetes.io/service-name": "random-generator"},
    },
    "addressType": "IPv4",
    "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
    "endpoints": [
        {
            "addresses": ["10.244.2.5"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "nodeName": "node2",
            "targetRef": {
                "kind": "Pod",
                "namespace": "default",
                "name": "random-generator-7d9c-abcde",
            },
        },
        {
            "addresses": ["10.244.1.7"],
            "conditions": {"ready": False, "serving": False, "terminating": False},
            # no nodeName: found through the pod
            "targetRef": {
                "kind": "Pod",
                "namespace": "default",
                "name": "random-generator-7d9c-fghij",
            },
        },
    ],
}
EMPTY_SLICE = {
    "metadata": {
        "name": "web-aaaaa",
        "namespace": "default",
        "labels": {"kubernetes.io/service-name": "web"},
    },
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    "endpoints": [],
}


def shuffled(items, seed):
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def test_topology_clusters_pods_switch_and_hosts():
    g = topology_graph(NODES, HOSTS, PODS)
    assert isinstance(g, graphviz.Digraph)
    src = g.source
    assert "subgraph cluster_kubernetes {" in src
    assert "subgraph cluster_node_node1 {" in src and "subgraph cluster_node_node2 {" in src
    assert '"node/node1" [label="node1\n172.18.0.2\npods 10.244.1.0/24"' in src
    assert (
        '"pod/default/random-generator-7d9c-abcde" [label="random-generator-7d9c-abcde\n10.244.2.5"'
        in src
    )
    assert '"pod/kube-system/coredns-1" [label="kube-system/coredns-1\n10.244.2.2"' in src
    assert '"node/node2" -> "pod/default/random-generator-7d9c-abcde"' in src
    assert '"node/node1" -> "pod/default/client"' in src
    for name in ("node1", "node2"):
        assert f'"switch/s1" -> "node/{name}"' in src
    for name in ("client", "cloud-lb", "internet"):
        assert f'"switch/s1" -> "host/{name}"' in src
    assert '"pod/default/waiting" [label="waiting\n(no IP yet)"' in src
    assert 'label="not scheduled"' in src


def test_topology_pods_inside_their_node_and_hosts_outside_the_cluster():
    src = topology_graph(NODES, HOSTS, PODS).source
    node2 = src[src.index("subgraph cluster_node_node2") :]
    node2 = node2[: node2.index("}")]
    assert "random-generator-7d9c-abcde" in node2 and "fghij" not in node2
    cluster = src[
        src.index("subgraph cluster_kubernetes") : src.index('"switch/s1" -> "node/node1"')
    ]
    assert "host/" not in cluster and "switch/s1" not in cluster


def test_topology_is_deterministic_and_accepts_specs():
    a = topology_graph(NODES, HOSTS, PODS).source
    for seed in range(3):
        assert (
            topology_graph(
                shuffled(NODES, seed), shuffled(HOSTS, seed), shuffled(PODS, seed)
            ).source
            == a
        )
    assert a.index("cluster_node_node1") < a.index("cluster_node_node2")
    assert a.index('"host/client"') < a.index('"host/cloud-lb"') < a.index('"host/internet"')
    specs = topology_graph(
        [NodeSpec(n["name"], n["ip"], n["pod_cidr"]) for n in NODES],
        [HostSpec(h["name"], h["ip"], h["role"]) for h in HOSTS],
        PODS,
    ).source
    assert specs == a
    assert '"switch/br0"' in topology_graph(NODES, HOSTS, PODS, switch="br0").source


def test_service_to_slice_to_endpoints_by_node():
    src = service_graph([SERVICE, NODEPORT], [SLICE, EMPTY_SLICE], PODS).source
    assert (
        '"svc/default/random-generator" [label="Service random-generator\n10.96.0.12:80/TCP"' in src
    )
    assert '"svc/default/random-generator" -> "eps/default/random-generator-x7k2p"' in src
    ready = '"ep/default/random-generator-x7k2p/10.244.2.5"'
    not_ready = '"ep/default/random-generator-x7k2p/10.244.1.7"'
    assert f'"eps/default/random-generator-x7k2p" -> {ready}\n' in src
    assert f'"eps/default/random-generator-x7k2p" -> {not_ready} [color=gray50 style=dashed]' in src
    assert (
        f'{ready} [label="10.244.2.5:8080\npod random-generator-7d9c-abcde" fillcolor=palegreen'
        in src
    )
    assert (
        f'{not_ready} [label="10.244.1.7:8080\npod random-generator-7d9c-fghij\n(not ready)"' in src
    )
    # each endpoint sits in its pod's node's box (node1 learnt from the pod, not the slice)
    node1 = src[src.index("subgraph cluster_node_node1") :]
    assert node1[: node1.index("}")].count("ep/") == 1 and not_ready in node1[: node1.index("}")]
    # NodePort and a slice with no endpoints
    assert "10.96.0.20:80/TCP (NodePort 30080)\ntype NodePort" in src
    assert (
        '"eps/default/web-aaaaa" [label="EndpointSlice\nweb-aaaaa\nhttp 8080/TCP\n(no endpoints)"'
        in src
    )


def test_service_graph_headless_unknown_node_and_determinism():
    headless = {
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"clusterIP": "None", "ports": [{"port": 5432}]},
    }
    es = {
        "metadata": {
            "name": "db-1",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "db"},
        },
        "ports": [{"port": 5432}],
        "endpoints": [{"addresses": ["10.244.3.9"]}],  # no conditions: ready
    }
    src = service_graph([headless], [es, SLICE], []).source
    assert "Service shop/db\nClusterIP None (headless)\nport 5432/TCP" in src
    assert '"ep/shop/db-1/10.244.3.9" [label="10.244.3.9:5432" fillcolor=palegreen' in src
    assert 'label="node unknown"' in src
    assert "random-generator" not in src  # slices of services not asked for are left out
    services, slices = [SERVICE, NODEPORT, headless], [SLICE, EMPTY_SLICE, es]
    first = service_graph(services, slices, PODS).source
    for seed in range(3):
        again = service_graph(
            shuffled(services, seed), shuffled(slices, seed), shuffled(PODS, seed)
        )
        assert again.source == first


HOPS = [
    {"where": "client pod", "src": "10.244.1.6:42114", "dst": "10.96.0.12:80"},
    {
        "where": "node1 eth0",
        "src": "10.244.1.6:42114",
        "dst": "10.244.2.5:8080",
        "note": "after kube-proxy's DNAT",
    },
    {"where": "server pod", "src": "10.244.1.6:42114", "dst": "10.244.2.5:8080"},
]


def test_packet_path_chain_and_rewrites():
    g = packet_path_graph(HOPS)
    src = g.source
    assert "rankdir=LR" in src
    assert 'hop0 [label="client pod\nsrc 10.244.1.6:42114\ndst 10.96.0.12:80"' in src
    assert (
        'hop1 [label="node1 eth0\nsrc 10.244.1.6:42114\ndst 10.244.2.5:8080\nafter kube-proxy\'s DNAT"'
        in src
    )
    assert (
        'hop0 -> hop1 [label="dst 10.96.0.12:80 → 10.244.2.5:8080" color=red fontcolor=red]' in src
    )
    assert "\thop1 -> hop2\n" in src  # nothing rewritten
    assert packet_path_graph(HOPS).source == src


def test_packet_path_reply_rewrites_source():
    reply = [
        {"where": "server pod", "src": "10.244.2.5:8080", "dst": "10.244.1.6:42114"},
        {"where": "client pod", "src": "10.96.0.12:80", "dst": "10.244.1.6:42114"},
    ]
    src = packet_path_graph(reply).source
    assert 'label="src 10.244.2.5:8080 → 10.96.0.12:80"' in src
    assert 'label="hop 1' not in src and packet_path_graph([]).source.count("->") == 0


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graphs_render_to_svg():
    for g in (
        topology_graph(NODES, HOSTS, PODS),
        service_graph([SERVICE], [SLICE], PODS),
        packet_path_graph(HOPS),
    ):
        svg = g.pipe(format="svg").decode()
        assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
