"""Walk the first packet of a connection through a node's iptables rules, rule by rule.

Pure: the input is a parsed `Ruleset` (see `ruleset.py`), a `Packet` and the `NodeContext`
(which addresses are local, which egress address MASQUERADE picks); nothing touches a
kernel. The walk follows netfilter's order of hooks:

    forwarded: nat PREROUTING -> routing -> filter FORWARD -> nat POSTROUTING
                                        `-> filter INPUT -> nat INPUT  (dst is local)
    local:     nat OUTPUT -> filter OUTPUT -> nat POSTROUTING (-> filter INPUT if dst local)

(raw, mangle and security chains are walked too when the ruleset has rules in them.) A
packet to a local address is not seen by POSTROUTING, and a locally sent one does not see
nat INPUT: NAT is decided once per direction of a connection, and POSTROUTING decided it.

Semantics kept: jumps return to the caller's next rule on RETURN or at a user chain's end;
a built-in chain's end applies its policy; ACCEPT/DNAT/SNAT/MASQUERADE end that table's
hook, DROP/REJECT end the packet; MARK changes the mark and continues; the IP header
matches are checked before the -m matches; `-m recent` reads and writes the `recent` lists
(one set of addresses per list name) the caller passes, and the trace returns the new ones.
Only NEW packets are traced, so `--ctstate` sees NEW, plus DNAT/SNAT once NAT happened.

`-m statistic --mode random` is the only chance: `choose` decides it (see `trace`), and
`outcomes` walks every branch, multiplying the probabilities as printed in the rules
(Fractions, so 1/3 and 2/3 x 1/2 come out equal).
"""

from __future__ import annotations

import html
import ipaddress
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

from lab_kit.model.constants import CLUSTER_CIDR
from lab_kit.trace.ruleset import BUILTIN_CHAINS, Match, Rule, Ruleset

HOOKS = {  # (table, chain) in netfilter priority order
    "prerouting": [("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("nat", "PREROUTING")],
    "input": [("mangle", "INPUT"), ("filter", "INPUT"), ("security", "INPUT"), ("nat", "INPUT")],
    "forward": [("mangle", "FORWARD"), ("filter", "FORWARD"), ("security", "FORWARD")],
    "output": [(t, "OUTPUT") for t in ("raw", "mangle", "nat", "filter", "security")],
    "postrouting": [("mangle", "POSTROUTING"), ("nat", "POSTROUTING")],
}
NAT_TARGETS = ("DNAT", "SNAT", "MASQUERADE")
_GO_ON = object()  # a rule's target let the packet continue with the chain's next rule
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass(frozen=True)
class NodeContext:
    """What the tracer must know about the node whose rules these are."""

    name: str
    ip: str
    pod_cidr: str  # this node's pods; its .1 is the node's address on every pod veth
    cluster_cidr: str = CLUSTER_CIDR
    local_addresses: tuple[str, ...] = ()  # default: node IP, 127.0.0.1, pod gateway

    def __post_init__(self) -> None:
        if not self.local_addresses:
            object.__setattr__(self, "local_addresses", (self.ip, "127.0.0.1", self.gateway))

    @classmethod
    def from_spec(cls, spec, name: str) -> NodeContext:
        """From a `lab_kit.model.topology.ClusterSpec` and a node name."""
        node = spec.node(name)
        return cls(node.name, node.ip, node.pod_cidr, spec.pod_cidr)

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.pod_cidr).network_address + 1)

    def is_local(self, addr: str) -> bool:
        # the kernel's local table holds all of 127.0.0.0/8, not just 127.0.0.1
        return addr in self.local_addresses or ipaddress.ip_address(addr) in LOOPBACK

    def egress_address(self, dst: str) -> str:
        """MASQUERADE's choice: the address of the interface the packet leaves by."""
        to_pod = ipaddress.ip_address(dst) in ipaddress.ip_network(self.pod_cidr)
        return self.gateway if to_pod else self.ip


@dataclass(frozen=True)
class Packet:
    src: str
    dst: str
    proto: str
    dport: int | None
    sport: int | None = 40000
    iif: str | None = None  # interfaces are only known if given; -i/-o never match otherwise
    oif: str | None = None

    def __str__(self) -> str:
        src, dst = _addr(self.src, self.sport, self.proto), _addr(self.dst, self.dport, self.proto)
        return f"{self.proto} {src} → {dst}"


