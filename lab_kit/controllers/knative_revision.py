"""Knative Serving's Revision and ServerlessService (SKS) controllers.

Mirrors knative/serving `pkg/reconciler/revision` (a Revision runs as the Deployment
`<revision>-deployment`: the user's container plus the queue-proxy, which takes over the
readiness probe; a PodAutoscaler of the Revision's name; Ready once its pods first became
ready, Active while it has any) and `pkg/reconciler/serverlessservice` (the private Service
`<revision>-private` selects the pods; the public Service `<revision>` has no selector, and
its Endpoints are the ready pods in `Serve` mode, or the activators in `Proxy` mode or while
no pod is ready: the switch that keeps a Revision reachable at zero pods).

Who decides what: the autoscaler (lab_kit/agents/knative_autoscaler.py) writes the
PodAutoscaler's `status.desiredScale` and the SKS's `spec.mode`; this controller scales the
Deployment to `desiredScale` (the initial scale until the autoscaler has spoken) and keeps
the public Endpoints in line with the mode.

Deviations: the queue-proxy image is the lab's (`lab_kit/workloads/queue_proxy.py`); the
Deployment's progress deadline and the image digest resolution are left out.
"""

from __future__ import annotations

import json

from lab_kit.controllers.knative_objects import (
    ACTIVATOR_SERVICE,
    INTERNAL_API,
    QUEUE_METRICS_PORT,
    QUEUE_PORT,
    SERVING_IMAGE_QUEUE,
    SYSTEM_NAMESPACE,
    condition,
    deployment_name,
    ensure,
    ensure_status,
    owned,
    private_service_name,
)
from lab_kit.controllers.state import Action, Create, Snapshot
from lab_kit.model import knative as kn
from lab_kit.model import meta

SERVICE_TYPE_LABEL = "networking.internal.knative.dev/serviceType"
SKS_LABEL = "networking.internal.knative.dev/serverlessservice"
INITIAL_SCALE = 1  # config-autoscaler initial-scale


def reconcile(state: Snapshot, now: float) -> list[Action]:
    actions: list[Action] = []
    for rev in state.list("Revision"):
        if not meta.is_deleting(rev):
            actions += sync_revision(state, rev)
    for sks in state.list("ServerlessService"):
        if not meta.is_deleting(sks):
            actions += sync_sks(state, sks)
    return actions


# --- Revision ----------------------------------------------------------------------------------


def pod_labels(rev: dict) -> dict:
    labels = {k: v for k, v in meta.labels(rev).items() if k.startswith(kn.GROUP)}
    labels.update({"app": meta.name(rev), kn.REVISION_LABEL: meta.name(rev),
                   kn.REVISION_UID_LABEL: meta.uid(rev)})  # fmt: skip
    return labels


def user_port(rev: dict) -> int:
    container = (meta.spec(rev).get("containers") or [{}])[0]
    ports = container.get("ports") or []
    return (
        int(ports[0].get("containerPort", kn.DEFAULT_USER_PORT)) if ports else kn.DEFAULT_USER_PORT
    )


def initial_scale(rev: dict) -> int:
    annotations = meta.annotations(rev)
    wanted = int(annotations.get(kn.INITIAL_SCALE, INITIAL_SCALE))
    return max(wanted, int(annotations.get(kn.MIN_SCALE, 0)))


def desired_scale(state: Snapshot, rev: dict) -> int:
    pa = state.get("PodAutoscaler", meta.namespace(rev), meta.name(rev))
    scale = ((pa or {}).get("status") or {}).get("desiredScale")
    return initial_scale(rev) if scale is None or scale < 0 else int(scale)


