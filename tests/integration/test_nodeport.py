"""NodePort, traffic policies, externalIPs, load-balancer IPs and kube-proxy's health servers,
end to end (root): the outside `client` (192.0.2.10, beyond the router gw), pods and nodes
calling through the rules each node's kube-proxy wrote, and what the backend pod sees as
its client (agnhost netexec /clientip).

The e2e suite's external-traffic tests in miniature: a NodePort on every node's address;
externalTrafficPolicy Cluster (SNAT to the receiving node, any node serves) and Local
(the client's address kept, a pod-less node silent: a timeout, not a refusal); the
healthCheckNodePort's 200/503 and counts; :10256/healthz and /livez, with a node tainted
for deletion; externalIPs; a load-balancer IP written through the status subresource
(VIP captured, Proxy left alone) and loadBalancerSourceRanges letting in or dropping.
No cloud controller is needed: the LoadBalancer Services here name a class of their own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from lab_kit.controllers.state import Update
from lab_kit.render.proxy_rules import svc_chain

pytestmark = pytest.mark.root
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
CLIENT_IP = "192.0.2.10"
LB_CLASS = "example.com/not-the-lab-cloud"  # the lab's cloud controller leaves these alone
EXTERNAL_IP, LB_IP = "198.51.100.201", "198.51.100.202"  # routed by gw to a node, per test
KUBE_PROXIES = [f"kube-proxy/node{i}" for i in (1, 2, 3)]
GO_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC m=\+\d+\.\d{9}")


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
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
            }],
        },
    }  # fmt: skip


def client_pod(name: str, ns: str, node: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}],
        },
    }


def service(ns: str, type_: str = "NodePort", **spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"type": type_, "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}], **spec},
    }  # fmt: skip


def node_ip(lab, node: str) -> str:
    addresses = lab.get("nodes", node)["status"]["addresses"]
    return next(a["address"] for a in addresses if a["type"] == "InternalIP")


def node_port(lab, ns: str) -> int:
    return lab.get("services", "web", ns)["spec"]["ports"][0]["nodePort"]


def from_client(lab, url: str, timeout_s: float = 3) -> tuple[int, str]:
    """curl on the outside client: (exit code, body). 28 = timed out, 7 = refused."""
    out = lab.host("client", "curl", "-s", "-m", str(timeout_s), url)
    return out.returncode, out.stdout


def http_answer(text: str) -> tuple[str, list[str], str]:
    """`curl -i` output: (status code, header lines, body)."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status, *headers = head.splitlines()
    return status.split()[1], headers, body


def seen_ip(text: str) -> str:
    """netexec /clientip answers "ip:port"."""
    return text.rsplit(":", 1)[0]


