"""`labkit describe`: the human summary of one object, laid out as `kubectl describe`.

Mirrors the shape of `k8s.io/kubectl/pkg/describe/describe.go` for the kinds service
discovery is about (Service, Pod, Deployment, Endpoints, EndpointSlice, Node); other kinds
get the common header followed by their spec as YAML.
"""

from __future__ import annotations

import email.utils

import yaml

from lab_kit.api.printers import human_duration, parse_time, pod_status_text
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
    if s.get("externalIPs"):
        lines.append(_line("External IPs", ",".join(s["externalIPs"])))
    if s.get("loadBalancerIP"):
        lines.append(_line("Desired LoadBalancer IP", s["loadBalancerIP"]))
    if s.get("externalName"):
        lines.append(_line("External Name", s["externalName"]))
    ingress = (meta.status(svc).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        lines.append(_line("LoadBalancer Ingress", _ingress_text(ingress)))
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
    if s.get("healthCheckNodePort"):
        lines.append(_line("HealthCheck NodePort", s["healthCheckNodePort"]))
    if s.get("loadBalancerSourceRanges"):
        lines.append(_line("LoadBalancer Source Ranges", ",".join(s["loadBalancerSourceRanges"])))
    return lines


def _ingress_text(ingress: list[dict]) -> str:
    """buildIngressString: "198.51.100.32 (VIP)", a hostname as it is."""
    parts = []
    for i in ingress:
        if i.get("ip"):
            parts.append(i["ip"] + (f" ({i['ipMode']})" if i.get("ipMode") else ""))
        else:
            parts.append(i.get("hostname", ""))
    return ", ".join(parts)


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
            f"    Container ID:   {cs.get('containerID', '')}".rstrip(),
            f"    Image:          {c.get('image')}",
            f"    Port:           {ports or '<none>'}",
            *_container_state("State", cs.get("state") or {}),
            *_container_state("Last State", cs.get("lastState") or {}),
            f"    Ready:          {str(bool(cs.get('ready'))).capitalize()}",
            f"    Restart Count:  {cs.get('restartCount', 0)}",
            *(
                f"    {label + ':':<16}{_probe_text(c[key])}"
                for label, key in (
                    ("Liveness", "livenessProbe"),
                    ("Readiness", "readinessProbe"),
                    ("Startup", "startupProbe"),
                )
                if key in c
            ),  # fmt: skip
        ]
    lines.append("Conditions:")
    conds = st.get("conditions") or []
    width = max([len("Type"), *(len(str(c.get("type"))) for c in conds)]) + 2
    lines.append(f"  {'Type':<{width}}Status")
    for cond in conds:
        lines.append(f"  {cond.get('type'):<{width}}{cond.get('status')}")
    return lines


def _time(ts: str | None) -> str:
    """kubectl's RFC 1123 with a numeric zone: `Thu, 03 Dec 2026 07:00:00 +0000`."""
    seconds = parse_time(ts)
    if seconds is None:
        return ""
    return email.utils.formatdate(seconds, usegmt=True).replace("GMT", "+0000")


def _container_state(label: str, state: dict) -> list[str]:
    """describePodContainerState: Running (Started), Waiting (Reason), Terminated (Reason,
    Message, Exit Code, Started, Finished); nothing for an empty Last State."""
    if "running" in state:
        return [
            f"    {label + ':':<16}Running",
            f"      Started:      {_time(state['running'].get('startedAt'))}",
        ]
    if "waiting" in state:
        out = [f"    {label + ':':<16}Waiting"]
        if state["waiting"].get("reason"):
            out.append(f"      Reason:       {state['waiting']['reason']}")
        return out
    if "terminated" in state:
        t = state["terminated"]
        out = [f"    {label + ':':<16}Terminated", f"      Reason:       {t.get('reason', '')}"]
        if t.get("message"):
            out.append(f"      Message:      {t['message']}")
        out += [f"      Exit Code:    {t.get('exitCode', 0)}",
                f"      Started:      {_time(t.get('startedAt'))}",
                f"      Finished:     {_time(t.get('finishedAt'))}"]  # fmt: skip
        return out
    return [] if label == "Last State" else [f"    {label + ':':<16}Waiting"]


