"""The labs' helpers on top of `Lab`: telling random-generator replicas apart by the id each
answers with, and waiting until a pod's readiness has reached its EndpointSlice."""

from __future__ import annotations

import json

import pytest
from lab_fixtures import FakePods, pod, ready_status, seed_pod, write_sandbox

from lab_kit.lab.errors import LabError
from lab_kit.lab.random_generator import replica_ids, stamped, who_answered
from lab_kit.lab.widgets import wait_readiness


def answer(replica: str) -> str:
    return json.dumps({"random": 4, "id": replica})


def test_who_answered_each_request():
    ids = {"id-a": "web-a", "id-b": "web-b"}
    answers = [answer("id-a"), "ERR", answer("id-z"), "1700000000.5 " + answer("id-b")]
    assert who_answered(answers, ids) == ["web-a", "ERR", "?", "web-b"]
    timed = ["100.0 " + answer("id-a"), "100.25 " + answer("id-b")]
    assert stamped(timed, ids) == [(0.0, "web-a"), (0.25, "web-b")]


def test_replica_ids_asks_each_pod_from_the_client(lab, api, rundir, monkeypatch):
    client = seed_pod(api, pod("toolbox"), status=ready_status("10.244.1.9"))
    write_sandbox(rundir, client)
    labels = {"app": "random-generator"}
    seed_pod(api, pod("rg-1", labels=labels), status=ready_status("10.244.1.5"))
    seed_pod(api, pod("rg-2", labels=labels), node=None)  # no IP yet: skipped
    fake = FakePods({"curl": answer("id-1")}).install(monkeypatch)
    assert replica_ids(lab, "toolbox") == {"id-1": "rg-1"}
    assert fake.calls[0][1] == ["curl", "-s", "-m", "2", "http://10.244.1.5:8080/"]


def endpoint_slice(ready: bool) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-x", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": ready},
                       "targetRef": {"kind": "Pod", "name": "web", "namespace": "default"}}],
    }  # fmt: skip


def test_wait_readiness_until_pod_and_endpoint_agree(lab, api):
    seed_pod(api, pod("web"), status=ready_status())
    api.registry.create(endpoint_slice(ready=True))
    assert wait_readiness(lab, "web", True, timeout_s=0) >= 0
    with pytest.raises(LabError, match=r"pod web to be not ready \(Ready condition: True"):
        wait_readiness(lab, "web", False, timeout_s=0)
