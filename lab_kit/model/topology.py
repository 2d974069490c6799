"""Cluster descriptions (`topologies/*.toml`) -> a validated `ClusterSpec`.

A topology names the Kubernetes nodes (each with its address on the node network and its
pod CIDR) and the hosts outside the cluster. Errors name the file and the field the way
the API server names fields: `topologies/x.toml: nodes[1].ip: Invalid value: "10.0.0.3":
must be inside node_network 172.18.0.0/16`. Nothing else configures the lab.

Outside hosts may only use the documentation ranges (RFC 5737), so lab traffic can never
be mistaken for, or routed to, a real network.

`cluster.service_cidr` is the API server's --service-cluster-ip-range (its ClusterIP
allocator, and the `kubernetes` Service at its first address). The lab honours any range
kube-apiserver would take that also holds kube-dns's 10.96.0.10, where its kubelets point
every pod's resolv.conf (kubeadm's 10th address of 10.96.0.0/12), and overlaps no other
lab network; anything else is refused here, before a lab is built.

A `cloud-lb` host may hold `pool`, a CIDR inside its own documentation /24 (the default:
"198.51.100.32/27"): the addresses the lab's cloud hands to `type: LoadBalancer` Services
(the cloud-controller-manager agent writes them in `status.loadBalancer.ingress`), and the
ones the router sends to that host, whose data plane serves them. Every address of the
CIDR is handed out; it must not hold the /24's .0, .1 (the router) or .255, nor any host.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass, field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Ubuntu 22.04's Python 3.10
    import tomli as tomllib

from lab_kit.model import constants as C
from lab_kit.model.errors import FieldError, invalid, not_supported, required

DOCUMENTATION_RANGES = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
HOST_ROLES = ("client", "cloud-lb", "internet", "host")
_NAME = re.compile(
    r"^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$"
)  # short: Mininet names interfaces <host>-ethN


class TopologyError(ValueError):
    pass


@dataclass(frozen=True)
class LinkShape:
    """What Mininet's TCLink can do to a node's or host's link to its switch."""

    bw_mbit: float | None = None  # htb: works everywhere
    delay: str | None = None  # netem: e.g. "20ms"
    loss_pct: float | None = None  # netem

    @property
    def needs_netem(self) -> bool:
        return self.delay is not None or self.loss_pct is not None

    def tclink_params(self, netem: bool) -> dict:
        params: dict = {}
        if self.bw_mbit is not None:
            params["bw"] = self.bw_mbit
        if netem and self.delay is not None:
            params["delay"] = self.delay
        if netem and self.loss_pct is not None:
            params["loss"] = self.loss_pct
        return params


@dataclass(frozen=True)
class NodeSpec:
    name: str
    ip: str
    pod_cidr: str
    labels: dict = field(default_factory=dict, compare=False)
    link: LinkShape = field(default_factory=LinkShape)


@dataclass(frozen=True)
class HostSpec:
    name: str
    ip: str
    role: str = "host"
    link: LinkShape = field(default_factory=LinkShape)
    pool: str = ""  # cloud-lb only: the LoadBalancer addresses it serves (a CIDR)

    @property
    def gateway(self) -> str:
        """The router's address on this host's documentation range (`.1`)."""
        net = ipaddress.ip_network(f"{self.ip}/24", strict=False)
        return str(net.network_address + 1)


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    nodes: tuple[NodeSpec, ...]
    hosts: tuple[HostSpec, ...]
    pod_cidr: str = C.CLUSTER_CIDR
    service_cidr: str = C.SERVICE_CIDR
    node_network: str = C.NODE_CIDR
    source: str = ""

    @property
    def gateway_ip(self) -> str:
        """The router between the node network and the outside world (kind's .1)."""
        return str(ipaddress.ip_network(self.node_network).network_address + 1)

    @property
    def node_prefix(self) -> int:
        return ipaddress.ip_network(self.node_network).prefixlen

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def host_role(self, role: str) -> HostSpec | None:
        return next((h for h in self.hosts if h.role == role), None)

    @property
    def load_balancer_pool(self) -> str:
        """The cloud's LoadBalancer address pool (a CIDR), "" when no host holds one."""
        return next((h.pool for h in self.hosts if h.pool), "")


