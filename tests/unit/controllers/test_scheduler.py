"""kube-scheduler, reduced: which node each pending pod lands on, and why not."""

from __future__ import annotations

from collections import Counter

import pytest
from ctrl_objects import NOW, node, pod

from lab_kit.controllers import scheduler
from lab_kit.controllers.state import Snapshot, Update

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def bindings(actions) -> dict[str, str]:
    return {
        a.obj["metadata"]["name"]: a.obj["spec"]["nodeName"]
        for a in actions
        if isinstance(a, Update) and a.subresource == "binding"
    }


def three_nodes(**overrides) -> list[dict]:
    return [overrides.get(n, node(n)) for n in ("n1", "n2", "n3")]


def affinity(*expressions) -> dict:
    terms = [{"matchExpressions": list(expressions)}]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }
    }


PLACEMENT = [
    (
        "4 replicas over 3 nodes spread 2/1/1",
        three_nodes(),
        [pod(f"web-{i}", created=i) for i in range(4)],
        {"web-0": "n1", "web-1": "n2", "web-2": "n3", "web-3": "n1"},
    ),
    (
        "a busy node gets the new pods last",
        three_nodes(),
        [
            pod("old-1", node="n1"),
            pod("old-2", node="n1"),
            pod("a", created=1),
            pod("b", created=2),
        ],
        {"a": "n2", "b": "n3"},
    ),
    (
        "finished pods no longer occupy a node",
        three_nodes(),
        [pod("done", node="n1", phase="Succeeded"), pod("a")],
        {"a": "n1"},
    ),
    (
        "nodeSelector picks the labelled node",
        three_nodes(n2=node("n2", labels={"disk": "ssd"})),
        [pod("db", nodeSelector={"disk": "ssd"})],
        {"db": "n2"},
    ),
    (
        "required node affinity In",
        three_nodes(n3=node("n3", labels={"zone": "b"})),
        [pod("p", affinity=affinity({"key": "zone", "operator": "In", "values": ["b", "c"]}))],
        {"p": "n3"},
    ),
    (
        "required node affinity NotIn avoids the listed value",
        three_nodes(n1=node("n1", labels={"zone": "a"}), n2=node("n2", labels={"zone": "a"})),
        [pod("p", affinity=affinity({"key": "zone", "operator": "NotIn", "values": ["a"]}))],
        {"p": "n3"},
    ),
    (
        "required node affinity Exists",
        three_nodes(n2=node("n2", labels={"gpu": "1"})),
        [pod("p", affinity=affinity({"key": "gpu", "operator": "Exists"}))],
        {"p": "n2"},
    ),
    (
        "required node affinity DoesNotExist",
        three_nodes(n1=node("n1", labels={"gpu": "1"}), n2=node("n2", labels={"gpu": "1"})),
        [pod("p", affinity=affinity({"key": "gpu", "operator": "DoesNotExist"}))],
        {"p": "n3"},
    ),
    (
        "control-plane taint is avoided",
        three_nodes(n1=node("n1", taints=[CONTROL_PLANE_TAINT])),
        [pod("a"), pod("b", created=1)],
        {"a": "n2", "b": "n3"},
    ),
    (
        "a pod tolerating the control-plane taint may land there",
        [node("n1", taints=[CONTROL_PLANE_TAINT])],
        [
            pod(
                "a",
                tolerations=[
                    {
                        "key": "node-role.kubernetes.io/control-plane",
                        "operator": "Exists",
                        "effect": "NoSchedule",
                    }
                ],
            )
        ],
        {"a": "n1"},
    ),
    (
        "PreferNoSchedule taints do not filter",
        [node("n1", taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}])],
        [pod("a")],
        {"a": "n1"},
    ),
    (
        "cordoned node is skipped",
        three_nodes(n1=node("n1", unschedulable=True)),
        [pod("a")],
        {"a": "n2"},
    ),
    (
        "NotReady node is skipped",
        three_nodes(n1=node("n1", ready="False")),
        [pod("a")],
        {"a": "n2"},
    ),
    (
        "higher priority pods are placed first",
        [node("n1")],
        [pod("low", created=0), pod("high", created=5, priority=1000)],
        {"high": "n1", "low": "n1"},
    ),
    ("a pod already bound is left alone", three_nodes(), [pod("bound", node="n3")], {}),
    ("a terminating pending pod is left alone", three_nodes(), [pod("gone", deleting=True)], {}),
    (
        "a pod for another scheduler is left alone",
        three_nodes(),
        [pod("x", schedulerName="my-scheduler")],
        {},
    ),
]


@pytest.mark.parametrize(
    "nodes,pods,expected", [c[1:] for c in PLACEMENT], ids=[c[0] for c in PLACEMENT]
)
def test_placement(nodes, pods, expected):
    actions = scheduler.reconcile(Snapshot.of(nodes + pods), NOW)
    assert list(bindings(actions).items()) == list(expected.items())  # queue order matters too


