"""Client-side discovery in a real lab: producers in pods register in the Eureka server
pod, a consumer pod calls them from its cache and retries past a dead one, the producers
register again after the registry restarts; and the consumer on the Kubernetes API."""

from __future__ import annotations

import time

import yaml

from lab_kit.lab.registry_lab import Consumer, Registry, failed, producer, wait_for

MANIFESTS = "labs/manifests/registry"


def docs(path: str, ns: str) -> list[dict]:
    with open(path) as f:
        found = [d for d in yaml.safe_load_all(f) if d]
    for d in found:
        d["metadata"]["namespace"] = ns
    return found


def in_ns(obj: dict, ns: str) -> dict:
    obj["metadata"]["namespace"] = ns
    return obj


def setup(cluster, ns: str, producers: int = 2) -> tuple[Registry, Consumer, list[str]]:
    cluster.apply(docs(f"{MANIFESTS}/eureka.yml", ns), wait=True)
    names = [f"producer-{n}" for n in range(producers)]
    cluster.apply([in_ns(producer(n, f"{MANIFESTS}/producers.yml"), ns) for n in names]
                  + docs(f"{MANIFESTS}/consumer.yml", ns), wait=True)  # fmt: skip
    reg, con = Registry(cluster, namespace=ns), Consumer(cluster, namespace=ns)
    ips = [cluster.get("pods", n, namespace=ns)["status"]["podIP"] for n in names]
    wanted = sorted(f"{ip}:8080" for ip in ips)
    wait_for(lambda: sorted(reg.instances()) == wanted, "the producers' registrations")
    wait_for(lambda: sorted(con.cache()["instances"]) == wanted, "the consumer's fetch", 15)
    return reg, con, ips


def test_producers_in_pods_register_and_the_consumer_calls_each(cluster, ns):
    reg, con, ips = setup(cluster, ns)
    apps = reg.apps()["applications"]["application"]
    assert [a["name"] for a in apps] == ["RANDOM-GENERATOR"]
    assert sorted(i["instanceId"] for i in apps[0]["instance"]) == sorted(
        f"{ip}:random-generator:8080" for ip in ips
    )
    start = time.time()
    calls = wait_for(lambda: (c := con.calls(since=start))[19:] and c, "20 calls")
    assert not failed(calls) and {c["instance"] for c in calls} == {f"{ip}:8080" for ip in ips}


def test_a_killed_producer_is_retried_past_then_evicted(cluster, ns):
    reg, con, ips = setup(cluster, ns, producers=3)
    dead = f"{ips[0]}:8080"
    killed = time.time()
    cluster.kill("producer-0", namespace=ns)
    retried = wait_for(lambda: [c for c in con.calls(since=killed) if c["retried_from"] == dead],
                       "a retry past the dead producer")  # fmt: skip
    assert retried[0]["ok"] and retried[0]["instance"] != dead
    wait_for(lambda: dead not in reg.instances(), "the eviction", 40)
    evicted = [e for e in reg.events(since=killed) if e["event"] == "evicted"]
    assert [e["instanceId"] for e in evicted] == [f"{ips[0]}:random-generator:8080"]
    assert evicted[0]["t"] - killed > 5  # the 5 s lease, counted twice after a renewal


def test_after_a_registry_restart_the_producers_register_again(cluster, ns):
    reg, con, ips = setup(cluster, ns)
    old = reg.pod
    restarted = time.time()
    cluster.delete("pods", old, namespace=ns)
    wait_for(lambda: reg.pod != old, "a new registry pod", 30)
    wait_for(lambda: len(reg.instances()) == 2, "the producers to register again", 30)
    assert {"renewed-unknown", "registered"} <= {e["event"] for e in reg.events()}
    wait_for(lambda: not con.cache()["last_error"], "a fetch that works", 15)
    calls = con.calls(since=restarted)
    assert calls and not failed(calls)  # the cache carried the consumer through


def test_the_consumer_on_the_kubernetes_api_follows_readiness(cluster, ns):
    cluster.apply(docs("labs/manifests/readiness-deployment.yml", ns)
                  + docs("labs/manifests/book/service.yml", ns)
                  + docs(f"{MANIFESTS}/k8s-consumer.yml", ns), wait=True)  # fmt: skip
    con = Consumer(cluster, "k8s-consumer", namespace=ns)
    pods = cluster.get("pods", selector="app=random-generator", namespace=ns)
    wait_for(lambda: len(con.cache()["instances"]) == 3, "the watch to list 3 ready pods", 20)
    target = pods[0]
    ip = target["status"]["podIP"]
    cluster.exec(target["metadata"]["name"], "curl", "-s", "-X", "POST",
                 "localhost:8080/toggle-ready", namespace=ns)  # fmt: skip
    wait_for(lambda: f"{ip}:8080" not in con.cache()["instances"], "the pod to leave", 10)
    assert len(con.cache()["instances"]) == 2 and con.cache()["registry"] == "kubernetes"
