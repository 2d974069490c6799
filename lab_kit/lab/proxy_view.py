"""Looking at a node's data plane: its iptables rules, conntrack entries and kube-proxy's
metrics, as text a learner can read and as data a notebook can assert on.

    iptables(node, "nat", grep="KUBE-SVC")    `iptables-save`, or the lines that mention
    service_rules(client, "web")              one Service's chains, as kube-proxy wrote them
    trace / outcomes(node, src, dst, port)    the pure tracer (lab_kit.trace) on live rules
    RuleHits(node)                            the rules whose counters a real packet moved
    conntrack(node), proxy_metrics(node)

Everything runs inside the node's namespaces (`nsenter`, through `access.run_on_host`):
the machine's own tables are never read or touched.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.rundir import RunDir
from lab_kit.lab import access
from lab_kit.lab.topologies import load_topology
from lab_kit.model.kinds import by_kind_name
from lab_kit.render import proxy_rules
from lab_kit.render.proxy_endpoints import service_ports

if TYPE_CHECKING:  # the tracer is imported when first used: `labkit get` does not need it
    from lab_kit.trace import Hit, NodeContext, Outcome, Ruleset, Trace


class RulesText(str):
    """`iptables-save` output (or an excerpt) that Jupyter shows as text, not a repr."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    @property
    def lines(self) -> list[str]:
        return self.splitlines()

    def rules(self, chain: str | None = None) -> list[str]:
        """The `-A` lines, of one chain if named."""
        prefix = f"-A {chain} " if chain else "-A "
        return [line for line in self.lines if line.startswith(prefix) or
                (line.startswith("[") and f" {prefix}" in line)]  # fmt: skip


def iptables_save(node: str, table: str | None = None, counters: bool = False) -> RulesText:
    argv = ["iptables-save"] + (["-t", table] if table else []) + (["-c"] if counters else [])
    out = access.run_on_host(node, argv)
    if out.returncode != 0:
        raise RuntimeError(f"iptables-save on {node} failed: {out.stderr.strip()}")
    return RulesText(out.stdout)


def excerpt(saved: str, words: list[str]) -> RulesText:
    """Chain declarations and rules that mention any of `words` (chain names, IPs),
    keeping the table headers, in iptables-save's order."""
    keep: list[str] = []
    for line in saved.splitlines():
        if (
            line.startswith(("*", "COMMIT"))
            or line.startswith((":", "-A", "["))
            and any(w in line for w in words)
        ):
            keep.append(line)
    # drop tables that kept nothing
    out, table = [], []
    for line in keep:
        table.append(line)
        if line == "COMMIT":
            if len(table) > 2:
                out += table
            table = []
    return RulesText("\n".join(out) + "\n")


def iptables(
    node: str,
    table: str | None = None,
    *,
    grep: list[str] | str | None = None,
    counters: bool = False,
) -> RulesText:
    """`iptables-save` on a node, or only the lines that mention `grep` (e.g. a chain
    name or a Service's ClusterIP)."""
    saved = iptables_save(node, table, counters)
    if grep:
        return excerpt(saved, [grep] if isinstance(grep, str) else list(grep))
    return saved


def service_chains(svc: dict) -> list[str]:
    """The KUBE-SVC/SVL/EXT/FW chain names of each of a Service's ports (hashed as
    kube-proxy hashes them; a chain the Service does not need is simply absent)."""
    return [
        proxy_rules.svc_chain(sp.port_key, sp.protocol, prefix)
        for sp in service_ports(svc)
        for prefix in ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-")
    ]


def service_excerpt(saved: str, svc: dict) -> RulesText:
    """The lines of `saved` that are one Service's: its KUBE-SERVICES entries (their
    comment names it) and its chains, with the KUBE-SEP chains they jump to."""
    namespace, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    chains = service_chains(svc)
    seps = {
        word
        for line in saved.splitlines()
        if any(f"-A {c} " in line for c in chains)
        for word in line.split()
        if word.startswith("KUBE-SEP-")
    }
    return excerpt(saved, [f'"{namespace}/{name}', f" {namespace}/{name}", *chains, *seps])


def service_rules(
    client: ApiClient, name: str, namespace: str = "default", node: str = "node1"
) -> RulesText:
    """The nat and filter rules kube-proxy wrote on `node` for one Service."""
    svc = client.get(by_kind_name("Service"), name, namespace)
    return service_excerpt(iptables_save(node), svc)


def node_rules(node: str) -> tuple[Ruleset, NodeContext]:
    """A node's live rules, parsed, and its addresses: what the tracer walks."""
    from lab_kit import trace as tracer

    spec = load_topology(RunDir().topology_file)
    return tracer.parse(iptables_save(node)), tracer.NodeContext.from_spec(spec, node)


