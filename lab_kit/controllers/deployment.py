"""The Deployment controller: roll a pod template out through ReplicaSets.

Mirrors `kubernetes/kubernetes:pkg/controller/deployment` (deployment_controller.go
syncDeployment, sync.go getNewReplicaSet/scale/cleanupDeployment/calculateStatus,
rolling.go, recreate.go, progress.go) and `pkg/controller/deployment/util/deployment_util.go`
(NewRSNewReplicas, ResolveFenceposts, SetNewReplicaSetAnnotations, DeploymentComplete,
DeploymentProgressing, DeploymentTimedOut, GetProportion), plus `pkg/controller/
controller_utils.go` ComputeHash.

- The new ReplicaSet is `<deployment>-<pod-template-hash>`; the hash is FNV-32a, encoded
  with apimachinery's SafeEncodeString alphabet "bcdfghjklmnpqrstvwxz2456789" applied to
  the decimal digits of the 32-bit value, as Kubernetes does. Unlike Kubernetes, which
  hashes a spew dump of the Go struct, we hash the canonical JSON (sorted keys, no spaces)
  of `spec.template` (+ status.collisionCount as 8 little-endian bytes), so hash values
  differ from a real cluster's while behaving the same (stable, collision-counted).
- The ReplicaSet gets label and selector `pod-template-hash`, the template labels plus that
  label, a controller ownerReference, annotations deployment.kubernetes.io/revision,
  desired-replicas, max-replicas (and the Deployment's own annotations, minus the skipped
  ones); revision-history on roll-back (no 2000-character cap).
- RollingUpdate: maxSurge rounds up, maxUnavailable rounds down, both 0 → maxUnavailable 1;
  the new ReplicaSet grows up to replicas+maxSurge pods, old ones shrink while at least
  replicas-maxUnavailable pods are *available* (unhealthy old pods are removed first).
  Availability comes from the ReplicaSets' status.availableReplicas, which replicaset.py
  computes honouring minReadySeconds against `now`.
- Recreate: scale every old ReplicaSet to 0, wait until none of their pods is running,
  then create/scale the new one to full size.
- Scaling events (spec.replicas differs from a ReplicaSet's desired-replicas annotation)
  and paused Deployments go through `scale()`: the single active ReplicaSet is resized,
  or replicas are spread proportionally over the active ones mid-rollout.
- Status (replicas, updatedReplicas, readyReplicas, availableReplicas,
  unavailableReplicas, observedGeneration, collisionCount, conditions Available and
  Progressing with Kubernetes' reasons and messages) is written with
  `Update(subresource="status")` only when it changed; old ReplicaSets beyond
  revisionHistoryLimit with 0 replicas are deleted.

Deviations: one sync emits at most one write per object (Kubernetes may issue two and lose
the second to a conflict). The revision annotation rides on the status write, as in
Kubernetes (whose Deployment status strategy keeps metadata changes other than labels);
when only the annotation differs it is written with a plain Update. A Deployment being
deleted is left alone (Kubernetes still refreshes its status). Left out: adoption/release
of ReplicaSets (only those whose controller ownerReference is the Deployment count), the
deprecated rollbackTo, the ReplicaFailure condition and terminatingReplicas.
"""

from __future__ import annotations

import json
import math
import struct

from lab_kit.controllers import pods
from lab_kit.controllers.state import Action, Create, Delete, Snapshot, Update
from lab_kit.model import constants, meta, selectors

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_SKIP_COPY = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery/pkg/util/rand: no vowels
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193

# Condition reasons (deployment_util.go)
REASON_RS_UPDATED = "ReplicaSetUpdated"
REASON_NEW_RS = "NewReplicaSetCreated"
REASON_FOUND_NEW_RS = "FoundNewReplicaSet"
REASON_NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
REASON_TIMED_OUT = "ProgressDeadlineExceeded"
REASON_PAUSED = "DeploymentPaused"
REASON_RESUMED = "DeploymentResumed"
REASON_MIN_AVAILABLE = "MinimumReplicasAvailable"
REASON_MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


