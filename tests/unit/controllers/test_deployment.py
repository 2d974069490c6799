"""Deployment controller: ReplicaSet naming, rollouts, scaling, status, history."""

from __future__ import annotations

import copy

import pytest
from ctrl_objects import NOW, deployment, replicaset, template, ts

from lab_kit.controllers import deployment as dc
from lab_kit.controllers.state import Create, Delete, Snapshot, Update

REVISION = "deployment.kubernetes.io/revision"


def of(actions, kind, subresource=None):
    return [
        a
        for a in actions
        if isinstance(a, kind)
        and (subresource is None or getattr(a, "subresource", "") == subresource)
    ]


def current_rs(
    d: dict, replicas: int, available: int | None = None, revision: str = "1", **kwargs
) -> dict:
    """The ReplicaSet the controller made for d's current template, with a status."""
    h = dc.compute_hash(d["spec"]["template"])
    labels = {**d["spec"]["template"]["metadata"]["labels"], "pod-template-hash": h}
    available = replicas if available is None else available
    status = {
        "replicas": replicas,
        "readyReplicas": available,
        "availableReplicas": available,
        "observedGeneration": 1,
    }
    annotations = {
        REVISION: revision,
        dc.DESIRED_REPLICAS: str(d["spec"]["replicas"]),
        dc.MAX_REPLICAS: str(d["spec"]["replicas"] + 1),
    }
    rs = replicaset(
        f"{d['metadata']['name']}-{h}",
        replicas,
        labels=labels,
        owner=d,
        status=status,
        annotations=annotations,
        **kwargs,
    )
    rs["spec"]["template"] = copy.deepcopy(d["spec"]["template"])
    rs["spec"]["template"]["metadata"]["labels"] = labels
    return rs


def old_rs(
    d: dict,
    name: str,
    replicas: int,
    revision: str,
    image: str = "nginx:1.24",
    created: float = -100,
) -> dict:
    labels = {**d["spec"]["selector"]["matchLabels"], "pod-template-hash": name}
    status = {
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "observedGeneration": 1,
    }
    annotations = {
        REVISION: revision,
        dc.DESIRED_REPLICAS: str(d["spec"]["replicas"]),
        dc.MAX_REPLICAS: str(d["spec"]["replicas"] + 1),
    }
    rs = replicaset(
        f"{d['metadata']['name']}-{name}",
        replicas,
        labels=labels,
        owner=d,
        status=status,
        annotations=annotations,
        created=created,
    )
    rs["spec"]["template"] = template(
        labels, image, ports=[{"name": "http", "containerPort": 8080}]
    )
    return rs


# --- the pod-template-hash ------------------------------------------------------------------


def test_hash_is_stable_and_uses_the_safe_alphabet():
    t = deployment("web")["spec"]["template"]
    h = dc.compute_hash(t)
    assert h == dc.compute_hash(copy.deepcopy(t))
    assert set(h) <= set(dc.SAFE_ALPHABET)
    assert 1 <= len(h) <= 10  # the decimal digits of a uint32, one character each


def test_hash_changes_with_template_and_collision_count():
    t = deployment("web")["spec"]["template"]
    changed = copy.deepcopy(t)
    changed["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert (
        len(
            {
                dc.compute_hash(t),
                dc.compute_hash(changed),
                dc.compute_hash(t, 1),
                dc.compute_hash(t, 2),
            }
        )
        == 4
    )


def test_safe_encode_maps_each_digit():
    # '0' is byte 48, 48 % 27 = 21 → '4'; '9' is 57 % 27 = 3 → 'f'.
    assert dc.safe_encode("0099") == "44ff"


SCALED = [
    ("25% of 4, surge rounds up", "25%", 4, True, 1),
    ("25% of 4, unavailable rounds down", "25%", 4, False, 1),
    ("25% of 10 up", "25%", 10, True, 3),
    ("25% of 10 down", "25%", 10, False, 2),
    ("25% of 3 down is 0", "25%", 3, False, 0),
    ("an int is used as is", 2, 10, True, 2),
]


@pytest.mark.parametrize(
    "value,total,up,expected", [c[1:] for c in SCALED], ids=[c[0] for c in SCALED]
)
def test_scaled_value(value, total, up, expected):
    assert dc.scaled_value(value, total, up) == expected


def test_fenceposts_never_both_zero():
    assert dc.resolve_fenceposts("0%", "25%", 3) == (0, 1)
    assert dc.resolve_fenceposts("25%", "25%", 4) == (1, 1)


