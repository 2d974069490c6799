"""The cloud load balancer's decisions: which nodes serve each LB address, how healthy
each node is, and the nftables ruleset that sends a flow to its node.

The `cloud-lb` host plays a cloud's network load balancer (GCP's external passthrough
NLB, Azure's Standard LB) for every `type: LoadBalancer` Service whose
`status.loadBalancer.ingress[].ip` a cloud controller wrote. It reaches the nodes as such
a load balancer reaches its VMs, from inside the VPC (its leg on the node network):

    client 192.0.2.10 ──► gw (routes the LB pool to cloud-lb) ──► cloud-lb
        ipMode VIP (pass-through):  src 192.0.2.10  dst LB:80        nothing rewritten:
            a mark per flow -> a routing table -> next hop = the chosen node; the node's
            kube-proxy rules take the LB address (KUBE-EXT); replies go node ─► gw ─►
            client straight (direct server return), never back through cloud-lb
        ipMode Proxy:  dst LB:80 -> node:nodePort, src 192.0.2.10 -> cloud-lb's leg
            (DNAT + SNAT): the node, and under Local the pod, sees the LB's address;
            replies come back through cloud-lb

What it decides, all pure, all on data:

1. Backends: the nodes the service controller of cloud-controller-manager (v1.30+, KEP-3458)
   would hand the cloud (`stableNodeSetPredicates`: not being deleted, no
   `node.kubernetes.io/exclude-from-external-load-balancers` label that parses as true, no
   `ToBeDeletedByClusterAutoscaler` taint; a node's readiness is NOT a predicate: health
   checks decide), in rotation while their health check passes.
2. Health checks as GKE writes them: `GET /` on the Service's `healthCheckNodePort` under
   `externalTrafficPolicy: Local` (kube-proxy answers 200 only where the Service has a
   ready local endpoint), `GET /healthz` on kube-proxy's port 10256 under Cluster. GKE's
   thresholds (timeout 1 s, healthy after 1 success, unhealthy after 3 failures) at a lab
   pace: every 1 s instead of 8 s, so a failing node leaves the rotation within
   `LEAVES_ROTATION_WITHIN_S` (4 s; 25 s on GKE) and comes back on its first pass.
3. Fail open: when no node of an address passes, every candidate node gets traffic (as
   AWS's NLB and GCP's passthrough NLB do), rather than none.
4. Flows stick without state: a flow's node is looked up in a Maglev table (Eisenbud et
   al., NSDI 2016: GCP's network LB) of LOOKUP_SIZE slots indexed by a hash of its 5-tuple
   (a fixed seed), for every packet. VIP flows are not tracked at all (`notrack`): the
   replies never come back through the LB, so conntrack would only ever see half of each
   connection and call the client's second packet invalid. The table moves only the
   slots of a node that leaves, so flows on the other nodes stay where they are.

Unlike a cloud, the LB gets its node list from the API itself (there is no cloud API
between a service controller and it); Proxy mode rewrites addresses (full NAT) rather
than terminating TCP: one connection end to end, what the node and pod see is the same;
and a node that leaves the rotation takes its established connections with it (GCP keeps
them there by default: its Maglev instances also track connections).
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

# --- health checks ----------------------------------------------------------------------------
# GKE's own (cloud-provider-gcp gce_healthchecks.go: the node health check it creates).
GKE_CHECK_INTERVAL_S, GKE_CHECK_TIMEOUT_S = 8.0, 1.0
GKE_HEALTHY_THRESHOLD, GKE_UNHEALTHY_THRESHOLD = 1, 3
# The lab's: GKE's timeout and thresholds, checked every second instead of every 8.
CHECK_INTERVAL_S = 1.0
CHECK_TIMEOUT_S = GKE_CHECK_TIMEOUT_S
HEALTHY_THRESHOLD = GKE_HEALTHY_THRESHOLD  # consecutive passes to enter the rotation
UNHEALTHY_THRESHOLD = GKE_UNHEALTHY_THRESHOLD  # consecutive failures to leave it
# The worst case: a node fails just after a pass; the third failed check ends in a timeout.
LEAVES_ROTATION_WITHIN_S = CHECK_INTERVAL_S * UNHEALTHY_THRESHOLD + CHECK_TIMEOUT_S
COMES_BACK_WITHIN_S = CHECK_INTERVAL_S * HEALTHY_THRESHOLD + CHECK_TIMEOUT_S

KUBE_PROXY_HEALTHZ_PORT, KUBE_PROXY_HEALTHZ_PATH = 10256, "/healthz"
SERVICE_HEALTH_PATH = "/"  # kube-proxy answers any path on a healthCheckNodePort

# --- which nodes (cloud-provider controllers/service/controller.go) --------------------------
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"

# --- the data plane --------------------------------------------------------------------------
TABLE = "cloud-lb"  # `nft list table ip cloud-lb` in the cloud-lb host
ROUTE_TABLE_BASE = 100  # node i (1-based, topology order): fwmark i -> routing table 100+i
RULE_PRIORITY_BASE = 1000
PROTOCOLS = ("TCP", "UDP")  # a passthrough NLB's; SCTP is left out
LOOKUP_SIZE = 31  # slots of each Maglev table (a prime; Maglev's own is 65537)
HASH_SEED = 0x6C6B  # fixed: a new ruleset must hash a flow to the same slot

HEALTHY, UNHEALTHY, UNKNOWN = "Healthy", "Unhealthy", "Unknown"


@dataclass(frozen=True)
class LbNode:
    """A node as the LB knows it: its address on the node network and its flow mark."""

    name: str
    ip: str
    mark: int  # the packet mark that routes a flow to this node

    @property
    def route_table(self) -> int:
        return ROUTE_TABLE_BASE + self.mark


def lb_nodes(nodes: Iterable[tuple[str, str]]) -> list[LbNode]:
    """(name, ip) of the topology's nodes, in its order -> marks 1, 2, 3... (stable for the
    lab's life: a flow's mark must mean the same node after a restart)."""
    return [LbNode(name, ip, i + 1) for i, (name, ip) in enumerate(nodes)]


def leg_interface(host: str) -> str:
    """cloud-lb's interface on the node network (its second link: Mininet's <host>-eth1)."""
    return f"{host}-eth1"


def leg_address(node_network: str, taken: Iterable[str]) -> str:
    """cloud-lb's own address on the node network: its last free host address (kind puts
    nodes at the bottom of the range, from .2)."""
    net = ipaddress.ip_network(node_network)
    used = {ipaddress.ip_address(a) for a in taken} | {net.network_address + 1}
    address = net.broadcast_address - 1
    while address in used:
        address -= 1
    return str(address)


def policy_routes(nodes: Iterable[LbNode], leg: str) -> list[list[str]]:
    """What cloud-lb's namespace needs once: per node, a routing table whose default route
    is that node, and a rule sending packets with the node's mark to it."""
    argv: list[list[str]] = []
    for n in nodes:
        table = str(n.route_table)
        argv.append(["ip", "route", "replace", "default", "via", n.ip, "dev", leg, "table", table])
        argv.append(["ip", "rule", "add", "fwmark", str(n.mark), "table", table,
                     "priority", str(RULE_PRIORITY_BASE + n.mark)])  # fmt: skip
    return argv


