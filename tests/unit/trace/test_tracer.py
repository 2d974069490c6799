"""tracer: kube-proxy's rules walked packet by packet give what a real node does."""

from __future__ import annotations

import random
import re
from collections import Counter
from fractions import Fraction

import pytest
import trace_cases as tc
from trace_cases import NODE1, PROXIER_NODE

from lab_kit.lab.graphs import packet_path_graph
from lab_kit.model.topology import ClusterSpec, NodeSpec
from lab_kit.trace import NodeContext, Packet, diff_counters, outcomes, parse, trace

LAB_FORMS = [tc.lab, tc.lab_saved]
PROXIER_FORMS = [tc.proxier, tc.proxier_saved]
FORM_IDS = ["kube-proxy", "iptables-save"]


def pod_to(dst, dport=80, src="10.244.1.6", proto="tcp"):
    return Packet(src, dst, proto, dport)


def dnats(results):
    return [(o.dnat_to, o.fraction) for o in results]


@pytest.mark.parametrize("rules", PROXIER_FORMS, ids=FORM_IDS)
def test_two_endpoints_half_each(rules):
    results = outcomes(rules(), Packet("10.180.0.9", tc.SVC4, "tcp", 80), PROXIER_NODE)
    assert dnats(results) == [(ep, "1/2") for ep in tc.SVC4_EPS]
    assert sum(o.probability for o in results) == 1
    assert all(o.verdict == "ACCEPT" and o.snat_to is None for o in results)


@pytest.mark.parametrize("rules", LAB_FORMS, ids=FORM_IDS)
def test_three_and_four_endpoints(rules):
    three = outcomes(rules(), pod_to(tc.WEB), NODE1)
    assert dnats(three) == [(ep, "1/3") for ep in tc.WEB_EPS]
    assert [o.chance for o in three] == [pytest.approx(1 / 3, abs=1e-6)] * 3
    assert sum(o.probability for o in three) == 1
    four = outcomes(rules(), pod_to(tc.FOUR), NODE1)
    assert dnats(four) == [(ep, "1/4") for ep in tc.FOUR_EPS]
    assert str(four[0]).startswith("  1/4 (0.2500): ACCEPT, DNAT → 10.244.1.7:8080")


def test_printed_probabilities_are_used_exactly():
    """0.3333333333 and (1 - 0.3333333333) x 0.5 are not equal; the shares still read 1/3."""
    first, second, _ = outcomes(tc.lab(), pod_to(tc.WEB), NODE1)
    assert first.probability == Fraction("0.3333333333")
    assert second.probability == Fraction("0.6666666667") / 2


@pytest.mark.parametrize("rules", LAB_FORMS, ids=FORM_IDS)
def test_choose_k_picks_the_kth_endpoint(rules):
    for k, endpoint in enumerate(tc.FOUR_EPS):
        assert trace(rules(), pod_to(tc.FOUR), NODE1, choose=k).dnat_to == endpoint
    assert trace(rules(), pod_to(tc.FOUR), NODE1, choose=9).dnat_to == tc.FOUR_EPS[-1]
    assert trace(rules(), pod_to(tc.FOUR), NODE1).dnat_to == tc.FOUR_EPS[0]


def test_choose_random_draws_about_evenly():
    rng = random.Random(7)
    seen = Counter(trace(tc.lab(), pod_to(tc.WEB), NODE1, choose=rng).dnat_to for _ in range(3000))
    assert set(seen) == set(tc.WEB_EPS)
    assert all(900 < n < 1100 for n in seen.values())


def test_choose_must_be_none_int_or_random():
    with pytest.raises(TypeError):
        trace(tc.lab(), pod_to(tc.WEB), NODE1, choose=True)
    with pytest.raises(ValueError, match="origin"):
        trace(tc.lab(), pod_to(tc.WEB), NODE1, origin="outside")