# --- a new Deployment -------------------------------------------------------------------------


def test_new_deployment_creates_its_replicaset():
    d = deployment("web", replicas=4)
    actions = dc.reconcile(Snapshot.of([d]), NOW)
    (create,) = of(actions, Create)
    rs, h = create.obj, dc.compute_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
    assert rs["metadata"]["ownerReferences"][0] | {} == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "uid": "deploy-web",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert rs["metadata"]["annotations"] == {
        REVISION: "1",
        dc.DESIRED_REPLICAS: "4",
        dc.MAX_REPLICAS: "5",
    }
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": h}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["replicas"] == 4
    (status,) = of(actions, Update, "status")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status.obj["status"]["conditions"]}
    assert conditions == {
        "Progressing": ("True", "NewReplicaSetCreated"),
        "Available": ("False", "MinimumReplicasUnavailable"),
    }
    assert status.obj["metadata"]["annotations"][REVISION] == "1"


def test_deployment_annotations_are_copied_to_the_new_replicaset():
    d = deployment("web")
    d["metadata"]["annotations"] = {
        "kubernetes.io/change-cause": "first",
        REVISION: "7",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    }
    (create,) = of(dc.reconcile(Snapshot.of([d]), NOW), Create)
    assert create.obj["metadata"]["annotations"]["kubernetes.io/change-cause"] == "first"
    assert create.obj["metadata"]["annotations"][REVISION] == "1"
    assert (
        "kubectl.kubernetes.io/last-applied-configuration"
        not in create.obj["metadata"]["annotations"]
    )


def test_name_collision_bumps_collision_count():
    d = deployment("web")
    squatter = replicaset(
        f"web-{dc.compute_hash(d['spec']['template'])}", 1, labels={"app": "other"}
    )
    actions = dc.reconcile(Snapshot.of([d, squatter]), NOW)
    assert of(actions, Create) == []
    (status,) = of(actions, Update, "status")
    assert status.obj["status"]["collisionCount"] == 1
    d2 = {**d, "status": {"collisionCount": 1}}
    (create,) = of(dc.reconcile(Snapshot.of([d2, squatter]), NOW), Create)
    assert create.obj["metadata"]["name"] == f"web-{dc.compute_hash(d['spec']['template'], 1)}"


# --- rollouts -------------------------------------------------------------------------------


def test_template_change_creates_new_replicaset_within_surge():
    d = deployment("web", replicas=4, image="nginx:1.26")
    old = old_rs(d, "old", 4, revision="1")
    actions = dc.reconcile(Snapshot.of([d, old]), NOW)
    (create,) = of(actions, Create)
    assert create.obj["spec"]["replicas"] == 1  # 4 running + 1 = replicas + maxSurge (25% of 4, up)
    assert create.obj["metadata"]["annotations"][REVISION] == "2"
    # Same sync, as upstream: 4 available > minAvailable 3, so one old pod may go too.
    (scale,) = [a for a in of(actions, Update) if a.obj["kind"] == "ReplicaSet"]
    assert (scale.obj["metadata"]["name"], scale.obj["spec"]["replicas"]) == ("web-old", 3)


def test_old_replicaset_shrinks_only_within_max_unavailable():
    d = deployment("web", replicas=4, image="nginx:1.26")
    old = old_rs(d, "old", 4, revision="1")
    new = current_rs(d, 1, available=0, revision="2")
    actions = dc.reconcile(Snapshot.of([d, old, new]), NOW)
    scaled = {
        a.obj["metadata"]["name"]: a.obj["spec"]["replicas"]
        for a in of(actions, Update)
        if a.obj["kind"] == "ReplicaSet"
    }
    # 5 pods, 4 available, minAvailable 3, one new pod not available: may drop 1 old pod.
    assert scaled == {"web-old": 3}


def test_new_replicaset_grows_as_old_shrinks():
    d = deployment("web", replicas=4, image="nginx:1.26")
    old = old_rs(d, "old", 3, revision="1")
    new = current_rs(d, 1, available=1, revision="2")
    actions = dc.reconcile(Snapshot.of([d, old, new]), NOW)
    scaled = {
        a.obj["metadata"]["name"]: a.obj["spec"]["replicas"]
        for a in of(actions, Update)
        if a.obj["kind"] == "ReplicaSet"
    }
    assert scaled == {new["metadata"]["name"]: 2}