def router_plan(pool: str, lb_ip: str, outside: str, cluster: str) -> list[list[str]]:
    """What the router `gw` runs for the pool (the VPC's route to its load balancer)."""
    return [
        ["ip", "route", "add", pool, "via", lb_ip, "dev", outside],
        # Direct server return: a reply from a node has the LB address as its source, and
        # the router routes the pool the other way: reverse-path filtering must be loose.
        ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=2"],
        ["sysctl", "-qw", f"net.ipv4.conf.{cluster}.rp_filter=2"],
        # The client and cloud-lb share the outside switch: no ICMP redirect telling the
        # client to skip the router (which would hide the hop a learner is shown).
        ["sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0"],
        ["sysctl", "-qw", f"net.ipv4.conf.{outside}.send_redirects=0"],
    ]


def host_plan(leg: str, leg_address: str, prefix: int, pool: str,
              nodes: Iterable[LbNode]) -> list[list[str]]:  # fmt: skip
    """What the cloud-lb host runs once: forwarding, its leg on the node network, the
    per-node routing tables, and a blackhole for the pool, so a packet for an LB address
    that no rule sends to a node (an unused address, a port not forwarded, a ping) is
    dropped here instead of bouncing back to the router."""
    return [
        ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
        ["ip", "addr", "add", f"{leg_address}/{prefix}", "dev", leg],
        ["ip", "link", "set", leg, "up"],
        ["ip", "route", "add", "blackhole", pool],
        *policy_routes(nodes, leg),
    ]


