"""Build labs/02-clusterip-service.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/02-clusterip-service.ipynb"  # the default output, from the repository root

cells = [
    md("""# 02 · A ClusterIP Service: one stable virtual IP

**What you will see:** the book's four `random-generator` replicas behind the labs'
ClusterIP Service. The Service gets a *ClusterIP* — an address that exists on no interface at all —
and every node's kube-proxy writes iptables rules that turn a connection to it into a
connection to one of the pods. You will send a few hundred requests and watch them spread,
capture one connection at both ends to see the destination rewritten, and delete every pod
to see that the ClusterIP does not move."""),
    code("""from lab_kit import Lab
from lab_kit.lab import plots
from lab_kit.lab.checks.lab02 import (check_cluster_ip, check_conntrack, check_dnat_at_both_ends,
                                      check_endpoints_are_the_pods, check_equal_chances,
                                      check_same_address_new_pods, check_spread)
from lab_kit.lab.random_generator import replica_ids, who_answered

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml"], wait=True)))"""),
    md("""## The Service

`manifests/clusterip-service.yml` is the Service the labs use: port **80** in front of the
pods' port **8080**, selecting `app: random-generator`. (The book's own `service.yml` keeps
8080 on both sides; only the port clients dial differs, so URLs here need no `:8080`.) The API server allocates the ClusterIP
from the service range `10.96.0.0/12` when the Service is created."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/clusterip-service.yml").read())
print("\\n".join(lab.apply("manifests/clusterip-service.yml", wait=True)))"""),
    code("""lab.get("services")"""),
    code("""cluster_ip = check_cluster_ip(lab, "random-generator", port=80, target_port=8080)"""),
    md("""## Who is behind it: the EndpointSlice

The EndpointSlice controller lists every Ready pod that matches the selector, with the
*target* port 8080 and the node each pod runs on. kube-proxy reads only EndpointSlices."""),
    code("""lab.get("endpointslices", wide=True)"""),
    code("""lab.draw_services()"""),
    code("""endpoint_ips = check_endpoints_are_the_pods(lab, "random-generator", "app=random-generator",
                                            pods=4, port=8080)"""),
    md("""## The rules kube-proxy wrote on node1

The ClusterIP lives only in these rules. `KUBE-SERVICES` matches *ClusterIP:80/tcp* and
jumps to the Service's `KUBE-SVC-…` chain. That chain picks one `KUBE-SEP-…` (service
endpoint) chain with `statistic --probability` 1/4, then 1/3, then 1/2, then the last one
always, so each pod gets a quarter of new connections. The SEP chain DNATs to `pod:8080`.
The chain names are hashes of `default/random-generator` + `tcp`, the same on every cluster."""),
    code("""rules = lab.service_rules("random-generator", node="node1")
rules"""),
    code("""chain = check_equal_chances(lab, rules)  # and node2 and node3 have the same chain"""),
    md("""## A few hundred requests

The `toolbox` pod on node1 calls `http://<ClusterIP>/` 300 times. Each reply carries the
`id` of the replica that answered; asking every pod once directly tells us whose id is whose."""),
    code("""answers = lab.requests("toolbox", f"http://{cluster_ip}/", 300)
ids = replica_ids(lab, "toolbox")
answered_by = who_answered(answers, ids)
plots.distribution(answered_by, "300 requests to the ClusterIP", expected=300 / 4)"""),
    code(
        """counts = check_spread(answered_by, pods=4)  # each within 6 sd of Binomial(300, 1/4)'s mean 75"""
    ),
    md("""## One connection, seen at both ends

We capture on the toolbox pod's `eth0` and on all four pods' `eth0` while the client makes one
request. The client only ever talks to the ClusterIP; the pod that answers sees the
client's own address talking to *its* IP on 8080. In between, node1's `nat PREROUTING`
rewrote the destination (DNAT), and conntrack undoes it for the replies."""),
    code("""servers = sorted(p["metadata"]["name"] for p in lab.get("pods", selector="app=random-generator"))
with lab.capture_many(["toolbox", *servers], packet_filter="tcp") as caps:
    reply = lab.exec("toolbox", "curl", "-s", f"http://{cluster_ip}/", echo=True)
print(reply)
server = next(name for name in caps.with_connections() if name != "toolbox")
caps["toolbox"].packets()"""),
    code("""caps[server].packets()"""),
    code("""client_ip = lab.get("pods", "toolbox")["status"]["podIP"]
server_ip = lab.get("pods", server)["status"]["podIP"]
client_syn = check_dnat_at_both_ends(caps, server, client_ip, cluster_ip, server_ip)"""),
    code("""lab.draw_connection(caps["toolbox"], caps[server], "toolbox", server, node="node1")"""),
    md("""The kernel keeps that rewrite in its connection-tracking table on node1: the *original*
tuple is what the client sent, the *reply* tuple is what the pod answers with. Here is the
entry of the connection we just captured (found by its source port)."""),
    code("""entry = lab.conntrack("node1", "-p", "tcp", "--orig-dst", cluster_ip, "--sport", str(client_syn.sport))
entry"""),
    code("""check_conntrack(lab, entry, client_ip, cluster_ip, server_ip, endpoint_ips)"""),
    md("""## Pods come and go; the ClusterIP stays

Delete all four pods. The ReplicaSet replaces them (new names, new IPs: the node's IPAM
hands out addresses round-robin), the EndpointSlice follows, kube-proxy rewrites the rules
— and clients keep using the same address."""),
    code("""print("\\n".join(lab.delete("pods", selector="app=random-generator")))
lab.wait_ready()
lab.get("pods", wide=True)"""),
    code("""new_ips = check_same_address_new_pods(lab, cluster_ip, endpoint_ips)"""),
    md("""## What you saw

- A Service's ClusterIP is allocated by the API server (`lab_kit/api/allocators.py`) and
  exists on no interface: only in the rules every node's kube-proxy writes
  (`lab_kit/render/proxy_rules.py`, applied by `lab_kit/agents/kube_proxy.py` with one
  `iptables-restore`).
- Endpoints come from an EndpointSlice listing the Ready pods and their target port
  (`lab_kit/controllers/endpointslice.py`).
- `statistic --probability` 1/n, 1/(n-1), … gives every pod an equal share of *new
  connections*; a connection stays with its pod (conntrack).
- The DNAT happens on the client's node; the pod sees the client's real address.

Next: `03-env-var-discovery.ipynb` — how a pod learns the ClusterIP without DNS."""),
    md("""## Your turn

Two changes to make on the live cluster; each check says what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "02.1",
        "The book's port",
        "The labs' Service listens on port 80; the book's `manifests/book/service.yml` (same "
        "name) on 8080. Apply the book's and call the ClusterIP on port 8080 from `toolbox`.",
        "does the ClusterIP change? Does port 80 still answer?",
        'print("\\n".join(lab.apply("manifests/book/service.yml", wait=True)))',
    ),
    *exercise(
        "02.2",
        "Out of the Service by a label",
        "A Service selects pods by label. Relabel one pod `app=other` "
        "(`labkit label pod NAME app=other --overwrite`).",
        "how many pods run afterwards, and how many endpoints does the Service have?",
        'name = lab.get("pods", selector="app=random-generator")[0]["metadata"]["name"]\n'
        "!labkit label pod {name} app=other --overwrite",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
