"""The cloud service controller's decisions (k8s.io/cloud-provider controllers/service) and
the lab's cloud: addresses from the pool, the finalizer, status with ipMode, events in
upstream's words, cleanup on delete and type change, classes left alone, the pool spent,
loadBalancerIP, the retry schedule, the node set."""

from __future__ import annotations

import pytest

from lab_kit.controllers.service_lb import (
    FINALIZER,
    IP_MODE_ANNOTATION,
    Cloud,
    ServiceController,
    load_balancer_name,
    load_balancer_nodes,
    needs_update,
)
from lab_kit.controllers.state import Create, Update

NOW = 1_700_000_000.0


def svc(name: str = "web", rv: int = 1, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"0000-{name}",
            "resourceVersion": str(rv),
            "creationTimestamp": f"2024-01-01T00:00:{rv:02d}Z",
        },
        "spec": {
            "type": "LoadBalancer",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}],
            "externalTrafficPolicy": "Cluster",
            **spec,
        },
        "status": {"loadBalancer": {}},
    }


def node(name: str, **labels: str) -> dict:
    return {"kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {}}


NODES = [node("node1"), node("node2")]


def writes(work) -> list:
    return [a for w in work for a, required in w.actions if required]


def events(work) -> list[tuple[str, str, str]]:
    out = []
    for w in work:
        for a, required in w.actions:
            if not required:
                ev = a.obj
                out.append((ev["type"], ev["reason"], ev["message"]))
    return out


def applied(s: dict, work, rv: int) -> dict:
    """The Service as the API would hold it after the work's writes."""
    s = {**s, "metadata": dict(s["metadata"]), "status": dict(s["status"])}
    for a in writes(work):
        if a.subresource == "status":
            s["status"] = a.obj["status"]
        else:
            s["metadata"] = {**a.obj["metadata"], "resourceVersion": str(rv)}
    s["metadata"]["resourceVersion"] = str(rv)
    return s


def test_a_load_balancer_service_gets_the_finalizer_events_and_an_address_from_the_pool():
    c = ServiceController(Cloud("198.51.100.32/30"))
    work = c.sync([svc()], NODES, NOW)
    finalizer, status = writes(work)
    assert finalizer.subresource == "" and finalizer.obj["metadata"]["finalizers"] == [FINALIZER]
    assert finalizer.obj["metadata"]["resourceVersion"] == "1"  # a stale write is refused
    assert status.subresource == "status" and "resourceVersion" not in status.obj["metadata"]
    assert status.obj["status"]["loadBalancer"] == {
        "ingress": [{"ip": "198.51.100.32", "ipMode": "VIP"}]
    }
    assert events(work) == [
        ("Normal", "EnsuringLoadBalancer", "Ensuring load balancer"),
        ("Normal", "EnsuredLoadBalancer", "Ensured load balancer"),
    ]
    ev = next(a for w in work for a, r in w.actions if not r).obj
    assert ev["involvedObject"]["uid"] == "0000-web" and ev["source"] == {
        "component": "service-controller"
    }
    assert ev["metadata"]["namespace"] == "default" and ev["metadata"]["name"].startswith("web.")
    # its own writes coming back start no new sync
    assert c.sync([applied(svc(), work, 2)], NODES, NOW) == []
    assert c.cloud.get(svc()).nodes == ("node1", "node2")
    assert load_balancer_name(svc()) == "a0000web"


def test_services_of_another_class_and_other_types_are_left_alone():
    c = ServiceController(Cloud("198.51.100.32/30"))
    other = svc("other", loadBalancerClass="example.com/lb")
    plain = svc("plain", type="ClusterIP", ports=[{"port": 80}])
    assert c.sync([other, plain], NODES, NOW) == []
    assert c.cloud.balancers == {}


def test_load_balancer_ip_is_honoured_when_in_the_pool_and_free():
    c = ServiceController(Cloud("198.51.100.32/30"))
    work = c.sync([svc("a", loadBalancerIP="198.51.100.34")], NODES, NOW)
    assert writes(work)[1].obj["status"]["loadBalancer"]["ingress"][0]["ip"] == "198.51.100.34"
    work = c.sync(
        [svc("a", loadBalancerIP="198.51.100.34"), svc("b", loadBalancerIP="198.51.100.34")],
        NODES,
        NOW,
    )
    assert events(work)[-1] == (
        "Warning",
        "SyncLoadBalancerFailed",
        "Error syncing load balancer: failed to ensure load balancer: requested IP "
        "198.51.100.34 is in use by the load balancer of service default/a",
    )
    work = c.sync(
        [svc("a", loadBalancerIP="198.51.100.34"), svc("b", loadBalancerIP="203.0.113.5", rv=2)],
        NODES,
        NOW,
    )
    assert (
        "requested IP 203.0.113.5 is not in the cloud's pool 198.51.100.32/30"
        in events(work)[-1][2]
    )


def test_ip_mode_proxy_by_the_cloud_annotation_and_a_bad_value_refused():
    c = ServiceController(Cloud("198.51.100.32/30"))
    proxied = svc()
    proxied["metadata"]["annotations"] = {IP_MODE_ANNOTATION: "Proxy"}
    work = c.sync([proxied], NODES, NOW)
    assert writes(work)[1].obj["status"]["loadBalancer"]["ingress"][0]["ipMode"] == "Proxy"
    bad = svc("bad")
    bad["metadata"]["annotations"] = {IP_MODE_ANNOTATION: "proxy"}
    assert (
        'unsupported value "proxy": supported values: "VIP", "Proxy"'
        in events(c.sync([proxied, bad], NODES, NOW))[-1][2]
    )


def test_proxy_mode_needs_node_ports_vip_does_not():
    c = ServiceController(Cloud("198.51.100.32/30"))
    bare = svc("bare", allocateLoadBalancerNodePorts=False, ports=[{"port": 80, "protocol": "TCP"}])
    work = c.sync([bare], NODES, NOW)
    assert writes(work)[1].obj["status"]["loadBalancer"]["ingress"][0]["ipMode"] == "VIP"
    proxied = svc(
        "px", allocateLoadBalancerNodePorts=False, ports=[{"port": 80, "protocol": "TCP"}]
    )
    proxied["metadata"]["annotations"] = {IP_MODE_ANNOTATION: "Proxy"}
    msg = events(c.sync([bare, proxied], NODES, NOW))[-1][2]
    assert "ipMode Proxy opens connections to node ports, and port 80 has none" in msg


def test_the_pool_spent_leaves_the_service_pending_and_retries_with_back_off():
    c = ServiceController(Cloud("198.51.100.32/31"))  # two addresses
    a, b, third = svc("a"), svc("b"), svc("c")
    c.sync([a, b], NODES, NOW)
    work = c.sync([a, b, third], NODES, NOW)
    assert [type(x).__name__ for x in writes(work)] == ["Update"]  # the finalizer only
    assert events(work) == [
        ("Normal", "EnsuringLoadBalancer", "Ensuring load balancer"),
        (
            "Warning",
            "SyncLoadBalancerFailed",
            "Error syncing load balancer: failed to ensure load balancer: no address left in "
            "the pool 198.51.100.32/31: all 2 are in use",
        ),
    ]
    assert c.next_retry() == NOW + 5
    assert c.sync([a, b, third], NODES, NOW + 4.9) == []
    again = c.sync([a, b, third], NODES, NOW + 5)
    ensuring = next(x for w in again for x, r in w.actions if not r)
    assert isinstance(ensuring, Update) and ensuring.obj["count"] == 2  # counted, not new
    assert c.next_retry() == NOW + 5 + 10  # doubled
    # a is deleted (its finalizer released) and its address goes to c at c's next retry
    gone = svc("a", rv=5)
    gone["metadata"].update(finalizers=[FINALIZER], deletionTimestamp="2024-01-01T00:01:00Z")
    cleanup = c.sync([gone, b, third], NODES, NOW + 6)
    assert [e[1] for e in events(cleanup)] == ["DeletingLoadBalancer", "DeletedLoadBalancer"]
    assert "finalizers" not in writes(cleanup)[0].obj["metadata"]
    work = c.sync([b, third], NODES, NOW + 15)
    assert writes(work)[-1].obj["status"]["loadBalancer"]["ingress"][0]["ip"] == "198.51.100.32"


def test_a_type_change_releases_the_address_removes_the_finalizer_and_empties_status():
    c = ServiceController(Cloud("198.51.100.32/30"))
    work = c.sync([svc()], NODES, NOW)
    held = applied(svc(), work, 2)
    changed = {**held, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
    changed["metadata"] = {**held["metadata"], "resourceVersion": "3"}
    work = c.sync([changed], NODES, NOW)
    finalizer, status = writes(work)
    assert "finalizers" not in finalizer.obj["metadata"]
    assert status.obj["status"]["loadBalancer"] == {}
    assert [e[1] for e in events(work)] == ["DeletingLoadBalancer", "DeletedLoadBalancer"]
    assert c.cloud.balancers == {}


def test_a_service_gone_without_the_finalizer_is_cleaned_from_the_cache():
    c = ServiceController(Cloud("198.51.100.32/30"))
    c.sync([svc()], NODES, NOW)
    work = c.sync([], NODES, NOW)
    assert [e[1] for e in events(work)] == ["DeletingLoadBalancer", "DeletedLoadBalancer"]
    assert writes(work) == [] and c.cloud.balancers == {}


def test_conflict_retries_at_once_failure_after_five_seconds():
    c = ServiceController(Cloud("198.51.100.32/30"))
    c.sync([svc()], NODES, NOW)
    c.conflicted("default/web", NOW)
    assert c.next_retry() == NOW
    work = c.sync([svc()], NODES, NOW)
    assert [type(a).__name__ for a in writes(work)] == ["Update", "Update"]
    c.failed("default/web", NOW)
    assert c.next_retry() == NOW + 5


def test_after_a_restart_the_cloud_takes_back_the_addresses_the_status_shows():
    held = svc("b")
    held["metadata"]["finalizers"] = [FINALIZER]
    held["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.33", "ipMode": "VIP"}]}}
    c = ServiceController(Cloud("198.51.100.32/30"))
    work = c.sync([svc("a"), held], NODES, NOW)
    # b is ensured again (upstream re-ensures every Service at start), at the same address,
    # so its status is already right; a gets the first free one
    ips = {
        w.key: a.obj["status"]["loadBalancer"]["ingress"][0]["ip"]
        for w in work
        for a, r in w.actions
        if r and a.subresource == "status"
    }
    assert ips == {"default/a": "198.51.100.32"}
    assert c.cloud.get(held).ip == "198.51.100.33"