def test_binding_is_a_copy_with_only_node_name_set():
    p = pod("a")
    action, scheduled = scheduler.reconcile(Snapshot.of([node("n1"), p]), NOW)
    assert action.subresource == "binding"
    assert action.obj["spec"] == {**p["spec"], "nodeName": "n1"}
    assert "nodeName" not in p["spec"]  # the snapshot's object is untouched
    event = scheduled.obj  # kube-scheduler's Normal "Scheduled" event, with the binding
    assert (event["kind"], event["type"], event["reason"]) == ("Event", "Normal", "Scheduled")
    assert (
        event["message"]
        == f"Successfully assigned {p['metadata'].get('namespace', 'default')}/a to n1"
    )
    assert event["source"] == {"component": "default-scheduler"}
    assert event["involvedObject"]["name"] == "a" and event["involvedObject"]["kind"] == "Pod"


def test_spread_counts_4_over_3():
    actions = scheduler.reconcile(
        Snapshot.of(three_nodes() + [pod(f"w{i}", created=i) for i in range(4)]), NOW
    )
    assert sorted(Counter(bindings(actions).values()).values()) == [1, 1, 2]


UNSCHEDULABLE = [
    ("no nodes at all", [], "no nodes available to schedule pods"),
    (
        "no Ready nodes → untolerated not-ready taint",
        [node("n1", ready="False"), node("n2", ready="False"), node("n3", ready=None)],
        "0/3 nodes are available: 3 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
    ),
    (
        "unreachable node",
        [node("n1", ready="Unknown")],
        "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
    ),
    (
        "selector matches nothing",
        three_nodes(),
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
    ),
    (
        "reasons are counted and sorted",
        [node("n1", taints=[CONTROL_PLANE_TAINT]), node("n2"), node("n3", unschedulable=True)],
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "1 node(s) were unschedulable.",
    ),
]


@pytest.mark.parametrize(
    "nodes,message", [c[1:] for c in UNSCHEDULABLE], ids=[c[0] for c in UNSCHEDULABLE]
)
def test_unschedulable_condition(nodes, message):
    p = (
        pod("lonely", nodeSelector={"disk": "ssd"})
        if "selector" in message or "match" in message
        else pod("lonely")
    )
    (action,) = scheduler.reconcile(Snapshot.of([*nodes, p]), NOW)
    assert action.subresource == "status"
    (cond,) = [c for c in action.obj["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert cond == {
        "type": "PodScheduled",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": "2023-11-14T22:13:20Z",
        "reason": "Unschedulable",
        "message": message,
    }
    assert action.obj["status"]["phase"] == "Pending"


def test_unschedulable_condition_written_only_when_it_changes():
    nodes = [node("n1", ready="False")]
    (first,) = scheduler.reconcile(Snapshot.of([*nodes, pod("p")]), NOW)
    assert scheduler.reconcile(Snapshot.of([*nodes, first.obj]), NOW + 60) == []
    # A new node that does not fit either: same reason family, new message, same transition time.
    (second,) = scheduler.reconcile(
        Snapshot.of([*nodes, node("n2", ready="False"), first.obj]), NOW + 60
    )
    (cond,) = second.obj["status"]["conditions"]
    assert cond["message"].startswith("0/2 nodes are available: 2 node(s)")
    assert cond["lastTransitionTime"] == "2023-11-14T22:13:20Z"


TOLERATIONS = [
    (
        "Equal with matching key, value and effect",
        {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
        True,
    ),
    ("empty operator means Equal", {"key": "k", "value": "v"}, True),
    ("Equal with another value", {"key": "k", "operator": "Equal", "value": "w"}, False),
    ("Exists on the key, any value", {"key": "k", "operator": "Exists"}, True),
    ("Exists without key tolerates every taint", {"operator": "Exists"}, True),
    (
        "effect must match when given",
        {"key": "k", "operator": "Exists", "effect": "NoExecute"},
        False,
    ),
    ("key must match when given", {"key": "other", "operator": "Exists"}, False),
]


@pytest.mark.parametrize(
    "toleration,expected", [c[1:] for c in TOLERATIONS], ids=[c[0] for c in TOLERATIONS]
)
def test_toleration_matching(toleration, expected):
    assert (
        scheduler.tolerates([toleration], {"key": "k", "value": "v", "effect": "NoSchedule"})
        is expected
    )


def test_gt_lt_and_match_fields():
    n = node("n7", labels={"cores": "8"})
    gt = affinity({"key": "cores", "operator": "Gt", "values": ["4"]})
    lt = affinity({"key": "cores", "operator": "Lt", "values": ["4"]})
    by_name = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}
                ]
            }
        }
    }
    assert scheduler.node_matches_pod(pod("a", affinity=gt), n)
    assert not scheduler.node_matches_pod(pod("a", affinity=lt), n)
    assert scheduler.node_matches_pod(pod("a", affinity=by_name), n)
