"""Lab 02's checks: the ClusterIP from the service range, kube-proxy's equal-chance rules on
every node, the DNAT seen at both ends and in conntrack, and an address that outlives its pods."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.lab.checks.common import check_endpoints_are_the_pods, check_spread, endpoint_addresses
from lab_kit.render.proxy_rules import svc_chain

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

__all__ = ["check_endpoints_are_the_pods", "check_spread"]  # re-exported for the notebook
SERVICE_RANGE = ipaddress.ip_network("10.96.0.0/12")


def check_cluster_ip(lab: Lab, service: str, port: int, target_port: int) -> str:
    """The Service's ClusterIP comes from the service range; its port maps to the target."""
    spec = lab.get("services", service)["spec"]
    ip = spec["clusterIP"]
    expect(ipaddress.ip_address(ip) in SERVICE_RANGE, f"a ClusterIP in {SERVICE_RANGE}", ip)
    first = spec["ports"][0]
    expect((first["port"], first["targetPort"]) == (port, target_port),
           f"port {port} -> targetPort {target_port}", first)  # fmt: skip
    passed(f"ClusterIP {ip}")
    return ip


def check_equal_chances(lab: Lab, rules, service: str = "random-generator") -> str:
    """The KUBE-SVC chain picks each of 4 endpoints with probability 1/4 (1/4, 1/3, 1/2, the
    rest), DNATs to each, and every node has the same chain."""
    chain = svc_chain(f"default/{service}", "tcp")
    expect(chain == "KUBE-SVC-FLNJ4FGQ5UX5NSDC", "the chain named by the hash of default/random-generator:tcp", chain)  # fmt: skip
    svc_rules = rules.rules(chain)
    probabilities = [r.split("--probability ")[1].split()[0] for r in svc_rules if "--probability" in r]  # fmt: skip
    expect([round(float(p), 4) for p in probabilities] == [0.25, 0.3333, 0.5],
           "probabilities 1/4, 1/3, 1/2 then the last", probabilities)  # fmt: skip
    dnats = sum("DNAT --to-destination" in r for r in rules.lines)
    expect(dnats == 4, "4 DNAT rules, one per endpoint", dnats)
    for node in ("node2", "node3"):  # any node can reach the Service
        same = lab.service_rules(service, node=node).rules(chain) == svc_rules
        expect(same, f"{node} has the same {chain}")
    passed(f"{chain} picks among 4 endpoints with probabilities {probabilities} then the last")
    return chain


def check_dnat_at_both_ends(caps, server: str, client_ip: str, cluster_ip: str,
                            server_ip: str):  # fmt: skip
    """The client sent to ClusterIP:80; the one chosen pod received from the client's own
    address on its pod port 8080. Returns the client's SYN (its port finds the conntrack entry)."""
    client_syn, server_syn = caps["toolbox"].packets().syns()[0], caps[server].packets().syns()[0]
    seen_client = (client_syn.src, client_syn.dst, client_syn.dport)
    seen_server = (server_syn.src, server_syn.dst, server_syn.dport)
    expect(
        seen_client == (client_ip, cluster_ip, 80), "the client's SYN to ClusterIP:80", seen_client
    )
    expect(seen_server == (client_ip, server_ip, 8080), "the pod's SYN from the client to pod:8080", seen_server)  # fmt: skip
    expect(caps.with_connections() == ["toolbox", server], "exactly one pod chosen", caps.with_connections())  # fmt: skip
    passed(
        f"client saw {client_ip} -> {cluster_ip}:80; {server} saw {client_ip} -> {server_ip}:8080"
    )
    return client_syn


def check_conntrack(lab: Lab, entry, client_ip: str, cluster_ip: str, server_ip: str,
                    endpoints: list[str]) -> None:  # fmt: skip
    """conntrack on node1 keeps the original tuple and the DNATed reply, source untouched;
    every connection to the ClusterIP went to one of the endpoints."""
    (e,) = entry
    original = (e.original["src"], e.original["dst"], e.original["dport"])
    reply = (e.reply["src"], e.reply["sport"], e.reply["dst"])
    expect(original == (client_ip, cluster_ip, 80), "original: client -> ClusterIP:80", original)
    expect(reply == (server_ip, 8080, client_ip), "reply: pod:8080 -> client", reply)
    expect(e.dnat and not e.snat, "destination rewritten, source kept")
    everything = lab.conntrack("node1", "-p", "tcp", "--orig-dst", cluster_ip)
    targets = {x.reply["src"] for x in everything}
    expect(targets <= set(endpoints), "every connection DNATed to an endpoint", targets)
    passed(f"{len(everything)} connections to {cluster_ip} tracked on node1, each DNATed to one of the pods")  # fmt: skip


def check_same_address_new_pods(lab: Lab, cluster_ip: str, old_endpoints: list[str]) -> list[str]:
    """After every pod was replaced: new pod addresses, the same ClusterIP, the slice
    following the new pods, and 20 requests all answered."""
    new_ips = sorted(p["status"]["podIP"] for p in lab.get("pods", selector="app=random-generator")
                     if not p["metadata"].get("deletionTimestamp"))  # fmt: skip
    expect(not set(new_ips) & set(old_endpoints), "all new pod addresses", new_ips)
    ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
    expect(ip == cluster_ip, f"the ClusterIP still {cluster_ip}", ip)
    endpoints = endpoint_addresses(lab, "random-generator")
    expect(endpoints == new_ips, "the endpoints are the new pods", endpoints)
    after = lab.requests("toolbox", f"http://{cluster_ip}/", 20)
    expect("ERR" not in after, "20 requests all answered", after.count("ERR"))
    passed(f"same ClusterIP {cluster_ip} now in front of {new_ips}")
    return new_ips