def test_step_results_read_like_the_rules():
    t = trace(tc.lab(), pod_to(tc.WEB), NODE1, choose=1)
    svc = [s for s in t.steps if s.chain == "KUBE-SVC-CDGGSHYLG3RE2FKL"]
    assert [(s.index, s.result) for s in svc] == [
        (1, "no match: ! -s 10.244.0.0/16"),
        (2, "no match (probability 0.3333333333, not taken)"),
        (3, "match (probability 0.5000000000, taken) → jump KUBE-SEP-OAIGUPJHOE4YU7HS"),
    ]
    assert [s.depth for s in svc] == [2, 2, 2]
    assert svc[2].comment == "default/web:http -> 10.244.2.5:8080"
    assert (
        t.steps[0].rule_text
        == '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
    )


@pytest.mark.parametrize("rules", LAB_FORMS, ids=FORM_IDS)
def test_hairpin_is_masqueraded_to_the_pod_gateway(rules):
    t = trace(rules(), pod_to(tc.WEB, src="10.244.1.5"), NODE1, choose=0)
    assert t.dnat_to == "10.244.1.5:8080"
    assert (t.snat_to, t.src, t.dst) == ("10.244.1.1", "10.244.1.1", "10.244.1.5")
    assert t.mark == 0  # KUBE-POSTROUTING clears the bit it acted on
    assert ("nat", "KUBE-SEP-AFGSLHOD2HFNCBX4", 1) in t.rules_hit()  # -s <endpoint> -> MARK-MASQ
    # the same client reaching another endpoint keeps its address
    assert trace(rules(), pod_to(tc.WEB, src="10.244.1.5"), NODE1, choose=1).snat_to is None


def test_hairpin_in_kube_proxys_own_dump():
    t = trace(tc.proxier(), Packet("10.180.0.5", tc.SVC4, "tcp", 80), PROXIER_NODE, choose=1)
    assert (t.dnat_to, t.snat_to) == ("10.180.0.5:80", "10.180.0.1")


@pytest.mark.parametrize("rules", LAB_FORMS, ids=FORM_IDS)
def test_node_local_client_is_marked_and_masqueraded(rules):
    pkt = Packet("172.18.0.2", tc.WEB, "tcp", 80)
    remote = trace(rules(), pkt, NODE1, origin="local", choose=1)
    assert ("nat", "KUBE-SVC-CDGGSHYLG3RE2FKL", 1) in remote.rules_hit()  # ! -s 10.244.0.0/16
    assert ("nat", "KUBE-MARK-MASQ", 1) in remote.rules_hit()
    assert (remote.dnat_to, remote.snat_to) == ("10.244.2.5:8080", "172.18.0.2")
    hooks = [f"{s.table} {s.chain}" for s in remote.steps if s.depth == 0]
    assert list(dict.fromkeys(hooks)) == ["nat OUTPUT", "filter OUTPUT", "nat POSTROUTING"]
    local = trace(rules(), pkt, NODE1, origin="local", choose=0)
    assert (local.dnat_to, local.snat_to) == ("10.244.1.5:8080", "10.244.1.1")


@pytest.mark.parametrize("rules", LAB_FORMS, ids=FORM_IDS)
@pytest.mark.parametrize("origin", ["forwarded", "local"])
def test_service_without_endpoints_is_rejected_in_filter(rules, origin):
    src = "10.244.1.6" if origin == "forwarded" else "172.18.0.2"
    t = trace(rules(), Packet(src, tc.EMPTY, "tcp", 80), NODE1, origin=origin)
    assert t.verdict == "REJECT (icmp-port-unreachable)"
    last = t.steps[-1]
    assert (last.table, last.chain, last.index) == ("filter", "KUBE-SERVICES", 1)
    assert last.comment == "default/empty:http has no endpoints"
    assert t.dnat_to is None
    hops = t.hops()
    assert hops[-1]["where"] == "REJECT (icmp-port-unreachable) on node1"