def reconcile(state: Snapshot, now: float) -> list[Action]:
    actions: list[Action] = []
    for d in state.list("Deployment"):
        if not meta.is_deleting(d):
            actions.extend(_DeploymentSync(state, d, now).run())
    return actions


# --- pure helpers ----------------------------------------------------------------------------


def _fnv32a(data: bytes, h: int = _FNV_OFFSET) -> int:
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each character mapped into the vowel-free alphabet."""
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    """The pod-template-hash of a pod template (ComputeHash, over canonical JSON)."""
    h = _fnv32a(json.dumps(template, sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        h = _fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0", h)
    return safe_encode(str(h))


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: 3 → 3, "25%" of 10 → 3 (up) or 2 (down)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if value.endswith("%"):
        scaled = float(int(value[:-1])) * float(total) / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(value)


def resolve_fenceposts(max_surge, max_unavailable, desired: int) -> tuple[int, int]:
    """ResolveFenceposts: (surge, unavailable); both 0 would deadlock, so unavailable = 1."""
    surge = scaled_value(max_surge or 0, desired, True)
    unavailable = scaled_value(max_unavailable or 0, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def replicas_of(obj: dict) -> int:
    value = meta.spec(obj).get("replicas")
    return 1 if value is None else value


def _status_count(rs: dict | None, field: str) -> int:
    return (meta.status(rs).get(field) or 0) if rs else 0


def _revision(rs: dict) -> int:
    try:
        return int(meta.annotations(rs).get(REVISION, "0"))
    except ValueError:
        return 0


def _by_creation(rs: dict) -> tuple[str, str]:
    """ReplicaSetsByCreationTimestamp (RFC 3339 strings sort chronologically)."""
    return (meta.metadata(rs).get("creationTimestamp") or "", meta.name(rs))


def equal_ignore_hash(t1: dict, t2: dict) -> bool:
    """EqualIgnoreHash: pod templates equal once the pod-template-hash label is dropped."""

    def strip(template: dict) -> dict:
        copy = meta.deep_copy(template or {})
        md = copy.setdefault("metadata", {})
        labels = {k: v for k, v in (md.get("labels") or {}).items() if k != POD_TEMPLATE_HASH}
        md["labels"] = labels
        return copy

    return strip(t1) == strip(t2)


def find_new_replicaset(d: dict, rss: list[dict]) -> dict | None:
    """FindNewReplicaSet: the oldest ReplicaSet whose template is the Deployment's."""
    template = meta.spec(d).get("template") or {}
    for rs in sorted(rss, key=_by_creation):
        if equal_ignore_hash(meta.spec(rs).get("template") or {}, template):
            return rs
    return None


def _condition(status: dict, ctype: str) -> dict | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def _new_condition(ctype: str, status: str, reason: str, message: str, now: float) -> dict:
    ts = pods.timestamp(now)
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


def _set_condition(status: dict, cond: dict) -> None:
    """SetDeploymentCondition: no-op if status and reason are unchanged."""
    current = _condition(status, cond["type"])
    if (
        current
        and current.get("status") == cond["status"]
        and current.get("reason") == cond["reason"]
    ):
        return
    if current and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime")
    _remove_condition(status, cond["type"])
    status["conditions"] = [*(status.get("conditions") or []), cond]


