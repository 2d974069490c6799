"""Node lifecycle controller: a silent kubelet's Node goes Unknown after the grace period,
the pods on it stop being Ready, and the Endpoints controller then lists them not ready."""

from __future__ import annotations

from ctrl_objects import NOW, pod, service, ts

from lab_kit.controllers import endpoints as epc
from lab_kit.controllers import manager
from lab_kit.controllers import node_lifecycle as nlc
from lab_kit.controllers.state import Snapshot, Update

GRACE = nlc.NODE_MONITOR_GRACE_PERIOD_S


def kubelet_node(name: str, heartbeat: float, ready: str = "True") -> dict:
    """A Node as the lab's kubelet posts it: Ready and the pressure conditions, each with
    the heartbeat time."""
    conditions = [
        {
            "type": t,
            "status": s,
            "reason": f"Kubelet{t}",
            "message": "from the kubelet",
            "lastHeartbeatTime": ts(heartbeat),
            "lastTransitionTime": ts(-600),
        }
        for t, s in (("MemoryPressure", "False"), ("DiskPressure", "False"), ("Ready", ready))
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "uid": f"node-{name}", "resourceVersion": "7"},
        "status": {"conditions": conditions},
    }


def web_pod(name: str, node: str, ready: bool = True) -> dict:
    return pod(name, labels={"app": "web"}, node=node, ip="10.244.1.5", ready=ready)


def updated(actions: list, kind: str) -> dict[str, dict]:
    return {
        a.obj["metadata"]["name"]: a.obj
        for a in actions
        if isinstance(a, Update) and a.obj["kind"] == kind
    }


def condition(obj: dict, ctype: str) -> dict:
    return next(c for c in obj["status"]["conditions"] if c["type"] == ctype)


def test_the_default_grace_period_is_kubernetes_one():
    assert GRACE == 50.0  # kube-controller-manager's default since v1.32 (was 40 s)


def test_a_node_heard_from_within_the_grace_period_is_left_alone():
    state = Snapshot.of([kubelet_node("n1", heartbeat=0), web_pod("a", "n1")])
    assert nlc.reconcile(state, NOW + GRACE) == []


def test_a_silent_node_goes_unknown_after_the_grace_period():
    state = Snapshot.of([kubelet_node("n1", heartbeat=0)])
    actions = nlc.reconcile(state, NOW + GRACE + 1)
    node = updated(actions, "Node")["n1"]
    assert all(a.subresource == "status" for a in actions)
    for ctype in ("Ready", "MemoryPressure", "DiskPressure"):
        cond = condition(node, ctype)
        assert cond["status"] == "Unknown"
        assert cond["reason"] == "NodeStatusUnknown"
        assert cond["message"] == "Kubelet stopped posting node status."
        assert cond["lastTransitionTime"] == ts(GRACE + 1)
        assert cond["lastHeartbeatTime"] == ts(0)  # the kubelet's last, kept
    assert node["metadata"]["resourceVersion"] == "7"  # computed from what it read


def test_the_pods_on_a_silent_node_stop_being_ready_and_others_do_not():
    state = Snapshot.of(
        [
            kubelet_node("n1", heartbeat=0),
            kubelet_node("n2", heartbeat=GRACE),
            web_pod("on-n1", "n1"),
            web_pod("on-n2", "n2"),
        ]
    )
    pods = updated(nlc.reconcile(state, NOW + GRACE + 1), "Pod")
    assert set(pods) == {"on-n1"}
    ready = condition(pods["on-n1"], "Ready")
    assert ready["status"] == "False"
    assert ready["lastTransitionTime"] == ts(GRACE + 1)


def test_once_marked_nothing_more_is_written():
    node = kubelet_node("n1", heartbeat=0)
    first = updated(nlc.reconcile(Snapshot.of([node]), NOW + GRACE + 1), "Node")["n1"]
    marked_pod = web_pod("a", "n1", ready=False)
    assert nlc.reconcile(Snapshot.of([first, marked_pod]), NOW + GRACE + 30) == []


def test_a_pod_bound_later_to_a_not_ready_node_is_marked_too():
    unknown = kubelet_node("n1", heartbeat=0, ready="Unknown")
    pods = updated(nlc.reconcile(Snapshot.of([unknown, web_pod("late", "n1")]), NOW + 60), "Pod")
    assert condition(pods["late"], "Ready")["status"] == "False"


def test_a_node_without_a_heartbeat_time_is_not_watched():
    hand_made = kubelet_node("n1", heartbeat=0)
    for cond in hand_made["status"]["conditions"]:
        del cond["lastHeartbeatTime"]
    assert nlc.reconcile(Snapshot.of([hand_made, web_pod("a", "n1")]), NOW + 3600) == []


def test_a_shorter_grace_period_can_be_asked_for():
    state = Snapshot.of([kubelet_node("n1", heartbeat=0)])
    assert nlc.monitor_node_health(state, NOW + 11, grace_s=10)
    assert not nlc.monitor_node_health(state, NOW + 11, grace_s=GRACE)


def test_the_endpoints_of_a_silent_nodes_pods_become_not_ready():
    """The chain a lab shows: node silent -> pod not Ready -> endpoint not ready."""
    web = service("web", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}])
    objs = [kubelet_node("n1", heartbeat=0), web, web_pod("a", "n1")]
    marked = updated(nlc.reconcile(Snapshot.of(objs), NOW + GRACE + 1), "Pod")["a"]
    action = epc.sync_service(Snapshot.of([objs[0], web, marked]), web)
    assert action is not None
    subset = action.obj["subsets"][0]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.244.1.5"]
    assert not subset.get("addresses")


def test_the_manager_runs_it_first():
    assert manager.CONTROLLERS[0] == ("node_lifecycle", nlc.reconcile)
