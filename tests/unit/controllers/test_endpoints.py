"""Legacy Endpoints controller: which pods, which list, which ports, when to write."""

from __future__ import annotations

import copy

import pytest
from ctrl_objects import NOW, endpoints, pod, service

from lab_kit.controllers import endpoints as epc
from lab_kit.controllers.state import Create, Delete, Snapshot, Update

WEB = service(
    "web",
    selector={"app": "web"},
    ports=[{"name": "http", "port": 80, "targetPort": 8080}],
    labels={"team": "a"},
)


def web_pod(name: str, ip: str, ready: bool = True, node: str = "n1", **kwargs) -> dict:
    return pod(name, labels={"app": "web"}, node=node, ip=ip, ready=ready, **kwargs)


def sync(*objs) -> dict:
    """The Endpoints object the controller writes for the first Service among objs."""
    svc = next(o for o in objs if o["kind"] == "Service")
    action = epc.sync_service(Snapshot.of(list(objs)), svc)
    assert isinstance(action, Create | Update), action
    return action.obj


def ips(subset: dict, field: str = "addresses") -> list[str]:
    return [a["ip"] for a in subset.get(field) or []]


def test_ready_pods_become_addresses():
    ep = sync(WEB, web_pod("b", "10.244.1.3", node="n2"), web_pod("a", "10.244.1.2"))
    assert ep["metadata"] == {
        "name": "web",
        "namespace": "default",
        "labels": {"team": "a", "endpoints.kubernetes.io/managed-by": "endpoint-controller"},
    }
    assert ep["subsets"] == [
        {
            "addresses": [
                {
                    "ip": "10.244.1.2",
                    "nodeName": "n1",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": "default",
                        "name": "a",
                        "uid": "uid-a",
                    },
                },
                {
                    "ip": "10.244.1.3",
                    "nodeName": "n2",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": "default",
                        "name": "b",
                        "uid": "uid-b",
                    },
                },
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
    ]


WHICH_LIST = [
    (
        "pod becomes unready → moves from addresses to notReadyAddresses",
        [web_pod("a", "10.0.0.1"), web_pod("b", "10.0.0.2", ready=False)],
        False,
        ["10.0.0.1"],
        ["10.0.0.2"],
    ),
    (
        "publishNotReadyAddresses keeps an unready pod in addresses",
        [web_pod("a", "10.0.0.1"), web_pod("b", "10.0.0.2", ready=False)],
        True,
        ["10.0.0.1", "10.0.0.2"],
        [],
    ),
    (
        "a terminating pod is dropped",
        [web_pod("a", "10.0.0.1"), web_pod("b", "10.0.0.2", deleting=True)],
        False,
        ["10.0.0.1"],
        [],
    ),
    (
        "a terminating pod stays with publishNotReadyAddresses",
        [web_pod("b", "10.0.0.2", deleting=True)],
        True,
        ["10.0.0.2"],
        [],
    ),
    (
        "terminal pods are dropped",
        [web_pod("a", "10.0.0.1", phase="Succeeded"), web_pod("b", "10.0.0.2", phase="Failed")],
        True,
        [],
        [],
    ),
    ("a pod without an IP is dropped", [pod("a", labels={"app": "web"}, node="n1")], True, [], []),
    (
        "pods of other apps or namespaces are ignored",
        [
            pod("x", labels={"app": "db"}, node="n1", ip="10.0.0.7", ready=True),
            pod("y", ns="other", labels={"app": "web"}, node="n1", ip="10.0.0.8", ready=True),
        ],
        False,
        [],
        [],
    ),
    (
        "addresses sort as strings, like Kubernetes",
        [web_pod("a", "10.0.0.10"), web_pod("b", "10.0.0.9")],
        False,
        ["10.0.0.10", "10.0.0.9"],
        [],
    ),
]


@pytest.mark.parametrize(
    "pods,publish,ready,not_ready", [c[1:] for c in WHICH_LIST], ids=[c[0] for c in WHICH_LIST]
)
def test_which_list(pods, publish, ready, not_ready):
    svc = copy.deepcopy(WEB)
    if publish:
        svc["spec"]["publishNotReadyAddresses"] = True
    ep = sync(svc, *pods)
    subsets = ep.get("subsets", [])
    assert [ip for s in subsets for ip in ips(s)] == ready
    assert [ip for s in subsets for ip in ips(s, "notReadyAddresses")] == not_ready


