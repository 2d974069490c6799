"""kube-proxy's iptables mode, as text: Services + EndpointSlices -> `iptables-restore` input.

A faithful, readable transcription of `syncProxyRules` in
kubernetes/kubernetes `pkg/proxy/iptables/proxier.go` (v1.31-era). Same chains, same hash
names, same comments, same rule order and the same `%0.10f` probabilities, so
`iptables-save` on a lab node can be laid beside a real node's. The agent
(`lab_kit/agents/kube_proxy.py`) applies the result with one `iptables-restore --noflush`.

    nat PREROUTING/OUTPUT -> KUBE-SERVICES --(clusterIP:port)--> KUBE-SVC-<h> (or KUBE-SVL-<h>)
        KUBE-SVC-<h>: mark off-cluster sources for SNAT, [affinity rcheck], random pick
        KUBE-SEP-<h>: mark hairpin for SNAT, [affinity set], DNAT to ip:port
    external addresses (nodePort, externalIPs, LB ingress [-> KUBE-FW-<h>]) -> KUBE-EXT-<h>
    nat POSTROUTING -> KUBE-POSTROUTING: MASQUERADE what carries mark 0x4000
    filter: REJECT (no endpoints) / DROP (no local endpoints), KUBE-FORWARD, firewall

Chain names: "KUBE-SVC-" + the first 16 characters of base32(sha256(port name + protocol)),
e.g. `default/kubernetes:https` + `tcp` -> `KUBE-SVC-NPX46M4PTMTKRN6Y`; an endpoint chain
hashes port name + protocol + "ip:port". Services are written in sorted order (Go's map
order is random and carries no meaning).

Reading order: `render` declares the top-level chains; for each service port
`plan_service_port` decides once what exists here (`PortPlan`: endpoints anywhere, local
ones, a firewall chain, the REJECT/DROP verdicts, the chain names), then one `render_*`
step per chain kind writes its rules — the captures of the ClusterIP, externalIPs,
LoadBalancer IPs, nodePort and health-check nodePort, then KUBE-EXT, KUBE-FW, KUBE-SVC,
KUBE-SVL and KUBE-SEP — in syncProxyRules' order. The agent renders through a `Renderer`,
which keeps each port's rules and writes again only the ports whose inputs changed.

Not written: the nodePort 127.0.0.0/8 variants, `--nodeport-addresses`, topology hints.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass, field

from lab_kit.model import constants as C
from lab_kit.render.proxy_endpoints import (
    Categorized,
    Endpoint,
    Parsed,
    PortKey,
    ServicePort,
    categorize,
    port_key,
)

MASQ_BIT = 14  # --iptables-masquerade-bit default
LARGE_CLUSTER_ENDPOINTS = 1000  # beyond this many endpoints, per-endpoint comments are dropped

# Top-level chains kube-proxy owns, declared (and so flushed and rewritten) on every sync.
FILTER_CHAINS = (
    "KUBE-NODEPORTS",
    "KUBE-SERVICES",
    "KUBE-EXTERNAL-SERVICES",
    "KUBE-FIREWALL",
    "KUBE-FORWARD",
    "KUBE-PROXY-FIREWALL",
)
NAT_CHAINS = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
CANARY = "KUBE-PROXY-CANARY"  # an empty chain in mangle, nat and filter: if it vanishes,
# someone flushed the tables and kube-proxy must rewrite everything.

# (table, built-in chain, rule args, how kube-proxy ensures it). `prepend` rules are
# inserted at the top one by one, so on a fresh node they end up in reverse order of this
# list; kubelet appends its KUBE-FIREWALL jumps.
JUMP_RULES = (
    ("filter", "INPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES', "prepend"),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES', "prepend"),
    ("filter", "INPUT", '-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS', "prepend"),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES', "prepend"),
    ("filter", "OUTPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES', "prepend"),
    ("filter", "FORWARD", '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD', "prepend"),
    ("filter", "INPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL', "prepend"),
    ("filter", "OUTPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL', "prepend"),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL', "prepend"),
    ("nat", "OUTPUT", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES', "prepend"),
    ("nat", "PREROUTING", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES', "prepend"),
    ("nat", "POSTROUTING", '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING', "prepend"),
    ("filter", "INPUT", "-j KUBE-FIREWALL", "append"),
    ("filter", "OUTPUT", "-j KUBE-FIREWALL", "append"),
)  # fmt: skip


def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def chain_suffix(port_name: str, protocol: str) -> str:
    """`portProtoHash`: shared by a port's KUBE-SVC/SVL/EXT/FW chains."""
    return _hash16(port_name + protocol.lower())


