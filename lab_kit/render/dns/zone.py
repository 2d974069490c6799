"""The cluster zone: Services, EndpointSlices and Pods, indexed the way cluster DNS reads them.

Mirrors the data half of CoreDNS's `kubernetes` plugin (`kubernetes.go`: `findServices`,
`findPods`; `reverse.go`: `serviceRecordForIP`; the watch cache of `controller.go`). The
other half, turning what is found into DNS messages, is `answer.py`.

Like CoreDNS, the zone does not hold a table of records. It indexes the API objects, and
a query is answered by finding the *items* behind a name: (address or name, port, the
item's own name). One item list serves every query type: an A query takes the
addresses, an SRV query the ports and names, a CNAME query the ExternalName. This is why
odd-looking names work as on a real cluster: `_http._tcp.web.default.svc` answers an A
query, and an endpoint name also resolves under a ClusterIP Service.

`records()` / `zone_text()` list what the zone serves, zone-file style, for reading and
for tests (every listed record is answered, and tests check it):

    web.default.svc.cluster.local.              30 IN A     10.96.0.20
    _http._tcp.web.default.svc.cluster.local.   30 IN SRV   0 100 80 web.default.svc.cluster.local.
    20.0.96.10.in-addr.arpa.                    30 IN PTR   web.default.svc.cluster.local.

How one object is read (its few relevant fields, lower-cased) is `views.py`.
`changes_since(old)` says which Services and namespaces differ between two zones, so the
server keeps the cached answers that read none of them (`cache_tag`, `Changes.keeps`).

Rules (the spec, as CoreDNS applies it):
1. A ClusterIP Service's name holds its ClusterIPs; SRV targets are the Service's name.
2. A headless Service's name holds the address of every *ready* endpoint (`ready` true or
   unset; the EndpointSlice controller already marks endpoints ready when the Service has
   `publishNotReadyAddresses`). No ready endpoint: the name does not exist (NXDOMAIN).
3. An endpoint's name is its `hostname`, else its dashed address (`10-244-1-5`).
4. EndpointSlices join their Service by the label `kubernetes.io/service-name`.
5. An ExternalName Service's name holds a CNAME, unless `externalName` looks like an IP
   address (then the name does not exist: it cannot be a CNAME). It has no endpoints and
   no ports: `x.<svc>`, `_http._tcp.<svc>`, `a.b.<svc>` do not exist (CoreDNS skips the
   Service when the name carries an endpoint, port or protocol label).
6. Pod names (`10-244-1-5.<ns>.pod`): "pods insecure" (kubeadm) answers any dashed address
   in an existing namespace without checking pods; "verified" checks them; "disabled" is
   NXDOMAIN.
7. PTR: a ClusterIP maps to its Service; otherwise every ready endpoint address maps to
   `<hostname>.<service>.<ns>.svc.<zone>` (one PTR per Service selecting it).
8. The zones are the Corefile's (`kubernetes cluster.local in-addr.arpa ip6.arpa`): the
   first non-reverse one is the cluster domain; a name in none of them is not ours (the
   next plugin, `forward`, gets it); reverse names are answered only under listed reverse
   zones. `fallthrough ZONES` hands a "no such name" under those zones to `forward`
   instead of answering NXDOMAIN (kubeadm: `fallthrough in-addr.arpa ip6.arpa`).

Left out: IPv6 (slices whose addressType is not IPv4 are ignored, as are IPv6
ClusterIPs; AAAA answers come only from IPv6 pod labels); CoreDNS options that kubeadm
does not set (`endpoint_pod_names`, `ignore empty_service`, `namespaces`, `noendpoints`,
multicluster, zonal: the server names them in a warning when a Corefile has them);
wildcard names (removed in CoreDNS 1.9.0).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from lab_kit.model import constants as C
from lab_kit.model import meta
from lab_kit.render.dns import names
from lab_kit.render.dns.names import POD, SVC, Labels, Request
from lab_kit.render.dns.views import (
    CLUSTER_IP,
    EXTERNAL_NAME,
    HEADLESS,
    Item,
    Port,
    ServiceView,
    SliceView,
    service_view,
    slice_view,
)

KUBEADM_TTL_S = 30  # kubeadm's Corefile says `ttl 30`; the plugin's own default is 5
# kubeadm: `kubernetes cluster.local in-addr.arpa ip6.arpa { fallthrough in-addr.arpa ip6.arpa }`
KUBEADM_REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")
DNS_VERSION_TTL_S = 28800  # CoreDNS serves the dns-version TXT with this TTL
SCHEMA_VERSION = "1.1.0"  # Kubernetes DNS-Based Service Discovery spec
POD_MODES = ("insecure", "verified", "disabled")


def srv_weight(count: int) -> int:
    """CoreDNS: every SRV has priority 0 and weight floor(100 / candidates), at least 1."""
    return max(1, 100 // count) if count else 100


def _matches(request: Request, port: Port) -> bool:
    """CoreDNS `matchPortAndProtocol`: an absent port or protocol in the name matches any."""
    return (not request.port or request.port == port.name) and (
        not request.protocol or request.protocol == port.protocol
    )


class ClusterZone:
    """The cluster domain's data, fed whole (`build`) or by watch events (`apply`)."""

    def __init__(
        self,
        domain: str = C.CLUSTER_DOMAIN,
        ttl: int = KUBEADM_TTL_S,
        pods_mode: str = "insecure",
        dns_ip: str = C.CLUSTER_DNS_IP,
        other_zones: Iterable[str] = KUBEADM_REVERSE_ZONES,
        fallthrough: Iterable[str] | None = KUBEADM_REVERSE_ZONES,
    ):
        """`other_zones`: the plugin's zones besides `domain`; `fallthrough`: the zones of
        the `fallthrough` option ("." for all), None without the option."""
        if not 0 <= ttl <= 3600:
            raise ValueError(f"ttl must be 0-3600 s (as CoreDNS's), not {ttl}")
        if pods_mode not in POD_MODES:
            raise ValueError(f"pods_mode must be one of {POD_MODES}, not {pods_mode!r}")
        self.labels = names.domain_labels(domain)  # ("cluster", "local")
        self.domain = ".".join(self.labels)  # "cluster.local"
        self.zones = (self.labels, *(names.domain_labels(z) for z in other_zones))
        self.fallthrough = (
            None if fallthrough is None else tuple(names.domain_labels(z) for z in fallthrough)
        )
        self.ttl = ttl
        self.pods_mode = pods_mode  # the Corefile's `pods` option; kubeadm: insecure
        self.dns_ip = dns_ip  # the A of ns.dns.<zone>: kube-dns's ClusterIP
        # CoreDNS answers SERVFAIL instead of NXDOMAIN until its caches have synced.
        self.synced = False
        # The SOA serial. CoreDNS uses the Unix time of the last change; we use the newest
        # resourceVersion applied, so answers are reproducible and tie to `get -o yaml`.
        self.serial = 0
        self._services: dict[tuple[str, str], ServiceView] = {}
        self._slices: dict[tuple[str, str], SliceView] = {}
        self._slices_of: dict[tuple[str, str], dict[str, SliceView]] = defaultdict(dict)
        self._service_ips: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._endpoint_ips: dict[str, Counter[tuple[str, str, str]]] = defaultdict(Counter)
        self._slice_keys: set[tuple[str, str]] = set()  # every slice applied, even ignored
        self._pod_ips: dict[tuple[str, str], str] = {}
        self._pods_at: dict[str, Counter[str]] = defaultdict(Counter)
        self._namespaces: set[str] = set()
        self._namespace_refs: Counter[str] = Counter()  # objects living in each namespace

    @classmethod
    def build(
        cls,
        services: Iterable[dict] = (),
        slices: Iterable[dict] = (),
        pods: Iterable[dict] = (),
        namespaces: Iterable[dict] = (),
        *,
        domain: str = C.CLUSTER_DOMAIN,
        ttl: int = KUBEADM_TTL_S,
        pods_mode: str = "insecure",
        dns_ip: str = C.CLUSTER_DNS_IP,
        other_zones: Iterable[str] = KUBEADM_REVERSE_ZONES,
        fallthrough: Iterable[str] | None = KUBEADM_REVERSE_ZONES,
    ) -> ClusterZone:
        """A synced zone from full lists (what an informer's first LIST gives)."""
        zone = cls(domain, ttl, pods_mode, dns_ip, other_zones, fallthrough)
        for kind, objects in (
            ("Namespace", namespaces),
            ("Service", services),
            ("EndpointSlice", slices),
            ("Pod", pods),
        ):
            for obj in objects:
                zone.apply(kind, obj)
        zone.synced = True
        return zone

    # --- watch events ----------------------------------------------------------------

    def apply(self, kind: str, obj: dict, deleted: bool = False) -> None:
        """Take in one ADDED / MODIFIED (deleted=False) or DELETED event; other kinds are ignored."""
        handler = {
            "Service": self._apply_service,
            "EndpointSlice": self._apply_slice,
            "Pod": self._apply_pod,
            "Namespace": self._apply_namespace,
        }.get(kind)
        if handler is None:
            return
        key = (meta.namespace(obj).lower(), meta.name(obj).lower())
        handler(key, None if deleted else obj)
        try:
            rv = meta.resource_version(obj)
        except ValueError:  # resourceVersions are opaque strings in Kubernetes
            rv = 0
        self.serial = max(self.serial, rv) if rv else self.serial + 1

    def _track(self, namespace: str, before: bool, after: bool) -> None:
        """Count the objects living in each namespace (they prove it exists)."""
        self._namespace_refs[namespace] += after - before

    def _apply_service(self, key: tuple[str, str], obj: dict | None) -> None:
        old = self._services.pop(key, None)
        for ip in old.cluster_ips if old else ():
            self._service_ips[ip].discard(key)
            if not self._service_ips[ip]:
                del self._service_ips[ip]
        if obj is not None:
            new = self._services[key] = service_view(obj)
            for ip in new.cluster_ips:
                self._service_ips[ip].add(key)
        self._track(key[0], old is not None, obj is not None)

    def _apply_slice(self, key: tuple[str, str], obj: dict | None) -> None:
        ns, name = key
        old = self._slices.pop(key, None)
        if old is not None:
            del self._slices_of[(ns, old.service)][name]
            for ip, hostname in old.endpoints:
                self._endpoint_ips[ip][(ns, old.service, hostname)] -= 1
                if not +self._endpoint_ips[ip]:
                    del self._endpoint_ips[ip]
        new = slice_view(obj) if obj is not None else None
        if new is not None:
            self._slices[key] = new
            self._slices_of[(ns, new.service)][name] = new
            for ip, hostname in new.endpoints:
                self._endpoint_ips[ip][(ns, new.service, hostname)] += 1
        # Slices DNS ignores (IPv6, no service label) still show their namespace exists.
        was = key in self._slice_keys
        (self._slice_keys.add if obj is not None else self._slice_keys.discard)(key)
        self._track(ns, was, obj is not None)

    def _apply_pod(self, key: tuple[str, str], obj: dict | None) -> None:
        was = key in self._pod_ips
        old = self._pod_ips.pop(key, "")
        if old:
            self._pods_at[old][key[0]] -= 1
            if not +self._pods_at[old]:
                del self._pods_at[old]
        if obj is not None:
            ip = self._pod_ips[key] = meta.status(obj).get("podIP") or ""
            if ip:
                self._pods_at[ip][key[0]] += 1
        self._track(key[0], was, obj is not None)

    def _apply_namespace(self, key: tuple[str, str], obj: dict | None) -> None:
        (self._namespaces.add if obj is not None else self._namespaces.discard)(key[1])

    # --- reading ---------------------------------------------------------------------

    def zone_of(self, labels: Labels) -> Labels | None:
        """The most specific of the plugin's zones holding a name, or None: not ours."""
        found = [zone for zone in self.zones if names.is_under(labels, zone)]
        return max(found, key=len) if found else None

    def falls_through(self, labels: Labels) -> bool:
        """`fallthrough`: is a "no such name" here handed to the next plugin?"""
        return self.fallthrough is not None and any(
            names.is_under(labels, zone) for zone in self.fallthrough
        )

    def namespace_exists(self, namespace: str) -> bool:
        """A Namespace object, any object inside it, or a namespace the API server keeps."""
        return bool(
            namespace in self._namespaces
            or self._namespace_refs[namespace] > 0
            or namespace in C.SYSTEM_NAMESPACES
        )

    def lookup(self, request: Request) -> list[Item] | None:
        """The items behind a parsed name; [] = the name exists with no data, None = NXDOMAIN."""
        if not request.kind:
            return []  # the apex, svc.<zone>, pod.<zone>
        if not self.namespace_exists(request.namespace):
            return None
        if request.kind == POD:
            return self._find_pods(request)
        return self._find_services(request)

    def _find_pods(self, request: Request) -> list[Item] | None:
        if self.pods_mode == "disabled":
            return None
        if not request.service:
            return []  # <ns>.pod.<zone>
        ip = names.pod_label_ip(request.service)
        if ip is None:
            return None
        if self.pods_mode == "verified" and self._pods_at.get(ip, Counter())[request.namespace] < 1:
            return None
        # As CoreDNS: labels left of the pod label are not looked at, and a pod item has
        # port 0 (so an SRV query on a pod name answers `0 100 0 <pod name>`).
        return [Item(ip, 0, (request.service, request.namespace, POD))]

    def _find_services(self, request: Request) -> list[Item] | None:
        if not request.service:
            return []  # <ns>.svc.<zone>
        service = self._services.get((request.namespace, request.service))
        if service is None:
            return None
        if service.kind == EXTERNAL_NAME:
            target = service.external_name
            if request.endpoint or request.port or request.protocol:
                return None  # no endpoints, no ports (CoreDNS findServices skips it)
            if not target or names.is_ip(target):
                return None
            return [Item(target, None, (service.name, service.namespace, SVC))]
        if service.kind == HEADLESS or request.endpoint:
            return self._find_endpoints(service, request)
        found, items = False, list[Item]()
        for port in service.ports:
            if _matches(request, port):
                found = True
                owner = (service.name, service.namespace, SVC)
                items.extend(Item(ip, port.number, owner) for ip in service.cluster_ips)
        return items if found else None

    def _find_endpoints(self, service: ServiceView, request: Request) -> list[Item] | None:
        found, items = False, list[Item]()
        for _, endpoint_slice in sorted(
            self._slices_of.get((service.namespace, service.name), {}).items()
        ):
            for ip, hostname in endpoint_slice.endpoints:
                if request.endpoint and request.endpoint != hostname:
                    continue
                owner = (hostname, service.name, service.namespace, SVC)
                for port in endpoint_slice.ports:
                    if _matches(request, port):
                        found = True
                        items.append(Item(ip, port.number, owner))
        return items if found else None

    def ptr(self, ip: str) -> list[str]:
        """PTR targets for an address: its Service if a ClusterIP, else each endpoint name."""
        zone = self.domain
        owners = self._service_ips.get(ip)
        if owners:
            ns, name = min(owners)  # CoreDNS takes the first Service it finds
            return [f"{name}.{ns}.svc.{zone}."]
        endpoints = self._endpoint_ips.get(ip) or Counter()
        return [f"{h}.{svc}.{ns}.svc.{zone}." for ns, svc, h in sorted(endpoints)]

    # --- what changed between two zones (which cached answers still hold) --------------

    def _options(self) -> tuple:
        return (self.labels, self.zones, self.fallthrough, self.ttl, self.pods_mode, self.dns_ip)

    def changes_since(self, old: ClusterZone) -> Changes | None:
        """What differs from `old` as cache tags see it (`Changes.keeps`); None: anything
        may have (other options, or either zone not synced)."""
        if not (old.synced and self.synced) or old._options() != self._options():
            return None
        services = {
            key
            for key in self._services.keys() | old._services.keys()
            if self._services.get(key) != old._services.get(key)
        }
        services.update(  # (namespace, service) -> {slice name: view}; {} = none left
            key
            for key in self._slices_of.keys() | old._slices_of.keys()
            if (self._slices_of.get(key) or {}) != (old._slices_of.get(key) or {})
        )
        spaces = (
            self._namespaces | old._namespaces | self._namespace_refs.keys()
            | old._namespace_refs.keys()
        )  # fmt: skip
        namespaces = {ns for ns in spaces if self.namespace_exists(ns) != old.namespace_exists(ns)}
        pods = self.pods_mode == "verified" and self._pods_at != old._pods_at
        return Changes(frozenset(services), frozenset(namespaces), pods)

    # --- the zone as a listing ---------------------------------------------------------

    def records(self) -> list[tuple[str, int, str, str]]:
        """(name, ttl, type, data) of every record that can be listed, zone-file style.

        Pod names are not listed: in "insecure" mode every dashed address answers.
        """
        zone = self.domain + "."
        out = [
            (f"{names.DNS_VERSION_LABEL}.{zone}", DNS_VERSION_TTL_S, "TXT", f'"{SCHEMA_VERSION}"'),
            (f"ns.dns.{zone}", self.ttl, "A", self.dns_ip),
        ]
        ips: set[str] = set()
        for (ns, name), service in sorted(self._services.items()):
            base = Request(SVC, ns, name)
            owner = f"{name}.{ns}.svc.{zone}"
            for item in self.lookup(base) or []:
                kind = "CNAME" if item.is_name else "A"
                data = item.host.rstrip(".") + "." if item.is_name else item.host
                out.append((owner, self.ttl, kind, data))
            if service.kind == EXTERNAL_NAME:
                continue
            out.extend(self._record_set(base, owner, zone, ips))
        out = list(dict.fromkeys(out))  # one line per distinct record, first seen first
        for ip in sorted(ips, key=lambda a: tuple(int(p) for p in a.split("."))):
            reverse = names.ptr_name(ip)
            if self.zone_of(names.split(reverse)[1]) is not None:  # a reverse zone of ours
                out.extend((reverse, self.ttl, "PTR", t) for t in self.ptr(ip))
        return out

    def _record_set(self, base: Request, owner: str, zone: str, ips: set[str]) -> list:
        """Endpoint A records and SRV records of one ClusterIP or headless Service."""
        ns, name = base.namespace, base.service
        service = self._services[(ns, name)]
        ips.update(service.cluster_ips)
        out = []
        slices = self._slices_of.get((ns, name), {}).values()
        hostnames = sorted({h for s in slices for _, h in s.endpoints})
        for hostname in hostnames:
            for item in self.lookup(Request(SVC, ns, name, endpoint=hostname)) or []:
                out.append((f"{hostname}.{owner}", self.ttl, "A", item.host))
                ips.add(item.host)
        ports = (
            service.ports if service.kind == CLUSTER_IP else [p for s in slices for p in s.ports]
        )
        named = sorted({(p.name, p.protocol) for p in ports if p.name and p.number is not None})
        for port_name, protocol in named:
            items = self.lookup(Request(SVC, ns, name, port=port_name, protocol=protocol))
            weight = srv_weight(len(items or []))
            srv_name = f"_{port_name}._{protocol}.{owner}"
            for item in items or []:
                target = ".".join(item.owner) + "." + zone
                out.append((srv_name, self.ttl, "SRV", f"0 {weight} {item.port} {target}"))
        return out

    def zone_text(self) -> str:
        """`records()` as zone-file text, one record per line."""
        return "".join(f"{n:<50} {t:>5} IN {k:<5} {d}\n" for n, t, k, d in self.records())