_TOP_KEYS = {"name", "cluster", "nodes", "hosts"}
_CLUSTER_KEYS = {"pod_cidr", "service_cidr", "node_network"}
_NODE_KEYS = {"name", "ip", "pod_cidr", "labels", "bw", "delay", "loss"}
_HOST_KEYS = {"name", "ip", "role", "bw", "delay", "loss", "pool"}


def parse_topology(text: str, source: str = "<topology>") -> ClusterSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TopologyError(f"{source}: {e}") from e
    errors: list[FieldError] = []
    errors += _unknown(data, _TOP_KEYS, "")
    cluster = data.get("cluster") or {}
    errors += _unknown(cluster, _CLUSTER_KEYS, "cluster")
    nets = {
        k: cluster.get(k, d)
        for k, d in (
            ("pod_cidr", C.CLUSTER_CIDR),
            ("service_cidr", C.SERVICE_CIDR),
            ("node_network", C.NODE_CIDR),
        )
    }
    for key, value in nets.items():
        errors += _cidr(value, f"cluster.{key}")
    if not errors:
        errors += _service_cidr(nets)
    if errors:
        raise TopologyError(_message(source, errors))
    nodes = _parse_nodes(data.get("nodes"), nets, errors)
    hosts = _parse_hosts(data.get("hosts") or [], errors)
    errors += _unique_names([n.name for n in nodes] + [h.name for h in hosts])
    errors += _unique_ips([("nodes", n.ip) for n in nodes] + [("hosts", h.ip) for h in hosts])
    errors += _pools(hosts)
    if errors:
        raise TopologyError(_message(source, errors))
    return ClusterSpec(
        str(data.get("name", "lab")),
        tuple(nodes),
        tuple(hosts),
        nets["pod_cidr"],
        nets["service_cidr"],
        nets["node_network"],
        source,
    )


def _message(source: str, errors: list[FieldError]) -> str:
    return "\n".join(f"{source}: {e}" for e in errors)


def _unknown(d: dict, allowed: set[str], path: str) -> list[FieldError]:
    if not isinstance(d, dict):
        return [invalid(path or "<top>", d, "must be a table")]
    prefix = f"{path}." if path else ""
    return [
        FieldError("Invalid", f"{prefix}{k}", "unknown field", k) for k in sorted(set(d) - allowed)
    ]


def _cidr(value: object, path: str) -> list[FieldError]:
    try:
        ipaddress.ip_network(str(value))
    except ValueError:
        return [invalid(path, value, "must be a valid CIDR, e.g. 10.244.0.0/16")]
    return []


def service_cidr_problems(cidr: str) -> list[str]:
    """What kube-apiserver refuses in --service-cluster-ip-range (validateClusterIPFlags and
    ServiceIPRange, in its words), and what the lab cannot serve: an IPv6 range (it is
    single-stack IPv4)."""
    net = ipaddress.ip_network(cidr)
    if net.version != 4:
        return ["must be an IPv4 CIDR (the lab is single-stack IPv4)"]
    if net.prefixlen < 32 - C.MAX_SERVICE_CIDR_BITS:
        return [
            "specified --service-cluster-ip-range is too large; for 32-bit addresses, "
            f"the mask must be >= {32 - C.MAX_SERVICE_CIDR_BITS}"
        ]
    if net.num_addresses < 8:
        return ["the service cluster IP range must be at least 8 IP addresses"]
    return []


