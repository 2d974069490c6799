"""Fidelity fixes of issue 12, end to end (root): unknown destinations are silent (no ICMP
from the lab's router for a ClusterIP ping or a wrong Service port), a Secret's stringData
reaches a pod, and what lab_kit does not implement is named in a warning on apply."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.root
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def backend(ns: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
        "spec": {
            "nodeName": "node2",
            "containers": [
                {
                    "name": "c",
                    "image": AGNHOST,
                    "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                }
            ],
        },
    }


def client(ns: str, **spec: object) -> dict:
    container = {"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "c", "namespace": ns},
        "spec": {"nodeName": "node1", "containers": [container], **spec},
    }


def service(ns: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def _icmp_errors(packets) -> list:
    """ICMP other than the client's own echo requests (an unreachable, a reply)."""
    return [p for p in packets.filter(protocol="ICMP") if not p.summary.startswith("echo-request")]


def test_a_ping_to_a_cluster_ip_goes_unanswered(cluster, ns):
    """No rule matches ICMP to a ClusterIP: the echo leaves the node for the router, which
    drops it silently (before: "Destination Net Unreachable" from 172.18.0.1)."""
    cluster.apply([backend(ns), client(ns), service(ns)], wait=True)
    ip = cluster.get("services", "web", ns)["spec"]["clusterIP"]
    with cluster.capture("c", namespace=ns, packet_filter="icmp") as cap:
        ping = cluster.exec("c", "ping", "-c", "2", "-W", "1", ip, namespace=ns)
    assert ping.returncode != 0 and "nreachable" not in ping.stdout + ping.stderr
    packets = cap.packets()
    assert [p for p in packets.filter(protocol="ICMP") if p.summary.startswith("echo-request")]
    assert _icmp_errors(packets) == []


def test_a_wrong_service_port_times_out_silently(cluster, ns):
    """Port 81 of a Service that serves 80 matches no rule either: a real network leaves
    the client waiting (curl's timeout, 28), not refused (7) by an ICMP error."""
    cluster.apply([backend(ns), client(ns), service(ns)], wait=True)
    ip = cluster.get("services", "web", ns)["spec"]["clusterIP"]
    with cluster.capture("c", namespace=ns, packet_filter="icmp or tcp port 81") as cap:
        wrong = cluster.exec("c", "curl", "-sS", "-m", "2", f"http://{ip}:81/", namespace=ns)
    assert wrong.returncode == 28, wrong.stderr  # timed out
    assert _icmp_errors(cap.packets()) == []
    assert cap.packets().syns()  # the SYN did leave
    right = cluster.exec("c", "curl", "-sS", "-m", "5", f"http://{ip}/hostname", namespace=ns)
    assert right.returncode == 0 and right.stdout.strip() == "web"


def test_an_outside_host_gets_no_icmp_for_an_address_nobody_has(cluster):
    ping = cluster.host("client", "ping", "-c", "1", "-W", "1", "10.96.0.1")
    assert ping.returncode != 0 and "nreachable" not in ping.stdout + ping.stderr


def test_a_pod_reads_a_secret_written_with_string_data(cluster, ns):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": ns},
        "stringData": {"password": "hunter2"},
    }
    env = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]
    cluster.apply([secret, client(ns, container={"env": env})], wait=True)
    stored = cluster.get("secrets", "creds", ns)
    assert "stringData" not in stored and stored["data"] == {"password": "aHVudGVyMg=="}
    assert cluster.get("pods", "c", ns)["status"]["phase"] == "Running"
    assert cluster.exec("c", "printenv", "PW", namespace=ns).stdout.strip() == "hunter2"


def test_apply_names_what_lab_kit_does_not_implement(cluster, ns, capsys):
    limits = {"resources": {"limits": {"memory": "64Mi"}}}
    lines = cluster.apply(client(ns, container=limits))
    assert lines == ["pod/c created"]
    assert capsys.readouterr().err == (
        "Warning: spec.containers[0].resources: not implemented by lab_kit: no cgroups: "
        "limits are not enforced and the scheduler counts no requests (they only set "
        "status.qosClass)\n"
    )