@pytest.mark.parametrize("rules", PROXIER_FORMS, ids=FORM_IDS)
def test_ping_to_a_cluster_ip_matches_nothing(rules):
    """Every Service rule names a port protocol: ICMP is routed on, unchanged, and unanswered."""
    t = trace(rules(), Packet("10.180.0.9", tc.SVC4, "icmp", None), PROXIER_NODE)
    assert (t.verdict, t.src, t.dst, t.dnat_to, t.snat_to) == (
        "ACCEPT",
        "10.180.0.9",
        tc.SVC4,
        None,
        None,
    )
    assert not any(s.chain.startswith("KUBE-SVC") for s in t.steps)
    first = next(s for s in t.steps if s.chain == "KUBE-SERVICES")
    assert first.result == "no match: -p tcp"
    assert str(t.packet) == "icmp 10.180.0.9 → 172.30.0.44"
    # on a lab node, IP-MASQ-AGENT then sends it out with the node's address
    lab = trace(tc.lab(), pod_to(tc.WEB, dport=None, proto="icmp"), NODE1)
    assert (lab.dnat_to, lab.dst, lab.snat_to) == (None, tc.WEB, "172.18.0.2")
    assert lab.steps[-1].chain == "IP-MASQ-AGENT"


@pytest.mark.parametrize("rules", LAB_FORMS, ids=FORM_IDS)
def test_client_ip_affinity_replays_through_recent(rules):
    recent_in: dict[str, set[str]] = {}
    first = trace(rules(), pod_to(tc.STICKY), NODE1, choose=1, recent=recent_in)
    assert first.dnat_to == tc.STICKY_EPS[1]
    assert first.recent == {
        "KUBE-SEP-XD3WETLF47XZR46G": set(),
        "KUBE-SEP-22YJYFTVJRIY4SXA": {"10.244.1.6"},
    }
    assert recent_in == {}  # the caller's state is not changed
    again = trace(rules(), pod_to(tc.STICKY), NODE1, choose=0, recent=first.recent)
    assert again.dnat_to == tc.STICKY_EPS[1]
    hit = next(s for s in again.steps if s.matched and s.chain == "KUBE-SVC-T2ECBIYT2WDZZK45")
    assert (hit.index, hit.result) == (3, "match → jump KUBE-SEP-22YJYFTVJRIY4SXA")
    assert not any("probability" in s.result for s in again.steps)
    # certain for this client, a fresh draw for another
    assert dnats(outcomes(rules(), pod_to(tc.STICKY), NODE1, recent=first.recent)) == [
        (tc.STICKY_EPS[1], "1")
    ]
    other = pod_to(tc.STICKY, src="10.244.1.7")
    assert len(outcomes(rules(), other, NODE1, recent=first.recent)) == 2


@pytest.mark.parametrize("rules", LAB_FORMS, ids=FORM_IDS)
def test_ip_masq_agent(rules):
    out = trace(rules(), pod_to("203.0.113.10", 443), NODE1)
    assert (out.verdict, out.snat_to, out.src) == ("ACCEPT", "172.18.0.2", "172.18.0.2")
    assert out.steps[-1].comment.startswith("ip-masq-agent: outbound traffic")
    for inside in ("10.244.2.5", "172.18.0.3"):
        t = trace(rules(), pod_to(inside, 8080), NODE1)
        assert t.snat_to is None and t.src == "10.244.1.6"
    # to the node itself: INPUT, no POSTROUTING, nothing rewritten
    t = trace(rules(), pod_to("10.244.1.1", 10250), NODE1)
    assert [s.table for s in t.steps if s.depth == 0][-1] == "filter"
    assert t.hops()[-1]["where"] == "node1 (local delivery)"


def _shape(t):
    """A trace without what differs between the two spellings: text and printed digits."""
    steps = [
        (s.table, s.chain, s.index, s.matched, s.depth, s.comment, re.sub(r"0\.\d+", "P", s.result))
        for s in t.steps
    ]
    return steps, t.verdict, t.src, t.dst, t.dport, t.dnat_to, t.snat_to, t.mark, t.recent


