"""Lab 12's checks: port 32766 opened on every node, any node serving (often through a pod on
another node) with the pods seeing only nodes (SNAT), ClientIP affinity remembered per node,
`externalTrafficPolicy: Local` keeping the client's address and dropping on podless nodes, a
node gone, and the router's firewall in front of the NodePort range."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.proxy_view import RulesText

NODE_IPS = {"node1": "172.18.0.2", "node2": "172.18.0.3", "node3": "172.18.0.4"}
BRIDGE_IPS = {"node1": "10.244.1.1", "node2": "10.244.2.1", "node3": "10.244.3.1"}
NODE_OF = {ip: node for ips in (NODE_IPS, BRIDGE_IPS) for node, ip in ips.items()}
CLIENT_IP, INTERNET_IP = "192.0.2.10", "203.0.113.10"
NODE_PORT = 32766
TIMED_OUT = 28  # curl's exit code when -m runs out


def check_nodeport_service(lab: Lab, node_ips: dict[str, str]) -> None:
    """The book's Service is a NodePort with the defaulted `externalTrafficPolicy: Cluster`,
    port 8080 to the pods' 8080 and node port 32766; the nodes have the addresses we call."""
    spec = lab.get("services", "random-generator")["spec"]
    kind = (spec["type"], spec["externalTrafficPolicy"])
    expect(kind == ("NodePort", "Cluster"), "type NodePort, externalTrafficPolicy Cluster", kind)
    want = [{"port": 8080, "targetPort": 8080, "protocol": "TCP", "nodePort": NODE_PORT}]
    expect(spec["ports"] == want, f"the ports {want}", spec["ports"])
    nodes = {n["metadata"]["name"]: n["status"]["addresses"][0]["address"]
             for n in lab.get("nodes")}  # fmt: skip
    expect(nodes == node_ips, f"the nodes' addresses {node_ips}", nodes)
    passed(
        f"NodePort {NODE_PORT} on {', '.join(node_ips.values())} - externalTrafficPolicy: Cluster"
    )


def check_nodeport_chain(rules: RulesText) -> str:
    """KUBE-NODEPORTS sends --dport 32766 to the Service's KUBE-EXT chain, whose first rule
    marks every outside packet for masquerade (the SNAT) and whose last jumps to its KUBE-SVC
    chain. Returns the KUBE-EXT chain's name."""
    found = [r for r in rules.rules("KUBE-NODEPORTS") if f"--dport {NODE_PORT}" in r]
    expect(found, f"a KUBE-NODEPORTS rule for --dport {NODE_PORT}", rules.rules("KUBE-NODEPORTS"))
    ext = found[0].split(" -j ")[-1]
    expect(ext.startswith("KUBE-EXT-"), "a jump to a KUBE-EXT- chain", ext)
    ext_rules = rules.rules(ext)
    expect(ext_rules, f"rules in {ext}")
    expect(ext_rules[0].endswith("-j KUBE-MARK-MASQ"), f"{ext} first marks for masquerade",
           ext_rules[0])  # fmt: skip
    svc = ext.replace("KUBE-EXT-", "KUBE-SVC-")
    expect(ext_rules[-1].endswith("-j " + svc), f"{ext} then jumps to {svc}", ext_rules[-1])
    passed(f"KUBE-NODEPORTS --dport {NODE_PORT} -> {ext}: KUBE-MARK-MASQ, then the Service's "
           "KUBE-SVC chain")  # fmt: skip
    return ext


def check_every_node_serves(served: dict[str, Counter], placed: dict[str, str],
                            each: int = 8) -> int:  # fmt: skip
    """Every node answered all its `each` requests, from known pods; all the pods served the
    client; and some requests went on to a pod on another node (each request picks any of
    the 4 pods and a node holds at most 2, so all 24 staying home has a chance < 1e-7).
    Returns how many went to another node."""
    for node, c in served.items():
        expect("ERR" not in c and "?" not in c and sum(c.values()) == each,
               f"{node}: {each} answers, each from a known pod", dict(c))  # fmt: skip
    pods = set().union(*served.values())
    expect(pods == set(placed), f"all {len(placed)} pods served the client", sorted(pods))
    away = sum(n for node, c in served.items() for pod, n in c.items() if placed[pod] != node)
    expect(away > 0, "some requests went on to a pod on another node", away)
    total = sum(sum(c.values()) for c in served.values())
    passed(f"{total} answers from {len(placed)} pods; {away} went on to a pod on another node")
    return away