def svc_chain(port_name: str, protocol: str, prefix: str = "KUBE-SVC-") -> str:
    return prefix + chain_suffix(port_name, protocol)


def sep_chain(port_name: str, protocol: str, endpoint: str) -> str:
    """`servicePortEndpointChainName`: endpoint is "ip:port"."""
    return "KUBE-SEP-" + _hash16(port_name + protocol.lower() + endpoint)


def probability(n: int) -> str:
    return f"{1.0 / n:0.10f}"


def _comment(text: str) -> str:
    # Go writes comments with spaces inside double quotes, others bare.
    return f'"{text}"' if " " in text else text


@dataclass
class Table:
    name: str
    chains: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (chain, "-A chain ...")
    # Indexes, so thousands of Services cost linear time: chain -> its rules, known chains.
    by_chain: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _known: set[str] = field(default_factory=set, repr=False)
    _borrowed: set[str] = field(default_factory=set, repr=False)  # lists owned by fragments

    def declare(self, chain: str) -> None:
        if chain not in self._known:
            self._known.add(chain)
            self.chains.append(chain)

    def add(self, chain: str, *words: str) -> None:
        line = " ".join(["-A", chain, *[w for w in words if w]])
        self.lines.append((chain, line))
        if chain in self._borrowed:  # a fragment's list: copy it before adding
            self.by_chain[chain] = list(self.by_chain[chain])
            self._borrowed.discard(chain)
        self.by_chain.setdefault(chain, []).append(line)

    def extend(self, other: Table) -> None:
        """Append `other`'s chains and rules after this table's own, in their order. A
        chain with no rules here yet borrows `other`'s list instead of copying it (`other`
        is a port's kept fragment, never changed once rendered); a borrowed list is copied
        before anything is added to it."""
        if self._known.isdisjoint(other.chains):  # a port's own chains: new here
            self._known.update(other.chains)
            self.chains.extend(other.chains)
        else:
            for c in other.chains:
                self.declare(c)
        self.lines.extend(other.lines)
        by_chain, borrowed = self.by_chain, self._borrowed
        for c, rules in other.by_chain.items():
            mine = by_chain.get(c)
            if mine is None:
                by_chain[c] = rules
                borrowed.add(c)
            elif c in borrowed:
                by_chain[c] = [*mine, *rules]
                borrowed.discard(c)
            else:
                mine.extend(rules)

    def has(self, chain: str) -> bool:
        return chain in self._known

    def rules(self, chain: str) -> list[str]:
        return list(self.by_chain.get(chain, ()))

    def text(self, only: set[str] | None = None, delete: tuple[str, ...] = ()) -> str:
        """The table's section of iptables-restore input. `only`: write just these chains
        (a partial sync); `delete`: stale chains to flush and remove (`-X`)."""
        keep = self.chains if only is None else [c for c in self.chains if c in only]
        out = [f"*{self.name}"]
        out += [f":{c} - [0:0]" for c in (*keep, *delete)]
        out += [line for c, line in self.lines if only is None or c in only]
        out += [f"-X {c}" for c in delete]
        out.append("COMMIT")
        return "\n".join(out) + "\n"


@dataclass
class ProxyRules:
    """The whole desired state of one node: a filter and a nat table."""

    filter: Table
    nat: Table
    services: dict[str, list[str]]  # "ns/svc:port" -> the nat chains written for it
    endpoint_count: int

    def text(self) -> str:
        return self.filter.text() + self.nat.text()

    def chain_rules(self) -> dict[tuple[str, str], list[str]]:
        """(table, chain) -> its rule lines: what a partial sync compares. The lists are
        the tables' own (not copies): a sync's tables are not changed once rendered."""
        empty: list[str] = []
        return {(t.name, c): t.by_chain.get(c, empty) for t in (self.filter, self.nat)
                for c in t.chains}  # fmt: skip

    def service_chains(self, port_key: str) -> list[str]:
        return self.services.get(port_key, [])


