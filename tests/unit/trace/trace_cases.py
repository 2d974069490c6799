"""The rule sets and nodes the tracer tests share.

Two scenarios, each in the form kube-proxy writes and in the form the kernel hands back
(`iptables-save -c` of the same text restored into a scratch network namespace, kept in
fixtures/ as captured, with iptables v1.8.9 (nf_tables)):

- PROXIER: the expected dump of kube-proxy's own proxier test (ns4/svc4 with two endpoints,
  ns6/svc6 without), cluster CIDR 10.0.0.0/8, plus kube-proxy's jump rules.
- LAB: the lab's addresses (node1 172.18.0.2, pods 10.244.1.0/24, cluster 10.244.0.0/16):
  web (3 endpoints), sticky (ClientIP affinity), four (4 endpoints), dns (udp), empty (none),
  plus the jump rules and the node's IP-MASQ-AGENT rules.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lab_kit.trace import NodeContext, Ruleset, parse

FIXTURES = Path(__file__).parent / "fixtures"

NODE1 = NodeContext("node1", "172.18.0.2", "10.244.1.0/24")
PROXIER_NODE = NodeContext("node1", "192.168.0.2", "10.180.0.0/24", cluster_cidr="10.0.0.0/8")

WEB, STICKY, FOUR, DNS, EMPTY = "10.96.0.12", "10.96.0.13", "10.96.0.14", "10.96.0.10", "10.96.0.20"
WEB_EPS = ["10.244.1.5:8080", "10.244.2.5:8080", "10.244.3.5:8080"]
FOUR_EPS = ["10.244.1.7:8080", "10.244.2.7:8080", "10.244.3.7:8080", "10.244.3.8:8080"]
STICKY_EPS = ["10.244.2.6:8080", "10.244.3.6:8080"]
SVC4, SVC6 = "172.30.0.44", "172.30.0.46"
SVC4_EPS = ["10.180.0.4:80", "10.180.0.5:80"]


def text(*names: str) -> str:
    return "".join((FIXTURES / f"{n}.txt").read_text() for n in names)


@cache
def ruleset(*names: str) -> Ruleset:
    return parse(text(*names))


def lab() -> Ruleset:
    return ruleset("lab_kube_proxy", "kube_proxy_jumps", "ip_masq_agent")


def lab_saved() -> Ruleset:
    return ruleset("lab_saved_before")


def proxier() -> Ruleset:
    return ruleset("proxier_test_dump", "kube_proxy_jumps")


def proxier_saved() -> Ruleset:
    return ruleset("proxier_saved")