def test_unhealthy_old_pods_are_removed_first():
    d = deployment("web", replicas=4, image="nginx:1.26")
    old = old_rs(d, "old", 4, revision="1")
    old["status"]["availableReplicas"] = 2  # two old pods crash-looping
    new = current_rs(d, 1, available=1, revision="2")
    actions = dc.reconcile(Snapshot.of([d, old, new]), NOW)
    scaled = {
        a.obj["metadata"]["name"]: a.obj["spec"]["replicas"]
        for a in of(actions, Update)
        if a.obj["kind"] == "ReplicaSet"
    }
    # all 5 = 3 (minAvailable) + 0 unavailable new + 2 → may remove 2, both unhealthy ones.
    assert scaled == {"web-old": 2}


def test_recreate_scales_old_to_zero_before_creating_new():
    d = deployment("web", replicas=3, image="nginx:1.26", strategy={"type": "Recreate"})
    old = old_rs(d, "old", 3, revision="1")
    actions = dc.reconcile(Snapshot.of([d, old]), NOW)
    assert of(actions, Create) == []
    (scale,) = [a for a in of(actions, Update) if a.obj["kind"] == "ReplicaSet"]
    assert scale.obj["spec"]["replicas"] == 0


def test_recreate_waits_for_old_pods_to_be_gone():
    from ctrl_objects import pod

    d = deployment("web", replicas=3, image="nginx:1.26", strategy={"type": "Recreate"})
    old = old_rs(d, "old", 0, revision="1")
    old["status"] = {"replicas": 0, "observedGeneration": 1}
    leaving = pod(
        "web-old-x",
        labels=old["metadata"]["labels"],
        owner=old,
        node="n1",
        ip="10.0.0.9",
        deleting=True,
    )
    assert of(dc.reconcile(Snapshot.of([d, old, leaving]), NOW), Create) == []
    (create,) = of(dc.reconcile(Snapshot.of([d, old]), NOW), Create)
    assert create.obj["spec"]["replicas"] == 3


def test_scale_up_edits_the_replicaset():
    d = deployment("web", replicas=5)
    rs = current_rs(d, 3)
    rs["metadata"]["annotations"][dc.DESIRED_REPLICAS] = "3"
    actions = dc.reconcile(Snapshot.of([d, rs]), NOW)
    (scale,) = [a for a in of(actions, Update) if a.obj["kind"] == "ReplicaSet"]
    assert scale.obj["spec"]["replicas"] == 5
    assert scale.obj["metadata"]["annotations"][dc.DESIRED_REPLICAS] == "5"
    assert scale.obj["metadata"]["annotations"][dc.MAX_REPLICAS] == "7"  # 5 + ceil(25% of 5)


def test_scale_down_edits_the_replicaset():
    d = deployment("web", replicas=1)
    rs = current_rs(d, 3)
    rs["metadata"]["annotations"][dc.DESIRED_REPLICAS] = "3"
    (scale,) = [
        a
        for a in dc.reconcile(Snapshot.of([d, rs]), NOW)
        if getattr(a, "obj", {}).get("kind") == "ReplicaSet"
    ]
    assert scale.obj["spec"]["replicas"] == 1


def test_scaling_mid_rollout_is_proportional():
    d = deployment("web", replicas=20, image="nginx:1.26")
    old = old_rs(d, "old", 8, revision="1")
    new = current_rs(d, 4, available=4, revision="2")
    for rs in (old, new):  # both were sized for a 10-replica Deployment (max 13)
        rs["metadata"]["annotations"].update({dc.DESIRED_REPLICAS: "10", dc.MAX_REPLICAS: "13"})
    actions = dc.reconcile(Snapshot.of([d, old, new]), NOW)
    scaled = {
        a.obj["metadata"]["name"]: a.obj["spec"]["replicas"]
        for a in of(actions, Update)
        if a.obj["kind"] == "ReplicaSet"
    }
    # allowed 25 (20 + 5 surge), 12 now → +13. Each grows to size*25/13 rounded: old 8→15,
    # new 4→8; the 2 left over go to the largest (old): 17 + 8 = 25.
    assert scaled == {"web-old": 17, new["metadata"]["name"]: 8}


# --- status ---------------------------------------------------------------------------------


