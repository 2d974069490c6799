"""kube-proxy end to end (root): real packets through the rules each node's kube-proxy wrote.

The behaviours of the Kubernetes e2e suite's Service tests, in miniature: port ->
targetPort, spreading, refusal without endpoints, no ping, hairpin with masquerade,
source IP kept, affinity, readiness, selector-less Services, internalTrafficPolicy Local,
the opt-out label, metrics. One lab serves the module; each test has its own namespace.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from lab_kit.lab.errors import LabError
from lab_kit.render.proxy_rules import svc_chain

pytestmark = pytest.mark.root
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def backend(name, ns, node, app="web", ready_file=False, ports=None):
    """agnhost netexec on 8080 (named "http"); Ready once it listens (or, with
    `ready_file`, while /tmp/ready exists in the container's own /tmp)."""
    probe = (
        {"exec": {"command": ["test", "-e", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1}
        if ready_file
        else {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    )  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "c",
                    "image": AGNHOST,
                    "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
                    "ports": ports or [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": probe,
                }
            ],
        },
    }


def client(name, ns, node):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}],
        },
    }


def service(name, ns, ports=None, selector=None, **spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, **spec.pop("metadata", {})},
        "spec": {
            **({"selector": selector} if selector is not None else {"selector": {"app": "web"}}),
            "ports": ports or [{"port": 80, "targetPort": 8080}],
            **spec,
        },
    }


def cluster_ip(lab, name, ns):
    return lab.get("services", name, ns)["spec"]["clusterIP"]


def hostnames(lab, pod, ns, url, count):
    return Counter(lab.requests(pod, url, count, namespace=ns))


def test_clusterip_port_to_target_port_spreads_over_all_backends(cluster, ns):
    cluster.apply(
        [backend(f"web{i}", ns, f"node{i}") for i in (1, 2, 3)]
        + [client("c", ns, "node1"), service("web", ns)],
        wait=True,
    )
    ip = cluster_ip(cluster, "web", ns)
    # Rules are live once apply(wait=True) returns: no retry needed.
    seen = hostnames(cluster, "c", ns, f"http://{ip}/hostname", 60)
    assert set(seen) == {"web1", "web2", "web3"}  # P(missing one) = 3 * (2/3)^60, about 1e-10
    for node in ("node1", "node2", "node3"):
        rules = cluster.iptables(node, "nat")
        chain = svc_chain(f"{ns}/web", "tcp")
        assert (
            f'-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment "{ns}/web cluster IP" -m tcp --dport 80 -j {chain}'
            in rules
        )
        assert (
            rules.count(
                '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
            )
            == 1
        )


def test_no_endpoints_refuses_at_once_and_ping_gets_no_answer(cluster, ns):
    cluster.apply(
        [client("c", ns, "node1"), service("empty", ns, selector={"app": "nothing"})], wait=True
    )
    ip = cluster_ip(cluster, "empty", ns)
    t0 = time.monotonic()
    out = cluster.exec("c", "curl", "-s", "-m", "5", f"http://{ip}/", namespace=ns)
    assert out.returncode == 7  # curl: "Couldn't connect" = connection refused
    assert time.monotonic() - t0 < 2  # REJECT answers at once, no timeout
    assert f'"{ns}/empty has no endpoints"' in cluster.iptables("node1", "filter")
    ping = cluster.exec("c", "ping", "-c", "1", "-W", "1", ip, namespace=ns)
    assert ping.returncode != 0