def render(services: list[dict], slices: list[dict], node_name: str,
           cluster_cidr: str = C.CLUSTER_CIDR, masquerade_all: bool = False,
           node_ip: str = "") -> ProxyRules:  # fmt: skip
    """The node's whole desired state. `node_ip`: kube-proxy's own node IP (a source range
    holding it lets the node reach the load-balancer IPs, see `render_fw`)."""
    return Renderer(node_name, cluster_cidr, masquerade_all, node_ip).render(services, slices)


@dataclass
class _Fragment:
    """One service port's rules, as `_Writer` wrote them into two tables of its own: the
    lines it adds to the shared chains (KUBE-SERVICES, ...) and its own chains."""

    inputs: tuple  # (ServicePort, its endpoints, large-cluster mode): all the rules depend on
    filt: Table
    nat: Table
    own: list[str]  # the nat chains of its own (what a partial sync rewrites)


class Renderer:
    """`render` with memory, for the agent: a service port whose inputs (the port, its
    endpoints, large-cluster mode) are the same as at the last sync is not written again,
    its rules are reused. The result is exactly `render`'s (same function underneath);
    only the work differs. Upstream kube-proxy gets the same effect from its change
    trackers (`pkg/proxy/servicechangetracker.go`, `endpointschangetracker.go`), which
    hand `syncProxyRules` only the services that changed."""

    def __init__(self, node_name: str, cluster_cidr: str = C.CLUSTER_CIDR,
                 masquerade_all: bool = False, node_ip: str = "") -> None:  # fmt: skip
        self.node_name, self.cluster_cidr = node_name, cluster_cidr
        self.masquerade_all, self.node_ip = masquerade_all, node_ip
        self.fragments: dict[str, _Fragment] = {}  # port_key -> its rules at the last sync
        self.parsed = Parsed()  # each object's ports / endpoints, parsed once per version
        # What the last render read, for the agent's other per-sync work (health, conntrack).
        self.ports: list[ServicePort] = []
        self.endpoints: dict[PortKey, list[Endpoint]] = {}
        self.rendered = 0  # ports written (not reused) by the last render, for tests/metrics

    def render(self, services: list[dict], slices: list[dict]) -> ProxyRules:
        mark = f"{1 << MASQ_BIT:#x}"
        filt, nat = Table("filter"), Table("nat")
        for c in FILTER_CHAINS:
            filt.declare(c)
        for c in NAT_CHAINS:
            nat.declare(c)

        nat.add("KUBE-POSTROUTING", "-m mark !", f"--mark {mark}/{mark}", "-j RETURN")
        nat.add("KUBE-POSTROUTING", f"-j MARK --xor-mark {mark}")
        nat.add("KUBE-POSTROUTING", '-m comment --comment "kubernetes service traffic requiring SNAT"',
                "-j MASQUERADE --random-fully")  # fmt: skip
        nat.add("KUBE-MARK-MASQ", f"-j MARK --or-mark {mark}")

        self.ports = self.parsed.service_ports(services)
        self.endpoints = eps = self.parsed.endpoints_by_port(slices)
        ports = sorted(self.ports, key=lambda p: (p.port_key, p.protocol))
        total = sum(len(v) for v in eps.values())
        large = total > LARGE_CLUSTER_ENDPOINTS
        written: dict[str, list[str]] = {}
        fragments: dict[str, _Fragment] = {}
        self.rendered = 0
        for sp in ports:
            frag = self._fragment(sp, eps.get(port_key(sp), []), large)
            fragments[sp.port_key] = frag
            filt.extend(frag.filt)
            nat.extend(frag.nat)
            written[sp.port_key] = frag.own
        self.fragments = fragments  # ports that went away are forgotten

        nat.add("KUBE-SERVICES",
                '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"',
                "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")  # fmt: skip
        filt.add("KUBE-FIREWALL", '-m comment --comment "block incoming localnet connections"',
                 "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")  # fmt: skip
        filt.add("KUBE-FORWARD", "-m conntrack --ctstate INVALID -j DROP")
        filt.add("KUBE-FORWARD", '-m comment --comment "kubernetes forwarding rules"',
                 f"-m mark --mark {mark}/{mark} -j ACCEPT")  # fmt: skip
        filt.add("KUBE-FORWARD", '-m comment --comment "kubernetes forwarding conntrack rule"',
                 "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")  # fmt: skip
        return ProxyRules(filt, nat, written, total)

    def _fragment(self, sp: ServicePort, endpoints: list[Endpoint], large: bool) -> _Fragment:
        inputs = (sp, tuple(endpoints), large)
        old = self.fragments.get(sp.port_key)
        if old is not None and old.inputs == inputs:
            return old
        self.rendered += 1
        filt, nat = Table("filter"), Table("nat")
        w = _Writer(filt, nat, self.node_name, self.cluster_cidr, self.masquerade_all, large,
                    self.node_ip)  # fmt: skip
        own = w.service_port(sp, endpoints)
        return _Fragment(inputs, filt, nat, own)


