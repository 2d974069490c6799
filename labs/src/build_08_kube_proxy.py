"""Build labs/08-virtual-ip-and-kube-proxy.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/08-virtual-ip-and-kube-proxy.ipynb"  # the default output, from the repository root

cells = [
    md("""# 08 · The virtual IP and kube-proxy's iptables rules

**What you will see:** the rules kube-proxy writes on a node, chain by chain, exactly as a
real node in iptables mode has them; a packet traced through them rule by rule (and every
load-balancing outcome with its probability); the rule counters a real request bumps,
side by side with the trace's prediction; why `ping` to a ClusterIP gets no answer while
TCP works; and how a Service without endpoints refuses connections at once."""),
    code("""from lab_kit import Lab
from lab_kit.lab.checks.lab08 import (check_builtin_jumps, check_conntrack_remembers,
                                      check_counters_match_trace, check_equal_outcomes,
                                      check_kube_services, check_masquerade, check_no_ping,
                                      check_refused, check_sep_chain, check_sync_metrics,
                                      check_traced_packet)
from lab_kit.lab.figure import figure
from lab_kit.lab.graphs import packet_path_graph

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml",
                            "manifests/clusterip-service.yml"], wait=True)))
cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
endpoints = sorted(p["status"]["podIP"] for p in lab.get("pods", selector="app=random-generator"))
print("ClusterIP", cluster_ip, "| toolbox", toolbox_ip, "| pods", endpoints)"""),
    md("""## 1 · Where packets enter: jumps from the built-in chains

kube-proxy hooks its chains into the kernel's built-in ones once (with `iptables -I`), and
rewrites only its own chains afterwards. In the **nat** table, `PREROUTING` (packets
arriving from pods and other hosts) and `OUTPUT` (packets the node itself sends) jump to
`KUBE-SERVICES`; `POSTROUTING` jumps to `KUBE-POSTROUTING` — before the node's own
`IP-MASQ-AGENT` rules, which kube-proxy leaves alone."""),
    code("""nat = lab.iptables("node1", "nat")
