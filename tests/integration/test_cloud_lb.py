"""The cloud load balancer end to end (root): the outside client calls a LoadBalancer
address, the cloud-lb host hands the flow to a node whose health check passes, the node's
kube-proxy rules take it to a pod.

  VIP (pass-through) + Local   the pod sees the client's own address (192.0.2.10)
  Proxy + Local                the pod sees the LB's address on the node network
  VIP + Cluster                the pod sees a node's address (kube-proxy's SNAT)
  a node losing its only local endpoint fails its health check and leaves the rotation
  within LEAVES_ROTATION_WITHIN_S; scaled back, it returns

The addresses come from the lab's cloud controller (the topology's pool); Proxy mode is
asked with its annotation. Every wait is on a condition, never a fixed sleep.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any

import pytest

from lab_kit.adapters.rundir import RunDir
from lab_kit.controllers.service_lb import IP_MODE_ANNOTATION
from lab_kit.render import cloud_lb as lb

pytestmark = pytest.mark.root
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
CLIENT_IP = "192.0.2.10"


def backend(name: str, ns: str, node: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
        "spec": {
            "nodeName": node,
            "containers": [{
                "name": "c", "image": AGNHOST,
                "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
            }],
        },
    }  # fmt: skip


def lb_service(name: str, ns: str, policy: str, mode: str = "VIP") -> dict:
    """A LoadBalancer Service; Proxy mode is asked with the lab cloud's annotation (clouds
    select a proxying load balancer with an annotation of their own)."""
    annotations = {IP_MODE_ANNOTATION: mode} if mode != "VIP" else {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 8080}],
            "externalTrafficPolicy": policy,
        },
    }


def create_lb(cluster: Any, name: str, ns: str, policy: str, mode: str = "VIP") -> str:
    """Create the Service; its address once the cloud controller has written it."""
    cluster.apply(lb_service(name, ns, policy, mode), wait=True)

    def address() -> str:
        status = cluster.get("services", name, ns).get("status") or {}
        ingress = (status.get("loadBalancer") or {}).get("ingress") or [{}]
        return ingress[0].get("ip", "")

    return wait_for(f"{ns}/{name}'s load balancer address", address)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def lb_address(address: str) -> dict:
    for entry in RunDir().cloud_lb().get("addresses", []):
        if entry["address"] == address:
            return entry
    return {}


def in_rotation(address: str) -> set[str]:
    return {n["name"] for n in lb_address(address).get("nodes", []) if n["inRotation"]}


def client_ip_seen(cluster: Any, address: str) -> str:
    """What agnhost's /clientip says the client's address is (host part only)."""
    out = cluster.host("client", "curl", "-s", "-m", "3", f"http://{address}/clientip")
    assert out.returncode == 0, f"curl to {address} failed: {out}"
    return out.stdout.strip().rpartition(":")[0]


@pytest.fixture(scope="module")
def web(cluster):
    """One agnhost per node, in a namespace of the module's."""
    ns = "cloud-lb"
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cluster.apply([backend(f"web{i}", ns, f"node{i}") for i in (1, 2, 3)], wait=True)
    return ns


def test_vip_local_keeps_the_client_address_and_replies_skip_the_lb(cluster, web):
    address = create_lb(cluster, "local", web, "Local")
    wait_for(
        "all three nodes in rotation", lambda: in_rotation(address) == {"node1", "node2", "node3"}
    )
    assert lb_address(address)["mode"] == "VIP"
    assert {client_ip_seen(cluster, address) for _ in range(6)} == {CLIENT_IP}
    nft = cluster.host("cloud-lb", "nft", "list", "table", "ip", lb.TABLE).stdout
    assert f"ip daddr {address} tcp dport 80 jump vip-{address}-tcp-80" in nft
    # Direct server return: no packet from the LB address went back through cloud-lb.
    replies = next(line for line in nft.splitlines() if "direct server return" in line)
    assert "counter packets 0 bytes 0" in replies, replies
    # What a learner is shown: the LB's table and the request's path to a pod of its node.
    row = next(r for r in str(cluster.load_balancer()).splitlines() if r.startswith(address))
    assert row.split()[:4] == [address, f"{web}/local", "VIP", "Local"]
    path = cluster.draw_load_balancer(address).source
    assert "src 192.0.2.10:p" in path and "dst 10.244." in path and "direct server return" in path


def test_proxy_local_shows_the_pod_the_lbs_own_address(cluster, web):
    address = create_lb(cluster, "proxied", web, "Local", "Proxy")
    wait_for("three nodes in rotation", lambda: len(in_rotation(address)) == 3)
    assert lb_address(address)["mode"] == "Proxy"
    leg = RunDir().cloud_lb()["legAddress"]
    assert {client_ip_seen(cluster, address) for _ in range(6)} == {leg}


def test_vip_cluster_snats_to_a_node(cluster, web):
    address = create_lb(cluster, "anywhere", web, "Cluster")
    wait_for("three nodes in rotation", lambda: len(in_rotation(address)) == 3)
    seen = {client_ip_seen(cluster, address) for _ in range(6)}
    # MASQUERADE takes the egress interface's address: the node's own towards a pod on
    # another node, its pod-side gateway (10.244.N.1) towards a pod on itself.
    assert seen and seen <= node_addresses(), seen


def node_addresses() -> set[str]:
    from lab_kit.agents.runner import load_topology

    spec = load_topology(RunDir().topology_file)
    gateways = {str(ipaddress.ip_network(n.pod_cidr).network_address + 1) for n in spec.nodes}
    return {n.ip for n in spec.nodes} | gateways


def test_a_node_without_a_local_endpoint_leaves_the_rotation_in_time_and_returns(cluster, web):
    address = create_lb(cluster, "failover", web, "Local")
    wait_for("three nodes in rotation", lambda: len(in_rotation(address)) == 3)
    cluster.delete("pod", "web3", namespace=web)
    t0 = time.monotonic()
    wait_for("node3 out of the rotation", lambda: in_rotation(address) == {"node1", "node2"},
             timeout_s=lb.LEAVES_ROTATION_WITHIN_S + 5)  # fmt: skip
    # the pod's grace period comes first (its endpoint leaves when it is deleted)
    assert time.monotonic() - t0 < lb.LEAVES_ROTATION_WITHIN_S + 2
    node3 = next(n for n in lb_address(address)["nodes"] if n["name"] == "node3")
    assert node3["state"] == lb.UNHEALTHY and node3["last"] == "503"
    # Every new flow now lands on a node with a pod: all answer.
    assert all(client_ip_seen(cluster, address) == CLIENT_IP for _ in range(10))
    cluster.apply(backend("web3", web, "node3"), wait=True)
    wait_for("node3 back", lambda: len(in_rotation(address)) == 3,
             timeout_s=lb.COMES_BACK_WITHIN_S + 5)  # fmt: skip