def until(predicate: Callable[[], bool], what: str, timeout_s: float = 15) -> None:
    """Until `predicate()` holds (each try is itself a network round trip)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"


def converged(lab) -> None:
    assert lab.client.converged(15, KUBE_PROXIES)["converged"]


@contextmanager
def gw_route(lab, address: str, via: str) -> Iterator[None]:
    """The router sends `address` to one node, as a network routing an external IP does."""
    lab.host("gw", "ip", "route", "replace", f"{address}/32", "via", via)
    try:
        yield
    finally:
        lab.host("gw", "ip", "route", "del", f"{address}/32")


def write_status(lab, ns: str, ingress: list[dict]) -> None:
    svc = lab.get("services", "web", ns)
    svc["status"] = {"loadBalancer": {"ingress": ingress}}
    lab.client.perform(Update(svc, subresource="status"))
    converged(lab)


def test_nodeport_cluster_policy_any_node_serves_and_snats(cluster, ns):
    cluster.apply([backend("web2", ns, "node2"), client_pod("c", ns, "node1"), service(ns)],
                  wait=True)  # fmt: skip
    port = node_port(cluster, ns)
    ips = {n: node_ip(cluster, n) for n in ("node1", "node2", "node3")}
    seen = {}
    for node, ip in ips.items():
        rc, text = from_client(cluster, f"http://{ip}:{port}/clientip")
        assert rc == 0, f"client -> {node}:{port}"
        seen[node] = seen_ip(text)
    # Masqueraded to the receiving node's address on the way to the pod: its node IP when
    # the pod is elsewhere, its address on the pod's bridge when the pod is on it.
    assert seen == {"node1": ips["node1"], "node2": "10.244.2.1", "node3": ips["node3"]}
    assert CLIENT_IP not in seen.values()
    # From a pod and from a node, to another node's address and to its own.
    for url in (f"http://{ips['node3']}:{port}/hostname", f"http://{ips['node1']}:{port}/hostname"):
        assert cluster.exec("c", "curl", "-s", "-m", "3", url, namespace=ns).stdout == "web2"
        assert cluster.host("node1", "curl", "-s", "-m", "3", url).stdout == "web2"
    ext = svc_chain(f"{ns}/web:http", "tcp", "KUBE-EXT-")
    assert (
        f'-A {ext} -m comment --comment "masquerade traffic for {ns}/web:http external destinations" -j KUBE-MARK-MASQ'
        in cluster.iptables("node1", "nat")
    )


def test_nodeport_local_policy_keeps_the_client_and_pod_less_nodes_time_out(cluster, ns):
    cluster.apply([backend("web2", ns, "node2"), client_pod("c", ns, "node1"),
                   service(ns, externalTrafficPolicy="Local")], wait=True)  # fmt: skip
    port = node_port(cluster, ns)
    ip1, ip2 = node_ip(cluster, "node1"), node_ip(cluster, "node2")
    rc, text = from_client(cluster, f"http://{ip2}:{port}/clientip")
    assert rc == 0 and seen_ip(text) == CLIENT_IP  # no SNAT: the client's own address
    t0 = time.monotonic()
    rc, _ = from_client(cluster, f"http://{ip1}:{port}/clientip", timeout_s=1)
    assert rc == 28 and time.monotonic() - t0 >= 0.9  # DROP: a timeout, not a refusal
    assert f'"{ns}/web:http has no local endpoints"' in cluster.iptables("node1", "filter")
    # Pods and the node itself take the Cluster short cut on a pod-less node.
    url = f"http://{ip1}:{port}/hostname"
    assert cluster.exec("c", "curl", "-s", "-m", "3", url, namespace=ns).stdout == "web2"
    assert cluster.host("node1", "curl", "-s", "-m", "3", url).stdout == "web2"


def test_health_check_node_port_answers_with_the_local_endpoint_count(cluster, ns):
    cluster.apply([backend("web2a", ns, "node2"), backend("web2b", ns, "node2"),
                   service(ns, "LoadBalancer", externalTrafficPolicy="Local",
                           loadBalancerClass=LB_CLASS)], wait=True)  # fmt: skip
    hcnp = cluster.get("services", "web", ns)["spec"]["healthCheckNodePort"]
    answers = {}
    for node in ("node1", "node2"):
        out = cluster.host("client", "curl", "-s", "-i", "-m", "3",
                           f"http://{node_ip(cluster, node)}:{hcnp}/any/path")  # fmt: skip
        status, headers, body = http_answer(out.stdout)
        assert {"Content-Type: application/json", "X-Content-Type-Options: nosniff"} <= set(headers)
        assert not [h for h in headers if h.lower().startswith("server:")]
        answers[node] = (status, json.loads(body))
    service_ = {"namespace": ns, "name": "web"}
    assert answers["node2"] == ("200", {"service": service_, "localEndpoints": 2,
                                        "serviceProxyHealthy": True})  # fmt: skip
    assert answers["node1"] == ("503", {"service": service_, "localEndpoints": 0,
                                        "serviceProxyHealthy": True})  # fmt: skip


def set_taints(lab, node: str, taints: list[dict]) -> None:
    obj = lab.get("nodes", node)
    obj.setdefault("spec", {})["taints"] = taints
    lab.client.perform(Update(obj))


def test_kube_proxy_healthz_and_livez_follow_the_node(cluster):
    ip3 = node_ip(cluster, "node3")

    def get(path: str) -> tuple[str, dict]:
        out = cluster.host("client", "curl", "-s", "-i", "-m", "3", f"http://{ip3}:10256{path}")
        status, _, body = http_answer(out.stdout)
        return status, json.loads(body)

    status, body = get("/healthz")
    assert status == "200" and set(body) == {"lastUpdated", "currentTime", "nodeEligible"}
    assert body["nodeEligible"] is True and GO_TIME.fullmatch(body["currentTime"])
    assert body["lastUpdated"] == body["currentTime"]  # healthy: kube-proxy says "now"
    status, body = get("/livez")
    assert status == "200" and set(body) == {"lastUpdated", "currentTime"}
    kept = cluster.get("nodes", "node3").get("spec", {}).get("taints") or []
    taint = {"key": "ToBeDeletedByClusterAutoscaler", "value": "1", "effect": "NoSchedule"}
    set_taints(cluster, "node3", [*kept, taint])
    try:
        until(lambda: get("/healthz")[0] == "503", "/healthz to turn 503")
        assert get("/healthz")[1]["nodeEligible"] is False
        assert get("/livez")[0] == "200"  # liveness ignores the node
    finally:
        set_taints(cluster, "node3", kept)
    until(lambda: get("/healthz")[0] == "200", "/healthz back to 200")


def test_external_ips_reach_the_service_from_the_client(cluster, ns):
    cluster.apply([backend("web2", ns, "node2"),
                   service(ns, "ClusterIP", externalIPs=[EXTERNAL_IP])], wait=True)  # fmt: skip
    with gw_route(cluster, EXTERNAL_IP, node_ip(cluster, "node3")):
        rc, text = from_client(cluster, f"http://{EXTERNAL_IP}/clientip")
        assert rc == 0 and seen_ip(text) == node_ip(cluster, "node3")  # SNAT: Cluster policy
    assert f'"{ns}/web:http external IP"' in cluster.iptables("node3", "nat")


def test_load_balancer_ip_rules_by_ip_mode_and_source_ranges(cluster, ns):
    lb = service(ns, "LoadBalancer", loadBalancerClass=LB_CLASS,
                 loadBalancerSourceRanges=["192.0.2.0/24"])  # fmt: skip
    cluster.apply([backend("web2", ns, "node2"), lb], wait=True)
    url = f"http://{LB_IP}/hostname"
    with gw_route(cluster, LB_IP, node_ip(cluster, "node1")):
        write_status(cluster, ns, [{"ip": LB_IP, "ipMode": "VIP"}])
        assert from_client(cluster, url) == (0, "web2")  # the client's range is allowed
        fw = svc_chain(f"{ns}/web:http", "tcp", "KUBE-FW-")
        assert f"-d {LB_IP}/32 -p tcp" in cluster.iptables("node1", "nat", grep=fw)
        cluster.apply({**lb, "spec": {**lb["spec"], "loadBalancerSourceRanges": ["203.0.113.0/24"]}},
                      wait=True)  # fmt: skip
        assert from_client(cluster, url, timeout_s=1)[0] == 28  # dropped by KUBE-PROXY-FIREWALL
        write_status(cluster, ns, [{"ip": LB_IP, "ipMode": "Proxy"}])
        assert LB_IP not in cluster.iptables("node1")  # the load balancer forwards: no rules
