"""Pod facts every controller needs, kept in one place.

Mirrors `kubernetes/kubernetes`:
- `pkg/api/v1/pod/util.go`: IsPodReady, IsPodAvailable, FindPort, GetPodCondition;
- `pkg/controller/controller_utils.go`: IsPodActive / FilterActivePods, IsPodTerminal;
- `staging/src/k8s.io/endpointslice/util/controller_utils.go`: ShouldPodBeInEndpoints,
  ShouldSetHostname;
- `pkg/controller/endpoint/endpoints_controller.go` (podToEndpointAddressForService) for
  which pod IP a Service of a given IP family uses;
- `metav1.Time`'s wire format (RFC 3339, whole seconds, UTC) for the conditions controllers
  write, since time reaches them only as `now` (epoch seconds).

Leaves out: ephemeral containers (never carry Service ports) and anything about container
statuses beyond restart counts.
"""

from __future__ import annotations

import re
from datetime import datetime

from lab_kit.model import meta
from lab_kit.model.meta import rfc3339

TERMINAL_PHASES = ("Succeeded", "Failed")


# --- time ----------------------------------------------------------------------------------


def timestamp(now: float) -> str:
    """`now` as metav1.Time marshals it: `2024-05-01T12:00:00Z`."""
    return rfc3339(int(now))


def parse_timestamp(text: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp (fractions dropped), None if absent/invalid."""
    if not text:
        return None
    try:
        clean = re.sub(r"\.\d+", "", text).replace("Z", "+00:00")
        return datetime.fromisoformat(clean).timestamp()
    except ValueError:
        return None


# --- readiness and lifecycle -----------------------------------------------------------------


def condition(pod: dict, ctype: str) -> dict | None:
    """The pod's status condition of this type (GetPodCondition)."""
    for cond in meta.status(pod).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def is_pod_ready(pod: dict) -> bool:
    """IsPodReady: the `Ready` condition is `True`."""
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: dict) -> float | None:
    """When the pod last became Ready (the Ready condition's lastTransitionTime)."""
    cond = condition(pod, "Ready")
    return parse_timestamp(cond.get("lastTransitionTime")) if cond else None


def is_pod_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    """IsPodAvailable: Ready, and Ready for longer than minReadySeconds."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds < now


def is_pod_terminal(pod: dict) -> bool:
    """Succeeded or Failed: the pod's containers will never run again."""
    return meta.status(pod).get("phase") in TERMINAL_PHASES


def is_pod_active(pod: dict) -> bool:
    """FilterActivePods: not terminal and not being deleted (counts towards replicas)."""
    return not is_pod_terminal(pod) and not meta.is_deleting(pod)


def restart_count(pod: dict) -> int:
    """The highest restartCount among the pod's containers (maxContainerRestarts)."""
    counts = [c.get("restartCount", 0) for c in meta.status(pod).get("containerStatuses") or []]
    return max(counts, default=0)


def controlled_by(obj: dict, owner: dict) -> bool:
    """The object's controller ownerReference points at this incarnation of `owner`."""
    ref = meta.controller_of(obj)
    return ref is not None and ref.get("uid") == meta.uid(owner) != ""


# --- Services' view of pods ------------------------------------------------------------------


def should_pod_be_in_endpoints(pod: dict, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not terminal, has an IP, terminating only if wanted."""
    if is_pod_terminal(pod):
        return False
    st = meta.status(pod)
    if not st.get("podIP") and not st.get("podIPs"):
        return False
    return include_terminating or not meta.is_deleting(pod)


def should_set_hostname(pod: dict, service: dict) -> bool:
    """ShouldSetHostname: spec.hostname set and spec.subdomain names this Service."""
    spec = meta.spec(pod)
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == meta.name(service)
        and meta.namespace(pod) == meta.namespace(service)
    )


def is_ipv6(ip: str) -> bool:
    return ":" in ip


def service_ip_family(service: dict, pod: dict | None = None) -> str:
    """The family Endpoints use for this Service: ipFamilies[0], else guessed from IPs."""
    spec = meta.spec(service)
    if spec.get("ipFamilies"):
        return spec["ipFamilies"][0]
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ip and cluster_ip != "None":
        return "IPv6" if is_ipv6(cluster_ip) else "IPv4"
    pod_ip_text = meta.status(pod).get("podIP", "") if pod else ""
    return "IPv6" if is_ipv6(pod_ip_text) else "IPv4"


def pod_ip(pod: dict, family: str = "IPv4") -> str:
    """The pod's first IP of this family (status.podIPs, falling back to status.podIP)."""
    st = meta.status(pod)
    candidates = [p.get("ip", "") for p in st.get("podIPs") or []] or [st.get("podIP", "")]
    for ip in candidates:
        if ip and is_ipv6(ip) == (family == "IPv6"):
            return ip
    return ""


def _port_containers(pod: dict) -> list[dict]:
    """Containers whose ports a Service may target: app containers, then sidecars."""
    spec = meta.spec(pod)
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or []) + sidecars


def find_port(pod: dict, service_port: dict) -> int | None:
    """FindPort: the number a Service port's targetPort means for this pod.

    A number is used as is; a name is looked up in the pod's container ports, matching
    name AND protocol (restartable init containers included). None when the pod has no
    such port: the pod is then left out for that Service port.
    """
    target = service_port.get("targetPort")
    if target is None or target == 0 or target == "":
        target = service_port.get("port")
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    protocol = service_port.get("protocol") or "TCP"
    for container in _port_containers(pod):
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return port.get("containerPort")
    return None


def resolve_target_port(pod: dict, service_port: dict) -> int | None:
    """Alias of find_port under the name the lab's notebooks use."""
    return find_port(pod, service_port)