def test_named_target_port_resolves_per_pod():
    svc = service(
        "web", selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": "web"}]
    )
    old = web_pod("old", "10.0.0.1", ports=[{"name": "web", "containerPort": 8080}])
    new = web_pod("new", "10.0.0.2", ports=[{"name": "web", "containerPort": 9090}])
    none = web_pod("none", "10.0.0.3", ports=[{"name": "metrics", "containerPort": 9100}])
    ep = sync(svc, old, new, none)
    assert [(ips(s), s["ports"][0]["port"]) for s in ep["subsets"]] == [
        (["10.0.0.1"], 8080),
        (["10.0.0.2"], 9090),
    ]


def test_named_port_must_match_protocol_too():
    svc = service(
        "dns",
        selector={"app": "web"},
        ports=[{"name": "dns", "port": 53, "targetPort": "dns", "protocol": "UDP"}],
    )
    tcp_only = web_pod(
        "a", "10.0.0.1", ports=[{"name": "dns", "containerPort": 5353, "protocol": "TCP"}]
    )
    assert "subsets" not in sync(svc, tcp_only)


def test_repacking_groups_addresses_by_port_set():
    svc = service(
        "web",
        selector={"app": "web"},
        ports=[
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "metrics", "port": 9100, "targetPort": 9100},
        ],
    )
    full = [
        web_pod(n, ip, ports=[{"name": "http", "containerPort": 8080}])
        for n, ip in (("a", "10.0.0.1"), ("b", "10.0.0.2"))
    ]
    partial = web_pod("c", "10.0.0.3")  # no "http" port: only behind "metrics"
    ep = sync(svc, *full, partial)
    shapes = [(ips(s), [p["name"] for p in s["ports"]]) for s in ep["subsets"]]
    # Ports are grouped by identical address sets, so a and b appear in both subsets.
    assert shapes == [
        (["10.0.0.1", "10.0.0.2"], ["http"]),
        (["10.0.0.1", "10.0.0.2", "10.0.0.3"], ["metrics"]),
    ]
    same = sync(svc, *full)
    assert [(ips(s), [p["name"] for p in s["ports"]]) for s in same["subsets"]] == [
        (["10.0.0.1", "10.0.0.2"], ["http", "metrics"])
    ]


def test_hostname_only_when_subdomain_names_the_service():
    svc = service("db", selector={"app": "web"}, cluster_ip="None")
    yes = web_pod("db-0", "10.0.0.1", hostname="db-0", subdomain="db")
    no = web_pod("db-1", "10.0.0.2", hostname="db-1", subdomain="other")
    ep = sync(svc, yes, no)
    assert [a.get("hostname") for a in ep["subsets"][0]["addresses"]] == ["db-0", None]
    assert ep["metadata"]["labels"] == {
        "service.kubernetes.io/headless": "",
        "endpoints.kubernetes.io/managed-by": "endpoint-controller",
    }


def test_headless_service_without_ports_lists_addresses_without_ports():
    svc = service("db", selector={"app": "web"}, cluster_ip="None", ports=[])
    ep = sync(svc, web_pod("a", "10.0.0.1"))
    assert ep["subsets"] == [{"addresses": [ep["subsets"][0]["addresses"][0]]}]


def test_app_protocol_is_carried():
    svc = service(
        "web",
        selector={"app": "web"},
        ports=[{"name": "h2", "port": 80, "targetPort": 8080, "appProtocol": "kubernetes.io/h2c"}],
    )
    assert sync(svc, web_pod("a", "10.0.0.1"))["subsets"][0]["ports"] == [
        {"name": "h2", "port": 8080, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}
    ]


SKIPPED = [
    ("a Service without selector belongs to the user", service("manual")),
    (
        "ExternalName receives no endpoints",
        service(
            "ext",
            selector={"app": "web"},
            type="ExternalName",
            externalName="example.com",
            cluster_ip="",
        ),
    ),
]