def test_node_set_changes_update_the_load_balancers():
    c = ServiceController(Cloud("198.51.100.32/30"))
    c.sync([svc()], NODES, NOW)
    excluded = node("node2", **{"node.kubernetes.io/exclude-from-external-load-balancers": "true"})
    work = c.sync([svc()], [NODES[0], excluded], NOW)
    assert events(work) == [
        ("Normal", "UpdatedLoadBalancer", "Updated load balancer with new hosts")
    ]
    assert c.cloud.get(svc()).nodes == ("node1",)
    work = c.sync([svc()], [], NOW)
    assert events(work) == [
        ("Warning", "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
    ]


@pytest.mark.parametrize(
    "labels, taints, included",
    [
        ({}, [], True),
        ({"node.kubernetes.io/exclude-from-external-load-balancers": "false"}, [], True),
        ({"node.kubernetes.io/exclude-from-external-load-balancers": ""}, [], False),
        ({"node.kubernetes.io/exclude-from-external-load-balancers": "T"}, [], False),
        ({}, [{"key": "ToBeDeletedByClusterAutoscaler", "effect": "NoSchedule"}], False),
    ],
)
def test_which_nodes_a_load_balancer_sends_to(labels, taints, included):
    n = {"kind": "Node", "metadata": {"name": "n", "labels": labels}, "spec": {"taints": taints}}
    notready = {**n, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert load_balancer_nodes([notready]) == (("n",) if included else ())


def test_needs_update_follows_upstream():
    base = svc()
    assert not needs_update(base, {**base, "metadata": {**base["metadata"], "labels": {"a": "b"}}})
    assert needs_update(base, {**base, "metadata": {**base["metadata"], "annotations": {"a": "b"}}})
    assert needs_update(base, svc(externalTrafficPolicy="Local"))
    assert needs_update(base, svc(ports=[{"port": 81, "protocol": "TCP"}]))
    assert not needs_update(svc(type="ClusterIP"), svc(type="NodePort"))


def test_a_repeated_event_is_counted_on_the_first():
    c = ServiceController(Cloud("198.51.100.32/31"))
    first = c.recorder.record(svc(), "Normal", "X", "m", NOW)
    again = c.recorder.record(svc(), "Normal", "X", "m", NOW + 3)
    assert isinstance(first, Create) and isinstance(again, Update)
    assert again.obj["metadata"]["name"] == first.obj["metadata"]["name"]
    assert (again.obj["count"], again.obj["firstTimestamp"], again.obj["lastTimestamp"]) == (
        2,
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:13:23Z",
    )
