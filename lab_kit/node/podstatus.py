"""The Pod status the kubelet writes back to the API.

Mirrors `kubernetes/kubernetes`:
- `pkg/kubelet/kubelet_pods.go`: generateAPIPodStatus (terminal phases never go back,
  phase reason/message kept, non-kubelet conditions kept first), getPhase,
  convertToAPIContainerStatuses (default `ContainerCreating` state, statuses sorted by
  name);
- `pkg/kubelet/prober/prober_manager.go` UpdatePodStatus (`started` and `ready` only for
  running containers);
- `pkg/kubelet/status/generate.go`: PodReadyToStartContainers, Initialized, Ready (with
  readiness gates), ContainersReady;
- `pkg/kubelet/status/status_manager.go`: updateLastTransitionTime, the startTime kept once
  set, isPodStatusByKubeletEqual (whether a write is needed);
- `pkg/apis/core/v1/helper/qos/qos.go` ComputePodQOS, with `resource.Quantity` parsing.

Leaves out: init containers (Initialized is True, `initContainerStatuses` absent),
ephemeral containers, observedGeneration, in-place resize (`resources`,
`allocatedResources`), container `volumeMounts` and `user`, pod-level resources in QoS,
eviction reasons, and static pods.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from lab_kit.model import meta
from lab_kit.model.meta import rfc3339

# PodConditionsByKubelet (+ PodReadyToStartContainers, on by default since v1.29), in the
# order generateAPIPodStatus appends them; DisruptionTarget is shared with controllers.
KUBELET_CONDITIONS = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)
SHARED_CONDITIONS = ("DisruptionTarget",)
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass
class ContainerFacts:
    """What the node knows about one container; render_status turns it into its status.

    state is "waiting", "running" or "terminated"; reason/message describe a waiting
    (ContainerCreating, CrashLoopBackOff, CreateContainerConfigError...) or terminated
    (Completed/Error by default) state. `ready` is the readiness result (True when there is
    no readiness probe), `started` the startup result (True when there is none).
    `last_state` is the API's lastState dict (e.g. {"terminated": {...}}) or None."""

    name: str
    image: str = ""
    state: str = "waiting"
    reason: str = ""
    message: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    last_state: dict | None = None
    container_id: str = ""
    image_id: str = ""


def timestamp(t: float | None) -> str | None:
    """metav1.Time on the wire (RFC 3339, whole seconds, UTC); null when unset."""
    return None if t is None else rfc3339(t)


# --- container statuses ----------------------------------------------------------------------


def _state(facts: ContainerFacts) -> dict:
    if facts.state == "running":
        return {"running": {"startedAt": timestamp(facts.started_at)}}
    if facts.state == "terminated":
        return {"terminated": _terminated(facts)}
    waiting = {"reason": facts.reason or "ContainerCreating"}
    if facts.message:
        waiting["message"] = facts.message
    return {"waiting": waiting}


def _terminated(facts: ContainerFacts) -> dict:
    """ContainerStateTerminated, keys in the API's order (empty message/ID omitted)."""
    code = facts.exit_code or 0
    out: dict = {
        "exitCode": code,
        "reason": facts.reason or ("Completed" if code == 0 else "Error"),
    }
    if facts.message:
        out["message"] = facts.message
    out["startedAt"] = timestamp(facts.started_at)
    out["finishedAt"] = timestamp(facts.finished_at)
    if facts.container_id:
        out["containerID"] = facts.container_id
    return out


def container_status(facts: ContainerFacts) -> dict:
    """One ContainerStatus. Only a running container can be started, and only a started
    one ready (UpdatePodStatus)."""
    started = facts.state == "running" and facts.started
    status: dict = {
        "name": facts.name,
        "state": _state(facts),
        "lastState": dict(facts.last_state or {}),
        "ready": started and facts.ready,
        "restartCount": facts.restart_count,
        "image": facts.image,
        "imageID": facts.image_id,
    }
    if facts.container_id:
        status["containerID"] = facts.container_id
    status["started"] = started
    return status


def _default_status(container: dict, old: dict | None) -> dict:
    """convertToAPIContainerStatuses for a container the runtime does not know yet: a
    terminated old status is kept; otherwise ContainerCreating, keeping the old restart
    count and last state."""
    if old and "terminated" in (old.get("state") or {}):
        return old
    status = container_status(ContainerFacts(container.get("name", ""), container.get("image", "")))
    if old:
        status["restartCount"] = old.get("restartCount", 0)
        status["lastState"] = old.get("lastState") or {}
    return status


def container_statuses(pod: dict, facts: list[ContainerFacts]) -> list[dict]:
    """A status per spec container, sorted by name (SortedContainerStatuses)."""
    known = {f.name: f for f in facts}
    old = {s.get("name"): s for s in meta.status(pod).get("containerStatuses") or []}
    out = []
    for container in meta.spec(pod).get("containers") or []:
        name = container.get("name", "")
        if name in known:
            out.append(container_status(known[name]))
        else:
            out.append(_default_status(container, old.get(name)))
    return sorted(out, key=lambda status: status["name"])