def trace(
    node: str,
    src: str,
    dst: str,
    dport: int | None = None,
    proto: str = "tcp",
    *,
    origin: str = "forwarded",
    choose: int | random.Random | None = None,
) -> Trace:
    """Walk the first packet of a connection through `node`'s live rules, rule by rule:
    `origin="forwarded"` for a packet from a pod or another host, `"local"` for one the
    node itself sends. `choose`: which random branch to take (an index, or a
    random.Random); by default the first."""
    from lab_kit import trace as tracer

    rules, ctx = node_rules(node)
    packet = tracer.Packet(src, dst, proto, dport)
    return tracer.trace(rules, packet, ctx, origin=origin, choose=choose)


def outcomes(
    node: str,
    src: str,
    dst: str,
    dport: int | None = None,
    proto: str = "tcp",
    *,
    origin: str = "forwarded",
) -> list[Outcome]:
    """Every possible fate of that packet on `node`, with its probability."""
    from lab_kit import trace as tracer

    rules, ctx = node_rules(node)
    return tracer.outcomes(rules, tracer.Packet(src, dst, proto, dport), ctx, origin=origin)


@dataclass
class ConntrackEntry:
    proto: str
    original: dict = field(default_factory=dict)  # src, dst, sport, dport
    reply: dict = field(default_factory=dict)
    state: str = ""
    raw: str = ""

    def __str__(self) -> str:
        o, r = self.original, self.reply
        return (f"{self.proto} original {o.get('src')}:{o.get('sport')} -> {o.get('dst')}:{o.get('dport')}"
                f"   reply {r.get('src')}:{r.get('sport')} -> {r.get('dst')}:{r.get('dport')}"
                f"{'  ' + self.state if self.state else ''}")  # fmt: skip

    @property
    def dnat(self) -> bool:
        """The destination was rewritten: the reply comes from someone else."""
        return self.reply.get("src") != self.original.get("dst")

    @property
    def snat(self) -> bool:
        return self.reply.get("dst") != self.original.get("src")


class ConntrackTable(list):
    def __getitem__(self, index: Any) -> Any:
        got = super().__getitem__(index)
        return ConntrackTable(got) if isinstance(index, slice) else got

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text("\n".join(str(e) for e in self) or "(no entries)")


_KV = re.compile(r"(\w+)=(\S+)")


def parse_conntrack(text: str) -> ConntrackTable:
    """`conntrack -L` lines: the first src/dst/sport/dport set is the original direction,
    the second the reply (whose src is the DNAT target, whose dst the SNAT address)."""
    table = ConntrackTable()
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] not in ("tcp", "udp", "icmp", "sctp"):
            continue
        entry = ConntrackEntry(proto=words[0], raw=line)
        state = next((w for w in words[3:5] if w.isupper()), "")
        entry.state = state
        side = entry.original
        for key, value in _KV.findall(line):
            if key in side and key == "src":
                side = entry.reply
            if key in ("src", "dst", "sport", "dport") and key not in side:
                side[key] = int(value) if key.endswith("port") else value
        table.append(entry)
    return table


def conntrack(node: str, *filters: str) -> ConntrackTable:
    """`conntrack -L [filters]` in the node's namespace, e.g. ("-p", "tcp", "--orig-dst", ip)."""
    out = access.run_on_host(node, ["conntrack", "-L", *filters])
    if out.returncode != 0 and "0 flow entries" not in out.stderr:
        raise RuntimeError(f"conntrack on {node} failed: {out.stderr.strip()}")
    return parse_conntrack(out.stdout)


def proxy_metrics(node: str) -> dict[str, float]:
    """kube-proxy's metrics on the node (127.0.0.1:10249 inside it), sample name -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    out = access.run_on_host(node, ["curl", "-s", "-m", "5", "http://127.0.0.1:10249/metrics"])
    if out.returncode != 0:
        raise RuntimeError(f"kube-proxy metrics on {node} unavailable: {out.stderr.strip()}")
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(out.stdout):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            values[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return values


class RuleHits:
    """Counters of a node's rules before and after a block: the rules a real packet hit."""

    def __init__(self, node: str):
        self.node = node
        self.hits: list[Hit] = []

    def __enter__(self) -> RuleHits:
        from lab_kit import trace as tracer

        self._before = tracer.parse(iptables_save(self.node, counters=True))
        return self

    def __exit__(self, *exc: object) -> None:
        from lab_kit import trace as tracer

        after = tracer.parse(iptables_save(self.node, counters=True))
        self.hits = tracer.diff_counters(self._before, after)

    @property
    def rules(self) -> list[str]:
        """`[packets] -A CHAIN ...` of each rule hit, in table order."""
        return [f"[{h.packets}] {h.rule.text}" for h in self.hits]

    def chains(self) -> list[str]:
        return list(dict.fromkeys(h.rule.chain for h in self.hits))

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text("\n".join(f"{h.rule.table:<7}{'+' + str(h.packets):>5}  {h.rule.text}" for h in self.hits)
               or "(no rule counted a packet)")  # fmt: skip