@dataclass(frozen=True)
class Verdict:
    """The filter rule for traffic this node cannot serve. REJECT when the Service has no
    endpoints at all (the client sees "connection refused" at once); DROP when it has some,
    but none on this node and the policy is Local."""

    comment: str
    target: str  # "REJECT" | "DROP"


def _verdict(name: str, has_endpoints: bool, has_here: bool) -> Verdict | None:
    if not has_endpoints:
        return Verdict(f"{name} has no endpoints", "REJECT")
    if not has_here:
        return Verdict(f"{name} has no local endpoints", "DROP")
    return None


@dataclass(frozen=True)
class PortChains:
    """A port's own chains; all four share one hash (`portProtoHash`)."""

    cluster: str  # KUBE-SVC-<h>: every usable endpoint (Cluster policy)
    local: str  # KUBE-SVL-<h>: this node's endpoints (Local policy)
    ext: str  # KUBE-EXT-<h>: traffic to the external addresses
    fw: str  # KUBE-FW-<h>: loadBalancerSourceRanges, checked before KUBE-EXT

    @classmethod
    def of(cls, sp: ServicePort) -> PortChains:
        h = chain_suffix(sp.port_key, sp.protocol)
        return cls(f"KUBE-SVC-{h}", f"KUBE-SVL-{h}", f"KUBE-EXT-{h}", f"KUBE-FW-{h}")


@dataclass(frozen=True)
class PortPlan:
    """Everything decided about one service port before a rule is written — the variables
    at the top of syncProxyRules' per-port loop. Each `render_*` step only reads it."""

    sp: ServicePort
    chains: PortChains
    endpoints: Categorized
    has_endpoints: bool  # some endpoint anywhere is usable (else: REJECT)
    has_internal: bool  # ClusterIP traffic arriving here has an endpoint to go to
    has_external: bool  # so has traffic to the external addresses (nodePort, LB, externalIPs)
    uses_fw: bool  # LB IPs with loadBalancerSourceRanges: KUBE-FW filters sources first
    internal_verdict: Verdict | None  # for the ClusterIP, when not has_internal
    external_verdict: Verdict | None  # for the external addresses, when not has_external

    @property
    def name(self) -> str:
        return self.sp.port_key

    @property
    def match(self) -> str:
        return f"-m {self.sp.protocol} -p {self.sp.protocol}"

    @property
    def dport(self) -> str:
        return f"--dport {self.sp.port}"

    @property
    def cluster_ip_match(self) -> str:
        """The ClusterIP capture's match, repeated by the masquerade rule heading the chain."""
        return f'-m comment --comment "{self.name} cluster IP" {self.match} -d {self.sp.cluster_ip} {self.dport}'  # fmt: skip

    @property
    def internal_chain(self) -> str:
        return self.chains.local if self.sp.internal_local else self.chains.cluster

    @property
    def external_chain(self) -> str:
        return self.chains.local if self.sp.external_local else self.chains.cluster

    @property
    def external_entry(self) -> str:
        """Where LB IP traffic enters: KUBE-FW when source ranges apply, else KUBE-EXT."""
        return self.chains.fw if self.uses_fw else self.chains.ext

    @property
    def uses_external(self) -> bool:
        return self.has_endpoints and self.sp.externally_accessible

    @property
    def uses_cluster(self) -> bool:
        return bool(self.endpoints.cluster) and self.sp.uses_cluster_endpoints

    @property
    def uses_local(self) -> bool:
        return bool(self.endpoints.local) and self.sp.uses_local_endpoints


