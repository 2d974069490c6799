"""All controllers together: order, purity, and convergence to a fixed point."""

from __future__ import annotations

import ast
import copy
from collections import Counter
from pathlib import Path

import pytest
from ctrl_objects import NOW, deployment, endpoints, namespace, node, service

from lab_kit.controllers import manager, pods
from lab_kit.controllers.state import Snapshot
from lab_kit.model import meta

CONTROLLERS_DIR = Path(manager.__file__).parent
FORBIDDEN = {
    "os",
    "subprocess",
    "socket",
    "asyncio",
    "aiohttp",
    "httpx",
    "pyroute2",
    "mininet",
    "random",
    "time",
}
MY_MODULES = [
    "pods",
    "scheduler",
    "deployment",
    "replicaset",
    "endpoints",
    "endpointslice",
    "garbage_collector",
    "node_lifecycle",
    "manager",
    "knative_objects",
    "knative_serving",
    "knative_revision",
    "kpa",
]


def test_controller_order():
    assert [name for name, _ in manager.CONTROLLERS] == [
        "node_lifecycle",
        "scheduler",
        "knative_serving",
        "knative_revision",
        "deployment",
        "replicaset",
        "endpoints",
        "endpointslice",
        "garbage_collector",
    ]


@pytest.mark.parametrize("module", MY_MODULES)
def test_controllers_are_pure(module):
    tree = ast.parse((CONTROLLERS_DIR / f"{module}.py").read_text())
    imported = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            imported |= {a.name.split(".")[0] for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module:
            imported.add(n.module.split(".")[0])
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            clock = isinstance(n.func.value, ast.Name) and n.func.value.id in (
                "datetime",
                "date",
                "time",
            )
            assert not (clock and n.func.attr in ("now", "utcnow", "today", "time")), (
                f"{module} reads the clock"
            )
    assert not imported & FORBIDDEN
    assert ast.get_docstring(tree), f"{module} needs a docstring naming its Kubernetes source"


def web_cluster(replicas: int = 4, **deploy_kwargs) -> list[dict]:
    return [
        namespace("default"),
        node("n1"),
        node("n2"),
        node("n3"),
        deployment("web", replicas=replicas, **deploy_kwargs),
        service(
            "web",
            selector={"app": "web"},
            ports=[{"name": "http", "port": 80, "targetPort": "http"}],
        ),
    ]


def test_reconcile_all_does_not_mutate_the_snapshot(cluster):
    api = cluster(web_cluster())
    for _ in range(2):  # mid-rollout: every controller has work
        api.step(manager.reconcile_all)
    snapshot = api.state  # the store's own (immutable) objects, as the controllers get them
    before = copy.deepcopy(snapshot.objects)
    assert manager.reconcile_all(snapshot, api.now)
    assert snapshot.objects == before


def test_reconcile_all_concatenates_in_order():
    snap = Snapshot.of(web_cluster())
    expected = [a for _, controller in manager.CONTROLLERS for a in controller(snap, NOW)]
    assert manager.reconcile_all(snap, NOW) == expected


def test_deployment_service_and_three_nodes_converge(cluster):
    api = cluster(web_cluster())
    rounds = api.run(manager.reconcile_all, max_rounds=20)
    assert rounds <= 20

    web_pods = api.list("Pod", "default")
    assert len(web_pods) == 4 and all(pods.is_pod_ready(p) for p in web_pods)
    assert sorted(Counter(meta.spec(p)["nodeName"] for p in web_pods).values()) == [1, 1, 2]

    (rs,) = api.list("ReplicaSet")
    assert meta.name(rs).startswith("web-") and rs["status"]["availableReplicas"] == 4
    assert all(meta.name(p).startswith(meta.name(rs) + "-") for p in web_pods)

    (ep,) = api.list("Endpoints")
    assert sorted(a["ip"] for s in ep["subsets"] for a in s["addresses"]) == sorted(
        meta.status(p)["podIP"] for p in web_pods
    )
    assert ep["subsets"][0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]

    (eps,) = api.list("EndpointSlice")
    assert len(eps["endpoints"]) == 4
    assert all(
        e["conditions"] == {"ready": True, "serving": True, "terminating": False}
        for e in eps["endpoints"]
    )

    d = api.get("Deployment", "default", "web")
    assert {
        k: d["status"][k]
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    } == {"replicas": 4, "updatedReplicas": 4, "readyReplicas": 4, "availableReplicas": 4}
    assert {c["type"]: c["reason"] for c in d["status"]["conditions"]} == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    assert meta.annotations(d)["deployment.kubernetes.io/revision"] == "1"


def test_rolling_update_respects_surge_and_unavailability(cluster):
    api = cluster(web_cluster())
    api.run(manager.reconcile_all)
    d = copy.deepcopy(api.get("Deployment", "default", "web"))
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert api.update(d) == "updated"

    def invariants(state: Snapshot) -> None:
        live = [p for p in state.list("Pod") if not meta.is_deleting(p)]
        assert len(live) <= 4 + 1  # replicas + maxSurge
        assert sum(pods.is_pod_ready(p) for p in live) >= 4 - 1  # replicas - maxUnavailable

    api.run(manager.reconcile_all, max_rounds=30, observe=invariants)
    images = {p["spec"]["containers"][0]["image"] for p in api.list("Pod")}
    assert images == {"nginx:1.26"} and len(api.list("Pod")) == 4
    assert sorted(r["spec"]["replicas"] for r in api.list("ReplicaSet")) == [0, 4]
    d = api.get("Deployment", "default", "web")
    assert meta.annotations(d)["deployment.kubernetes.io/revision"] == "2"
    assert len(api.list("EndpointSlice")[0]["endpoints"]) == 4


def test_recreate_never_runs_old_and_new_together(cluster):
    api = cluster(web_cluster(replicas=3, strategy={"type": "Recreate"}))
    api.run(manager.reconcile_all)
    d = copy.deepcopy(api.get("Deployment", "default", "web"))
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    api.update(d)

    def one_version(state: Snapshot) -> None:
        assert len({p["spec"]["containers"][0]["image"] for p in state.list("Pod")}) <= 1

    api.run(manager.reconcile_all, max_rounds=30, observe=one_version)
    assert {p["spec"]["containers"][0]["image"] for p in api.list("Pod")} == {"nginx:1.26"}


def test_readiness_flip_reaches_endpoints_and_slices(cluster):
    api = cluster(web_cluster(replicas=2))
    api.run(manager.reconcile_all)
    victim = meta.name(api.list("Pod")[0])
    api.set_ready("default", victim, False)
    api.run(manager.reconcile_all)
    (ep,) = api.list("Endpoints")
    assert [
        a["targetRef"]["name"] for s in ep["subsets"] for a in s.get("notReadyAddresses", [])
    ] == [victim]
    (eps,) = api.list("EndpointSlice")
    flags = {e["targetRef"]["name"]: e["conditions"]["ready"] for e in eps["endpoints"]}
    assert flags[victim] is False and sum(flags.values()) == 1
    assert api.get("Deployment", "default", "web")["status"]["availableReplicas"] == 1


def test_scale_down_then_delete_everything(cluster):
    api = cluster(web_cluster())
    api.run(manager.reconcile_all)
    d = copy.deepcopy(api.get("Deployment", "default", "web"))
    d["spec"]["replicas"] = 2
    api.update(d)
    api.run(manager.reconcile_all)
    assert len(api.list("Pod")) == 2
    assert len(api.list("EndpointSlice")[0]["endpoints"]) == 2
    api.delete("Deployment", "default", "web")
    api.delete("Service", "default", "web")
    api.run(manager.reconcile_all)
    left = {o["kind"] for o in api.state}
    assert (
        left == {"Namespace", "Node", "ServiceAccount", "Event"}
    )  # default's own ServiceAccount; the Scheduled events outlive their pods (as for an hour in Kubernetes)


def test_namespace_deletion_empties_then_removes_it(cluster):
    objs = [
        namespace("default"),
        namespace("shop"),
        node("n1"),
        deployment("web", replicas=2, ns="shop"),
        service(
            "web", ns="shop", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}]
        ),
    ]
    api = cluster(objs)
    api.run(manager.reconcile_all)
    assert api.delete("Namespace", "", "shop") == "terminating"
    api.run(manager.reconcile_all)
    assert api.get("Namespace", "", "shop") is None
    assert [o for o in api.state if meta.namespace(o) == "shop"] == []


def test_manual_endpoints_are_mirrored_and_stable(cluster):
    objs = [
        namespace("default"),
        service("db", ports=[{"name": "pg", "port": 5432, "targetPort": 5432}]),
        endpoints(
            "db",
            [
                {
                    "addresses": [{"ip": "192.0.2.20"}],
                    "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
                }
            ],
        ),
    ]
    api = cluster(objs)
    assert api.run(manager.reconcile_all) <= 3
    (eps,) = api.list("EndpointSlice")
    assert (
        eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
        == "endpointslicemirroring-controller.k8s.io"
    )
    assert api.get("Endpoints", "default", "db")["subsets"] == objs[2]["subsets"]  # never rewritten


def test_no_ready_nodes_leaves_pods_pending_and_says_why(cluster):
    objs = web_cluster(replicas=2)
    objs[1:4] = [node("n1", ready="False"), node("n2", ready="False"), node("n3", ready="False")]
    api = cluster(objs)
    api.run(manager.reconcile_all)
    for p in api.list("Pod"):
        assert not meta.spec(p).get("nodeName")
        (cond,) = [c for c in p["status"]["conditions"] if c["type"] == "PodScheduled"]
        assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
        assert cond["message"] == (
            "0/3 nodes are available: "
            "3 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
        )
