"""The controller manager's loop body: every controller, in order, over one snapshot.

Mirrors the set of control loops kube-controller-manager starts
(`cmd/kube-controller-manager/app/controllermanager.go` NewControllerDescriptors; flag
names `deployment`, `replicaset`, `endpoint`, `endpointslice`,
`endpointslicemirroring`, `garbagecollector`, `namespace`, `nodelifecycle`) plus
kube-scheduler, which in Kubernetes is a separate binary. Here `endpointslice` includes
the mirroring controller and `garbage_collector` includes the namespace controller's
content deletion.

Order matters only for latency, never for the result: each controller reads the same
snapshot, and writes computed from a stale view are refused by resourceVersion and
recomputed next round. The order follows the causal chain: notice silent nodes (their
pods no longer Ready), place pods, roll out Deployments, create pods, publish endpoints,
collect garbage.
"""

from __future__ import annotations

from collections.abc import Callable

from lab_kit.controllers import (
    deployment,
    endpoints,
    endpointslice,
    garbage_collector,
    knative_revision,
    knative_serving,
    node_lifecycle,
    replicaset,
    scheduler,
)
from lab_kit.controllers.state import Action, Snapshot

Reconciler = Callable[[Snapshot, float], list[Action]]

CONTROLLERS: list[tuple[str, Reconciler]] = [
    ("node_lifecycle", node_lifecycle.reconcile),
    ("scheduler", scheduler.reconcile),
    ("knative_serving", knative_serving.reconcile),  # Knative's controller, same process here
    ("knative_revision", knative_revision.reconcile),
    ("deployment", deployment.reconcile),
    ("replicaset", replicaset.reconcile),
    ("endpoints", endpoints.reconcile),
    ("endpointslice", endpointslice.reconcile),
    ("garbage_collector", garbage_collector.reconcile),
]


def reconcile_all(state: Snapshot, now: float) -> list[Action]:
    """Run every controller on `state` and concatenate their actions, in CONTROLLERS order."""
    actions: list[Action] = []
    for _name, controller in CONTROLLERS:
        actions.extend(controller(state, now))
    return actions