def _service_cidr(nets: dict) -> list[FieldError]:
    value, path = str(nets["service_cidr"]), "cluster.service_cidr"
    errors = [invalid(path, value, problem) for problem in service_cidr_problems(value)]
    if errors:
        return errors
    net = ipaddress.ip_network(value)
    if ipaddress.ip_address(C.CLUSTER_DNS_IP) not in net:
        detail = (
            f"must contain {C.CLUSTER_DNS_IP}, the cluster DNS address (kube-dns) the lab's "
            "kubelets and its CoreDNS addon use"
        )
        return [invalid(path, value, detail)]
    for other in ("pod_cidr", "node_network"):
        if net.overlaps(ipaddress.ip_network(nets[other])):
            return [invalid(path, value, f"must not overlap cluster.{other} {nets[other]}")]
    if any(net.overlaps(r) for r in DOCUMENTATION_RANGES):
        return [invalid(path, value, "must not overlap the outside hosts' documentation ranges")]
    return []


def _ip(value: object, path: str) -> tuple[ipaddress.IPv4Address | None, list[FieldError]]:
    if value is None:
        return None, [required(path)]
    try:
        return ipaddress.IPv4Address(str(value)), []
    except ValueError:
        return None, [invalid(path, value, "must be a valid IPv4 address")]


_DELAY = re.compile(r"^\d+(\.\d+)?(us|ms|s)$")


def _link_shape(entry: dict, path: str) -> tuple[LinkShape, list[FieldError]]:
    errors = []
    bw, delay, loss = entry.get("bw"), entry.get("delay"), entry.get("loss")
    if bw is not None and (not isinstance(bw, int | float) or bw <= 0 or bw > 10_000):
        errors.append(invalid(f"{path}.bw", bw, "must be a number of Mbit/s between 0 and 10000"))
    if delay is not None and not (isinstance(delay, str) and _DELAY.match(delay)):
        errors.append(invalid(f"{path}.delay", delay, 'must be a duration such as "20ms"'))
    if loss is not None and (not isinstance(loss, int | float) or not 0 <= loss <= 100):
        errors.append(invalid(f"{path}.loss", loss, "must be a percentage between 0 and 100"))
    shape = LinkShape(
        float(bw) if bw is not None else None, delay, float(loss) if loss is not None else None
    )
    return shape, errors


def _parse_nodes(raw: object, nets: dict, errors: list[FieldError]) -> list[NodeSpec]:
    if not raw:
        errors.append(required("nodes", "a cluster needs at least one node"))
        return []
    if not isinstance(raw, list):
        errors.append(invalid("nodes", raw, "must be an array of tables ([[nodes]])"))
        return []
    node_net, pod_net = (
        ipaddress.ip_network(nets["node_network"]),
        ipaddress.ip_network(nets["pod_cidr"]),
    )
    out: list[NodeSpec] = []
    for i, entry in enumerate(raw):
        path = f"nodes[{i}]"
        errors += _unknown(entry, _NODE_KEYS, path)
        name = str(entry.get("name", f"node{i + 1}"))
        errors += _name(name, f"{path}.name")
        default_ip = str(node_net.network_address + 2 + i)
        ip, errs = _ip(entry.get("ip", default_ip), f"{path}.ip")
        errors += errs
        if ip is not None and (ip not in node_net or ip == node_net.network_address + 1):
            errors.append(
                invalid(
                    f"{path}.ip",
                    str(ip),
                    f"must be inside node_network {node_net} "
                    f"and not its gateway {node_net.network_address + 1}",
                )
            )
        pod_cidr = str(entry.get("pod_cidr", f"{pod_net.network_address + (i + 1) * 256}/24"))
        errors += _pod_cidr(pod_cidr, pod_net, f"{path}.pod_cidr", [n.pod_cidr for n in out])
        link, errs = _link_shape(entry, path)
        errors += errs
        out.append(
            NodeSpec(name, str(ip) if ip else "", pod_cidr, dict(entry.get("labels") or {}), link)
        )
    return out


def _pod_cidr(value: str, pod_net, path: str, taken: list[str]) -> list[FieldError]:
    errs = _cidr(value, path)
    if errs:
        return errs
    net = ipaddress.ip_network(value)
    if not net.subnet_of(pod_net):
        return [invalid(path, value, f"must be inside cluster.pod_cidr {pod_net}")]
    if any(net.overlaps(ipaddress.ip_network(t)) for t in taken):
        return [invalid(path, value, "overlaps another node's pod_cidr")]
    return []