def is_eligible(node: dict) -> bool:
    """The service controller's stableNodeSetPredicates for one Node object."""
    md = node.get("metadata") or {}
    if md.get("deletionTimestamp"):
        return False
    label = (md.get("labels") or {}).get(EXCLUDE_LABEL)
    if label is not None and _parse_bool(label) is not False:  # unparseable: excluded
        return False
    taints = (node.get("spec") or {}).get("taints") or []
    return not any(t.get("key") == TO_BE_DELETED_TAINT for t in taints)


def _parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


# --- what to balance --------------------------------------------------------------------------
@dataclass(frozen=True)
class LbPort:
    protocol: str  # "tcp" | "udp" (nft's words)
    port: int
    node_port: int | None


@dataclass(frozen=True)
class HealthCheck:
    port: int
    path: str

    def url(self, ip: str) -> str:
        return f"http://{ip}:{self.port}{self.path}"


@dataclass(frozen=True)
class Frontend:
    """One LB address of one Service (a cloud's forwarding rule and its backend service)."""

    address: str
    mode: str  # "VIP" | "Proxy" (status.loadBalancer.ingress[].ipMode)
    service: str  # "namespace/name"
    traffic_policy: str  # externalTrafficPolicy
    ports: tuple[LbPort, ...]
    check: HealthCheck
    nodes: tuple[str, ...]  # candidate nodes (the predicates), names in topology order
    notes: tuple[str, ...] = ()


def frontends(services: Iterable[dict], node_objects: Iterable[dict],
              nodes: list[LbNode]) -> list[Frontend]:  # fmt: skip
    """Every LB address the Services' status names, in (namespace, name) order; an
    address:port a Service earlier in that order already holds is left to it."""
    registered = {(n.get("metadata") or {}).get("name"): n for n in node_objects}
    candidates = tuple(n.name for n in nodes if n.name in registered and
                       is_eligible(registered[n.name]))  # fmt: skip
    taken: set[tuple[str, str, int]] = set()
    out = []
    for svc in sorted(services, key=_key):
        for address, mode in _ingress(svc):
            fe = _frontend(svc, address, mode, candidates, taken)
            if fe is not None:
                out.append(fe)
    return out


def _key(svc: dict) -> tuple[str, str]:
    md = svc.get("metadata") or {}
    return md.get("namespace") or "default", md.get("name") or ""


def _ingress(svc: dict) -> list[tuple[str, str]]:
    """(IPv4 address, ipMode) of a Service this cloud balances: type LoadBalancer and no
    loadBalancerClass (a Service of another class belongs to another implementation)."""
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass"):
        return []
    out = []
    for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        ip = ing.get("ip") or ""
        try:
            if ipaddress.ip_address(ip).version == 4:
                out.append((ip, ing.get("ipMode") or "VIP"))
        except ValueError:
            continue  # a hostname-only ingress, or IPv6: not this LB's
    return out


def _frontend(svc: dict, address: str, mode: str, candidates: tuple[str, ...],
              taken: set[tuple[str, str, int]]) -> Frontend | None:  # fmt: skip
    spec = svc.get("spec") or {}
    ports, notes = [], []
    for p in spec.get("ports") or []:
        proto = (p.get("protocol") or "TCP").upper()
        if proto not in PROTOCOLS:
            notes.append(f"{p.get('port')}/{proto}: not a protocol this LB forwards")
            continue
        key = (address, proto.lower(), int(p["port"]))
        if key in taken:
            notes.append(f"{address}:{p['port']}/{proto} is already another Service's")
            continue
        if mode == "Proxy" and not p.get("nodePort"):
            notes.append(f"{p['port']}/{proto}: no nodePort to proxy to")
            continue
        taken.add(key)
        ports.append(LbPort(proto.lower(), int(p["port"]), p.get("nodePort")))
    if not ports:
        return None
    local = spec.get("externalTrafficPolicy") == "Local"
    if local and spec.get("healthCheckNodePort"):
        check = HealthCheck(int(spec["healthCheckNodePort"]), SERVICE_HEALTH_PATH)
    else:
        check = HealthCheck(KUBE_PROXY_HEALTHZ_PORT, KUBE_PROXY_HEALTHZ_PATH)
    ns, name = _key(svc)
    return Frontend(address, mode, f"{ns}/{name}", "Local" if local else "Cluster",
                    tuple(ports), check, candidates, tuple(notes))  # fmt: skip


# --- health -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One health check on one node (Services under Cluster share kube-proxy's)."""

    node: str
    ip: str
    check: HealthCheck

    @property
    def url(self) -> str:
        return self.check.url(self.ip)