def test_source_ip_kept_and_hairpin_masqueraded(cluster, ns):
    cluster.apply(
        [backend("solo", ns, "node2"), client("c", ns, "node1"), service("web", ns)], wait=True
    )
    ip = cluster_ip(cluster, "web", ns)
    client_ip = cluster.get("pods", "c", ns)["status"]["podIP"]
    seen = cluster.exec("c", "curl", "-s", f"http://{ip}/clientip", namespace=ns).stdout
    assert seen.rsplit(":", 1)[0] == client_ip  # pod -> ClusterIP: no SNAT
    # The only backend calls its own Service: the reply must come back through the node,
    # so kube-proxy masquerades it (KUBE-SEP's "-s <self> -j KUBE-MARK-MASQ").
    hairpin = cluster.exec(
        "solo", "curl", "-s", "-m", "3", f"http://{ip}/clientip", namespace=ns
    ).stdout
    assert hairpin.rsplit(":", 1)[0] == "10.244.2.1"  # node2's address on the pod's veth


def test_session_affinity_client_ip(cluster, ns):
    cluster.apply(
        [backend(f"web{i}", ns, f"node{i}") for i in (1, 2, 3)]
        + [client("c", ns, "node1"), service("sticky", ns, sessionAffinity="ClientIP")],
        wait=True,
    )
    ip = cluster_ip(cluster, "sticky", ns)
    seen = hostnames(cluster, "c", ns, f"http://{ip}/hostname", 15)
    assert len(seen) == 1 and sum(seen.values()) == 15  # the e2e test's 15 consecutive hits
    assert "--rcheck --seconds 10800 --reap" in cluster.service_rules("sticky", ns, "node1")


def test_unready_endpoint_leaves_rules_and_traffic(cluster, ns):
    pods = [backend(f"web{i}", ns, f"node{i}", ready_file=True) for i in (1, 2)]
    cluster.apply([*pods, client("c", ns, "node3"), service("web", ns)])
    for i in (1, 2):  # each pod's own /tmp: the file is made inside it
        _until(cluster, lambda i=i: touched(cluster, f"web{i}", ns, "/tmp/ready"))
    cluster.wait_ready(30, namespace=ns)
    ip = cluster_ip(cluster, "web", ns)
    assert cluster.exec("c", "test", "-e", "/tmp/ready", namespace=ns).returncode == 1  # not shared
    cluster.exec("web2", "rm", "/tmp/ready", namespace=ns)
    deadline = time.monotonic() + 20
    while "10.244.2." in cluster.service_rules("web", ns, "node3"):
        assert time.monotonic() < deadline, "web2 never left the rules"
        cluster.client.watch_change(cluster_kind("endpointslices"), 1)
    assert set(hostnames(cluster, "c", ns, f"http://{ip}/hostname", 20)) == {"web1"}


def touched(cluster, pod, ns, path):
    """`touch path` in the pod, once its container runs (False until then)."""
    try:
        return cluster.exec(pod, "touch", path, namespace=ns).returncode == 0
    except LabError:  # not started yet: no sandbox, or no container process
        return False