LAB_PACKETS = [
    (pod_to(tc.WEB), "forwarded"),
    (pod_to(tc.WEB, src="10.244.1.5"), "forwarded"),
    (Packet("172.18.0.2", tc.STICKY, "tcp", 80), "local"),
    (pod_to(tc.DNS, 53, proto="udp"), "forwarded"),
    (pod_to(tc.EMPTY), "forwarded"),
    (pod_to(tc.WEB, None, proto="icmp"), "forwarded"),
    (pod_to("203.0.113.10", 443), "forwarded"),
    (Packet("192.0.2.10", "172.18.0.2", "tcp", 30080), "forwarded"),
    (Packet("127.0.0.1", "127.0.0.1", "tcp", 10249), "local"),
]


@pytest.mark.parametrize(("packet", "origin"), LAB_PACKETS, ids=lambda p: str(p))
def test_saved_form_traces_like_the_written_form(packet, origin):
    for k in range(3):
        written = trace(tc.lab(), packet, NODE1, origin=origin, choose=k)
        saved = trace(tc.lab_saved(), packet, NODE1, origin=origin, choose=k)
        assert _shape(written) == _shape(saved)


def test_trace_agrees_with_the_kernels_counters():
    """The fixture's counters come from two real packets; the tracer predicts the same rules."""
    kernel = Counter()
    for hit in diff_counters(tc.lab_saved(), parse(tc.text("lab_saved_after"))):
        kernel[hit.rule.table, hit.rule.chain, hit.rule.index] += hit.packets
    predicted = Counter()
    for pkt in (
        Packet("172.18.0.2", tc.STICKY, "tcp", 80),
        Packet("172.18.0.2", tc.DNS, "udp", 53),
    ):
        predicted.update(trace(tc.lab_saved(), pkt, NODE1, origin="local").rules_hit())
    assert predicted == kernel


def test_unknown_matches_are_reported_not_crashed():
    rs = parse(
        "*filter\n:FORWARD DROP [0:0]\n"
        "-A FORWARD -p tcp -m multiport --dports 80,443 -j ACCEPT\n"
        "-A FORWARD -i eth0 -j ACCEPT\n"
        "-A FORWARD -j LOG --log-prefix x\nCOMMIT\n"
    )
    t = trace(rs, pod_to("10.244.2.5"), NODE1)
    assert t.verdict == "DROP"  # nothing matched, so the policy applies
    assert [s.result for s in t.steps] == [
        "no match: -m multiport --dports 80,443",
        "no match: -i eth0",
        "match → LOG (not modelled, continue)",
        "policy DROP",
    ]
    assert any("multiport" in n and "never matching" in n for n in t.notes)
    assert any("iif" in n for n in t.notes)
    assert "note: target LOG is not modelled" in str(t)
    assert (
        trace(rs, Packet("10.244.1.6", "10.244.2.5", "tcp", 80, iif="eth0"), NODE1).verdict
        == "ACCEPT"
    )


def test_policies_returns_gotos_and_marks():
    rs = parse(
        "*mangle\n:A - [0:0]\n:B - [0:0]\n"
        "-A FORWARD -j MARK --set-xmark 0x1/0xff\n-A FORWARD -g A\n-A FORWARD -j MARK --or-mark 0x10\n"
        "-A A -j B\n-A A -j MARK --or-mark 0x100\n-A B -j RETURN\nCOMMIT\n"
        "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -m mark --mark 0x101/0xfff -j RETURN\nCOMMIT\n"
    )
    t = trace(rs, pod_to("10.244.2.5"), NODE1)
    # goto A: at A's end we return past FORWARD's goto rule, to the policy, not to rule 3
    assert [(s.chain, s.index) for s in t.steps if s.table == "mangle"] == [
        ("FORWARD", 1), ("FORWARD", 2), ("A", 1), ("B", 1), ("A", 2), ("FORWARD", 0),
    ]  # fmt: skip
    assert t.mark == 0x101
    assert (t.verdict, t.steps[-1].result) == ("DROP", "policy DROP")  # RETURN in a built-in


