"""Diagrams for notebooks: the lab's topology, a Service's endpoints, a packet's path.

Each function returns a `graphviz.Digraph` (Jupyter renders it as SVG; `.source` is the
DOT text). Inputs are sorted, so the same lab always gives the same DOT source, and a
stored notebook output only changes when the lab does.

    topology_graph(spec_nodes, spec_hosts, lab.get("pods"))
    service_graph(lab.get("services"), lab.get("endpointslices"), lab.get("pods"))
    packet_path_graph([
        {"where": "client pod", "src": "10.244.1.6:42114", "dst": "10.96.0.12:80"},
        {"where": "server pod", "src": "10.244.1.6:42114", "dst": "10.244.2.5:8080",
         "note": "DNAT by kube-proxy on node1"},
    ])

`draw_topology(client)` and `draw_services(client)` gather those inputs from a running lab.
"""

from __future__ import annotations

from typing import Any

import graphviz

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.rundir import RunDir
from lab_kit.lab import objects

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
FONT = {"fontname": "Helvetica", "fontsize": "11"}
NOT_READY = {"style": "dashed", "color": "gray50"}


def _field(obj: Any, key: str, default: Any = None) -> Any:
    """A dict's key or an object's attribute (topology dicts or NodeSpec/HostSpec)."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _ns_name(obj: dict) -> tuple[str, str]:
    m = _meta(obj)
    return m.get("namespace") or "default", m.get("name") or ""


def _pod_label(namespace: str, name: str) -> str:
    return name if namespace == "default" else f"{namespace}/{name}"


def topology_graph(
    nodes: list[Any], hosts: list[Any], pods: list[dict], switch: str = "s1"
) -> graphviz.Digraph:
    """Kubernetes nodes (boxes holding their pods), the switch, and the outside hosts."""
    g = graphviz.Digraph("topology", graph_attr=FONT, node_attr=FONT, edge_attr=FONT)
    g.attr("edge", dir="none")
    sw = f"switch/{switch}"
    g.node(sw, f"{switch}\n(switch)", shape="diamond")

    by_node: dict[str, list[dict]] = {}
    for pod in pods:
        by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
    node_names = sorted(_field(n, "name") for n in nodes)

    with g.subgraph(name="cluster_kubernetes") as cluster:
        cluster.attr(label="Kubernetes cluster", style="rounded", color="gray40")
        for node in sorted(nodes, key=lambda n: _field(n, "name")):
            name, ip, cidr = _field(node, "name"), _field(node, "ip"), _field(node, "pod_cidr")
            with cluster.subgraph(name=f"cluster_node_{name}") as box:
                box.attr(label=name, style="rounded,filled", fillcolor="aliceblue")
                label = f"{name}\n{ip}" + (f"\npods {cidr}" if cidr else "")
                box.node(f"node/{name}", label, shape="box", style="filled", fillcolor="white")
                for pod in _sorted_pods(by_node.get(name, [])):
                    box.edge(f"node/{name}", _add_pod(box, pod))
        for node_name in sorted(k for k in by_node if k not in node_names):
            # not scheduled yet, or on a node this topology lacks
            title = "not scheduled" if not node_name else f"{node_name} (unknown node)"
            with cluster.subgraph(name=f"cluster_stray_{node_name or '-'}") as box:
                box.attr(label=title, style="dashed")
                for pod in _sorted_pods(by_node[node_name]):
                    _add_pod(box, pod)
    for name in node_names:
        g.edge(sw, f"node/{name}")

    for host in sorted(hosts, key=lambda h: _field(h, "name")):
        name, ip = _field(host, "name"), _field(host, "ip")
        role = _field(host, "role")
        label = f"{name}\n{ip}" + (f"\n({role})" if role and role not in (name, "host") else "")
        g.node(f"host/{name}", label, shape="box", style="rounded")
        g.edge(sw, f"host/{name}")
    return g


def _sorted_pods(pods: list[dict]) -> list[dict]:
    return sorted(pods, key=_ns_name)


def _add_pod(graph: graphviz.Digraph, pod: dict) -> str:
    namespace, name = _ns_name(pod)
    ip = (pod.get("status") or {}).get("podIP") or "(no IP yet)"
    pid = f"pod/{namespace}/{name}"
    graph.node(pid, f"{_pod_label(namespace, name)}\n{ip}", shape="ellipse")
    return pid


def service_graph(
    services: list[dict], endpointslices: list[dict], pods: list[dict]
) -> graphviz.Digraph:
    """Service (ClusterIP:port) -> its EndpointSlices -> endpoints (IP:port), by node."""
    g = graphviz.Digraph(
        "services",
        graph_attr={"rankdir": "LR", **FONT},
        node_attr=FONT,
        edge_attr=FONT,
    )
    pods_by_name = {_ns_name(p): p for p in pods}
    pods_by_ip = {(p.get("status") or {}).get("podIP"): p for p in pods}
    slices_by_service: dict[tuple[str, str], list[dict]] = {}
    for es in endpointslices:
        ns, _ = _ns_name(es)
        svc = (_meta(es).get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc:
            slices_by_service.setdefault((ns, svc), []).append(es)

    endpoints_by_node: dict[str, list[tuple[str, str, bool]]] = {}  # node -> (id, label, ready)
    edges: list[tuple[str, str, dict]] = []
    for svc in sorted(services, key=_ns_name):
        ns, name = _ns_name(svc)
        svc_id = f"svc/{ns}/{name}"
        g.node(svc_id, _service_label(svc), shape="box", style="filled", fillcolor="lightyellow")
        for es in sorted(slices_by_service.get((ns, name), []), key=_ns_name):
            es_name = _ns_name(es)[1]
            es_id = f"eps/{ns}/{es_name}"
            ports = es.get("ports") or []
            endpoints = es.get("endpoints") or []
            lines = ["EndpointSlice", es_name, *(_port_text(p) for p in ports)]
            if not endpoints:
                lines.append("(no endpoints)")
            g.node(es_id, "\n".join(lines), shape="note")
            edges.append((svc_id, es_id, {}))
            for ep in sorted(endpoints, key=lambda e: tuple(e.get("addresses") or [])):
                address = (ep.get("addresses") or ["?"])[0]
                ep_id = f"ep/{ns}/{es_name}/{address}"
                label, ready, node = _endpoint(ep, address, ports, pods_by_name, pods_by_ip)
                endpoints_by_node.setdefault(node, []).append((ep_id, label, ready))
                edges.append((es_id, ep_id, {} if ready else NOT_READY))

    for node in sorted(endpoints_by_node):
        with g.subgraph(name=f"cluster_node_{node or '-'}") as box:
            box.attr(label=node or "node unknown", style="rounded,filled", fillcolor="aliceblue")
            for ep_id, label, ready in endpoints_by_node[node]:
                if ready:
                    box.node(ep_id, label, shape="ellipse", style="filled", fillcolor="palegreen")
                else:
                    box.node(
                        ep_id,
                        label + "\n(not ready)",
                        shape="ellipse",
                        fontcolor="gray40",
                        **NOT_READY,
                    )
    for tail, head, attrs in edges:
        g.edge(tail, head, **attrs)
    return g


def _service_label(svc: dict) -> str:
    ns, name = _ns_name(svc)
    spec = svc.get("spec") or {}
    lines = [f"Service {_pod_label(ns, name)}"]
    kind = spec.get("type") or "ClusterIP"
    if kind == "ExternalName":
        return "\n".join([*lines, f"ExternalName {spec.get('externalName', '')}"])
    ip = spec.get("clusterIP")
    if ip == "None":
        lines.append("ClusterIP None (headless)")
    elif not ip:
        lines.append("ClusterIP not allocated yet")
    ip = ip if ip != "None" else None
    for port in spec.get("ports") or []:
        proto = port.get("protocol") or "TCP"
        text = f"{ip}:{port.get('port')}/{proto}" if ip else f"port {port.get('port')}/{proto}"
        if port.get("nodePort"):
            text += f" (NodePort {port['nodePort']})"
        lines.append(text)
    if kind != "ClusterIP":
        lines.append(f"type {kind}")
    return "\n".join(lines)


def _port_text(p: dict) -> str:
    name = f"{p['name']} " if p.get("name") else ""
    return f"{name}{p.get('port')}/{p.get('protocol') or 'TCP'}"


def _endpoint(
    ep: dict, address: str, ports: list[dict], pods_by_name: dict, pods_by_ip: dict
) -> tuple[str, bool, str]:
    """(label, ready, node name) of one EndpointSlice endpoint."""
    ref = ep.get("targetRef") or {}
    pod = None
    if ref.get("kind") == "Pod":
        pod = pods_by_name.get((ref.get("namespace") or "default", ref.get("name")))
    pod = pod or pods_by_ip.get(address)
    node = ep.get("nodeName") or ((pod or {}).get("spec") or {}).get("nodeName") or ""
    host = f"[{address}]" if ":" in address else address
    numbers = [p["port"] for p in ports if p.get("port") is not None]
    lines = [", ".join(f"{host}:{n}" for n in numbers) or address]
    if ref.get("name"):
        lines.append(f"pod {_pod_label(ref.get('namespace') or 'default', ref['name'])}")
    elif pod:
        lines.append(f"pod {_pod_label(*_ns_name(pod))}")
    conditions = ep.get("conditions") or {}
    if conditions.get("terminating"):
        lines.append("(terminating)")
    ready = conditions.get("ready") is not False  # unset means ready (EndpointSlice API)
    return "\n".join(lines), ready, node


def packet_path_graph(hops: list[dict]) -> graphviz.Digraph:
    """A left-to-right chain of hops; an edge names the addresses rewritten between hops."""
    g = graphviz.Digraph(
        "packet_path", graph_attr={"rankdir": "LR", **FONT}, node_attr=FONT, edge_attr=FONT
    )
    previous: dict | None = None
    for i, hop in enumerate(hops):
        lines = [str(hop.get("where") or f"hop {i + 1}"), f"src {hop['src']}", f"dst {hop['dst']}"]
        if hop.get("note"):
            lines.append(str(hop["note"]))
        g.node(f"hop{i}", "\n".join(lines), shape="box", style="rounded")
        if previous is not None:
            changes = [
                f"{what} {previous[what]} → {hop[what]}"
                for what in ("src", "dst")
                if previous[what] != hop[what]
            ]
            if changes:
                g.edge(
                    f"hop{i - 1}", f"hop{i}", label="\n".join(changes), color="red", fontcolor="red"
                )
            else:
                g.edge(f"hop{i - 1}", f"hop{i}")
        previous = hop
    return g


__all__ = [
    "draw_services",
    "draw_topology",
    "packet_path_graph",
    "service_graph",
    "topology_graph",
]


# --- a running lab's pictures ----------------------------------------------------------------


def draw_topology(client: ApiClient) -> graphviz.Digraph:
    """The running lab: nodes with their pods, the switch, the hosts outside the cluster
    (as the network agent recorded them)."""
    hosts = RunDir().hosts()
    nodes = [{"name": n, **h} for n, h in sorted(hosts.items()) if h.get("role") == "node"]
    outside = [
        {"name": n, **h}
        for n, h in sorted(hosts.items())
        if h.get("role") not in ("node", "router")
    ]
    return topology_graph(nodes, outside, list(objects.get(client, "pods", all_namespaces=True)))


def draw_services(client: ApiClient, namespace: str = "default") -> graphviz.Digraph:
    """A namespace's Services -> EndpointSlices -> pods (and their nodes)."""
    services, slices, pods = (
        list(objects.get(client, kind, namespace=namespace))
        for kind in ("services", "endpointslices", "pods")
    )
    return service_graph(services, slices, pods)
