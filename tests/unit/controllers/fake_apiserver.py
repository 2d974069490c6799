"""A tiny in-memory API server + kubelet for controller convergence tests.

Applies the controllers' Actions to a Snapshot with just enough of kube-apiserver's
behaviour to make convergence honest: names from generateName, uids, a global
resourceVersion, generation bumps on spec changes, optimistic concurrency (an Update
carrying a stale resourceVersion is refused, like a 409), the `status` subresource (only
`.status` is taken, as the lab's registry does) and `binding` (sets spec.nodeName and
PodScheduled=True), graceful deletion of bound pods, Terminating namespaces, and the
NamespaceLifecycle rule that nothing is created in a terminating namespace.

`kubelet()` plays every node's kubelet: a bound pod gets an IP from its node's /24, phase
Running and Ready=True (unless `auto_ready` is off); a terminating pod is removed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from lab_kit.controllers import pods
from lab_kit.controllers.state import Action, Create, Delete, Snapshot, Update
from lab_kit.model import meta

SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
Reconciler = Callable[[Snapshot, float], list[Action]]


class NoFixedPoint(AssertionError):
    pass


class FakeAPIServer:
    def __init__(
        self, objects: list[dict] = (), now: float = 1_700_000_000.0, auto_ready: bool = True
    ):
        self.state = Snapshot()
        self.now = now
        self.auto_ready = auto_ready
        self.rv = 0
        self.serial = 0
        self.log: list[tuple[str, Action]] = []
        self.ips: dict[str, int] = {}
        for obj in objects:
            assert self.create(copy.deepcopy(obj)) == "created", obj

    # --- bookkeeping ----------------------------------------------------------------------------

    def _stamp(self, obj: dict) -> dict:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.state.put(obj)
        return obj

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def _suffix(self) -> str:
        n, out = self._next(), ""
        for _ in range(5):
            n, r = divmod(n, len(SUFFIX_ALPHABET))
            out = SUFFIX_ALPHABET[r] + out
        return out

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.state.get(kind, namespace, name)

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        return self.state.list(kind, namespace)

    # --- verbs ----------------------------------------------------------------------------------

    def create(self, obj: dict) -> str:
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        ns = self.state.get("Namespace", "", md.get("namespace", ""))
        if md.get("namespace") and ns is not None and meta.is_deleting(ns):
            return "forbidden"
        if not md.get("name"):
            md["name"] = md["generateName"] + self._suffix()
        if self.state.get(obj["kind"], md.get("namespace", ""), md["name"]) is not None:
            return "exists"
        md.setdefault("uid", f"uid-{self._next():04d}")
        md["creationTimestamp"] = pods.timestamp(self.now)
        md["generation"] = 1
        if obj["kind"] == "Pod":
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        self._stamp(obj)
        return "created"

    def update(self, obj: dict, subresource: str = "") -> str:
        old = self.state.get(obj["kind"], meta.namespace(obj), meta.name(obj))
        if old is None:
            return "notfound"
        wanted_rv = meta.metadata(obj).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            return "conflict"
        if subresource == "binding":
            return self._bind(old, meta.spec(obj).get("nodeName"))
        new = copy.deepcopy(old)
        if subresource == "status":
            new["status"] = copy.deepcopy(obj.get("status", {}))
        else:
            new = self._main_update(old, obj)
        if new == old:
            return "unchanged"
        if meta.is_deleting(new) and not meta.metadata(new).get("finalizers"):
            self.state.remove(new["kind"], meta.namespace(new), meta.name(new))
            return "deleted"
        self._stamp(new)
        return "updated"

    @staticmethod
    def _main_update(old: dict, obj: dict) -> dict:
        new = copy.deepcopy(obj)
        for field in (
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "resourceVersion",
        ):
            if field in old["metadata"]:
                new["metadata"][field] = old["metadata"][field]
        new.pop("status", None)
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        if new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        return new

    def _bind(self, pod: dict, node_name: str) -> str:
        if meta.spec(pod).get("nodeName"):
            return "conflict"
        bound = copy.deepcopy(pod)
        bound["spec"]["nodeName"] = node_name
        conditions = [
            c for c in bound["status"].get("conditions") or [] if c["type"] != "PodScheduled"
        ]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": pods.timestamp(self.now),
            }
        )
        bound["status"]["conditions"] = conditions
        self._stamp(bound)
        return "bound"

    def delete(self, kind: str, namespace: str, name: str, uid: str = "") -> str:
        obj = self.state.get(kind, namespace, name)
        if obj is None:
            return "notfound"
        if uid and meta.uid(obj) != uid:
            return "conflict"
        graceful = (
            kind == "Pod" and meta.spec(obj).get("nodeName") and not pods.is_pod_terminal(obj)
        ) or (kind == "Namespace" and any(meta.namespace(o) == name for o in self.state))
        if graceful or meta.metadata(obj).get("finalizers"):
            if meta.is_deleting(obj):
                return "terminating"
            marked = copy.deepcopy(obj)
            marked["metadata"]["deletionTimestamp"] = pods.timestamp(self.now)
            self._stamp(marked)
            return "terminating"
        self.state.remove(kind, namespace, name)
        return "deleted"

    def apply(self, actions: list[Action]) -> list[str]:
        results = []
        for action in actions:
            if isinstance(action, Create):
                result = self.create(action.obj)
            elif isinstance(action, Update):
                result = self.update(action.obj, action.subresource)
            elif isinstance(action, Delete):
                result = self.delete(action.kind, action.namespace, action.name, action.uid)
            else:  # pragma: no cover
                raise TypeError(action)
            self.log.append((result, action))
            results.append(result)
        return results

    # --- the kubelets ---------------------------------------------------------------------------

    def kubelet(self) -> bool:
        """Start bound pods (IP, Running, Ready) and finish terminating ones."""
        changed = False
        nodes = [meta.name(n) for n in self.state.list("Node")]
        for pod in self.state.list("Pod"):
            node = meta.spec(pod).get("nodeName")
            if not node or node not in nodes:
                continue
            if meta.is_deleting(pod):
                self.state.remove("Pod", meta.namespace(pod), meta.name(pod))
                changed = True
            elif not meta.status(pod).get("podIP") and not pods.is_pod_terminal(pod):
                self._start(pod, nodes.index(node) + 1, node)
                changed = True
        return changed

    def _start(self, pod: dict, subnet: int, node: str) -> None:
        self.ips[node] = self.ips.get(node, 1) + 1
        ip = f"10.244.{subnet}.{self.ips[node]}"
        started = copy.deepcopy(pod)
        status = started["status"]
        status.update(
            phase="Running", podIP=ip, podIPs=[{"ip": ip}], hostIP=f"172.18.0.{subnet + 1}"
        )
        ready = "True" if self.auto_ready else "False"
        ts = pods.timestamp(self.now)
        status["conditions"] = [
            c for c in status.get("conditions") or [] if c["type"] == "PodScheduled"
        ] + [
            {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": ts},
        ]
        self._stamp(started)

    def set_ready(self, namespace: str, name: str, ready: bool) -> None:
        """What a readiness probe flipping does: the kubelet rewrites the Ready condition."""
        pod = copy.deepcopy(self.state.get("Pod", namespace, name))
        for cond in pod["status"]["conditions"]:
            if cond["type"] == "Ready":
                cond["status"] = "True" if ready else "False"
                cond["lastTransitionTime"] = pods.timestamp(self.now)
        self._stamp(pod)

    # --- the loop -------------------------------------------------------------------------------

    def step(self, reconcile: Reconciler) -> tuple[list[Action], bool]:
        actions = reconcile(self.state, self.now)
        self.apply(actions)
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