@dataclass(frozen=True)
class Health:
    state: str = UNKNOWN
    passes: int = 0  # consecutive
    failures: int = 0  # consecutive
    since: float | None = None  # when `state` began
    last: str = ""  # the last answer: "200", "503", "timeout", ...


def observe(h: Health, passed: bool, now: float, answer: str) -> Health:
    """One check's result. Healthy after HEALTHY_THRESHOLD passes in a row, unhealthy
    after UNHEALTHY_THRESHOLD failures in a row; a node never seen passing is out of the
    rotation from its first failure (it never was in)."""
    passes, failures = (h.passes + 1, 0) if passed else (0, h.failures + 1)
    state = h.state
    if passed and passes >= HEALTHY_THRESHOLD:
        state = HEALTHY
    elif not passed and (failures >= UNHEALTHY_THRESHOLD or h.state == UNKNOWN):
        state = UNHEALTHY
    since = now if state != h.state else h.since
    return replace(h, state=state, passes=passes, failures=failures, since=since, last=answer)


def targets(fes: Iterable[Frontend], nodes: list[LbNode]) -> list[Target]:
    by_name = {n.name: n for n in nodes}
    out = {Target(name, by_name[name].ip, fe.check) for fe in fes for name in fe.nodes}
    return sorted(out, key=lambda t: (t.node, t.check.port, t.check.path))


@dataclass(frozen=True)
class Balanced:
    """A frontend with the nodes its new flows go to."""

    frontend: Frontend
    backends: tuple[LbNode, ...]
    fail_open: bool  # no candidate passes: all of them get traffic
    health: Mapping[str, Health] = field(default_factory=dict)  # per candidate node


def balance(fes: Iterable[Frontend], nodes: list[LbNode],
            health: Mapping[Target, Health]) -> list[Balanced]:  # fmt: skip
    by_name = {n.name: n for n in nodes}
    out = []
    for fe in fes:
        states = {
            name: health.get(Target(name, by_name[name].ip, fe.check), Health())
            for name in fe.nodes
        }
        up = tuple(by_name[n] for n in fe.nodes if states[n].state == HEALTHY)
        fail_open = not up and bool(fe.nodes)
        chosen = tuple(by_name[n] for n in fe.nodes) if fail_open else up
        out.append(Balanced(fe, chosen, fail_open, states))
    return out


# --- the ruleset ------------------------------------------------------------------------------
def render_ruleset(plan: Iterable[Balanced], leg: str) -> str:
    """The whole `table ip cloud-lb`, replaced in one `nft -f` transaction:

    ip daddr 198.51.100.63 tcp dport 80 jump vip-198.51.100.63-tcp-80
    notrack counter meta mark set jhash ip saddr . tcp sport . ip daddr . tcp dport
        mod 31 seed 0x6c6b map { 0 : 0x1, 1 : 0x3, 2 : 0x2, ... }
    """
    plan = list(plan)
    raw: list[str] = []
    dstnat: list[str] = []
    chains: list[str] = []
    for b in plan:
        fe = b.frontend
        for p in fe.ports:
            chain = f"{fe.mode.lower()}-{fe.address}-{p.protocol}-{p.port}"
            match = f"ip daddr {fe.address} {p.protocol} dport {p.port}"
            rule = (
                f"{match} jump {chain} {_comment(f'{fe.service}:{p.port}/{p.protocol} {fe.mode}')}"
            )
            (dstnat if fe.mode == "Proxy" else raw).append(rule)
            chains += [f"\tchain {chain} {{", f"\t\t{_choose(b, p)}", "\t}"]
    lines = [f"table ip {TABLE}", f"delete table ip {TABLE}", f"table ip {TABLE} {{"]
    lines += _base("prerouting", "type filter hook prerouting priority raw", raw)
    lines += _base("dstnat", "type nat hook prerouting priority dstnat", dstnat)
    lines += _base("srcnat", "type nat hook postrouting priority srcnat", [
        f'oifname "{leg}" ct status dnat masquerade comment "Proxy: the node sees the LB"',
    ])  # fmt: skip
    lines += _base("forward", "type filter hook forward priority filter", _forward(plan))
    return "\n".join([*lines, *chains, "}", ""])


