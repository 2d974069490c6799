"""Rows for `labkit get`, column for column as kubectl prints them.

Mirrors `pkg/printers/internalversion/printers.go` (the server-side Table printers that
`kubectl get` shows): the same headers, the same `READY 1/1`, `PORT(S) 8080/TCP`,
`<none>` and `<pending>` placeholders, and kubectl's human-readable ages.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable

from lab_kit.model import meta
from lab_kit.model.selectors import selector_text

Row = list[str]


def parse_time(ts: str | None) -> float | None:
    if not ts:
        return None
    try:
        return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def age(obj: dict, now: float) -> str:
    t = parse_time(meta.metadata(obj).get("creationTimestamp"))
    return "<unknown>" if t is None else human_duration(now - t)


# --- Pods ---------------------------------------------------------------------------------
def pod_status_text(pod: dict) -> str:
    """kubectl's STATUS column: the phase, or the reason a container is waiting/terminated."""
    status = meta.status(pod)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            t = state["terminated"]
            reason = t.get("reason") or (
                f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode')}"
            )
        elif state.get("running") and reason != "Completed" and cs.get("ready"):
            reason = "Running"
    if meta.is_deleting(pod):
        reason = "Terminating"
    return reason


def _pod_row(pod: dict, wide: bool) -> tuple[Row, Row]:
    status = meta.status(pod)
    containers = meta.spec(pod).get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount", 0)) for cs in statuses)
    row = [f"{ready}/{len(containers)}", pod_status_text(pod), str(restarts)]
    if wide:
        gates = meta.spec(pod).get("readinessGates") or []
        row_wide = [
            status.get("podIP") or "<none>",
            meta.spec(pod).get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>",
            f"{len(gates)}/{len(gates)}" if gates else "<none>",
        ]
        return row, row_wide
    return row, []


# --- Services -----------------------------------------------------------------------------
def service_ports_text(svc: dict) -> str:
    parts = []
    for p in meta.spec(svc).get("ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        parts.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


LOAD_BALANCER_WIDTH = 16  # kubectl clips the ingress list to this outside -o wide


def load_balancer_status_text(svc: dict, wide: bool = False) -> str:
    """loadBalancerStatusStringer: the ingress IPs (else hostnames), sorted and unique,
    clipped to 16 characters ("...") unless wide."""
    ingress = (meta.status(svc).get("loadBalancer") or {}).get("ingress") or []
    found = sorted({i.get("ip") or i.get("hostname") for i in ingress} - {None, ""})
    text = ",".join(found)
    if not wide and len(text) > LOAD_BALANCER_WIDTH:
        text = text[: LOAD_BALANCER_WIDTH - 3] + "..."
    return text


def service_external_ip(svc: dict, wide: bool = False) -> str:
    """getServiceExternalIP: kubectl's EXTERNAL-IP column."""
    spec = meta.spec(svc)
    stype = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if stype == "LoadBalancer":
        lb_ips = load_balancer_status_text(svc, wide)
        if external:
            return ",".join(([*lb_ips.split(",")] if lb_ips else []) + external)
        return lb_ips or "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _service_row(svc: dict, wide: bool):
    spec = meta.spec(svc)
    row = [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        service_external_ip(svc, wide),
        service_ports_text(svc),
    ]
    return row, [selector_text(spec.get("selector"))] if wide else []


# --- Workloads ------------------------------------------------------------------------------
def _containers_images(template_spec: dict) -> list[str]:
    cs = template_spec.get("containers") or []
    return [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)]


def _deployment_row(d: dict, wide: bool):
    s, st = meta.spec(d), meta.status(d)
    row = [
        f"{st.get('readyReplicas', 0)}/{s.get('replicas', 0)}",
        str(st.get("updatedReplicas", 0)),
        str(st.get("availableReplicas", 0)),
    ]
    extra = (
        [
            *_containers_images(meta.get_path(d, "spec", "template", "spec", default={})),
            selector_text(s.get("selector")),
        ]
        if wide
        else []
    )
    return row, extra


def _replicaset_row(rs: dict, wide: bool):
    s, st = meta.spec(rs), meta.status(rs)
    row = [str(s.get("replicas", 0)), str(st.get("replicas", 0)), str(st.get("readyReplicas", 0))]
    extra = (
        [
            *_containers_images(meta.get_path(rs, "spec", "template", "spec", default={})),
            selector_text(s.get("selector")),
        ]
        if wide
        else []
    )
    return row, extra


