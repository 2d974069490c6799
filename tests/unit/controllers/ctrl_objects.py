"""Builders for the JSON-shaped objects controller tests feed in (already defaulted,
as the API server would store them)."""

from __future__ import annotations

from lab_kit.controllers import pods

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
TS = pods.timestamp(NOW)


def ts(offset: float) -> str:
    return pods.timestamp(NOW + offset)


def namespace(name: str, deleting: bool = False, uid: str | None = None) -> dict:
    md = {"name": name, "uid": uid or f"ns-{name}"}
    if deleting:
        md["deletionTimestamp"] = TS
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": md,
        "spec": {"finalizers": ["kubernetes"]},
    }


def node(
    name: str,
    ready: str | None = "True",
    labels: dict | None = None,
    taints: list | None = None,
    unschedulable: bool = False,
) -> dict:
    spec: dict = {"podCIDR": "10.244.0.0/24"}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"node-{name}",
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
        },
        "spec": spec,
        "status": {"conditions": conditions},
    }


def container(ports: list[dict] | None = None, name: str = "app") -> dict:
    c: dict = {"name": name, "image": "nginx:1.25"}
    if ports:
        c["ports"] = [{"protocol": "TCP", **p} for p in ports]
    return c


def pod(
    name: str,
    ns: str = "default",
    labels: dict | None = None,
    node: str | None = None,
    ip: str | None = None,
    ready: bool | None = None,
    phase: str | None = None,
    deleting: bool = False,
    owner: dict | None = None,
    ports: list[dict] | None = None,
    created: float = 0,
    ready_at: float = 0,
    **spec_extra,
) -> dict:
    md: dict = {
        "name": name,
        "namespace": ns,
        "uid": f"uid-{name}",
        "labels": dict(labels or {}),
        "creationTimestamp": ts(created),
    }
    if deleting:
        md["deletionTimestamp"] = TS
    if owner is not None:
        md["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    spec: dict = {
        "containers": [container(ports)],
        "schedulerName": "default-scheduler",
        **spec_extra,
    }
    if node:
        spec["nodeName"] = node
    status: dict = {"phase": phase or ("Running" if ip else "Pending")}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    if ready is not None:
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastProbeTime": None,
                "lastTransitionTime": ts(ready_at),
            }
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}


def service(
    name: str,
    selector: dict | None = None,
    ports: list[dict] | None = None,
    ns: str = "default",
    cluster_ip: str = "10.96.100.1",
    labels: dict | None = None,
    publish_not_ready: bool = False,
    **spec_extra,
) -> dict:
    spec: dict = {
        "type": "ClusterIP",
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "sessionAffinity": "None",
    }
    if cluster_ip == "None":
        spec["clusterIPs"] = ["None"]
    if selector:
        spec["selector"] = selector
    if ports is None:
        ports = [{"port": 80, "targetPort": 8080}]
    spec["ports"] = [{"protocol": "TCP", **p} for p in ports]
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    spec.update(spec_extra)
    md: dict = {"name": name, "namespace": ns, "uid": f"svc-{name}"}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": md, "spec": spec}


def endpoints(
    name: str, subsets: list[dict], ns: str = "default", labels: dict | None = None
) -> dict:
    md: dict = {"name": name, "namespace": ns, "uid": f"ep-{name}"}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": md, "subsets": subsets}


def template(labels: dict, image: str = "nginx:1.25", ports: list[dict] | None = None) -> dict:
    c = container(ports)
    c["image"] = image
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {"containers": [c], "restartPolicy": "Always"},
    }


def deployment(
    name: str,
    replicas: int = 3,
    labels: dict | None = None,
    image: str = "nginx:1.25",
    strategy: dict | None = None,
    ns: str = "default",
    **spec_extra,
) -> dict:
    labels = labels or {"app": name}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(labels)},
        "template": template(labels, image, ports=[{"name": "http", "containerPort": 8080}]),
        "strategy": strategy
        or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        **spec_extra,
    }
    md = {"name": name, "namespace": ns, "uid": f"deploy-{name}", "generation": 1}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md, "spec": spec}


def replicaset(
    name: str,
    replicas: int,
    labels: dict | None = None,
    owner: dict | None = None,
    ns: str = "default",
    status: dict | None = None,
    created: float = 0,
    annotations: dict | None = None,
) -> dict:
    labels = labels or {"app": "web"}
    md: dict = {
        "name": name,
        "namespace": ns,
        "uid": f"rs-{name}",
        "generation": 1,
        "creationTimestamp": ts(created),
        "labels": dict(labels),
    }
    if annotations:
        md["annotations"] = dict(annotations)
    if owner is not None:
        md["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": md,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": template(labels),
        },
        "status": status or {"replicas": 0},
    }