def _probe_text(probe: dict) -> str:
    """DescribeProbe: the action, then delay, timeout, period, #success, #failure."""
    if "httpGet" in probe:
        get = probe["httpGet"]
        scheme = str(get.get("scheme", "HTTP")).lower()
        action = (
            f"http-get {scheme}://{get.get('host', '')}:{get.get('port', '')}{get.get('path', '')}"
        )
    elif "tcpSocket" in probe:
        action = (
            f"tcp-socket {probe['tcpSocket'].get('host', '')}:{probe['tcpSocket'].get('port', '')}"
        )
    elif "exec" in probe:
        action = f"exec [{' '.join(probe['exec'].get('command') or [])}]"
    elif "grpc" in probe:
        action = f"grpc <pod>:{probe['grpc'].get('port', '')} {probe['grpc'].get('service', '')}".rstrip()
    else:
        action = "unknown"
    return (f"{action} delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
            f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
            f"#failure={probe.get('failureThreshold', 3)}")  # fmt: skip


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


def _backend_text(backend: dict | None) -> str:
    """describeBackendV1: "svc:port" (a port name as it is), or a resource reference."""
    if not backend:
        return "<default>"
    svc = backend.get("service")
    if svc:
        port = svc.get("port") or {}
        return f"{svc.get('name')}:{port.get('name') or port.get('number')}"
    res = backend.get("resource") or {}
    return f"APIGroup: {res.get('apiGroup', '')}, Kind: {res.get('kind')}, Name: {res.get('name')}"


def _ingress(ing: dict) -> list[str]:
    """describeIngressV1, without the endpoints kubectl lists after each backend."""
    s = meta.spec(ing)
    address = (meta.status(ing).get("loadBalancer") or {}).get("ingress") or []
    lines = [
        _line("Address", ",".join(a.get("ip") or a.get("hostname", "") for a in address)),
        _line("Ingress Class", s.get("ingressClassName") or "<none>"),
        _line("Default backend", _backend_text(s.get("defaultBackend"))),
    ]
    if s.get("tls"):
        lines.append("TLS:")
        for t in s["tls"]:
            secret = t.get("secretName") or "SNI routes"
            lines.append(f"  {secret} terminates {','.join(t.get('hosts') or [])}")
    lines += ["Rules:", "  Host        Path  Backends", "  ----        ----  --------"]
    for rule in s.get("rules") or []:
        host = rule.get("host") or "*"
        lines.append(f"  {host}")
        for path in (rule.get("http") or {}).get("paths") or []:
            lines.append(
                f"              {path.get('path') or '/'}   {_backend_text(path.get('backend'))}"
            )
    if not s.get("rules"):
        lines.append(f"  *           *     {_backend_text(s.get('defaultBackend'))}")
    return lines


_DESCRIBERS = {
    "Service": _service,
    "Ingress": _ingress,
    "Pod": _pod,
    "Deployment": _deployment,
    "Endpoints": _endpoints,
    "EndpointSlice": _endpointslice,
    "Node": _node,
}


def describe(
    obj: dict,
    events: list[dict] | None = None,
    endpoints: dict | None = None,
    now: float | None = None,
) -> str:
    """The text of `kubectl describe`; for a Service pass its Endpoints to list them, and
    the Events about the object (with `now`, for their ages)."""
    body = _DESCRIBERS.get(meta.kind_key(obj))
    lines = _header(obj)
    if body:
        lines += body(obj)
    else:
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        lines += yaml.safe_dump(rest, sort_keys=False).rstrip().splitlines()
    if meta.kind_key(obj) == "Service":
        pairs = [
            f"{a.get('ip')}:{p.get('port')}"
            for sub in (endpoints or {}).get("subsets") or []
            for a in sub.get("addresses") or []
            for p in sub.get("ports") or []
        ]
        lines.append(_line("Endpoints", ",".join(pairs) or "<none>"))
    lines += events_table(events or [], now)
    return "\n".join(lines)


def events_table(events: list[dict], now: float | None) -> list[str]:
    """DescribeEvents: oldest last-seen first; Age is "5s", or "5s (x3 over 20s)" for an
    event seen again; From the source component. Columns as its tabwriter pads them."""
    if not events:
        return [_line("Events", "<none>")]
    ordered = sorted(events, key=lambda e: parse_time(e.get("lastTimestamp")) or 0.0)
    rows = [
        ["  Type", "Reason", "Age", "From", "Message"],
        ["  ----", "------", "----", "----", "-------"],
    ]
    for e in ordered:
        first = _since(e.get("firstTimestamp"), now)
        age = first
        if (e.get("count") or 1) > 1:
            age = f"{_since(e.get('lastTimestamp'), now)} (x{e['count']} over {first})"
        source = (e.get("source") or {}).get("component") or e.get("reportingController", "")
        rows.append(["  " + str(e.get("type", "")), str(e.get("reason", "")), age, source,
                     str(e.get("message", "")).strip()])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
    return ["Events:"] + [
        "".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + r[4] for r in rows
    ]


def _since(timestamp: str | None, now: float | None) -> str:
    t = parse_time(timestamp)
    return "<unknown>" if t is None or now is None else human_duration(now - t)