builtin = [r for r in nat.rules() if r.split()[1] in ("PREROUTING", "OUTPUT", "POSTROUTING")]
print("\\n".join(builtin))"""),
    code("""check_builtin_jumps(builtin)  # ip-masq-agent's rule after kube-proxy's three"""),
    md("""## 2 · KUBE-SERVICES: one rule per Service port

Each rule matches *destination ClusterIP + protocol + port* and jumps to that port's
`KUBE-SVC-<hash>` chain. The last rule sends anything addressed to the node itself to
`KUBE-NODEPORTS` (NodePort Services, lab 12). The `kubernetes` Service is here too: its
endpoint is the API server's address on node1, port 6443 (lab 01 and lab 03 use it from pods)."""),
    code("""services = nat.rules("KUBE-SERVICES")
print("\\n".join(services))"""),
    code("""chain = check_kube_services(services, cluster_ip)  # and the kubernetes Service's"""),
    md("""## 3 · KUBE-SVC: masquerade off-cluster clients, then pick an endpoint

The first rule marks packets whose source is *not* a pod (`! -s 10.244.0.0/16`) for SNAT.
Then one rule per endpoint, in the order of their `ip:port` strings: the first is taken with
probability 1/4, the second (if reached) 1/3, the third 1/2, the last always:
each pod ends up with exactly 1/4. The tracer works the sums out for us."""),
    code("""print("\\n".join(nat.rules(chain)))
outcomes = lab.outcomes("node1", toolbox_ip, cluster_ip, 80)
for o in outcomes:
    print(f"{o.fraction:>4}  DNAT to {o.dnat_to}")"""),
    code("""check_equal_outcomes(outcomes, endpoints)"""),
    md("""## 4 · KUBE-SEP: the DNAT — and hairpin masquerade

Each endpoint's chain first marks packets *from that same pod* for SNAT (a pod reaching
itself through its Service: without SNAT it would answer itself directly and the
connection would break), then DNATs to `pod:8080`. `KUBE-MARK-MASQ` sets mark `0x4000`;
`KUBE-POSTROUTING` masquerades marked packets and clears the mark."""),
    code("""sep = nat.rules(chain)[1].split("-j ")[-1]
print("\\n".join(nat.rules(sep) + nat.rules("KUBE-MARK-MASQ") + nat.rules("KUBE-POSTROUTING")))"""),
    code("""check_sep_chain(nat, sep, endpoints)  # hairpin mark first, then the DNAT"""),
    md("""## 5 · A traced packet

The toolbox pod (node1) opens a connection to the ClusterIP. Its first packet arrives on
node1 and walks: **nat PREROUTING** (the DNAT is chosen here), routing, **filter FORWARD**
(kube-proxy's filter chains let it pass), **nat POSTROUTING** (no mark: no SNAT). Every
rule it meets, matched or not:"""),
    code("""t = lab.trace("node1", toolbox_ip, cluster_ip, 80, choose=2)  # take the 3rd random branch
t"""),
    code("""check_traced_packet(t, endpoints)  # DNAT to the 3rd endpoint, no SNAT
figure(packet_path_graph(t.hops()))"""),
    md("""## 6 · The counters of a real packet

Now a real request. The kernel counts every rule a packet matches (NAT rules count only the
first packet of a connection). Snapshot the counters before and after, keep the rules that
moved — and compare them with the tracer's prediction for the endpoint that was chosen."""),
    code("""with lab.rule_hits("node1") as hits:
    reply = lab.exec("toolbox", "curl", "-s", f"http://{cluster_ip}/", echo=True)
hits"""),
    code("""chosen = check_counters_match_trace(lab, hits, endpoints, toolbox_ip, cluster_ip)"""),
    md("""And conntrack remembers the choice for the rest of the connection:"""),
    code("""entries = lab.conntrack("node1", "-p", "tcp", "--orig-dst", cluster_ip)
entries"""),
    code("""check_conntrack_remembers(entries, cluster_ip, chosen)"""),
    md("""## 7 · Who gets masqueraded

Two cases from the reference: a pod that reaches *itself* through the Service (hairpin),
and the node itself (not a pod) calling the ClusterIP. Both get their source rewritten:
the pod's to its node's address on the pod's veth (`10.244.N.1`), the node's to the address of
the interface the packet leaves by — node1's own IP when the chosen pod is on another node."""),
    code("""self_ip = endpoints[0]  # one of the backend pods, tracing on its own node
hairpin_node = next(p["spec"]["nodeName"] for p in lab.get("pods", selector="app=random-generator")
                    if p["status"]["podIP"] == self_ip)
k_self = sorted(f"{ip}:8080" for ip in endpoints).index(f"{self_ip}:8080")
hairpin = lab.trace(hairpin_node, self_ip, cluster_ip, 80, choose=k_self)
ordered = sorted(f"{ip}:8080" for ip in endpoints)
k_remote = next(i for i, ep in enumerate(ordered) if not ep.startswith("10.244.1."))  # a pod on another node
from_node = lab.trace("node1", "172.18.0.2", cluster_ip, 80, origin="local", choose=k_remote)
print("hairpin:  ", hairpin.summary())
print("from node:", from_node.summary())"""),
    code("""check_masquerade(lab, hairpin, from_node, self_ip, ordered[k_remote], cluster_ip)"""),
    md("""## 8 · Ping: the ClusterIP is not a host

Every kube-proxy rule names a protocol and a port. An ICMP echo matches none of them and is
never DNATed: node1 routes it like any unknown address, to its default gateway. No machine
owns the ClusterIP, so no echo reply ever comes, and the router, which has no route for it
either, drops it without a word, as a real network does. TCP to the same address works."""),
    code("""with lab.capture("toolbox", packet_filter="icmp or tcp port 80") as cap:
    ping = lab.exec("toolbox", "ping", "-c", "2", "-W", "1", cluster_ip, echo=True)
    curl = lab.exec("toolbox", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{cluster_ip}/", echo=True)
print(ping.stdout.strip().splitlines()[-2:], "| HTTP", curl.stdout)
cap.packets()"""),
    code("""check_no_ping(lab, ping, curl, cap.packets(), toolbox_ip, cluster_ip)"""),
    md("""## 9 · No endpoints: refused at once

Scale the Deployment to zero. With no endpoint left, kube-proxy removes the Service's nat
chains and writes a **filter** rule that REJECTs new connections to the ClusterIP with an
ICMP *port unreachable* — the client sees "connection refused" immediately instead of
waiting for a timeout."""),
    code("""lab.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "random-generator"},
           "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "random-generator"}},
                    "template": {"metadata": {"labels": {"app": "random-generator"}},
                                 "spec": {"containers": [{"name": "random-generator",
                                                          "image": "k8spatterns/random-generator:1.0"}]}}}},
          wait=True)
lab.wait_ready()
lab.service_rules("random-generator", node="node1")"""),
    code("""import time
with lab.capture("toolbox", packet_filter="icmp or tcp port 80") as cap:
    t0 = time.monotonic()
    refused = lab.exec("toolbox", "curl", "-s", "-m", "5", f"http://{cluster_ip}/", echo=True)
    elapsed = time.monotonic() - t0
cap.packets()"""),
    code("""# curl exit 7: could not connect
check_refused(lab, refused, elapsed, cap.packets(), toolbox_ip, cluster_ip)"""),
    md("""## 10 · How fast kube-proxy programs the rules

kube-proxy exposes its own metrics (Prometheus text on `127.0.0.1:10249` inside the node):
how long each `iptables-restore` sync took, and the *network programming latency* from the
EndpointSlice change to rules in place."""),
    code("""metrics = lab.proxy_metrics("node1")
{k: v for k, v in metrics.items() if k.endswith(("_sum", "_count")) and "kubeproxy" in k}"""),
    code("""check_sync_metrics(metrics)"""),
    md("""## What you saw

- kube-proxy's chains and hashes (`lab_kit/render/proxy_rules.py`), applied with one
  `iptables-restore --noflush` per sync by the agent (`lab_kit/agents/kube_proxy.py`).
- The tracer (`lab_kit/trace/`) walks a packet through a node's live `iptables-save`; the
  counters of a real request (`Lab.rule_hits`) confirm it.
- Masquerade happens for hairpin and node-originated traffic; pod-to-Service traffic keeps
  the client's address.
- ICMP matches no rule: a ClusterIP does not answer ping. No endpoints: REJECT in the filter
  table, "connection refused" at once.

Next: `09-manual-endpoints.ipynb` — a Service whose endpoints you write yourself."""),
    md("""## Your turn

Two changes to the live cluster (the Deployment is at zero replicas now); each check says
what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "08.1",
        "Three endpoints",
        "Scale the Deployment `random-generator` to 3 replicas.",
        "which `--probability` will each of the three rules in the `KUBE-SVC-…` chain carry, "
        "and what share of new connections does each pod get in the end?",
        "!labkit scale deployment random-generator --replicas=3\n"
        "!labkit rollout status deployment random-generator\n"
        'print("\\n".join(lab.iptables("node1", "nat").rules(chain)))',
    ),
    *exercise(
        "08.2",
        "A name for the port",
        "Give the Service's only port a name, `http` (apply a copy of "
        "`manifests/clusterip-service.yml` with `name: http` on the port).",
        "the chain's name is a hash: of what? Will `KUBE-SVC-FLNJ4FGQ5UX5NSDC` survive the "
        "change, and will the ClusterIP change?",
        'named = open("manifests/clusterip-service.yml").read().replace("  - port: 80", "  - name: http\\n    port: 80")\n'
        'print("\\n".join(lab.apply(named, wait=True)))\n'
        'lab.service_rules("random-generator", node="node1")',
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
