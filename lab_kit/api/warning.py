"""Warnings: what the API server accepts but says something about, in `Warning` headers.

Mirrors three pieces of Kubernetes:
- `k8s.io/apiserver/pkg/endpoints/filters/warning.go`: one recorder per request; each text
  once (deduplicated, in order); past 4096 characters in all, every warning is cut to 256
  and those that no longer fit are dropped;
- `k8s.io/apimachinery/pkg/util/net/http.go`: NewWarningHeader (`299 - "text"`, with `"`
  and `\\` escaped, no control characters) and ParseWarningHeaders (what client-go reads);
- `pkg/api/service/warnings.go` GetWarningsForService, as of 1.33 (IP addresses and CIDRs
  in a non-standard form; fields ignored for headless or ExternalName Services).

And the lab's own: `NOT_IMPLEMENTED`, one table of the fields kube-apiserver accepts that
lab_kit does not implement, each with the reason. A write that uses one gets a warning
naming the field where the user wrote it, so nothing is ignored silently:

    Warning: spec.template.spec.containers[0].resources: not implemented by lab_kit: ...

kubectl prints each as `Warning: <text>` on stderr (`labkit apply` and `Lab.apply` too).
Left out: the warnings kube-apiserver sends for Pods and pod templates
(`pkg/api/pod/warnings.go`: deprecated node labels, duplicate env names, ...), and for
deprecated APIs (v1 Endpoints in 1.33).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from lab_kit.api.serviceaccounts import VOLUME_PREFIX
from lab_kit.model import meta
from lab_kit.model.validation_formats import parse_ip_sloppy

TOTAL_RUNES = 4 * 1024  # filters/warning.go truncateAtTotalRunes
ITEM_RUNES = 256  # truncateItemRunes
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # unicode.IsControl: never in a header


# --- the header: kube-apiserver's recorder, and client-go's parser ------------------------------


def warning_header(text: str, agent: str = "-") -> str | None:
    """NewWarningHeader(299, agent, text); None for a text a header cannot carry."""
    if _CONTROL.search(text):
        return None
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 {agent} "{quoted}"'


def warning_headers(
    texts: Iterable[str], total: int = TOTAL_RUNES, item: int = ITEM_RUNES
) -> list[str]:
    """The `Warning` header values a request's warnings become, added one by one as the
    recorder's AddWarning adds them: each text once; when one would take the total past
    `total` characters, every warning so far is cut to `item` characters, and later ones
    (cut too) are added only while the total is below `total`."""
    headers: list[str] = []
    ordered: list[str] = []
    written, truncating = 0, False
    for text in texts:
        if not text or text in ordered or (truncating and written >= total):
            continue
        ordered.append(text)
        if truncating:
            text = text[:item]
        header = warning_header(text)
        if header is None:
            continue
        if truncating or written + len(text) <= total:
            headers.append(header)
            written += len(text)
            continue
        truncating, written, headers = True, 0, []  # replay all, cut
        for earlier in ordered:
            cut = warning_header(earlier[:item])
            if cut is not None:
                headers.append(cut)
                written += len(earlier[:item])
    return headers


def parse_warning_headers(values: Iterable[str]) -> list[tuple[int, str, str]]:
    """ParseWarningHeaders: (code, agent, text) for each warning in the header values
    (several may share one value, comma-separated); malformed ones are skipped."""
    found = []
    for value in values:
        for match in _WARNING.finditer(value):
            text = re.sub(r"\\(.)", r"\1", match["text"])
            found.append((int(match["code"]), match["agent"], text))
    return found


_WARNING = re.compile(
    r'\s*(?P<code>[12][0-9][0-9]) (?P<agent>[^ ]+) "(?P<text>(?:[^"\\]|\\.)*)"'
    r'(?: "[^"]*")?\s*,?'
)


# --- what kube-apiserver warns about Services ---------------------------------------------------


def ip_warnings(path: str, value: object) -> list[str]:
    """utilvalidation.GetWarningsForIP: leading zeros or an IPv4-mapped IPv6 address; an IPv6
    address not in RFC 5952 form."""
    ip = parse_ip_sloppy(value)
    if ip is None:
        return []
    text = str(value)
    mapped = getattr(ip, "ipv4_mapped", None)
    strict = _strict_ip(text)
    if strict is None or mapped is not None:
        preferred = str(mapped or ip)
        return [
            f'{path}: non-standard IP address "{text}" will be considered invalid in a future '
            f'Kubernetes release: use "{preferred}"'
        ]
    if strict.version == 6 and str(strict) != text:
        return [
            f'{path}: IPv6 address "{text}" should be in RFC 5952 canonical format ("{strict}")'
        ]
    return []


def _strict_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)  # no leading zeros, as Go's netip.ParseAddr
    except ValueError:
        return None


def cidr_warnings(path: str, value: object) -> list[str]:
    """utilvalidation.GetWarningsForCIDR: bits set after the prefix; an IPv6 range not in
    RFC 5952 form."""
    text = str(value)
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return []
    address = text.partition("/")[0]
    if str(net.network_address) != str(ipaddress.ip_address(address)):
        single = f"{ipaddress.ip_address(address)}/{net.max_prefixlen}"
        return [
            f'{path}: CIDR value "{text}" is ambiguous in this context '
            f'(should be "{net}" or "{single}"?)'
        ]
    if net.version == 6 and str(net) != text:
        return [
            f'{path}: IPv6 CIDR value "{text}" should be in RFC 5952 canonical format ("{net}")'
        ]
    return []


HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints"
MODE_ANNOTATION = "service.kubernetes.io/topology-mode"


def service_warnings(svc: dict) -> list[str]:
    """GetWarningsForService (1.33), on the Service as it is stored."""
    spec, md = svc.get("spec") or {}, svc.get("metadata") or {}
    out = []
    if HINTS_ANNOTATION in (md.get("annotations") or {}):
        out.append(
            f"annotation {HINTS_ANNOTATION} is deprecated, please use {MODE_ANNOTATION} instead"
        )
    ips = spec.get("clusterIPs") or []
    if ips and ips[0] != "None":
        for i, ip in enumerate(ips):
            out += ip_warnings(f"spec.clusterIPs[{i}]", ip)
    external = spec.get("externalIPs") or []
    if spec.get("type") == "ClusterIP" and spec.get("clusterIP") == "None":
        if spec.get("loadBalancerIP"):
            out.append("spec.loadBalancerIP is ignored for headless services")
        if external:
            out.append("spec.externalIPs is ignored for headless services")
        if spec.get("sessionAffinity") != "None":
            out.append("spec.SessionAffinity is ignored for headless services")
    for i, ip in enumerate(external):
        out += ip_warnings(f"spec.externalIPs[{i}]", ip)
    if spec.get("loadBalancerIP"):
        out += ip_warnings("spec.loadBalancerIP", spec["loadBalancerIP"])
    for i, cidr in enumerate(spec.get("loadBalancerSourceRanges") or []):
        out += cidr_warnings(f"spec.loadBalancerSourceRanges[{i}]", cidr)
    if spec.get("type") == "ExternalName" and external:
        out.append('spec.externalIPs is ignored when spec.type is "ExternalName"')
    if spec.get("type") != "ExternalName" and spec.get("externalName"):
        out.append('spec.externalName is ignored when spec.type is not "ExternalName"')
    return out


# --- what lab_kit accepts and does not implement --------------------------------------------------


@dataclass(frozen=True)
class Unimplemented:
    """A field (under a kind's spec: `containers[*]` is every item of the list, a final
    `*` every key but `name`) that the API server accepts and lab_kit does not act on.
    `applies(spec)` narrows it (hostPort means something with hostNetwork)."""

    kinds: tuple[str, ...]
    path: str
    reason: str
    applies: Callable[[dict], bool] = lambda spec: True
    verdict: str = "not implemented by lab_kit"

    def message(self, where: str) -> str:
        return f"{where}: {self.verdict}: {self.reason}"


POD_SPECS = ("Pod", "Deployment", "ReplicaSet")  # a Pod's spec, or a template's
_RUN_AS = (
    "containers run as root with a writable root (only capabilities and privileged are honoured)"
)
_POD_SECURITY = ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "supplementalGroups",
                 "sysctls", "seccompProfile", "seLinuxOptions", "appArmorProfile")  # fmt: skip
_CONTAINER_SECURITY = ("runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem",
                       "allowPrivilegeEscalation", "procMount", "seccompProfile",
                       "seLinuxOptions", "appArmorProfile")  # fmt: skip

NOT_IMPLEMENTED: tuple[Unimplemented, ...] = (
    # the kubelet
    Unimplemented(POD_SPECS, "initContainers", "its kubelet runs no init containers"),
    Unimplemented(
        POD_SPECS,
        "volumes[*].*",
        "its kubelet mounts no volumes but the service-account one (kube-api-access-*)",
    ),
    Unimplemented(
        POD_SPECS,
        "containers[*].resources",
        "no cgroups: limits are not enforced and the scheduler counts no requests "
        "(they only set status.qosClass)",
    ),
    *(
        Unimplemented(
            POD_SPECS, f"containers[*].{probe}.grpc", "its kubelet runs no gRPC probes: they fail"
        )
        for probe in ("livenessProbe", "readinessProbe", "startupProbe")
    ),
    Unimplemented(POD_SPECS, "activeDeadlineSeconds", "its kubelet never ends a pod at a deadline"),
    Unimplemented(POD_SPECS, "hostPID", "the pod gets a PID namespace of its own"),
    Unimplemented(POD_SPECS, "hostIPC", "the pod gets an IPC namespace of its own"),
    Unimplemented(
        POD_SPECS,
        "containers[*].ports[*].hostPort",
        "nothing forwards the node's port to the pod (no CNI portmap)",
        lambda spec: not spec.get("hostNetwork"),
    ),
    *(Unimplemented(POD_SPECS, f"securityContext.{f}", _RUN_AS) for f in _POD_SECURITY),
    *(
        Unimplemented(POD_SPECS, f"containers[*].securityContext.{f}", _RUN_AS)
        for f in _CONTAINER_SECURITY
    ),
    # the scheduler
    Unimplemented(POD_SPECS, "affinity.podAffinity", "its scheduler ignores inter-pod affinity"),
    Unimplemented(
        POD_SPECS, "affinity.podAntiAffinity", "its scheduler ignores inter-pod anti-affinity"
    ),
    Unimplemented(
        POD_SPECS,
        "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution",
        "its scheduler scores no nodes (required node affinity and nodeSelector do filter)",
    ),
    Unimplemented(
        POD_SPECS, "topologySpreadConstraints", "its scheduler spreads pods by count only"
    ),
    Unimplemented(POD_SPECS, "schedulingGates", "its scheduler does not wait for scheduling gates"),
    Unimplemented(POD_SPECS, "priorityClassName", "no PriorityClass sets spec.priority from it"),
    # Services
    # (loadBalancerClass is implemented: the lab's cloud controller handles Services with no
    # class and leaves the others, as a cluster's does; controllers/service_lb.py)
    Unimplemented(
        ("Service",),
        "trafficDistribution",
        "kube-proxy treats every ready endpoint alike (no topology hints)",
    ),
    Unimplemented(
        ("Service",),
        "sessionAffinityConfig",
        "it applies only when spec.sessionAffinity is ClientIP, and the API server drops it",
        lambda spec: spec.get("sessionAffinity") != "ClientIP",
        verdict="ignored",
    ),
)

_SPEC_ROOT = {"Pod": "spec", "Deployment": "spec.template.spec", "ReplicaSet": "spec.template.spec"}


def unimplemented_warnings(obj: dict) -> list[str]:
    """A warning for each field of `obj` (as the user sent it) in NOT_IMPLEMENTED."""
    kind = meta.kind_key(obj)
    root_path = _SPEC_ROOT.get(kind, "spec")
    root = _at(obj, root_path)
    if not isinstance(root, dict):
        return []
    root = _without_api_access(root)
    out = []
    for entry in NOT_IMPLEMENTED:
        if kind in entry.kinds and entry.applies(root):
            out += [entry.message(f"{root_path}.{where}") for where in _used(root, entry.path)]
    return out


def _without_api_access(spec: dict) -> dict:
    """The pod spec without the service-account volume admission adds (the kubelet fills
    it, `serviceaccounts.py`): a re-applied Pod carries it over and is not warned."""
    volumes = spec.get("volumes")
    if not isinstance(volumes, list):
        return spec
    kept = [
        v
        for v in volumes
        if not (
            isinstance(v, dict)
            and str(v.get("name", "")).startswith(VOLUME_PREFIX)
            and "projected" in v
        )
    ]
    return {**spec, "volumes": kept}


def _at(obj: dict, path: str) -> object:
    value: object = obj
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _used(value: object, path: str) -> Iterator[str]:
    """The concrete paths under `value` that `path` names and that hold something (not
    null, empty, 0 or false: Go's zero values, which mean "not set")."""
    head, _, rest = path.partition(".")
    for here, item in _children(value, head):
        if rest:
            yield from (f"{here}.{p}" for p in _used(item, rest))
        elif item not in (None, {}, [], "", False) or (head == "*" and item is not None):
            yield here  # a volume's `emptyDir: {}` is its source, though empty


def _children(value: object, head: str) -> Iterator[tuple[str, object]]:
    if not isinstance(value, dict):
        return
    if head == "*":
        yield from ((k, v) for k, v in value.items() if k != "name")
        return
    name, star, _ = head.partition("[*]")
    child = value.get(name)
    if not star:
        yield name, child
    elif isinstance(child, list):
        yield from ((f"{name}[{i}]", item) for i, item in enumerate(child))


def warnings_for(asked: dict, stored: dict) -> list[str]:
    """What a write of `asked` (the object as sent) that stored `stored` is warned about."""
    out = service_warnings(stored) if meta.kind_key(stored) == "Service" else []
    return out + unimplemented_warnings(asked)