def check_pods_see_nodes(seen: Counter, syns: int = 12) -> int:
    """The pods got `syns` connections, none from the client: each from its own node's bridge
    address (pod on the receiving node) or from another node's address (the extra hop).
    Returns how many crossed to another node."""
    expect(sum(seen.values()) == syns, f"{syns} SYNs at the pods", sum(seen.values()))
    sources = {src for _, _, src in seen}
    expect(CLIENT_IP not in sources, f"none from the client {CLIENT_IP}", sorted(sources))
    for pod, node, src in seen:  # its own node's bridge address, or another node's address
        expect(src == BRIDGE_IPS[node] or (src in NODE_IPS.values() and NODE_OF[src] != node),
               f"{pod} on {node}: from {BRIDGE_IPS[node]} or another node's address",
               src)  # fmt: skip
    hops = sum(n for (_pod, node, src), n in seen.items() if NODE_OF[src] != node)
    passed(f"{syns} SYNs, none from {CLIENT_IP}; {hops} crossed to another node first")
    return hops


def check_rewritten_on_node2(lab: Lab, at_client, at_pod, server: str) -> None:
    """The client sent to node2:32766; the pod got the connection from node2 (its address or
    its bridge address) on port 8080; node2's conntrack entry has both rewrites, DNAT and SNAT."""
    node2 = NODE_IPS["node2"]
    sent, got = at_client.packets().syns()[0], at_pod.packets().syns()[0]
    seen_client = (sent.src, sent.dst, sent.dport)
    expect(seen_client == (CLIENT_IP, node2, NODE_PORT), f"the client's SYN to {node2}:{NODE_PORT}",
           seen_client)  # fmt: skip
    expect(got.src in (node2, BRIDGE_IPS["node2"]) and got.dport == 8080,
           f"the pod's SYN from node2 ({node2} or {BRIDGE_IPS['node2']}) to port 8080",
           (got.src, got.dport))  # fmt: skip
    entries = lab.conntrack(
        "node2", "-p", "tcp", "--orig-src", CLIENT_IP, "--sport", str(sent.sport)
    )
    expect(len(entries) == 1, "one conntrack entry on node2 for the connection", len(entries))
    (entry,) = entries
    expect(entry.dnat and entry.snat, "both rewrites: destination and source", str(entry))
    passed(f"{CLIENT_IP}:{sent.sport} -> {node2}:{NODE_PORT} arrived at {server} as {got.src} "
           "-> :8080")  # fmt: skip


def check_sticky_per_node(lab: Lab, stuck: dict[tuple[str, str], Counter], caps,
                          pods: list[str]) -> None:  # fmt: skip
    """Each outside client got one pod on each node; each node's `recent` lists remember both
    outside clients, once each; the pods saw only node addresses."""
    for (who, node), c in stuck.items():
        expect(len(c) == 1 and "ERR" not in c, f"{who} via {node}: one pod, every request answered",
               dict(c))  # fmt: skip
    for node in NODE_IPS:  # each node remembers each outside client once, in one pod's list
        lists = lab.host(node, "sh", "-c", "grep -o 'src=[0-9.]*' /proc/net/xt_recent/*").stdout
        remembered = sorted(line.split("src=")[1] for line in lists.split())
        expect(remembered == [CLIENT_IP, INTERNET_IP],
               f"{node} remembers {CLIENT_IP} and {INTERNET_IP} once each", remembered)  # fmt: skip
    sources = {syn.src for pod in pods for syn in caps[pod].packets().syns()}
    nodes = set(NODE_IPS.values()) | set(BRIDGE_IPS.values())
    expect(sources <= nodes, "the pods saw only node addresses", sorted(sources - nodes))
    total = sum(sum(c.values()) for c in stuck.values())
    passed(f"{total} requests, sticky per client per node; the pods saw only {len(sources)} "
           "node addresses")  # fmt: skip


def check_local_rules(lab: Lab, home: str, podless: list[str]) -> None:
    """The Service is now `Local` (no affinity); a node without a pod has kube-proxy's filter
    rule that DROPs port 32766 ("has no local endpoints"); the pod's node sends to its own
    endpoints (a KUBE-SVL chain)."""
    svc = lab.get("services", "random-generator")["spec"]
    policy = (svc["externalTrafficPolicy"], svc["sessionAffinity"])
    expect(policy == ("Local", "None"), "externalTrafficPolicy Local, sessionAffinity None", policy)
    lines = lab.iptables(podless[0], "filter").lines
    drops = [r for r in lines if "has no local endpoints" in r]
    expect(len(drops) == 1, f"one 'has no local endpoints' rule on {podless[0]}", drops)
    (drop,) = drops
    expect(f"--dport {NODE_PORT}" in drop and drop.endswith("-j DROP")
           and "KUBE-EXTERNAL-SERVICES" in drop,
           f"KUBE-EXTERNAL-SERVICES: --dport {NODE_PORT} -j DROP", drop)  # fmt: skip
    expect("KUBE-SVL-" in lab.service_rules("random-generator", node=home),
           f"{home} sends to its own endpoints (a KUBE-SVL chain)")  # fmt: skip
    passed(f"{home}: its own pod; {', '.join(podless)}: DROP (no local endpoints)")


