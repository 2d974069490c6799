"""Build labs/12-nodeport.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/12-nodeport.ipynb"  # the default output, from the repository root

cells = [
    md("""# 12 · NodePort: the Service from outside the cluster

**What you will see:** the book's `random-generator` Service as `type: NodePort`, port
32766 opened on *every* node, called by a laptop outside the cluster (the host `client`,
192.0.2.10, behind the router `gw`). Under the default `externalTrafficPolicy: Cluster`
any node serves, often by forwarding to a pod on another node (an extra hop), and the pod
sees the *node's* address, never the client's (SNAT). `sessionAffinity: ClientIP` still
sticks, but per node, and the pods cannot tell outside clients apart. Under `Local` the pod
sees the client's own address, and a node without a pod drops the packet. Then a node goes
away and the client is left to find another one, and the router plays the cloud firewall
that keeps the NodePort range closed until you open a port."""),
    code("""from collections import Counter

from lab_kit import Lab
from lab_kit.lab.checks.lab12 import (check_every_node_serves, check_firewall_closed,
                                      check_local_answers_only_at_home, check_local_rules,
                                      check_node_back, check_node_gone, check_nodeport_chain,
                                      check_nodeport_service, check_open_again,
                                      check_pods_see_nodes, check_port_allowed,
                                      check_rewritten_on_node2, check_sticky_per_node)
from lab_kit.lab.figure import figure
from lab_kit.lab.from_outside import requests_from
from lab_kit.lab.random_generator import replica_ids, who_answered