# --- phase -------------------------------------------------------------------------------------


def pod_phase(pod: dict, statuses: list[dict], pod_is_terminal: bool = False) -> str:
    """getPhase for regular containers. A container waiting to restart (it has a
    terminated lastState, e.g. CrashLoopBackOff) counts as stopped, not waiting."""
    by_name = {s["name"]: s for s in statuses}
    running = waiting = stopped = succeeded = unknown = 0
    for container in meta.spec(pod).get("containers") or []:
        status = by_name.get(container.get("name", "")) or {}
        state = status.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode", 0) == 0
        elif "waiting" in state and (status.get("lastState") or {}).get("terminated"):
            stopped += 1
        elif "waiting" in state:
            waiting += 1
        else:
            unknown += 1
    if waiting:
        return "Pending"  # one or more containers has not been started
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        return _stopped_phase(pod, stopped == succeeded, pod_is_terminal)
    return "Pending"


def _stopped_phase(pod: dict, all_succeeded: bool, pod_is_terminal: bool) -> str:
    """Every container has exited: the restart policy says whether they come back."""
    if pod_is_terminal:
        return "Succeeded" if all_succeeded else "Failed"
    policy = meta.spec(pod).get("restartPolicy") or "Always"
    if policy == "Always":
        return "Running"  # all of them are being restarted
    if all_succeeded:
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"  # OnFailure: restarting the failed


# --- conditions ---------------------------------------------------------------------------------


def _containers_ready(pod: dict, statuses: list[dict], phase: str) -> dict:
    """GenerateContainersReadyCondition."""
    if phase in TERMINAL_PHASES:
        reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        return {"type": "ContainersReady", "status": "False", "reason": reason}
    ready = {s["name"]: s.get("ready") for s in statuses}
    names = [c.get("name", "") for c in meta.spec(pod).get("containers") or []]
    unknown = [name for name in names if name not in ready]
    unready = [name for name in names if name in ready and not ready[name]]
    # Go formats the []string with %s: "[a b]".
    messages = [f"containers with unknown status: [{' '.join(unknown)}]"] if unknown else []
    if unready:
        messages.append(f"containers with unready status: [{' '.join(unready)}]")
    if messages:
        message = ", ".join(messages)
        return {
            "type": "ContainersReady",
            "status": "False",
            "reason": "ContainersNotReady",
            "message": message,
        }
    return {"type": "ContainersReady", "status": "True"}


def _pod_ready(pod: dict, conditions: list[dict], containers_ready: dict) -> dict:
    """GeneratePodReadyCondition: ContainersReady, then every readiness gate True."""
    if containers_ready["status"] != "True":
        return {**containers_ready, "type": "Ready"}
    by_type = {c.get("type"): c for c in conditions}
    messages = []
    for gate in meta.spec(pod).get("readinessGates") or []:
        ctype = gate.get("conditionType", "")
        if ctype not in by_type:
            messages.append(
                f'corresponding condition of pod readiness gate "{ctype}" does not exist.'
            )
        elif by_type[ctype].get("status") != "True":
            messages.append(
                f'the status of pod readiness gate "{ctype}" is not "True", but '
                f"{by_type[ctype].get('status')}"
            )
    if messages:
        return {
            "type": "Ready",
            "status": "False",
            "reason": "ReadinessGatesNotReady",
            "message": ", ".join(messages),
        }
    return {"type": "Ready", "status": "True"}


def _with_times(condition: dict, old_conditions: list[dict], now: float) -> dict:
    """A PodCondition in the API's key order; lastTransitionTime kept while the status
    stays the same (updateLastTransitionTime), lastProbeTime null (kubelet never sets it)."""
    old = next((c for c in old_conditions if c.get("type") == condition["type"]), None)
    unchanged = old is not None and old.get("status") == condition["status"]
    kept = old.get("lastTransitionTime") if old is not None and unchanged else None
    out = {
        "type": condition["type"],
        "status": condition["status"],
        "lastProbeTime": None,
        "lastTransitionTime": kept if unchanged else timestamp(now),
    }
    for key in ("reason", "message"):
        if condition.get(key):
            out[key] = condition[key]
    return out


def pod_conditions(
    pod: dict, statuses: list[dict], phase: str, sandbox_ready: bool, now: float
) -> list[dict]:
    """Conditions not owned by the kubelet first (as they were), then the kubelet's."""
    old = meta.status(pod).get("conditions") or []
    kept = [c for c in old if c.get("type") not in KUBELET_CONDITIONS]
    initialized = {"type": "Initialized", "status": "True"}
    if phase == "Succeeded":
        initialized["reason"] = "PodCompleted"
    early = [{"type": "PodReadyToStartContainers", "status": str(sandbox_ready)}, initialized]
    containers_ready = _containers_ready(pod, statuses, phase)
    generated = early + [
        _pod_ready(pod, kept + early, containers_ready),
        containers_ready,
        {"type": "PodScheduled", "status": "True"},
    ]
    return kept + [_with_times(c, old, now) for c in generated]