@pytest.mark.parametrize("svc", [c[1] for c in SKIPPED], ids=[c[0] for c in SKIPPED])
def test_services_without_endpoints(svc):
    assert epc.reconcile(Snapshot.of([svc, web_pod("a", "10.0.0.1")]), NOW) == []


def test_no_write_when_nothing_changed_and_update_keeps_the_resource_version():
    pods = [web_pod("a", "10.0.0.1"), web_pod("b", "10.0.0.2")]
    current = sync(WEB, *pods)
    current["metadata"].update(uid="ep-uid", resourceVersion="42")
    assert epc.reconcile(Snapshot.of([WEB, current, *pods]), NOW) == []
    pods[1] = web_pod("b", "10.0.0.2", ready=False)
    (update,) = epc.reconcile(Snapshot.of([WEB, current, *pods]), NOW)
    assert isinstance(update, Update) and update.obj["metadata"]["resourceVersion"] == "42"
    assert ips(update.obj["subsets"][0], "notReadyAddresses") == ["10.0.0.2"]


def test_service_label_change_is_copied():
    current = sync(WEB)
    relabelled = copy.deepcopy(WEB)
    relabelled["metadata"]["labels"] = {"team": "b"}
    (update,) = epc.reconcile(Snapshot.of([relabelled, current]), NOW)
    assert update.obj["metadata"]["labels"] == {
        "team": "b",
        "endpoints.kubernetes.io/managed-by": "endpoint-controller",
    }


CLEANUP = [
    (
        "Endpoints the controller wrote, whose Service is gone, are deleted",
        [endpoints("gone", [], labels={epc.MANAGED_BY_LABEL: epc.CONTROLLER_NAME})],
        ["gone"],
    ),
    ("hand-made Endpoints without a Service (yet) are left alone", [endpoints("early", [])], []),
    (
        "manual Endpoints of a selector-less Service are left alone",
        [service("manual"), endpoints("manual", [{"addresses": [{"ip": "192.0.2.1"}]}])],
        [],
    ),
    (
        "leader-election Endpoints are left alone",
        [
            {
                **endpoints("lock", []),
                "metadata": {
                    "name": "lock",
                    "namespace": "default",
                    "uid": "l",
                    "annotations": {epc.LEADER_ANNOTATION: "{}"},
                },
            }
        ],
        [],
    ),
]


@pytest.mark.parametrize("objs,deleted", [c[1:] for c in CLEANUP], ids=[c[0] for c in CLEANUP])
def test_cleanup(objs, deleted):
    actions = epc.reconcile(Snapshot.of(objs), NOW)
    assert [a.name for a in actions if isinstance(a, Delete)] == deleted
    assert all(a.uid for a in actions if isinstance(a, Delete))


def test_repack_merges_and_not_ready_wins():
    a = {"ip": "10.0.0.1", "targetRef": {"uid": "a"}}
    p80, p90 = {"port": 80, "protocol": "TCP"}, {"port": 90, "protocol": "TCP"}
    repacked = epc.repack_subsets(
        [
            {"addresses": [a], "ports": [p80]},
            {"addresses": [a], "ports": [p90]},
            {"notReadyAddresses": [a], "ports": [p80]},  # not ready for 80 → not ready there
        ]
    )
    assert repacked == [
        {"notReadyAddresses": [a], "ports": [p80]},
        {"addresses": [a], "ports": [p90]},
    ]


def test_truncation_keeps_ready_addresses_first():
    subsets = [
        {
            "addresses": [{"ip": f"10.0.0.{i}"} for i in range(6)],
            "notReadyAddresses": [{"ip": f"10.0.1.{i}"} for i in range(4)],
        }
    ]
    truncated, kept = epc.truncate_subsets(subsets, 8)
    assert truncated
    assert len(kept[0]["addresses"]) == 6 and len(kept[0]["notReadyAddresses"]) == 2
    assert epc.truncate_subsets(subsets, 10) == (False, subsets)


def test_over_capacity_annotation():
    pods = [web_pod(f"p{i}", f"10.1.{i // 250}.{i % 250}") for i in range(1001)]
    ep = sync(WEB, *pods)
    assert ep["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}
    assert sum(len(s["addresses"]) for s in ep["subsets"]) == 1000
