"""Build labs/10-headless-services.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, md, write

NOTEBOOK = "labs/10-headless-services.ipynb"  # the default output, from the repository root

cells = [
    md("""# 10 · Headless Services: DNS instead of a virtual IP

**What you will see:** a Service with `clusterIP: None`. It gets no virtual IP and kube-proxy
writes no rule for it; instead the cluster DNS answers the Service's name with the
addresses of the ready pods themselves, shuffled on every query. You will compare it with
a normal ClusterIP Service (one A record: the virtual IP), read the SRV records that list
every pod with its port, look a pod's address up backwards (PTR), give pods stable names of
their own with `hostname` and `subdomain`, and watch a pod that is not ready vanish from
DNS."""),
    code("""from lab_kit import Lab
from lab_kit.lab import plots
from lab_kit.lab.widgets import wait_readiness

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml",
                            "manifests/clusterip-service.yml", "manifests/headless-service.yml"],
                           wait=True)))"""),
    md("""## 1 · A Service without a virtual IP

The book's four `random-generator` pods (port 8080), the `toolbox` pod to ask from, the
seed's ClusterIP Service `random-generator` (lab 02), and next to it a second Service over
the same pods that asks for **no** cluster IP. Its port has a name, `http`: that matters for
the SRV records in §4."""),
    code("""print(open("manifests/headless-service.yml").read())
lab.get("services")"""),
    code("""headless = lab.get("services", "random-generator-headless")["spec"]
cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
pod_ips = sorted(p["status"]["podIP"] for p in lab.get("pods", selector="app=random-generator"))
assert headless["type"] == "ClusterIP" and headless["clusterIP"] == "None"
assert headless["clusterIPs"] == ["None"]  # the API server allocated nothing
assert headless["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}]
assert cluster_ip.startswith("10.") and len(pod_ips) == 4
print("random-generator-headless: CLUSTER-IP None | random-generator:", cluster_ip, "| pods", pod_ips)"""),
    md("""## 2 · The name resolves to the pods

Ask the cluster DNS (`10.96.0.10`, kube-dns) for the headless Service's full name. The spec
(reference §1.4): one A record **per ready endpoint**, the pod's own address."""),
    code("""FQDN = "random-generator-headless.default.svc.cluster.local"
headless_a = lab.dig("toolbox", FQDN, echo=True)
headless_a"""),
    code("""assert headless_a.status == "NOERROR" and "aa" in headless_a.flags  # authoritative: the cluster zone
assert sorted(headless_a.addresses) == pod_ips  # exactly the four pods' IPs
assert {(name, ttl, rtype) for name, ttl, rtype, _ in headless_a.answers} == {(FQDN + ".", 30, "A")}
print(len(headless_a.addresses), "A records = the 4 pod IPs, TTL 30 (kubeadm's `ttl 30`)")"""),
    md("""Ask 40 more times. kubeadm's Corefile ends with the `loadbalance` plugin, which shuffles
the A records of every answer. Clients that take the first address (most do) are spread
over the pods — DNS-side load balancing, with no kube-proxy involved. The chart counts which
pod IP came **first** in each answer."""),
    code("""corefile = lab.get("configmaps", "coredns", namespace="kube-system")["data"]["Corefile"]
orders = [lab.dig("toolbox", FQDN).addresses for _ in range(40)]
for order in orders[:5]:
    print("  ".join(order))
plots.distribution([o[0] for o in orders], "Which pod IP came first (40 queries)",
                   expected=40 / 4, pods=pod_ips, ylabel="answers it led")"""),
    code("""assert "loadbalance" in corefile.split()
assert all(sorted(order) == pod_ips for order in orders)  # always the same four addresses...
assert len({tuple(order) for order in orders}) > 1  # ...in changing order
assert len({order[0] for order in orders}) > 1  # and not always the same one first
print(len({tuple(o) for o in orders}), "different orders in 40 answers;",
      len({o[0] for o in orders}), "different pods came first")"""),
    md("""The ClusterIP Service over the same pods, for contrast: **one** A record, the virtual
IP. Which pod serves a connection is decided later, per connection, by kube-proxy's rules
on the client's node (lab 08)."""),
    code("""clusterip_a = lab.dig("toolbox", "random-generator.default.svc.cluster.local", echo=True)
clusterip_a"""),
    code("""assert clusterip_a.status == "NOERROR"
assert clusterip_a.answers == [("random-generator.default.svc.cluster.local.", 30, "A", cluster_ip)]
assert cluster_ip not in pod_ips
print("random-generator ->", cluster_ip, "(one address, no pod's)")"""),
    md("""## 3 · kube-proxy writes nothing for it

A headless Service has no address to rewrite, so kube-proxy skips it. It does not even see
its endpoints: the EndpointSlice controller labels a headless Service's slices
`service.kubernetes.io/headless`, and kube-proxy watches EndpointSlices with a selector that
excludes that label. Node1's nat table mentions only the ClusterIP Service."""),
    code("""headless_rules = lab.iptables("node1", "nat", grep="random-generator-headless")
clusterip_rules = lab.iptables("node1", "nat", grep="default/random-generator")
slice_labels = {s["metadata"]["labels"]["kubernetes.io/service-name"]: s["metadata"]["labels"]
                for s in lab.get("endpointslices")}
print("rules for random-generator-headless:", headless_rules.rules())
print("rules for random-generator:", len(clusterip_rules.rules()))
slice_labels"""),
    code("""assert headless_rules.rules() == [] and lab.service_rules("random-generator-headless").rules() == []
assert len(clusterip_rules.rules()) == 1 + 1 + 4 + 2 * 4  # KUBE-SERVICES, masq, 4 branches, 4 SEPs
assert "service.kubernetes.io/headless" in slice_labels["random-generator-headless"]
assert "service.kubernetes.io/headless" not in slice_labels["random-generator"]
print("no iptables rule for the headless Service; its EndpointSlice carries the headless label")"""),
    md("""So a client of the headless Service resolves the name and connects to a pod's address
**directly**. Capture on the toolbox while curl calls `random-generator-headless:8080` (the
short name, through the search list): the SYN goes to a pod IP on port 8080, and the reply
comes from that same address — nothing on the way rewrote it."""),
    code("""with lab.capture("toolbox", packet_filter="tcp port 8080") as cap:
    reply = lab.exec("toolbox", "curl", "-s", "http://random-generator-headless:8080/", echo=True)
print(reply.stdout)
cap.packets()"""),
    code("""(syn,) = cap.packets().syns()
assert reply.returncode == 0 and '"random"' in reply.stdout
assert syn.dst in pod_ips and syn.dport == 8080
assert {p.src for p in cap.packets() if p.sport == 8080} == {syn.dst}  # answered by the pod itself
print("SYN straight to", f"{syn.dst}:8080")"""),
    md("""## 4 · SRV records: every pod, with its port

An SRV record names a target host and a port. The spec (reference §1.4) gives a headless
Service one SRV per ready endpoint and **named** port, at `_<port>._<proto>.<service>...`;
each target is the endpoint's own name, `<hostname>.<service>.<ns>.svc.<zone>`. These pods
set no `hostname`, so the cluster DNS makes one up from the address, dashes for dots
(`10-244-1-4`), as CoreDNS does. The targets' A records come along in the ADDITIONAL
section, so a client needs no second query. Priority 0 and weight 100/4 = 25: CoreDNS's
numbers."""),
    code("""srv = lab.dig("toolbox", f"_http._tcp.{FQDN}", qtype="SRV", echo=True)
srv"""),
    code("""dashed = {ip: ip.replace(".", "-") for ip in pod_ips}
assert srv.status == "NOERROR"
assert sorted(srv.records("SRV")) == sorted(f"0 25 8080 {dashed[ip]}.{FQDN}." for ip in pod_ips)
additional = str(srv).split(";; ADDITIONAL SECTION:\\n")[1].split("\\n\\n")[0].splitlines()
assert sorted(line.split() for line in additional) == sorted(
    [f"{dashed[ip]}.{FQDN}.", "30", "IN", "A", ip] for ip in pod_ips)
print("4 SRV records, port 8080, targets", sorted(dashed.values()), "+ their A records")"""),
    md("""The same question about the ClusterIP Service: `NXDOMAIN`. Its one port has no name, and
**unnamed ports get no SRV record** (reference §1.3)."""),
    code("""unnamed = lab.dig("toolbox", "_http._tcp.random-generator.default.svc.cluster.local", qtype="SRV",
                  echo=True)
print(unnamed.status)"""),
    code("""assert unnamed.status == "NXDOMAIN" and unnamed.answers == []
assert lab.get("services", "random-generator")["spec"]["ports"][0].get("name") is None
print("_http._tcp.random-generator: NXDOMAIN (the port has no name)")"""),
    md("""Name the port `http` (the same Service, updated) and ask again: **one** SRV record, whose
target is the Service's own name and whose port is the Service's port, 80 — not the pods'
8080. The address in the ADDITIONAL section is the virtual IP."""),
    code("""print(open("manifests/headless-clusterip-named.yml").read())
print("\\n".join(lab.apply("manifests/headless-clusterip-named.yml", wait=True)))
named = lab.dig("toolbox", "_http._tcp.random-generator.default.svc.cluster.local", qtype="SRV",
                echo=True)
named"""),
    code("""assert named.status == "NOERROR"
assert named.records("SRV") == ["0 100 80 random-generator.default.svc.cluster.local."]
assert f"random-generator.default.svc.cluster.local. 30 IN A {cluster_ip}" in " ".join(str(named).split())
print("ClusterIP SRV: one record, target random-generator.default.svc.cluster.local., port 80")"""),
    md("""### Reverse lookups (PTR)

`dig -x <address>` asks for the PTR record of `<reversed address>.in-addr.arpa`. For a pod
IP, the cluster DNS answers with the endpoint's name under **every** Service that selects the
pod — here two, the headless one and `random-generator` (CoreDNS publishes endpoint names
and PTRs for ClusterIP Services' endpoints too). For the ClusterIP itself, the answer is
the Service's name."""),
    code("""pod_ptr = lab.dig("toolbox", pod_ips[0], "-x", qtype="PTR", echo=True)
vip_ptr = lab.dig("toolbox", cluster_ip, "-x", qtype="PTR")
print(vip_ptr.answers)
pod_ptr"""),
    code("""first = dashed[pod_ips[0]]
assert pod_ptr.status == "NOERROR"
assert pod_ptr.records("PTR") == [f"{first}.random-generator.default.svc.cluster.local.",
                                  f"{first}.random-generator-headless.default.svc.cluster.local."]
assert pod_ptr.answers[0][0] == ".".join(reversed(pod_ips[0].split("."))) + ".in-addr.arpa."
assert vip_ptr.records("PTR") == ["random-generator.default.svc.cluster.local."]
assert lab.dig("toolbox", f"{first}.{FQDN}").addresses == [pod_ips[0]]  # and forward again
print(pod_ips[0], "->", pod_ptr.records("PTR"))"""),
    md("""## 5 · Pods with names of their own: `hostname` and `subdomain`

Generated names like `10-244-1-4` change whenever a pod is replaced. A pod can ask for a
stable one: `hostname: pet-0` plus `subdomain: pets` gives it the name
`pet-0.pets.default.svc.cluster.local` — **if** a headless Service called `pets` exists in
its namespace and selects it. The EndpointSlice controller then copies the hostname into the
pod's endpoint, and the cluster DNS serves that name. (A StatefulSet does exactly this for
its pods; here two plain Pods do it by hand.) Each runs agnhost `netexec`, which answers
`GET /hostname` with its hostname."""),
    code("""print(open("manifests/headless-pets.yml").read())
print("\\n".join(lab.apply("manifests/headless-pets.yml", wait=True)))
pets = {p["metadata"]["name"]: p["status"]["podIP"] for p in lab.get("pods", selector="app=pets")}
lab.get("pods", selector="app=pets", wide=True)"""),
    code("""pet0 = lab.dig("toolbox", "pet-0.pets.default.svc.cluster.local", echo=True)
pets_srv = lab.dig("toolbox", "_http._tcp.pets.default.svc.cluster.local", qtype="SRV")
print(pets_srv.records("SRV"))
pet0"""),
    code("""(pets_slice,) = lab.get("endpointslices", selector="kubernetes.io/service-name=pets")
assert {e["hostname"]: e["addresses"][0] for e in pets_slice["endpoints"]} == pets
assert pet0.status == "NOERROR" and pet0.addresses == [pets["pet-0"]]  # that pod only
assert sorted(pets_srv.records("SRV")) == [f"0 50 8080 {pet}.pets.default.svc.cluster.local."
                                           for pet in ("pet-0", "pet-1")]
assert lab.dig("toolbox", pets["pet-1"], "-x", qtype="PTR").records("PTR") == [
    "pet-1.pets.default.svc.cluster.local."]
print("pet-0.pets ->", pets["pet-0"], "| SRV targets are the hostnames now, not dashed IPs")"""),
    md("""Inside the pod, the kubelet made the same name its own: `hostname` prints the short name,
and the kubelet-managed `/etc/hosts` maps the pod's IP to the full name, which is what
`hostname -f` reads."""),
    code("""short = lab.exec("pet-0", "hostname", echo=True)
full = lab.exec("pet-0", "hostname", "-f", echo=True)
hosts = lab.exec("pet-0", "cat", "/etc/hosts", echo=True)
print(short.stdout + full.stdout + hosts.stdout)"""),
    code("""assert short.stdout.strip() == "pet-0"
assert full.stdout.strip() == "pet-0.pets.default.svc.cluster.local"
assert f"{pets['pet-0']}\\tpet-0.pets.default.svc.cluster.local\\tpet-0" in hosts.stdout.splitlines()
print("pet-0 knows itself as pet-0.pets.default.svc.cluster.local")"""),
    md("""From the toolbox, `pet-1.pets` (completed by the search list's first entry,
`default.svc.cluster.local`) reaches exactly that pod, every time:"""),
    code("""answers = [lab.exec("toolbox", "curl", "-s", "http://pet-1.pets:8080/hostname", echo=(i == 0)).stdout
           for i in range(5)]
answers"""),
    code("""assert answers == ["pet-1"] * 5
print("5 requests to pet-1.pets:8080 -> pet-1, 5 times")"""),
    md("""## 6 · Only ready pods are published

A third pet, `pet-2`, with the same `subdomain`. Its server runs, but its readiness probe
knocks on a port where nothing listens, so it never becomes ready. The EndpointSlice lists
it with `ready: false` (grey and dashed in the picture) — and the cluster DNS publishes
nothing for it: its name does not exist, and the Service's name still holds two
addresses. (`publishNotReadyAddresses: true` on the Service would publish it anyway.)"""),
    code("""print(open("manifests/headless-pet-unready.yml").read())
print("\\n".join(lab.apply("manifests/headless-pet-unready.yml")))  # no wait: it never becomes Ready
wait_readiness(lab, "pet-2", ready=False)
pets["pet-2"] = lab.get("pods", "pet-2")["status"]["podIP"]
lab.draw_services()"""),
    code("""pet2 = lab.dig("toolbox", "pet-2.pets.default.svc.cluster.local", echo=True)
print(pet2.status)
all_pets = lab.dig("toolbox", "pets.default.svc.cluster.local", echo=True)
print(all_pets.status, all_pets.addresses)
direct = lab.exec("toolbox", "curl", "-s", f"http://{pets['pet-2']}:8080/hostname", echo=True)
print(direct.stdout)"""),
    code("""pod = lab.get("pods", "pet-2")
(endpoint,) = [e for e in lab.get("endpointslices", selector="kubernetes.io/service-name=pets")[0]["endpoints"]
               if e["hostname"] == "pet-2"]
assert pod["status"]["phase"] == "Running" and pod["status"]["containerStatuses"][0]["ready"] is False
assert endpoint["conditions"]["ready"] is False and endpoint["addresses"] == [pets["pet-2"]]
assert pet2.status == "NXDOMAIN"
assert sorted(all_pets.addresses) == sorted([pets["pet-0"], pets["pet-1"]])
assert direct.stdout == "pet-2"  # the server works; it is just not ready
print("pet-2: Running, endpoint ready=false, name NXDOMAIN; pets -> pet-0 and pet-1 only")"""),
    md("""A pod that goes away leaves DNS the same way: delete `pet-1`, and its name is gone at
once. Delete `pet-0` too, and the headless Service has no ready endpoint left — its own name
becomes `NXDOMAIN` (reference §1.4), although `pet-2` is still there, not ready. (A
ClusterIP Service's name keeps resolving to its virtual IP with no endpoints at all.)"""),
    code("""print("\\n".join(lab.delete("pods", "pet-1")))
lab.wait()
gone = lab.dig("toolbox", "pet-1.pets.default.svc.cluster.local")
left = lab.dig("toolbox", "pets.default.svc.cluster.local")
print("pet-1.pets:", gone.status, "| pets:", left.status, left.addresses)
print("\\n".join(lab.delete("pods", "pet-0")))
lab.wait()
empty = lab.dig("toolbox", "pets.default.svc.cluster.local", echo=True)
empty"""),
    code("""assert gone.status == "NXDOMAIN" and left.addresses == [pets["pet-0"]]
assert empty.status == "NXDOMAIN" and empty.answers == []
assert empty.authority[0][2] == "SOA"  # a negative answer carries the zone's SOA
assert [p["metadata"]["name"] for p in lab.get("pods", selector="app=pets")] == ["pet-2"]
print("pet-1.pets NXDOMAIN; pets with no ready endpoint: NXDOMAIN")"""),
    md("""## What you saw

- `clusterIP: None`: the API server allocates no address; kube-proxy skips the Service — the
  EndpointSlice controller labels its slices `service.kubernetes.io/headless`
  (`lab_kit/controllers/endpointslice.py`) and kube-proxy's watch excludes that label
  (`INFORMER_LABEL_SELECTOR` in `lab_kit/render/proxy_endpoints.py`, used by
  `lab_kit/agents/kube_proxy.py`); `skip_service` there (kube-proxy's `ShouldSkipService`)
  drops any Service whose clusterIP is None. No iptables rule, no
  DNAT: clients connect to pod IPs directly.
- The cluster DNS answers the headless name with every ready endpoint's address
  (`_find_endpoints` in `lab_kit/render/dns/zone.py`); the `loadbalance` plugin's shuffle is
  `load_balance` in `lab_kit/render/dns/answer.py`, applied per reply by the server in
  `lab_kit/agents/cluster_dns.py` (which watches Services and EndpointSlices and rebuilds
  the zone on every change).
- SRV records (`_srv` in `answer.py`): per endpoint and named port for a headless Service,
  the Service's own name and port for a ClusterIP Service, none for unnamed ports; the
  targets' addresses in the additional section. PTR: `ClusterZone.ptr` in `zone.py`.
- Endpoint names: the endpoint's `hostname`, else the dashed IP (`zone.py`). The
  EndpointSlice controller sets `hostname` when the pod's `subdomain` names the Service
  (`lab_kit/controllers/endpointslice.py`, `should_set_hostname` in
  `lab_kit/controllers/pods.py`); the kubelet writes the FQDN into the pod's `/etc/hosts`
  (`lab_kit/node/dnsconfig.py`).
- Only ready endpoints are published: a not-ready or deleted pod's name is `NXDOMAIN`, and
  so is a headless Service with no ready endpoint.

Next: `11-externalname.ipynb` — a Service that is only a DNS CNAME."""),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