def pod_template(rev: dict) -> dict:
    spec = meta.spec(rev)
    user = meta.deep_copy((spec.get("containers") or [{}])[0])
    port = user_port(rev)
    probe = user.pop("readinessProbe", None) or {"tcpSocket": {"port": 0}}
    for action in ("tcpSocket", "httpGet"):
        if isinstance(probe.get(action), dict) and not probe[action].get("port"):
            probe[action]["port"] = port  # Knative's "port 0": the user port
    names = {"K_REVISION": meta.name(rev),
             "K_CONFIGURATION": meta.labels(rev).get(kn.CONFIGURATION_LABEL, ""),
             "K_SERVICE": meta.labels(rev).get(kn.SERVICE_LABEL, "")}  # fmt: skip
    user["env"] = [*(user.get("env") or []), {"name": "PORT", "value": str(port)},
                   *({"name": k, "value": v} for k, v in names.items())]  # fmt: skip
    user["ports"] = [{"name": "user-port", "containerPort": port, "protocol": "TCP"}]
    field = lambda path: {"valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}  # noqa: E731
    queue = {
        "name": "queue-proxy",
        "image": SERVING_IMAGE_QUEUE,
        "ports": [
            {"name": "http-queueadm", "containerPort": 8022, "protocol": "TCP"},
            {"name": "http-autometric", "containerPort": QUEUE_METRICS_PORT, "protocol": "TCP"},
            {"name": "queue-port", "containerPort": QUEUE_PORT, "protocol": "TCP"},
        ],
        "env": [
            {"name": "SERVING_NAMESPACE", "value": meta.namespace(rev)},
            {"name": "SERVING_REVISION", "value": meta.name(rev)},
            {"name": "SERVING_POD", **field("metadata.name")},
            {"name": "SERVING_POD_IP", **field("status.podIP")},
            {"name": "CONTAINER_CONCURRENCY", "value": str(spec.get("containerConcurrency", 0))},
            {"name": "REVISION_TIMEOUT_SECONDS", "value": str(spec.get("timeoutSeconds", 300))},
            {"name": "QUEUE_SERVING_PORT", "value": str(QUEUE_PORT)},
            {"name": "USER_PORT", "value": str(port)},
            {"name": "SERVING_READINESS_PROBE", "value": json.dumps(probe, sort_keys=True)},
        ],
        # the kubelet asks the queue-proxy, which asks the user container (probe above)
        "readinessProbe": {
            "httpGet": {
                "port": QUEUE_PORT,
                "path": "/",
                "httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}],
            },  # fmt: skip
            "periodSeconds": 1,
            "successThreshold": 1,
        },
    }
    pod_spec = {k: meta.deep_copy(v) for k, v in spec.items()
                if k not in ("containers", "containerConcurrency", "timeoutSeconds")}  # fmt: skip
    pod_spec["containers"] = [user, queue]
    pod_spec["terminationGracePeriodSeconds"] = spec.get("timeoutSeconds", 300)
    annotations = {k: v for k, v in meta.annotations(rev).items() if k.startswith(kn.AUTOSCALING)}
    md: dict = {"labels": pod_labels(rev)}
    if annotations:
        md["annotations"] = annotations
    return {"metadata": md, "spec": pod_spec}


def sync_revision(state: Snapshot, rev: dict) -> list[Action]:
    name, ns, labels = meta.name(rev), meta.namespace(rev), pod_labels(rev)
    selector = {kn.REVISION_UID_LABEL: meta.uid(rev)}
    deployment = owned(rev, "Deployment", "apps/v1", deployment_name(name), labels)
    deployment["spec"] = {
        "replicas": desired_scale(state, rev),
        "selector": {"matchLabels": selector},
        "template": pod_template(rev),
        "progressDeadlineSeconds": 600,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
        },  # fmt: skip
    }
    private = owned(rev, "Service", "v1", private_service_name(name),
                    {**labels, SERVICE_TYPE_LABEL: "Private"})  # fmt: skip
    private["spec"] = {"selector": selector, "ports": [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": QUEUE_PORT},
        {"name": "http-autometric", "port": QUEUE_METRICS_PORT, "protocol": "TCP",
         "targetPort": QUEUE_METRICS_PORT},
    ]}  # fmt: skip
    public = owned(rev, "Service", "v1", name, {**labels, SERVICE_TYPE_LABEL: "Public"})
    public["spec"] = {
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": QUEUE_PORT}]
    }
    api = INTERNAL_API["PodAutoscaler"]
    pa = owned(rev, "PodAutoscaler", api, name, labels)
    annotations = {k: v for k, v in meta.annotations(rev).items() if k.startswith(kn.AUTOSCALING)}
    pa["metadata"]["annotations"] = {
        kn.CLASS: kn.KPA_CLASS,
        kn.METRIC: "concurrency",
        **annotations,
    }
    pa["spec"] = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment_name(name),
        },
        "containerConcurrency": meta.spec(rev).get("containerConcurrency", 0),
        "protocolType": "http1",
    }
    actions = (
        ensure(state, deployment)
        + ensure(state, private)
        + ensure(state, public)
        + ensure(state, pa)
    )
    if state.get("ServerlessService", ns, name) is None:
        sks = owned(rev, "ServerlessService", INTERNAL_API["ServerlessService"], name, labels)
        # Proxy until a pod is ready: the activator holds the first requests
        sks["spec"] = {"mode": "Proxy", "protocolType": "http1",
                       "objectRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": deployment_name(name)}}  # fmt: skip
        actions.append(Create(sks))
    return actions + ensure_status(rev, _revision_status(state, rev))


