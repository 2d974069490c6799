"""Backends: an Ingress backend (Service + port) -> an upstream of ready endpoints, as
ingress-nginx's `createUpstreams` and `getEndpointsFromSlices` (endpointslices.go) compute it.

- The upstream is named `<namespace>-<service>-<port>` (the port's number, else its name).
- The Service port is found by number (`port`) or by name; the EndpointSlice port is the one
  of the same name (any, for an unnamed Service port); if none, a numeric targetPort.
- Endpoints come from the slices labelled `kubernetes.io/service-name`, TCP only, and only
  those whose `conditions.ready` is true or absent; duplicates are dropped, the rest sorted
  so that an unchanged Service renders the same text.

Differs: an ExternalName Service is not supported (ingress-nginx proxies to the external
name); it gets no endpoints, so 503, and a problem line says why. Topology hints are ignored.
"""

from __future__ import annotations

from lab_kit.model import meta
from lab_kit.render.ingress.model import Endpoint, Upstream

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def upstream_name(namespace: str, backend: dict) -> str:
    service = backend.get("service") or {}
    port = service.get("port") or {}
    return f"{namespace}-{service.get('name', '')}-{port.get('number') or port.get('name', '')}"


def upstream(namespace: str, backend: dict, services: list[dict], slices: list[dict]) -> Upstream:
    """The upstream of one Ingress backend, with its ready endpoints or why there are none."""
    service_ref = backend.get("service") or {}
    name, port_ref = service_ref.get("name", ""), service_ref.get("port") or {}
    wanted = port_ref.get("number") or port_ref.get("name", "")
    base = Upstream(upstream_name(namespace, backend), namespace, name, str(wanted))
    service = next(
        (s for s in services if meta.namespace(s) == namespace and meta.name(s) == name), None
    )
    if service is None:
        return _without(base, f"Service {namespace}/{name} not found")
    spec = meta.spec(service)
    if spec.get("type") == "ExternalName":
        return _without(
            base, f"Service {namespace}/{name} is ExternalName: not supported by lab_kit"
        )
    port = _service_port(spec.get("ports") or [], port_ref)
    if port is None:
        return _without(base, f"Service {namespace}/{name} has no port {wanted}")
    mine = [
        s
        for s in slices
        if meta.namespace(s) == namespace and meta.labels(s).get(SERVICE_NAME_LABEL) == name
    ]
    endpoints = tuple(sorted({e for s in mine for e in _ready(s, port)}, key=_order))
    if not endpoints:
        return _without(base, f"Service {namespace}/{name} has no ready endpoints")
    return Upstream(base.name, namespace, name, base.port, endpoints)


def _without(base: Upstream, why: str) -> Upstream:
    return Upstream(base.name, base.namespace, base.service, base.port, (), why)


def _service_port(ports: list[dict], ref: dict) -> dict | None:
    for port in ports:
        if ref.get("number") and port.get("port") == ref["number"]:
            return port
        if ref.get("name") and port.get("name") == ref["name"]:
            return port
    return None


def _slice_ports(slice_: dict, port: dict) -> list[int]:
    target = port.get("targetPort")
    numeric = target if isinstance(target, int) else None
    declared = slice_.get("ports") or []
    if not declared:
        return [numeric] if numeric else []
    found: list[int] = []
    for p in declared:
        if (p.get("protocol") or "TCP") != "TCP":
            continue
        number = (
            p.get("port") if not port.get("name") or p.get("name") == port.get("name") else None
        )
        chosen = number or numeric
        if isinstance(chosen, int):
            found.append(chosen)
    return found


def _ready(slice_: dict, port: dict) -> list[Endpoint]:
    found = []
    for endpoint in slice_.get("endpoints") or []:
        if (endpoint.get("conditions") or {}).get("ready") is False:
            continue
        ref = endpoint.get("targetRef") or {}
        pod = ref.get("name", "") if ref.get("kind") == "Pod" else ""
        for number in _slice_ports(slice_, port):
            for ip in endpoint.get("addresses") or []:
                found.append(Endpoint(ip, int(number), pod, endpoint.get("nodeName", "")))
    return found


def _order(endpoint: Endpoint) -> tuple:
    return (tuple(int(x) if x.isdigit() else 0 for x in endpoint.ip.split(".")), endpoint.port)