# --- Endpoints ------------------------------------------------------------------------------
def _first_n(items: list[str], n: int = 3) -> str:
    if not items:
        return "<none>"
    text = ",".join(items[:n])
    return text + (f" + {len(items) - n} more..." if len(items) > n else "")


def _endpoints_row(ep: dict, wide: bool):
    pairs = []
    for subset in ep.get("subsets") or []:
        for a in subset.get("addresses") or []:
            for p in subset.get("ports") or [{}]:
                pairs.append(f"{a.get('ip')}:{p.get('port')}" if p else a.get("ip"))
    return [_first_n(pairs)], []


def _endpointslice_row(es: dict, wide: bool):
    ports = ",".join(str(p.get("port")) for p in es.get("ports") or []) or "<unset>"
    addrs = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    return [es.get("addressType", ""), ports, _first_n(addrs)], []


# --- Cluster objects -------------------------------------------------------------------------
def _node_row(node: dict, wide: bool):
    conds = {c.get("type"): c.get("status") for c in meta.status(node).get("conditions") or []}
    state = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if meta.spec(node).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(
        k.split("/", 1)[1] for k in meta.labels(node) if k.startswith("node-role.kubernetes.io/")
    )
    info = meta.status(node).get("nodeInfo") or {}
    row = [state, ",".join(roles) or "<none>"]
    extra = []
    if wide:
        addrs = {a.get("type"): a.get("address") for a in meta.status(node).get("addresses") or []}
        extra = [
            addrs.get("InternalIP", "<none>"),
            addrs.get("ExternalIP", "<none>"),
            info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>"),
        ]
    return row, extra, info.get("kubeletVersion", "")