@dataclass(frozen=True)
class Step:
    table: str
    chain: str
    index: int  # 0: the chain's policy
    rule_text: str
    comment: str | None
    result: str  # "no match: -d 10.96.0.20/32", "match → jump KUBE-SVC-…", "policy ACCEPT"
    depth: int = 0
    matched: bool = False


@dataclass
class Trace:
    packet: Packet
    node: NodeContext
    origin: str
    steps: list[Step] = field(default_factory=list)
    verdict: str = "ACCEPT"
    src: str = ""
    dst: str = ""
    dport: int | None = None
    sport: int | None = None
    dnat_to: str | None = None
    snat_to: str | None = None
    mark: int = 0
    recent: dict[str, set[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rewrites: list[dict] = field(default_factory=list)  # hops after each NAT, for hops()
    decisions: list[tuple[Fraction, bool]] = field(default_factory=list, repr=False)

    def rules_hit(self) -> list[tuple[str, str, int]]:
        """(table, chain, index) of every rule whose counters this packet bumps."""
        return [(s.table, s.chain, s.index) for s in self.steps if s.matched and s.index]

    def _ends(self) -> tuple[str, str]:
        """The packet's final source and destination, with ports where they exist."""
        proto = self.packet.proto
        return _addr(self.src, self.sport, proto), _addr(self.dst, self.dport, proto)

    def summary(self) -> str:
        nat = [f"{k} → {v}" for k, v in (("DNAT", self.dnat_to), ("SNAT", self.snat_to)) if v]
        src, dst = self._ends()
        return ", ".join([self.verdict, *nat]) + f"; leaves as {src} → {dst}, mark {self.mark:#x}"

    def __str__(self) -> str:
        lines = [f"{self.packet} ({self.origin}, on {self.node.name})"]
        hook = None
        for s in self.steps:
            if s.depth == 0 and (s.table, s.chain) != hook:
                hook = (s.table, s.chain)
                lines.append(f"{s.table} {s.chain}")
            comment = f'  "{s.comment}"' if s.comment else ""
            where = f"{s.chain} #{s.index}" if s.index else s.chain  # index 0: the policy
            lines.append(f"{'  ' * (s.depth + 1)}{where} {s.result}{comment}")
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"verdict: {self.summary()}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text view: the trace, not a repr
        p.text(str(self))

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(s.table)}</td><td style='text-align:left'>{'&nbsp;' * 4 * s.depth}"
            f"{e(s.chain)}</td><td>{s.index or ''}</td>"
            f"<td style='text-align:left'>{'<b>' if s.matched else ''}{e(s.result)}"
            f"{'</b>' if s.matched else ''}</td>"
            f"<td style='text-align:left'><code>{e(s.rule_text)}</code></td></tr>"
            for s in self.steps
        )
        notes = "".join(f"<p>note: {e(n)}</p>" for n in self.notes)
        return (
            f"<p><b>{e(str(self.packet))}</b> ({e(self.origin)}, on {e(self.node.name)})</p>"
            "<table><tr><th>table</th><th>chain</th><th>#</th><th>result</th><th>rule</th></tr>"
            f"{rows}</table>{notes}<p>verdict: <b>{e(self.summary())}</b></p>"
        )

    def hops(self) -> list[dict]:
        """The packet before, after each NAT, and where it ends: `packet_path_graph` input."""
        p, node = self.packet, self.node
        start = f"{node.name} (local process)" if self.origin == "local" else _place(node, p.src)
        first = {"where": start, "src": _addr(p.src, p.sport, p.proto)}
        first["dst"] = _addr(p.dst, p.dport, p.proto)
        if self.verdict != "ACCEPT":
            end = {"where": f"{self.verdict} on {node.name}", "note": "the packet goes no further"}
        elif node.is_local(self.dst):
            end = {"where": f"{node.name} (local delivery)"}
        else:
            end = {"where": _place(node, self.dst)}
        end["src"], end["dst"] = self._ends()
        return [first, *self.rewrites, end]


