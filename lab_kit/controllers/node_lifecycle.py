"""The node lifecycle controller's health check: a Node whose kubelet stops posting status
goes Unknown, and the pods on it stop being Ready (so Services stop sending them traffic).

Mirrors `kubernetes/kubernetes:pkg/controller/nodelifecycle/node_lifecycle_controller.go`
(monitorNodeHealth, tryUpdateNodeHealth) and `pkg/controller/util/node/controller_utils.go`
(MarkPodsNotReady):

1. Every node-monitor-period (5 s: the controller-manager's resync) each Node's last
   heartbeat is checked. Past `--node-monitor-grace-period` (NODE_MONITOR_GRACE_PERIOD_S:
   50 s since Kubernetes v1.32, kubernetes/kubernetes#126287; 40 s before) its Ready,
   MemoryPressure, DiskPressure and PIDPressure conditions become `Unknown`, reason
   `NodeStatusUnknown`, message "Kubelet stopped posting node status.", with a new
   lastTransitionTime (lastHeartbeatTime stays the kubelet's last). `kubectl get nodes`
   then says NotReady.
2. While a Node's Ready is not True, every pod bound to it has its `Ready` condition set
   to False (reason and message kept, lastTransitionTime now), as MarkPodsNotReady does.
   The EndpointSlice and Endpoints controllers then list those endpoints as not ready,
   and kube-proxy on every node stops choosing them.
3. Nothing here undoes it: the kubelet does, when it reaches the API again — its
   heartbeat sets Ready True, and its status manager writes its pods' own readiness back.

Differences, each on purpose:
- The heartbeat is the Ready condition's lastHeartbeatTime, posted by the lab's kubelet
  every 10 s (nodeStatusUpdateFrequency): the lab serves no Lease objects (the kubelet's
  kube-node-lease heartbeat since v1.14). The real controller stamps its own clock when it
  sees a new heartbeat, not to trust node clocks; the lab's components share one clock,
  so the heartbeat's time is used as it is.
- A Node that has never posted a heartbeat time (a hand-written Node: no kubelet) is not
  watched; the real controller gives it node-startup-grace-period and then
  NodeStatusNeverUpdated.
- Taints (`node.kubernetes.io/unreachable:NoExecute`) and the eviction of pods after
  their tolerationSeconds (300 s by default) are left out: the scheduler already applies
  the implied NoSchedule taints of a NotReady node (`lab_kit/controllers/scheduler.py`),
  and a lab reconnects its node long before an eviction. Zone disruption modes and the
  NodeNotReady events are left out too.
"""

from __future__ import annotations

import copy

from lab_kit.controllers import pods
from lab_kit.controllers.state import Action, Snapshot, Update
from lab_kit.model import meta

NODE_MONITOR_GRACE_PERIOD_S = 50.0  # kube-controller-manager --node-monitor-grace-period
# The conditions the controller sets to Unknown (NetworkUnavailable is the network
# plugin's, and stays as it is).
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."


def reconcile(state: Snapshot, now: float) -> list[Action]:
    return monitor_node_health(state, now)


def monitor_node_health(
    state: Snapshot, now: float, grace_s: float = NODE_MONITOR_GRACE_PERIOD_S
) -> list[Action]:
    """Unknown conditions for Nodes silent past `grace_s`; pods of not-Ready Nodes not Ready."""
    actions: list[Action] = []
    for node in state.list("Node"):
        updated = node_health(node, now, grace_s)
        if updated is not None:
            actions.append(Update(updated, subresource="status"))
            node = updated
        if ready_status(node) not in ("True", None):
            actions.extend(mark_pods_not_ready(state, meta.name(node), now))
    return actions


def ready_status(node: dict) -> str | None:
    """The Ready condition's status ("True", "False", "Unknown"), None without one."""
    for cond in meta.status(node).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status")
    return None


def last_heartbeat(node: dict) -> float | None:
    for cond in meta.status(node).get("conditions") or []:
        if cond.get("type") == "Ready":
            return pods.parse_timestamp(cond.get("lastHeartbeatTime"))
    return None


def node_health(node: dict, now: float, grace_s: float) -> dict | None:
    """tryUpdateNodeHealth: the Node with its conditions Unknown if its kubelet has been
    silent past the grace period and something is not Unknown yet; else None."""
    heartbeat = last_heartbeat(node)
    if heartbeat is None or now <= heartbeat + grace_s:
        return None
    conditions = meta.status(node).get("conditions") or []
    stale = [
        c
        for c in conditions
        if c.get("type") in MONITORED_CONDITIONS and c.get("status") != "Unknown"
    ]
    if not stale:
        return None
    updated = copy.deepcopy(node)
    for cond in updated["status"]["conditions"]:
        if cond.get("type") in MONITORED_CONDITIONS and cond.get("status") != "Unknown":
            cond.update(
                status="Unknown",
                reason=UNKNOWN_REASON,
                message=UNKNOWN_MESSAGE,
                lastTransitionTime=pods.timestamp(now),
            )
    return updated


def mark_pods_not_ready(state: Snapshot, node_name: str, now: float) -> list[Action]:
    """MarkPodsNotReady: each pod on the node whose Ready condition is not False yet."""
    actions: list[Action] = []
    for pod in state.list("Pod"):
        if meta.spec(pod).get("nodeName") != node_name:
            continue
        ready = pods.condition(pod, "Ready")
        if ready is None or ready.get("status") == "False":
            continue
        updated = copy.deepcopy(pod)
        for cond in updated["status"]["conditions"]:
            if cond.get("type") == "Ready":
                cond.update(status="False", lastTransitionTime=pods.timestamp(now))
        actions.append(Update(updated, subresource="status"))
    return actions
