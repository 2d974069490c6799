"""Termination as the kubelet does it, and hostNetwork pods, end to end (root).

The mechanism that lets a rollout lose no request: with a `preStop` sleep, a deleted pod's
endpoint turns terminating and not ready, and every node's kube-proxy drops it from its
rules, all BEFORE the container gets SIGTERM; the container then ends on SIGTERM (it
handles it) without waiting for SIGKILL. The order is asserted, not a timing: the server's
SIGTERM handler reports to a listener in another pod, which logs when it heard from it.

A rolling update of a Deployment whose pods have a preStop sleep, under a client sending
requests to its ClusterIP one after another: not one request fails (the loss itself, the
mechanism above at work; benchmarks/rollout.py measures the same with and without the hook).

hostNetwork: the pod is in its node's network namespace with the node's IP, reachable at
<node IP>:<port> from another node's pod and from the outside client host, and `exec` in
it shows the node's interfaces.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab_kit.adapters.rundir import RunDir
from lab_kit.lab import request_loop

pytestmark = pytest.mark.root
NODES = ("node1", "node2", "node3")
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def pod(name, ns, node, command, labels=None, **spec):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox",
                                                   "command": command}], **spec},
    }  # fmt: skip


def until(what, predicate, timeout_s=30.0, every_s=0.05):
    """Poll `predicate` until it holds (iptables on the nodes has no watch to wait on)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every_s)


def server(name, ns, node, script):
    """A Python HTTP server on 8080 behind a shell `script`, Ready once it listens."""
    spec = pod(name, ns, node, ["sh", "-c", script], labels={"app": "web"},
               terminationGracePeriodSeconds=30)  # fmt: skip
    spec["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 8080},
                                                       "periodSeconds": 1}  # fmt: skip
    return spec


def endpoint_of(lab, service, ns, ip):
    for s in lab.get(
        "endpointslices", namespace=ns, selector=f"kubernetes.io/service-name={service}"
    ):
        for e in s.get("endpoints") or []:
            if ip in e.get("addresses", []):
                return e
    return None


def in_rules(lab, ip):
    """Nodes whose nat table still DNATs to `ip`."""
    return [n for n in NODES if f"--to-destination {ip}:" in str(lab.iptables(n, "nat"))]


def test_pre_stop_keeps_the_pod_out_of_every_nodes_rules_before_sigterm(cluster, ns):
    listener = pod("listener", ns, "node1", ["python3", "-m", "http.server", "9000"])
    cluster.apply([listener], wait=True)
    heard = cluster.get("pods", "listener", ns)["status"]["podIP"]
    # A shell as PID 1 that handles SIGTERM: it tells the listener, then exits 0.
    script = (
        f"trap 'curl -s -m 2 http://{heard}:9000/got-sigterm; exit 0' TERM; "
        "python3 -m http.server 8080 & wait"
    )
    web = server("web", ns, "node2", script)
    web["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": 5}}}
    # A second backend that stays: with none ready, kube-proxy would keep using the
    # terminating one (serving and terminating endpoints are its fallback), as it should.
    stays = server("stays", ns, "node3", "exec python3 -m http.server 8080")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}  # fmt: skip
    cluster.apply([web, stays, service], wait=True)
    ip = cluster.get("pods", "web", ns)["status"]["podIP"]
    until("the endpoint in every node's rules", lambda: in_rules(cluster, ip) == list(NODES))

    def told() -> bool:
        return "got-sigterm" in cluster.logs("listener", ns)

    cluster.delete("pod", "web", ns)

    def out_everywhere() -> bool:
        assert not told(), "SIGTERM came before the endpoint left the rules"
        conditions = (endpoint_of(cluster, "web", ns, ip) or {}).get("conditions", {})
        return conditions.get("terminating") is True and not in_rules(cluster, ip)

    until("terminating and out of every node's rules", out_everywhere, timeout_s=10)
    conditions = endpoint_of(cluster, "web", ns, ip)["conditions"]
    assert conditions == {"ready": False, "serving": True, "terminating": True}
    assert cluster.get("pods", "web", ns)["metadata"]["deletionTimestamp"]
    until("the container's SIGTERM handler", told, timeout_s=15)
    until("the pod to be gone", lambda: "web" not in names(cluster, ns), timeout_s=20)
    kubelet_log = Path(RunDir().log("kubelet/node2")).read_text()
    stopping = [line for line in kubelet_log.splitlines() if f"{ns}/web/c" in line]
    assert any("running the preStop hook" in line for line in stopping), stopping
    assert not any("SIGKILL" in line for line in stopping), stopping  # it ended on SIGTERM


