"""Finalizers as kube-apiserver's generic registry honours them: a delete marks and keeps
the object, the update removing the last finalizer completes it (a Service's addresses
released only then), a deleting object takes no new finalizer, and apply keeps the
finalizers a controller added."""

import json

import pytest

from lab_kit.api.registry import LAST_APPLIED, Registry
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import lookup

CLEANUP = "service.kubernetes.io/load-balancer-cleanup"
SERVICES = lookup("services")


@pytest.fixture
def reg():
    r = Registry(clock=lambda: 1_700_000_000.0)
    r.bootstrap()
    return r


def lb(name="web"):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]},
    }


def with_finalizer(reg, name="web"):
    stored = reg.create(lb(name))
    added = json.loads(json.dumps(stored))
    added["metadata"]["finalizers"] = [CLEANUP]
    return reg.update(added)


def test_a_delete_marks_an_object_with_finalizers_and_keeps_it(reg):
    stored = with_finalizer(reg)
    marked = reg.delete(SERVICES, "default", "web")
    md = reg.get(SERVICES, "default", "web")["metadata"]
    assert md["deletionTimestamp"] == "2023-11-14T22:13:20Z"
    assert md["deletionGracePeriodSeconds"] == 0 and md["finalizers"] == [CLEANUP]
    assert marked["metadata"]["deletionTimestamp"] == md["deletionTimestamp"]
    rv = reg.store.rv
    reg.delete(SERVICES, "default", "web")  # again: nothing changes
    assert reg.store.rv == rv
    # its NodePort and ClusterIP are still held while it waits
    taken = stored["spec"]["ports"][0]["nodePort"]
    with pytest.raises(ApiError) as e:
        reg.create(
            {
                **lb("other"),
                "spec": {**lb("other")["spec"], "ports": [{"port": 80, "nodePort": taken}]},
            }
        )
    assert "provided port is already allocated" in str(e.value.status())


def test_removing_the_last_finalizer_completes_the_delete_and_frees_the_addresses(reg):
    stored = with_finalizer(reg)
    reg.delete(SERVICES, "default", "web")
    deleting = json.loads(json.dumps(reg.get(SERVICES, "default", "web")))
    deleting["metadata"].pop("finalizers")
    reg.update(deleting)
    assert reg.store.get("Service", "default", "web") is None
    port = stored["spec"]["ports"][0]["nodePort"]
    again = {
        **lb("other"),
        "spec": {**lb("other")["spec"], "ports": [{"port": 80, "nodePort": port}]},
    }
    assert reg.create(again)["spec"]["ports"][0]["nodePort"] == port


def test_a_deleting_object_takes_no_new_finalizer_and_its_name_is_not_free(reg):
    with_finalizer(reg)
    reg.delete(SERVICES, "default", "web")
    deleting = json.loads(json.dumps(reg.get(SERVICES, "default", "web")))
    deleting["metadata"]["finalizers"].append("example.com/mine")
    with pytest.raises(ApiError) as e:
        reg.update(deleting)
    assert e.value.code == 403
    assert e.value.message == (
        'services "web" is forbidden: no new finalizers can be added if the object is being '
        'deleted, found new finalizers []string{"example.com/mine"}'
    )
    with pytest.raises(ApiError) as e:
        reg.create(lb())
    assert e.value.message == 'object is being deleted: services "web" already exists'


def test_an_object_without_finalizers_is_deleted_at_once(reg):
    reg.create(lb())
    reg.delete(SERVICES, "default", "web")
    assert reg.store.get("Service", "default", "web") is None


def test_apply_keeps_the_finalizers_a_controller_added(reg):
    ((action, _),) = reg.apply([lb()])
    stored = json.loads(json.dumps(reg.get(SERVICES, "default", "web")))
    stored["metadata"]["finalizers"] = [CLEANUP]
    reg.update(stored)
    ((action, again),) = reg.apply([lb()])
    assert action == "unchanged" and again["metadata"]["finalizers"] == [CLEANUP]
    mine = lb()
    mine["metadata"]["finalizers"] = ["example.com/mine"]
    ((action, again),) = reg.apply([mine])
    assert again["metadata"]["finalizers"] == [CLEANUP, "example.com/mine"]
    assert LAST_APPLIED in again["metadata"]["annotations"]
    ((action, again),) = reg.apply([lb()])  # dropped from the manifest: the apply removes it
    assert again["metadata"]["finalizers"] == [CLEANUP]
