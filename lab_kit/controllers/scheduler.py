"""kube-scheduler, reduced to the filters service-discovery labs need.

Mirrors `kubernetes/kubernetes:pkg/scheduler`: the scheduling queue (PrioritySort: higher
`spec.priority` first, then older pods), the Filter plugins NodeUnschedulable,
TaintToleration and NodeAffinity (`framework/plugins/...`), run in that order with the
first failure recorded per node, the FitError text of `framework/types.go`
("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.") and the
PodScheduled=False/Unschedulable condition of `schedule_one.go` (handleSchedulingFailure).
Binding is `Update(pod, subresource="binding")`; as in Kubernetes the API server's binding
storage sets spec.nodeName and the PodScheduled=True condition.

Deviations, on purpose:
- Scoring: unlike kube-scheduler's score plugins (NodeResourcesFit, BalancedAllocation,
  PodTopologySpread, ImageLocality, ...) a feasible node is picked by *fewest pods bound*
  (counting the ones bound earlier in the same round), ties broken by node name. This
  spreads replicas deterministically, so lab outputs are reproducible.
- Node readiness: kube-scheduler never reads the Ready condition; the node lifecycle
  controller taints NotReady nodes `node.kubernetes.io/not-ready:NoSchedule` (Unknown:
  `node.kubernetes.io/unreachable:NoSchedule`). We apply that implied taint here, so a
  NotReady node is rejected with the same "untolerated taint" reason unless the pod
  tolerates it, exactly as on a real cluster.
- Left out: resources (requests vs allocatable), host ports, volumes, pod (anti-)affinity,
  topology spread, preemption (so no "preemption: ..." suffix in messages), scheduling
  gates, nominatedNodeName, extenders and multiple profiles (pods naming another
  `spec.schedulerName` are ignored, as kube-scheduler ignores them).
"""

from __future__ import annotations

from collections import Counter

from lab_kit.controllers import events, pods
from lab_kit.controllers.state import Action, Create, Snapshot, Update
from lab_kit.model import meta

SCHEDULER_NAME = "default-scheduler"
NO_NODES = "no nodes available to schedule pods"
REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"


def reconcile(state: Snapshot, now: float) -> list[Action]:
    """Bind every schedulable pending pod, or record why it cannot be placed."""
    nodes = state.list("Node")
    load = _pods_per_node(state)
    actions: list[Action] = []
    for pod in _queue(state):
        node, message = pick_node(pod, nodes, load)
        if node:
            load[node] += 1
            actions.append(_bind(pod, node))
            # the Normal "Scheduled" event kube-scheduler writes with the binding
            message = f"Successfully assigned {meta.namespace(pod)}/{meta.name(pod)} to {node}"
            event = events.new_event(events.involved_object(pod), events.NORMAL, "Scheduled",
                                     message, now, SCHEDULER_NAME)  # fmt: skip
            actions.append(Create(event))
        else:
            action = _mark_unschedulable(pod, message, now)
            if action:
                actions.append(action)
    return actions


def _pods_per_node(state: Snapshot) -> Counter:
    """Pods holding a place on each node (terminal pods have given theirs back)."""
    return Counter(
        meta.spec(p).get("nodeName")
        for p in state.list("Pod")
        if meta.spec(p).get("nodeName") and not pods.is_pod_terminal(p)
    )


