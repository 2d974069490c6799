"""Convergence bookkeeping: agents that run in pods stop counting once their pod is gone."""

from __future__ import annotations

from lab_kit.api.handler import AgentReports as Agents


def test_an_agent_behind_counts_until_its_pod_is_gone_or_it_says_goodbye():
    agents = Agents()
    agents.report("kube-proxy/node1", 10, {"node": "node1"})
    agents.report("coredns/coredns-a", 5, {"pod": "kube-system/coredns-a"})
    agents.report("coredns/coredns-b", 5, {"pod": "kube-system/coredns-b"})
    alive = {("kube-system", "coredns-a")}
    behind = agents.behind(10, lambda ns, name: (ns, name) in alive)
    assert behind == ["coredns/coredns-a"]  # b's pod was deleted: it no longer holds anyone up
    agents.forget("coredns/coredns-a")
    assert agents.behind(10, lambda ns, name: True) == ["coredns/coredns-b"]
    assert agents.behind(5) == []