@dataclass(frozen=True)
class Outcome:
    """One possible end of a packet's walk and its overall probability."""

    probability: Fraction  # the exact product of the probabilities printed in the rules
    verdict: str
    src: str
    dst: str
    dport: int | None
    dnat_to: str | None
    snat_to: str | None
    trace: Trace = field(compare=False, repr=False)

    @property
    def chance(self) -> float:
        return round(float(self.probability), 6)

    @property
    def fraction(self) -> str:
        """ "1/3": printed probabilities are rounded (0.3333333333), the share is not."""
        return str(self.probability.limit_denominator(1000))

    def __str__(self) -> str:
        return f"{self.fraction:>5} ({self.chance:.4f}): {self.trace.summary()}"


def trace(
    ruleset: Ruleset,
    packet: Packet,
    node: NodeContext,
    origin: str = "forwarded",
    choose: None | int | random.Random = None,
    recent: dict[str, set[str]] | None = None,
) -> Trace:
    """Walk `packet` through `ruleset` on `node`.

    `choose` decides each `-m statistic --mode random` rule reached: None takes it (the
    first endpoint); an int k skips the first k of them in each chain (k picks the k+1-th
    endpoint; the last endpoint's rule has no statistic match, so large k picks the last);
    a `random.Random` draws. `recent` is not modified; the trace's `.recent` is the new state.
    """
    if isinstance(choose, bool) or not (choose is None or isinstance(choose, (int, random.Random))):
        raise TypeError("choose must be None, an int or a random.Random")
    return _Walker(ruleset, packet, node, origin, choose, recent).run()


def outcomes(
    ruleset: Ruleset,
    packet: Packet,
    node: NodeContext,
    origin: str = "forwarded",
    recent: dict[str, set[str]] | None = None,
) -> list[Outcome]:
    """Every distinct end of the packet's walk, with its probability, first branch first."""
    found: dict[tuple, list] = {}
    pending: list[list[bool]] = [[]]
    while pending:
        script = pending.pop()
        t = _Walker(ruleset, packet, node, origin, script, recent).run()
        # every statistic rule met beyond the script was taken; its "not taken" is a branch
        for i in reversed(range(len(script), len(t.decisions))):
            pending.append([taken for _, taken in t.decisions[:i]] + [False])
        prob = Fraction(1)
        for p, taken in t.decisions:
            prob *= p if taken else 1 - p
        key = (t.verdict, t.src, t.dst, t.dport, t.dnat_to, t.snat_to)
        found.setdefault(key, [Fraction(0), t])[0] += prob  # first trace kept as the example
    return [
        Outcome(p, t.verdict, t.src, t.dst, t.dport, t.dnat_to, t.snat_to, trace=t)
        for p, t in found.values()
    ]


def _addr(ip: str, port: int | None, proto: str) -> str:
    return f"{ip}:{port}" if port is not None and proto in ("tcp", "udp", "sctp") else ip


def _place(node: NodeContext, addr: str) -> str:
    ip = ipaddress.ip_address(addr)
    if ip in ipaddress.ip_network(node.pod_cidr):
        return f"pod {addr} on {node.name}"
    if ip in ipaddress.ip_network(node.cluster_cidr):
        return f"pod {addr} on another node"
    return f"{addr} (outside the pod network)"


