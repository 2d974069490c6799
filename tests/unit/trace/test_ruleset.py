"""ruleset: both spellings of kube-proxy's rules parse to the same meaning; counters diff."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
import trace_cases as tc
from kube_proxy_text import LAB_SERVICES, PROXIER_TEST_SERVICES, restore_text

from lab_kit.model.topology import ClusterSpec, NodeSpec
from lab_kit.render.node_network import render_masquerade
from lab_kit.trace import Recent, RulesetError, diff_counters, parse


def test_fixture_text_is_kube_proxys_own():
    """The helper reproduces kube-proxy's proxier-test dump, so the lab fixture is its format."""
    assert restore_text(PROXIER_TEST_SERVICES, "10.0.0.0/8") == tc.text("proxier_test_dump")
    assert restore_text(LAB_SERVICES, "10.244.0.0/16") == tc.text("lab_kube_proxy")


def test_ip_masq_fixture_is_what_the_renderer_writes():
    spec = ClusterSpec("lab", (NodeSpec("node1", "172.18.0.2", "10.244.1.0/24"),), ())
    written = [ln for ln in tc.text("ip_masq_agent").splitlines() if not ln.startswith("#")]
    assert written == render_masquerade(spec).splitlines()


def _meaning(rs):
    """Each rule's meaning: matches (probabilities as numbers), target, the args that matter."""
    out = {}
    for table, chains in rs.tables.items():
        for name, chain in chains.items():
            rules = []
            for r in chain.rules:
                matches = [
                    (m.kind, m.negated, round(m.value, 8) if m.kind == "statistic" else m.value)
                    for m in r.matches
                ]
                args = r.target_args.get("to-destination")
                rules.append((matches, r.target, args, r.comment))
            if rules or not chain.builtin:  # iptables-save lists empty built-ins too
                out[table, name] = (chain.policy, rules)
    return out


@pytest.mark.parametrize(
    ("written", "saved"),
    [(tc.proxier, tc.proxier_saved), (tc.lab, tc.lab_saved)],
    ids=["proxier-test", "lab"],
)
def test_written_and_saved_forms_mean_the_same(written, saved):
    assert _meaning(written()) == _meaning(saved())


def test_rule_fields():
    rs = tc.lab_saved()
    sep = rs.chain("nat", "KUBE-SEP-XD3WETLF47XZR46G")
    dnat = sep.rules[1]
    assert (dnat.table, dnat.chain, dnat.index, dnat.counters) == ("nat", sep.name, 2, (0, 0))
    assert dnat.text.startswith("-A KUBE-SEP-XD3WETLF47XZR46G -p tcp -m comment")
    assert dnat.comment == "default/sticky:http"
    assert dnat.target == "DNAT"
    assert dnat.target_args == {"to-destination": "10.244.2.6:8080"}
    recent = [m for m in dnat.matches if m.kind == "recent"]
    assert recent[0].value == Recent("KUBE-SEP-XD3WETLF47XZR46G", "set")
    rcheck = rs.chain("nat", "KUBE-SVC-T2ECBIYT2WDZZK45").rules[1].matches[0]
    assert rcheck.value == Recent("KUBE-SEP-XD3WETLF47XZR46G", "rcheck", 10800)
    stat = tc.lab().chain("nat", "KUBE-SVC-CDGGSHYLG3RE2FKL").rules[1].matches[0]
    assert stat.value == Fraction("0.3333333333")
    assert stat.text == "-m statistic --mode random --probability 0.3333333333"
    svc = tc.lab().chain("nat", "KUBE-SVC-CDGGSHYLG3RE2FKL").rules[0]
    assert [m.text for m in svc.matches] == [
        "! -s 10.244.0.0/16",
        "-d 10.96.0.12/32",
        "-p tcp",
        "--dport 80",
    ]
    masq = tc.lab().chain("nat", "KUBE-POSTROUTING").rules
    assert masq[0].matches[0].value == (0x4000, 0x4000) and masq[0].matches[0].negated
    assert masq[1].target_args == {"xor-mark": "0x4000"}
    assert masq[2].target_args == {"random-fully": True}
    reject = tc.lab_saved().chain("filter", "KUBE-SERVICES").rules[0]
    assert reject.target_args == {"reject-with": "icmp-port-unreachable"}


def test_counters_and_policies():
    rs = parse(tc.text("lab_saved_after"))
    out = rs.chain("filter", "OUTPUT")
    assert out.policy == "ACCEPT" and out.counters == (0, 0) and out.builtin
    assert [r.counters for r in out.rules] == [(2, 91)] * 3
    assert rs.chain("nat", "KUBE-SERVICES").policy is None
    assert tc.lab().chain("nat", "KUBE-SERVICES").rules[0].counters is None


