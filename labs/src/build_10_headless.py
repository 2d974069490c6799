"""Build labs/10-headless-services.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

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
from lab_kit.lab.checks.lab10 import (check_a_records_are_the_pods, check_clusterip_srv,
                                      check_gone_from_dns, check_headless_spec,
                                      check_knows_itself, check_no_rules, check_one_virtual_ip,
                                      check_pet_names, check_ptr, check_same_pod_every_time,
                                      check_shuffled, check_srv_per_pod, check_straight_to_a_pod,
                                      check_unnamed_port_no_srv, check_unready_not_published)
from lab_kit.lab.widgets import wait_readiness

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml",
                            "manifests/clusterip-service.yml", "manifests/headless-service.yml"],
                           wait=True)))"""),
    md("""## 1 · A Service without a virtual IP

The book's four `random-generator` pods (port 8080), the `toolbox` pod to ask from, the
labs' ClusterIP Service `random-generator` (lab 02's `manifests/clusterip-service.yml`), and next to it a second Service over
the same pods that asks for **no** cluster IP. Its port has a name, `http`: that matters for
the SRV records in §4."""),
    code("""print(open("manifests/headless-service.yml").read())
lab.get("services")"""),
    code("""headless = lab.get("services", "random-generator-headless")["spec"]
cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
pod_ips = sorted(p["status"]["podIP"] for p in lab.get("pods", selector="app=random-generator"))
check_headless_spec(headless, cluster_ip, pod_ips)  # clusterIPs ["None"]: the API server allocated nothing"""),
    md("""## 2 · The name resolves to the pods

Ask the cluster DNS (`10.96.0.10`, kube-dns) for the headless Service's full name. The spec
([Kubernetes DNS spec](https://github.com/kubernetes/dns/blob/master/docs/specification.md) §2.4, *Records for a Headless Service*): one A record **per ready endpoint**, the pod's own address."""),
    code("""FQDN = "random-generator-headless.default.svc.cluster.local"
headless_a = lab.dig("toolbox", FQDN, echo=True)
headless_a"""),
    code("""check_a_records_are_the_pods(headless_a, pod_ips, FQDN)  # authoritative (aa)"""),
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
    code("""check_shuffled(corefile, orders, pod_ips)  # the same four, in changing order"""),
    md("""The ClusterIP Service over the same pods, for contrast: **one** A record, the virtual
IP. Which pod serves a connection is decided later, per connection, by kube-proxy's rules
on the client's node (lab 08)."""),
    code("""clusterip_a = lab.dig("toolbox", "random-generator.default.svc.cluster.local", echo=True)
clusterip_a"""),
    code("""check_one_virtual_ip(clusterip_a, cluster_ip, pod_ips)"""),
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
    code("""# random-generator: 14 rules = KUBE-SERVICES, masq, 4 branches, 4 SEPs of 2
check_no_rules(lab, headless_rules, clusterip_rules, slice_labels)"""),
    md("""So a client of the headless Service resolves the name and connects to a pod's address
**directly**. Capture on the toolbox while curl calls `random-generator-headless:8080` (the
short name, through the search list): the SYN goes to a pod IP on port 8080, and the reply
comes from that same address — nothing on the way rewrote it."""),
    code("""with lab.capture("toolbox", packet_filter="tcp port 8080") as cap:
    reply = lab.exec("toolbox", "curl", "-s", "http://random-generator-headless:8080/", echo=True)
print(reply.stdout)
cap.packets()"""),
    code("""check_straight_to_a_pod(reply, cap.packets(), pod_ips)  # answered by the pod"""),
    md("""## 4 · SRV records: every pod, with its port

An SRV record names a target host and a port. The [DNS spec](https://github.com/kubernetes/dns/blob/master/docs/specification.md) (§2.4) gives a headless
Service one SRV per ready endpoint and **named** port, at `_<port>._<proto>.<service>...`;
each target is the endpoint's own name, `<hostname>.<service>.<ns>.svc.<zone>`. These pods
set no `hostname`, so the cluster DNS makes one up from the address, dashes for dots
(`10-244-1-4`), as CoreDNS does. The targets' A records come along in the ADDITIONAL
section, so a client needs no second query. Priority 0 and weight 100/4 = 25: CoreDNS's
numbers."""),
    code("""srv = lab.dig("toolbox", f"_http._tcp.{FQDN}", qtype="SRV", echo=True)
srv"""),
    code("""check_srv_per_pod(srv, pod_ips, FQDN)  # and the targets' A records (ADDITIONAL)"""),
    md("""The same question about the ClusterIP Service: `NXDOMAIN`. Its one port has no name, and
**unnamed ports get no SRV record** (the [DNS spec](https://github.com/kubernetes/dns/blob/master/docs/specification.md) §2.3, *Records for a Service with ClusterIP*)."""),
    code("""unnamed = lab.dig("toolbox", "_http._tcp.random-generator.default.svc.cluster.local", qtype="SRV",
                  echo=True)
print(unnamed.status)"""),
    code("""check_unnamed_port_no_srv(lab, unnamed)"""),
    md("""Name the port `http` (the same Service, updated) and ask again: **one** SRV record, whose
target is the Service's own name and whose port is the Service's port, 80 — not the pods'
8080. The address in the ADDITIONAL section is the virtual IP."""),
    code("""print(open("manifests/headless-clusterip-named.yml").read())
print("\\n".join(lab.apply("manifests/headless-clusterip-named.yml", wait=True)))
named = lab.dig("toolbox", "_http._tcp.random-generator.default.svc.cluster.local", qtype="SRV",
                echo=True)
named"""),
    code("""check_clusterip_srv(named, cluster_ip)"""),
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
    code("""check_ptr(lab, pod_ptr, vip_ptr, pod_ips[0], FQDN)  # and forward again"""),
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
    code("""check_pet_names(lab, pet0, pets_srv, pets)"""),
    md("""Inside the pod, the kubelet made the same name its own: `hostname` prints the short name,
and the kubelet-managed `/etc/hosts` maps the pod's IP to the full name, which is what
`hostname -f` reads."""),
    code("""short = lab.exec("pet-0", "hostname", echo=True)
full = lab.exec("pet-0", "hostname", "-f", echo=True)
hosts = lab.exec("pet-0", "cat", "/etc/hosts", echo=True)
print(short.stdout + full.stdout + hosts.stdout)"""),
    code("""check_knows_itself(short, full, hosts, pets["pet-0"])"""),
    md("""From the toolbox, `pet-1.pets` (completed by the search list's first entry,
`default.svc.cluster.local`) reaches exactly that pod, every time:"""),
    code("""answers = [lab.exec("toolbox", "curl", "-s", "http://pet-1.pets:8080/hostname", echo=(i == 0)).stdout
           for i in range(5)]
answers"""),
    code("""check_same_pod_every_time(answers, "pet-1", requests=5)"""),
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
    code("""# the server works; it is just not ready
check_unready_not_published(lab, pet2, all_pets, direct, pets)"""),
    md("""A pod that goes away leaves DNS the same way: delete `pet-1`, and its name is gone at
once. Delete `pet-0` too, and the headless Service has no ready endpoint left — its own name
becomes `NXDOMAIN` (the DNS spec's §2.4), although `pet-2` is still there, not ready. (A
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
    code("""check_gone_from_dns(lab, gone, left, empty, pets)  # NXDOMAIN carries the SOA"""),
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
    md("""## Your turn

Two changes to the live cluster; each check says what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "10.1",
        "Six pods, two names",
        "Scale the Deployment `random-generator` to 6 replicas.",
        "how many A records will `random-generator-headless` answer now, and how many "
        "`random-generator` (the ClusterIP Service over the same pods)?",
        "!labkit scale deployment random-generator --replicas=6\n"
        "!labkit rollout status deployment random-generator\n"
        'lab.dig("toolbox", "random-generator-headless.default.svc.cluster.local")',
    ),
    *exercise(
        "10.2",
        "Publish the not-ready",
        "`pet-2` never becomes Ready. Set `publishNotReadyAddresses: true` on the Service "
        "`pets` (apply only the Service document of `manifests/headless-pets.yml`, changed: "
        "the file's Pods `pet-0` and `pet-1` were deleted above).",
        "will `pet-2.pets` resolve, although the pod is still not Ready? What will the "
        "EndpointSlice say about it?",
        'service = open("manifests/headless-pets.yml").read().split("---")[0]\n'
        'published = service.replace("  clusterIP: None", "  clusterIP: None\\n  publishNotReadyAddresses: true")\n'
        'print("\\n".join(lab.apply(published, wait=True)))\n'
        'lab.dig("toolbox", "pet-2.pets.default.svc.cluster.local")',
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