def test_a_rolling_update_with_a_pre_stop_sleep_loses_no_request(cluster, ns):
    replicas, pre_stop_s = 3, 4
    web = request_loop.web_deployment(ns, replicas, revision=0, pre_stop_s=pre_stop_s)
    client = request_loop.client_pod(ns)
    cluster.apply([request_loop.web_service(ns), client, web], wait=True)
    old = set(names(cluster, ns)) - {"client"}
    vip = cluster.get("services", "web", ns)["spec"]["clusterIP"]
    loop = request_loop.RequestLoop.start(cluster, "client", ns, vip, 20000, max_seconds=60)
    try:
        loop.wait_answered()
        request_loop.roll(cluster, ns, replicas, revision=1, pre_stop_s=pre_stop_s, timeout_s=45)
    finally:
        answers = loop.stop()
    new = set(names(cluster, ns)) - {"client"}
    assert old.isdisjoint(new) and len(new) == replicas  # every old pod gone
    assert [a for a in answers if a.failed] == []
    answered_by = {a.text for a in answers}
    assert answered_by & old and answered_by & new, answered_by  # traffic spanned the rollout
    assert len(answers) >= 100


def names(lab, ns):
    return [p["metadata"]["name"] for p in lab.get("pods", namespace=ns)]


def test_a_host_network_pod_is_the_node_on_the_network(cluster, ns):
    agent = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "agent", "namespace": ns, "labels": {"app": "agent"}},
        "spec": {
            "nodeName": "node2",
            "hostNetwork": True,
            "containers": [{
                "name": "c", "image": AGNHOST,
                "args": ["netexec", "--http-port=8088", "--udp-port=-1"],
                "ports": [{"containerPort": 8088}],
                "readinessProbe": {"httpGet": {"path": "/hostname", "port": 8088}, "periodSeconds": 1},
            }],
        },
    }  # fmt: skip
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "agent", "namespace": ns},
               "spec": {"selector": {"app": "agent"}, "ports": [{"port": 80, "targetPort": 8088}]}}  # fmt: skip
    client = pod("client", ns, "node1", ["sleep", "infinity"])
    cluster.apply([agent, service, client], wait=True)
    status = cluster.get("pods", "agent", ns)["status"]
    assert status["podIP"] == status["hostIP"] == "172.18.0.3"
    node_url = "http://172.18.0.3:8088/hostname"
    assert cluster.requests("client", node_url, 2, namespace=ns) == ["node2", "node2"]
    outside = cluster.host("client", "curl", "-s", "-m", "2", node_url).stdout
    assert outside == "node2"  # the outside client host, through the router
    until("the endpoint", lambda: endpoint_of(cluster, "agent", ns, "172.18.0.3") is not None)
    vip = cluster.get("services", "agent", ns)["spec"]["clusterIP"]
    until("the rules", lambda: in_rules(cluster, "172.18.0.3") == list(NODES))
    assert cluster.requests("client", f"http://{vip}/hostname", 2, namespace=ns) == ["node2"] * 2
    interfaces = cluster.exec("agent", "ip", "-o", "-4", "addr", namespace=ns).stdout
    assert "inet 172.18.0.3/" in interfaces  # the node's eth0
    assert cluster.exec("agent", "hostname", namespace=ns).stdout.strip() == "node2"
    own = cluster.exec("client", "ip", "-o", "-4", "addr", namespace=ns).stdout
    assert "172.18.0." not in own  # an ordinary pod has its own network
