"""Where what one apply created or changed stands: rolled out, still coming, or stuck.

    targets(changed)        the Pods, Deployments and ReplicaSets an apply created or changed
    observe(world, target)  a State: done, a "Waiting for ..." line, or why it will not be Ready
    why_not_ready(pod)      the reason a pod will not become Ready by itself ("" if it may)

Mirrors kubectl's `rollout status` (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go,
DeploymentStatusViewer: its messages word for word) and `kubectl wait --for=condition=Ready`
("pod/web condition met"). kubectl only waits; here a pod that cannot become Ready by itself
(a container waiting with ErrImagePull, InvalidImageName, CreateContainerConfigError,
CrashLoopBackOff ..., phase Failed, unschedulable) ends the wait at once with its reason,
as `kubectl describe` would show it. A ReplicaSet (which kubectl has no status viewer for)
is rolled out when its replicas are all Ready. Pure: `World` is what was listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lab_kit.api import printers
from lab_kit.controllers import pods as podutil
from lab_kit.controllers.deployment import POD_TEMPLATE_HASH, REASON_TIMED_OUT
from lab_kit.model import meta

WORKLOADS = ("Pod", "Deployment", "ReplicaSet")  # what `--wait` waits for
# A container waiting for one of these will not start by itself (the kubelet's reasons,
# kubelet/images/types.go and kuberuntime's; the lab's image agent uses the same words).
STUCK = (
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
)


@dataclass(frozen=True)
class Target:
    """A workload one apply created or changed."""

    kind: str
    namespace: str
    name: str

    @property
    def label(self) -> str:  # how kubectl's messages name it
        return f'{self.kind.lower()} "{self.name}"'


@dataclass(frozen=True)
class State:
    """Where a target stands: `done` with kubectl's final line, or `waiting_for` (what a
    "Waiting for ..." line says), or `failure` (why it will not become Ready)."""

    target: Target
    line: str = ""
    waiting_for: str = ""
    failure: str = ""

    @property
    def done(self) -> bool:
        return not self.waiting_for and not self.failure

    @property
    def settled(self) -> bool:
        return not self.waiting_for

    @property
    def message(self) -> str:
        """The line to print for it now."""
        if self.failure:
            return f"error: {self.failure}"
        return f"Waiting for {self.waiting_for}..." if self.waiting_for else self.line


@dataclass
class World:
    """What the wait listed: pods, replicasets and deployments (any namespaces)."""

    pods: list[dict] = field(default_factory=list)
    replicasets: list[dict] = field(default_factory=list)
    deployments: list[dict] = field(default_factory=list)

    @staticmethod
    def find(objs: Iterable[dict], namespace: str, name: str) -> dict | None:
        return next(
            (o for o in objs if meta.namespace(o) == namespace and meta.name(o) == name), None
        )

    @staticmethod
    def owned_by(objs: Iterable[dict], owner: dict) -> list[dict]:
        """The objects whose controller is `owner` (by uid), being deleted or not."""
        uid = meta.uid(owner)
        return [o for o in objs if (meta.controller_of(o) or {}).get("uid") == uid]


def targets(changed: Iterable[dict]) -> list[Target]:
    """The Pods, Deployments and ReplicaSets among the objects an apply created or changed."""
    return [
        Target(o["kind"], meta.namespace(o) or "default", meta.name(o))
        for o in changed
        if o.get("kind") in WORKLOADS
    ]


def observe(world: World, target: Target) -> State:
    if target.kind == "Pod":
        return _pod(target, World.find(world.pods, target.namespace, target.name))
    if target.kind == "Deployment":
        deployment = World.find(world.deployments, target.namespace, target.name)
        return _deployment(world, target, deployment)
    replicaset = World.find(world.replicasets, target.namespace, target.name)
    return _replicaset(world, target, replicaset)


# --- pods ------------------------------------------------------------------------------------


def why_not_ready(pod: dict) -> str:
    """Why the pod will not become Ready by itself, in the words `kubectl describe` shows
    ("" while it still may): being deleted, failed, unschedulable, or a container stuck."""
    status = meta.status(pod)
    if meta.is_deleting(pod):
        return "it is being deleted"
    if status.get("phase") == "Failed":
        detail = status.get("message") or _terminated(status)
        return f"it failed ({status.get('reason') or 'Failed'}{': ' + detail if detail else ''})"
    scheduled = podutil.condition(pod, "PodScheduled") or {}
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return f"it cannot be scheduled: {scheduled.get('message', '')}".rstrip(": ")
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        why = _stuck_container(cs)
        if why:
            return why
    return ""


def _stuck_container(cs: dict) -> str:
    """'container "app" is waiting: CrashLoopBackOff: back-off 10s ... (last run: Error, exit
    code 1)' for a container waiting for what will not come by itself, else ""."""
    waiting = (cs.get("state") or {}).get("waiting") or {}
    if waiting.get("reason") not in STUCK:
        return ""
    why = f'container "{cs.get("name")}" is waiting: {waiting["reason"]}'
    if waiting.get("message"):
        why += f": {waiting['message']}"
    last = (cs.get("lastState") or {}).get("terminated")
    return why + (f" (last run: {_ended(last)})" if last else "")


