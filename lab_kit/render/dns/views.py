"""How cluster DNS reads one API object: the few fields of a Service or an EndpointSlice
that matter to it, as small frozen values (CoreDNS keeps the same kind of stripped-down
copies in `plugin/kubernetes/object/`: "only the items we need for CoreDNS").

Names are lower-cased here, once, so lookups compare plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from lab_kit.model import meta
from lab_kit.render.dns import names
from lab_kit.render.dns.names import Labels

SERVICE_NAME_LABEL = "kubernetes.io/service-name"

CLUSTER_IP, HEADLESS, EXTERNAL_NAME = "ClusterIP", "Headless", "ExternalName"


@dataclass(frozen=True)
class Port:
    name: str  # lower-cased; "" for an unnamed port
    protocol: str  # lower-cased: "tcp", "udp", "sctp"
    number: int | None  # None: the slice declares no ports (no SRV, addresses still answer)


NO_PORTS = (Port("", "", None),)  # CoreDNS's "port -1" sentinel for portless endpoints


class Item(NamedTuple):  # a tuple: made for every query, 3x quicker than a dataclass
    """One thing found behind a name: CoreDNS's `msg.Service`."""

    host: str  # an address, or (ExternalName) a DNS name
    port: int | None
    owner: Labels  # the item's own name below the zone: an SRV target, an extra A's name

    @property
    def is_name(self) -> bool:
        return not names.is_ip(self.host)


@dataclass(frozen=True)
class ServiceView:
    namespace: str
    name: str
    kind: str  # CLUSTER_IP, HEADLESS or EXTERNAL_NAME
    cluster_ips: tuple[str, ...] = ()  # IPv4 only
    ports: tuple[Port, ...] = ()
    external_name: str = ""


@dataclass(frozen=True)
class SliceView:
    namespace: str
    service: str
    ports: tuple[Port, ...]
    endpoints: tuple[tuple[str, str], ...]  # (address, hostname) of each ready endpoint


def _ports(raw: list | None) -> tuple[Port, ...]:
    """Service or slice ports; the protocol defaults to TCP, as the API server's defaulting."""
    return tuple(
        Port(
            (p.get("name") or "").lower(),
            (p.get("protocol") or "TCP").lower(),
            p["port"] if isinstance(p.get("port"), int) else None,
        )
        for p in raw or []
        if isinstance(p, dict)
    )


def service_view(service: dict) -> ServiceView:
    ns, name = meta.namespace(service).lower(), meta.name(service).lower()
    spec = meta.spec(service)
    if spec.get("type") == "ExternalName":
        return ServiceView(ns, name, EXTERNAL_NAME, external_name=spec.get("externalName") or "")
    ports = _ports(spec.get("ports"))
    if spec.get("clusterIP") == "None":
        return ServiceView(ns, name, HEADLESS, ports=ports)
    ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
    v4 = tuple(ip for ip in ips if isinstance(ip, str) and names.is_ipv4(ip))
    return ServiceView(ns, name, CLUSTER_IP, cluster_ips=v4, ports=ports)


def slice_view(endpoint_slice: dict) -> SliceView | None:
    """The ready IPv4 endpoints of a slice, or None if DNS ignores the slice."""
    service = meta.labels(endpoint_slice).get(SERVICE_NAME_LABEL)
    if not service or endpoint_slice.get("addressType") != "IPv4":
        return None  # IPv6 and FQDN slices: not done (see the module docstring)
    endpoints = []
    for endpoint in endpoint_slice.get("endpoints") or []:
        # Ready when the condition is true or unset (CoreDNS object/endpoint.go).
        if (endpoint.get("conditions") or {}).get("ready") is False:
            continue
        for ip in endpoint.get("addresses") or []:
            if isinstance(ip, str) and names.is_ipv4(ip):
                hostname = endpoint.get("hostname") or names.dashed_ip(ip)
                endpoints.append((ip, hostname.lower()))
    ports = _ports(endpoint_slice.get("ports")) or NO_PORTS
    ns = meta.namespace(endpoint_slice).lower()
    return SliceView(ns, service.lower(), ports, tuple(endpoints))