def _remove_condition(status: dict, ctype: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def deployment_complete(d: dict, status: dict) -> bool:
    """DeploymentComplete: every replica updated and available, generation observed."""
    want = replicas_of(d)
    return (
        (status.get("updatedReplicas") or 0) == want
        and (status.get("replicas") or 0) == want
        and (status.get("availableReplicas") or 0) == want
        and (status.get("observedGeneration") or 0) >= (meta.metadata(d).get("generation") or 0)
    )


def deployment_progressing(old: dict, new: dict) -> bool:
    """DeploymentProgressing: more updated/ready/available pods, or fewer old ones."""

    def get(s: dict, f: str) -> int:
        return s.get(f) or 0

    old_olds = get(old, "replicas") - get(old, "updatedReplicas")
    new_olds = get(new, "replicas") - get(new, "updatedReplicas")
    return (
        get(new, "updatedReplicas") > get(old, "updatedReplicas")
        or new_olds < old_olds
        or get(new, "readyReplicas") > get(old, "readyReplicas")
        or get(new, "availableReplicas") > get(old, "availableReplicas")
    )


# --- one sync of one Deployment --------------------------------------------------------------


class _DeploymentSync:
    """syncDeployment for one Deployment; collects writes instead of sending them.

    `self.d` is a working copy whose annotations and status are edited as Kubernetes edits
    its in-memory Deployment; `self.rss` is the current view of the owned ReplicaSets,
    where scaled or created ones replace the snapshot's.
    """

    def __init__(self, state: Snapshot, d: dict, now: float):
        self.state, self.now, self.original = state, now, d
        self.d = meta.deep_copy(d)
        self.d.setdefault("status", {})
        self.rss = sorted(
            (rs for rs in state.list("ReplicaSet", meta.namespace(d)) if pods.controlled_by(rs, d)),
            key=_by_creation,
        )
        self.rs_writes: dict[str, Action] = {}
        self.deletes: list[Action] = []

    # -- parameters

    @property
    def replicas(self) -> int:
        return replicas_of(self.d)

    @property
    def rolling(self) -> dict | None:
        strategy = meta.spec(self.d).get("strategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return None
        default = {
            "maxSurge": constants.DEPLOYMENT_MAX_SURGE,
            "maxUnavailable": constants.DEPLOYMENT_MAX_UNAVAILABLE,
        }
        return strategy.get("rollingUpdate") or default

    def max_surge(self) -> int:
        if not self.rolling:
            return 0
        ru = self.rolling
        return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), self.replicas)[0]

    def max_unavailable(self) -> int:
        if not self.rolling or self.replicas == 0:
            return 0
        ru = self.rolling
        unavailable = resolve_fenceposts(
            ru.get("maxSurge"), ru.get("maxUnavailable"), self.replicas
        )[1]
        return min(unavailable, self.replicas)

    def has_progress_deadline(self) -> bool:
        deadline = meta.spec(self.d).get(
            "progressDeadlineSeconds", constants.DEPLOYMENT_PROGRESS_DEADLINE_S
        )
        return deadline is not None and deadline != 2**31 - 1

    # -- entry point

    def run(self) -> list[Action]:
        self.check_paused_conditions()
        strategy = (meta.spec(self.d).get("strategy") or {}).get("type", "RollingUpdate")
        if meta.spec(self.d).get("paused") or self.is_scaling_event():
            self.sync()
        elif strategy == "Recreate":
            self.rollout_recreate()
        else:
            self.rollout_rolling()
        return self.actions()

    def actions(self) -> list[Action]:
        out: list[Action] = [*self.rs_writes.values(), *self.deletes]
        if self.d["status"] != meta.status(self.original):
            out.append(Update(self.d, subresource="status"))
        elif meta.annotations(self.d) != meta.annotations(self.original):
            updated = meta.deep_copy(self.original)
            updated["metadata"]["annotations"] = meta.deep_copy(meta.annotations(self.d))
            out.append(Update(updated))
        return out

    # -- ReplicaSet bookkeeping

    def write(self, rs: dict) -> None:
        """Record a changed or new ReplicaSet and make it the current view."""
        name = meta.name(rs)
        if isinstance(self.rs_writes.get(name), Create) or not meta.uid(rs):
            self.rs_writes[name] = Create(rs)
        else:
            self.rs_writes[name] = Update(rs)
        self.rss = [rs if meta.name(r) == name else r for r in self.rss]
        if rs not in self.rss:
            self.rss.append(rs)

    def scale_rs(self, rs: dict, new_scale: int) -> tuple[bool, dict]:
        """scaleReplicaSet: resize and refresh desired/max-replicas annotations."""
        desired, maximum = str(self.replicas), str(self.replicas + self.max_surge())
        ann = meta.annotations(rs)
        size_changed = replicas_of(rs) != new_scale
        if (
            not size_changed
            and ann.get(DESIRED_REPLICAS) == desired
            and ann.get(MAX_REPLICAS) == maximum
        ):
            return False, rs
        copy = meta.deep_copy(rs)
        copy["spec"]["replicas"] = new_scale
        annotations = copy["metadata"].setdefault("annotations", {})
        annotations[DESIRED_REPLICAS], annotations[MAX_REPLICAS] = desired, maximum
        self.write(copy)
        return size_changed, copy

    def get_all(self, create: bool) -> tuple[dict | None, list[dict]]:
        """getAllReplicaSetsAndSyncRevision: (new ReplicaSet or None, old ones)."""
        existing = find_new_replicaset(self.d, self.rss)
        old = [rs for rs in self.rss if rs is not existing]
        new_revision = str(max((_revision(rs) for rs in old), default=0) + 1)
        if existing is not None:
            return self.sync_existing_new_rs(existing, new_revision), old
        if not create:
            return None, old
        return self.create_new_rs(old, new_revision), old

    def set_new_rs_annotations(self, rs: dict, new_revision: str, exists: bool) -> bool:
        """SetNewReplicaSetAnnotations; returns whether the annotations changed."""
        annotations = rs["metadata"].setdefault("annotations", {})
        before = dict(annotations)
        for k, v in meta.annotations(self.d).items():
            if k not in _SKIP_COPY:
                annotations[k] = v
        old_revision = annotations.get(REVISION)
        if _revision(rs) < int(new_revision):
            annotations[REVISION] = new_revision
            if old_revision:
                history = annotations.get(REVISION_HISTORY)
                annotations[REVISION_HISTORY] = (
                    f"{history},{old_revision}" if history else old_revision
                )
        if not exists:
            annotations[DESIRED_REPLICAS] = str(self.replicas)
            annotations[MAX_REPLICAS] = str(self.replicas + self.max_surge())
        return annotations != before

    def sync_existing_new_rs(self, rs: dict, new_revision: str) -> dict:
        copy = meta.deep_copy(rs)
        min_ready = meta.spec(self.d).get("minReadySeconds") or 0
        changed = self.set_new_rs_annotations(copy, new_revision, exists=True)
        if changed or (meta.spec(copy).get("minReadySeconds") or 0) != min_ready:
            copy["spec"]["minReadySeconds"] = min_ready
            if not min_ready:
                copy["spec"].pop("minReadySeconds")
            self.write(copy)
            return copy
        self.set_deployment_revision(meta.annotations(copy).get(REVISION, ""))
        if self.has_progress_deadline() and not _condition(self.d["status"], "Progressing"):
            msg = f'Found new replica set "{meta.name(copy)}"'
            _set_condition(
                self.d["status"],
                _new_condition("Progressing", "True", REASON_FOUND_NEW_RS, msg, self.now),
            )
        return rs

    def set_deployment_revision(self, revision: str) -> None:
        if revision and meta.annotations(self.d).get(REVISION) != revision:
            self.d["metadata"].setdefault("annotations", {})[REVISION] = revision

    def build_new_rs(self) -> dict:
        """The ReplicaSet for the current template (labels, selector, owner, hash)."""
        template = meta.deep_copy(meta.spec(self.d).get("template") or {})
        pod_hash = compute_hash(template, self.d["status"].get("collisionCount"))
        labels = {
            **(meta.get_path(template, "metadata", "labels") or {}),
            POD_TEMPLATE_HASH: pod_hash,
        }
        template.setdefault("metadata", {})["labels"] = labels
        selector = meta.deep_copy(meta.spec(self.d).get("selector") or {})
        selector["matchLabels"] = {
            **(selector.get("matchLabels") or {}),
            POD_TEMPLATE_HASH: pod_hash,
        }
        spec: dict = {"replicas": 0, "selector": selector, "template": template}
        if meta.spec(self.d).get("minReadySeconds"):
            spec["minReadySeconds"] = meta.spec(self.d)["minReadySeconds"]
        metadata = {
            "name": f"{meta.name(self.d)}-{pod_hash}",
            "namespace": meta.namespace(self.d),
            "labels": dict(labels),
            "ownerReferences": [meta.owner_reference(self.d)],
        }
        return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": metadata, "spec": spec}

    def create_new_rs(self, old: list[dict], new_revision: str) -> dict | None:
        """getNewReplicaSet's create branch; on a name collision bump collisionCount."""
        rs = self.build_new_rs()
        rs["spec"]["replicas"] = self.new_rs_new_replicas([*old, rs], rs)
        self.set_new_rs_annotations(rs, new_revision, exists=False)
        if self.state.get("ReplicaSet", meta.namespace(rs), meta.name(rs)) is not None:
            self.d["status"]["collisionCount"] = (self.d["status"].get("collisionCount") or 0) + 1
            return None
        self.write(rs)
        self.set_deployment_revision(new_revision)
        if self.has_progress_deadline():
            msg = f'Created new replica set "{meta.name(rs)}"'
            _set_condition(
                self.d["status"],
                _new_condition("Progressing", "True", REASON_NEW_RS, msg, self.now),
            )
        return rs

    def new_rs_new_replicas(self, all_rss: list[dict], new_rs: dict) -> int:
        """NewRSNewReplicas: how far the new ReplicaSet may grow right now."""
        if not self.rolling:
            return self.replicas
        current = sum(replicas_of(rs) for rs in all_rss)
        max_total = self.replicas + self.max_surge()
        if current >= max_total:
            return replicas_of(new_rs)
        grow = min(max_total - current, self.replicas - replicas_of(new_rs))
        return replicas_of(new_rs) + grow

    # -- pause / scale (sync.go)

    def check_paused_conditions(self) -> None:
        if not self.has_progress_deadline():
            return
        cond = _condition(self.d["status"], "Progressing")
        if cond and cond.get("reason") == REASON_TIMED_OUT:
            return
        paused_cond = cond is not None and cond.get("reason") == REASON_PAUSED
        if meta.spec(self.d).get("paused") and not paused_cond:
            new = _new_condition(
                "Progressing", "Unknown", REASON_PAUSED, "Deployment is paused", self.now
            )
        elif not meta.spec(self.d).get("paused") and paused_cond:
            new = _new_condition(
                "Progressing", "Unknown", REASON_RESUMED, "Deployment is resumed", self.now
            )
        else:
            return
        _set_condition(self.d["status"], new)

    def is_scaling_event(self) -> bool:
        """A ReplicaSet's desired-replicas annotation disagrees with spec.replicas."""
        new_rs, old = self.get_all(create=False)
        if new_rs is None:
            return False
        for rs in (r for r in [*old, new_rs] if replicas_of(r) > 0):
            desired = meta.annotations(rs).get(DESIRED_REPLICAS, "")
            if desired.isdigit() and int(desired) != self.replicas:
                return True
        return False

    def sync(self) -> None:
        new_rs, old = self.get_all(create=False)
        self.scale(new_rs, old)
        if meta.spec(self.d).get("paused"):
            self.cleanup(old)
        self.d["status"] = self.calculate_status(self.find_view(new_rs))

    def find_view(self, rs: dict | None) -> dict | None:
        if rs is None:
            return None
        return next((r for r in self.rss if meta.name(r) == meta.name(rs)), rs)

    def scale(self, new_rs: dict | None, old: list[dict]) -> None:
        target = self.active_or_latest(new_rs, old)
        if target is not None:
            if replicas_of(target) != self.replicas:
                self.scale_rs(target, self.replicas)
            return
        if self.is_saturated(new_rs):
            for rs in (r for r in old if replicas_of(r) > 0):
                self.scale_rs(rs, 0)
            return
        if self.rolling:
            self.scale_proportionally(new_rs, old)

    @staticmethod
    def active_or_latest(new_rs: dict | None, old: list[dict]) -> dict | None:
        """FindActiveOrLatest: the only active ReplicaSet, or the newest if none is."""
        if new_rs is None and not old:
            return None
        newest_first = sorted(old, key=_by_creation, reverse=True)
        active = [rs for rs in [*newest_first, new_rs] if rs is not None and replicas_of(rs) > 0]
        if not active:
            return new_rs if new_rs is not None else newest_first[0]
        return active[0] if len(active) == 1 else None

    def is_saturated(self, rs: dict | None) -> bool:
        if rs is None:
            return False
        desired = meta.annotations(rs).get(DESIRED_REPLICAS, "")
        return (
            desired.isdigit()
            and int(desired) == self.replicas
            and replicas_of(rs) == self.replicas
            and _status_count(rs, "availableReplicas") == self.replicas
        )

    def scale_proportionally(self, new_rs: dict | None, old: list[dict]) -> None:
        """scale(): spread a replicas change over the active ReplicaSets by their size."""
        active = [rs for rs in [*old, new_rs] if rs is not None and replicas_of(rs) > 0]
        allowed = self.replicas + self.max_surge() if self.replicas > 0 else 0
        to_add = allowed - sum(replicas_of(rs) for rs in active)
        # ReplicaSetsBySizeNewer when growing, BySizeOlder when shrinking.
        active.sort(key=_by_creation, reverse=to_add > 0)
        active.sort(key=lambda rs: -replicas_of(rs))
        added, sizes = 0, {}
        for rs in active:
            share = self.proportion(rs, to_add, added) if to_add else 0
            sizes[meta.name(rs)] = replicas_of(rs) + share
            added += share
        for i, rs in enumerate(active):
            size = sizes[meta.name(rs)]
            if i == 0 and to_add:
                size = max(0, size + to_add - added)
            self.scale_rs(rs, size)

    def proportion(self, rs: dict, to_add: int, added: int) -> int:
        """GetProportion / getReplicaSetFraction."""
        if replicas_of(rs) == 0 or to_add == added:
            return 0
        if self.replicas == 0:
            fraction = -replicas_of(rs)
        else:
            annotated = meta.annotations(rs).get(MAX_REPLICAS, "")
            before = int(annotated) if annotated.isdigit() else 0
            before = before or (self.d["status"].get("replicas") or 0)
            if not before:
                return 0
            size = replicas_of(rs) * (self.replicas + self.max_surge()) / before
            fraction = math.floor(size + 0.5) - replicas_of(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def cleanup(self, old: list[dict]) -> None:
        """cleanupDeployment: delete the oldest idle ReplicaSets beyond the history limit."""
        limit = meta.spec(self.d).get(
            "revisionHistoryLimit", constants.DEPLOYMENT_REVISION_HISTORY_LIMIT
        )
        if limit is None:
            return
        alive = [rs for rs in old if not meta.is_deleting(rs)]
        excess = len(alive) - limit
        if excess <= 0:
            return
        alive.sort(key=lambda rs: (_revision(rs), *_by_creation(rs)))
        for rs in alive[:excess]:
            idle = replicas_of(rs) == 0 and _status_count(rs, "replicas") == 0
            observed = (meta.metadata(rs).get("generation") or 0) <= _status_count(
                rs, "observedGeneration"
            )
            if idle and observed:
                self.deletes.append(
                    Delete("ReplicaSet", meta.namespace(rs), meta.name(rs), meta.uid(rs))
                )

    # -- rollouts (rolling.go, recreate.go)

    def rollout_rolling(self) -> None:
        new_rs, old = self.get_all(create=True)
        if new_rs is None:
            return  # name collision: only the collisionCount bump is written
        all_rss = [*old, new_rs]
        if self.reconcile_new_rs(all_rss, new_rs) or self.reconcile_old_rss(
            all_rss, [rs for rs in old if replicas_of(rs) > 0], new_rs
        ):
            return self.sync_rollout_status(new_rs)
        if deployment_complete(self.d, self.d["status"]):
            self.cleanup(old)
        self.sync_rollout_status(new_rs)

    def reconcile_new_rs(self, all_rss: list[dict], new_rs: dict) -> bool:
        if replicas_of(new_rs) == self.replicas:
            return False
        if replicas_of(new_rs) > self.replicas:
            return self.scale_rs(new_rs, self.replicas)[0]
        return self.scale_rs(new_rs, self.new_rs_new_replicas(all_rss, new_rs))[0]

    def reconcile_old_rss(self, all_rss: list[dict], old_active: list[dict], new_rs: dict) -> bool:
        """reconcileOldReplicaSets: shrink old ReplicaSets within maxUnavailable."""
        if sum(replicas_of(rs) for rs in old_active) == 0:
            return False
        min_available = self.replicas - self.max_unavailable()
        new_unavailable = replicas_of(new_rs) - _status_count(new_rs, "availableReplicas")
        max_scaled_down = sum(replicas_of(rs) for rs in all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_active, cleaned = self.cleanup_unhealthy(old_active, max_scaled_down)
        new_view = self.find_view(new_rs)
        assert new_view is not None  # new_rs is a ReplicaSet, so it has a view
        scaled = self.scale_down_old(new_view, old_active, min_available)
        return cleaned + scaled > 0

    def cleanup_unhealthy(self, old: list[dict], max_cleanup: int) -> tuple[list[dict], int]:
        """cleanupUnhealthyReplicas: drop old pods that are not available anyway."""
        total, result = 0, []
        for rs in sorted(old, key=_by_creation):
            unhealthy = replicas_of(rs) - _status_count(rs, "availableReplicas")
            if total < max_cleanup and replicas_of(rs) > 0 and unhealthy > 0:
                down = min(max_cleanup - total, unhealthy)
                _, rs = self.scale_rs(rs, replicas_of(rs) - down)
                total += down
            result.append(rs)
        return result, total

    def scale_down_old(self, new_rs: dict, old: list[dict], min_available: int) -> int:
        """scaleDownOldReplicaSetsForRollingUpdate: keep min_available pods available."""
        available = sum(_status_count(rs, "availableReplicas") for rs in [*old, new_rs])
        if available <= min_available:
            return 0
        budget, done = available - min_available, 0
        for rs in sorted(old, key=_by_creation):
            if done >= budget:
                break
            if replicas_of(rs) == 0:
                continue
            down = min(replicas_of(rs), budget - done)
            self.scale_rs(rs, replicas_of(rs) - down)
            done += down
        return done

    def rollout_recreate(self) -> None:
        new_rs, old = self.get_all(create=False)
        scaled_down = False
        for rs in (r for r in old if replicas_of(r) > 0):
            scaled_down = self.scale_rs(rs, 0)[0] or scaled_down
        if scaled_down or self.old_pods_running(new_rs, old):
            return self.sync_rollout_status(new_rs)
        if new_rs is None:
            new_rs, old = self.get_all(create=True)
            if new_rs is None:
                return
        self.scale_rs(new_rs, self.replicas)
        if deployment_complete(self.d, self.d["status"]):
            self.cleanup(old)
        self.sync_rollout_status(new_rs)

    def old_pods_running(self, new_rs: dict | None, old: list[dict]) -> bool:
        """oldPodsRunning: an old ReplicaSet still has a pod that is not terminal."""
        if sum(_status_count(rs, "replicas") for rs in old) > 0:
            return True
        old_uids = {meta.uid(rs) for rs in self.rss} - {meta.uid(new_rs) if new_rs else ""}
        selector = meta.spec(self.d).get("selector")
        for pod in self.state.list("Pod", meta.namespace(self.d)):
            ref = meta.controller_of(pod) or {}
            if (
                ref.get("uid") in old_uids
                and selectors.matches_label_selector(selector, meta.labels(pod))
                and not pods.is_pod_terminal(pod)
            ):
                return True
        return False

    # -- status (sync.go calculateStatus, progress.go syncRolloutStatus)

    def calculate_status(self, new_rs: dict | None) -> dict:
        available = sum(_status_count(rs, "availableReplicas") for rs in self.rss)
        counts = {
            "observedGeneration": meta.metadata(self.d).get("generation") or 0,
            "replicas": sum(_status_count(rs, "replicas") for rs in self.rss),
            "updatedReplicas": _status_count(new_rs, "replicas"),
            "readyReplicas": sum(_status_count(rs, "readyReplicas") for rs in self.rss),
            "availableReplicas": available,
            "unavailableReplicas": max(0, sum(replicas_of(rs) for rs in self.rss) - available),
        }
        status = {k: v for k, v in counts.items() if v}  # DeploymentStatus fields are omitempty
        if self.d["status"].get("conditions"):
            status["conditions"] = meta.deep_copy(self.d["status"]["conditions"])
        if self.d["status"].get("collisionCount") is not None:
            status["collisionCount"] = self.d["status"]["collisionCount"]
        if available >= self.replicas - self.max_unavailable():
            cond = ("True", REASON_MIN_AVAILABLE, "Deployment has minimum availability.")
        else:
            cond = (
                "False",
                REASON_MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.",
            )
        _set_condition(status, _new_condition("Available", *cond, self.now))
        return status

    def sync_rollout_status(self, new_rs: dict | None) -> None:
        new_rs = self.find_view(new_rs)
        status = self.calculate_status(new_rs)
        if not self.has_progress_deadline():
            _remove_condition(status, "Progressing")
        current = _condition(self.d["status"], "Progressing")
        complete = (
            (status.get("replicas") or 0) == (status.get("updatedReplicas") or 0)
            and current is not None
            and current.get("reason") == REASON_NEW_RS_AVAILABLE
        )
        if self.has_progress_deadline() and not complete:
            self.estimate_progress(status, current, new_rs)
        self.d["status"] = status

    def estimate_progress(self, status: dict, current: dict | None, new_rs: dict | None) -> None:
        subject = (
            f'ReplicaSet "{meta.name(new_rs)}"' if new_rs else f'Deployment "{meta.name(self.d)}"'
        )
        if deployment_complete(self.d, status):
            msg = f"{subject} has successfully progressed."
            _set_condition(
                status,
                _new_condition("Progressing", "True", REASON_NEW_RS_AVAILABLE, msg, self.now),
            )
        elif deployment_progressing(self.d["status"], status):
            cond = _new_condition(
                "Progressing", "True", REASON_RS_UPDATED, f"{subject} is progressing.", self.now
            )
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                _remove_condition(status, "Progressing")
            _set_condition(status, cond)
        elif self.timed_out(status):
            msg = f"{subject} has timed out progressing."
            _set_condition(
                status, _new_condition("Progressing", "False", REASON_TIMED_OUT, msg, self.now)
            )

    def timed_out(self, status: dict) -> bool:
        """DeploymentTimedOut: no progress reported for progressDeadlineSeconds."""
        cond = _condition(status, "Progressing")
        if cond is None or cond.get("reason") == REASON_NEW_RS_AVAILABLE:
            return False
        if cond.get("reason") == REASON_TIMED_OUT:
            return True
        since = pods.parse_timestamp(cond.get("lastUpdateTime"))
        deadline = meta.spec(self.d).get(
            "progressDeadlineSeconds", constants.DEPLOYMENT_PROGRESS_DEADLINE_S
        )
        return since is not None and since + deadline < self.now
