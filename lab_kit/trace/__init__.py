"""A pure packet tracer for iptables rules: which rules the first packet of a connection
meets on a node, what NAT does to it, and (for kube-proxy's random load balancing) every
possible outcome with its probability.

    rs = parse(iptables_save_text)              # kube-proxy's written form or iptables-save's
    node = NodeContext("node1", "172.18.0.2", "10.244.1.0/24")
    t = trace(rs, Packet("10.244.1.6", "10.96.0.12", "tcp", 80), node)
    print(t)                                    # rule by rule, indented by jump depth
    outcomes(rs, Packet("10.244.1.6", "10.96.0.12", "tcp", 80), node)   # 3 x 1/3
    packet_path_graph(t.hops())                 # lab_kit.lab.graphs

`ruleset` parses, `tracer` walks. Nothing here touches a kernel: a live node's rules come in
as `iptables-save -c` text (and `diff_counters` of two such snapshots shows the rules a real
packet hit, to set beside a trace).
"""

from lab_kit.trace.ruleset import (
    Chain,
    Hit,
    Match,
    Recent,
    Rule,
    Ruleset,
    RulesetError,
    diff_counters,
    parse,
)
from lab_kit.trace.tracer import NodeContext, Outcome, Packet, Step, Trace, outcomes, trace

__all__ = [
    "Chain",
    "Hit",
    "Match",
    "NodeContext",
    "Outcome",
    "Packet",
    "Recent",
    "Rule",
    "Ruleset",
    "RulesetError",
    "Step",
    "Trace",
    "diff_counters",
    "outcomes",
    "parse",
    "trace",
]
