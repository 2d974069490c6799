"""Build labs/09-manual-endpoints.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, md, write

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
    code("""internet_hostname = lab.host("internet", "hostname").stdout.strip()
assert direct.returncode == 0 and direct.stdout.strip() == internet_hostname
print("the outside server answers directly, as host", repr(internet_hostname))"""),
    md("""## A Service without a selector

`manifests/manual-service.yml` has ports but no `selector`. The API server still allocates a
ClusterIP; but the EndpointSlice controller only manages Services *with* a selector, so
nobody creates an EndpointSlice (or an Endpoints object) for this one."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/manual-service.yml").read())
print("\\n".join(lab.apply("manifests/manual-service.yml", wait=True)))"""),
    code("""lab.get("services")"""),
    code("""import ipaddress

svc = lab.get("services", "outside")
cluster_ip = svc["spec"]["clusterIP"]
assert "selector" not in svc["spec"]
assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
assert list(lab.get("endpoints")) == []  # apply(wait=True) waited for the controllers
assert list(lab.get("endpointslices", selector="kubernetes.io/service-name=outside")) == []
print("Service outside has ClusterIP", cluster_ip, "and no Endpoints, no EndpointSlice")"""),
    md("""Without endpoints kube-proxy writes no `nat` rules for the Service, only a `REJECT` in the
`filter` table: a connection is refused at once (ICMP port-unreachable, which curl reports
as "Couldn't connect"), rather than left to time out."""),
    code("""lab.service_rules("outside", node="node1")"""),
    code("""import time

start = time.monotonic()
refused = lab.exec("toolbox", "curl", "-sS", "-m", "5", f"http://{cluster_ip}/hostname", echo=True)
elapsed = time.monotonic() - start
print(refused.stderr)"""),
    code("""assert '"default/outside has no endpoints"' in lab.iptables("node1", "filter")
assert "DNAT" not in lab.service_rules("outside", node="node1")
assert refused.returncode == 7 and elapsed < 2  # curl 7 = could not connect; no timeout
print(f"refused after {elapsed * 1000:.0f} ms by kube-proxy's REJECT rule")"""),
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
    code("""(mirrored,) = lab.get("endpointslices", selector="kubernetes.io/service-name=outside")
labels = mirrored["metadata"]["labels"]
assert labels == {"kubernetes.io/service-name": "outside",
                  "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}
(owner,) = mirrored["metadata"]["ownerReferences"]
assert (owner["kind"], owner["name"], owner["controller"]) == ("Endpoints", "outside", True)
assert [e["addresses"] for e in mirrored["endpoints"]] == [["203.0.113.10"]]
assert mirrored["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
print(mirrored["metadata"]["name"], "mirrors Endpoints outside: 203.0.113.10:8080")"""),
    md("""## The rules kube-proxy wrote

The REJECT is gone. The Service now has the usual chains: `KUBE-SERVICES` → `KUBE-SVC-…` →
one `KUBE-SEP-…` that DNATs to `203.0.113.10:8080`. kube-proxy does not care that the
address is outside the cluster: an endpoint is an address and a port."""),
    code("""rules = lab.service_rules("outside", node="node1")
rules"""),
    code("""assert "-j DNAT --to-destination 203.0.113.10:8080" in rules
assert "REJECT" not in rules and '"default/outside has no endpoints"' not in lab.iptables("node1", "filter")
for node in ("node2", "node3"):  # every node can reach the outside server through the Service
    assert "-j DNAT --to-destination 203.0.113.10:8080" in lab.service_rules("outside", node=node)
print(f"{cluster_ip}:80 -> DNAT 203.0.113.10:8080 on every node")"""),
    md("""## A request through the Service

`/hostname` answers as the outside server did a moment ago. `/clientip` shows the source
address *the outside host* saw — not the toolbox pod's address but node1's, 172.18.0.2."""),
    code("""hostname = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}/hostname", echo=True)
print(hostname.stdout)
clientip = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}/clientip", echo=True)
print(clientip.stdout)"""),
    code("""toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
