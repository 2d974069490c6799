"""ReplicaSet controller: how many pods, which ones go first, what status says."""

from __future__ import annotations

import pytest
from ctrl_objects import NOW, deployment, pod, replicaset

from lab_kit.controllers import replicaset as rsc
from lab_kit.controllers.state import Create, Delete, Snapshot, Update

RS = replicaset("web-7d4b9", replicas=3, labels={"app": "web", "pod-template-hash": "7d4b9"})


def owned(name: str, rs: dict = RS, **kwargs) -> dict:
    return pod(name, labels=rs["spec"]["template"]["metadata"]["labels"], owner=rs, **kwargs)


def running(name: str, node: str = "n1", ready: bool = True, **kwargs) -> dict:
    return owned(name, node=node, ip=f"10.244.1.{abs(hash(name)) % 200 + 2}", ready=ready, **kwargs)


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def test_scale_up_creates_pods_from_the_template():
    actions = rsc.reconcile(Snapshot.of([RS, running("web-7d4b9-aaaaa")]), NOW)
    creates = of(actions, Create)
    assert len(creates) == 2
    new = creates[0].obj
    assert new["metadata"] == {
        "generateName": "web-7d4b9-",
        "namespace": "default",
        "labels": {"app": "web", "pod-template-hash": "7d4b9"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9",
                "uid": "rs-web-7d4b9",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    assert new["spec"] == RS["spec"]["template"]["spec"]
    assert new["spec"] is not RS["spec"]["template"]["spec"]


COUNTING = [
    (
        "finished and terminating pods do not count",
        [
            running("ok"),
            owned("done", phase="Succeeded"),
            owned("failed", phase="Failed"),
            running("leaving", deleting=True),
        ],
        2,
    ),
    (
        "another ReplicaSet's pods do not count",
        [
            running("mine"),
            pod(
                "theirs",
                labels={"app": "web", "pod-template-hash": "7d4b9"},
                owner=replicaset("other", 1),
            ),
        ],
        2,
    ),
    ("orphans with matching labels are not adopted", [pod("orphan", labels={"app": "web"})], 3),
    ("exactly enough pods: nothing to do", [running("a"), running("b"), owned("c")], 0),
]


@pytest.mark.parametrize("pods,creates", [c[1:] for c in COUNTING], ids=[c[0] for c in COUNTING])
def test_counting_active_pods(pods, creates):
    assert len(of(rsc.reconcile(Snapshot.of([RS, *pods]), NOW), Create)) == creates


def one_replica(*pods) -> list:
    """RS scaled to 1, owned by a Deployment (co-location ranks need a controller)."""
    return [
        replicaset("web-7d4b9", 1, labels=RS["metadata"]["labels"], owner=deployment("web")),
        *pods,
    ]


SCALE_DOWN = [
    ("unscheduled before scheduled", [running("on-node"), owned("nowhere")], ["nowhere"]),
    (
        "Pending before Running",
        [running("up"), owned("starting", node="n2", ip="10.244.2.5", phase="Pending")],
        ["starting"],
    ),
    (
        "not-ready before ready",
        [running("good", ready=True), running("bad", node="n2", ready=False)],
        ["bad"],
    ),
    (
        "lower pod-deletion-cost first",
        [
            running("cheap", annotations_cost="-5"),
            running("dear", node="n2", annotations_cost="10"),
        ],
        ["cheap"],
    ),
    (
        "doubled-up node first",
        [
            running("alone", node="n1"),
            running("twin-a", node="n2", ready_at=5),
            running("twin-b", node="n2"),
        ],
        ["twin-a", "twin-b"],
    ),
    (
        "most recently ready first",
        [running("veteran", node="n1", ready_at=0), running("rookie", node="n2", ready_at=100)],
        ["rookie"],
    ),
    (
        "more restarts first",
        [running("stable", node="n1"), running("flaky", node="n2", restarts=4)],
        ["flaky"],
    ),
    (
        "newest first",
        [running("first", node="n1", created=0), running("second", node="n2", created=50)],
        ["second"],
    ),
]


def _decorate(p: dict) -> dict:
    cost = p["spec"].pop("annotations_cost", None)
    if cost is not None:
        p["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": cost}
    restarts = p["spec"].pop("restarts", None)
    if restarts is not None:
        p["status"]["containerStatuses"] = [{"name": "app", "restartCount": restarts}]
    return p


@pytest.mark.parametrize(
    "pods,deleted", [c[1:] for c in SCALE_DOWN], ids=[c[0] for c in SCALE_DOWN]
)
def test_scale_down_preference(pods, deleted):
    state = one_replica(*[_decorate(p) for p in pods])
    actions = rsc.reconcile(Snapshot.of(state), NOW)
    assert sorted(a.name for a in of(actions, Delete)) == sorted(deleted)
    assert all(a.uid == f"uid-{a.name}" for a in of(actions, Delete))


def test_doubled_up_counts_pods_of_sibling_replicasets():
    """Rank looks at pods of every ReplicaSet of the same Deployment on the node."""
    d = deployment("web")
    mine = replicaset("web-new", 1, labels={"app": "web", "pod-template-hash": "new"}, owner=d)
    sibling = replicaset("web-old", 1, labels={"app": "web", "pod-template-hash": "old"}, owner=d)
    a = pod(
        "a",
        labels={"app": "web", "pod-template-hash": "new"},
        owner=mine,
        node="n1",
        ip="10.0.0.1",
        ready=True,
    )
    b = pod(
        "b",
        labels={"app": "web", "pod-template-hash": "new"},
        owner=mine,
        node="n2",
        ip="10.0.0.2",
        ready=True,
    )
    old = pod(
        "o",
        labels={"app": "web", "pod-template-hash": "old"},
        owner=sibling,
        node="n2",
        ip="10.0.0.3",
        ready=True,
    )
    actions = rsc.sync_replicaset(Snapshot.of([d, mine, sibling, a, b, old]), mine, NOW)
    assert [x.name for x in of(actions, Delete)] == ["b"]


STATUS = [
    (
        "counts active pods",
        [running("a"), running("b", ready=False), owned("c")],
        0,
        {
            "replicas": 3,
            "fullyLabeledReplicas": 3,
            "readyReplicas": 1,
            "availableReplicas": 1,
            "observedGeneration": 1,
        },
    ),
    (
        "minReadySeconds not yet elapsed",
        [running("a", ready_at=-5)],
        10,
        {"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1, "observedGeneration": 1},
    ),
    (
        "minReadySeconds elapsed",
        [running("a", ready_at=-30)],
        10,
        {
            "replicas": 1,
            "fullyLabeledReplicas": 1,
            "readyReplicas": 1,
            "availableReplicas": 1,
            "observedGeneration": 1,
        },
    ),
    ("no pods: replicas 0 is still written", [], 0, {"replicas": 0, "observedGeneration": 1}),
]


@pytest.mark.parametrize(
    "pods,min_ready,status", [c[1:] for c in STATUS], ids=[c[0] for c in STATUS]
)
def test_status(pods, min_ready, status):
    rs = replicaset("web-7d4b9", len(pods), labels=RS["metadata"]["labels"], status={})
    if min_ready:
        rs["spec"]["minReadySeconds"] = min_ready
    actions = rsc.reconcile(Snapshot.of([rs, *pods]), NOW)
    (update,) = [a for a in of(actions, Update) if a.subresource == "status"]
    assert update.obj["status"] == status


def test_status_not_written_when_unchanged():
    status = {
        "replicas": 1,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "observedGeneration": 1,
    }
    rs = replicaset("web-7d4b9", 1, labels=RS["metadata"]["labels"], status=status)
    assert rsc.reconcile(Snapshot.of([rs, running("a")]), NOW) == []


def test_replicaset_being_deleted_creates_nothing_but_reports():
    rs = replicaset("web-7d4b9", 2, labels=RS["metadata"]["labels"], status={})
    rs["metadata"]["deletionTimestamp"] = "2023-11-14T22:13:20Z"
    actions = rsc.reconcile(Snapshot.of([rs]), NOW)
    assert [type(a) for a in actions] == [Update]


def test_a_relabelled_pod_is_released_and_replaced():
    """ClaimPods: a controlled pod whose labels left the selector loses its controller
    reference (an orphan that runs on) and the ReplicaSet makes a new pod."""
    pods = [running(f"web-7d4b9-{c * 5}") for c in "abc"]
    pods[0]["metadata"]["labels"] = {"app": "other", "pod-template-hash": "7d4b9"}
    actions = rsc.reconcile(Snapshot.of([RS, *pods]), NOW)
    (release,) = [a for a in of(actions, Update) if a.obj.get("kind") == "Pod"]
    assert release.obj["metadata"]["name"] == "web-7d4b9-aaaaa"
    assert release.obj["metadata"]["ownerReferences"] == []
    assert len(of(actions, Create)) == 1 and not of(actions, Delete)
