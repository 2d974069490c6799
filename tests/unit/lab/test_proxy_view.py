"""A node's data plane as notebooks see it (lab_kit.lab.proxy_view, through `Lab`), on a
real node's `iptables-save -c` (tests/unit/trace/fixtures): excerpts, one Service's rules,
the tracer on live rules, rule hits, conntrack and kube-proxy's metrics. The node's
commands are answered by a fake `access.run_on_host` (entering a node needs root)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from lab_fixtures import TRACE_FIXTURES

from lab_kit.lab import access, proxy_view
from lab_kit.lab.access import Completed
from lab_kit.lab.topologies import TOPOLOGY_DIR

BEFORE = (TRACE_FIXTURES / "lab_saved_before.txt").read_text()
AFTER = (TRACE_FIXTURES / "lab_saved_after.txt").read_text()
WEB_SVC = "KUBE-SVC-CDGGSHYLG3RE2FKL"  # default/web:http, as kube-proxy hashes it
WEB_SEPS = ["KUBE-SEP-AFGSLHOD2HFNCBX4", "KUBE-SEP-OAIGUPJHOE4YU7HS", "KUBE-SEP-HQQLGVWC5OFWA4VC"]
CONNTRACK = (
    "tcp      6 117 TIME_WAIT src=10.244.1.6 dst=10.96.0.12 sport=42114 dport=80 "
    "src=10.244.2.5 dst=10.244.1.6 sport=8080 dport=42114 [ASSURED] mark=0 use=1\n"
    "udp      17 29 src=10.244.1.6 dst=10.96.0.10 sport=5353 dport=53 "
    "src=10.244.1.3 dst=10.244.1.6 sport=53 dport=5353 mark=0 use=1\n"
)
METRICS = """# TYPE kubeproxy_sync_proxy_rules_total counter
kubeproxy_sync_proxy_rules_total 7
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",method="GET"} 12
"""


class Node:
    """Answers the commands proxy_view runs on a node; records them."""

    def __init__(self, saves: Iterator[str] | None = None):
        self.saves = saves
        self.asked: list[tuple[str, list[str]]] = []
        self.fail = False

    def __call__(self, host: str, argv: list[str], **_: object) -> Completed:
        self.asked.append((host, argv))
        if self.fail:
            return Completed(argv, 1, "", "boom")
        if argv[0] == "iptables-save":
            return Completed(argv, 0, next(self.saves) if self.saves else BEFORE, "")
        if argv[0] == "conntrack":
            return Completed(argv, 0, CONNTRACK, "conntrack v1.4.7: 2 flow entries shown.\n")
        return Completed(argv, 0, METRICS, "")


@pytest.fixture
def node(monkeypatch) -> Node:
    fake = Node()
    monkeypatch.setattr(access, "run_on_host", fake)
    return fake


@pytest.fixture
def web(client):
    client.create({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "10.96.0.12", "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    })  # fmt: skip


def test_iptables_whole_or_the_lines_that_mention_something(lab, node):
    assert lab.iptables("node1") == BEFORE
    lab.iptables("node1", "nat", counters=True)
    assert node.asked[1] == ("node1", ["iptables-save", "-t", "nat", "-c"])
    excerpt = lab.iptables("node1", grep="10.96.0.14")
    assert excerpt.lines[0] == "*nat" and excerpt.lines[-1] == "COMMIT"  # filter had nothing
    assert [r.split()[2] for r in excerpt.rules()] == ["KUBE-SERVICES", "KUBE-SVC-E6UQFSBITOHWI3AP"]
    either = lab.iptables("node1", grep=["10.96.0.14", "10.96.0.20"])
    assert either.lines[0] == "*filter" and len(either.rules("KUBE-SERVICES")) == 2


def test_service_rules_are_one_services_chains_and_the_endpoints_they_jump_to(lab, node, web):
    rules = lab.service_rules("web")
    chains = {line.split()[2] for line in rules.rules()}
    assert chains == {"KUBE-SERVICES", WEB_SVC, *WEB_SEPS}
    assert "default/sticky" not in rules and "*filter" not in rules
    assert node.asked == [("node1", ["iptables-save"])]


def test_trace_and_outcomes_walk_the_live_rules_of_the_node(lab, node, rundir):
    shutil.copyfile(TOPOLOGY_DIR / "default.toml", rundir.topology_file)  # as `up` does
    first = lab.trace("node1", "10.244.1.6", "10.96.0.12", 80)
    assert (first.verdict, first.dnat_to) == ("ACCEPT", "10.244.1.5:8080")
    third = lab.trace("node1", "10.244.1.6", "10.96.0.12", 80, choose=2)
    assert third.dnat_to == "10.244.3.5:8080"
    fates = lab.outcomes("node1", "10.244.1.6", "10.96.0.12", 80)
    assert [(o.fraction, o.dnat_to) for o in fates] == [
        ("1/3", "10.244.1.5:8080"), ("1/3", "10.244.2.5:8080"), ("1/3", "10.244.3.5:8080"),
    ]  # fmt: skip
    refused = lab.outcomes("node1", "10.244.1.6", "10.96.0.20", 80)
    assert [o.verdict for o in refused] == ["REJECT (icmp-port-unreachable)"]


def test_rule_hits_are_the_rules_whose_counters_grew(lab, monkeypatch):
    node = Node(iter([BEFORE, AFTER]))
    monkeypatch.setattr(access, "run_on_host", node)
    with lab.rule_hits("node1") as hits:
        pass
    assert [argv for _, argv in node.asked] == [["iptables-save", "-c"]] * 2
    assert any("-A KUBE-SEP-XD3WETLF47XZR46G" in r for r in hits.rules)
    assert all(r.startswith("[") for r in hits.rules)
    assert "KUBE-SEP-XD3WETLF47XZR46G" in hits.chains()


def test_conntrack_entries_original_and_reply(lab, node):
    table = lab.conntrack("node1", "-p", "tcp")
    assert node.asked[0] == ("node1", ["conntrack", "-L", "-p", "tcp"])
    tcp, udp = table
    assert (tcp.state, tcp.original["dport"], tcp.reply["src"]) == ("TIME_WAIT", 80, "10.244.2.5")
    assert tcp.dnat and not tcp.snat and udp.dnat
    assert isinstance(table[:1], proxy_view.ConntrackTable) and len(table[:1]) == 1
    assert str(tcp).startswith("tcp original 10.244.1.6:42114 -> 10.96.0.12:80")


def test_kube_proxy_metrics_by_sample_name(lab, node):
    metrics = lab.proxy_metrics()
    assert metrics["kubeproxy_sync_proxy_rules_total"] == 7
    assert metrics['rest_client_requests_total{code="200",method="GET"}'] == 12
    assert node.asked[0][1][-1] == "http://127.0.0.1:10249/metrics"


def test_a_failing_node_command_says_which_node(lab, node):
    node.fail = True
    with pytest.raises(RuntimeError, match="iptables-save on node2 failed: boom"):
        lab.iptables("node2")
    with pytest.raises(RuntimeError, match="conntrack on node2 failed: boom"):
        lab.conntrack("node2")
    with pytest.raises(RuntimeError, match="kube-proxy metrics on node2 unavailable: boom"):
        lab.proxy_metrics("node2")
