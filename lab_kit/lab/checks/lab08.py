"""Lab 08's checks: kube-proxy's jumps from the built-in chains, one KUBE-SERVICES rule per
Service port, four equal outcomes, the SEP chain's hairpin mark and DNAT, a traced packet the
kernel's counters confirm, who gets masqueraded, a ClusterIP that does not answer ping, a
Service without endpoints refusing at once, and kube-proxy's sync metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.render.proxy_rules import svc_chain

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.packets import PacketTable
    from lab_kit.lab.proxy_view import ConntrackEntry, RuleHits, RulesText
    from lab_kit.trace.tracer import Outcome, Trace

JUMPS = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
]
API_CHAIN = "KUBE-SVC-NPX46M4PTMTKRN6Y"  # default/kubernetes:https, tcp, on every cluster


def by_endpoint(endpoints: list[str], port: int = 8080) -> list[str]:
    """`ip:port` of each endpoint in kube-proxy's order (by the string, not the address)."""
    return sorted(f"{ip}:{port}" for ip in endpoints)


def check_builtin_jumps(builtin: list[str]) -> None:
    """nat PREROUTING and OUTPUT jump to KUBE-SERVICES, POSTROUTING to KUBE-POSTROUTING, each
    once and first; the node's own ip-masq-agent rule comes after them."""
    expect(builtin[:3] == JUMPS, "the 3 jumps into kube-proxy's chains, first", builtin[:3])
    expect(len(builtin) > 3 and builtin[3].endswith("-j IP-MASQ-AGENT"),
           "then the jump to IP-MASQ-AGENT", builtin[3:4])  # fmt: skip
    passed("3 jumps into kube-proxy's chains, each once; ip-masq-agent's rule after them")


def check_kube_services(services: list[str], cluster_ip: str) -> str:
    """KUBE-SERVICES sends ClusterIP:80/tcp to random-generator's KUBE-SVC chain and
    10.96.0.1:443 to the kubernetes Service's (named the same on every cluster), and ends
    with the jump to KUBE-NODEPORTS for the node's own addresses. Returns the Service's chain."""
    chain = svc_chain("default/random-generator", "tcp")
    rule = (f'-A KUBE-SERVICES -d {cluster_ip}/32 -p tcp -m comment --comment '
            f'"default/random-generator cluster IP" -m tcp --dport 80 -j {chain}')  # fmt: skip
    expect(rule in services, f"the rule {rule}")
    api_chain = svc_chain("default/kubernetes:https", "tcp")
    api_rule = (f'-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment '
                f'"default/kubernetes:https cluster IP" -m tcp --dport 443 -j {api_chain}')  # fmt: skip
    expect(api_rule in services, f"the rule {api_rule}")
    expect(api_chain == API_CHAIN, f"the kubernetes Service's chain {API_CHAIN}", api_chain)
    last = services[-1] if services else None
    expect(last and last.endswith("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"),
           "KUBE-NODEPORTS last, for the node's own addresses", last)  # fmt: skip
    passed(f"ClusterIP {cluster_ip} port 80 -> {chain}; 10.96.0.1:443 -> {api_chain}; "
           "NodePorts last")  # fmt: skip
    return chain


def check_equal_outcomes(outcomes: list[Outcome], endpoints: list[str]) -> None:
    """The tracer's outcomes: 4, each with probability exactly 1/4, one per pod, each DNATed
    to port 8080."""
    fractions = [o.fraction for o in outcomes]
    expect(fractions == ["1/4"] * 4, "4 outcomes of 1/4 each", fractions)
    targets = [o.dnat_to or "" for o in outcomes]  # "": not DNATed
    expect(sorted(t.split(":")[0] for t in targets) == endpoints, f"one per pod {endpoints}",
           targets)  # fmt: skip
    expect(all(t.endswith(":8080") for t in targets), "each to port 8080", targets)
    passed("4 outcomes, 1/4 each, one per pod, always to port 8080")