class _Walker:
    def __init__(self, ruleset, packet, node, origin, choose, recent):
        if origin not in ("forwarded", "local"):
            raise ValueError(f'origin must be "forwarded" or "local", not {origin!r}')
        self.rs, self.node, self.choose = ruleset, node, choose
        t = self.t = Trace(packet, node, origin)
        t.src, t.dst, t.dport, t.sport = packet.src, packet.dst, packet.dport, packet.sport
        t.recent = {name: set(addrs) for name, addrs in (recent or {}).items()}
        self.skipped: dict[str, int] = {}  # statistic rules passed over, per chain (int choose)
        self.hook = ""

    def run(self) -> Trace:
        t = self.t
        if not self._stage("prerouting" if t.origin == "forwarded" else "output"):
            return t
        # routing comes after nat PREROUTING/OUTPUT: a Service packet is routed to the
        # endpoint DNAT chose, not to the ClusterIP
        local = self.node.is_local(t.dst)
        if t.origin == "forwarded":
            rest = ["input"] if local else ["forward", "postrouting"]
        else:
            rest = ["postrouting"] + (["input"] if local else [])
        for stage in rest:
            if not self._stage(stage):
                break
        return t

    def _stage(self, stage: str) -> bool:
        """Run one hook's tables in priority order; False once the packet is dropped."""
        for table, chain in HOOKS[stage]:
            if stage == "input" and self.t.origin == "local" and table == "nat":
                continue  # SNAT was decided at POSTROUTING; nat INPUT is not consulted
            if self._hook(table, chain) != "ACCEPT":
                return False
        return True

    def _hook(self, table: str, name: str) -> str:
        chain = self.rs.chain(table, name)
        if chain is None or (not chain.rules and chain.policy == "ACCEPT"):
            return "ACCEPT"  # nothing there: the hook passes the packet on
        self.hook = name
        verdict = self._walk(table, name, 0)
        if verdict is None:  # fell off the built-in chain (or RETURN from it)
            verdict = chain.policy or "ACCEPT"
            self._step(table, name, 0, f":{name} {verdict}", None, f"policy {verdict}", 0, True)
        if verdict != "ACCEPT":
            self.t.verdict = verdict
        return verdict

    def _step(self, table, chain, index, text, comment, result, depth, matched) -> None:
        self.t.steps.append(Step(table, chain, index, text, comment, result, depth, matched))

    def _walk(self, table: str, name: str, depth: int) -> str | None:
        """Run one chain: a verdict ends the hook; None continues after the caller's jump."""
        if depth > 50:
            raise ValueError(f"chain {name}: jumps nest more than 50 deep (a loop?)")
        verdict: object
        for rule in self.rs.chain(table, name).rules:
            ok, how = self._matches(rule, name)
            target = rule.target if ok else None
            jump = target not in (None, *BUILTIN_CHAINS.get(table, ())) and bool(
                self.rs.chain(table, target)
            )
            if jump:
                how, verdict = f"{how} → {'goto' if rule.goto else 'jump'} {target}", _GO_ON
            elif ok:
                action, verdict = self._target(rule)
                how = f"{how} → {action}"
            else:
                verdict = _GO_ON
            self._step(table, name, rule.index, rule.text, rule.comment, how, depth, ok)
            if jump and target is not None:
                verdict = self._walk(table, target, depth + 1)
                if verdict is None and not rule.goto:
                    continue  # back from the user chain: on to our next rule
            if verdict is not _GO_ON:
                return cast("str | None", verdict)
        return None

    def _target(self, rule: Rule) -> tuple[str, str | None | object]:
        """(what the target did, verdict): _GO_ON continues, None returns to the caller."""
        target, t = rule.target, self.t
        if target is None:
            return "counted only (no target)", _GO_ON
        if target in ("ACCEPT", "DROP"):
            return target, target
        if target == "RETURN":
            return "RETURN", None
        if target == "REJECT":
            verdict = f"REJECT ({rule.target_args.get('reject-with', 'icmp-port-unreachable')})"
            return verdict, verdict
        if target in NAT_TARGETS:  # NAT decided: the rest of this table's hook is skipped
            return self._nat(rule), "ACCEPT"
        if target == "MARK":
            before, t.mark = t.mark, _mark(t.mark, rule.target_args)
            return f"MARK (mark {before:#x} → {t.mark:#x})", _GO_ON
        self._note(f"target {target} is not modelled; the trace continues past it")
        return f"{target} (not modelled, continue)", _GO_ON

    def _note(self, text: str) -> None:
        if text not in self.t.notes:
            self.t.notes.append(text)

    def _matches(self, rule: Rule, chain: str) -> tuple[bool, str]:
        how = "match"
        for m in rule.matches:
            if m.kind == "statistic":
                taken = self._decide(chain, m.value) != m.negated
                chance = f"probability {m.text.split()[-1]}"  # as printed in the rule
                how = f"match ({chance}, {'taken' if taken else 'not taken'})"
                if not taken:
                    return False, "no " + how
            elif not self._match(m):
                return False, f"no match: {m.text}"
        return True, how

    def _decide(self, chain: str, p: Fraction) -> bool:
        c, t = self.choose, self.t
        if isinstance(c, list):  # outcomes(): a script of decisions, then "taken"
            taken = c[len(t.decisions)] if len(t.decisions) < len(c) else True
        elif isinstance(c, random.Random):
            taken = c.random() < p
        elif isinstance(c, int):
            self.skipped[chain] = self.skipped.get(chain, 0) + 1
            taken = self.skipped[chain] > c
        else:
            taken = True
        t.decisions.append((p, taken))
        return taken

    def _match(self, m: Match) -> bool:
        t, v = self.t, m.value
        if m.kind == "unknown":
            self._note(f"match `{m.text}` is not modelled: treated as never matching")
            return False
        if m.kind in ("in", "out"):
            iface = self.t.packet.iif if m.kind == "in" else self.t.packet.oif
            if iface is None:
                self._note(f"`{m.text}`: the packet's interface is unknown (Packet(iif=, oif=))")
                return False
            hit = iface.startswith(v[:-1]) if v.endswith("+") else iface == v
        elif m.kind in ("src", "dst"):
            hit = ipaddress.ip_address(t.src if m.kind == "src" else t.dst) in v
        elif m.kind == "proto":
            hit = v in ("all", "0") or v == t.packet.proto
        elif m.kind in ("dport", "sport"):
            port = t.dport if m.kind == "dport" else t.sport
            if t.packet.proto != v[0] or port is None:
                return False  # a tcp match never matches a udp or icmp packet, even negated
            hit = v[1] <= port <= v[2]
        elif m.kind == "mark":
            hit = t.mark & v[1] == v[0]
        elif m.kind in ("src-type", "dst-type"):
            hit = self._addrtype(t.src if m.kind == "src-type" else t.dst) in v
        elif m.kind == "ctstate":
            # conntrack's virtual states DNAT/SNAT are set once NAT rewrote the connection
            nat = {"DNAT": t.dnat_to, "SNAT": t.snat_to}
            hit = bool(v & ({"NEW"} | {k for k, done in nat.items() if done}))
        elif m.kind == "recent":
            addr = t.dst if v.rdest else t.src
            entries = t.recent.setdefault(v.name, set())
            hit = v.action == "set" or addr in entries
            if v.action == "set":
                entries.add(addr)
            elif v.action == "remove":
                entries.discard(addr)
        else:  # pragma: no cover - the parser makes no other kinds
            raise ValueError(m.kind)
        return hit != m.negated

    def _addrtype(self, addr: str) -> str:
        if self.node.is_local(addr):
            return "LOCAL"
        if addr == "255.255.255.255":
            return "BROADCAST"
        return "MULTICAST" if ipaddress.ip_address(addr).is_multicast else "UNICAST"

    def _nat(self, rule: Rule) -> str:
        t, args = self.t, rule.target_args
        if rule.target == "DNAT":
            to = str(args.get("to-destination", ""))
            ip, _, port = to.partition(":")
            t.dst = ip.split("-")[0]  # a range "a-b" would pick one; we show its first
            t.dport = int(port.split("-")[0]) if port else t.dport
            t.dnat_to = _addr(t.dst, t.dport, t.packet.proto)
            what = f"DNAT to {t.dnat_to}"
        else:
            if rule.target == "SNAT":
                ip, _, port = str(args.get("to-source", "")).partition(":")
                t.src, t.sport = ip.split("-")[0], int(port.split("-")[0]) if port else t.sport
            else:  # the kernel picks the address of the interface the packet leaves by
                t.src = self.node.egress_address(t.dst)
            t.snat_to = t.src
            what = f"{rule.target} to {t.src}"
        note = f"{what} by {rule.chain}" + (f" ({rule.comment})" if rule.comment else "")
        hop = {"where": f"{self.node.name} after nat {self.hook}", "note": note}
        hop["src"], hop["dst"] = t._ends()
        t.rewrites.append(hop)
        return what


def _mark(mark: int, args: dict) -> int:
    """The MARK target; iptables-save spells --or-mark X as --set-xmark X/X, --xor-mark X as X/0."""
    for name, arg in args.items():
        value, _, mask = str(arg).partition("/")
        v, m = int(value, 0), int(mask, 0) if mask else 0xFFFFFFFF
        kept = mark & ~m & 0xFFFFFFFF
        ops = {"set-xmark": kept ^ v, "set-mark": kept | v, "or-mark": mark | v,
               "xor-mark": mark ^ v, "and-mark": mark & v}  # fmt: skip
        if name in ops:
            return ops[name]
    return mark


__all__ = ["NodeContext", "Outcome", "Packet", "Step", "Trace", "outcomes", "trace"]