def plan_service_port(sp: ServicePort, endpoints: list[Endpoint], node_name: str) -> PortPlan:
    cat = categorize(sp, endpoints, node_name)
    has_endpoints = cat.has_any
    has_internal = has_endpoints and (bool(cat.local) or not sp.internal_local)
    has_external = has_endpoints and (bool(cat.local) or not sp.external_local)
    return PortPlan(
        sp=sp,
        chains=PortChains.of(sp),
        endpoints=cat,
        has_endpoints=has_endpoints,
        has_internal=has_internal,
        has_external=has_external,
        uses_fw=has_endpoints and bool(sp.load_balancer_ips) and bool(sp.source_ranges),
        internal_verdict=_verdict(sp.port_key, has_endpoints, has_internal),
        external_verdict=_verdict(sp.port_key, has_endpoints, has_external),
    )


@dataclass
class _Writer:
    """Writes each service port into the two tables, one `render_*` step per chain kind."""

    filt: Table
    nat: Table
    node_name: str
    cluster_cidr: str
    masquerade_all: bool
    large: bool  # large-cluster mode: no per-endpoint comments
    node_ip: str = ""

    def service_port(self, sp: ServicePort, endpoints: list[Endpoint]) -> list[str]:
        """All of one port's rules, in syncProxyRules' order; returns the nat chains of its
        own (what a partial sync rewrites when they change)."""
        p = plan_service_port(sp, endpoints, self.node_name)
        # Capture traffic to each of the port's addresses (KUBE-SERVICES, KUBE-NODEPORTS).
        self.render_cluster_ip(p)
        self.render_external_ips(p)
        self.render_load_balancer_ips(p)
        self.render_node_port(p)
        self.render_health_check_node_port(p)
        # The port's own chains.
        self.render_internal_masquerade(p)
        return [
            *self.render_ext(p),
            *self.render_fw(p),
            *self.render_svc(p),
            *self.render_svl(p),
            *self.render_seps(p),
        ]

    def _verdict_rule(self, chain: str, verdict: Verdict | None, *words: str) -> None:
        """The filter rule for traffic that cannot be served here (none when it can)."""
        if verdict:
            self.filt.add(chain, f"-m comment --comment {_comment(verdict.comment)}", *words,
                          f"-j {verdict.target}")  # fmt: skip

    # --- capturing the port's addresses ----------------------------------------------------

    def render_cluster_ip(self, p: PortPlan) -> None:
        """ClusterIP -> KUBE-SVC (or KUBE-SVL); with nowhere to send it, REJECT or DROP."""
        if p.has_internal:
            self.nat.add("KUBE-SERVICES", p.cluster_ip_match, f"-j {p.internal_chain}")
        self._verdict_rule("KUBE-SERVICES", p.internal_verdict,
                           p.match, f"-d {p.sp.cluster_ip} {p.dport}")  # fmt: skip

    def render_external_ips(self, p: PortPlan) -> None:
        """spec.externalIPs -> KUBE-EXT."""
        for ip in p.sp.external_ips:
            if p.has_endpoints:
                self.nat.add("KUBE-SERVICES", f'-m comment --comment "{p.name} external IP"',
                             p.match, f"-d {ip} {p.dport} -j {p.chains.ext}")  # fmt: skip
            self._verdict_rule("KUBE-EXTERNAL-SERVICES", p.external_verdict,
                               p.match, f"-d {ip} {p.dport}")  # fmt: skip

    def render_load_balancer_ips(self, p: PortPlan) -> None:
        """status.loadBalancer.ingress IPs (ipMode VIP) -> KUBE-FW or KUBE-EXT; what KUBE-FW
        does not accept is dropped in the filter table's KUBE-PROXY-FIREWALL."""
        for ip in p.sp.load_balancer_ips:
            if p.has_endpoints:
                self.nat.add("KUBE-SERVICES", f'-m comment --comment "{p.name} loadbalancer IP"',
                             p.match, f"-d {ip} {p.dport} -j {p.external_entry}")  # fmt: skip
            if p.uses_fw:
                self.filt.add("KUBE-PROXY-FIREWALL",
                              f'-m comment --comment "{p.name} traffic not accepted by {p.chains.fw}"',
                              p.match, f"-d {ip} {p.dport} -j DROP")  # fmt: skip
            self._verdict_rule("KUBE-EXTERNAL-SERVICES", p.external_verdict,
                               p.match, f"-d {ip} {p.dport}")  # fmt: skip

    def render_node_port(self, p: PortPlan) -> None:
        """Any local address, the port's nodePort -> KUBE-EXT (from KUBE-NODEPORTS, which
        KUBE-SERVICES jumps to last)."""
        if not p.sp.node_port:
            return
        if p.has_endpoints:
            self.nat.add("KUBE-NODEPORTS", f"-m comment --comment {_comment(p.name)}",
                         p.match, f"--dport {p.sp.node_port} -j {p.chains.ext}")  # fmt: skip
        self._verdict_rule("KUBE-EXTERNAL-SERVICES", p.external_verdict,
                           "-m addrtype --dst-type LOCAL", p.match, f"--dport {p.sp.node_port}")  # fmt: skip

    def render_health_check_node_port(self, p: PortPlan) -> None:
        """ETP=Local LoadBalancer: accept the cloud's health checks (kube-proxy answers them)."""
        if p.sp.health_check_node_port:
            self.filt.add("KUBE-NODEPORTS", f'-m comment --comment "{p.name} health check node port"',
                          f"-m tcp -p tcp --dport {p.sp.health_check_node_port} -j ACCEPT")  # fmt: skip

    # --- the port's own chains -------------------------------------------------------------

    def render_internal_masquerade(self, p: PortPlan) -> None:
        """Heads the chain ClusterIP traffic uses: off-cluster sources are marked for SNAT,
        so replies come back through this node."""
        if not p.has_internal:
            return
        if self.masquerade_all:
            self.nat.add(p.internal_chain, p.cluster_ip_match, "-j KUBE-MARK-MASQ")
        elif self.cluster_cidr:
            self.nat.add(p.internal_chain, p.cluster_ip_match,
                         f"! -s {self.cluster_cidr} -j KUBE-MARK-MASQ")  # fmt: skip

    def render_ext(self, p: PortPlan) -> list[str]:
        """KUBE-EXT-<h>: traffic to an external address. Cluster policy: masquerade all of
        it. Local policy: keep the client's address; only pods and the node itself are
        sent to the Cluster chain (and the node's own traffic masqueraded)."""
        if not p.uses_external:
            return []
        ext, name = p.chains.ext, p.name
        self.nat.declare(ext)
        if not p.sp.external_local:
            self.nat.add(ext, f'-m comment --comment "masquerade traffic for {name} external destinations"',
                         "-j KUBE-MARK-MASQ")  # fmt: skip
        else:
            if self.cluster_cidr:
                self.nat.add(ext, f'-m comment --comment "pod traffic for {name} external destinations"',
                             f"-s {self.cluster_cidr} -j {p.chains.cluster}")  # fmt: skip
            self.nat.add(ext, f'-m comment --comment "masquerade LOCAL traffic for {name} external destinations"',
                         "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")  # fmt: skip
            self.nat.add(ext, f'-m comment --comment "route LOCAL traffic for {name} external destinations"',
                         f"-m addrtype --src-type LOCAL -j {p.chains.cluster}")  # fmt: skip
        if p.has_external:
            self.nat.add(ext, f"-j {p.external_chain}")
        return [ext]

    def render_fw(self, p: PortPlan) -> list[str]:
        """KUBE-FW-<h>: only loadBalancerSourceRanges go on to KUBE-EXT; the rest falls
        through and KUBE-PROXY-FIREWALL (filter) drops it."""
        if not p.uses_fw:
            return []
        fw, comment = p.chains.fw, f'-m comment --comment "{p.name} loadbalancer IP"'
        self.nat.declare(fw)
        for src in p.sp.source_ranges:
            self.nat.add(fw, comment, f"-s {src} -j {p.chains.ext}")
        # A node calling an LB IP that is also one of its own addresses (a VIP routed
        # locally) comes back from that address: let it in if the node itself may.
        if _in_any(self.node_ip, p.sp.source_ranges):
            for ip in p.sp.load_balancer_ips:
                self.nat.add(fw, comment, f"-s {ip} -j {p.chains.ext}")
        self.nat.add(fw, f'-m comment --comment "other traffic to {p.name} will be dropped by KUBE-PROXY-FIREWALL"')  # fmt: skip
        return [fw]

    def render_svc(self, p: PortPlan) -> list[str]:
        """KUBE-SVC-<h>: a random pick among every usable endpoint (Cluster policy)."""
        if not p.uses_cluster:
            return []
        self._balance(p.sp, p.chains.cluster, p.endpoints.cluster)
        return [p.chains.cluster]

    def render_svl(self, p: PortPlan) -> list[str]:
        """KUBE-SVL-<h>: a random pick among this node's endpoints (Local policy)."""
        if not p.uses_local:
            return []
        self._balance(p.sp, p.chains.local, p.endpoints.local)
        return [p.chains.local]

    def render_seps(self, p: PortPlan) -> list[str]:
        """KUBE-SEP-<h>, one per endpoint reachable from here: mark hairpin traffic (the
        endpoint calling itself) for SNAT, [remember the client for affinity], DNAT."""
        chains, comment = [], self._svc_comment(p.name)
        for ep in p.endpoints.all_reachable:
            sep = sep_chain(p.name, p.sp.protocol, ep.key)
            chains.append(sep)
            self.nat.declare(sep)
            self.nat.add(sep, comment, f"-s {ep.ip} -j KUBE-MARK-MASQ")
            recent = f"-m recent --name {sep} --set" if p.sp.affinity_timeout_s else ""
            self.nat.add(sep, comment, recent, f"{p.match} -j DNAT --to-destination {ep.key}")
        return chains

    def _svc_comment(self, text: str) -> str:
        return "" if self.large else f"-m comment --comment {_comment(text)}"

    def _balance(self, sp: ServicePort, chain: str, endpoints: list[Endpoint]) -> None:
        """`writeServiceToEndpointRules`: affinity checks first, then 1/n, 1/(n-1), ..., 1."""
        self.nat.declare(chain)
        name, n = sp.port_key, len(endpoints)
        if sp.affinity_timeout_s:
            for ep in endpoints:
                sep = sep_chain(name, sp.protocol, ep.key)
                self.nat.add(chain, self._svc_comment(f"{name} -> {ep.key}"),
                             f"-m recent --name {sep} --rcheck --seconds {sp.affinity_timeout_s} --reap -j {sep}")  # fmt: skip
        for i, ep in enumerate(endpoints):
            stat = (
                f"-m statistic --mode random --probability {probability(n - i)}"
                if i < n - 1
                else ""
            )
            self.nat.add(chain, self._svc_comment(f"{name} -> {ep.key}"), stat,
                         f"-j {sep_chain(name, sp.protocol, ep.key)}")  # fmt: skip


