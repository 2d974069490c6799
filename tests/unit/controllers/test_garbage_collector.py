"""Garbage collector: cascading deletion, finalizers, namespace emptying."""

from __future__ import annotations

import pytest
from ctrl_objects import NOW, TS, deployment, namespace, pod, replicaset, service

from lab_kit.controllers import garbage_collector as gc
from lab_kit.controllers.state import Delete, Snapshot, Update

D = deployment("web")
RS = replicaset("web-abc", 2, owner=D)
POD = pod("web-abc-1", labels={"app": "web"}, owner=RS)


def deleted(objs) -> list[tuple[str, str]]:
    return sorted(
        (a.kind, a.name) for a in gc.reconcile(Snapshot.of(objs), NOW) if isinstance(a, Delete)
    )


def with_owners(obj: dict, *owners: dict) -> dict:
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": o["apiVersion"],
            "kind": o["kind"],
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
        }
        for o in owners
    ]
    return obj


def deleting(obj: dict, *finalizers: str) -> dict:
    obj = {**obj, "metadata": {**obj["metadata"], "deletionTimestamp": TS}}
    if finalizers:
        obj["metadata"]["finalizers"] = list(finalizers)
    return obj


CASES = [
    ("owner deleted → dependents deleted", [RS, POD], [("ReplicaSet", "web-abc")]),
    (
        "one level at a time: the pod goes once its ReplicaSet is gone",
        [POD],
        [("Pod", "web-abc-1")],
    ),
    ("everything alive: nothing to do", [D, RS, POD], []),
    ("objects without owners are never collected", [pod("loner"), service("svc")], []),
    (
        "one surviving owner keeps the object",
        [with_owners(pod("shared"), D, replicaset("gone", 1)), D],
        [],
    ),
    ("an object already being deleted is not deleted again", [deleting(POD)], []),
    ("owner found by uid in any kind", [with_owners(pod("p"), service("svc")), service("svc")], []),
    (
        "an owner of a kind the lab does not serve cannot be checked: keep",
        [
            with_owners(
                pod("job-pod"),
                {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "uid": "j1"}},
            )
        ],
        [],
    ),
]


@pytest.mark.parametrize("objs,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_background_cascade(objs, expected):
    assert deleted(objs) == expected


def test_delete_carries_uid_precondition():
    (action,) = gc.reconcile(Snapshot.of([RS]), NOW)
    assert action == Delete("ReplicaSet", "default", "web-abc", "rs-web-abc")


def test_orphan_finalizer_strips_owner_references_then_releases_the_owner():
    owner = deleting(D, "orphan")
    (update,) = gc.reconcile(Snapshot.of([owner, RS]), NOW)
    assert isinstance(update, Update) and update.obj["metadata"]["name"] == "web-abc"
    assert "ownerReferences" not in update.obj["metadata"]
    (release,) = gc.reconcile(Snapshot.of([owner, update.obj]), NOW)
    assert release.obj["kind"] == "Deployment" and "finalizers" not in release.obj["metadata"]


def test_foreground_deletes_dependents_first():
    owner = deleting(D, "foregroundDeletion")
    assert gc.reconcile(Snapshot.of([owner, RS]), NOW) == [
        Delete("ReplicaSet", "default", "web-abc", "rs-web-abc")
    ]
    (release,) = gc.reconcile(Snapshot.of([owner]), NOW)
    assert isinstance(release, Update) and "finalizers" not in release.obj["metadata"]


NAMESPACES = [
    (
        "terminating namespace: its content is deleted",
        [namespace("shop", deleting=True), pod("a", ns="shop"), service("s", ns="shop"), pod("b")],
        [("Pod", "a"), ("Service", "s")],
    ),
    (
        "content already terminating: wait",
        [namespace("shop", deleting=True), deleting(pod("a", ns="shop"))],
        [],
    ),
    (
        "empty terminating namespace is deleted",
        [namespace("shop", deleting=True)],
        [("Namespace", "shop")],
    ),
    ("an active namespace is left alone", [namespace("shop"), pod("a", ns="shop")], []),
]


@pytest.mark.parametrize(
    "objs,expected", [c[1:] for c in NAMESPACES], ids=[c[0] for c in NAMESPACES]
)
def test_namespace_deletion(objs, expected):
    assert deleted(objs) == expected


def test_each_object_deleted_once_per_round():
    orphan_in_dying_ns = pod("p", ns="shop", owner=replicaset("gone", 1, ns="shop"))
    actions = gc.reconcile(Snapshot.of([namespace("shop", deleting=True), orphan_in_dying_ns]), NOW)
    assert actions == [Delete("Pod", "shop", "p", "uid-p")]
