"""Knative Serving in a real lab (the ingress and knative addons): a Knative Service scales
to zero with its URL unchanged, answers from zero through the activator with every one of
10 concurrent requests a 200, and splits traffic 90/10 over Revisions within 5 points."""

from __future__ import annotations

import pytest

from lab_kit.lab import knative_lab, lifecycle

MANIFESTS = "labs/manifests/knative"


@pytest.fixture(scope="module")
def knative(cluster):
    for addon in ("ingress", "knative"):
        assert lifecycle.enable_addon(addon, progress=lambda *_: None)
    cluster.apply(f"{MANIFESTS}/config-autoscaler.yml", wait=True)
    return cluster, knative_lab.ingress_address(cluster)


def ready(obj: dict) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in obj.get("status", {}).get("conditions", [])
    )


def test_scale_to_zero_and_back_through_the_activator(knative):
    lab, address = knative
    lab.apply(f"{MANIFESTS}/hello.yml", wait=True)
    knative_lab.wait_ready(lab, "hello")
    url = lab.get("ksvc", "hello")["status"]["url"]
    assert url == "http://hello.default.example.com"
    warm = knative_lab.call(address, "hello.default.example.com")
    assert warm.statuses() == [200] and warm[0].body == "Hello v1!\n"
    knative_lab.wait_pods(lab, "hello-00001", 0, timeout_s=40)  # 6 s window + 6 s grace
    assert lab.get("ksvc", "hello")["status"]["url"] == url and ready(lab.get("ksvc", "hello"))
    assert lab.get("sks", "hello-00001")["spec"]["mode"] == "Proxy"
    activator = lab.get("pods", namespace="knative-serving", selector="app=activator")[0]
    eps = lab.get("endpoints", "hello-00001")
    assert [a["ip"] for a in eps["subsets"][0]["addresses"]] == [activator["status"]["podIP"]]
    cold = knative_lab.call(address, "hello.default.example.com", count=10, parallel=True)
    assert cold.statuses() == [200] * 10, cold
    assert all(c.body == "Hello v1!\n" for c in cold)
    assert min(cold.seconds()) > 0.2  # every one waited for the cold start
    assert len(knative_lab.revision_pods(lab, "hello-00001")) >= 1


def test_pods_reach_the_cluster_local_name_through_the_gateway(knative):
    lab, _ = knative
    lab.apply(f"{MANIFESTS}/hello.yml", wait=True)
    placeholder = lab.get("services", "hello")
    assert placeholder["spec"]["type"] == "ExternalName"
    gateway = "knative-local-gateway.knative-serving.svc.cluster.local"
    assert placeholder["spec"]["externalName"] == gateway
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "caller", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "curlimages/curl", "command": ["sleep", "infinity"]}]}}  # fmt: skip
    lab.apply(pod, wait=True)
    lab.wait_ready()
    knative_lab.wait_ready(lab, "hello")
    for name in ("hello.default.svc.cluster.local", "hello.default.svc", "hello.default"):
        answer = lab.exec("caller", "curl", "-s", "-m", "20", f"http://{name}/")
        assert (answer.returncode, answer.stdout) == (0, "Hello v1!\n"), (name, answer)


def test_traffic_splits_ninety_ten_within_five_points(knative):
    lab, address = knative
    lab.apply(f"{MANIFESTS}/hello.yml", wait=True)
    lab.apply(f"{MANIFESTS}/hello-v2.yml", wait=True)
    knative_lab.wait_ready(lab, "hello", "hello-00002")
    traffic = lab.get("routes", "hello")["status"]["traffic"]
    assert [(t["revisionName"], t["percent"]) for t in traffic] == [
        ("hello-00001", 90),
        ("hello-00002", 10),
    ]
    calls = knative_lab.call(address, "hello.default.example.com", count=500)
    counts = knative_lab.split(calls)
    assert sum(counts.values()) == 500, counts
    assert abs(counts.get("Hello v2!", 0) / 500 - 0.10) <= 0.05, counts
    tagged = knative_lab.call(address, "candidate-hello.default.example.com", count=5)
    assert knative_lab.split(tagged) == {"Hello v2!": 5}
