"""The API server over its real Unix socket: REST verbs, Status errors, watch streams."""

import json
import threading

import httpx
import pytest

from lab_kit.lab import lifecycle


@pytest.fixture
def http(lab):
    client = httpx.Client(
        transport=httpx.HTTPTransport(uds=lifecycle.socket_path()), base_url="http://x"
    )
    yield client
    client.close()


def cm(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_bootstrap_objects_exist(http):
    names = [n["metadata"]["name"] for n in http.get("/api/v1/namespaces").json()["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    svc = http.get("/api/v1/namespaces/default/services/kubernetes").json()
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"] == [
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}
    ]


def test_create_get_update_delete_with_status_errors(http):
    path = "/api/v1/namespaces/default/configmaps"
    created = http.post(path, json=cm("a", k="1"))
    assert created.status_code == 201
    assert created.json()["metadata"]["uid"]
    again = http.post(path, json=cm("a"))
    assert again.status_code == 409
    assert again.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "a" already exists',
        "reason": "AlreadyExists",
        "code": 409,
        "details": {"name": "a", "kind": "configmaps"},
    }
    stale = {**created.json(), "data": {"k": "2"}}
    assert http.put(f"{path}/a", json=stale).status_code == 200
    conflict = http.put(f"{path}/a", json={**stale, "data": {"k": "3"}})
    assert (
        conflict.status_code == 409 and "the object has been modified" in conflict.json()["message"]
    )
    assert http.delete(f"{path}/a").status_code == 200
    missing = http.get(f"{path}/a")
    assert missing.status_code == 404 and missing.json()["message"] == 'configmaps "a" not found'


def test_invalid_service_is_a_422_with_field_causes(http):
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "two"},
        "spec": {"ports": [{"port": 80}, {"port": 443}]},
    }
    r = http.post("/api/v1/namespaces/default/services", json=svc)
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "Invalid"
    assert "spec.ports[0].name: Required value" in body["message"]
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.ports[1].name",
    } in body["details"]["causes"]


def test_unknown_field_is_a_strict_decoding_error(http):
    r = http.post("/api/v1/namespaces/default/configmaps", json={**cm("x"), "dataa": {}})
    assert r.status_code == 400
    assert 'strict decoding error: unknown field "dataa"' in r.json()["message"]


def test_watch_streams_added_modified_deleted_from_a_version(http):
    rv = http.get("/api/v1/namespaces/default/configmaps").json()["metadata"]["resourceVersion"]
    events: list[dict] = []
    done = threading.Event()

    def watch():
        with http.stream(
            "GET",
            "/api/v1/namespaces/default/configmaps",
            params={"watch": "1", "resourceVersion": rv},
        ) as r:
            for line in r.iter_lines():
                events.append(json.loads(line))
                if len(events) == 3:
                    done.set()
                    return

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    path = "/api/v1/namespaces/default/configmaps"
    http.post(path, json=cm("w"))
    obj = http.get(f"{path}/w").json()
    http.put(f"{path}/w", json={**obj, "data": {"x": "y"}})
    http.delete(f"{path}/w")
    assert done.wait(10), f"watch saw only {events}"
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"),
        ("MODIFIED", "w"),
        ("DELETED", "w"),
    ]


def test_too_old_resource_version_is_410(http):
    # The window holds 100,000 events; version -5 is before anything existed.
    r = http.get("/api/v1/configmaps", params={"watch": "1", "resourceVersion": "-5"})
    assert r.status_code == 410 and r.json()["reason"] == "Expired"


def test_hostile_requests_get_a_status_and_leave_the_server_serving(http):
    """A few of the hostile corpus (tests/unit/hostile) against the lab's own API server
    process: each a Status with its 4xx, none a 500, and nothing in its log but lines."""
    from lab_kit.adapters.rundir import RunDir

    path = "/api/v1/namespaces/default/configmaps"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = [
        (http.post(path, content=b"[1, 2]"), 400, "BadRequest"),
        (http.post(path, content=b"{" + b" " * (3 << 20) + b"}"), 413, "RequestEntityTooLarge"),
        (http.post(path, content=b"a=1", headers=form), 415, "UnsupportedMediaType"),
        (http.get(path, params={"watch": "1", "timeoutSeconds": "abc"}), 400, "BadRequest"),
        (http.post(path, params={"dryRun": "yes"}, json=cm("d")), 422, "Invalid"),
        (http.patch(f"{path}/x", content=b"{}"), 405, "MethodNotAllowed"),
    ]
    for r, code, reason in answers:
        assert (r.status_code, r.json()["kind"], r.json()["reason"]) == (code, "Status", reason)
    assert answers[1][0].json()["message"] == "Request entity too large: limit is 3145728"
    assert http.get("/readyz").text == "ok"
    with open(RunDir().log("apiserver")) as f:
        assert "Traceback" not in f.read()
