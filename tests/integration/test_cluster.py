"""The emulated cluster end to end (root): nodes, pods, kubelet behaviour, clean teardown.

One lab serves the whole module (bringing a cluster up takes about two seconds); each test
works in its own namespace so tests do not see each other's objects.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lab_kit import LabError

pytestmark = pytest.mark.root


def pod(name, ns, image="registry.k8s.io/e2e-test-images/agnhost:2.53", args=None, **spec):
    c = {"name": "c", "image": image}
    if args:
        c["args"] = args
    c.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"containers": [c], **spec},
    }


def netexec(name, ns, node):
    return pod(
        name,
        ns,
        args=["netexec", "--http-port=8080"],
        nodeName=node,
        # Ready only once it listens, so `wait=True` means "serving" (as on a real cluster).
        container={
            "ports": [{"containerPort": 8080}],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
        },
    )


def test_nodes_are_ready_with_their_pod_cidrs(cluster):
    nodes = cluster.get("nodes")
    assert [(n["metadata"]["name"], n["spec"]["podCIDR"]) for n in nodes] == [
        ("node1", "10.244.1.0/24"),
        ("node2", "10.244.2.0/24"),
        ("node3", "10.244.3.0/24"),
    ]
    assert all(
        c["status"] == "True"
        for n in nodes
        for c in n["status"]["conditions"]
        if c["type"] == "Ready"
    )


def test_pod_to_pod_across_nodes_and_within_a_node(cluster, ns):
    cluster.apply(
        [netexec("a", ns, "node1"), netexec("b", ns, "node2"), netexec("c", ns, "node1")],
        wait=True,
        timeout_s=30,
    )
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in cluster.get("pods", namespace=ns)}
    assert ips["a"].startswith("10.244.1.") and ips["b"].startswith("10.244.2.")
    for target in ("b", "c"):
        r = cluster.exec(
            "a",
            "curl",
            "-s",
            "--max-time",
            "5",
            f"http://{ips[target]}:8080/hostname",
            namespace=ns,
        )
        assert (r.returncode, r.stdout) == (0, target)
    # the server sees the client pod's own address: no NAT between pods
    r = cluster.exec(
        "b", "curl", "-s", "--max-time", "5", f"http://{ips['a']}:8080/clientip", namespace=ns
    )
    assert r.stdout.split(":")[0] == ips["b"]


def test_per_pod_hostname_resolv_conf_and_hosts(cluster, ns):
    cluster.apply(netexec("web", ns, "node3"), wait=True, timeout_s=30)
    assert cluster.exec("web", "hostname", namespace=ns).stdout.strip() == "web"
    resolv = cluster.exec("web", "cat", "/etc/resolv.conf", namespace=ns).stdout
    assert resolv.splitlines() == [  # containerd writes search first
        f"search {ns}.svc.cluster.local svc.cluster.local cluster.local",
        "nameserver 10.96.0.10",
        "options ndots:5",
    ]
    hosts = cluster.exec("web", "cat", "/etc/hosts", namespace=ns).stdout
    ip = cluster.get("pod", "web", ns)["status"]["podIP"]
    assert hosts.startswith("# Kubernetes-managed hosts file.") and f"{ip}\tweb" in hosts
    # the machine's own files are untouched
    with open("/etc/resolv.conf") as f:
        assert "10.96.0.10" not in f.read()


def _env(cluster, name, ns):
    out = cluster.exec(name, "env", namespace=ns).stdout
    return {
        line.split("=", 1)[0]: line.split("=", 1)[1] for line in out.splitlines() if "=" in line
    }


def test_service_env_vars_exist_only_for_services_older_than_the_pod(cluster, ns):
    cluster.apply(netexec("early", ns, "node1"), wait=True, timeout_s=30)
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "redis-primary", "namespace": ns},
        "spec": {"selector": {"app": "none"}, "ports": [{"port": 6379}]},
    }
    cluster.apply(svc)
    cluster.apply(netexec("late", ns, "node2"), wait=True, timeout_s=30)
    ip = cluster.get("svc", "redis-primary", ns)["spec"]["clusterIP"]
    late = {k: v for k, v in _env(cluster, "late", ns).items() if k.startswith("REDIS_PRIMARY")}
    assert late == {
        "REDIS_PRIMARY_SERVICE_HOST": ip,
        "REDIS_PRIMARY_SERVICE_PORT": "6379",
        "REDIS_PRIMARY_PORT": f"tcp://{ip}:6379",
        "REDIS_PRIMARY_PORT_6379_TCP": f"tcp://{ip}:6379",
        "REDIS_PRIMARY_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_6379_TCP_PORT": "6379",
        "REDIS_PRIMARY_PORT_6379_TCP_ADDR": ip,
    }
    early = _env(cluster, "early", ns)
    assert not any(k.startswith("REDIS_PRIMARY") for k in early)
    assert early["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"


def test_readiness_moves_a_pod_in_and_out_of_the_endpointslice(cluster, ns):
    probe = {"exec": {"command": ["cat", "/opt/random-generator-ready"]}, "periodSeconds": 1}
    p = pod(
        "rg",
        ns,
        image="k8spatterns/random-generator:1.0",
        nodeName="node2",
        container={"readinessProbe": probe, "ports": [{"containerPort": 8080}]},
    )
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "rg", "namespace": ns},
        "spec": {"selector": {"app": "rg"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    cluster.apply([p, svc], wait=True, timeout_s=30)

    def ready_in_slice():
        slices = cluster.get(
            "endpointslices", namespace=ns, selector="kubernetes.io/service-name=rg"
        )
        return [e["conditions"]["ready"] for s in slices for e in s.get("endpoints") or []]

    assert ready_in_slice() == [True]
    ip = cluster.get("pod", "rg", ns)["status"]["podIP"]
    cluster.host("node2", "curl", "-s", f"http://{ip}:8080/toggle-ready")
    _wait_for(cluster, lambda: ready_in_slice() == [False], "the pod to leave the ready endpoints")
    cluster.host("node2", "curl", "-s", f"http://{ip}:8080/toggle-ready")
    _wait_for(cluster, lambda: ready_in_slice() == [True], "the pod to come back")


def test_liveness_failure_restarts_the_container(cluster, ns):
    probe = {
        "httpGet": {"path": "/actuator/health", "port": 8080},
        "initialDelaySeconds": 1,
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    p = pod(
        "live",
        ns,
        image="k8spatterns/random-generator:1.0",
        nodeName="node3",
        container={
            "livenessProbe": probe,
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
        },
    )
    cluster.apply(p, wait=True, timeout_s=30)
    ip = cluster.get("pod", "live", ns)["status"]["podIP"]
    assert cluster.host("node3", "curl", "-sf", f"http://{ip}:8080/toggle-live").returncode == 0

    def restarts():
        statuses = cluster.get("pod", "live", ns)["status"].get("containerStatuses") or [{}]
        return statuses[0].get("restartCount", 0)

    _wait_for(cluster, lambda: restarts() >= 1, "the container to be restarted", timeout_s=30)
    cluster.wait_ready(30, namespace=ns)
    assert "/actuator/health" in cluster.logs("live", ns, previous=True)  # the probes it answered


def test_unknown_image_gives_a_waiting_reason_not_a_crash(cluster, ns):
    cluster.apply(pod("odd", ns, image="httpd:2.4", nodeName="node1"))

    def waiting():
        statuses = cluster.get("pod", "odd", ns)["status"].get("containerStatuses") or [{}]
        return (statuses[0].get("state") or {}).get("waiting") or {}

    _wait_for(cluster, lambda: waiting().get("reason") == "ErrImagePull", "the waiting reason")
    assert "httpd:2.4" in waiting()["message"]
    with pytest.raises(LabError) as e:
        cluster.wait_ready(3, namespace=ns)
    assert "odd: ErrImagePull" in str(e.value)


def test_deleting_a_pod_stops_it_and_removes_its_sandbox(cluster, ns):
    cluster.apply(netexec("gone", ns, "node1"), wait=True, timeout_s=30)
    pause = cluster.sandbox("gone", ns)["pause"]["pid"]
    cluster.delete("pod", "gone", ns)
    _wait_for(
        cluster,
        lambda: not any(p["metadata"]["name"] == "gone" for p in cluster.get("pods", namespace=ns)),
        "the pod to be deleted",
    )
    assert (
        not os.path.exists(f"/proc/{pause}")
        or Path(f"/proc/{pause}/stat").read_text().split()[2] == "Z"
    )


def _wait_for(cluster, predicate, what, timeout_s=20):
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {what}")
        cluster.client.watch_change(cluster_kind("pods"), min(left, 5))


def cluster_kind(name):
    from lab_kit.model.kinds import lookup

    return lookup(name)


def _labkit(*args, stdin=None):
    import sys

    return subprocess.run(
        [sys.executable, "-m", "lab_kit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )


def test_cli_exec_host_run_logs_and_shell(cluster, ns):
    cluster.apply(netexec("srv", ns, "node2"), wait=True, timeout_s=30)
    ip = cluster.get("pod", "srv", ns)["status"]["podIP"]
    r = _labkit("exec", "-n", ns, "srv", "--", "sh", "-c", "hostname; exit 4")
    assert (r.returncode, r.stdout) == (4, "srv\n")
    r = _labkit("host", "node1", "--", "ip", "route", "show", "10.244.2.0/24")
    assert r.stdout.strip() == "10.244.2.0/24 via 172.18.0.3 dev node1-eth0"
    r = _labkit("host", "client", "--", "ping", "-c1", "-W2", "172.18.0.2")
    assert r.returncode == 0  # the outside world reaches the nodes through gw
    r = _labkit(
        "run",
        "-n",
        ns,
        "dbg",
        "--image=busybox",
        "--restart=Never",
        "-i",
        "--rm",
        "--",
        "wget",
        "-qO-",
        f"http://{ip}:8080/hostname",
    )
    assert r.returncode == 0 and "srv" in r.stdout and 'pod "dbg" deleted' in r.stdout
    logs = _labkit("logs", "-n", ns, "srv")
    assert logs.returncode == 0 and "Started HTTP server on port 8080" in logs.stdout
    shell = _labkit("cli", stdin=f"node3 hostname -I\nget pods -n {ns}\nnosuch\nexit\n")
    assert (
        "172.18.0.4" in shell.stdout
        and "srv" in shell.stdout
        and "unknown command or host: nosuch" in shell.stdout
    )
