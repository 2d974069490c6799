"""Lab 00's checks: the nodes and their pod ranges, cluster DNS, the book's pods spread
over the nodes, and pod-to-pod traffic without NAT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.packets import PacketTable


def check_nodes(lab: Lab) -> None:
    """Three nodes, each owning its /24 of the pod network 10.244.0.0/16."""
    nodes = lab.get("nodes")
    names = [n["metadata"]["name"] for n in nodes]
    cidrs = [n["spec"]["podCIDR"] for n in nodes]
    expect(names == ["node1", "node2", "node3"], "nodes node1, node2, node3", names)
    expect(cidrs == ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"],
           "node N owns 10.244.N.0/24", cidrs)  # fmt: skip
    passed("3 nodes Ready, each owning a /24 of the pod network")


def check_cluster_dns(lab: Lab) -> None:
    """Two kube-dns pods running behind the kube-dns Service's fixed 10.96.0.10."""
    pods = lab.get("pods", namespace="kube-system", selector="k8s-app=kube-dns")
    phases = [p["status"]["phase"] for p in pods]
    expect(phases == ["Running", "Running"], "two kube-dns pods Running", phases)
    ip = lab.get("services", "kube-dns", namespace="kube-system")["spec"]["clusterIP"]
    expect(ip == "10.96.0.10", "kube-dns at 10.96.0.10 (the kubelet's --cluster-dns)", ip)
    passed(f"kube-dns 10.96.0.10 -> {sorted(p['status']['podIP'] for p in pods)}")


def check_spread_over_nodes(pods: list[dict]) -> None:
    """The book's four pods on all three nodes, each with an address from its node's /24."""
    per_node: dict[str, list[str]] = {}
    for p in pods:
        per_node.setdefault(p["spec"]["nodeName"], []).append(p["status"]["podIP"])
    expect(len(pods) == 4, "4 pods", len(pods))
    expect(set(per_node) == {"node1", "node2", "node3"}, "pods on every node", sorted(per_node))
    for node, ips in per_node.items():
        expect(all(ip.startswith(f"10.244.{node[-1]}.") for ip in ips),
               f"{node}'s pods have addresses from 10.244.{node[-1]}.0/24", ips)  # fmt: skip
    passed(f"pods per node: { {n: len(ips) for n, ips in sorted(per_node.items())} }")


def check_no_nat_between_pods(packets: PacketTable, client_ip: str, server_ip: str,
                              reply: str) -> None:  # fmt: skip
    """The server saw the client pod's own address: SYN, GET and 200, no NAT between pods."""
    syn = packets.syns()[0]
    expect((syn.src, syn.dst, syn.dport) == (client_ip, server_ip, 8080),
           f"the SYN from {client_ip} to {server_ip}:8080", (syn.src, syn.dst, syn.dport))  # fmt: skip
    expect(any(p.summary.startswith("GET / HTTP/1.1") for p in packets), "the GET captured")
    expect(any(p.summary.startswith("HTTP/1.1 200") for p in packets), "the 200 captured")
    expect('"random"' in reply, "a random-generator answer", reply)
    passed(f"pod {client_ip} -> pod {server_ip}: SYN, GET /, 200 OK, seen on the server's own eth0")
