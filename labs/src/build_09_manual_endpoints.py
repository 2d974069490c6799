"""Build labs/09-manual-endpoints.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/09-manual-endpoints.ipynb"  # the default output, from the repository root

cells = [
    md("""# 09 · A Service without a selector, and Endpoints you write yourself

**What you will see:** a Service that selects no pods at all. No controller fills it, so
kube-proxy refuses connections to it. Then you write its endpoints yourself: an `Endpoints`
object pointing at a server *outside* the cluster, on the host `internet` (203.0.113.10).
The mirroring controller turns it into an EndpointSlice, kube-proxy DNATs to the outside
address, and a capture at both ends shows the two rewrites on the way: kube-proxy's DNAT,
and ip-masq-agent's SNAT as the packet leaves the cluster. Finally, what the API server
refuses (loopback, link-local, 0.0.0.0), what it accepts but cannot work (another
Service's ClusterIP), and the modern way: a hand-made EndpointSlice."""),
    code("""from lab_kit import Lab
from lab_kit.lab.checks.lab09 import (check_both_rewrites_on_the_wire,
                                      check_conntrack_both_rewrites, check_direct_answer,
                                      check_dnat_to_cluster_ip, check_dnat_to_outside,
                                      check_ip_masq_agent, check_mirrored_slice,
                                      check_no_endpoints, check_no_pod_endpoints,
                                      check_nobody_checks, check_not_translated_twice,
                                      check_own_slice, check_refused_without_endpoints,
                                      check_source_is_node1, check_special_addresses_refused)

lab = Lab.up()
print("\\n".join(lab.apply("manifests/toolbox.yml", wait=True)))
server = lab.start_on_host("internet", "agnhost", "netexec", "--http-port=8080", "--udp-port=-1")
lab.wait_listening("internet", 8080)
lab.draw()"""),
    md("""`internet` is not part of the cluster: no kubelet, no kube-proxy, no pod network; it sits
behind the lab's router `gw`. The agnhost server there answers `/hostname` with its host's
name and `/clientip` with the address the connection came from. (The lab's nodes and outside
hosts are network namespaces on one machine and share its hostname, so the captures below,
not `/hostname`, are the proof of who answered.) The toolbox pod can reach the server
directly, by its address:"""),
    code("""direct = lab.exec("toolbox", "curl", "-sS", "-m", "3", "http://203.0.113.10:8080/hostname", echo=True)
print(direct.stdout)"""),
    code("""internet_hostname = check_direct_answer(lab, direct)"""),
    md("""## A Service without a selector

`manifests/manual-service.yml` has ports but no `selector`. The API server still allocates a
ClusterIP; but the EndpointSlice controller only manages Services *with* a selector, so
nobody creates an EndpointSlice (or an Endpoints object) for this one."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/manual-service.yml").read())
print("\\n".join(lab.apply("manifests/manual-service.yml", wait=True)))"""),
    code("""lab.get("services")"""),
    code("""cluster_ip = check_no_endpoints(lab)  # apply waited: no controller made any"""),
    md("""Without endpoints kube-proxy writes no `nat` rules for the Service, only a `REJECT` in the
`filter` table: a connection is refused at once (ICMP port-unreachable, which curl reports
as "Couldn't connect"), rather than left to time out."""),
    code("""lab.service_rules("outside", node="node1")"""),
    code("""import time

start = time.monotonic()
refused = lab.exec("toolbox", "curl", "-sS", "-m", "5", f"http://{cluster_ip}/hostname", echo=True)
elapsed = time.monotonic() - start
print(refused.stderr)"""),
    code("""# curl 7 = could not connect; no timeout
check_refused_without_endpoints(lab, refused, elapsed)"""),
    md("""## Endpoints by hand

`manifests/manual-endpoints.yml` is an `Endpoints` object with the **same name** as the
Service: that name is the only link between the two. Its port is the real destination
port (8080) and is used as is: for manual endpoints the Service's `targetPort` plays no
part. Its (empty) port name matches the Service port's (empty) name."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/manual-endpoints.yml").read())
print("\\n".join(lab.apply("manifests/manual-endpoints.yml", wait=True)))"""),
    md("""kube-proxy reads only EndpointSlices, never Endpoints. The **EndpointSlice mirroring
controller** bridges the gap: for every Endpoints object of a selector-less Service it writes
an EndpointSlice, labelled `endpointslice.kubernetes.io/managed-by:
endpointslicemirroring-controller.k8s.io` and owned by the Endpoints object (delete the
Endpoints and the slice goes too)."""),
    code("""lab.get("endpointslices", wide=True)"""),
    code("""slices = lab.get("endpointslices", selector="kubernetes.io/service-name=outside")
check_mirrored_slice(slices)"""),
    md("""## The rules kube-proxy wrote

The REJECT is gone. The Service now has the usual chains: `KUBE-SERVICES` → `KUBE-SVC-…` →
one `KUBE-SEP-…` that DNATs to `203.0.113.10:8080`. kube-proxy does not care that the
address is outside the cluster: an endpoint is an address and a port."""),
    code("""rules = lab.service_rules("outside", node="node1")
rules"""),
    code("""check_dnat_to_outside(lab, rules, cluster_ip)  # and on node2 and node3"""),
    md("""## A request through the Service

`/hostname` answers as the outside server did a moment ago. `/clientip` shows the source
address *the outside host* saw — not the toolbox pod's address but node1's, 172.18.0.2."""),
    code("""hostname = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}/hostname", echo=True)
print(hostname.stdout)
clientip = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}/clientip", echo=True)
print(clientip.stdout)"""),
    code("""toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
check_source_is_node1(hostname, clientip, internet_hostname, toolbox_ip)"""),
    md("""Who rewrote the source? Not kube-proxy: the client is a pod (inside `10.244.0.0/16`), so
the `! -s 10.244.0.0/16 … KUBE-MARK-MASQ` rule above did not mark it. It is node1's
**ip-masq-agent** rules (as on kind, GKE and many clusters): traffic leaving for anywhere
but the pod network and the node network is MASQUERADEd to the outgoing interface's
address. Outside hosts have no route to pod addresses, so without it the reply could
never come back."""),
    code("""masq = lab.iptables("node1", "nat", grep="IP-MASQ-AGENT")
masq"""),
    code("""check_ip_masq_agent(lab, masq)"""),
    md("""## One connection, seen at both ends

We capture on the toolbox pod's `eth0` and on the outside host's interface while the
toolbox makes one request. The pod talks to *ClusterIP:80*; the outside host sees
*node1:some port → 203.0.113.10:8080*. Both addresses changed on node1: the destination
in `PREROUTING` (kube-proxy's DNAT), the source in `POSTROUTING` (ip-masq-agent's SNAT)."""),
    code("""with lab.capture("toolbox", packet_filter="tcp") as at_pod, \\
        lab.capture("internet", packet_filter="tcp port 8080") as at_internet:
    print(lab.exec("toolbox", "curl", "-sS", f"http://{cluster_ip}/clientip", echo=True).stdout)
at_pod.packets()"""),
    code("""at_internet.packets()"""),
    code("""pod_syn = check_both_rewrites_on_the_wire(at_pod.packets(), at_internet.packets(),
                                          toolbox_ip, cluster_ip)"""),
    code("""lab.draw_connection(at_pod, at_internet, "toolbox", "internet", node="node1")"""),
    md("""node1's connection-tracking entry holds both rewrites: the *reply* tuple is what the
outside host answers (from 203.0.113.10:8080 to node1), and conntrack turns each reply back
into *ClusterIP:80 → toolbox* for the pod."""),
    code("""entry = lab.conntrack("node1", "-p", "tcp", "--orig-dst", cluster_ip, "--sport", str(pod_syn.sport))
entry"""),
    code("""check_conntrack_both_rewrites(entry, toolbox_ip, cluster_ip)"""),
    md("""## What the API server refuses

An endpoint address must be somewhere a packet can be sent. The API server's validation
(`ValidateNonSpecialIP`, shared by Endpoints, EndpointSlices and `externalIPs`) refuses
addresses that are meaningless or dangerous as a destination: the **loopback** range (it
would reach the node itself), **link-local** addresses (169.254.169.254 is the cloud
metadata service: a Service must not become a way into it) and the **unspecified**
address 0.0.0.0. `manifests/manual-endpoints-special.yml` lists one of each; the API server
reports every bad field at once, and nothing is stored."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/manual-endpoints-special.yml").read())
error = lab.refusal("manifests/manual-endpoints-special.yml")
print(error)"""),
    code("""check_special_addresses_refused(lab, error)  # and "special" was not stored"""),
    md("""## Accepted, but cannot work: another Service's ClusterIP

The API server does not stop you from pointing an endpoint at a **ClusterIP**. Here the
selector-less Service `via-vip` gets an Endpoints object whose only address is the
ClusterIP of `outside` — which works fine on its own, as we just saw. The object is
built in the cell, because that ClusterIP was allocated at run time."""),
    code("""via_vip_endpoints = f\"\"\"
apiVersion: v1
kind: Endpoints
metadata:
  name: via-vip
subsets:
- addresses:
  - ip: {cluster_ip}     # the ClusterIP of Service "outside": a virtual IP
  ports:
  - port: 80
\"\"\"
print(open("manifests/manual-via-vip.yml").read())
print("\\n".join(lab.apply("manifests/manual-via-vip.yml", wait=True)))  # the Service first,
print("\\n".join(lab.apply(via_vip_endpoints, wait=True)))  # then its Endpoints
via_vip_ip = lab.get("services", "via-vip")["spec"]["clusterIP"]
lab.service_rules("via-vip", node="node1")"""),
    code("""check_dnat_to_cluster_ip(lab, via_vip_ip, cluster_ip)"""),
    md("""Now a request to `via-vip`, with a capture on node1's own interface (`node1-eth0`, towards
the router). NAT is decided **once per connection**: the first packet goes through the
`nat` table once, where `via-vip`'s chain rewrites the destination to `outside`'s
ClusterIP — and that is it, the packet does not go through `KUBE-SERVICES` again, so the
second virtual IP is never translated. The packet leaves node1 (masqueraded, like any
traffic leaving the cluster) still addressed to a ClusterIP, which exists on no interface
and in no route. The router `gw` has no route for it and drops it without a word, as a
real network does: curl hears nothing and gives up after its 3 s."""),
    code("""with lab.capture("node1", packet_filter="tcp port 80 or icmp") as at_node1:
    failed = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{via_vip_ip}/hostname", echo=True)
print(failed.stderr)
at_node1.packets()"""),
    code("""# curl 28: timed out
check_not_translated_twice(lab, failed, at_node1.packets(), cluster_ip)"""),
    md("""## The modern way: a hand-made EndpointSlice

Instead of `Endpoints` you can write the EndpointSlice yourself. Its link to the Service is
the label `kubernetes.io/service-name` (the slice's own name is free; by convention it starts
with the Service's). Without a `managed-by` label, no controller touches it: it is yours."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/manual-endpointslice.yml").read())
print("\\n".join(lab.apply("manifests/manual-endpointslice.yml", wait=True)))"""),
    code("""slice_ip = lab.get("services", "outside-slice")["spec"]["clusterIP"]
answer = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{slice_ip}/hostname", echo=True)
print(answer.stdout)
lab.service_rules("outside-slice", node="node1")"""),
    code("""check_own_slice(lab, answer, slice_ip, internet_hostname)"""),
    md("""**`v1 Endpoints` is deprecated** since Kubernetes v1.33 (it still works, and kube-proxy
has read only EndpointSlices for years). A v1.33+ API server answers every request that
touches an `Endpoints` object with the header `Warning: v1 Endpoints is deprecated in
v1.33+; use discovery.k8s.io/v1 EndpointSlice`, and kubectl prints it. This lab's API
server sends no warnings, so you did not see it above. For new selector-less Services,
write EndpointSlices."""),
    md("""## The picture

Three selector-less Services, each with one slice: `outside` with its mirrored slice,
`via-vip` whose endpoint is a ClusterIP, `outside-slice` with the slice we wrote. None of the
endpoints is a pod, and none runs on a node of the cluster. (`kubernetes` is selector-less
too: the API server writes its own endpoint, its address on node1 and port 6443.)"""),
    code("""lab.draw_services()"""),
    code("""check_no_pod_endpoints(lab, cluster_ip)"""),
    md("""## Nobody checks an outside endpoint

A pod behind a Service has a readiness probe and a kubelet that reports it; a hand-made
endpoint has neither. Stop the outside server: the endpoint stays in the slice, kube-proxy
keeps its DNAT, and clients get their connections reset by the outside host. Keeping manual
endpoints correct is your job."""),
    code("""lab.stop_on_host(server)
gone = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}/hostname", echo=True)
print(gone.stderr)"""),
    code("""check_nobody_checks(lab, gone)  # refused: the outside host sends a TCP reset"""),
    md("""## What you saw

- A Service without a `selector` gets a ClusterIP (`lab_kit/api/allocators.py`) but no
  endpoints: the EndpointSlice controller skips it (`lab_kit/controllers/endpointslice.py`),
  and kube-proxy REJECTs connections to it in the filter table
  (`lab_kit/render/proxy_rules.py`).
- A hand-made `Endpoints` of the same name is mirrored into an EndpointSlice by the
  mirroring controller (`reconcile_mirroring` in `lab_kit/controllers/endpointslice.py`);
  kube-proxy reads only the slice and DNATs to the outside address.
- Traffic leaving the cluster is masqueraded by the node's ip-masq-agent rules
  (`lab_kit/render/node_network.py`, `render_masquerade`): the outside host sees node1.
- The API refuses loopback, link-local and unspecified endpoint addresses
  (`lab_kit/model/validation_endpoints.py`, `validate_non_special_ip` in
  `lab_kit/model/validation_formats.py`), but accepts a ClusterIP — which cannot work,
  because NAT happens once per connection.
- A hand-made EndpointSlice with `kubernetes.io/service-name` does the same job without
  the deprecated `v1 Endpoints`; nobody health-checks manual endpoints.

Next: `10-headless-services.ipynb` — a Service with no ClusterIP at all."""),
    md("""## Your turn

Two changes to the live cluster; each check says what it saw. The outside server is
stopped now."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "09.1",
        "Do the health check's job",
        "Nobody checks a hand-made endpoint, so do it yourself: mark the endpoint of "
        "`outside-slice-1` not ready (`conditions: {ready: false}` under the endpoint, in a "
        "copy of `manifests/manual-endpointslice.yml`).",
        "the toolbox's request to `outside-slice` fails either way: where is it refused now, "
        'at the outside host or at node1? What will `lab.service_rules("outside-slice")` show?',
        'not_ready = open("manifests/manual-endpointslice.yml").read().replace(\n'
        '    "  - 203.0.113.10", "  - 203.0.113.10\\n  conditions:\\n    ready: false")\n'
        'print("\\n".join(lab.apply(not_ready, wait=True)))\n'
        'lab.service_rules("outside-slice", node="node1")',
    ),
    *exercise(
        "09.2",
        "The outside server moves to 9090",
        "Start the server again on `internet`, on port 9090 this time (`lab.start_on_host("
        '"internet", "agnhost", "netexec", "--http-port=9090", "--udp-port=-1")`), and make '
        "the Service `outside` reach it by changing only its `Endpoints`.",
        "the Service says `targetPort: 8080`: which port will kube-proxy DNAT to, and must the "
        "Service change too?",
        'server = lab.start_on_host("internet", "agnhost", "netexec", "--http-port=9090", "--udp-port=-1")\n'
        'lab.wait_listening("internet", 9090)\n'
        'moved = open("manifests/manual-endpoints.yml").read().replace("port: 8080", "port: 9090")\n'
        'print("\\n".join(lab.apply(moved, wait=True)))\n'
        "!labkit exec toolbox -- curl -sS -m 3 http://{cluster_ip}/hostname",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