def _format_hosts(rules: list[dict]) -> str:
    """kubectl's formatHosts: rule order, duplicates kept, at most 3, then "+ N more..."."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    return ",".join(hosts) + (f" + {len(rules) - 3} more..." if more else "")


def _ingress_row(ing: dict, wide: bool):
    s = meta.spec(ing)
    lb = [
        i.get("ip") or i.get("hostname")
        for i in (meta.status(ing).get("loadBalancer") or {}).get("ingress") or []
    ]
    ports = "80, 443" if s.get("tls") else "80"
    hosts = _format_hosts(s.get("rules") or [])
    return [s.get("ingressClassName") or "<none>", hosts, ",".join(lb), ports], []


# --- Knative's kinds: their CRDs' additionalPrinterColumns (no AGE column) ---------------


def _condition(obj: dict, kind: str = "Ready") -> tuple[str, str]:
    for c in meta.status(obj).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("status", ""), c.get("reason", "")
    return "", ""


def _ksvc_row(o: dict, wide: bool):
    s = meta.status(o)
    return [s.get("url", ""), s.get("latestCreatedRevisionName", ""),
            s.get("latestReadyRevisionName", ""), *_condition(o)], []  # fmt: skip


def _configuration_row(o: dict, wide: bool):
    s = meta.status(o)
    return [
        s.get("latestCreatedRevisionName", ""),
        s.get("latestReadyRevisionName", ""),
        *_condition(o),
    ], []


def _revision_row(o: dict, wide: bool):
    labels, s = meta.labels(o), meta.status(o)
    return [labels.get("serving.knative.dev/configuration", ""),
            labels.get("serving.knative.dev/configurationGeneration", ""), *_condition(o),
            str(s.get("actualReplicas", "")), str(s.get("desiredReplicas", ""))], []  # fmt: skip


def _route_row(o: dict, wide: bool):
    return [meta.status(o).get("url", ""), *_condition(o)], []


def _kpa_row(o: dict, wide: bool):
    s = meta.status(o)
    return [str(s.get("desiredScale", "")), str(s.get("actualScale", "")), *_condition(o)], []


def _sks_row(o: dict, wide: bool):
    s = meta.status(o)
    activators = "0" if _condition(o, "EndpointsPopulated")[0] == "True" else "1"
    return [meta.spec(o).get("mode", ""), activators, s.get("serviceName", ""),
            s.get("privateServiceName", ""), *_condition(o)], []  # fmt: skip


KNATIVE_PRINTERS: dict[str, tuple[list[str], list[str], Callable]] = {
    "Service.serving.knative.dev": (
        ["URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"],
        [],
        _ksvc_row,
    ),
    "Configuration": (["LATESTCREATED", "LATESTREADY", "READY", "REASON"], [], _configuration_row),
    "Revision": (
        ["CONFIG NAME", "GENERATION", "READY", "REASON", "ACTUAL REPLICAS", "DESIRED REPLICAS"],
        [],
        _revision_row,
    ),  # fmt: skip
    "Route": (["URL", "READY", "REASON"], [], _route_row),
    "PodAutoscaler": (["DESIREDSCALE", "ACTUALSCALE", "READY", "REASON"], [], _kpa_row),
    "ServerlessService": (
        ["MODE", "ACTIVATORS", "SERVICENAME", "PRIVATESERVICENAME", "READY", "REASON"],
        [],
        _sks_row,
    ),  # fmt: skip
}


# --- The table of tables -------------------------------------------------------------------
# kind -> (headers, wide headers, row function). AGE is appended after the main columns
# (before the wide ones), except for Nodes where VERSION follows AGE.
PRINTERS: dict[str, tuple[list[str], list[str], Callable]] = {
    "Pod": (
        ["READY", "STATUS", "RESTARTS"],
        ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        _pod_row,
    ),
    "Service": (["TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"], ["SELECTOR"], _service_row),
    "Deployment": (
        ["READY", "UP-TO-DATE", "AVAILABLE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _deployment_row,
    ),
    "ReplicaSet": (
        ["DESIRED", "CURRENT", "READY"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _replicaset_row,
    ),
    "Endpoints": (["ENDPOINTS"], [], _endpoints_row),
    "EndpointSlice": (["ADDRESSTYPE", "PORTS", "ENDPOINTS"], [], _endpointslice_row),
    "Ingress": (["CLASS", "HOSTS", "ADDRESS", "PORTS"], [], _ingress_row),
    "Namespace": (["STATUS"], [], lambda o, w: ([meta.status(o).get("phase", "")], [])),
    "ConfigMap": (
        ["DATA"],
        [],
        lambda o, w: ([str(len(o.get("data") or {}) + len(o.get("binaryData") or {}))], []),
    ),
    "Secret": (
        ["TYPE", "DATA"],
        [],
        lambda o, w: ([o.get("type", "Opaque"), str(len(o.get("data") or {}))], []),
    ),
    "IngressClass": (
        ["CONTROLLER", "PARAMETERS"],
        [],
        lambda o, w: ([meta.spec(o).get("controller", ""), "<none>"], []),
    ),
}


def table(
    kind: str,
    objs: list[dict],
    *,
    wide: bool = False,
    all_namespaces: bool = False,
    now: float | None = None,
) -> list[Row]:
    """Header row + one row per object, as `kubectl get <kind> [-o wide] [-A]` prints."""
    now = time.time() if now is None else now
    if kind == "Node":
        headers = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        headers += (
            ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
            if wide
            else []
        )
        rows = [headers]
        for o in objs:
            row, extra, version = _node_row(o, wide)
            rows.append([meta.name(o), *row, age(o, now), version, *extra])
        return rows
    if kind == "Event":  # kubectl's event table: no NAME column, the object instead
        rows = [
            (["NAMESPACE"] if all_namespaces else [])
            + ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        ]
        for o in objs:
            ref = o.get("involvedObject") or {}
            last = parse_time(o.get("lastTimestamp") or o.get("eventTime"))
            seen = human_duration(now - last) if last is not None else "<unknown>"
            obj = f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"
            rows.append(([meta.namespace(o)] if all_namespaces else [])
                        + [seen, o.get("type", ""), o.get("reason", ""), obj, o.get("message", "")])  # fmt: skip
        return rows
    if kind in KNATIVE_PRINTERS:  # a CRD's columns: no AGE unless it declares one
        cols, _, fn = KNATIVE_PRINTERS[kind]
        rows = [(["NAMESPACE"] if all_namespaces else []) + ["NAME", *cols]]
        for o in objs:
            rows.append(
                ([meta.namespace(o)] if all_namespaces else []) + [meta.name(o), *fn(o, wide)[0]]
            )
        return rows
    cols, wide_cols, fn = PRINTERS.get(kind, ([], [], lambda o, w: ([], [])))
    headers = (["NAMESPACE"] if all_namespaces else []) + [
        "NAME",
        *cols,
        "AGE",
        *(wide_cols if wide else []),
    ]
    rows = [headers]
    for o in objs:
        row, extra = fn(o, wide)
        rows.append(
            ([meta.namespace(o)] if all_namespaces else [])
            + [meta.name(o), *row, age(o, now), *extra]
        )
    return rows


def format_table(rows: list[Row]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl's tabwriter does."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)).rstrip() for r in rows
    ]
    return "\n".join(lines)
