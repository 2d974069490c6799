"""The API server's HTTP semantics without HTTP (`ApiHandler`): routes, status codes, the
lab's own endpoints, and what one watch sends (backlog, filtering, bookmarks)."""

from __future__ import annotations

import copy
import json

import pytest

from lab_kit.api.handler import ApiHandler, ConvergedWait, Reply, WatchStream
from lab_kit.api.registry import Registry


@pytest.fixture
def api() -> ApiHandler:
    registry = Registry(clock=lambda: 1_700_000_000.0)
    registry.bootstrap()
    return ApiHandler(registry)


def svc(name: str, **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def call(api: ApiHandler, method: str, path: str, body=None, **query: str) -> Reply:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    answer = api.handle(method, path, query, raw)
    assert isinstance(answer, Reply), answer
    return Reply(answer.status, copy.deepcopy(answer.body))  # as on the wire: never the store's


SERVICES = "/api/v1/namespaces/default/services"


def test_health_version_and_discovery(api):
    assert call(api, "GET", "/readyz") == Reply(200, "ok")
    assert call(api, "GET", "/version").body["gitVersion"].startswith("v1.33")
    groups = call(api, "GET", "/apis").body["groups"]
    assert "apps" in {g["name"] for g in groups}
    assert call(api, "GET", "/api").body["versions"] == ["v1"]


def test_create_get_list_with_a_label_selector(api):
    created = call(api, "POST", SERVICES, svc("web", tier="front"))
    assert created.status == 201 and created.body["spec"]["clusterIP"].startswith("10.")
    call(api, "POST", SERVICES, svc("db", tier="back"))
    listing = call(api, "GET", SERVICES, labelSelector="tier=front").body
    assert [o["metadata"]["name"] for o in listing["items"]] == ["web"]
    assert listing["kind"] == "ServiceList" and int(listing["metadata"]["resourceVersion"]) > 0
    assert call(api, "GET", f"{SERVICES}/web").body["metadata"]["name"] == "web"


def test_errors_carry_the_status_object_and_code(api):
    missing = call(api, "GET", f"{SERVICES}/nope")
    assert missing.status == 404 and missing.body["reason"] == "NotFound"
    assert call(api, "POST", SERVICES, b"{not json").status == 400
    assert call(api, "POST", SERVICES, b"[1, 2]").status == 400
    call(api, "POST", SERVICES, svc("web"))
    wrong = call(api, "PUT", f"{SERVICES}/web", svc("other"))
    assert wrong.status == 400 and "does not match the name on the URL" in wrong.body["message"]
    assert call(api, "PATCH", f"{SERVICES}/web", svc("web")).status == 405
    assert call(api, "GET", "/api/v1/flowers").status == 404
    assert call(api, "GET", "/lab/v1/nothing").status == 404


def test_delete_honours_the_uid_precondition(api):
    uid = call(api, "POST", SERVICES, svc("web")).body["metadata"]["uid"]
    stale = call(api, "DELETE", f"{SERVICES}/web", {"preconditions": {"uid": "other"}})
    assert stale.status == 409
    assert call(api, "DELETE", f"{SERVICES}/web", {"preconditions": {"uid": uid}}).status == 200
    assert call(api, "GET", f"{SERVICES}/web").status == 404


def test_apply_is_all_or_nothing_and_names_the_failing_item(api):
    bad = svc("bad")
    bad["spec"]["ports"] = [{"port": 0}]
    refused = call(api, "POST", "/lab/v1/apply", {"items": [svc("ok"), bad]})
    assert refused.status == 422 and refused.body["details"]["index"] == 1
    assert call(api, "GET", f"{SERVICES}/ok").status == 404  # nothing was applied
    done = call(api, "POST", "/lab/v1/apply", {"items": [svc("ok")]}).body
    assert [r["action"] for r in done["results"]] == ["created"]


def test_agent_reports_and_convergence(api):
    assert isinstance(api.handle("GET", "/lab/v1/converged", {"agents": "a,b"}), ConvergedWait)
    rv = api.registry.store.rv
    call(api, "POST", "/lab/v1/agents/kube-proxy/node1", {"resourceVersion": rv - 1})
    assert api.convergence([]) == {
        "converged": False,
        "resourceVersion": rv,
        "behind": ["kube-proxy/node1"],
        "missing": [],
    }
    call(api, "POST", "/lab/v1/agents/kube-proxy/node1", {"resourceVersion": rv})
    assert api.convergence([])["converged"]
    assert api.convergence(["kubelet/node1"])["missing"] == ["kubelet/node1"]
    listed = call(api, "GET", "/lab/v1/agents").body["items"]
    assert [a["name"] for a in listed] == ["kube-proxy/node1"]
    call(api, "DELETE", "/lab/v1/agents/kube-proxy/node1")
    assert call(api, "GET", "/lab/v1/agents").body["items"] == []


def test_subscribers_hear_writes_and_reports(api):
    heard = []
    off = api.subscribe(lambda: heard.append(1))
    call(api, "POST", SERVICES, svc("web"))
    call(api, "POST", "/lab/v1/agents/x", {"resourceVersion": 1})
    off()
    call(api, "POST", SERVICES, svc("db"))
    assert len(heard) == 2


def watch(api: ApiHandler, **query: str) -> WatchStream:
    answer = api.handle("GET", SERVICES, {"watch": "1", **query})
    assert isinstance(answer, WatchStream)
    return answer


def test_a_watch_from_zero_lists_then_bookmarks(api):
    call(api, "POST", SERVICES, svc("web"))
    stream = watch(api, resourceVersion="0", allowWatchBookmarks="true")
    first = stream.start()
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in first] == [
        ("ADDED", "kubernetes"),
        ("ADDED", "web"),
        ("BOOKMARK", None),
    ]


def test_a_filtered_watch_sees_objects_enter_and_leave_and_bookmarks_the_rest(api):
    rv = api.registry.store.rv
    stream = watch(api, resourceVersion=str(rv), labelSelector="tier=front",
                   allowWatchBookmarks="true")  # fmt: skip
    assert stream.start() == []
    events = []
    off = api.registry.store.subscribe(events.append)
    call(api, "POST", SERVICES, svc("db", tier="back"))  # filtered out
    web = call(api, "POST", SERVICES, svc("web", tier="back")).body
    web["metadata"]["labels"] = {"tier": "front"}
    call(api, "PUT", f"{SERVICES}/web", web)  # starts matching: ADDED for this watch
    web = call(api, "GET", f"{SERVICES}/web").body
    web["metadata"]["labels"] = {"tier": "back"}
    call(api, "PUT", f"{SERVICES}/web", web)  # stops matching: DELETED for this watch
    off()
    sent = [e["type"] for ev in events for e in stream.offer(ev)]
    assert sent == ["ADDED", "DELETED"]
    call(api, "POST", SERVICES, svc("cache", tier="back"))
    stream.offer(api.registry.store.events_since(api.registry.store.rv - 1)[0])
    (bookmark,) = stream.idle()
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["resourceVersion"] == str(api.registry.store.rv)
    assert stream.idle() == []  # said once


def test_a_watch_from_a_version_too_old_is_gone(api):
    for i in range(5):
        call(api, "POST", SERVICES, svc(f"s{i}"))
    api.registry.store._history.clear()  # the watch window moved on
    gone = api.handle("GET", SERVICES, {"watch": "1", "resourceVersion": "1"})
    assert isinstance(gone, Reply) and gone.status == 410