def _ended(terminated: dict) -> str:
    """How a container's run ended, as kubectl describe's Last State: "Error, exit code 3"."""
    return f"{terminated.get('reason') or 'Error'}, exit code {terminated.get('exitCode', 0)}"


def _terminated(status: dict) -> str:
    """The first terminated container's reason and exit code ("Error, exit code 3")."""
    for cs in status.get("containerStatuses") or []:
        ended = (cs.get("state") or {}).get("terminated")
        if ended:
            return _ended(ended)
    return ""


def _pod(target: Target, pod: dict | None) -> State:
    if pod is None:
        return State(target, failure=f"{target.label} was deleted before it became Ready")
    why = why_not_ready(pod)
    if why:
        return State(target, failure=f"{target.label} will not become Ready: {why}")
    if podutil.is_pod_ready(pod):
        return State(target, line=f"pod/{target.name} condition met")
    if meta.status(pod).get("phase") == "Succeeded":  # ran to its end: nothing to wait for
        return State(target, line=f"pod/{target.name} ran to completion")
    text = printers.pod_status_text(pod)
    return State(target, waiting_for=f"{target.label} to be Ready ({text})")


def _stuck_pods(target: Target, pods: list[dict]) -> str:
    """The failure line for a workload some of whose current pods are stuck ("" if none)."""
    reasons = [(p, why_not_ready(p)) for p in pods if not meta.is_deleting(p)]
    stuck = [(p, why) for p, why in reasons if why]
    if not stuck:
        return ""
    pod, why = stuck[0]
    more = f" (and {len(stuck) - 1} more of its pods)" if len(stuck) > 1 else ""
    return f'{target.label} will not become Ready: pod "{meta.name(pod)}": {why}{more}'


# --- deployments and replicasets -------------------------------------------------------------


def current_replicaset(world: World, deployment: dict) -> dict | None:
    """The Deployment's new ReplicaSet: its own, with the Deployment's pod template
    (deploymentutil.FindNewReplicaSet / EqualIgnoreHash)."""
    wanted = _without_hash(meta.spec(deployment).get("template") or {})
    for rs in World.owned_by(world.replicasets, deployment):
        if _without_hash(meta.spec(rs).get("template") or {}) == wanted:
            return rs
    return None


def _without_hash(template: dict) -> dict:
    labels = {
        k: v for k, v in (template.get("metadata") or {}).get("labels", {}).items()
        if k != POD_TEMPLATE_HASH
    }  # fmt: skip
    return {**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}}


def _deployment(world: World, target: Target, d: dict | None) -> State:
    if d is None:
        return State(target, failure=f"{target.label} was deleted before it rolled out")
    rs = current_replicaset(world, d)
    stuck = _stuck_pods(target, World.owned_by(world.pods, rs) if rs else [])
    if stuck:
        return State(target, failure=stuck)
    return _deployment_status(target, d)


def _deployment_status(target: Target, d: dict) -> State:
    """DeploymentStatusViewer.Status, message for message."""
    spec, status = meta.spec(d), meta.status(d)
    if (meta.metadata(d).get("generation") or 0) > (status.get("observedGeneration") or 0):
        return State(target, waiting_for=f"{target.label} spec update to be observed")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == REASON_TIMED_OUT:
            return State(target, failure=f"{target.label} exceeded its progress deadline")
    if spec.get("paused"):
        return State(target, failure=f"{target.label} is paused (spec.paused): no rollout")
    wanted = 1 if spec.get("replicas") is None else spec["replicas"]
    updated, replicas = status.get("updatedReplicas") or 0, status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    finish = f"{target.label} rollout to finish"
    if updated < wanted:
        return State(
            target,
            waiting_for=f"{finish}: {updated} out of {wanted} new replicas have been updated",
        )
    if replicas > updated:
        return State(
            target,
            waiting_for=f"{finish}: {replicas - updated} old replicas are pending termination",
        )
    if available < updated:
        return State(
            target, waiting_for=f"{finish}: {available} of {updated} updated replicas are available"
        )
    return State(target, line=f"{target.label} successfully rolled out")


def _replicaset(world: World, target: Target, rs: dict | None) -> State:
    if rs is None:
        return State(target, failure=f"{target.label} was deleted before its pods were Ready")
    stuck = _stuck_pods(target, World.owned_by(world.pods, rs))
    if stuck:
        return State(target, failure=stuck)
    status = meta.status(rs)
    wanted = 1 if meta.spec(rs).get("replicas") is None else meta.spec(rs)["replicas"]
    if (meta.metadata(rs).get("generation") or 0) > (status.get("observedGeneration") or 0):
        return State(target, waiting_for=f"{target.label} spec update to be observed")
    ready, replicas = status.get("readyReplicas") or 0, status.get("replicas") or 0
    if replicas != wanted or ready < wanted:
        return State(target, waiting_for=f"{target.label}: {ready} of {wanted} replicas are ready")
    return State(target, line=f"{target.label} successfully rolled out")
