"""The store: versions, watch history, transactions that change nothing on failure."""

import pytest

from lab_kit.model.errors import ApiError
from lab_kit.store.store import Store


def svc(name, ns="default", **spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def test_every_write_bumps_the_version_and_stamps_it():
    s = Store()
    a = s.put(svc("a"))
    b = s.put(svc("b"))
    assert (a["metadata"]["resourceVersion"], b["metadata"]["resourceVersion"]) == ("1", "2")
    assert s.rv == 2
    gone = s.delete("Service", "default", "a")
    assert gone["metadata"]["resourceVersion"] == "3"
    assert s.get("Service", "default", "a") is None


def test_put_does_not_mutate_the_callers_object():
    s = Store()
    obj = svc("a")
    s.put(obj)
    assert "resourceVersion" not in obj["metadata"]


def test_list_is_sorted_and_filtered_by_namespace():
    s = Store()
    for ns, n in [("b", "x"), ("a", "y"), ("a", "b")]:
        s.put(svc(n, ns))
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in s.list("Service")] == [
        ("a", "b"),
        ("a", "y"),
        ("b", "x"),
    ]
    assert [o["metadata"]["name"] for o in s.list("Service", "a")] == ["b", "y"]


def test_watch_from_a_version_replays_added_modified_deleted():
    s = Store()
    s.put(svc("a"))
    s.put(svc("a", type="NodePort"))
    s.delete("Service", "default", "a")
    assert [(e.type, e.rv) for e in s.events_since(1)] == [("MODIFIED", 2), ("DELETED", 3)]
    assert s.events_since(3) == []


def test_too_old_version_is_gone():
    s = Store(history=2)
    for n in "abcd":
        s.put(svc(n))
    with pytest.raises(ApiError) as e:
        s.events_since(0)
    assert e.value.code == 410
    assert "too old resource version" in e.value.message
    assert [e.rv for e in s.events_since(2)] == [3, 4]


def test_subscribers_see_committed_events():
    s = Store()
    seen = []
    unsubscribe = s.subscribe(lambda e: seen.append((e.type, e.obj["metadata"]["name"])))
    s.put(svc("a"))
    unsubscribe()
    s.put(svc("b"))
    assert seen == [("ADDED", "a")]


def test_failed_transaction_changes_nothing_and_emits_nothing():
    s = Store()
    s.put(svc("keep"))
    seen = []
    s.subscribe(seen.append)
    with pytest.raises(RuntimeError), s.transaction():
        s.put(svc("new"))
        s.put(svc("keep", type="NodePort"))
        s.delete("Service", "default", "keep")
        raise RuntimeError("document 3 is invalid")
    assert s.rv == 1
    assert seen == []
    assert [o["metadata"]["name"] for o in s.list("Service")] == ["keep"]
    assert s.get("Service", "default", "keep")["spec"] == {}
    assert s.events_since(0)[0].obj["metadata"]["name"] == "keep"


def test_transaction_commits_events_in_order():
    s = Store()
    seen = []
    s.subscribe(lambda e: seen.append(e.rv))
    with s.transaction():
        s.put(svc("a"))
        s.put(svc("b"))
        assert seen == []
    assert seen == [1, 2]
