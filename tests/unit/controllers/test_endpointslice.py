"""EndpointSlice controller and mirroring: slices, conditions, churn, ownership."""

from __future__ import annotations

import copy

import pytest
from ctrl_objects import NOW, endpoints, node, pod, service

from lab_kit.controllers import endpointslice as esc
from lab_kit.controllers.state import Create, Delete, Snapshot, Update
from lab_kit.model.meta import rfc3339_nano

WEB = service(
    "web",
    selector={"app": "web"},
    ports=[{"name": "http", "port": 80, "targetPort": 8080}],
    labels={"team": "a"},
)
NODES = [node("n1", labels={"topology.kubernetes.io/zone": "zone-a"}), node("n2")]


def web_pod(name: str, ip: str, ready: bool = True, node: str = "n1", **kwargs) -> dict:
    return pod(name, labels={"app": "web"}, node=node, ip=ip, ready=ready, **kwargs)


def writes(objs, svc=WEB) -> list:
    return esc.reconcile(Snapshot.of([svc, *NODES, *objs]), NOW)


def only_slice(objs, svc=WEB) -> dict:
    (action,) = writes(objs, svc)
    assert isinstance(action, Create | Update)
    return action.obj


def conditions(slice_: dict) -> dict[str, dict]:
    return {e["targetRef"]["name"]: e["conditions"] for e in slice_["endpoints"]}


def stored(slice_: dict, name: str, rv: str = "7") -> dict:
    """What the API server would hold after creating `slice_`."""
    s = copy.deepcopy(slice_)
    s["metadata"].update(name=name, uid=f"uid-{name}", resourceVersion=rv)
    return s


