"""Looking at a node's data plane: its iptables rules, conntrack entries and kube-proxy's
metrics, as text a learner can read and as data a notebook can assert on.

Everything runs inside the node's namespaces (`nsenter`, through `access.run_on_host`):
the machine's own tables are never read or touched.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from lab_kit.lab import access


class RulesText(str):
    """`iptables-save` output (or an excerpt) that Jupyter shows as text, not a repr."""

    def _repr_pretty_(self, p, cycle) -> None:
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
    def __getitem__(self, index):
        got = super().__getitem__(index)
        return ConntrackTable(got) if isinstance(index, slice) else got

    def _repr_pretty_(self, p, cycle) -> None:
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


def loop_command(url: str, count: int, timeout_s: float = 2.0, stamp: bool = False) -> list[str]:
    """A bounded request loop to run inside a pod: `count` curls, one answer per line
    (prefixed with a timestamp when `stamp`); a failed request prints ERR."""
    each = f"curl -s -m {timeout_s:g} {shlex.quote(url)} || printf ERR"
    prefix = 'printf "%s " "$(date +%s.%N)"; ' if stamp else ""
    return ["sh", "-c", f"for i in $(seq {int(count)}); do {prefix}{each}; echo; done"]


class RuleHits:
    """Counters of a node's rules before and after a block: the rules a real packet hit."""

    def __init__(self, node: str):
        self.node = node
        self.hits: list = []

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

    def _repr_pretty_(self, p, cycle) -> None:
        p.text("\n".join(f"{h.rule.table:<7}{'+' + str(h.packets):>5}  {h.rule.text}" for h in self.hits)
               or "(no rule counted a packet)")  # fmt: skip