def _revision_status(state: Snapshot, rev: dict) -> dict:
    d = state.get("Deployment", meta.namespace(rev), deployment_name(meta.name(rev))) or {}
    ready = int((d.get("status") or {}).get("readyReplicas", 0))
    was_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (rev.get("status") or {}).get("conditions") or [])  # fmt: skip
    ok = was_ready or ready > 0
    container = (meta.spec(rev).get("containers") or [{}])[0]
    return {
        "observedGeneration": meta.metadata(rev).get("generation", 1),
        "serviceName": meta.name(rev),
        "actualReplicas": ready,
        "desiredReplicas": int(meta.spec(d).get("replicas", 0)) if d else 0,
        "containerStatuses": [{"name": container.get("name", kn.DEFAULT_CONTAINER_NAME)}],
        "conditions": [
            condition(
                "Active",
                ready > 0,
                "" if ready else "NoTraffic",
                "" if ready else "The target is not receiving traffic.",
            ),  # fmt: skip
            condition("ContainerHealthy", True if ok else None),
            condition("Ready", True if ok else None, "" if ok else "Deploying"),
            condition("ResourcesAvailable", True if ok else None, "" if ok else "Deploying"),
        ],
    }


# --- ServerlessService ----------------------------------------------------------------------


def ready_addresses(state: Snapshot, namespace: str, service: str) -> list[str]:
    """The ready endpoint addresses of a Service, from its EndpointSlices, sorted."""
    out: set[str] = set()
    for s in state.list("EndpointSlice", namespace):
        if meta.labels(s).get("kubernetes.io/service-name") != service:
            continue
        for e in s.get("endpoints") or []:
            if (e.get("conditions") or {}).get("ready") is not False:
                out.update(e.get("addresses") or [])
    return sorted(out)


def sks_targets(state: Snapshot, sks: dict) -> tuple[list[str], str]:
    """The public Endpoints' addresses, and who they are ("pods" or "activator")."""
    pods = ready_addresses(state, meta.namespace(sks), private_service_name(meta.name(sks)))
    if meta.spec(sks).get("mode") == "Serve" and pods:
        return pods, "pods"
    return ready_addresses(state, SYSTEM_NAMESPACE, ACTIVATOR_SERVICE), "activator"


def sync_sks(state: Snapshot, sks: dict) -> list[Action]:
    name, ns = meta.name(sks), meta.namespace(sks)
    addresses, who = sks_targets(state, sks)
    endpoints = owned(sks, "Endpoints", "v1", name, {SKS_LABEL: name, SERVICE_TYPE_LABEL: "Public"})
    subsets = []
    if addresses:
        subsets = [{"addresses": [{"ip": ip} for ip in addresses],
                    "ports": [{"name": "http", "port": QUEUE_PORT, "protocol": "TCP"}]}]  # fmt: skip
    endpoints["subsets"] = subsets
    actions = []
    if state.get("Service", ns, name) is not None:  # the Revision makes the public Service
        actions = ensure(state, endpoints, compare=("subsets",))
    status = {
        "serviceName": name,
        "privateServiceName": private_service_name(name),
        "conditions": [
            condition("ActivatorEndpointsPopulated", who == "activator" and bool(addresses)),
            condition("EndpointsPopulated", who == "pods"),
            condition("Ready", bool(addresses)),
        ],
    }
    return actions + ensure_status(sks, status)