def check_sep_chain(nat: RulesText, sep: str, endpoints: list[str]) -> None:
    """The first endpoint's KUBE-SEP chain marks packets from that same pod for SNAT (hairpin),
    then DNATs to pod:8080; KUBE-MARK-MASQ sets mark 0x4000. `nat` is node1's nat table."""
    first_pod = by_endpoint(endpoints)[0].split(":")[0]
    rules = nat.rules(sep)
    expect(len(rules) >= 2, f"two rules in {sep}", rules)
    expect(rules[0].startswith(f"-A {sep} -s {first_pod}/32") and rules[0].endswith("-j KUBE-MARK-MASQ"),
           f"first: packets from {first_pod} itself marked for SNAT", rules[0])  # fmt: skip
    expect(rules[1].endswith(f"-j DNAT --to-destination {first_pod}:8080"),
           f"then the DNAT to {first_pod}:8080", rules[1])  # fmt: skip
    mark = nat.rules("KUBE-MARK-MASQ")
    expect(mark == ["-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"],
           "KUBE-MARK-MASQ sets mark 0x4000", mark)  # fmt: skip
    passed(f"{sep} -> DNAT {first_pod}:8080")


def check_traced_packet(t: Trace, endpoints: list[str]) -> None:
    """The traced packet (3rd random branch) is accepted, DNATed to the 3rd endpoint in
    kube-proxy's order, and its source is not rewritten."""
    expect(t.verdict == "ACCEPT", "ACCEPT", t.verdict)
    expect(t.snat_to is None, "no SNAT (pod-to-Service keeps the client's address)", t.snat_to)
    third = by_endpoint(endpoints)[2]
    expect(t.dnat_to == third, f"DNAT to the 3rd endpoint {third}", t.dnat_to)
    passed(t.summary())


def check_counters_match_trace(lab: Lab, hits: RuleHits, endpoints: list[str], toolbox_ip: str,
                               cluster_ip: str) -> str:  # fmt: skip
    """A real request bumped exactly one DNAT rule (one connection, one endpoint), and every nat
    rule the tracer predicts for that endpoint is among the rules the kernel counted. Returns
    the chosen endpoint `ip:8080`."""
    dnat = [h.rule.text for h in hits.hits if "DNAT" in h.rule.text]
    expect(len(dnat) == 1, "one DNAT rule counted (one connection, one endpoint)", dnat)
    chosen = dnat[0].split("--to-destination ")[1]
    k = by_endpoint(endpoints).index(chosen)
    predicted = lab.trace("node1", toolbox_ip, cluster_ip, 80, choose=k)
    predicted_nat = {(s.chain, s.rule_text) for s in predicted.steps
                     if s.matched and s.table == "nat" and s.index}  # fmt: skip
    counted_nat = {(h.rule.chain, h.rule.text) for h in hits.hits if h.rule.table == "nat"}
    expect(predicted_nat <= counted_nat, "every nat rule of the trace counted by the kernel",
           predicted_nat - counted_nat)  # fmt: skip
    passed(f"the kernel counted the trace's {len(predicted_nat)} nat rules; DNAT to {chosen}")
    return chosen


def check_conntrack_remembers(entries: list[ConntrackEntry], cluster_ip: str, chosen: str) -> None:
    """One conntrack entry for the ClusterIP: sent to the ClusterIP, answered by the endpoint the
    counters showed chosen."""
    expect(len(entries) == 1, "one conntrack entry", len(entries))
    (e,) = entries
    expect(e.original["dst"] == cluster_ip, f"original destination {cluster_ip}", e.original)
    reply_from = f"{e.reply['src']}:{e.reply['sport']}"
    expect(reply_from == chosen, f"the reply from {chosen}", reply_from)
    passed(f"original {e.original['dst']} -> reply from {chosen}")