NODE_IPS = {"node1": "172.18.0.2", "node2": "172.18.0.3", "node3": "172.18.0.4"}
BRIDGE_IPS = {"node1": "10.244.1.1", "node2": "10.244.2.1", "node3": "10.244.3.1"}  # each node on its pods' bridge
CLIENT_IP, INTERNET_IP = "192.0.2.10", "203.0.113.10"

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml"], wait=True)))"""),
    md("""## The book's NodePort Service

`type: NodePort` is a ClusterIP Service plus one port opened on every node's address. The
book fixes it at `nodePort: 32766`; left out, the API server picks a free one from
30000-32767. `externalTrafficPolicy` is not in the manifest: the API server defaults it to
`Cluster`."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/book/service-with-nodeport.yml").read())
print("\\n".join(lab.apply("manifests/book/service-with-nodeport.yml", wait=True)))"""),
    code("""lab.get("services")"""),
    code("""check_nodeport_service(lab, NODE_IPS)"""),
    md("""kube-proxy writes the same rules on every node: `KUBE-NODEPORTS` (reached from
`KUBE-SERVICES` for packets addressed to one of the node's own addresses) sends port
32766 to the Service's `KUBE-EXT-…` chain, whose first rule marks the packet for
masquerade — that is the SNAT — and then jumps to the usual `KUBE-SVC-…` chain, which
picks one of the four pods wherever it runs."""),
    code("""rules = lab.service_rules("random-generator", node="node3")
rules"""),
    code(
        """ext = check_nodeport_chain(rules)  # KUBE-NODEPORTS -> KUBE-EXT (masquerade) -> KUBE-SVC"""
    ),
    md("""## From the outside client, on each node

The lab's network: three nodes on one switch, the router `gw`, and outside it the hosts
`client`, `internet` and `cloud-lb` (lab 13). The client has no route to pods or
ClusterIPs, only to the nodes' addresses."""),
    code("""figure(lab.draw())"""),
    md("""Each random-generator process answers with its own id, which tells the pods apart. The
client asks each node's address eight times; each node answers, from pods all over the
cluster."""),
    code("""ids = replica_ids(lab, "toolbox")  # {id: pod}, by asking each pod's IP once
placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in lab.get("pods", selector="app=random-generator")}
served = {node: Counter(who_answered(requests_from("client", f"http://{ip}:32766/", 8), ids))
          for node, ip in NODE_IPS.items()}
served"""),
    code(
        """away = check_every_node_serves(served, placed, each=8)  # and some went to another node"""
    ),
    md("""## What the pod sees under `Cluster`: the node, not the client

We capture on all four pods (port 8080) while the client makes four requests to each node.
Every SYN arrives from a node: from the receiving node's address when the pod is elsewhere
(the extra hop), from that node's address on the pod bridge when the pod is on it. Never
from 192.0.2.10."""),
    code("""pods = sorted(placed)
with lab.capture_many(pods, packet_filter="tcp port 8080") as caps:
    for ip in NODE_IPS.values():
        requests_from("client", f"http://{ip}:32766/", 4)
seen = Counter((pod, placed[pod], syn.src) for pod in pods for syn in caps[pod].packets().syns())
seen"""),
    code(
        """hops = check_pods_see_nodes(seen, syns=12)  # each SYN from a node, never from the client"""
    ),
    md("""One connection, captured on the client and on whichever pod serves it: the client
talks to node2:32766; the pod sees a connection from node2 (or node2's bridge address)
to its port 8080. Both addresses were rewritten on node2 — the destination by kube-proxy's
DNAT, the source by the masquerade its `KUBE-EXT` chain asked for."""),
    code("""with lab.capture("client", packet_filter="tcp port 32766") as at_client, \\
        lab.capture_many(pods, packet_filter="tcp port 8080") as at_pods:
    print(lab.host("client", "curl", "-s", "http://172.18.0.3:32766/", echo=True))
(server,) = at_pods.with_connections()
figure(lab.draw_connection(at_client, at_pods[server], "client", server, node="node2"))"""),
    code(
        """check_rewritten_on_node2(lab, at_client, at_pods[server], server)  # DNAT and SNAT on node2"""
    ),
    md("""## `sessionAffinity: ClientIP` behind the SNAT

`manifests/nodeport-affinity.yml` is the book's Service with `sessionAffinity: ClientIP`.
kube-proxy's `-m recent` lists (lab 06) sit in the `KUBE-SVC-…` chain, which runs on the
receiving node *before* the masquerade: the key is the real client address, remembered by
that node alone. A second outside host, `internet` (203.0.113.10), calls too."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/nodeport-affinity.yml").read())
print("\\n".join(lab.apply("manifests/nodeport-affinity.yml", wait=True)))"""),
    code("""with lab.capture_many(pods, packet_filter="tcp port 8080") as caps:
    stuck = {(who, node): Counter(who_answered(requests_from(who, f"http://{ip}:32766/", 5), ids))
             for who in ("client", "internet") for node, ip in NODE_IPS.items()}
stuck"""),
    code(
        """check_sticky_per_node(lab, stuck, caps, pods)  # and each node's recent lists hold both clients"""
    ),
    md("""So affinity holds for each (client, node) pair, but:

- it is **per node**: the same client calling another node may be sent to another pod
  (`stuck` above: the client's three pods need not be one), so a client spread over the
  nodes — by DNS round robin, or by a load balancer — loses its stickiness;
- the pods saw every outside client as a node address. Whatever sits *behind* the SNAT and
  keys on the source address sees a handful of nodes, not the clients: stickiness keyed
  there collapses onto those few addresses;
- and clients that themselves reach the nodes through one NAT (an office router, a load
  balancer that proxies: lab 13) share one address, so ClientIP sends them all to one pod.

## `externalTrafficPolicy: Local`: the client's address, and nodes that drop

`manifests/nodeport-local.yml` is the book's Service with `externalTrafficPolicy: Local`:
a node sends outside traffic only to its *own* ready pods, with no masquerade. To have
nodes without a pod we scale the book's Deployment to one replica."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/nodeport-local.yml").read())
print("\\n".join(lab.apply("manifests/nodeport-local.yml", wait=True)))
one_replica = open("manifests/book/deployment.yml").read().replace("replicas: 4", "replicas: 1")
print("\\n".join(lab.apply(one_replica, wait=True)))"""),
    code("""lab.wait_ready()
(pod,) = lab.get("pods", selector="app=random-generator")
home = pod["spec"]["nodeName"]
podless = sorted(set(NODE_IPS) - {home})
rules = lab.service_rules("random-generator", node=podless[0])
print(f"{pod['metadata']['name']} runs on {home}; {podless[0]}'s rules:")
rules"""),
    code("""check_local_rules(lab, home, podless)"""),
    md("""The client calls each node once, while we capture on the client and on the pod. The
pod's node answers and the pod sees 192.0.2.10 itself. The other two nodes drop the SYN:
no reset, no ICMP, the client retries until curl gives up after 2 s (exit code 28)."""),
    code("""with lab.capture("client", packet_filter="tcp port 32766") as at_client, \\
        lab.capture(pod["metadata"]["name"], packet_filter="tcp port 8080") as at_pod:
    results = {node: lab.host("client", "curl", "-s", "-m", "2", f"http://{ip}:32766/").returncode
               for node, ip in NODE_IPS.items()}
print(results)
at_client.packets()"""),
    code("""check_local_answers_only_at_home(results, at_pod, at_client, home, podless)"""),
    code(
        """figure(lab.draw_connection(at_client, at_pod, "client", pod["metadata"]["name"], node=home))"""
    ),
    md("""## A node goes away

The book's Service again (`Cluster`), and the book's four replicas. Then we take the node
with the most pods off the network (`lab.disconnect_node`: its link down, its kubelet cut
off from the API). The client calling that node gets no answer at all. The client calling
the other nodes *mostly* works: for 50 s (the node monitor's grace period) nobody in the
cluster knows the node is gone, so its pods stay in the endpoints and kube-proxy still
sends some requests there, where they vanish. A NodePort has no failover of its own:
which node to call, and what to do when a request times out, is the client's business."""),
    code("""print("\\n".join(lab.apply(["manifests/book/service-with-nodeport.yml", "manifests/book/deployment.yml"], wait=True)))
placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in lab.get("pods", selector="app=random-generator")}
gone = Counter(placed.values()).most_common(1)[0][0]
left = sorted(set(NODE_IPS) - {gone})
ids = replica_ids(lab, "toolbox")  # the new pods' ids, before their node goes
print(lab.disconnect_node(gone))"""),
    code("""after = {node: who_answered(requests_from("client", f"http://{NODE_IPS[node]}:32766/", 10, timeout_s=1), ids)
         for node in [gone, *left]}
{node: Counter(a) for node, a in after.items()}"""),
    code("""check_node_gone(after, placed, gone, each=10)"""),
    md("""Brought back before the grace period ends, the node was never marked `Unknown`: it
answers again at once. (Left out longer, the Node turns `Unknown` after 50 s, its pods not
Ready, and the other nodes stop sending there: `tests/integration/test_outside_network.py`
waits for that.)"""),
    code("""print(lab.connect_node(gone))
lab.wait()
back = requests_from("client", f"http://{NODE_IPS[gone]}:32766/", 3)
Counter(who_answered(back, ids))"""),
    code("""check_node_back(lab, gone, back)"""),
    md("""## The firewall in front of the NodePorts

The chapter warns that a NodePort is only reachable if the firewall lets traffic to the
node ports through. In a cloud that is the VPC firewall; in the lab the router `gw` plays
it (`labkit firewall`): turned on, it drops everything from outside to the NodePort range
30000-32767 unless a port is allowed."""),
    code("""print(lab.firewall("on"))
with lab.capture("client", packet_filter="tcp port 32766") as closed:
    shut = lab.host("client", "curl", "-s", "-m", "2", "http://172.18.0.2:32766/", echo=True)
print("curl exit code:", shut.returncode)"""),
    code("""check_firewall_closed(lab, shut, closed)"""),
    code("""print(lab.firewall("allow", "32766"))
opened = requests_from("client", "http://172.18.0.2:32766/", 3)
Counter(who_answered(opened, ids))"""),
    code("""check_port_allowed(lab, opened)
print(lab.firewall("off"))
check_open_again(requests_from("client", "http://172.18.0.3:32766/", 1))"""),
    md("""## What you saw

- `type: NodePort` opens one port on every node: `KUBE-NODEPORTS` → `KUBE-EXT-…` →
  `KUBE-SVC-…` in kube-proxy's rules (`lab_kit/render/proxy_rules.py`, applied by
  `lab_kit/agents/kube_proxy.py`); the port comes from the manifest or the API server's
  allocator (`lab_kit/api/allocators.py`).
- Under `externalTrafficPolicy: Cluster` any node serves, often through a pod on another
  node, and the pod sees the node's address: the `KUBE-EXT` chain's `KUBE-MARK-MASQ`.
- `sessionAffinity: ClientIP` keys on the client address on the receiving node, before the
  SNAT: sticky per client and per node (`/proc/net/xt_recent` on each node), while the pods
  see only nodes.
- Under `Local` the client's address reaches the pod, and a node without a ready local pod
  DROPs (the filter table's "has no local endpoints" rule): a timeout, not a refusal.
- A disconnected node (`lab_kit/lab/outside.py`) answers nothing, and until the node
  lifecycle controller marks it (`lab_kit/controllers/`, 50 s) the other nodes still send
  some requests to its pods: the client must retry, and pick another node.
- The router's firewall for the NodePort range (`lab_kit/render/outside.py`, `labkit
  firewall`) stands for the cloud's: a NodePort must be opened there too.

Next: `13-loadbalancer.ipynb` — one stable address in front of the nodes, with health checks."""),
    md("""## Your turn

Two changes to make on the live cluster; each check says what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "12.1",
        "A NodePort the API server picks",
        "The book fixes `nodePort: 32766`. Expose the same pods a second time as a NodePort "
        "Service `rg-nodeport` *without* choosing a port "
        "(`labkit expose deployment random-generator --type=NodePort --name=rg-nodeport`), "
        "find its node port in `labkit get services`, and call it from the `client` host.",
        "which range will the port come from, and will the client reach it on all three "
        "nodes, or only on the nodes that run a pod?",
        "!labkit expose deployment random-generator --type=NodePort --name=rg-nodeport\n"
        "lab.wait()  # every node's kube-proxy has the new rules\n"
        'node_port = lab.get("services", "rg-nodeport")["spec"]["ports"][0]["nodePort"]\n'
        'print(node_port, requests_from("client", f"http://172.18.0.4:{node_port}/", 2))',
    ),
    *exercise(
        "12.2",
        "Local: which nodes answer?",
        "Switch `random-generator` back to `externalTrafficPolicy: Local` "
        "(`manifests/nodeport-local.yml`) and scale the Deployment to **two** replicas. Then "
        "call port 32766 of each node from the `client`, with a 1 s timeout.",
        "how many of the three nodes will answer, and what does the client see from the "
        "others: a refusal, or nothing at all?",
        'print("\\n".join(lab.apply("manifests/nodeport-local.yml", wait=True)))\n'
        "!labkit scale deployment/random-generator --replicas=2\n"
        "lab.wait_ready()\n"
        'print(lab.get("pods", selector="app=random-generator", wide=True))\n'
        'print({node: lab.host("client", "curl", "-s", "-m", "1", f"http://{ip}:32766/").returncode\n'
        "       for node, ip in NODE_IPS.items()})",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
