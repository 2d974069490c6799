"""What kube-proxy knows about a Service before it writes a rule: its ports and, per port,
the endpoints it may send traffic to from this node.

Pure functions over API objects (dicts), mirroring three parts of kube-proxy:

- `service_ports` ~ `pkg/proxy/serviceport.go`: one `ServicePort` per `spec.ports[]` entry,
  with the traffic policies, session affinity and external addresses the rules need.
  Services kube-proxy skips (`ShouldSkipService`: headless, ExternalName, and the two
  opt-out labels) give none.
- `endpoints_by_port` ~ `pkg/proxy/endpointslicecache.go`: EndpointSlices grouped by
  (namespace, service, port name, protocol); only `addresses[0]` of each endpoint; nil
  `ready`/`serving` count as true and nil `terminating` as false; an endpoint listed by two
  slices is kept once, preferring the non-terminating copy; sorted by the "ip:port"
  string (a plain string sort, so 10.0.0.10:80 comes before 10.0.0.2:80).
- `categorize` ~ `pkg/proxy/topology.go` (`CategorizeEndpoints`): the Cluster set is the
  ready endpoints, or — only if none is ready — the serving-and-terminating ones; the
  Local set is the same rule applied to endpoints on this node.

Not modelled: topology hints / trafficDistribution (every ready endpoint is eligible),
IPv6 and dual-stack (IPv4 slices only; as an IPv4 proxier does, the IPv6 externalIPs,
load-balancer IPs and source ranges of a Service are ignored), SCTP conntrack specifics.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from lab_kit.model import constants as C

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
HEADLESS_LABEL = "service.kubernetes.io/headless"
# kube-proxy's informers watch with this selector (cmd/kube-proxy/app/server.go), so an
# object carrying either label is invisible to it.
INFORMER_LABEL_SELECTOR = f"!{PROXY_NAME_LABEL},!{HEADLESS_LABEL}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # lower case, as in rules and chain hashes: tcp, udp, sctp
    port: int
    cluster_ip: str
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()
    health_check_node_port: int = 0
    affinity_timeout_s: int | None = None  # set when sessionAffinity is ClientIP
    internal_local: bool = False
    external_local: bool = False

    @property
    def port_key(self) -> str:
        """`ServicePortName.String()`: ns/name, plus ":<port name>" only for a named port."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.load_balancer_ips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Pods reaching an external address of an ETP=Local service are sent to the
        # Cluster set (the "pod traffic for ... external destinations" short cut).
        return not self.internal_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_local or (self.external_local and self.externally_accessible)


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass
class Categorized:
    cluster: list[Endpoint] = field(default_factory=list)
    local: list[Endpoint] = field(default_factory=list)
    all_reachable: list[Endpoint] = field(default_factory=list)
    has_any: bool = False


def skip_service(svc: dict) -> bool:
    """`ShouldSkipService` plus the informer's label selector."""
    spec = svc.get("spec") or {}
    labels = (svc.get("metadata") or {}).get("labels") or {}
    if PROXY_NAME_LABEL in labels or HEADLESS_LABEL in labels:
        return True
    if spec.get("type") == "ExternalName":
        return True
    return spec.get("clusterIP") in (None, "", "None")


def _ipv4(values: Iterable[str]) -> tuple[str, ...]:
    """The IPv4 addresses or ranges among `values`: serviceport.go's MapIPsByIPFamily and
    MapCIDRsByIPFamily for an IPv4 proxier, which ignores the others (one V(4) log line
    upstream), so an IPv6 externalIP never reaches iptables-restore."""
    kept = []
    for value in values:
        try:
            if ipaddress.ip_network(value, strict=False).version != 4:
                continue
        except ValueError:
            pass  # validated by the API server; left as it is
        kept.append(value)
    return tuple(kept)


def _ipv4_cidrs(values: Iterable[str]) -> tuple[str, ...]:
    """`MapCIDRsByIPFamily` for an IPv4 proxier: each range trimmed (validation lets stray
    spaces through), parsed as a CIDR (`ParseCIDRSloppy`: a bare address is not one, and
    an unparsable range is dropped), kept only if IPv4, written as Go's `IPNet.String()`
    prints it (the network address: 192.0.2.10/24 -> 192.0.2.0/24)."""
    kept = []
    for value in (v.strip() for v in values):
        try:
            network = ipaddress.ip_network(value, strict=False) if "/" in value else None
        except ValueError:
            network = None
        if network is not None and network.version == 4:
            kept.append(str(network))
    return tuple(kept)


def service_ports(svc: dict) -> list[ServicePort]:
    if skip_service(svc):
        return []
    meta, spec = svc["metadata"], svc["spec"]
    # serviceport.go: every VIP-mode ingress IP, whatever the type (a load-balancer
    # controller writes status only for LoadBalancers); ipMode Proxy means the load
    # balancer itself forwards, so kube-proxy leaves such an address alone.
    status_lb = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    lb_ips = _ipv4(
        i["ip"] for i in status_lb if i.get("ip") and (i.get("ipMode") or "VIP") == "VIP"
    )
    affinity = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(cfg.get("timeoutSeconds") or C.SESSION_AFFINITY_DEFAULT_TIMEOUT_S)
    is_lb = spec.get("type") == "LoadBalancer"
    result = []
    for p in spec.get("ports") or []:
        sp = ServicePort(
            namespace=meta.get("namespace", "default"),
            name=meta["name"],
            port_name=p.get("name") or "",
            protocol=(p.get("protocol") or "TCP").lower(),
            port=int(p["port"]),
            cluster_ip=spec["clusterIP"],
            node_port=int(p.get("nodePort") or 0),
            external_ips=_ipv4(spec.get("externalIPs") or ()),
            load_balancer_ips=lb_ips,
            source_ranges=_ipv4_cidrs(spec.get("loadBalancerSourceRanges") or ()),
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0)
            if is_lb and spec.get("externalTrafficPolicy") == "Local"
            else 0,
            affinity_timeout_s=affinity,
            internal_local=spec.get("internalTrafficPolicy") == "Local",
            external_local=spec.get("externalTrafficPolicy") == "Local",
        )
        # ExternalPolicyLocal only means something for an externally reachable port.
        if sp.external_local and not sp.externally_accessible:
            sp = replace(sp, external_local=False)
        result.append(sp)
    return result