assert hostname.returncode == 0 and hostname.stdout.strip() == internet_hostname
seen_ip, seen_port = clientip.stdout.strip().rsplit(":", 1)
assert seen_ip == "172.18.0.2" and seen_ip != toolbox_ip
print(f"answered by {internet_hostname!r}, which saw {seen_ip} (node1), not {toolbox_ip} (toolbox)")"""),
    md("""Who rewrote the source? Not kube-proxy: the client is a pod (inside `10.244.0.0/16`), so
the `! -s 10.244.0.0/16 … KUBE-MARK-MASQ` rule above did not mark it. It is node1's
**ip-masq-agent** rules (as on kind, GKE and many clusters): traffic leaving for anywhere
but the pod network and the node network is MASQUERADEd to the outgoing interface's
address. Outside hosts have no route to pod addresses, so without it the reply could
never come back."""),
    code("""masq = lab.iptables("node1", "nat", grep="IP-MASQ-AGENT")
masq"""),
    code("""masq_rules = masq.rules("IP-MASQ-AGENT")
assert [r.split(" -d ")[1].split()[0] for r in masq_rules if "-j RETURN" in r] == ["10.244.0.0/16", "172.18.0.0/16"]
assert masq_rules[-1].endswith("-j MASQUERADE")  # everything else: the node's address
assert "MASQUERADE" not in lab.service_rules("outside", node="node1")  # kube-proxy's part is only the DNAT
print("ip-masq-agent: pod and node networks RETURN, everything else MASQUERADE")"""),
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
    code("""pod_syn, outside_syn = at_pod.packets().syns()[0], at_internet.packets().syns()[0]
assert (pod_syn.src, pod_syn.dst, pod_syn.dport) == (toolbox_ip, cluster_ip, 80)
assert (outside_syn.src, outside_syn.dst, outside_syn.dport) == ("172.18.0.2", "203.0.113.10", 8080)
assert len(at_pod.packets().syns()) == len(at_internet.packets().syns()) == 1
print(f"pod sent {toolbox_ip} -> {cluster_ip}:80; internet got 172.18.0.2:{outside_syn.sport} -> 203.0.113.10:8080")"""),
    code("""lab.draw_connection(at_pod, at_internet, "toolbox", "internet", node="node1")"""),
    md("""node1's connection-tracking entry holds both rewrites: the *reply* tuple is what the
outside host answers (from 203.0.113.10:8080 to node1), and conntrack turns each reply back
into *ClusterIP:80 → toolbox* for the pod."""),
    code("""entry = lab.conntrack("node1", "-p", "tcp", "--orig-dst", cluster_ip, "--sport", str(pod_syn.sport))
entry"""),
    code("""(e,) = entry
assert (e.original["src"], e.original["dst"], e.original["dport"]) == (toolbox_ip, cluster_ip, 80)
assert (e.reply["src"], e.reply["sport"], e.reply["dst"]) == ("203.0.113.10", 8080, "172.18.0.2")
assert e.dnat and e.snat  # destination AND source rewritten
print("one conntrack entry, both rewrites: DNAT (kube-proxy) and SNAT (ip-masq-agent)")"""),
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
    code("""assert 'Endpoints "special" is invalid' in error
assert ('subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": '
        "may not be in the loopback range (127.0.0.0/8, ::1/128)") in error
assert ('subsets[0].addresses[1].ip: Invalid value: "169.254.169.254": '
        "may not be in the link-local range (169.254.0.0/16, fe80::/10)") in error
assert 'subsets[0].addresses[2].ip: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)' in error
assert [x["metadata"]["name"] for x in lab.get("endpoints")] == ["outside"]  # "special" was not stored
print("3 addresses, 3 field errors: loopback, link-local, unspecified; nothing applied")"""),
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
    code("""assert f"-j DNAT --to-destination {cluster_ip}:80" in lab.service_rules("via-vip", node="node1")