def _in_any(ip: str, cidrs: tuple[str, ...]) -> bool:
    if not ip:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(c, strict=False) for c in cidrs)


def jump_rules_missing(saved: str) -> str:
    """iptables-restore input (for --noflush) that adds the jump rules from the built-in
    chains which `saved` (an `iptables-save` of the node) lacks, plus the canary chains."""
    present = {line.strip() for line in saved.splitlines()}
    sections: dict[str, list[str]] = {"mangle": [], "filter": [], "nat": []}
    for table, builtin, args, how in JUMP_RULES:
        if f"-A {builtin} {args}" in present:
            continue
        if how == "prepend":
            sections[table].append(f"-I {builtin} 1 {args}")
        else:
            sections[table].append(f"-A {builtin} {args}")
    out = []
    for table, lines in sections.items():
        chains = FILTER_CHAINS if table == "filter" else NAT_CHAINS if table == "nat" else ()
        out.append(f"*{table}")
        # Declaring a chain flushes it: only declare the ones that do not exist yet.
        out += [
            f":{c} - [0:0]" for c in (*chains, CANARY) if f":{c} " not in saved_chains(saved, table)
        ]
        out += lines
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def saved_chains(saved: str, table: str) -> str:
    """The chain declaration lines of one table in iptables-save output (joined)."""
    in_table, lines = False, []
    for line in saved.splitlines():
        if line.startswith("*"):
            in_table = line[1:].strip() == table
        elif in_table and line.startswith(":"):
            lines.append(line.split()[0] + " ")
    return "".join(lines)
