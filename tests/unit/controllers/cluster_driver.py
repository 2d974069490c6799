"""Drive the pure controllers against the REAL API registry, with pretend kubelets.

What the lab's controller-manager does over HTTP (`lab_kit/agents/controller_manager.py`),
done in-process on the pure `Registry`: every round reads a `Snapshot` of the store, runs
the controllers, and sends each Create / Update / Delete through the Registry's own
methods (the mapping `_Calls.action` and `api/handler.py` make: PUT, PUT .../status,
POST .../binding, DELETE with a uid precondition). A 409 or a 404 is a normal race, as
for the real manager: it is logged as a result and the next round recomputes. Any other
ApiError (the real manager would log a warning) fails the test.

    snapshot of the store -> reconcile(snapshot, now) -> Registry writes
    -> pretend kubelets (start bound pods, finish terminating ones) -> now += 1
    -> until a round sends nothing and no kubelet changes anything

Left out: HTTP, informers, watches, real kubelets. `kubelet()` plays every node's: a
bound pod on a known node gets an IP from its node's /24 (10.244.<position + 1>.0/24),
phase Running and Ready=True (False when `auto_ready` is off) by a status update; a
terminating pod has its containers stopped (Ready=False) and is deleted with grace 0,
as `agents/pod_worker.py` does. Time is virtual: the Registry's clock is `self.now`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from lab_kit.api.registry import Registry
from lab_kit.controllers import pods
from lab_kit.controllers.state import Action, Create, Delete, Snapshot, Update
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name

Reconciler = Callable[[Snapshot, float], list[Action]]
Actions = list[Action]  # (spelled here: inside the class, `list` is the method below)
# The answers a real controller-manager shrugs at (the next round recomputes).
RACES = {404: "notfound", 409: "conflict"}


class NoFixedPoint(AssertionError):
    pass


class ClusterDriver:
    def __init__(
        self, objects: Iterable[dict] = (), now: float = 1_700_000_000.0, auto_ready: bool = True
    ) -> None:
        self.now = now
        self.auto_ready = auto_ready
        self.registry = Registry(clock=lambda: self.now)
        self.log: list[tuple[str, Action]] = []
        self.ips: dict[str, int] = {}
        for obj in objects:
            self.registry.create(copy.deepcopy(obj))  # an invalid object fails the test here

    # --- reads --------------------------------------------------------------------------------
    @property
    def state(self) -> Snapshot:
        """What the controllers see: the store as it is now (stored objects are immutable)."""
        return Snapshot.of(self.registry.store)

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.registry.store.get(kind, namespace, name)

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        return self.registry.store.list(kind, namespace)

    # --- writes (the user's, and the controllers' Actions) -------------------------------------
    def update(self, obj: dict, subresource: str = "") -> str:
        return self.perform(Update(obj, subresource))

    def delete(self, kind: str, namespace: str, name: str, uid: str = "") -> str:
        return self.perform(Delete(kind, namespace, name, uid))

    def perform(self, action: Action) -> str:
        """One Action through the Registry; the result as a word (for asserts and the log)."""
        try:
            result = self._send(action)
        except ApiError as e:
            if e.code not in RACES:
                raise
            result = "exists" if e.reason == "AlreadyExists" else RACES[e.code]
        self.log.append((result, action))
        return result

    def _send(self, action: Action) -> str:
        reg = self.registry
        if isinstance(action, Create):
            reg.create(copy.deepcopy(action.obj))
            return "created"
        if isinstance(action, Update):
            obj = action.obj
            if action.subresource == "binding":
                node = meta.spec(obj).get("nodeName", "")
                reg.bind(meta.namespace(obj), meta.name(obj), node)
                return "bound"
            old = self.get(meta.kind_key(obj), meta.namespace(obj), meta.name(obj))
            stored = reg.update(copy.deepcopy(obj), subresource=action.subresource)
            return "unchanged" if stored is old else "updated"
        kind = by_kind_name(action.kind)
        reg.delete(kind, action.namespace, action.name, uid=action.uid)
        gone = self.get(action.kind, action.namespace if kind.namespaced else "", action.name)
        return "deleted" if gone is None else "terminating"

    # --- the kubelets -------------------------------------------------------------------------
    def kubelet(self) -> bool:
        """Start bound pods (IP, Running, Ready) and finish terminating ones."""
        changed = False
        nodes = [meta.name(n) for n in self.list("Node")]
        for pod in self.list("Pod"):
            node = meta.spec(pod).get("nodeName")
            if not node or node not in nodes:
                continue
            if meta.is_deleting(pod):
                self._finish(pod)
                changed = True
            elif not meta.status(pod).get("podIP") and not pods.is_pod_terminal(pod):
                self._start(pod, nodes.index(node) + 1, node)
                changed = True
        return changed

    def _start(self, pod: dict, subnet: int, node: str) -> None:
        self.ips[node] = self.ips.get(node, 1) + 1
        ip = f"10.244.{subnet}.{self.ips[node]}"
        status = copy.deepcopy(meta.status(pod))
        status.update(
            phase="Running", podIP=ip, podIPs=[{"ip": ip}], hostIP=f"172.18.0.{subnet + 1}"
        )
        status["conditions"] = [
            c for c in status.get("conditions") or [] if c["type"] == "PodScheduled"
        ] + [self._ready("True" if self.auto_ready else "False")]
        self.registry.update({**pod, "status": status}, subresource="status")

    def _finish(self, pod: dict) -> None:
        """The kubelet's graceful stop: containers stopped (not Ready), then delete grace 0."""
        self.set_ready(meta.namespace(pod), meta.name(pod), False)
        by_pod = by_kind_name("Pod")
        self.registry.delete(
            by_pod, meta.namespace(pod), meta.name(pod), grace_period_s=0, uid=meta.uid(pod)
        )

    def set_ready(self, namespace: str, name: str, ready: bool) -> None:
        """What a readiness probe flipping does: the kubelet rewrites the Ready condition."""
        pod = self.registry.get(by_kind_name("Pod"), namespace, name)
        status = copy.deepcopy(meta.status(pod))
        wanted = "True" if ready else "False"
        status["conditions"] = [
            c if c["type"] != "Ready" or c["status"] == wanted else self._ready(wanted)
            for c in status.get("conditions") or []
        ]
        self.registry.update({**pod, "status": status}, subresource="status")

    def _ready(self, status: str) -> dict:
        ts = pods.timestamp(self.now)
        return {"type": "Ready", "status": status, "lastProbeTime": None, "lastTransitionTime": ts}

    # --- the loop -----------------------------------------------------------------------------
    def step(self, reconcile: Reconciler) -> tuple[Actions, bool]:
        actions = reconcile(self.state, self.now)
        for action in actions:
            self.perform(action)
        changed = self.kubelet()
        self.now += 1
        return actions, changed

    def run(
        self,
        reconcile: Reconciler,
        max_rounds: int = 20,
        observe: Callable[[Snapshot], None] | None = None,
    ) -> int:
        """Rounds until a round produces no action and no kubelet change."""
        for round_no in range(1, max_rounds + 1):
            actions, changed = self.step(reconcile)
            if observe:
                observe(self.state)
            if not actions and not changed:
                return round_no
        raise NoFixedPoint(f"no fixed point after {max_rounds} rounds; last: {self.log[-5:]}")