def _until(cluster, predicate, timeout_s=20.0):
    """Until `predicate()` holds, re-checking whenever a Pod changes (a container starting)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        left = deadline - time.monotonic()
        assert left > 0, "timed out"
        cluster.client.watch_change(cluster_kind("pods"), min(1.0, left))


def cluster_kind(name):
    from lab_kit.lab.lab import resolve_kind

    return resolve_kind(name)


def test_selectorless_service_with_manual_endpoints_to_an_outside_host(cluster, ns):
    server = cluster.start_on_host(
        "internet", "agnhost", "netexec", "--http-port=8090", "--udp-port=-1"
    )
    try:
        cluster.wait_listening("internet", 8090)
        cluster.apply([
            client("c", ns, "node1"),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "outside", "namespace": ns},
             "spec": {"ports": [{"port": 80, "targetPort": 8090}]}},
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "outside", "namespace": ns},
             "subsets": [{"addresses": [{"ip": "203.0.113.10"}], "ports": [{"port": 8090}]}]},
        ], wait=True)  # fmt: skip
        ip = cluster_ip(cluster, "outside", ns)
        out = cluster.exec("c", "curl", "-s", "-m", "3", f"http://{ip}/hostname", namespace=ns)
        assert out.returncode == 0 and out.stdout
    finally:
        cluster.stop_on_host(server)


def test_named_target_ports_on_a_multi_port_service(cluster, ns):
    ports_a = [{"name": "web", "containerPort": 8080}]
    cluster.apply([
        backend("a", ns, "node2", ports=ports_a), client("c", ns, "node1"),
        service("multi", ns, ports=[{"name": "http", "port": 80, "targetPort": "web"},
                                    {"name": "alt", "port": 8000, "targetPort": 8080}]),
    ], wait=True)  # fmt: skip
    ip = cluster_ip(cluster, "multi", ns)
    for port in (80, 8000):
        assert (
            cluster.exec("c", "curl", "-s", f"http://{ip}:{port}/hostname", namespace=ns).stdout
            == "a"
        )
    rules = cluster.service_rules("multi", ns, "node1")
    assert f'"{ns}/multi:http cluster IP"' in rules and f'"{ns}/multi:alt cluster IP"' in rules


def test_internal_traffic_policy_local(cluster, ns):
    cluster.apply([
        backend("web2", ns, "node2"), client("on2", ns, "node2"), client("on3", ns, "node3"),
        service("local", ns, internalTrafficPolicy="Local"),
    ], wait=True)  # fmt: skip
    ip = cluster_ip(cluster, "local", ns)
    assert (
        cluster.exec("on2", "curl", "-s", "-m", "3", f"http://{ip}/hostname", namespace=ns).stdout
        == "web2"
    )
    out = cluster.exec("on3", "curl", "-s", "-m", "1", f"http://{ip}/hostname", namespace=ns)
    assert out.returncode == 28  # DROP: a timeout, not a refusal
    assert f'"{ns}/local has no local endpoints"' in cluster.iptables("node3", "filter")


def test_service_proxy_name_label_turns_the_service_off(cluster, ns):
    cluster.apply(
        [backend("web1", ns, "node1"), client("c", ns, "node1"), service("web", ns)], wait=True
    )
    ip = cluster_ip(cluster, "web", ns)
    assert ip in cluster.iptables("node1", "nat")
    labelled = service(
        "web", ns, metadata={"labels": {"service.kubernetes.io/service-proxy-name": "other"}}
    )
    cluster.apply(labelled, wait=True)
    assert ip not in cluster.iptables("node1")
    out = cluster.exec("c", "curl", "-s", "-m", "1", f"http://{ip}/", namespace=ns)
    assert out.returncode != 0


def test_metrics_and_conntrack(cluster, ns):
    cluster.apply(
        [backend("web1", ns, "node2"), client("c", ns, "node1"), service("web", ns)], wait=True
    )
    ip = cluster_ip(cluster, "web", ns)
    assert cluster.exec("c", "curl", "-s", f"http://{ip}/hostname", namespace=ns).stdout == "web1"
    entries = cluster.conntrack("node1", "-p", "tcp", "--orig-dst", ip)
    assert entries and entries[0].original["dport"] == 80
    assert entries[0].reply["src"].startswith("10.244.2.") and entries[0].reply["sport"] == 8080
    metrics = cluster.proxy_metrics("node1")
    assert metrics["kubeproxy_sync_proxy_rules_duration_seconds_count"] >= 1
    assert "kubeproxy_network_programming_duration_seconds_count" in metrics


def test_cli_trace(cluster, ns, capsys):
    from lab_kit.cli.main import main

    cluster.apply(
        [backend(f"web{i}", ns, f"node{i}") for i in (1, 2)] + [service("web", ns)], wait=True
    )
    ip = cluster_ip(cluster, "web", ns)
    assert main(["trace", "node1", "10.244.1.200", f"{ip}:80", "--outcomes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["1/2", "1/2"]
    assert main(["trace", "node1", "10.244.1.200", f"{ip}:80"]) == 0
    assert "KUBE-SVC-" in capsys.readouterr().out
    assert main(["trace", "node1", "10.244.1.200", ip]) == 1  # tcp needs a port
    assert "needs a destination port" in capsys.readouterr().err
