"""iptables-restore / iptables-save text -> `Ruleset`: tables of chains of parsed rules.

Two spellings of one rule must parse to the same thing: kube-proxy writes
`-m comment --comment "..." -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-...` and
`iptables-save` prints it back as `-d 172.30.0.41/32 -p tcp -m comment ... -m tcp --dport 80`,
with `--or-mark 0x4000` turned into `--set-xmark 0x4000/0x4000` and the recent match's
defaults spelled out. So a rule is parsed into meaning, not kept as token order:

- `matches`: header matches (`-s -d -p -i -o`), then module matches in written order, each
  a `Match` whose `text` is one canonical spelling (`-d 172.30.0.41/32`), so a trace reads
  the same whichever form it came from. Matches we do not model become `kind="unknown"`
  with the raw text kept: the tracer treats them as never matching and says so.
- `target` and `target_args` (`{"to-destination": "10.180.0.4:80"}`, flags map to True).
- `text`: the line as written (minus counters), for display.

Restore semantics are kept where they matter for merging several snippets (kube-proxy's
sync, then a node's jump rules): declaring a user chain (`:KUBE-SERVICES - [0:0]`) flushes
it, declaring a built-in chain only sets its policy (as `iptables-restore --noflush` does).
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, NamedTuple

BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
# The kernel checks a rule's IP header fields first, in this order, before any -m match
# (ip_packet_match), whatever order the rule was written in.
HEADER_KINDS = ("src", "dst", "in", "out", "proto")
PROTO_NUMBERS = {"1": "icmp", "6": "tcp", "17": "udp", "132": "sctp"}
PORT_PROTOS = ("tcp", "udp", "sctp")

# fmt: off
_GENERAL = {
    "-s": "src", "--source": "src", "--src": "src",
    "-d": "dst", "--destination": "dst", "--dst": "dst",
    "-p": "proto", "--protocol": "proto",
    "-i": "in", "--in-interface": "in",
    "-o": "out", "--out-interface": "out",
}
_FLAGS = {"--rcheck", "--update", "--set", "--remove", "--reap", "--rsource", "--rdest",
          "--random-fully", "--random", "--persistent", "--syn", "-f", "--fragment"}
_TWO_ARGS = {"--tcp-flags", "-c", "--set-counters"}
_ONE_ARG = {*_GENERAL, "-m", "--match", "-j", "--jump", "-g", "--goto", "--comment", "--dport",
            "--sport", "--destination-port", "--source-port", "--mode", "--probability",
            "--every", "--packet", "--name", "--seconds", "--hitcount", "--mask", "--mark",
            "--src-type", "--dst-type", "--ctstate", "--to-destination", "--to-source",
            "--to-ports", "--reject-with", "--or-mark", "--xor-mark", "--and-mark",
            "--set-mark", "--set-xmark"}
# Which options each modelled module understands (an option goes to the latest module
# that knows it, as iptables' option parser does).
_MODULE_OPTS = {
    **{p: {"--dport", "--sport", "--destination-port", "--source-port"} for p in PORT_PROTOS},
    "comment": {"--comment"},
    "statistic": {"--mode", "--probability"},
    "recent": {"--name", "--rcheck", "--update", "--set", "--remove", "--seconds", "--reap",
               "--mask", "--rsource", "--rdest"},
    "mark": {"--mark"},
    "addrtype": {"--src-type", "--dst-type"},
    "conntrack": {"--ctstate"},
}
# fmt: on


class RulesetError(ValueError):
    """Text that is not valid iptables-restore input (names the line)."""


class Recent(NamedTuple):
    """One `-m recent` match: which list, what it does, and whose address it uses."""

    name: str
    action: str  # "rcheck" | "update" | "set" | "remove"
    seconds: int | None = None  # not modelled: a trace is one moment, entries never expire
    rdest: bool = False  # --rdest: the destination address is recorded/checked


@dataclass(frozen=True)
class Match:
    kind: str  # src dst proto in out dport sport statistic recent mark src-type dst-type ctstate unknown
    value: Any = None
    negated: bool = False
    text: str = ""  # canonical spelling, e.g. "! -s 10.244.0.0/16"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Rule:
    table: str
    chain: str
    index: int  # 1-based within the chain, as `iptables -L --line-numbers` counts
    text: str
    counters: tuple[int, int] | None = None  # (packets, bytes) from `iptables-save -c`
    matches: tuple[Match, ...] = ()
    target: str | None = None  # None: no -j, the rule only counts
    target_args: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    goto: bool = False  # -g: the chain returns to our caller's caller


@dataclass
class Chain:
    name: str
    policy: str | None  # None for user chains ("-" in the text)
    rules: list[Rule] = field(default_factory=list)
    counters: tuple[int, int] | None = None

    @property
    def builtin(self) -> bool:
        return self.policy is not None


@dataclass
class Ruleset:
    tables: dict[str, dict[str, Chain]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Ruleset:
        return parse(text)

    def chain(self, table: str, name: str) -> Chain | None:
        return self.tables.get(table, {}).get(name)

    def rules(self) -> Iterator[Rule]:
        for chains in self.tables.values():
            for chain in chains.values():
                yield from chain.rules


def parse(text: str) -> Ruleset:
    """Parse iptables-restore input or iptables-save output (with or without `-c`)."""
    rs = Ruleset()
    table: str | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith("*"):
                table = line[1:].strip()
                rs.tables.setdefault(table, {})
            elif line == "COMMIT":
                table = None
            elif table is None:
                raise RulesetError("outside a *table section")
            elif line.startswith(":"):
                _declare(rs, table, line)
            else:
                _command(rs, table, line)
        except (ValueError, IndexError) as e:  # RulesetError, shlex quoting, missing args
            raise RulesetError(f"line {n}: {e}: {raw!r}") from None
    for chains in rs.tables.values():
        for chain in chains.values():
            chain.rules = [replace(r, index=i) for i, r in enumerate(chain.rules, 1)]
    return rs


def _counters(text: str) -> tuple[int, int]:
    pkts, _, nbytes = text.strip("[]").partition(":")
    return int(pkts), int(nbytes)


def _get(rs: Ruleset, table: str, name: str, create: bool = True) -> Chain:
    chains = rs.tables.setdefault(table, {})
    if name not in chains:
        if not create:
            raise RulesetError(f"no chain {name} in table {table}")
        # lenient: a snippet may append to a chain declared by an earlier snippet or
        # already in the kernel; built-ins always exist with policy ACCEPT
        builtin = name in BUILTIN_CHAINS.get(table, ())
        chains[name] = Chain(name, "ACCEPT" if builtin else None)
    return chains[name]


def _declare(rs: Ruleset, table: str, line: str) -> None:
    parts = line[1:].split()
    name, policy = parts[0], (parts[1] if len(parts) > 1 else "-")
    counters = _counters(parts[2]) if len(parts) > 2 else None
    chain = _get(rs, table, name)
    if policy == "-":
        chain.rules.clear()  # restore flushes a declared user chain
        chain.counters = counters
    else:
        chain.policy, chain.counters = policy, counters


def _command(rs: Ruleset, table: str, line: str) -> None:
    counters = None
    if line.startswith("["):
        head, _, line = line.partition(" ")
        counters = _counters(head)
    tokens = shlex.split(line)
    cmd, args = tokens[0], tokens[1:]
    if cmd in ("-A", "--append", "-I", "--insert"):
        chain = _get(rs, table, args[0])
        body, position = args[1:], None
        if cmd in ("-I", "--insert"):
            position = 0
            if body and body[0].isdigit():
                position, body = int(body[0]) - 1, body[1:]
        rule = _rule(table, chain.name, line, body, counters)
        if position is None:
            chain.rules.append(rule)
        else:
            chain.rules.insert(position, rule)
    elif cmd in ("-N", "--new-chain"):
        _get(rs, table, args[0])
    elif cmd in ("-X", "--delete-chain"):
        for name in args or [n for n, c in rs.tables[table].items() if not c.builtin]:
            rs.tables[table].pop(name, None)
    elif cmd in ("-F", "--flush"):
        for name in args or list(rs.tables[table]):
            _get(rs, table, name, create=False).rules.clear()
    elif cmd in ("-P", "--policy"):
        _get(rs, table, args[0], create=False).policy = args[1]
    else:
        raise RulesetError(f"unsupported command {cmd}")


def _options(tokens: list[str]) -> Iterator[tuple[bool, str, list[str]]]:
    """(negated, option, arguments) in order; `!` negates the option after it."""
    i, negated = 0, False
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok == "!":
            negated = True
            continue
        if not tok.startswith("-"):
            raise RulesetError(f"unexpected argument {tok!r}")
        if tok in _FLAGS:
            n = 0
        elif tok in _TWO_ARGS:
            n = 2
        elif tok in _ONE_ARG:
            n = 1
        else:  # an option we do not know: its arguments run up to the next option
            n = 0
            while (
                i + n < len(tokens) and not tokens[i + n].startswith("-") and tokens[i + n] != "!"
            ):
                n += 1
        if i + n > len(tokens):
            raise RulesetError(f"{tok} needs {n} argument(s)")
        yield negated, tok, tokens[i : i + n]
        i, negated = i + n, False


def _rule(table: str, chain: str, text: str, body: list[str], counters) -> Rule:
    header: list[Match] = []
    modules: list[tuple[str, list[tuple[bool, str, list[str]]]]] = []
    target, target_args, goto, comment = None, {}, False, None
    proto = None
    for negated, opt, args in _options(body):
        if target is not None:  # everything after -j belongs to the target
            target_args[opt.lstrip("-")] = " ".join(args) if args else True
        elif opt in _GENERAL:
            header.append(_general(_GENERAL[opt], negated, args[0]))
            if opt in ("-p", "--protocol") and not negated:
                proto = PROTO_NUMBERS.get(args[0], args[0])
        elif opt in ("-m", "--match"):
            modules.append((args[0], []))
        elif opt in ("-j", "--jump", "-g", "--goto"):
            target, goto = args[0], opt in ("-g", "--goto")
        elif opt in ("-c", "--set-counters"):
            counters = (int(args[0]), int(args[1]))
        else:
            owner = next((m for m in reversed(modules) if opt in _MODULE_OPTS.get(m[0], ())), None)
            if owner is None and proto in PORT_PROTOS and opt in _MODULE_OPTS[proto]:
                owner = (proto, [])  # `-p tcp --dport 80` loads the tcp match implicitly
                modules.append(owner)
            if owner is None and not modules:
                header.append(Match("unknown", None, False, _spell(negated, opt, args)))
                continue
            (owner or modules[-1])[1].append((negated, opt, args))
    matches = sorted(
        header, key=lambda m: HEADER_KINDS.index(m.kind) if m.kind in HEADER_KINDS else 9
    )
    for name, opts in modules:
        if name == "comment":
            comment = next((a[0] for _, o, a in opts if o == "--comment"), comment)
            if all(o == "--comment" for _, o, _ in opts):
                continue
        matches += _module(name, opts)
    return Rule(table, chain, 0, text, counters, tuple(matches), target, target_args, comment, goto)


def _spell(negated: bool, opt: str, args: list[str]) -> str:
    return " ".join((["!"] if negated else []) + [opt] + [shlex.quote(a) for a in args])


def _general(kind: str, negated: bool, value: str) -> Match:
    bang = "! " if negated else ""
    flag = {"src": "-s", "dst": "-d", "proto": "-p", "in": "-i", "out": "-o"}[kind]
    if kind in ("src", "dst"):
        net = ipaddress.ip_network(value, strict=False)
        return Match(kind, net, negated, f"{bang}{flag} {net}")
    if kind == "proto":
        value = PROTO_NUMBERS.get(value, value.lower())
    return Match(kind, value, negated, f"{bang}{flag} {value}")


def _module(name: str, opts: list[tuple[bool, str, list[str]]]) -> list[Match]:
    """One `-m name ...` block -> matches; any option we do not model makes it unknown."""
    raw = " ".join([f"-m {name}"] + [_spell(*o) for o in opts])
    unknown = [Match("unknown", name, False, raw)]
    flags = {o: (neg, a) for neg, o, a in opts}
    if any(o not in _MODULE_OPTS.get(name, ()) for o in flags):
        return unknown
    out: list[Match] = []
    if name in PORT_PROTOS:
        for neg, o, args in opts:
            kind = "dport" if o in ("--dport", "--destination-port") else "sport"
            lo, colon, hi = args[0].partition(":")  # "80" or a range "1024:65535"
            rng = (int(lo or 0), int(hi or 65535)) if colon else (int(lo), int(lo))
            out.append(Match(kind, (name, *rng), neg, f"{'! ' if neg else ''}--{kind} {args[0]}"))
    elif name == "statistic":
        if flags.get("--mode", (0, ["?"]))[1] != ["random"] or "--probability" not in flags:
            return unknown
        neg, args = flags["--probability"]
        text = f"-m statistic --mode random {'! ' if neg else ''}--probability {args[0]}"
        out.append(Match("statistic", Fraction(args[0]), neg, text))
    elif name == "recent":
        actions = [o[2:] for o in flags if o in ("--rcheck", "--update", "--set", "--remove")]
        if len(actions) != 1 or "--name" not in flags:
            return unknown
        seconds = int(flags["--seconds"][1][0]) if "--seconds" in flags else None
        neg = any(n for n, _, _ in opts)
        recent = Recent(flags["--name"][1][0], actions[0], seconds, "--rdest" in flags)
        text = f"-m recent {'! ' if neg else ''}--{actions[0]} --name {recent.name}"
        out.append(Match("recent", recent, neg, text))
    elif name == "mark":
        neg, args = flags["--mark"]
        v, _, m = args[0].partition("/")
        mark = (int(v, 0), int(m, 0) if m else 0xFFFFFFFF)
        out.append(Match("mark", mark, neg, f"-m mark {'! ' if neg else ''}--mark {args[0]}"))
    elif name == "addrtype":
        for neg, o, args in opts:
            kind = o[2:]  # "src-type" | "dst-type"
            types = frozenset(args[0].upper().split(","))
            out.append(Match(kind, types, neg, f"-m addrtype {'! ' if neg else ''}{o} {args[0]}"))
    elif name == "conntrack":
        neg, args = flags["--ctstate"]
        states = frozenset(args[0].upper().split(","))
        out.append(
            Match("ctstate", states, neg, f"-m conntrack {'! ' if neg else ''}--ctstate {args[0]}")
        )
    return out  # a bare `-m tcp` or `-m comment` is a no-op


class Hit(NamedTuple):
    rule: Rule
    packets: int
    bytes: int


def diff_counters(before: Ruleset, after: Ruleset) -> list[Hit]:
    """Rules whose packet counter grew between two `iptables-save -c` snapshots.

    Rules are paired by table, chain and text (the nth occurrence of a duplicate with the
    nth), not by position, so rules added in between count from zero and do not shift the
    pairing of the others.
    """
    seen: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for rule in before.rules():
        seen.setdefault((rule.table, rule.chain, rule.text), []).append(rule.counters or (0, 0))
    used: dict[tuple[str, str, str], int] = {}
    hits = []
    for rule in after.rules():
        if rule.counters is None:
            continue
        key = (rule.table, rule.chain, rule.text)
        n = used[key] = used.get(key, -1) + 1
        old = seen.get(key, [])
        pkts, nbytes = old[n] if n < len(old) else (0, 0)
        if rule.counters[0] > pkts:
            hits.append(Hit(rule, rule.counters[0] - pkts, rule.counters[1] - nbytes))
    return hits


__all__ = [
    "BUILTIN_CHAINS",
    "Chain",
    "Hit",
    "Match",
    "Recent",
    "Rule",
    "Ruleset",
    "RulesetError",
    "diff_counters",
    "parse",
]