def test_str_html_and_hops():
    t = trace(tc.lab(), pod_to(tc.WEB), NODE1, choose=1)
    text = str(t)
    assert text.splitlines()[0] == "tcp 10.244.1.6:40000 → 10.96.0.12:80 (forwarded, on node1)"
    assert "\nnat PREROUTING\n" in text and "\nfilter FORWARD\n" in text
    assert "      KUBE-SVC-CDGGSHYLG3RE2FKL #3 match (probability 0.5000000000, taken)" in text
    assert text.endswith(
        "verdict: ACCEPT, DNAT → 10.244.2.5:8080; leaves as 10.244.1.6:40000 → 10.244.2.5:8080, mark 0x0"
    )
    assert "\n  FORWARD policy ACCEPT\n" in text
    html = t._repr_html_()
    assert html.count("<tr>") == len(t.steps) + 1
    assert "&quot;default/web:http -&gt; 10.244.2.5:8080&quot;" in html
    assert t.hops() == [
        {"where": "pod 10.244.1.6 on node1", "src": "10.244.1.6:40000", "dst": "10.96.0.12:80"},
        {
            "where": "node1 after nat PREROUTING",
            "note": "DNAT to 10.244.2.5:8080 by KUBE-SEP-OAIGUPJHOE4YU7HS (default/web:http)",
            "src": "10.244.1.6:40000",
            "dst": "10.244.2.5:8080",
        },
        {
            "where": "pod 10.244.2.5 on another node",
            "src": "10.244.1.6:40000",
            "dst": "10.244.2.5:8080",
        },
    ]
    dot = packet_path_graph(t.hops()).source
    assert "dst 10.96.0.12:80 → 10.244.2.5:8080" in dot


def test_node_context():
    spec = ClusterSpec("lab", (NodeSpec("node2", "172.18.0.3", "10.244.2.0/24"),), ())
    node = NodeContext.from_spec(spec, "node2")
    assert node == NodeContext("node2", "172.18.0.3", "10.244.2.0/24", "10.244.0.0/16")
    assert node.local_addresses == ("172.18.0.3", "127.0.0.1", "10.244.2.1")
    assert node.is_local("127.0.0.53") and not node.is_local("10.244.2.5")
    assert node.egress_address("10.244.2.5") == "10.244.2.1"
    assert node.egress_address("10.244.1.5") == "172.18.0.3"


def test_snat_dnat_without_port_and_nat_input():
    rs = parse(
        "*nat\n"
        "-A PREROUTING -d 198.51.100.10 -j DNAT --to-destination 172.18.0.2\n"
        "-A INPUT -s 192.0.2.0/24 -j SNAT --to-source 172.18.0.1:5000\n"
        "-A POSTROUTING -j SNAT --to-source 172.18.0.99\nCOMMIT\n"
        "*filter\n-A INPUT -s 192.0.2.10\nCOMMIT\n"
    )
    t = trace(rs, Packet("192.0.2.10", "198.51.100.10", "tcp", 30080), NODE1)
    assert (t.dnat_to, t.snat_to, t.sport) == ("172.18.0.2:30080", "172.18.0.1", 5000)
    assert [(s.table, s.chain, s.result) for s in t.steps] == [
        ("nat", "PREROUTING", "match → DNAT to 172.18.0.2:30080"),
        ("filter", "INPUT", "match → counted only (no target)"),
        ("filter", "INPUT", "policy ACCEPT"),
        ("nat", "INPUT", "match → SNAT to 172.18.0.1"),
    ]  # delivered locally: nat POSTROUTING's SNAT is never seen
    assert [h["where"] for h in t.hops()] == [
        "192.0.2.10 (outside the pod network)",
        "node1 after nat PREROUTING",
        "node1 after nat INPUT",
        "node1 (local delivery)",
    ]