PortKey = tuple[str, str, str, str]  # namespace, service, port name, protocol (lower case)


def endpoints_by_port(slices: list[dict]) -> dict[PortKey, list[Endpoint]]:
    merged: dict[PortKey, dict[str, Endpoint]] = {}
    for eps in slices:
        meta = eps.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service or eps.get("addressType", "IPv4") != "IPv4":
            continue
        namespace = meta.get("namespace", "default")
        for port in eps.get("ports") or []:
            number = port.get("port")
            if port.get("name") is None or not number:
                continue  # kube-proxy ignores ports with a nil name or no number
            key = (
                namespace,
                service,
                port.get("name") or "",
                (port.get("protocol") or "TCP").lower(),
            )
            bucket = merged.setdefault(key, {})
            for ep in eps.get("endpoints") or []:
                addresses = ep.get("addresses") or []
                if not addresses:
                    continue
                cond = ep.get("conditions") or {}
                e = Endpoint(
                    ip=addresses[0],
                    port=int(number),
                    ready=cond.get("ready") is not False,
                    serving=cond.get("serving") is not False,
                    terminating=cond.get("terminating") is True,
                    node_name=ep.get("nodeName") or "",
                )
                old = bucket.get(e.key)
                if old is None or (old.terminating and not e.terminating):
                    bucket[e.key] = e
    return {k: sorted(v.values(), key=lambda e: e.key) for k, v in merged.items()}


Version = tuple[str, str, str]  # namespace, name, resourceVersion


def _version(obj: dict) -> Version | None:
    meta = obj.get("metadata") or {}
    rv = meta.get("resourceVersion")
    return (meta.get("namespace", "default"), meta.get("name", ""), str(rv)) if rv else None


class Parsed:
    """`service_ports` and `endpoints_by_port` remembered per object version, as
    kube-proxy's change trackers keep each object's parsed form between syncs: a sync
    parses only the Services and EndpointSlices written since the last one. An object's
    (namespace, name, resourceVersion) names its content (every write moves the version);
    objects without a resourceVersion (tests' hand-made ones) are parsed every time.
    Results are exactly the module functions'."""

    def __init__(self) -> None:
        self._ports: dict[Version, list[ServicePort]] = {}
        # (namespace, service) -> (its slices' versions, endpoints_by_port of those slices)
        self._groups: dict[tuple[str, str], tuple[tuple, dict[PortKey, list[Endpoint]]]] = {}

    def service_ports(self, services: list[dict]) -> list[ServicePort]:
        """Every port of every Service (`service_ports` of each, in order)."""
        kept: dict[Version, list[ServicePort]] = {}
        out: list[ServicePort] = []
        for svc in services:
            version = _version(svc)
            ports = self._ports.get(version) if version else None
            if ports is None:
                ports = service_ports(svc)
            if version:
                kept[version] = ports
            out.extend(ports)
        self._ports = kept  # versions no longer listed are forgotten
        return out

    def endpoints_by_port(self, slices: list[dict]) -> dict[PortKey, list[Endpoint]]:
        """`endpoints_by_port(slices)`: slices are merged per Service only (the key holds
        the Service), so each Service's part is reused while its slices are unchanged."""
        groups: dict[tuple[str, str], list[dict]] = {}
        for eps in slices:
            meta = eps.get("metadata") or {}
            service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) or ""
            groups.setdefault((meta.get("namespace", "default"), service), []).append(eps)
        kept: dict[tuple[str, str], tuple[tuple, dict[PortKey, list[Endpoint]]]] = {}
        out: dict[PortKey, list[Endpoint]] = {}
        for group, members in groups.items():
            versions = tuple(_version(m) for m in members)
            old = self._groups.get(group)
            if old is not None and old[0] == versions and None not in versions:
                merged = old[1]
            else:
                merged = endpoints_by_port(members)
            kept[group] = (versions, merged)
            out.update(merged)
        self._groups = kept
        return out


def port_key(sp: ServicePort) -> PortKey:
    return (sp.namespace, sp.name, sp.port_name, sp.protocol)


def _usable(endpoints: list[Endpoint]) -> list[Endpoint]:
    ready = [e for e in endpoints if e.ready]
    return ready or [e for e in endpoints if e.serving and e.terminating]


def categorize(sp: ServicePort, endpoints: list[Endpoint], node_name: str) -> Categorized:
    """`has_any`: some endpoint anywhere is usable (ready, or serving-and-terminating).
    It decides REJECT ("has no endpoints") versus DROP ("has no local endpoints")."""
    out = Categorized(has_any=any(e.ready or (e.serving and e.terminating) for e in endpoints))
    if sp.uses_cluster_endpoints:
        out.cluster = _usable(endpoints)
    if sp.uses_local_endpoints:
        out.local = _usable([e for e in endpoints if e.node_name == node_name])
    if not sp.uses_local_endpoints:
        out.all_reachable = out.cluster
    elif not sp.uses_cluster_endpoints:
        out.all_reachable = out.local
    else:
        union = {e.key: e for e in out.cluster}
        union.update({e.key: e for e in out.local})
        out.all_reachable = sorted(union.values(), key=lambda e: e.key)
    return out