def _parse_hosts(raw: object, errors: list[FieldError]) -> list[HostSpec]:
    if not isinstance(raw, list):
        errors.append(invalid("hosts", raw, "must be an array of tables ([[hosts]])"))
        return []
    out = []
    for i, entry in enumerate(raw):
        path = f"hosts[{i}]"
        errors += _unknown(entry, _HOST_KEYS, path)
        name = str(entry.get("name", ""))
        errors += _name(name, f"{path}.name")
        ip, errs = _ip(entry.get("ip"), f"{path}.ip")
        errors += errs
        if ip is not None and not any(ip in r for r in DOCUMENTATION_RANGES):
            errors.append(
                invalid(
                    f"{path}.ip",
                    str(ip),
                    "hosts outside the cluster must use the documentation "
                    "ranges 192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24",
                )
            )
        elif ip is not None and int(ip) % 256 in (0, 1, 255):
            errors.append(
                invalid(f"{path}.ip", str(ip), "must not be .0, .1 (the lab's router) or .255")
            )
        role = str(entry.get("role", "host"))
        if role not in HOST_ROLES:
            errors.append(not_supported(f"{path}.role", role, HOST_ROLES))
        link, errs = _link_shape(entry, path)
        errors += errs
        pool = str(entry.get("pool", ""))
        if "pool" in entry and role != "cloud-lb":
            errors.append(invalid(f"{path}.pool", pool, "only a cloud-lb host serves a pool"))
        out.append(HostSpec(name, str(ip) if ip else "", role, link, pool))
    return out


def _pools(hosts: list[HostSpec]) -> list[FieldError]:
    """Each cloud-lb pool: a CIDR inside its host's /24, holding no host and none of the
    /24's .0, .1 (the router) or .255; one pool per lab."""
    errors: list[FieldError] = []
    with_pool = [(i, h) for i, h in enumerate(hosts) if h.pool and h.role == "cloud-lb"]
    for n, (i, host) in enumerate(with_pool):
        path = f"hosts[{i}].pool"
        if n > 0:
            errors.append(invalid(path, host.pool, "only one host may hold a pool"))
            continue
        errors += _pool(host, hosts, path)
    return errors


def _pool(host: HostSpec, hosts: list[HostSpec], path: str) -> list[FieldError]:
    try:
        pool = ipaddress.IPv4Network(host.pool)
    except ValueError:
        return [invalid(path, host.pool, "must be a valid IPv4 CIDR, e.g. 198.51.100.32/27")]
    if not host.ip:
        return []
    home = ipaddress.IPv4Network(f"{host.ip}/24", strict=False)
    if not pool.subnet_of(home):
        return [invalid(path, host.pool, f"must be inside {home}, the host's own range")]
    reserved = {home.network_address, home.network_address + 1, home.broadcast_address}
    if any(a in pool for a in reserved):
        return [invalid(path, host.pool, "must not hold .0, .1 (the lab's router) or .255")]
    for j, other in enumerate(hosts):
        if other.ip and ipaddress.ip_address(other.ip) in pool:
            return [invalid(path, host.pool, f"must not hold hosts[{j}].ip {other.ip}")]
    return []


def _name(name: str, path: str) -> list[FieldError]:
    if not name:
        return [required(path)]
    if name in ("gw", "lk-s1", "lk-s2") or not _NAME.match(name):
        return [
            invalid(
                path,
                name,
                "must be 1-10 lower-case letters, digits or '-', starting with a letter "
                "(and not 'gw', the lab's router)",
            )
        ]
    return []


def _unique_names(names: list[str]) -> list[FieldError]:
    seen, errs = set(), []
    for n in names:
        if n in seen:
            errs.append(FieldError("Duplicate", "name", "", n))
        seen.add(n)
    return errs


def _unique_ips(ips: list[tuple[str, str]]) -> list[FieldError]:
    seen, errs = set(), []
    for where, ip in ips:
        if ip and ip in seen:
            errs.append(FieldError("Duplicate", f"{where}.ip", "", ip))
        seen.add(ip)
    return errs