def _forward(plan: list[Balanced]) -> list[str]:
    """Drop what no rule sent to a node; count replies from a VIP address (none: they go
    from the node to the client directly)."""
    every = sorted({b.frontend.address for b in plan}, key=ipaddress.ip_address)
    vips = [a for a in every if any(b.frontend.address == a and b.frontend.mode == "VIP"
                                    for b in plan)]  # fmt: skip
    rules = []
    if every:
        rules.append(f"ip daddr {{ {', '.join(every)} }} meta mark 0 drop "
                     + _comment("only the LB's ports and protocols"))  # fmt: skip
    if vips:
        rules.append(f"ip saddr {{ {', '.join(vips)} }} counter "
                     + _comment("VIP replies through the LB: none (direct server return)"))  # fmt: skip
    return rules


def _base(name: str, hook: str, rules: list[str]) -> list[str]:
    return [f"\tchain {name} {{", f"\t\t{hook}; policy accept;", *(f"\t\t{r}" for r in rules),
            "\t}"]  # fmt: skip


def _comment(text: str) -> str:
    return 'comment "' + text.replace('"', "'") + '"'


def _choose(b: Balanced, p: LbPort) -> str:
    """One rule: the flow's node from the Maglev table, or a drop with no node at all."""
    if not b.backends:
        return f"drop {_comment('no node to send it to')}"
    table = maglev_table([n.name for n in b.backends])
    by_name = {n.name: n for n in b.backends}
    h = (f"jhash ip saddr . {p.protocol} sport . ip daddr . {p.protocol} dport "
         f"mod {LOOKUP_SIZE} seed {HASH_SEED:#x}")  # fmt: skip
    if b.frontend.mode == "Proxy":
        slots = ", ".join(f"{i} : {by_name[n].ip} . {p.node_port}" for i, n in enumerate(table))
        return f"counter dnat to {h} map {{ {slots} }}"
    slots = ", ".join(f"{i} : {by_name[n].mark:#x}" for i, n in enumerate(table))
    return f"notrack counter meta mark set {h} map {{ {slots} }}"


def maglev_table(backends: list[str], size: int = LOOKUP_SIZE) -> list[str]:
    """Maglev's lookup table (the paper's Population algorithm): each backend has its own
    permutation of the slots (an offset and a skip from two hashes of its name) and, in
    turns, takes its next preferred free slot. Every backend gets size/n slots (±1), and
    removing one moves little more than its own slots."""
    if not backends:
        return []
    prefs = []
    for name in sorted(backends):
        offset = _hash(f"offset/{name}") % size
        skip = _hash(f"skip/{name}") % (size - 1) + 1
        prefs.append((name, offset, skip))
    table: list[str | None] = [None] * size
    nexts = [0] * len(prefs)
    filled = 0
    while filled < size:
        for i, (name, offset, skip) in enumerate(prefs):
            slot = (offset + nexts[i] * skip) % size
            while table[slot] is not None:
                nexts[i] += 1
                slot = (offset + nexts[i] * skip) % size
            table[slot] = name
            nexts[i] += 1
            filled += 1
            if filled == size:
                break
    return [name for name in table if name is not None]


def _hash(text: str) -> int:
    """A stable hash (Python's own hash() changes with every process)."""
    return zlib.crc32(text.encode())


def view(plan: Iterable[Balanced], nodes: list[LbNode], leg_ip: str) -> dict:
    """What the agent writes for `labkit lb` / `Lab.load_balancer()`: per address its
    Service, mode, ports and each candidate node's health and place in the rotation."""
    addresses = []
    for b in plan:
        fe = b.frontend
        chosen = {n.name for n in b.backends}
        addresses.append({
            "address": fe.address, "service": fe.service, "mode": fe.mode,
            "externalTrafficPolicy": fe.traffic_policy,
            "ports": [{"protocol": p.protocol, "port": p.port, "nodePort": p.node_port}
                      for p in fe.ports],
            "healthCheck": {"port": fe.check.port, "path": fe.check.path},
            "failOpen": b.fail_open, "notes": list(fe.notes),
            "nodes": [{"name": name, "ip": _ip(nodes, name), "state": h.state,
                       "last": h.last, "since": h.since, "inRotation": name in chosen}
                      for name, h in b.health.items()],
        })  # fmt: skip
    return {
        "legAddress": leg_ip,
        "settings": {
            "intervalS": CHECK_INTERVAL_S,
            "timeoutS": CHECK_TIMEOUT_S,
            "healthyThreshold": HEALTHY_THRESHOLD,
            "unhealthyThreshold": UNHEALTHY_THRESHOLD,
            "leavesRotationWithinS": LEAVES_ROTATION_WITHIN_S,
        },  # fmt: skip
        "addresses": addresses,
    }


def _ip(nodes: list[LbNode], name: str) -> str:
    return next((n.ip for n in nodes if n.name == name), "")
