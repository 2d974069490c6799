"""Per-kind rules the API server applies around a write (the `strategy.go` files).

Mirrors `pkg/registry/core/pod/strategy.go`, `.../service/strategy.go`,
`pkg/registry/apps/deployment/strategy.go` and friends, reduced to what a learner can
observe: which fields the server sets on create, which survive an update, when
`metadata.generation` moves, and when a delete is graceful.
"""

from __future__ import annotations

import base64

from lab_kit.model import meta
from lab_kit.model.meta import rfc3339

# Kinds whose status is owned by a controller or agent, not by the user's manifest.
_STATUS_OWNED = {"Pod", "Service", "Deployment", "ReplicaSet", "Ingress", "Namespace"}
_KNATIVE = {
    "Service.serving.knative.dev",
    "Configuration",
    "Revision",
    "Route",
    "PodAutoscaler",
    "ServerlessService",
}
_STATUS_OWNED |= _KNATIVE
# Kinds whose spec changes bump metadata.generation (observedGeneration is compared to it).
_GENERATION = {"Deployment", "ReplicaSet", "Service", "Ingress", "Pod"} | _KNATIVE
_SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "resourceVersion",
)


def convert_from_v1(obj: dict) -> dict:
    """What decoding a v1 object into the API server's internal type changes
    (`pkg/apis/core/v1/conversion.go`, Convert_v1_Secret_To_core_Secret): a Secret's
    `stringData` is merged into `data` ("StringData overwrites Data"), base64-encoded as
    `data` is, and is never stored. Applied to the decoded object, before defaults and
    validation, on create and update alike."""
    string_data = obj.get("stringData") if obj.get("kind") == "Secret" else None
    if not isinstance(string_data, dict):
        return obj
    obj = {k: v for k, v in obj.items() if k != "stringData"}
    data = dict(obj.get("data") or {})
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode("ascii")
    if data:
        obj["data"] = data
    return obj


def prepare_for_create(obj: dict, now: float) -> dict:
    obj = meta.deep_copy(obj)
    md = obj["metadata"]
    for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
        md.pop(field, None)
    kind = meta.kind_key(obj)
    if kind in _GENERATION:
        md["generation"] = 1
    if kind in _STATUS_OWNED:
        obj["status"] = {}
    if kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        if meta.spec(obj).get("nodeName"):
            set_condition(obj, "PodScheduled", "True", "", "", now)
    elif kind == "Namespace":
        obj["status"] = {"phase": "Active"}
    elif kind == "Service":
        obj["status"] = {"loadBalancer": {}}
    return obj


def prepare_for_update(new: dict, old: dict) -> dict:
    """The user's object, with the server's metadata and the stored status carried over."""
    new = meta.deep_copy(new)
    md, old_md = new.setdefault("metadata", {}), old["metadata"]
    for field in _SERVER_METADATA:
        if field in old_md:
            md[field] = old_md[field]
        else:
            md.pop(field, None)
    if "status" in old:
        new["status"] = old["status"]
    if old["kind"] == "Pod" and (old.get("spec") or {}).get("nodeName"):
        # The binding's nodeName is not in the user's manifest; a resubmitted one (apply of a
        # changed label) keeps it, as kubectl apply's merge does, rather than unscheduling.
        spec = new.setdefault("spec", {})
        if not spec.get("nodeName"):
            spec["nodeName"] = old["spec"]["nodeName"]
    if meta.kind_key(old) in _GENERATION and new.get("spec") != old.get("spec"):
        md["generation"] = old_md.get("generation", 1) + 1
    return new


def same_content(new: dict, old: dict) -> bool:
    """True when an update would change nothing (kubectl then says `unchanged`)."""
    strip = ("resourceVersion",)
    nm = {k: v for k, v in new.get("metadata", {}).items() if k not in strip}
    om = {k: v for k, v in old.get("metadata", {}).items() if k not in strip}
    if nm != om:
        return False
    return {k: v for k, v in new.items() if k != "metadata"} == {
        k: v for k, v in old.items() if k != "metadata"
    }


def graceful_delete(
    kind: str, obj: dict, grace_period_s: int | None, now: float, *, namespace_empty: bool = False
) -> dict | None:
    """The object to store instead of deleting it, or None to delete it now.

    Pods bound to a node get `deletionTimestamp` (their kubelet stops the containers and
    then deletes them with grace 0); unscheduled or finished pods go at once. Namespaces
    turn Terminating until the garbage collector has emptied them (then the collector's
    delete of the empty namespace removes it: the `kubernetes` finalizer's job)."""
    if kind == "Namespace":
        if meta.is_deleting(obj):
            return None if namespace_empty else obj
        marked = meta.deep_copy(obj)
        marked["metadata"]["deletionTimestamp"] = rfc3339(now)
        marked["status"] = {"phase": "Terminating"}
        return marked
    if kind != "Pod":
        return None
    spec, phase = meta.spec(obj), meta.status(obj).get("phase")
    grace = (
        grace_period_s
        if grace_period_s is not None
        else spec.get("terminationGracePeriodSeconds", 30)
    )
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed") or grace == 0:
        return None
    if meta.is_deleting(obj):
        return obj
    marked = meta.deep_copy(obj)
    marked["metadata"]["deletionTimestamp"] = rfc3339(now + grace)
    marked["metadata"]["deletionGracePeriodSeconds"] = grace
    return marked


def set_condition(
    obj: dict, ctype: str, status: str, reason: str, message: str, now: float
) -> None:
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == ctype:
            if c.get("status") != status:
                c["lastTransitionTime"] = rfc3339(now)
            c.update(status=status, reason=reason, message=message)
            _drop_empty(c)
            return
    c = {
        "type": ctype,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": rfc3339(now),
        "reason": reason,
        "message": message,
    }
    _drop_empty(c)
    conditions.append(c)


def _drop_empty(c: dict) -> None:
    for k in ("reason", "message"):
        if not c.get(k):
            c.pop(k, None)


def kubernetes_service(cluster_ip: str, target_port: int) -> dict:
    """`default/kubernetes`, as kube-apiserver's controlplane controller creates it."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "clusterIP": cluster_ip,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": target_port}],
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
    }