def cache_tag(relative: Labels) -> tuple[str, ...] | None:
    """What a *positive* answer (records, no CNAME, no SOA) for a name under the cluster
    domain read, for keeping it cached across zone changes: ("svc", ns, service) for the
    names of a Service (its own, its endpoints', its ports'), ("pod", ns) for pod names;
    None for every other name (never kept). `relative`: the name's lower-cased labels
    below the domain."""
    if len(relative) >= 3 and relative[-1] == SVC:
        return (SVC, relative[-2], relative[-3])
    if len(relative) >= 2 and relative[-1] == POD:
        return (POD, relative[-2])
    return None


class Changes:
    """What differs between two synced zones with the same options: Services whose view or
    slices differ, namespaces that came or went, and (`pods verified`) whether pod
    addresses did. A positive answer tagged by `cache_tag` reads only its Service (view
    and slices) or its pod address, its namespace's existence and the zone's options, so
    it holds when none of those changed. Negative answers are never kept: they carry the
    SOA, whose serial (the newest resourceVersion) moves with nearly every change."""

    def __init__(self, services: frozenset, namespaces: frozenset, pods: bool):
        self.services, self.namespaces, self.pods = services, namespaces, pods

    def keeps(self, tag: tuple[str, ...] | None) -> bool:
        if tag is None or tag[1] in self.namespaces:
            return False
        if tag[0] == SVC:
            return (tag[1], tag[2]) not in self.services
        return not self.pods