# --- QoS ----------------------------------------------------------------------------------------

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_SUFFIX = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}


def parse_quantity(value: object) -> Fraction:
    """resource.Quantity's value, exactly ("500m" -> 1/2, "1Gi" -> 2**30, "1e3" -> 1000)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Fraction(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"quantities must match {_QUANTITY.pattern}: {value!r}")
    number, suffix = match.groups()
    if suffix in _SUFFIX:
        return Fraction(number) * _SUFFIX[suffix]
    if suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
        return Fraction(number) * Fraction(10) ** int(suffix[1:])
    raise ValueError(f"unknown quantity suffix: {value!r}")


def _add_positive(totals: dict[str, Fraction], resources: dict | None) -> set[str]:
    """Add the positive cpu/memory amounts (the only QoS resources); names seen."""
    seen = set()
    for name, quantity in (resources or {}).items():
        if name not in ("cpu", "memory"):
            continue
        try:
            amount = parse_quantity(quantity)
        except ValueError:
            continue  # the API rejects malformed quantities; nothing to count
        if amount > 0:
            totals[name] = totals.get(name, Fraction(0)) + amount
            seen.add(name)
    return seen


def pod_qos_class(pod: dict) -> str:
    """ComputePodQOS: BestEffort without cpu/memory requests or limits; Guaranteed when
    every container limits both and requests equal limits; Burstable otherwise."""
    spec = meta.spec(pod)
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = container.get("resources") or {}
        _add_positive(requests, resources.get("requests"))
        if not {"cpu", "memory"} <= _add_positive(limits, resources.get("limits")):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"  # same names, same totals
    return "Burstable"


# --- the whole status -------------------------------------------------------------------------


def render_status(
    pod: dict,
    facts: list[ContainerFacts],
    pod_ip: str,
    host_ip: str,
    start_time: float,
    now: float,
    *,
    sandbox_ready: bool | None = None,
    pod_is_terminal: bool = False,
) -> dict:
    """The Pod `status` kubelet would write, given what is known about the containers.

    `sandbox_ready` (PodReadyToStartContainers) defaults to "the pod has an IP"; pass False
    once the sandbox is gone. When nothing changed by the kubelet's comparison the pod's
    current status dict itself is returned, so `new is old` means "skip the write"."""
    old = meta.status(pod)
    statuses = container_statuses(pod, facts)
    phase = pod_phase(pod, statuses, pod_is_terminal)
    if phase not in TERMINAL_PHASES and old.get("phase") in TERMINAL_PHASES:
        phase = old["phase"]  # pods never leave a terminal phase
    if meta.spec(pod).get("hostNetwork") and not pod_ip:
        pod_ip = host_ip  # host-network pods have the node's address
    ready = bool(pod_ip) if sandbox_ready is None else sandbox_ready
    status: dict = {"phase": phase, "conditions": pod_conditions(pod, statuses, phase, ready, now)}
    if phase == old.get("phase"):
        status.update({k: old[k] for k in ("message", "reason") if old.get(k)})
    if host_ip:
        status.update(hostIP=host_ip, hostIPs=[{"ip": host_ip}])
    if pod_ip:
        status.update(podIP=pod_ip, podIPs=[{"ip": pod_ip}])
    status["startTime"] = old.get("startTime") or timestamp(start_time)
    status["containerStatuses"] = statuses
    status["qosClass"] = pod_qos_class(pod)
    return status if not old or status_changed(old, status) else old


def _prune(value: object) -> object:
    """Drop zero values (None, "", 0, False, {}, []) from dicts, recursively: in Go an
    omitted field and its zero value are the same thing."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", 0, False, {}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def status_changed(old_status: dict, new_status: dict) -> bool:
    """not isPodStatusByKubeletEqual: the kubelet's and shared conditions compared on
    status, reason and message only (not their times); everything else field by field."""
    owned = KUBELET_CONDITIONS + SHARED_CONDITIONS

    def by_type(status: dict) -> dict:
        return {c.get("type"): c for c in status.get("conditions") or [] if c.get("type") in owned}

    old_conditions, new_conditions = by_type(old_status or {}), by_type(new_status or {})
    if old_conditions.keys() != new_conditions.keys():
        return True
    for ctype, new in new_conditions.items():
        if any(old_conditions[ctype].get(k) != new.get(k) for k in ("status", "reason", "message")):
            return True
    rest = dict(old_status or {})
    rest["conditions"] = (new_status or {}).get("conditions")
    return _prune(rest) != _prune(new_status or {})