print(f"accepted: {via_vip_ip}:80 -> DNAT to {cluster_ip}:80 (outside's ClusterIP)")"""),
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
    code("""assert failed.returncode != 0 and not failed.stdout
leaving = at_node1.packets().syns()[0]
assert (leaving.src, leaving.dst, leaving.dport) == ("172.18.0.2", cluster_ip, 80)  # not translated again
assert failed.returncode == 28  # curl: timed out
assert not at_node1.packets().filter(protocol="ICMP")  # the router: no route to a ClusterIP, silence
assert lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}/hostname").returncode == 0
print(f"the SYN left node1 for {cluster_ip}:80, untranslated; nothing came back")"""),
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
    code("""(own,) = lab.get("endpointslices", selector="kubernetes.io/service-name=outside-slice")
assert own["metadata"]["name"] == "outside-slice-1"
assert "endpointslice.kubernetes.io/managed-by" not in own["metadata"]["labels"]
assert "-j DNAT --to-destination 203.0.113.10:8080" in lab.service_rules("outside-slice", node="node1")
assert answer.returncode == 0 and answer.stdout.strip() == internet_hostname
assert "outside-slice" not in [x["metadata"]["name"] for x in lab.get("endpoints")]  # no Endpoints
print(f"{slice_ip}:80 -> 203.0.113.10:8080 from the slice alone; no Endpoints object exists for it")"""),
    md("""**`v1 Endpoints` is deprecated** since Kubernetes v1.33 (it still works, and kube-proxy
has read only EndpointSlices for years). A v1.33+ API server answers every request that
touches an `Endpoints` object with the header `Warning: v1 Endpoints is deprecated in
v1.33+; use discovery.k8s.io/v1 EndpointSlice`, and kubectl prints it. This lab's API
server sends no warnings, so you did not see it above. For new selector-less Services,
write EndpointSlices."""),
    md("""## The picture

Three selector-less Services, each with one slice: `outside` with its mirrored slice,
`via-vip` whose endpoint is a ClusterIP, `outside-slice` with the slice we wrote. None of the
endpoints is a pod, and none runs on a node of the cluster. (`kubernetes` has no endpoints
in this lab: its API server listens on a Unix socket.)"""),
    code("""lab.draw_services()"""),
    code("""by_service = {}
for s in lab.get("endpointslices"):
    by_service.setdefault(s["metadata"]["labels"]["kubernetes.io/service-name"], []).append(
        [e["addresses"][0] for e in s["endpoints"]])
assert by_service == {"outside": [["203.0.113.10"]], "via-vip": [[cluster_ip]], "outside-slice": [["203.0.113.10"]]}
assert not any("targetRef" in e or "nodeName" in e for s in lab.get("endpointslices") for e in s["endpoints"])
print({svc: slices[0][0] for svc, slices in sorted(by_service.items())})"""),
    md("""## Nobody checks an outside endpoint

A pod behind a Service has a readiness probe and a kubelet that reports it; a hand-made
endpoint has neither. Stop the outside server: the endpoint stays in the slice, kube-proxy
keeps its DNAT, and clients get their connections reset by the outside host. Keeping manual
endpoints correct is your job."""),
    code("""lab.stop_on_host(server)
gone = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}/hostname", echo=True)
print(gone.stderr)"""),
    code("""assert gone.returncode == 7  # refused by the outside host (it sends a TCP reset)
assert "-j DNAT --to-destination 203.0.113.10:8080" in lab.service_rules("outside", node="node1")
(still,) = lab.get("endpointslices", selector="kubernetes.io/service-name=outside")
assert still["endpoints"][0]["conditions"] == {"ready": True}
print("server gone, endpoint still 'ready', DNAT still in place: the request is refused")"""),
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
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
