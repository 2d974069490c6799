"""Build labs/00-tour.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, md, write

NOTEBOOK = "labs/00-tour.ipynb"  # the default output, from the repository root

cells = [
    md("""# 00 · A tour of the lab

**What you will see:** a small Kubernetes-shaped cluster built in a couple of seconds on this
machine — three nodes on one switch, a router, and three hosts outside the cluster. You will
apply the *Kubernetes Patterns* book's `deployment.yml` unchanged, see its four pods spread
over the nodes, and capture one pod talking to another across nodes, packet by packet.

Everything here is real Linux networking: each node and each pod is a network namespace,
each pod's address lives on a real interface, and the packets you capture are real."""),
    code("""from lab_kit import Lab

lab = Lab.up()  # the network, API server, controllers, a kubelet and kube-proxy per node, cluster DNS
lab.get("nodes", wide=True)"""),
    code("""nodes = lab.get("nodes")
assert [n["metadata"]["name"] for n in nodes] == ["node1", "node2", "node3"]
assert [n["spec"]["podCIDR"] for n in nodes] == ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]
print("3 nodes Ready, each owning a /24 of the pod network")"""),
    md("""## The topology

Nodes sit on `172.18.0.0/16` (as in kind); `gw` routes to the outside hosts, which use the
documentation ranges so lab traffic can never reach a real network."""),
    code("""lab.draw()"""),
    md("""## Already running: cluster DNS

Like a cluster made with kubeadm, the lab comes with one add-on: the `coredns` Deployment in
the namespace `kube-system`, behind the Service `kube-dns` at `10.96.0.10` — the nameserver
in every pod's `/etc/resolv.conf`. Lab 04 takes it apart; here we only check it is there."""),
    code("""lab.get("pods", namespace="kube-system", wide=True)"""),
    code("""dns_pods = lab.get("pods", namespace="kube-system", selector="k8s-app=kube-dns")
assert len(dns_pods) == 2 and all(p["status"]["phase"] == "Running" for p in dns_pods)
assert lab.get("services", "kube-dns", namespace="kube-system")["spec"]["clusterIP"] == "10.96.0.10"
print("kube-dns 10.96.0.10 ->", sorted(p["status"]["podIP"] for p in dns_pods))"""),
    md("""## The book's Deployment

`manifests/book/deployment.yml` asks for 4 replicas of `k8spatterns/random-generator`. The
controller-manager creates a ReplicaSet and four Pods, the scheduler spreads them, and each
node's kubelet starts its pods. `wait=True` returns once every pod is Ready."""),
    code("""# NBVAL_CHECK_OUTPUT
print("\\n".join(lab.apply("manifests/book/deployment.yml", wait=True)))"""),
    code("""pods = lab.get("pods", wide=True)
pods"""),
    code("""per_node = {}
for p in pods:
    per_node.setdefault(p["spec"]["nodeName"], []).append(p["status"]["podIP"])
assert len(pods) == 4 and set(per_node) == {"node1", "node2", "node3"}
for node, ips in sorted(per_node.items()):
    assert all(ip.startswith("10.244." + node[-1] + ".") for ip in ips)  # each pod's IP is from its node's /24
print({node: len(ips) for node, ips in sorted(per_node.items())})"""),
    code("""lab.draw()"""),
    md("""## One pod talks to another, across nodes

We take a pod on `node1` and one on `node2`, start a capture on the server pod's own `eth0`,
and fetch `/` from the client pod with `curl`."""),
    code("""client = next(p for p in pods if p["spec"]["nodeName"] == "node1")
server = next(p for p in pods if p["spec"]["nodeName"] == "node2")
client_ip, server_ip = client["status"]["podIP"], server["status"]["podIP"]

with lab.capture(server["metadata"]["name"], packet_filter="tcp port 8080") as cap:
    reply = lab.exec(client["metadata"]["name"], "curl", "-s", f"http://{server_ip}:8080/", echo=True)
print(reply)"""),
    code("""packets = cap.packets()
packets"""),
    code("""syn = packets.syns()[0]
assert (syn.src, syn.dst, syn.dport) == (client_ip, server_ip, 8080)  # no NAT between pods
assert any(p.summary.startswith("GET / HTTP/1.1") for p in packets)
assert any(p.summary.startswith("HTTP/1.1 200") for p in packets)
assert '"random"' in reply.stdout
print("pod", client_ip, "-> pod", server_ip, ": SYN, GET /, 200 OK, seen on the server's own eth0")"""),
    md("""## What you saw

- `Lab.up()` built three nodes in seconds: Mininet hosts (`lab_kit/adapters/mininet_net.py`)
  held by the network agent (`lab_kit/agents/network.py`), each with a kubelet
  (`lab_kit/agents/kubelet.py`).
- The book's Deployment became a ReplicaSet and four Pods (`lab_kit/controllers/deployment.py`,
  `replicaset.py`), spread by the scheduler (`lab_kit/controllers/scheduler.py`).
- Each pod is a set of namespaces held by a pause process, wired to its node by a veth
  and routed point-to-point (`lab_kit/adapters/sandbox.py`, `lab_kit/agents/pod_worker.py`).
- Pod-to-pod traffic across nodes keeps both pod addresses: the node routes the other
  node's pod /24 (`lab_kit/render/node_network.py`).
- Cluster DNS is installed by `labkit up` as kubeadm does it (`lab_kit/lab/addons/coredns.yaml`,
  served by `lab_kit/agents/cluster_dns.py`); lab 04 shows it at work.

Next: `02-clusterip-service.ipynb` puts one stable virtual IP in front of these pods."""),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
