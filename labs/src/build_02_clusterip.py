"""Build labs/02-clusterip-service.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, md, write

NOTEBOOK = "labs/02-clusterip-service.ipynb"  # the default output, from the repository root

cells = [
    md("""# 02 · A ClusterIP Service: one stable virtual IP

**What you will see:** the book's four `random-generator` replicas behind the seed's
Service. The Service gets a *ClusterIP* — an address that exists on no interface at all —
and every node's kube-proxy writes iptables rules that turn a connection to it into a
connection to one of the pods. You will send a few hundred requests and watch them spread,
capture one connection at both ends to see the destination rewritten, and delete every pod
to see that the ClusterIP does not move."""),
    code("""from lab_kit import Lab
from lab_kit.lab import plots
from lab_kit.lab.random_generator import replica_ids, who_answered

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml"], wait=True)))"""),
    md("""## The Service

`manifests/clusterip-service.yml` is the seed's Service: port **80** in front of the pods'
port **8080**, selecting `app: random-generator`. The API server allocates the ClusterIP
from the service range `10.96.0.0/12` when the Service is created."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/clusterip-service.yml").read())
print("\\n".join(lab.apply("manifests/clusterip-service.yml", wait=True)))"""),
    code("""lab.get("services")"""),
    code("""svc = lab.get("services", "random-generator")
cluster_ip = svc["spec"]["clusterIP"]
import ipaddress
assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["targetPort"] == 8080
print("ClusterIP", cluster_ip)"""),
    md("""## Who is behind it: the EndpointSlice

The EndpointSlice controller lists every Ready pod that matches the selector, with the
*target* port 8080 and the node each pod runs on. kube-proxy reads only EndpointSlices."""),
    code("""lab.get("endpointslices", wide=True)"""),
    code("""lab.draw_services()"""),
    code("""slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
endpoint_ips = sorted(e["addresses"][0] for s in slices for e in s["endpoints"])
pod_ips = sorted(p["status"]["podIP"] for p in lab.get("pods", selector="app=random-generator"))
assert endpoint_ips == pod_ips and len(pod_ips) == 4
assert {p["port"] for s in slices for p in s["ports"]} == {8080}
print(len(endpoint_ips), "endpoints:", ", ".join(endpoint_ips))"""),
    md("""## The rules kube-proxy wrote on node1

The ClusterIP lives only in these rules. `KUBE-SERVICES` matches *ClusterIP:80/tcp* and
jumps to the Service's `KUBE-SVC-…` chain. That chain picks one `KUBE-SEP-…` (service
endpoint) chain with `statistic --probability` 1/4, then 1/3, then 1/2, then the last one
always, so each pod gets a quarter of new connections. The SEP chain DNATs to `pod:8080`.
The chain names are hashes of `default/random-generator` + `tcp`, the same on every cluster."""),
    code("""rules = lab.service_rules("random-generator", node="node1")
rules"""),
    code("""from lab_kit.render.proxy_rules import svc_chain
chain = svc_chain("default/random-generator", "tcp")
assert chain == "KUBE-SVC-FLNJ4FGQ5UX5NSDC"
svc_rules = rules.rules(chain)
probabilities = [r.split("--probability ")[1].split()[0] for r in svc_rules if "--probability" in r]
assert [round(float(p), 4) for p in probabilities] == [0.25, 0.3333, 0.5]
assert sum("DNAT --to-destination" in r for r in rules.lines) == 4
for node in ("node2", "node3"):  # every node has the same rules: any node can reach the Service
    assert lab.service_rules("random-generator", node=node).rules(chain) == svc_rules
print(chain, "picks among 4 endpoints with probabilities", probabilities, "then the last")"""),
    md("""## A few hundred requests

The `toolbox` pod on node1 calls `http://<ClusterIP>/` 300 times. Each reply carries the
`id` of the replica that answered; asking every pod once directly tells us whose id is whose."""),
    code("""answers = lab.requests("toolbox", f"http://{cluster_ip}/", 300)
ids = replica_ids(lab, "toolbox")
answered_by = who_answered(answers, ids)
plots.distribution(answered_by, "300 requests to the ClusterIP", expected=300 / 4)"""),
    code("""from collections import Counter
counts = Counter(answered_by)
assert "ERR" not in counts and len(counts) == 4
# Binomial(300, 1/4) per pod: mean 75, sd 7.5; below 30 or above 120 is practically impossible.
assert all(30 < n < 120 for n in counts.values()), counts
print(dict(sorted(counts.items())))"""),
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
client_syn, server_syn = caps["toolbox"].packets().syns()[0], caps[server].packets().syns()[0]
assert (client_syn.src, client_syn.dst, client_syn.dport) == (client_ip, cluster_ip, 80)
assert (server_syn.src, server_syn.dst, server_syn.dport) == (client_ip, server_ip, 8080)
assert caps.with_connections() == ["toolbox", server]  # exactly one pod was chosen
print(f"client saw {client_ip} -> {cluster_ip}:80; {server} saw {client_ip} -> {server_ip}:8080")"""),
    code("""lab.draw_connection(caps["toolbox"], caps[server], "toolbox", server, node="node1")"""),
    md("""The kernel keeps that rewrite in its connection-tracking table on node1: the *original*
tuple is what the client sent, the *reply* tuple is what the pod answers with. Here is the
entry of the connection we just captured (found by its source port)."""),
    code("""entry = lab.conntrack("node1", "-p", "tcp", "--orig-dst", cluster_ip, "--sport", str(client_syn.sport))
entry"""),
    code("""(e,) = entry
assert (e.original["src"], e.original["dst"], e.original["dport"]) == (client_ip, cluster_ip, 80)
assert (e.reply["src"], e.reply["sport"], e.reply["dst"]) == (server_ip, 8080, client_ip)
assert e.dnat and not e.snat  # destination rewritten, source kept
everything = lab.conntrack("node1", "-p", "tcp", "--orig-dst", cluster_ip)
assert {x.reply["src"] for x in everything} <= set(endpoint_ips)
print(f"{len(everything)} connections to {cluster_ip} tracked on node1, each DNATed to one of the pods")"""),
    md("""## Pods come and go; the ClusterIP stays

Delete all four pods. The ReplicaSet replaces them (new names, new IPs: the node's IPAM
hands out addresses round-robin), the EndpointSlice follows, kube-proxy rewrites the rules
— and clients keep using the same address."""),
    code("""print("\\n".join(lab.delete("pods", selector="app=random-generator")))
lab.wait_ready()
lab.get("pods", wide=True)"""),
    code("""new_ips = sorted(p["status"]["podIP"] for p in lab.get("pods", selector="app=random-generator")
                 if not p["metadata"].get("deletionTimestamp"))
assert not set(new_ips) & set(endpoint_ips)  # all new addresses
assert lab.get("services", "random-generator")["spec"]["clusterIP"] == cluster_ip
slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
assert sorted(e["addresses"][0] for s in slices for e in s["endpoints"]) == new_ips
after = lab.requests("toolbox", f"http://{cluster_ip}/", 20)
assert not [a for a in after if a == "ERR"]
print("same ClusterIP", cluster_ip, "now in front of", new_ips)"""),
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
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