def test_diff_counters_shows_the_rules_real_packets_hit():
    """Two packets sent in a namespace with these rules: TCP to sticky, UDP to dns."""
    hits = diff_counters(tc.lab_saved(), parse(tc.text("lab_saved_after")))
    got = {(h.rule.table, h.rule.chain, h.rule.index): h.packets for h in hits}
    assert got == {
        ("filter", "OUTPUT", 1): 2,
        ("filter", "OUTPUT", 2): 2,
        ("filter", "OUTPUT", 3): 2,
        ("nat", "OUTPUT", 1): 2,
        ("nat", "POSTROUTING", 1): 2,
        ("nat", "KUBE-MARK-MASQ", 1): 2,
        ("nat", "KUBE-POSTROUTING", 2): 2,
        ("nat", "KUBE-POSTROUTING", 3): 2,
        ("nat", "KUBE-SEP-3HUOOAFDTXXRTJPR", 2): 1,
        ("nat", "KUBE-SEP-XD3WETLF47XZR46G", 2): 1,
        ("nat", "KUBE-SERVICES", 2): 1,
        ("nat", "KUBE-SERVICES", 4): 1,
        ("nat", "KUBE-SVC-2MBSHUE5GJKPO227", 1): 1,
        ("nat", "KUBE-SVC-2MBSHUE5GJKPO227", 2): 1,
        ("nat", "KUBE-SVC-T2ECBIYT2WDZZK45", 1): 1,
        ("nat", "KUBE-SVC-T2ECBIYT2WDZZK45", 4): 1,
    }
    assert {h.bytes for h in hits if h.rule.chain == "KUBE-SEP-3HUOOAFDTXXRTJPR"} == {31}


def test_diff_counters_pairs_rules_by_text_not_position():
    before = parse("*filter\n:X - [0:0]\n[5:500] -A X -s 10.0.0.1 -j ACCEPT\n[1:10] -A X -j DROP\n")
    after = parse(
        "*filter\n:X - [0:0]\n[3:30] -A X -d 10.0.0.9 -j ACCEPT\n"
        "[5:500] -A X -s 10.0.0.1 -j ACCEPT\n[4:40] -A X -j DROP\n"
    )
    assert [(h.rule.index, h.packets, h.bytes) for h in diff_counters(before, after)] == [
        (1, 3, 30),  # new rule: counted from zero
        (3, 3, 30),
    ]


def test_unknown_matches_are_kept_not_fatal():
    rs = parse(
        "*filter\n:X - [0:0]\n"
        "-A X -p tcp -m multiport --dports 80,443 -j ACCEPT\n"
        "-A X -p tcp -m tcp --tcp-flags SYN,ACK SYN --dport 80 -j ACCEPT\n"
        "-A X -f -j DROP\n"
        "-A X -m statistic --mode nth --every 2 --packet 0 -j DROP\n"
        "COMMIT\n"
    )
    texts = [
        [m.text for m in r.matches if m.kind == "unknown"] for r in rs.chain("filter", "X").rules
    ]
    assert texts == [
        ["-m multiport --dports 80,443"],
        ["-m tcp --tcp-flags SYN,ACK SYN --dport 80"],
        ["-f"],
        ["-m statistic --mode nth --every 2 --packet 0"],
    ]


def test_restore_commands_and_noflush_semantics():
    rs = parse(
        "*nat\n:KUBE-SERVICES - [0:0]\n:OLD - [0:0]\n"
        "-A PREROUTING -j KUBE-SERVICES\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n"
        # a second sync: a user chain's declaration flushes it, a built-in's does not
        "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n"
        "-A KUBE-SERVICES -d 10.96.0.1 -j ACCEPT\n-I KUBE-SERVICES -s 10.0.0.1 -j DROP\n"
        "-I KUBE-SERVICES 2 -s 10.0.0.2 -j DROP\n-X OLD\nCOMMIT\n"
    )
    assert [r.text for r in rs.chain("nat", "PREROUTING").rules] == [
        "-A PREROUTING -j KUBE-SERVICES"
    ]
    svc = rs.chain("nat", "KUBE-SERVICES").rules
    assert [(r.index, r.matches[0].text) for r in svc] == [
        (1, "-s 10.0.0.1/32"),
        (2, "-s 10.0.0.2/32"),
        (3, "-d 10.96.0.1/32"),
    ]
    assert rs.chain("nat", "OLD") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-A X -j DROP\n", "line 1: outside a *table section"),
        ("*filter\n-Z X\n", "line 2: unsupported command -Z"),
        ("*filter\n-A X -j\n", "line 2: -j needs 1 argument"),
        ("*filter\n-A X -s 10.0.0.300 -j DROP\n", "line 2"),
    ],
)
def test_errors_name_the_line(text, message):
    with pytest.raises(RulesetError, match=re.escape(message)):
        parse(text)