def check_local_answers_only_at_home(results: dict[str, int], at_pod, at_client, home: str,
                                     podless: list[str]) -> None:  # fmt: skip
    """Under Local the pod's node answered and the pod saw the client's own address (no
    SNAT); the podless nodes timed out (curl exit 28): the client's SYNs went out, were
    retried, and nothing came back from those nodes."""
    expect(results[home] == 0, f"{home} answers (curl exit 0)", results[home])
    timed_out = {n: results[n] for n in podless}
    expect(all(code == TIMED_OUT for code in timed_out.values()),
           f"{', '.join(podless)} time out (curl exit {TIMED_OUT})", timed_out)  # fmt: skip
    syns = at_pod.packets().syns()
    expect(len(syns) == 1, "one connection at the pod", len(syns))
    (syn,) = syns
    expect(syn.src == CLIENT_IP, f"the pod sees the client's own {CLIENT_IP}", syn.src)
    out = at_client.packets()
    for n in podless:  # SYNs went out, retried, and nothing came back
        tries = len(out.filter(dst=NODE_IPS[n]).syns())
        expect(tries >= 2, f"the client's SYN to {n} sent and retried", tries)
        back = out.filter(src=NODE_IPS[n])
        expect(not back, f"nothing back from {n}", [r.summary or r.flags for r in back])
    passed(f"{home} answered and its pod saw {syn.src}; {', '.join(podless)} kept silent")


def check_node_gone(after: dict[str, list[str]], placed: dict[str, str], gone: str,
                    each: int = 10) -> None:  # fmt: skip
    """The gone node answered none of its requests; through the nodes left, only pods on
    those nodes answered, and some requests timed out (they were sent to the gone node's
    pods: with at least 2 of the 4 endpoints there, 20 requests all missing them has a
    chance < 1e-6)."""
    left = [n for n in after if n != gone]
    expect(after[gone] == ["ERR"] * each, f"{gone}: {each} of {each} timed out",
           Counter(after[gone]))  # fmt: skip
    answered = [p for n in left for p in after[n] if p != "ERR"]
    expect(answered, f"answers through {', '.join(left)}")
    elsewhere = [p for p in answered if p not in placed or placed[p] == gone]
    expect(not elsewhere, f"only pods on {', '.join(left)} answer", elsewhere)
    failed = sum(after[n].count("ERR") for n in left)
    expect(failed > 0, f"some requests through {', '.join(left)} lost on {gone}'s pods", failed)
    passed(f"{gone}: {each} of {each} timed out; {', '.join(left)}: {len(answered)} answered, "
           f"{failed} timed out")  # fmt: skip


def check_node_back(lab: Lab, gone: str, back: list[str]) -> None:
    """The node back on the network answers every request and is Ready."""
    expect("ERR" not in back, f"every request to {gone} answered", back)
    conditions = {c["type"]: c["status"] for c in lab.get("nodes", gone)["status"]["conditions"]}
    expect(conditions["Ready"] == "True", f"{gone} Ready", conditions)
    passed(f"{gone} is back and answers")


def check_firewall_closed(lab: Lab, shut, closed) -> None:
    """With the router's firewall on, curl to node1:32766 timed out (exit 28) and nothing came
    back from node1."""
    node1 = NODE_IPS["node1"]
    expect(shut.returncode == TIMED_OUT, f"curl times out (exit {TIMED_OUT})", shut.returncode)
    back = closed.packets().filter(src=node1)
    expect(not back, f"nothing back from {node1}", [r.summary or r.flags for r in back])
    state = lab.firewall("list")
    expect(state.startswith("Firewall on"), "the firewall on", state)
    passed(f"firewall on: the SYNs to {node1}:{NODE_PORT} went unanswered")


def check_port_allowed(lab: Lab, opened: list[str]) -> None:
    """With tcp:32766 allowed through the firewall, every request answered."""
    expect("ERR" not in opened, "every request answered", opened)
    state = lab.firewall("list")
    expect(f"allow tcp:{NODE_PORT}" in state, f"the firewall allows tcp:{NODE_PORT}", state)
    passed(f"allowed, {NODE_PORT} answers")


def check_open_again(answer: list[str]) -> None:
    """With the firewall off, the NodePort answers again."""
    expect(answer != ["ERR"], "an answer with the firewall off", answer)
    passed("off, every NodePort is open again")
