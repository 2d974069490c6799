"""Build labs/13-loadbalancer.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/13-loadbalancer.ipynb"  # the default output, from the repository root

cells = [
    md("""# 13 · LoadBalancer: one stable address outside the cluster

**What you will see:** the book's `type: LoadBalancer` Service waiting for an address
(`<pending>`) and getting one from the lab's cloud; the outside `client` calling that one
address while the `cloud-lb` host spreads its connections over the nodes. Under
`externalTrafficPolicy: Local` the load balancer's health checks decide which nodes get
traffic — a node without a pod answers 503 and is left out. Then a node drops off the network
while the client keeps calling: a timeline shows which pod answered each request and the
requests lost until the health checks took the node out. Last, the two ways a load balancer
hands a connection to a node (`ipMode: VIP` and `Proxy`) and what the pod sees of the client
in each, and what one load balancer per Service costs."""),
    code("""import time

from lab_kit import Lab
from lab_kit.lab import plots
from lab_kit.lab.checks.lab13 import (check_address_given, check_all_pods_answer,
                                      check_failover, check_lb_entry, check_left_pending,
                                      check_local_rotation, check_one_way_through_lb,
                                      check_pods_see_the_client, check_proxy_mode,
                                      check_second_load_balancer, check_vip_path)
from lab_kit.lab.figure import figure
from lab_kit.lab.from_outside import RequestLoop, pods_on_nodes, requests_from, wait_rotation
from lab_kit.lab.random_generator import replica_ids, stamped, who_answered
from lab_kit.render import cloud_lb

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml"], wait=True)))"""),
    md("""## `<pending>`: nobody has made a load balancer yet

A `type: LoadBalancer` Service is a NodePort Service plus a request to the cloud: "put a
load balancer in front of my nodes". Kubernetes itself builds none; a cloud's
`cloud-controller-manager` (its service controller) does, and writes the address into the
Service's `status.loadBalancer`. Until then `EXTERNAL-IP` says `<pending>`.

The lab's cloud controller takes every LoadBalancer Service *without* a
`loadBalancerClass`. A Service that names another class waits for an implementation that
is not there: it stays `<pending>`, and no event says why — nobody is looking at it."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/loadbalancer-other-class.yml").read())
print("\\n".join(lab.apply("manifests/loadbalancer-other-class.yml", wait=True)))"""),
    code("""lab.get("services")"""),
    code(
        """check_left_pending(lab, "random-generator-internal")  # no address, now or later; no event"""
    ),
    md("""Now the book's `service-with-loadbalancer.yml`, unchanged: no class, so the lab's cloud
controller takes it. It adds its finalizer, picks the first free address of the topology's
pool (198.51.100.32/27, documentation addresses), tells the `cloud-lb` host, and writes the
address into the status. `describe` shows its events."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/book/service-with-loadbalancer.yml").read())
print("\\n".join(lab.apply("manifests/book/service-with-loadbalancer.yml", wait=True)))
print("\\n".join(lab.delete("services", "random-generator-internal")))"""),
    code("""lab.get("services")"""),
    code("""print(lab.describe("services", "random-generator"))"""),
    code(
        """address = check_address_given(lab, "random-generator")  # 198.51.100.32, events, finalizer"""
    ),
    md("""## One address for the client

The `client` host sits outside the cluster (192.0.2.10). It knows one address: the
load balancer's. The router sends the pool to `cloud-lb`, which picks a node for each new
connection (a Maglev table, as GCP's network load balancer does) and forwards the packet
to it **unchanged** — still addressed to 198.51.100.32 (`ipMode: VIP`, pass-through). The
node's kube-proxy has a rule for the LB address, as for its ClusterIP, and takes it to a
pod. 60 requests from the client:"""),
    code("""ids = replica_ids(lab, "toolbox")
url = f"http://{address}:8080/"
answers = who_answered(requests_from("client", url, 60), ids)
plots.distribution(answers, f"60 requests from the client to {address}", expected=60 / 4)"""),
    code("""check_all_pods_answer(answers, ids)  # all 4 pods"""),
    md("""The load balancer's own view: the address, its Service, the mode, and each node with its
last health check. Under `externalTrafficPolicy: Cluster` every node can serve (kube-proxy
forwards to pods anywhere), so the check asks kube-proxy itself: `GET /healthz` on port
10256."""),
    code("""lb = lab.load_balancer()
lb"""),
    code("""check_lb_entry(lb, address)"""),
    md("""On the wire, on the `cloud-lb` host's leg into the node network (`cloud-lb-eth1`): the
client's connections leave for the nodes still from 192.0.2.10 to 198.51.100.32. The
answers never come back this way: the node sends them to the client through the router
(direct server return), so this capture holds only the client's half of each connection."""),
    code("""with lab.capture("cloud-lb", interface="cloud-lb-eth1", packet_filter="tcp port 8080") as cap:
    requests_from("client", url, 5)
cap.packets()"""),
    code(
        """check_one_way_through_lb(cap.packets(), address)  # no reply passes the load balancer"""
    ),
    md("""The whole path of one request, with the addresses at each hop (rewrites in red). Under
`Cluster` the node masquerades (SNAT) before it forwards, in case the pod is on another
node: the pod sees a node's address, not the client's."""),
    code("""figure(lab.draw_load_balancer(address))"""),
    code("""check_vip_path(lab, address)"""),
    md("""## Health checks under `externalTrafficPolicy: Local`

`manifests/loadbalancer-local.yml` is the book's Service with `externalTrafficPolicy:
Local`: a node sends the LB's traffic only to pods **on itself**, without SNAT, so the pod
sees the real client. A node with no such pod would drop it. The API server gives the
Service a `healthCheckNodePort`; on every node kube-proxy answers there with the count of
the Service's ready pods *on that node* — 200 if there is one, 503 if not — and the load
balancer now checks that port instead of `/healthz`.

We also shrink the Deployment to two replicas, so that (with three nodes) at least one
node has no pod of it."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/loadbalancer-local.yml").read())
print("\\n".join(lab.apply(["manifests/loadbalancer-local.yml",
                            "manifests/loadbalancer-two-replicas.yml"], wait=True)))"""),
    code("""lab.get("pods", selector="app=random-generator", wide=True)"""),
    md("""Every node's answer on the health check node port, asked from `cloud-lb` as the load
balancer asks it:"""),
    code("""health_port = lab.get("services", "random-generator")["spec"]["healthCheckNodePort"]
nodes = {n["metadata"]["name"]: n["status"]["addresses"][0]["address"] for n in lab.get("nodes")}
checks = {name: lab.host("cloud-lb", "curl", "-s", "-w", " %{http_code}", f"http://{ip}:{health_port}/")
          for name, ip in sorted(nodes.items())}
print("\\n".join(f"{name}: {out.stdout}" for name, out in checks.items()))"""),
    code("""pods = lab.get("pods", selector="app=random-generator")
with_pod = sorted({p["spec"]["nodeName"] for p in pods})
wait_rotation(address, with_pod)  # the LB checks every second; 3 failures take a node out
lb = lab.load_balancer()
lb"""),
    code("""check_local_rotation(lb, address, pods, with_pod, checks, health_port)"""),
    md("""## A node fails while the client keeps calling

Now the client calls the address in a loop (a new connection each time, 1 s timeout) while
one of the two nodes with a pod drops off the network (`lab.disconnect_node`: its link
goes down). Connections the load balancer still sends there time out. The LB checks every
node every second and takes a node out after 3 failed checks in a row (GKE's thresholds;
GKE checks every 8 s, so there it takes about 25 s): here within 4 s. Meanwhile the
connections hashed to that node are lost; afterwards only the other node gets them. Then the node comes
back, and its first passing check puts it back in the rotation."""),
    code("""print(f"checks every {cloud_lb.CHECK_INTERVAL_S:g} s, timeout {cloud_lb.CHECK_TIMEOUT_S:g} s, "
      f"out after {cloud_lb.UNHEALTHY_THRESHOLD} failures: within {cloud_lb.LEAVES_ROTATION_WITHIN_S:g} s, "
      f"back within {cloud_lb.COMES_BACK_WITHIN_S:g} s")
victim, survivor = with_pod
with RequestLoop("client", url) as loop:  # time is the subject here: the sleeps are the story
    time.sleep(3)  # both nodes serve
    cut_at = time.time()
    print(lab.disconnect_node(victim))
    out_at = wait_rotation(address, [survivor])
    time.sleep(4)  # one node serves
    print(lab.connect_node(victim))
    back_at = wait_rotation(address, with_pod)
    time.sleep(4)  # both again"""),
    code("""labels = pods_on_nodes(pods, ids)
samples = stamped(loop.answers, labels)
t0 = float(loop.answers[0].split()[0])
plots.failover(samples, f"Which pod @ node answered each request to {address}",
               marks=[(cut_at - t0, f"{victim} disconnected"), (out_at - t0, "out of rotation"),
                      (back_at - t0, "connected, back in")])"""),
    code(
        """check_failover(samples, labels, victim, cut=cut_at - t0, out=out_at - t0, back=back_at - t0)"""
    ),
    md("""## `ipMode: VIP` and `Proxy`: what the pod sees

In VIP mode (pass-through) nothing is rewritten on the way to the node, and under `Local`
nothing on the node but the destination: the pod sees the client's own address. A
capture on both pods while the client makes 10 requests:"""),
    code("""pod_names = sorted(p["metadata"]["name"] for p in pods)
with lab.capture_many(pod_names, packet_filter="tcp port 8080") as caps:
    requests_from("client", url, 10)
vip_syns = [s for pod in pod_names for s in caps[pod].packets().syns()]
caps[caps.with_connections()[0]].packets().syns()"""),
    code("""check_pods_see_the_client(vip_syns, count=10)"""),
    md("""Some load balancers are proxies instead: they take the connection and open their own to
a node's **NodePort** (`ipMode: Proxy`, KEP-1860). Clouds select one with an annotation of
their own; the lab's cloud reads `service.beta.kubernetes.io/labkit-load-balancer-ip-mode`.
The pod then sees the load balancer's address on the node network, and kube-proxy writes no
rule for the LB address at all: in-cluster clients of that address go out to the LB too."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/loadbalancer-proxy.yml").read())
print("\\n".join(lab.apply("manifests/loadbalancer-proxy.yml", wait=True)))"""),
    code("""leg = lb.record["legAddress"]
with lab.capture_many([*pod_names, "cloud-lb"], packet_filter="tcp") as caps:
    requests_from("client", url, 10)
proxy_syns = [s for pod in pod_names for s in caps[pod].packets().syns()]
caps[caps.with_connections()[0]].packets().syns()"""),
    code("""figure(lab.draw_load_balancer(address))"""),
    code(
        """check_proxy_mode(lab, address, proxy_syns, leg, count=10)  # and no nat rule for the LB address"""
    ),
    md("""## One load balancer per Service

Every LoadBalancer Service gets a load balancer of its own: an address, a node port on
every node, its own health checks — and on a cloud its own bill. A second application
exposed this way takes the pool's next address."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/loadbalancer-second.yml").read())
print("\\n".join(lab.apply("manifests/loadbalancer-second.yml", wait=True)))"""),
    code("""second = lab.get("services", "random-generator-web")["status"]["loadBalancer"]["ingress"][0]["ip"]
wait_rotation(second, ["node1", "node2", "node3"])
lab.load_balancer()"""),
    code("""answered = who_answered(requests_from("client", f"http://{second}/", 3), ids)
check_second_load_balancer(lab, second, address, answered, requests=3)"""),
    md("""That is the motivation for **Ingress** (the book's next section): one load balancer in
front of one HTTP proxy in the cluster, which dispatches many Services by host name and
path.

## What you saw

- A LoadBalancer Service stays `<pending>` until a cloud controller gives it an address;
  one asking for a `loadBalancerClass` nobody implements stays so, silently. The lab's
  (`lab_kit/controllers/service_lb.py`, run by `lab_kit/agents/cloud_controller.py`)
  takes the pool's first free address, writes `status.loadBalancer.ingress` with its
  `ipMode`, and records `EnsuringLoadBalancer`/`EnsuredLoadBalancer` events.
- The `cloud-lb` host (`lab_kit/agents/cloud_lb.py`, its rules in
  `lab_kit/render/cloud_lb.py`) forwards each connection to a node in rotation, unchanged
  (VIP) or rewritten to a NodePort (Proxy); kube-proxy's `KUBE-EXT` rules take it from
  there (`lab_kit/render/proxy_rules.py`).
- Health checks: kube-proxy's `:10256/healthz` under `Cluster`, the Service's
  `healthCheckNodePort` under `Local`, answered 200/503 by the local ready-endpoint count
  (`lab_kit/render/proxy_health.py`); a node failing 3 checks in a row leaves the rotation,
  and connections sent to it until then are lost (the timeline: `lab_kit/lab/plots.py`).
- What the pod sees: the client's address with VIP + Local; the LB's with Proxy; a node's
  with Cluster. `lab.load_balancer()` and `lab.draw_load_balancer()` are in
  `lab_kit/lab/lb_view.py`; the client's loop in `lab_kit/lab/from_outside.py`.

Next: Ingress — one load balancer for many Services."""),
    md("""## Your turn

Two changes to make on the live cluster; each check says what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "13.1",
        "Back to Cluster: every node in rotation",
        "`random-generator` runs two pods under `externalTrafficPolicy: Local`, so the load "
        "balancer sends nothing to the node without one. Apply the book's "
        "`manifests/book/service-with-loadbalancer.yml` again (policy `Cluster`, the default), "
        "keep the two replicas, and look at `lab.load_balancer()` (or `labkit lb`).",
        "which port and path will the load balancer check now, and how many nodes will be in "
        "its rotation with only two pods?",
        'print("\\n".join(lab.apply("manifests/book/service-with-loadbalancer.yml", wait=True)))\n'
        'wait_rotation(address, ["node1", "node2", "node3"])\n'
        "lab.load_balancer()",
    ),
    *exercise(
        "13.2",
        "An address given back",
        "Delete `random-generator-web` (the second load balancer, 198.51.100.33) and wait "
        "until it is gone; then expose the same pods again as a new LoadBalancer Service "
        "`rg-again` on port 80 "
        "(`labkit expose deployment random-generator --type=LoadBalancer --port=80 "
        "--target-port=8080 --name=rg-again`).",
        "does the deleted Service vanish at once (what does its finalizer wait for)? Which "
        "address will `rg-again` get: 198.51.100.33 again, or the next one, .34?",
        "!labkit delete service random-generator-web\n"
        "!labkit wait --for=delete service/random-generator-web\n"
        "!labkit expose deployment random-generator --type=LoadBalancer --port=80 --target-port=8080 --name=rg-again\n"
        "lab.wait()\n"
        'lab.get("services")',
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
