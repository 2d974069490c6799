"""The ReplicaSet controller: keep `spec.replicas` active pods, report counts in status.

Mirrors `kubernetes/kubernetes:pkg/controller/replicaset/replica_set.go` (syncReplicaSet,
manageReplicas, getPodsToDelete, getPodsRankedByRelatedPodsOnSameNode, calculateStatus in
replica_set_utils.go), `pkg/controller/controller_utils.go` (GetPodFromTemplate,
ActivePodsWithRanks) and `pkg/api/v1/pod/util.go` (IsPodAvailable).

- Pods are created from the template with `metadata.generateName: <rs>-` (the API server
  appends the 5-character suffix), the template's labels/annotations/finalizers, a
  controller ownerReference to the ReplicaSet and `spec` = template spec.
- Scale-down deletes in ActivePodsWithRanks order: unscheduled before scheduled, Pending <
  Unknown < Running, not-ready before ready, lower `controller.kubernetes.io/
  pod-deletion-cost` first, pods doubled up on a node (with pods of sibling ReplicaSets of
  the same Deployment) first, most recently Ready first, more restarts first, newest first;
  finally by name so the choice is deterministic.
- Pods being deleted or in phase Succeeded/Failed are not active: they neither count
  towards replicas nor appear in status.
- Status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (Ready for more
  than minReadySeconds, measured against `now`), observedGeneration; written with
  `Update(subresource="status")` only when something changed.

- A pod it controls whose labels no longer match the selector (relabelled by hand) is
  released, as ClaimPods releases it: its controller ownerReference is removed, it runs
  on as an orphan, and a replacement is created.

Left out: adoption of orphan pods (this controller only owns pods whose controller
ownerReference uid is the ReplicaSet's uid),
expectations (the caller must feed a snapshot that includes the previous round's writes),
slow-start batching (all creates are emitted at once, capped at burstReplicas = 500),
the ReplicaFailure condition, the LogarithmicScaleDown bucketing of ready times (we
compare exact times) and terminatingReplicas (feature-gated).
"""

from __future__ import annotations

from collections import Counter

from lab_kit.controllers import pods
from lab_kit.controllers.state import Action, Create, Delete, Snapshot, Update
from lab_kit.model import meta, selectors

BURST_REPLICAS = 500  # replicaset.BurstReplicas: most creates/deletes per sync
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def reconcile(state: Snapshot, now: float) -> list[Action]:
    actions: list[Action] = []
    for rs in state.list("ReplicaSet"):
        actions.extend(sync_replicaset(state, rs, now))
    return actions


def sync_replicaset(state: Snapshot, rs: dict, now: float) -> list[Action]:
    controlled = [p for p in state.list("Pod", meta.namespace(rs)) if pods.controlled_by(p, rs)]
    selector = meta.spec(rs).get("selector") or {}
    strays = [p for p in controlled if not meta.is_deleting(p) and not meta.is_deleting(rs)
              and not selectors.matches_label_selector(selector, meta.labels(p))]  # fmt: skip
    owned = [p for p in controlled if p not in strays]
    active = [p for p in owned if pods.is_pod_active(p)]
    actions: list[Action] = [_release(p, rs) for p in strays]
    if not meta.is_deleting(rs):
        actions.extend(manage_replicas(state, rs, active))
    status_update = _status_update(rs, active, now)
    if status_update:
        actions.append(status_update)
    return actions