def test_a_slice_for_a_service():
    s = only_slice([web_pod("a", "10.244.1.2", hostname="a", subdomain="web")])
    assert s["metadata"] == {
        "generateName": "web-",
        "namespace": "default",
        "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": rfc3339_nano(NOW)},
        "labels": {
            "team": "a",
            "kubernetes.io/service-name": "web",
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        },
        "ownerReferences": [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": "web",
                "uid": "svc-web",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert s["endpoints"] == [
        {
            "addresses": ["10.244.1.2"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "hostname": "a",
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"},
            "nodeName": "n1",
            "zone": "zone-a",
        }
    ]


CONDITIONS = [
    (
        "ready pod",
        web_pod("p", "10.0.0.1"),
        False,
        {"ready": True, "serving": True, "terminating": False},
    ),
    (
        "pod becomes unready → ready=false serving=false",
        web_pod("p", "10.0.0.1", ready=False),
        False,
        {"ready": False, "serving": False, "terminating": False},
    ),
    (
        "publishNotReadyAddresses keeps unready pod ready=true",
        web_pod("p", "10.0.0.1", ready=False),
        True,
        {"ready": True, "serving": False, "terminating": False},
    ),
    (
        "terminating pod: serving true, terminating true, ready false",
        web_pod("p", "10.0.0.1", deleting=True),
        False,
        {"ready": False, "serving": True, "terminating": True},
    ),
    (
        "terminating unready pod",
        web_pod("p", "10.0.0.1", ready=False, deleting=True),
        False,
        {"ready": False, "serving": False, "terminating": True},
    ),
    (
        "terminating pod with publishNotReadyAddresses stays ready",
        web_pod("p", "10.0.0.1", deleting=True),
        True,
        {"ready": True, "serving": True, "terminating": True},
    ),
]


@pytest.mark.parametrize(
    "p,publish,expected", [c[1:] for c in CONDITIONS], ids=[c[0] for c in CONDITIONS]
)
def test_endpoint_conditions(p, publish, expected):
    svc = copy.deepcopy(WEB)
    svc["spec"]["publishNotReadyAddresses"] = publish
    assert conditions(only_slice([p], svc)) == {"p": expected}


def test_named_target_port_resolving_to_different_numbers_gives_two_slices():
    svc = service(
        "web", selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": "web"}]
    )
    a = web_pod("a", "10.0.0.1", ports=[{"name": "web", "containerPort": 8080}])
    b = web_pod("b", "10.0.0.2", ports=[{"name": "web", "containerPort": 9090}])
    slices = [a.obj for a in writes([a, b], svc)]
    assert sorted(
        (s["ports"][0]["port"], [e["targetRef"]["name"] for e in s["endpoints"]]) for s in slices
    ) == [(8080, ["a"]), (9090, ["b"])]


def test_excluded_pods():
    objs = [
        web_pod("done", "10.0.0.1", phase="Succeeded"),
        pod("no-ip", labels={"app": "web"}, node="n1"),
        web_pod("lost", "10.0.0.3", node="gone"),
        web_pod("ok", "10.0.0.4"),
    ]
    assert [e["targetRef"]["name"] for e in only_slice(objs)["endpoints"]] == ["ok"]


def test_pod_on_missing_node_kept_with_publish_not_ready():
    svc = copy.deepcopy(WEB)
    svc["spec"]["publishNotReadyAddresses"] = True
    (endpoint,) = only_slice([web_pod("lost", "10.0.0.3", node="gone")], svc)["endpoints"]
    assert "zone" not in endpoint and endpoint["nodeName"] == "gone"


def test_headless_label():
    svc = service("db", selector={"app": "web"}, cluster_ip="None")
    assert (
        only_slice([web_pod("a", "10.0.0.1")], svc)["metadata"]["labels"][
            "service.kubernetes.io/headless"
        ]
        == ""
    )


def test_empty_service_gets_one_placeholder_slice_once():
    placeholder = only_slice([])
    assert (placeholder["endpoints"], placeholder["ports"]) == ([], [])
    assert writes([stored(placeholder, "web-abcde")]) == []


def test_placeholder_becomes_the_real_slice_in_place():
    placeholder = stored(only_slice([]), "web-abcde")
    (action,) = writes([placeholder, web_pod("a", "10.0.0.1")])
    assert isinstance(action, Update)
    assert (
        action.obj["metadata"]["name"] == "web-abcde"
        and action.obj["metadata"]["resourceVersion"] == "7"
    )
    assert [e["addresses"] for e in action.obj["endpoints"]] == [["10.0.0.1"]]


def test_last_pod_gone_turns_the_slice_back_into_a_placeholder():
    current = stored(only_slice([web_pod("a", "10.0.0.1")]), "web-abcde")
    (action,) = writes([current])
    assert (
        isinstance(action, Update) and action.obj["endpoints"] == [] and action.obj["ports"] == []
    )


def test_new_pod_is_added_to_the_existing_slice():
    pods = [web_pod("a", "10.0.0.1")]
    current = stored(only_slice(pods), "web-abcde")
    assert writes([current, *pods]) == []  # nothing changed: no write
    pods.append(web_pod("b", "10.0.0.2", node="n2"))
    (action,) = writes([current, *pods])
    assert isinstance(action, Update) and action.obj["metadata"]["name"] == "web-abcde"
    assert [e["targetRef"]["name"] for e in action.obj["endpoints"]] == ["a", "b"]


def test_readiness_change_updates_in_place():
    pods = [web_pod("a", "10.0.0.1"), web_pod("b", "10.0.0.2")]
    current = stored(only_slice(pods), "web-abcde")
    pods[0] = web_pod("a", "10.0.0.1", ready=False)
    (action,) = writes([current, *pods])
    assert conditions(action.obj)["a"] == {"ready": False, "serving": False, "terminating": False}


def test_more_than_100_endpoints_use_two_slices():
    pods = [web_pod(f"p{i:03d}", f"10.1.{i // 200}.{i % 200 + 1}") for i in range(150)]
    sizes = sorted(len(a.obj["endpoints"]) for a in writes(pods))
    assert sizes == [50, 100]


def test_user_made_slice_is_never_touched():
    user_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-manual",
            "namespace": "default",
            "uid": "u1",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.0.2.10"]}],
        "ports": [],
    }
    actions = writes([user_slice, web_pod("a", "10.0.0.1")])
    assert all(getattr(a, "name", "") != "web-manual" for a in actions)
    assert all(a.obj["metadata"].get("name") != "web-manual" for a in actions if hasattr(a, "obj"))
    # ... even when its Service is gone.
    assert esc.reconcile(Snapshot.of([user_slice]), NOW) == []


def test_slices_of_a_deleted_service_are_deleted():
    current = stored(only_slice([web_pod("a", "10.0.0.1")]), "web-abcde")
    assert esc.reconcile(Snapshot.of([current]), NOW) == [
        Delete("EndpointSlice", "default", "web-abcde", "uid-web-abcde")
    ]


def test_slice_of_a_recreated_service_is_replaced():
    current = stored(only_slice([web_pod("a", "10.0.0.1")]), "web-abcde")
    recreated = copy.deepcopy(WEB)
    recreated["metadata"]["uid"] = "svc-web-2"
    actions = writes([current, web_pod("a", "10.0.0.1")], recreated)
    assert [type(a) for a in actions] == [Create, Delete]
    assert actions[0].obj["metadata"]["ownerReferences"][0]["uid"] == "svc-web-2"


# --- mirroring ---------------------------------------------------------------------------------

MANUAL = service("db")  # no selector: the user manages its endpoints
MANUAL_EP = endpoints(
    "db",
    [
        {
            "addresses": [{"ip": "192.0.2.20", "hostname": "primary"}],
            "notReadyAddresses": [{"ip": "192.0.2.21"}],
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        }
    ],
    labels={"tier": "db"},
)


def test_selectorless_service_with_manual_endpoints_is_mirrored():
    (create,) = esc.reconcile(Snapshot.of([MANUAL, MANUAL_EP]), NOW)
    s = create.obj
    assert s["metadata"]["generateName"] == "db-"
    assert s["metadata"]["labels"] == {
        "tier": "db",
        "kubernetes.io/service-name": "db",
        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
    }
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert s["ports"] == [{"name": "pg", "port": 5432, "protocol": "TCP"}]
    assert s["endpoints"] == [
        {"addresses": ["192.0.2.20"], "conditions": {"ready": True}, "hostname": "primary"},
        {"addresses": ["192.0.2.21"], "conditions": {"ready": False}},
    ]
    # Stored as created: nothing more to do.
    assert esc.reconcile(Snapshot.of([MANUAL, MANUAL_EP, stored(s, "db-xyz12")]), NOW) == []


def test_mirrored_slice_follows_endpoint_changes_in_place():
    mirrored = stored(esc.reconcile(Snapshot.of([MANUAL, MANUAL_EP]), NOW)[0].obj, "db-xyz12")
    changed = copy.deepcopy(MANUAL_EP)
    changed["subsets"][0]["notReadyAddresses"] = []
    (update,) = esc.reconcile(Snapshot.of([MANUAL, changed, mirrored]), NOW)
    assert isinstance(update, Update) and update.obj["metadata"]["name"] == "db-xyz12"
    assert [e["addresses"] for e in update.obj["endpoints"]] == [["192.0.2.20"]]


MIRROR_CLEANUP = [
    ("Endpoints deleted", [MANUAL]),
    ("Service deleted", [MANUAL_EP]),
    ("Service gained a selector", [service("db", selector={"app": "db"}), MANUAL_EP]),
    (
        "skip-mirror label",
        [
            MANUAL,
            endpoints(
                "db",
                MANUAL_EP["subsets"],
                labels={"endpointslice.kubernetes.io/skip-mirror": "true"},
            ),
        ],
    ),
]


@pytest.mark.parametrize("objs", [c[1] for c in MIRROR_CLEANUP], ids=[c[0] for c in MIRROR_CLEANUP])
def test_mirrored_slices_are_removed(objs):
    mirrored = stored(esc.reconcile(Snapshot.of([MANUAL, MANUAL_EP]), NOW)[0].obj, "db-xyz12")
    actions = esc.reconcile(Snapshot.of([*objs, mirrored]), NOW)
    assert Delete("EndpointSlice", "default", "db-xyz12", "uid-db-xyz12") in actions


def test_controller_endpoints_are_not_mirrored():
    """Endpoints of a Service with a selector belong to the Endpoints controller."""
    ep = endpoints(
        "web", [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 8080, "protocol": "TCP"}]}]
    )
    actions = esc.reconcile(Snapshot.of([WEB, ep, *NODES]), NOW)
    assert all(
        a.obj["metadata"]["labels"][esc.MANAGED_BY_LABEL] == esc.CONTROLLER_NAME for a in actions
    )