def check_masquerade(lab: Lab, hairpin: Trace, from_node: Trace, self_ip: str, remote: str,
                     cluster_ip: str) -> None:  # fmt: skip
    """A pod reaching itself through the Service is SNATed to its node's address on the pod's
    veth (10.244.N.1); node1 calling a pod on another node is SNATed to its own 172.18.0.2;
    and node1 really gets an answer from the ClusterIP."""
    gateway = self_ip.rsplit(".", 1)[0] + ".1"
    expect(hairpin.dnat_to == f"{self_ip}:8080", f"hairpin: DNAT to itself {self_ip}:8080",
           hairpin.dnat_to)  # fmt: skip
    expect(hairpin.snat_to == gateway, f"hairpin: SNAT to {gateway}", hairpin.snat_to)
    expect(from_node.dnat_to == remote, f"from node1: DNAT to {remote}", from_node.dnat_to)
    expect(from_node.snat_to == "172.18.0.2", "from node1: SNAT to 172.18.0.2", from_node.snat_to)
    curl = lab.host("node1", "curl", "-s", "-m", "2", f"http://{cluster_ip}/").returncode
    expect(curl == 0, f"curl http://{cluster_ip}/ on node1 succeeds", curl)
    passed(f"hairpin SNAT to {gateway}; node-originated SNAT to 172.18.0.2; both work")


def check_no_ping(lab: Lab, ping, curl, packets: PacketTable, toolbox_ip: str,
                  cluster_ip: str) -> None:  # fmt: skip
    """ping to the ClusterIP fails while HTTP to it answers 200: ICMP is never DNATed, meets no
    KUBE-SVC rule, and the toolbox gets neither an echo reply nor an unreachable."""
    expect(ping.returncode != 0, "ping fails", ping.returncode)
    expect(curl.stdout == "200", "HTTP 200 from the same address", curl.stdout)
    icmp_trace = lab.trace("node1", toolbox_ip, cluster_ip, None, "icmp")
    expect(icmp_trace.dnat_to is None, "ICMP not DNATed", icmp_trace.dnat_to)
    svc_steps = [s.rule_text for s in icmp_trace.steps if s.matched and "KUBE-SVC" in s.rule_text]
    expect(not svc_steps, "ICMP matches no KUBE-SVC rule", svc_steps)
    echo_replies = [p.summary for p in packets if p.summary.startswith("echo-reply")]
    expect(not echo_replies, "no echo-reply", echo_replies)
    unreachable = [p.summary for p in packets if "unreachable" in p.summary]
    expect(not unreachable, "no ICMP unreachable either: dropped without a word", unreachable)
    passed(f"ping: {icmp_trace.summary()} -> no echo-reply; TCP to the same IP: HTTP 200")


def check_refused(lab: Lab, refused, elapsed: float, packets: PacketTable, toolbox_ip: str,
                  cluster_ip: str) -> None:  # fmt: skip
    """With no endpoints: curl could not connect (exit 7) within 2 s, the tracer ends in a REJECT,
    and the toolbox received an ICMP port unreachable."""
    expect(refused.returncode == 7, "curl exit 7: could not connect", refused.returncode)
    expect(elapsed < 2, "refused within 2 s, not a timeout", round(elapsed, 2))
    reject = lab.trace("node1", toolbox_ip, cluster_ip, 80)
    expect(reject.verdict.startswith("REJECT"), "the trace ends in REJECT", reject.verdict)
    expect(any(p.summary.startswith("port-unreachable") for p in packets),
           "an ICMP port-unreachable captured", [p.summary for p in packets])  # fmt: skip
    passed(f"refused after {elapsed:.2f} s; {reject.summary()}")


def check_sync_metrics(metrics: dict[str, float]) -> None:
    """kube-proxy on node1 has synced its rules at least 3 times, under a second each on
    average."""
    syncs = metrics["kubeproxy_sync_proxy_rules_duration_seconds_count"]
    expect(syncs >= 3, "at least 3 syncs", syncs)
    mean_ms = 1000 * metrics["kubeproxy_sync_proxy_rules_duration_seconds_sum"] / syncs
    expect(mean_ms < 1000, "under 1000 ms per sync on average", round(mean_ms, 1))
    passed(f"{syncs:.0f} syncs on node1, {mean_ms:.1f} ms each on average")