def _release(pod: dict, rs: dict) -> Update:
    """ReleasePod: the pod without its controller reference to `rs` (an orphan now)."""
    released = meta.deep_copy(pod)
    refs = released["metadata"].get("ownerReferences") or []
    released["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != meta.uid(rs)]
    return Update(released)


def manage_replicas(state: Snapshot, rs: dict, active: list[dict]) -> list[Action]:
    """Create or delete pods so that len(active) == spec.replicas."""
    diff = len(active) - _replicas(rs)
    if diff < 0:
        return [Create(pod_from_template(rs)) for _ in range(min(-diff, BURST_REPLICAS))]
    if diff > 0:
        victims = pods_to_delete(active, related_pods(state, rs), min(diff, BURST_REPLICAS))
        return [Delete("Pod", meta.namespace(p), meta.name(p), meta.uid(p)) for p in victims]
    return []


def _replicas(rs: dict) -> int:
    replicas = meta.spec(rs).get("replicas")
    return 1 if replicas is None else replicas


def pod_from_template(rs: dict) -> dict:
    """GetPodFromTemplate: a new pod for this ReplicaSet, named by the API server."""
    template = meta.spec(rs).get("template") or {}
    tmeta = template.get("metadata") or {}
    metadata: dict = {"generateName": f"{meta.name(rs)}-", "namespace": meta.namespace(rs)}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            metadata[field] = meta.deep_copy(tmeta[field])
    metadata["ownerReferences"] = [meta.owner_reference(rs)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": meta.deep_copy(template.get("spec") or {}),
    }


def related_pods(state: Snapshot, rs: dict) -> list[dict]:
    """Pods of every ReplicaSet with the same controller (getIndirectlyRelatedPods)."""
    ref = meta.controller_of(rs)
    if not ref:
        return []
    siblings = [
        other
        for other in state.list("ReplicaSet", meta.namespace(rs))
        if (meta.controller_of(other) or {}).get("uid") == ref.get("uid")
    ]
    seen: dict[str, dict] = {}
    for sibling in siblings:
        selector = meta.spec(sibling).get("selector")
        for pod in state.list("Pod", meta.namespace(rs)):
            if selectors.matches_label_selector(selector, meta.labels(pod)):
                seen.setdefault(meta.uid(pod) or meta.name(pod), pod)
    return list(seen.values())


def pods_to_delete(active: list[dict], related: list[dict], count: int) -> list[dict]:
    """getPodsToDelete: the `count` active pods Kubernetes would delete first."""
    per_node = Counter(meta.spec(p).get("nodeName", "") for p in related if pods.is_pod_active(p))
    ranked = sorted(
        active, key=lambda p: deletion_rank(p, per_node[meta.spec(p).get("nodeName", "")])
    )
    return ranked[:count]


def deletion_rank(pod: dict, colocated: int) -> tuple:
    """Sort key of ActivePodsWithRanks.Less: smaller sorts first, i.e. is deleted first."""
    ready = pods.is_pod_ready(pod)
    ready_at = pods.ready_since(pod) if ready else None
    created = pods.parse_timestamp(meta.metadata(pod).get("creationTimestamp"))
    return (
        1 if meta.spec(pod).get("nodeName") else 0,
        _PHASE_ORDER.get(meta.status(pod).get("phase", ""), 0),
        1 if ready else 0,
        _deletion_cost(pod),
        -colocated,
        (0, 0.0) if ready_at is None else (1, -ready_at),
        -pods.restart_count(pod),
        (0, 0.0) if created is None else (1, -created),
        meta.name(pod),
    )


def _deletion_cost(pod: dict) -> int:
    try:
        return int(meta.annotations(pod).get(DELETION_COST, "0"))
    except ValueError:
        return 0


def calculate_status(rs: dict, active: list[dict], now: float) -> dict:
    """calculateStatus: counts over active pods, keeping conditions as they are."""
    template_labels = meta.get_path(meta.spec(rs), "template", "metadata", "labels", default={})
    min_ready = meta.spec(rs).get("minReadySeconds") or 0
    ready = [p for p in active if pods.is_pod_ready(p)]
    counts = {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(
            all(meta.labels(p).get(k) == v for k, v in (template_labels or {}).items())
            for p in active
        ),
        "readyReplicas": len(ready),
        "availableReplicas": sum(pods.is_pod_available(p, min_ready, now) for p in ready),
        "observedGeneration": meta.metadata(rs).get("generation") or 0,
    }
    # ReplicaSetStatus marshals `replicas` always and the other counts only when non-zero.
    status = {k: v for k, v in counts.items() if v or k == "replicas"}
    if meta.status(rs).get("conditions"):
        status["conditions"] = meta.deep_copy(meta.status(rs)["conditions"])
    return status


def _status_update(rs: dict, active: list[dict], now: float) -> Update | None:
    new_status = calculate_status(rs, active, now)
    old = meta.status(rs)
    fields = (
        "replicas",
        "fullyLabeledReplicas",
        "readyReplicas",
        "availableReplicas",
        "observedGeneration",
    )
    if "replicas" in old and all((old.get(f) or 0) == (new_status.get(f) or 0) for f in fields):
        return None
    updated = meta.deep_copy(rs)
    updated["status"] = new_status
    return Update(updated, subresource="status")