def test_complete_rollout_status():
    d = deployment("web", replicas=3)
    d["metadata"]["annotations"] = {REVISION: "1"}
    rs = current_rs(d, 3)
    (status,) = of(dc.reconcile(Snapshot.of([d, rs]), NOW), Update, "status")
    st = status.obj["status"]
    assert {
        k: st[k]
        for k in (
            "observedGeneration",
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        )
    } == {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    assert "unavailableReplicas" not in st  # omitempty, like the API's JSON
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in st["conditions"]}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        "Progressing": (
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.',
        ),
    }
    # Feeding the written status back: fixed point, nothing more to write.
    d2 = {**d, "status": st}
    assert dc.reconcile(Snapshot.of([d2, rs]), NOW + 30) == []


def test_progress_deadline_exceeded():
    d = deployment("web", replicas=3)
    d["metadata"]["annotations"] = {REVISION: "1"}
    rs = current_rs(d, 3, available=0)
    d["status"] = {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "unavailableReplicas": 3,
        "conditions": [
            {
                "type": "Progressing",
                "status": "True",
                "lastUpdateTime": ts(0),
                "lastTransitionTime": ts(0),
                "reason": "ReplicaSetUpdated",
                "message": "x",
            }
        ],
    }
    (status,) = of(dc.reconcile(Snapshot.of([d, rs]), NOW + 601), Update, "status")
    (progressing,) = [c for c in status.obj["status"]["conditions"] if c["type"] == "Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert (
        progressing["message"]
        == f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'
    )


def test_revision_annotation_alone_is_written_with_a_plain_update():
    """If the API server drops annotations on status writes, the next round still fixes them."""
    d = deployment("web", replicas=3)
    rs = current_rs(d, 3)
    (status,) = of(dc.reconcile(Snapshot.of([d, rs]), NOW), Update, "status")
    without_annotation = copy.deepcopy(status.obj)
    without_annotation["metadata"].pop("annotations")
    (update,) = dc.reconcile(Snapshot.of([without_annotation, rs]), NOW)
    assert update.subresource == "" and update.obj["metadata"]["annotations"] == {REVISION: "1"}


def test_paused_deployment_does_not_roll_out():
    d = deployment("web", replicas=3, image="nginx:1.26", paused=True)
    old = old_rs(d, "old", 3, revision="1")
    actions = dc.reconcile(Snapshot.of([d, old]), NOW)
    assert of(actions, Create) == []
    (status,) = of(actions, Update, "status")
    (progressing,) = [c for c in status.obj["status"]["conditions"] if c["type"] == "Progressing"]
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "Unknown",
        "DeploymentPaused",
        "Deployment is paused",
    )


# --- history and deletion -------------------------------------------------------------------

COMPLETE_2 = {
    "observedGeneration": 1,
    "replicas": 2,
    "updatedReplicas": 2,
    "readyReplicas": 2,
    "availableReplicas": 2,
}


def test_old_replicasets_beyond_history_limit_are_deleted():
    d = deployment("web", replicas=2, revisionHistoryLimit=1)
    d["metadata"]["annotations"] = {REVISION: "4"}
    olds = [
        old_rs(d, f"r{i}", 0, revision=str(i), image=f"nginx:1.{i}", created=-100 + i)
        for i in (1, 2, 3)
    ]
    for rs in olds:
        rs["status"] = {"replicas": 0, "observedGeneration": 1}
    new = current_rs(d, 2, revision="4")
    d["status"] = COMPLETE_2  # cleanup waits until the recorded status says "complete"
    actions = dc.reconcile(Snapshot.of([d, *olds, new]), NOW)
    assert sorted(a.name for a in of(actions, Delete)) == ["web-r1", "web-r2"]
    d["status"] = {}
    assert of(dc.reconcile(Snapshot.of([d, *olds, new]), NOW), Delete) == []


def test_old_replicaset_with_pods_is_kept_despite_history_limit():
    d = deployment("web", replicas=2, revisionHistoryLimit=0)
    old = old_rs(d, "r1", 0, revision="1")
    old["status"] = {"replicas": 1, "observedGeneration": 1}  # its last pod is still terminating
    new = current_rs(d, 2, revision="2")
    d["status"] = COMPLETE_2
    assert of(dc.reconcile(Snapshot.of([d, old, new]), NOW), Delete) == []


def test_deployment_being_deleted_is_left_alone():
    d = deployment("web")
    d["metadata"]["deletionTimestamp"] = ts(0)
    assert dc.reconcile(Snapshot.of([d]), NOW) == []
