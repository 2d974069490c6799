"""`labkit describe`: the human summary of one object, laid out as `kubectl describe`.

Mirrors the shape of `k8s.io/kubectl/pkg/describe/describe.go` for the kinds service
discovery is about (Service, Pod, Deployment, Endpoints, EndpointSlice, Node); other kinds
get the common header followed by their spec as YAML.
"""

from __future__ import annotations

import yaml

from lab_kit.api.printers import pod_status_text
from lab_kit.model import meta
from lab_kit.model.selectors import selector_text


def _kv(pairs: dict | None, indent: int = 18) -> str:
    if not pairs:
        return "<none>"
    items = [f"{k}={v}" for k, v in sorted(pairs.items())]
    return ("\n" + " " * indent).join(items)


def _line(label: str, value: object) -> str:
    # kubectl aligns values in a column but never lets a long label touch its value
    return f"{label + ':':<18}{value}" if len(label) < 17 else f"{label}:  {value}"


def _header(obj: dict) -> list[str]:
    lines = [_line("Name", meta.name(obj))]
    if meta.namespace(obj):
        lines.append(_line("Namespace", meta.namespace(obj)))
    annotations = {
        k: v
        for k, v in meta.annotations(obj).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    lines += [_line("Labels", _kv(meta.labels(obj))), _line("Annotations", _kv(annotations))]
    return lines


def _service(svc: dict) -> list[str]:
    s = meta.spec(svc)
    # As kubectl's describeService: optional fields only when set (an ExternalName Service
    # has no IP families, no ClusterIP and no traffic policies).
    lines = [_line("Selector", selector_text(s.get("selector"))), _line("Type", s.get("type"))]
    if s.get("ipFamilyPolicy"):
        lines.append(_line("IP Family Policy", s["ipFamilyPolicy"]))
    lines += [
        _line("IP Families", ",".join(s.get("ipFamilies") or []) or "<none>"),
        _line("IP", s.get("clusterIP") or ""),
        _line("IPs", ",".join(s.get("clusterIPs") or []) or "<none>"),
    ]
    if s.get("externalName"):
        lines.append(_line("External Name", s["externalName"]))
    for p in s.get("ports") or []:
        name = p.get("name") or "<unset>"
        lines.append(_line("Port", f"{name}  {p.get('port')}/{p.get('protocol')}"))
        lines.append(_line("TargetPort", f"{p.get('targetPort')}/{p.get('protocol')}"))
        if p.get("nodePort"):
            lines.append(_line("NodePort", f"{name}  {p['nodePort']}/{p.get('protocol')}"))
    lines.append(_line("Session Affinity", s.get("sessionAffinity", "None")))
    if s.get("externalTrafficPolicy"):
        lines.append(_line("External Traffic Policy", s["externalTrafficPolicy"]))
    if s.get("internalTrafficPolicy"):
        lines.append(_line("Internal Traffic Policy", s["internalTrafficPolicy"]))
    return lines


def _pod(pod: dict) -> list[str]:
    s, st = meta.spec(pod), meta.status(pod)
    lines = [
        _line("Node", s.get("nodeName") or "<none>"),
        _line("Status", pod_status_text(pod)),
        _line("IP", st.get("podIP") or ""),
        "Containers:",
    ]
    statuses = {c.get("name"): c for c in st.get("containerStatuses") or []}
    for c in s.get("containers") or []:
        cs = statuses.get(c.get("name"), {})
        ports = ", ".join(
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in c.get("ports") or []
        )
        lines += [
            f"  {c.get('name')}:",
            f"    Image:          {c.get('image')}",
            f"    Port:           {ports or '<none>'}",
            f"    Ready:          {str(bool(cs.get('ready'))).capitalize()}",
            f"    Restart Count:  {cs.get('restartCount', 0)}",
        ]
    lines.append("Conditions:")
    conds = st.get("conditions") or []
    width = max([len("Type"), *(len(str(c.get("type"))) for c in conds)]) + 2
    lines.append(f"  {'Type':<{width}}Status")
    for cond in conds:
        lines.append(f"  {cond.get('type'):<{width}}{cond.get('status')}")
    return lines


def _deployment(d: dict) -> list[str]:
    s, st = meta.spec(d), meta.status(d)
    strategy = s.get("strategy") or {}
    lines = [
        _line("Selector", selector_text(s.get("selector"))),
        _line(
            "Replicas",
            f"{s.get('replicas', 0)} desired | {st.get('updatedReplicas', 0)} updated | "
            f"{st.get('replicas', 0)} total | {st.get('availableReplicas', 0)} available | "
            f"{st.get('unavailableReplicas', 0)} unavailable",
        ),
        _line("StrategyType", strategy.get("type", "")),
    ]
    ru = strategy.get("rollingUpdate") or {}
    if ru:
        lines.append(
            _line(
                "RollingUpdateStrategy",
                f"{ru.get('maxUnavailable')} max unavailable, {ru.get('maxSurge')} max surge",
            )
        )
    return lines


def _endpoints(ep: dict) -> list[str]:
    lines = ["Subsets:"]
    for subset in ep.get("subsets") or []:
        ready = ",".join(a.get("ip", "") for a in subset.get("addresses") or [])
        not_ready = ",".join(a.get("ip", "") for a in subset.get("notReadyAddresses") or [])
        lines += [
            f"  Addresses:          {ready or '<none>'}",
            f"  NotReadyAddresses:  {not_ready or '<none>'}",
            "  Ports:",
            "    Name   Port  Protocol",
            "    ----   ----  --------",
        ]
        for p in subset.get("ports") or []:
            lines.append(
                f"    {p.get('name') or '<unset>':<6} {p.get('port'):<5} {p.get('protocol')}"
            )
    return lines


def _endpointslice(es: dict) -> list[str]:
    lines = [
        _line("AddressType", es.get("addressType")),
        "Ports:",
        "  Name     Port  Protocol",
        "  ----     ----  --------",
    ]
    for p in es.get("ports") or []:
        lines.append(f"  {p.get('name') or '<unset>':<8} {p.get('port'):<5} {p.get('protocol')}")
    lines.append("Endpoints:")
    for e in es.get("endpoints") or []:
        c = e.get("conditions") or {}
        lines += [
            f"  - Addresses:  {','.join(e.get('addresses') or [])}",
            f"    Conditions:\n      Ready:    {c.get('ready')}\n      Serving:  {c.get('serving')}"
            f"\n      Terminating: {c.get('terminating')}",
            f"    Hostname:   {e.get('hostname') or '<unset>'}",
            f"    TargetRef:  {(e.get('targetRef') or {}).get('kind', '')}/{(e.get('targetRef') or {}).get('name', '')}",
            f"    NodeName:   {e.get('nodeName') or '<unset>'}",
        ]
    return lines


def _node(node: dict) -> list[str]:
    st = meta.status(node)
    lines = [_line("PodCIDR", meta.spec(node).get("podCIDR", "<none>")), "Conditions:"]
    for c in st.get("conditions") or []:
        lines.append(f"  {c.get('type'):<16}{c.get('status'):<8}{c.get('reason', '')}")
    lines.append("Addresses:")
    for a in st.get("addresses") or []:
        lines.append(f"  {a.get('type')}:  {a.get('address')}")
    return lines


_DESCRIBERS = {
    "Service": _service,
    "Pod": _pod,
    "Deployment": _deployment,
    "Endpoints": _endpoints,
    "EndpointSlice": _endpointslice,
    "Node": _node,
}


def describe(obj: dict, events: list[dict] | None = None, endpoints: dict | None = None) -> str:
    """The text of `kubectl describe`; for a Service pass its Endpoints to list them."""
    body = _DESCRIBERS.get(obj.get("kind", ""))
    lines = _header(obj)
    if body:
        lines += body(obj)
    else:
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        lines += yaml.safe_dump(rest, sort_keys=False).rstrip().splitlines()
    if obj.get("kind") == "Service":
        pairs = [
            f"{a.get('ip')}:{p.get('port')}"
            for sub in (endpoints or {}).get("subsets") or []
            for a in sub.get("addresses") or []
            for p in sub.get("ports") or []
        ]
        lines.append(_line("Endpoints", ",".join(pairs) or "<none>"))
    lines.append(_line("Events", "<none>" if not events else ""))
    for ev in events or []:
        lines.append(f"  {ev.get('type', ''):<8}{ev.get('reason', ''):<12}{ev.get('message', '')}")
    return "\n".join(lines)
