"""Where what an apply changed stands (lab_kit.lab.rollout), pure: kubectl's rollout-status
messages for a Deployment, `kubectl wait`'s line for a Pod, and the reasons a pod will not
become Ready by itself."""

from __future__ import annotations

import pytest

from lab_kit.lab import rollout
from lab_kit.lab.rollout import State, Target, World

TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web"}]}}


def obj(kind: str, name: str, uid: str = "", owner: str = "", **fields: object) -> dict:
    md: dict = {"name": name, "namespace": "default", "uid": uid or f"uid-{name}"}
    if owner:
        md["ownerReferences"] = [{"uid": owner, "controller": True}]
    return {"kind": kind, "metadata": md, **fields}


def waiting(reason: str, message: str = "") -> dict:
    return {"phase": "Pending", "containerStatuses": [
        {"name": "web", "state": {"waiting": {"reason": reason, "message": message}}}]}  # fmt: skip


READY = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}


@pytest.mark.parametrize(
    "status, why",
    [
        (waiting("ErrImagePull", 'no image "x"'), 'container "web" is waiting: ErrImagePull: no image "x"'),
        (waiting("InvalidImageName"), 'container "web" is waiting: InvalidImageName'),
        (waiting("CreateContainerConfigError", 'secret "s" not found'),
         'container "web" is waiting: CreateContainerConfigError: secret "s" not found'),
        (waiting("CrashLoopBackOff", "back-off 10s"), 'container "web" is waiting: CrashLoopBackOff: back-off 10s'),
        ({"phase": "Running", "containerStatuses": [{"name": "web", "state": {"waiting": {
            "reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 127}}}]},
         'container "web" is waiting: CrashLoopBackOff (last run: Error, exit code 127)'),
        ({"phase": "Failed", "containerStatuses": [{"name": "web", "state": {
            "terminated": {"exitCode": 3, "reason": "Error"}}}]}, "it failed (Failed: Error, exit code 3)"),
        ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/3 nodes are available"}]},
         "it cannot be scheduled: 0/3 nodes are available"),
        ({"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": {
            "waiting": {"reason": "ErrImagePull"}}}]}, 'container "init" is waiting: ErrImagePull'),
        (waiting("ContainerCreating"), ""),  # on its way
        ({"phase": "Running"}, ""),  # running, not Ready yet
        (READY, ""),
    ],
)  # fmt: skip
def test_why_a_pod_will_not_become_ready(status, why):
    assert rollout.why_not_ready(obj("Pod", "p", status=status)) == why


def test_a_pod_ready_waiting_stuck_completed_or_gone():
    target = Target("Pod", "default", "p")

    def state(status: dict) -> State:
        return rollout.observe(World([obj("Pod", "p", status=status)]), target)

    assert state(READY).line == "pod/p condition met" and state(READY).done
    assert state({"phase": "Succeeded"}).line == "pod/p ran to completion"
    pending = state(waiting("ContainerCreating"))
    assert not pending.settled
    assert pending.message == 'Waiting for pod "p" to be Ready (ContainerCreating)...'
    stuck = state(waiting("ErrImagePull", "nope"))
    assert stuck.settled and not stuck.done
    assert stuck.message == (
        'error: pod "p" will not become Ready: container "web" is waiting: ErrImagePull: nope'
    )
    gone = rollout.observe(World(), target)
    assert gone.failure == 'pod "p" was deleted before it became Ready'


def deployment(generation: int = 1, **status: object) -> dict:
    """Deployment "web" of 3 replicas at `generation`, with this status."""
    d = obj("Deployment", "web", spec={"replicas": 3, "template": TEMPLATE}, status=status)
    d["metadata"]["generation"] = generation
    return d


@pytest.mark.parametrize(
    "status, message",
    [
        ({"observedGeneration": 1}, "Waiting for deployment \"web\" spec update to be observed..."),
        ({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 3},
         'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'),
        ({"observedGeneration": 2, "updatedReplicas": 3, "replicas": 4},
         'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...'),
        ({"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 2},
         'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...'),
        ({"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3},
         'deployment "web" successfully rolled out'),
        ({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False",
                                                   "reason": "ProgressDeadlineExceeded"}]},
         'error: deployment "web" exceeded its progress deadline'),
    ],
)  # fmt: skip
def test_a_deployments_rollout_in_kubectls_words(status, message):
    d = deployment(generation=2, **status)
    assert rollout.observe(World(deployments=[d]), Target("Deployment", "default", "web")).message == (
        message
    )  # fmt: skip


def test_a_deployment_with_a_stuck_pod_in_its_current_replicaset_will_not_roll_out():
    d = deployment(observedGeneration=1, updatedReplicas=3, replicas=4)
    hashed = {**TEMPLATE, "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}}
    current = obj("ReplicaSet", "web-abc", owner="uid-web", spec={"template": hashed})
    old = obj("ReplicaSet", "web-old", owner="uid-web", spec={"template": {
        "metadata": {"labels": {"app": "web", "pod-template-hash": "old"}}}})  # fmt: skip
    pods = [
        obj("Pod", "web-old-1", owner="uid-web-old", status=waiting("CrashLoopBackOff")),
        obj("Pod", "web-abc-1", owner="uid-web-abc", status=READY),
        obj("Pod", "web-abc-2", owner="uid-web-abc", status=waiting("ErrImagePull", "no")),
        obj("Pod", "web-abc-3", owner="uid-web-abc", status=waiting("ErrImagePull", "no")),
    ]
    world = World(pods, [old, current], [d])
    assert rollout.current_replicaset(world, d) is current
    state = rollout.observe(world, Target("Deployment", "default", "web"))
    assert state.failure == (
        'deployment "web" will not become Ready: pod "web-abc-2": container "web" is waiting: '
        "ErrImagePull: no (and 1 more of its pods)"
    )  # the old ReplicaSet's crashing pod is not what this rollout waits for
    world.pods = pods[:2]
    assert rollout.observe(world, Target("Deployment", "default", "web")).waiting_for == (
        'deployment "web" rollout to finish: 1 old replicas are pending termination'
    )


def test_a_replicaset_is_rolled_out_when_its_replicas_are_ready():
    rs = obj("ReplicaSet", "rs", spec={"replicas": 2}, status={"replicas": 2, "readyReplicas": 1})
    target = Target("ReplicaSet", "default", "rs")
    assert rollout.observe(World(replicasets=[rs]), target).waiting_for == (
        'replicaset "rs": 1 of 2 replicas are ready'
    )
    rs["status"]["readyReplicas"] = 2
    assert rollout.observe(World(replicasets=[rs]), target).line == (
        'replicaset "rs" successfully rolled out'
    )


def test_only_workloads_are_waited_for():
    changed = [obj("Service", "s"), obj("Pod", "p"), obj("Deployment", "d"), obj("ConfigMap", "c")]
    assert rollout.targets(changed) == [
        Target("Pod", "default", "p"), Target("Deployment", "default", "d"),
    ]  # fmt: skip