def _queue(state: Snapshot) -> list[dict]:
    """Unassigned, live pods of this scheduler, in PrioritySort order."""
    waiting = [
        p
        for p in state.list("Pod")
        if not meta.spec(p).get("nodeName")
        and not meta.is_deleting(p)
        and not pods.is_pod_terminal(p)
        and (meta.spec(p).get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
    ]
    return sorted(
        waiting,
        key=lambda p: (
            -(meta.spec(p).get("priority") or 0),
            meta.metadata(p).get("creationTimestamp") or "",
            meta.namespace(p),
            meta.name(p),
        ),
    )


def pick_node(pod: dict, nodes: list[dict], load: Counter) -> tuple[str, str]:
    """(chosen node name, "") or ("", the FitError message)."""
    if not nodes:
        return "", NO_NODES
    feasible: list[str] = []
    reasons: Counter[str] = Counter()
    for node in nodes:
        reason = filter_node(pod, node)
        if reason:
            reasons[reason] += 1
        else:
            feasible.append(meta.name(node))
    if feasible:
        return min(feasible, key=lambda n: (load[n], n)), ""
    histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return "", f"0/{len(nodes)} nodes are available: {', '.join(histogram)}."


def filter_node(pod: dict, node: dict) -> str:
    """The first failing Filter plugin's reason for this node, "" if the pod fits."""
    tolerations = meta.spec(pod).get("tolerations") or []
    if meta.spec(node).get("unschedulable") and not tolerates(
        tolerations, {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}
    ):
        return REASON_UNSCHEDULABLE
    for taint in _taints(node):
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"
    if not node_matches_pod(pod, node):
        return REASON_AFFINITY
    return ""


def _taints(node: dict) -> list[dict]:
    """spec.taints plus the taint the node lifecycle controller puts on a NotReady node."""
    taints = list(meta.spec(node).get("taints") or [])
    keys = {t.get("key") for t in taints}
    ready = _ready_status(node)
    implied = TAINT_UNREACHABLE if ready == "Unknown" else TAINT_NOT_READY
    if ready != "True" and TAINT_NOT_READY not in keys and TAINT_UNREACHABLE not in keys:
        taints.append({"key": implied, "effect": "NoSchedule"})
    return taints


def _ready_status(node: dict) -> str:
    for cond in meta.status(node).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status", "Unknown")
    return "False"  # kubelet registers a node not-ready until its first status report


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    """TolerationsTolerateTaint: some toleration matches effect, key and value."""
    return any(_toleration_matches(t, taint) for t in tolerations)


def _toleration_matches(toleration: dict, taint: dict) -> bool:
    """Toleration.ToleratesTaint (empty effect/key = any; operator "" means Equal)."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def node_matches_pod(pod: dict, node: dict) -> bool:
    """NodeAffinity filter: spec.nodeSelector AND required node affinity terms."""
    labels = meta.labels(node)
    selector = meta.spec(pod).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    required = meta.get_path(
        meta.spec(pod),
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    )
    if not required:
        return True
    terms = required.get("nodeSelectorTerms") or []
    return any(_term_matches(term, node) for term in terms)


def _term_matches(term: dict, node: dict) -> bool:
    """A NodeSelectorTerm: all expressions and fields match; an empty term matches nothing."""
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    field_values = {"metadata.name": meta.name(node)}
    return all(_requirement_matches(e, meta.labels(node)) for e in exprs) and all(
        _requirement_matches(f, field_values) for f in fields
    )


def _requirement_matches(req: dict, values: dict[str, str]) -> bool:
    """NodeSelectorRequirement: In, NotIn, Exists, DoesNotExist, Gt, Lt."""
    key, op, wanted = req.get("key", ""), req.get("operator", ""), req.get("values") or []
    present, value = key in values, values.get(key, "")
    if op == "In":
        return present and value in wanted
    if op == "NotIn":
        return not present or value not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, limit = int(value), int(wanted[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False


def _bind(pod: dict, node_name: str) -> Update:
    bound = meta.deep_copy(pod)
    bound.setdefault("spec", {})["nodeName"] = node_name
    return Update(bound, subresource="binding")


def _mark_unschedulable(pod: dict, message: str, now: float) -> Update | None:
    """PodScheduled=False/Unschedulable with the FitError text, written only on change."""
    wanted = {
        "type": "PodScheduled",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": pods.timestamp(now),
        "reason": "Unschedulable",
        "message": message,
    }
    current = pods.condition(pod, "PodScheduled")
    if current and current.get("status") == "False":
        wanted["lastTransitionTime"] = current.get("lastTransitionTime")
    if current and all(current.get(k) == wanted[k] for k in ("status", "reason", "message")):
        return None
    updated = meta.deep_copy(pod)
    status = updated.setdefault("status", {})
    conditions = status.get("conditions") or []
    if current:  # UpdatePodCondition: replace in place
        status["conditions"] = [
            wanted if c.get("type") == "PodScheduled" else c for c in conditions
        ]
    else:  # or append
        status["conditions"] = [*conditions, wanted]
    status.setdefault("phase", "Pending")
    return Update(updated, subresource="status")
