"""Build labs/00-tour.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/00-tour.ipynb"  # the default output, from the repository root

cells = [
    md("""# 00 · A tour of the lab

**What you will see:** a small Kubernetes-shaped cluster built in a couple of seconds on this
machine — three nodes on one switch, a router, and three hosts outside the cluster. You will
apply the *Kubernetes Patterns* book's `deployment.yml` unchanged, see its four pods spread
over the nodes, and capture one pod talking to another across nodes, packet by packet.

Everything here is real Linux networking: each node and each pod is a network namespace,
each pod's address lives on a real interface, and the packets you capture are real.

> **How this lab differs from a real cluster**, in short:
>
> - **Images are names.** Nothing is pulled: each image the labs use maps to a program built
>   into lab_kit (the book's random-generator, agnhost, nginx, CoreDNS's place, Knative's
>   samples ...) or to this machine's own tools, and a container sees this machine's files
>   read-only as its image. An image the kit does not know waits in `ErrImagePull`, and
>   its event says which images exist (`lab_kit/agents/images.py`).
> - **Containers are namespaces**, as a runtime makes them (network, PID, mount, UTS, IPC,
>   capabilities), but no cgroup limits and no seccomp; it is root in namespaces, not a VM.
> - **One of each control-plane part**, each a readable Python process: no etcd (a file
>   store), no HA, no RBAC (tokens are checked, permissions are not); Knative's controller
>   runs inside the controller-manager.
> - **kube-proxy in iptables mode only** (IPVS does not exist in this machine's kernel), and
>   the cloud load balancer is the lab's own emulation.
> - **Timings are sometimes shortened** (probe periods, Eureka's and Knative's windows), and
>   every lab says where."""),
    code("""from lab_kit import Lab
from lab_kit.lab.checks.lab00 import (check_cluster_dns, check_no_nat_between_pods, check_nodes,
                                      check_spread_over_nodes)

lab = Lab.up()  # the network, API server, controllers, a kubelet and kube-proxy per node, cluster DNS
lab.get("nodes", wide=True)"""),
    code("""check_nodes(lab)"""),
    md("""## The topology

Nodes sit on `172.18.0.0/16` (as in kind); `gw` routes to the outside hosts, which use the
documentation ranges so lab traffic can never reach a real network."""),
    code("""lab.draw()"""),
    md("""## Already running: cluster DNS

Like a cluster made with kubeadm, the lab comes with one add-on: the `coredns` Deployment in
the namespace `kube-system`, behind the Service `kube-dns` at `10.96.0.10` — the nameserver
in every pod's `/etc/resolv.conf`. Lab 04 takes it apart; here we only check it is there."""),
    code("""lab.get("pods", namespace="kube-system", wide=True)"""),
    code("""check_cluster_dns(lab)"""),
    md("""## The book's Deployment

`manifests/book/deployment.yml` asks for 4 replicas of `k8spatterns/random-generator`. The
controller-manager creates a ReplicaSet and four Pods, the scheduler spreads them, and each
node's kubelet starts its pods. `wait=True` returns once every pod is Ready."""),
    code("""# NBVAL_CHECK_OUTPUT
print("\\n".join(lab.apply("manifests/book/deployment.yml", wait=True)))"""),
    code("""pods = lab.get("pods", wide=True)
pods"""),
    code("""check_spread_over_nodes(pods)  # each pod's address comes from its node's /24"""),
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
    code("""check_no_nat_between_pods(packets, client_ip, server_ip, reply.stdout)"""),
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
    md("""## Your turn

Two tasks on the cluster you have. Each check looks at the cluster itself and says what
it saw, or what is still missing."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "00.1",
        "Six replicas, two per node",
        "Scale the book's Deployment from 4 to 6 replicas (`labkit scale`, as `kubectl scale`).",
        "on which nodes do the two new pods land?",
        "!labkit scale deployment/random-generator --replicas=6",
    ),
    *exercise(
        "00.2",
        "A deleted pod comes back",
        "Delete one of the pods.",
        "how many pods run a few seconds later, and what is different about one of them?",
        'victim = lab.get("pods", selector="app=random-generator")[0]["metadata"]["name"]\n'
        "!labkit delete pod {victim}",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
