"""kube-proxy's iptables mode, as text: Services + EndpointSlices -> `iptables-restore` input.

A faithful, readable transcription of `syncProxyRules` in
kubernetes/kubernetes `pkg/proxy/iptables/proxier.go` (v1.31-era). Same chains, same hash
names, same comments, same rule order and the same `%0.10f` probabilities, so
`iptables-save` on a lab node can be laid beside a real node's. The agent
(`lab_kit/agents/kube_proxy.py`) applies the result with one `iptables-restore --noflush`.

    nat PREROUTING/OUTPUT -> KUBE-SERVICES --(clusterIP:port)--> KUBE-SVC-<h> (or KUBE-SVL-<h>)
        KUBE-SVC-<h>: mark off-cluster sources for SNAT, [affinity rcheck], random pick
        KUBE-SEP-<h>: mark hairpin for SNAT, [affinity set], DNAT to ip:port
    external addresses (nodePort, externalIPs, LB ingress) -> KUBE-EXT-<h> [-> KUBE-FW-<h>]
    nat POSTROUTING -> KUBE-POSTROUTING: MASQUERADE what carries mark 0x4000
    filter: REJECT (no endpoints) / DROP (no local endpoints), KUBE-FORWARD, firewall

Chain names: "KUBE-SVC-" + the first 16 characters of base32(sha256(port name + protocol)),
e.g. `default/kubernetes:https` + `tcp` -> `KUBE-SVC-NPX46M4PTMTKRN6Y`; an endpoint chain
hashes port name + protocol + "ip:port". Services are written in sorted order (Go's map
order is random and carries no meaning).

Not written: the nodePort 127.0.0.0/8 variants, `--nodeport-addresses`, topology hints.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from lab_kit.model import constants as C
from lab_kit.render.proxy_endpoints import (
    Endpoint,
    ServicePort,
    categorize,
    endpoints_by_port,
    port_key,
    service_ports,
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

    def declare(self, chain: str) -> None:
        if chain not in self._known:
            self._known.add(chain)
            self.chains.append(chain)

    def add(self, chain: str, *words: str) -> None:
        line = " ".join(["-A", chain, *[w for w in words if w]])
        self.lines.append((chain, line))
        self.by_chain.setdefault(chain, []).append(line)

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
        """(table, chain) -> its rule lines: what a partial sync compares."""
        return {(t.name, c): t.rules(c) for t in (self.filter, self.nat) for c in t.chains}

    def service_chains(self, port_key: str) -> list[str]:
        return self.services.get(port_key, [])


def render(services: list[dict], slices: list[dict], node_name: str,
           cluster_cidr: str = C.CLUSTER_CIDR, masquerade_all: bool = False) -> ProxyRules:  # fmt: skip
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

    ports = sorted(
        (sp for s in services for sp in service_ports(s)), key=lambda p: (p.port_key, p.protocol)
    )
    eps = endpoints_by_port(slices)
    total = sum(len(v) for v in eps.values())
    w = _Writer(filt, nat, node_name, cluster_cidr, masquerade_all, total > LARGE_CLUSTER_ENDPOINTS)
    written: dict[str, list[str]] = {}
    for sp in ports:
        written[sp.port_key] = w.service_port(sp, eps.get(port_key(sp), []))

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


@dataclass
class _Writer:
    filt: Table
    nat: Table
    node_name: str
    cluster_cidr: str
    masquerade_all: bool
    large: bool  # large-cluster mode: no per-endpoint comments

    def _svc_comment(self, text: str) -> str:
        return "" if self.large else f"-m comment --comment {_comment(text)}"

    def service_port(self, sp: ServicePort, endpoints: list[Endpoint]) -> list[str]:
        name, proto = sp.port_key, sp.protocol
        cat = categorize(sp, endpoints, self.node_name)
        cluster_chain = svc_chain(name, proto)
        local_chain = svc_chain(name, proto, "KUBE-SVL-")
        ext_chain = svc_chain(name, proto, "KUBE-EXT-")
        fw_chain = svc_chain(name, proto, "KUBE-FW-")
        internal_chain = local_chain if sp.internal_local else cluster_chain
        external_chain = local_chain if sp.external_local else cluster_chain

        has_endpoints = cat.has_any
        has_internal = has_endpoints and (bool(cat.local) or not sp.internal_local)
        has_external = has_endpoints and (bool(cat.local) or not sp.external_local)
        uses_cluster = bool(cat.cluster) and sp.uses_cluster_endpoints
        uses_local = bool(cat.local) and sp.uses_local_endpoints
        uses_external = has_endpoints and sp.externally_accessible
        uses_fw = has_endpoints and bool(sp.load_balancer_ips) and bool(sp.source_ranges)
        external_entry = fw_chain if uses_fw else ext_chain

        # No endpoints anywhere: REJECT (the client sees "connection refused" at once).
        # Endpoints, but none on this node where the policy is Local: DROP.
        int_filter = ext_filter = None
        if not has_endpoints:
            int_filter = ext_filter = (f"{name} has no endpoints", "REJECT")
        else:
            if not has_internal:
                int_filter = (f"{name} has no local endpoints", "DROP")
            if not has_external:
                ext_filter = (f"{name} has no local endpoints", "DROP")
        match = f"-m {proto} -p {proto}"
        dport = f"--dport {sp.port}"
        chains: list[str] = []

        # Capture the ClusterIP.
        vip = f'-m comment --comment "{name} cluster IP" {match} -d {sp.cluster_ip} {dport}'
        if has_internal:
            self.nat.add("KUBE-SERVICES", vip, f"-j {internal_chain}")
        else:
            self.filt.add("KUBE-SERVICES", f"-m comment --comment {_comment(int_filter[0])}",
                          match, f"-d {sp.cluster_ip} {dport} -j {int_filter[1]}")  # fmt: skip
        for ip in sp.external_ips:
            if has_endpoints:
                self.nat.add("KUBE-SERVICES", f'-m comment --comment "{name} external IP"',
                             match, f"-d {ip} {dport} -j {ext_chain}")  # fmt: skip
            if ext_filter:
                self.filt.add("KUBE-EXTERNAL-SERVICES", f"-m comment --comment {_comment(ext_filter[0])}",
                              match, f"-d {ip} {dport} -j {ext_filter[1]}")  # fmt: skip
        for ip in sp.load_balancer_ips:
            if has_endpoints:
                self.nat.add("KUBE-SERVICES", f'-m comment --comment "{name} loadbalancer IP"',
                             match, f"-d {ip} {dport} -j {external_entry}")  # fmt: skip
            if uses_fw:
                self.filt.add("KUBE-PROXY-FIREWALL",
                              f'-m comment --comment "{name} traffic not accepted by {fw_chain}"',
                              match, f"-d {ip} {dport} -j DROP")  # fmt: skip
            if ext_filter:
                self.filt.add("KUBE-EXTERNAL-SERVICES", f"-m comment --comment {_comment(ext_filter[0])}",
                              match, f"-d {ip} {dport} -j {ext_filter[1]}")  # fmt: skip
        if sp.node_port:
            if has_endpoints:
                self.nat.add("KUBE-NODEPORTS", f"-m comment --comment {_comment(name)}", match,
                             f"--dport {sp.node_port} -j {ext_chain}")  # fmt: skip
            if ext_filter:
                self.filt.add("KUBE-EXTERNAL-SERVICES", f"-m comment --comment {_comment(ext_filter[0])}",
                              f"-m addrtype --dst-type LOCAL {match} --dport {sp.node_port} -j {ext_filter[1]}")  # fmt: skip
        if sp.health_check_node_port:
            self.filt.add("KUBE-NODEPORTS", f'-m comment --comment "{name} health check node port"',
                          f"-m tcp -p tcp --dport {sp.health_check_node_port} -j ACCEPT")  # fmt: skip

        # The masquerade rule for off-cluster sources heads the chain ClusterIP traffic uses.
        if has_internal:
            if self.masquerade_all:
                self.nat.add(internal_chain, vip, "-j KUBE-MARK-MASQ")
            elif self.cluster_cidr:
                self.nat.add(internal_chain, vip, f"! -s {self.cluster_cidr} -j KUBE-MARK-MASQ")

        if uses_external:
            chains.append(ext_chain)
            self.nat.declare(ext_chain)
            if not sp.external_local:
                self.nat.add(ext_chain, f'-m comment --comment "masquerade traffic for {name} external destinations"',
                             "-j KUBE-MARK-MASQ")  # fmt: skip
            else:
                if self.cluster_cidr:
                    self.nat.add(ext_chain, f'-m comment --comment "pod traffic for {name} external destinations"',
                                 f"-s {self.cluster_cidr} -j {cluster_chain}")  # fmt: skip
                self.nat.add(ext_chain, f'-m comment --comment "masquerade LOCAL traffic for {name} external destinations"',
                             "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")  # fmt: skip
                self.nat.add(ext_chain, f'-m comment --comment "route LOCAL traffic for {name} external destinations"',
                             f"-m addrtype --src-type LOCAL -j {cluster_chain}")  # fmt: skip
            if has_external:
                self.nat.add(ext_chain, f"-j {external_chain}")
        if uses_fw:
            chains.append(fw_chain)
            self.nat.declare(fw_chain)
            for src in sp.source_ranges:
                self.nat.add(
                    fw_chain,
                    f'-m comment --comment "{name} loadbalancer IP"',
                    f"-s {src} -j {ext_chain}",
                )
            self.nat.add(
                fw_chain,
                f'-m comment --comment "other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL"',
            )

        if uses_cluster:
            chains.append(cluster_chain)
            self._balance(sp, cluster_chain, cat.cluster)
        if uses_local:
            chains.append(local_chain)
            self._balance(sp, local_chain, cat.local)
        for ep in cat.all_reachable:
            sep = sep_chain(name, proto, ep.key)
            chains.append(sep)
            self.nat.declare(sep)
            comment = self._svc_comment(name)
            self.nat.add(sep, comment, f"-s {ep.ip} -j KUBE-MARK-MASQ")
            recent = f"-m recent --name {sep} --set" if sp.affinity_timeout_s else ""
            self.nat.add(sep, comment, recent, f"{match} -j DNAT --to-destination {ep.key}")
        return chains

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
