"""Outside the cluster, end to end (root): a node taken off the network and brought back,
and the router playing the cloud's firewall in front of the NodePorts.

- Disconnected, a node's NodePort gives the outside client a timeout (curl exit 28), not a
  refusal; after Kubernetes' own node monitor grace period (50 s: no shortcut here) the
  Node is Unknown, the pod on it not Ready, and the other nodes' NodePorts answer every
  time from the pod that is left. `labkit status` names the node and calls the lab fine.
  Connected again, the Node and its pod are Ready and its NodePort answers.
- The firewall: off by default; on, the client's NodePort request times out; the port
  allowed, it answers; denied again, timeout; off, it answers, and gw has no rule left.
- `labkit down` with a node disconnected leaves nothing behind.

About 2 minutes, most of it the 50 s grace period.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from lab_kit.lab import lifecycle, status_view

pytestmark = pytest.mark.root
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
TIMED_OUT = 28  # curl's exit code for "operation timed out"


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
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
            }],
        },
    }  # fmt: skip


def nodeport_service(ns: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"type": "NodePort", "selector": {"app": "web"},
                 "ports": [{"port": 80, "targetPort": 8080}]},
    }  # fmt: skip


def node_ip(lab, node: str) -> str:
    addresses = lab.get("nodes", node)["status"]["addresses"]
    return next(a["address"] for a in addresses if a["type"] == "InternalIP")


def node_port(lab, ns: str) -> int:
    return lab.get("services", "web", ns)["spec"]["ports"][0]["nodePort"]


def ask(
    lab, node: str, port: int, path: str = "/hostname", timeout_s: float = 3
) -> tuple[int, str]:
    """curl from the outside client to a node's NodePort: (exit code, body)."""
    out = lab.host(
        "client", "curl", "-s", "-m", str(timeout_s), f"http://{node_ip(lab, node)}:{port}{path}"
    )
    return out.returncode, out.stdout


def condition(obj: dict, ctype: str) -> str:
    return next(
        (c["status"] for c in obj["status"].get("conditions") or [] if c["type"] == ctype), ""
    )


def until(predicate: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)  # a poll interval between API reads, not a wait for state


def test_a_disconnected_node_times_out_goes_not_ready_and_comes_back(cluster, ns):
    cluster.apply([backend("web1", ns, "node1"), backend("web2", ns, "node2"),
                   nodeport_service(ns)], wait=True)  # fmt: skip
    port = node_port(cluster, ns)
    for node in ("node1", "node2", "node3"):
        assert ask(cluster, node, port)[0] == 0, f"client -> {node}:{port}"

    print(cluster.disconnect_node("node2"))
    try:
        assert ask(cluster, "node2", port)[0] == TIMED_OUT  # no answer at all: not refused
        text, healthy = status_view.status_text(cluster.status())
        assert "Disconnected node: node2" in text and healthy, text

        until(lambda: condition(cluster.get("nodes", "node2"), "Ready") == "Unknown",
              "node2 Unknown after the node monitor grace period", 90)  # fmt: skip
        until(lambda: condition(cluster.get("pods", "web2", ns), "Ready") == "False",
              "web2 not Ready", 15)  # fmt: skip
        assert cluster.client.converged(15)["converged"]
        for node in ("node1", "node3"):  # every request, from the pod that is left
            for _ in range(4):
                assert ask(cluster, node, port) == (0, "web1"), f"client -> {node}:{port}"
        assert ask(cluster, "node2", port)[0] == TIMED_OUT
    finally:
        print(cluster.connect_node("node2"))

    until(lambda: condition(cluster.get("nodes", "node2"), "Ready") == "True",
          "node2 Ready again", 30)  # fmt: skip
    until(lambda: condition(cluster.get("pods", "web2", ns), "Ready") == "True",
          "web2 Ready again", 30)  # fmt: skip
    until(lambda: ask(cluster, "node2", port)[0] == 0, "node2's NodePort answering", 15)
    seen: set[str] = set()
    until(lambda: seen.add(ask(cluster, "node3", port)[1]) or seen == {"web1", "web2"},
          "both pods answering through node3", 20)  # fmt: skip
    assert "Disconnected" not in status_view.status_text(cluster.status())[0]


def test_the_router_firewall_closes_node_ports_until_a_rule_opens_one(cluster, ns):
    cluster.apply([backend("web1", ns, "node1"), nodeport_service(ns)], wait=True)
    port = node_port(cluster, ns)
    assert cluster.firewall().startswith("Firewall off")
    assert ask(cluster, "node1", port)[0] == 0
    try:
        cluster.firewall("on")
        assert ask(cluster, "node1", port)[0] == TIMED_OUT
        text = cluster.firewall("allow", str(port))
        assert f"allow tcp:{port}" in text
        assert ask(cluster, "node1", port) == (0, "web1")
        cluster.firewall("deny", f"{port}/tcp")
        assert ask(cluster, "node1", port)[0] == TIMED_OUT
    finally:
        cluster.firewall("off")
    assert ask(cluster, "node1", port) == (0, "web1")
    assert "LAB-FIREWALL" not in cluster.host("gw", "iptables-save", "-t", "filter").stdout


def test_down_with_a_node_disconnected_leaves_nothing(cluster):
    cluster.disconnect_node("node3")
    run_dir = cluster.status()["run_dir"]
    cluster.down()
    assert not lifecycle.lab_left(run_dir)
    assert not lifecycle.find_links()
