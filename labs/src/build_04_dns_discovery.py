"""Build labs/04-dns-discovery.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/04-dns-discovery.ipynb"  # the default output, from the repository root

FQDN = "random-generator.default.svc.cluster.local"
cells = [
    md("""# 04 · DNS discovery: names that appear the moment a Service exists

**What you will see:** how a pod finds a Service by *name*. Every pod's `/etc/resolv.conf`
points at the cluster DNS (`kube-dns`, `10.96.0.10`, served by the `coredns` pods) and
carries a search list. You will take a Service's full name apart, resolve shorter forms of it
through the search list (and see where that stops working), count in a packet capture what
`ndots:5` costs for a name outside the cluster — and how a trailing dot removes that cost.
At the end, the contrast with lab 03: a Service created *after* the pod is found by DNS at
once, although the pod's environment variables will never know it."""),
    code("""import json
from collections import Counter

from lab_kit import Lab
from lab_kit.node.dnsconfig import parse_resolv_conf
from lab_kit.render.dns.corefile import parse as parse_corefile

lab = Lab.up()
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/toolbox.yml",
                            "manifests/clusterip-service.yml"], wait=True)))
cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
print("random-generator ClusterIP", cluster_ip)"""),
    md("""## 1 · Every pod's resolver: `/etc/resolv.conf`

The kubelet writes each pod's `resolv.conf` before it starts the pod's containers. With the
default `dnsPolicy: ClusterFirst` it holds three lines:

- `search`: the pod's namespace first (`default.svc.cluster.local`), then
  `svc.cluster.local` and `cluster.local` — the domains a short name is tried under;
- `nameserver`: the ClusterIP of the cluster DNS Service;
- `options ndots:5`: a name with fewer than 5 dots is tried with the search domains
  *before* it is tried as it is (§4 counts what that costs)."""),
    code("""# NBVAL_CHECK_OUTPUT
resolv = lab.exec("toolbox", "cat", "/etc/resolv.conf", echo=True)
print(resolv.stdout)"""),
    code("""assert resolv.stdout.splitlines() == [
    "search default.svc.cluster.local svc.cluster.local cluster.local",
    "nameserver 10.96.0.10",
    "options ndots:5",
]
toolbox_dns = parse_resolv_conf(resolv.stdout)
assert toolbox_dns.searches[0] == "default.svc.cluster.local"  # the pod's own namespace first
print("search:", toolbox_dns.searches, "| nameserver:", toolbox_dns.servers, "| options:", toolbox_dns.options)"""),
    md("""### Who answers at 10.96.0.10

An ordinary Service: `kube-dns` in the namespace `kube-system`, with a ClusterIP fixed at
`10.96.0.10`: kubeadm takes the tenth address of the Service range for it and gives the
same address to every kubelet (`clusterDNS`), which writes it into each pod's
`resolv.conf` without asking anyone. Behind it, two pods
of the `coredns` Deployment, selected by the label `k8s-app=kube-dns`. kube-proxy
load-balances DNS packets to them exactly as it does for `random-generator` (lab 08)."""),
    code("""lab.get("services", namespace="kube-system")"""),
    code("""coredns = lab.get("pods", namespace="kube-system", selector="k8s-app=kube-dns", wide=True)
coredns"""),
    code("""kube_dns = lab.get("services", "kube-dns", namespace="kube-system")
assert kube_dns["spec"]["clusterIP"] == "10.96.0.10" == toolbox_dns.servers[0]
assert kube_dns["spec"]["selector"] == {"k8s-app": "kube-dns"}
assert [(p["name"], p["port"], p["protocol"]) for p in kube_dns["spec"]["ports"]] == [
    ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
coredns_pods = sorted(p["metadata"]["name"] for p in coredns)
coredns_ips = sorted(p["status"]["podIP"] for p in coredns)
slices = lab.get("endpointslices", namespace="kube-system", selector="kubernetes.io/service-name=kube-dns")
assert sorted(e["addresses"][0] for s in slices for e in s["endpoints"]) == coredns_ips == ["10.244.1.2", "10.244.2.2"]
print("kube-dns 10.96.0.10 ->", len(coredns_pods), "coredns pods at", coredns_ips)"""),
    code("""lab.draw_services(namespace="kube-system")"""),
    md("""## 2 · A Service's full name

Every Service with a ClusterIP gets an A record at a name built from four parts:

| `random-generator` | `.default` | `.svc` | `.cluster.local` |
| --- | --- | --- | --- |
| the Service's name | its namespace | fixed: "a Service" (pods live under `pod`) | the cluster domain |

`dig` asks the nameserver of the pod's `resolv.conf` for exactly the name it is given
(no search list unless told `+search`). The answer is the Service's ClusterIP — never a
pod's address: the pods behind it are kube-proxy's business. The flag `aa` (authoritative
answer) says the server holds this zone itself rather than asking someone else. (dig 9.18
warns about `.local` because RFC 6762 reserves it for multicast DNS; in a pod the name goes
to the cluster DNS like any other.)"""),
    code(f"""full = lab.dig("toolbox", "{FQDN}", echo=True)
full"""),
    code(f"""assert full.status == "NOERROR" and "aa" in full.flags
assert full.answers == [("{FQDN}.", 30, "A", cluster_ip)]
assert full.server.startswith("10.96.0.10#53")
print(f"{FQDN} -> {{cluster_ip}} (TTL {{full.answers[0][1]}} s, flags {{' '.join(full.flags)}})")"""),
    md("""### Where the TTL of 30 comes from

CoreDNS is configured by a *Corefile*, kept in the ConfigMap `coredns` of `kube-system`.
This is kubeadm's: the `kubernetes` plugin serves the zone `cluster.local` from the API's
Services and EndpointSlices with `ttl 30` (the plugin's own default would be 5), and
`forward . /etc/resolv.conf` sends every other name to the resolver in the *coredns pod's*
`resolv.conf` — that pod runs with `dnsPolicy: Default`, so it inherits its node's
resolver: here the lab's made-up internet, `203.0.113.10`."""),
    code("""corefile = lab.get("configmaps", "coredns", namespace="kube-system")["data"]["Corefile"]
print(corefile)
upstream_conf = lab.exec(coredns_pods[0], "cat", "/etc/resolv.conf", namespace="kube-system", echo=True)
print(upstream_conf.stdout)"""),
    code("""config = parse_corefile(corefile)
assert config.domain == "cluster.local" and config.ttl == 30 == full.answers[0][1]
assert config.forward_to == ["/etc/resolv.conf"]
deployment = lab.get("deployments", "coredns", namespace="kube-system")
assert deployment["spec"]["template"]["spec"]["dnsPolicy"] == "Default"
assert parse_resolv_conf(upstream_conf.stdout).servers == ["203.0.113.10"]
print("zone cluster.local, ttl", config.ttl, "| everything else -> /etc/resolv.conf of coredns -> 203.0.113.10")"""),
    md("""## 3 · Shorter names, through the search list

With `+search`, dig does what every program's resolver does: a name with fewer than 5
dots is tried with each search domain appended, in order, and the first answer wins.

- `random-generator` → `random-generator.default.svc.cluster.local` (first domain);
- `random-generator.default` → `random-generator.default.svc.cluster.local` (second
  domain, `svc.cluster.local`) — the form to use for a Service in *another* namespace;
- `kube-dns.kube-system` → `kube-dns.kube-system.svc.cluster.local`, likewise;
- `kube-dns` alone: tried as `kube-dns.default.svc.cluster.local` (no such Service in
  `default`), `kube-dns.svc.cluster.local`, `kube-dns.cluster.local` and finally `kube-dns.`
  itself (forwarded to the internet, which has never heard of it): NXDOMAIN. A bare name
  only finds Services of the pod's own namespace."""),
    code("""names = ["random-generator", "random-generator.default", "kube-dns.kube-system", "kube-dns"]
short = {name: lab.dig("toolbox", name, "+search") for name in names}
for name, reply in short.items():
    print(f"dig +search {name:26} {reply.status:9} {reply.answers}")"""),
    code("""fqdn = "random-generator.default.svc.cluster.local."
assert short["random-generator"].answers == [(fqdn, 30, "A", cluster_ip)]
assert short["random-generator.default"].answers == [(fqdn, 30, "A", cluster_ip)]
assert short["kube-dns.kube-system"].answers == [("kube-dns.kube-system.svc.cluster.local.", 30, "A", "10.96.0.10")]
assert short["kube-dns"].status == "NXDOMAIN" and short["kube-dns"].answers == []
print("short and namespace-qualified names resolve; a bare name from another namespace does not")"""),
    md("""dig is a DNS tool; programs use the C library's resolver instead (glibc here). `getent
hosts NAME` calls it like any program would, and prints the address with the name that
answered."""),
    code("""by_libc = lab.exec("toolbox", "getent", "hosts", "random-generator", echo=True)
print(by_libc.stdout)
bare = lab.exec("toolbox", "getent", "hosts", "kube-dns", echo=True)
print("exit code", bare.returncode)"""),
    code("""assert by_libc.returncode == 0
assert by_libc.stdout.split() == [cluster_ip, "random-generator.default.svc.cluster.local"]
assert bare.returncode == 2 and bare.stdout == ""  # getent: key not found
print(f"getent hosts random-generator -> {cluster_ip}; getent hosts kube-dns -> not found (exit 2)")"""),
    md("""## 4 · `ndots:5`: what an outside name costs

`example.com` has one dot, fewer than 5. So the resolver does not believe it is complete:
it tries it under every search domain first, and only then as it is. Each wrong guess is a
round trip to the cluster DNS and an NXDOMAIN. We capture DNS on the toolbox's `eth0`
while `getent hosts example.com` runs — and, at the same time, on both coredns pods, to see
which questions leave the cluster."""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53") as cap, \\
        lab.capture_many(coredns_pods, namespace="kube-system", packet_filter="udp port 53") as at_dns:
    outside = lab.exec("toolbox", "getent", "hosts", "example.com", echo=True)
print(outside.stdout)
cap.packets()"""),
    code("""asked = cap.packets().dns_queries()
tried = ["example.com.default.svc.cluster.local.", "example.com.svc.cluster.local.",
         "example.com.cluster.local.", "example.com."]
assert asked == [("AAAA", n) for n in tried] + [("A", n) for n in tried]
replies = cap.packets().filter(src="10.96.0.10")
assert len(asked) == 8 and len(replies) == 8
assert sum(r.summary.startswith("NXDOMAIN") for r in replies) == 6  # 3 search domains x AAAA, A
assert outside.stdout.split() == ["203.0.113.10", "example.com"]
print(f"getent hosts example.com: {len(asked)} questions, 6 NXDOMAIN, 1 empty AAAA, 1 answer")"""),
    code("""from lab_kit.lab import plots

plots.distribution([name for _, name in asked], "Names asked for example.com (ndots:5), in order",
                   pods=tried, ylabel="questions (A + AAAA)")"""),
    md("""Eight questions: four names, each asked for AAAA and for A. The order is glibc's:
`getent hosts` calls `gethostbyname2(name, AF_INET6)` and, as that finds no IPv6 address,
`gethostbyname2(name, AF_INET)` — two full walks through the search list, one question per
packet, each from a new source port. The absolute name `example.com.` is tried last,
because it has fewer than `ndots` dots; its AAAA gets an empty NOERROR ("no answer":
the name exists, with no IPv6 address), its A the answer.

The coredns pods answered six of the eight themselves (NXDOMAIN: they own `cluster.local`).
Only the two questions for `example.com.` went on to the upstream resolver at
`203.0.113.10`. (Ask again within 30 s and even those stay inside: `cache 30` in the
Corefile keeps upstream answers, though never `cluster.local` ones.)"""),
    code("""for pod, pod_cap in at_dns.items():
    print(pod, "asked upstream:", pod_cap.packets().filter(dst="203.0.113.10").dns_queries())
forwarded = sorted(q for pod_cap in at_dns.values() for q in pod_cap.packets().filter(dst="203.0.113.10").dns_queries())"""),
    code("""assert forwarded == [("A", "example.com."), ("AAAA", "example.com.")]
print("forwarded upstream:", forwarded, "- the 6 cluster.local guesses never left the cluster")"""),
    md("""Most programs (curl, Python's `socket.getaddrinfo`) call `getaddrinfo`
instead; `getent ahosts` does too. glibc then sends A and AAAA *together*, from one socket,
for each name in turn — a different order, the same eight questions:"""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53") as gai:
    lab.exec("toolbox", "getent", "ahosts", "example.com", echo=True)
gai.packets()"""),
    code("""assert gai.packets().dns_queries() == [(t, n) for n in tried for t in ("A", "AAAA")]
assert len({r.sport for r in gai.packets().filter(dport=53)}) == 4  # one socket per name
print("getaddrinfo: 8 questions, A and AAAA paired per name")"""),
    md("""### The fix: a trailing dot

A name that ends in a dot is *absolute* (fully qualified): the resolver never appends a
search domain to it. `example.com.` costs one name — two questions. (The other fix is
per pod: `dnsConfig.options` with `ndots: 1` or `2`, at the price that short
Service names with that many dots are then tried as absolute names first.)"""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53") as dotted:
    absolute = lab.exec("toolbox", "getent", "hosts", "example.com.", echo=True)
print(absolute.stdout)
dotted.packets()"""),
    code("""asked_dotted = dotted.packets().dns_queries()
assert asked_dotted == [("AAAA", "example.com."), ("A", "example.com.")]
assert absolute.stdout.split()[0] == "203.0.113.10"
cost = {"example.com": asked, "example.com.": asked_dotted}
for name, questions in cost.items():
    print(f"getent hosts {name:13} {len(questions)} questions  {dict(Counter(n for _, n in questions))}")"""),
    code("""assert {name: len(q) for name, q in cost.items()} == {"example.com": 8, "example.com.": 2}
print("the trailing dot saves", len(asked) - len(asked_dotted), "of", len(asked), "questions")"""),
    md("""## 5 · A Service created now is found now

The toolbox pod has been running since the start. Now a second Service over the same pods,
`random-generator-late`. Lab 03 showed that the pod's environment is a snapshot of the
Services that existed when its container started; DNS is asked at the moment of use, and
the cluster DNS watches the API, so the new name answers right away."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/dns-late-service.yml").read())
print("\\n".join(lab.apply("manifests/dns-late-service.yml", wait=True)))"""),
    code("""late_ip = lab.get("services", "random-generator-late")["spec"]["clusterIP"]
late = lab.dig("toolbox", "random-generator-late", "+search", echo=True)
print(late.answers)
env = lab.exec("toolbox", "env", echo=True)
print("\\n".join(line for line in env.stdout.splitlines() if line.startswith("RANDOM_GENERATOR")))"""),
    code("""assert late.status == "NOERROR"
assert late.answers == [("random-generator-late.default.svc.cluster.local.", 30, "A", late_ip)]
toolbox_env = dict(line.split("=", 1) for line in env.stdout.splitlines())
assert toolbox_env["RANDOM_GENERATOR_SERVICE_HOST"] == cluster_ip  # created before the pod
assert "RANDOM_GENERATOR_LATE_SERVICE_HOST" not in toolbox_env  # created after: never
print(f"DNS: random-generator-late -> {late_ip}; environment: no RANDOM_GENERATOR_LATE_*")"""),
    md("""And called by name, as a program would: curl resolves `random-generator-late` through
the search list (found under the first domain, so one A and one AAAA question), then
connects to the ClusterIP, where kube-proxy takes over. The random-generator answers with
JSON: a random number and the `id` of the pod that served it."""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53 or tcp port 80") as by_name:
    called = lab.exec("toolbox", "curl", "-s", "http://random-generator-late/", echo=True)
print(called.stdout)
by_name.packets()"""),
    code("""late_fqdn = "random-generator-late.default.svc.cluster.local."
assert called.returncode == 0 and "id" in json.loads(called.stdout)
assert by_name.packets().dns_queries() == [("A", late_fqdn), ("AAAA", late_fqdn)]
syn = by_name.packets().syns()[0]
assert (syn.dst, syn.dport) == (late_ip, 80)
print(f"curl http://random-generator-late/ -> {late_fqdn} -> {late_ip}:80 -> JSON with an 'id'")"""),
    md("""## What you saw

- The kubelet writes each pod's `/etc/resolv.conf` (`search <ns>.svc.cluster.local
  svc.cluster.local cluster.local`, `nameserver 10.96.0.10`, `options ndots:5`):
  `lab_kit/node/dnsconfig.py` (`pod_dns`, `render_resolv_conf`).
- The cluster DNS is an addon like kubeadm's: ConfigMap `coredns` (the Corefile),
  Deployment `coredns`, Service `kube-dns` at 10.96.0.10 — `lab_kit/lab/addons/coredns.yaml`;
  the Corefile is read by `lab_kit/render/dns/corefile.py`.
- The server in the coredns pods watches Services, EndpointSlices and Namespaces and
  answers on port 53: `lab_kit/agents/cluster_dns.py`; what a name means is worked out by
  the pure core in `lab_kit/render/dns/`: `zone.py` (the index of API objects behind each
  name) and `answer.py` (the DNS reply: A records with `ttl 30`, `aa`, NXDOMAIN with the SOA).
- `<service>.<namespace>.svc.cluster.local` → ClusterIP; short forms work through the
  search list, a bare name only within the pod's own namespace.
- `ndots:5` made `example.com` cost 8 questions (6 NXDOMAIN); `example.com.` costs 2. Names
  outside `cluster.local` are forwarded to the made-up internet's resolver on
  `203.0.113.10`: `lab_kit/agents/world_dns.py`, serving `lab_kit/render/dns/world.zone`.
- A Service created after the pod is in DNS at once, but never in the pod's environment.

Next: `05-multi-port-services.ipynb` (one Service, two named ports), or jump to
`10-headless-services.ipynb` for DNS names that lead to the pods themselves."""),
    md("""## Your turn

Two changes on the live cluster. Each check asks the cluster DNS itself and says what it
got."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "04.1",
        "Gone from DNS at once",
        "Delete the Service `random-generator-late` "
        "(`labkit delete service random-generator-late`), then ask for its name again from "
        "the toolbox.",
        "what does the cluster DNS answer now, and how soon? Does the toolbox need a restart "
        "to notice?",
        "!labkit delete service random-generator-late\n"
        'lab.dig("toolbox", "random-generator-late.default.svc.cluster.local", echo=True)',
    ),
    *exercise(
        "04.2",
        "Fewer questions with ndots:1",
        "Start a copy of the toolbox named `ndots-one` whose spec sets "
        '`dnsConfig: {options: [{name: ndots, value: "1"}]}`, and capture its DNS while it '
        "resolves `example.com` with `getent ahosts` (8 questions from the toolbox).",
        "how many questions now, for which names? Does the short name `random-generator` "
        "still resolve there?",
        "import yaml\n\n"
        'pod = yaml.safe_load(open("manifests/toolbox.yml"))\n'
        'pod["metadata"]["name"] = "ndots-one"\n'
        'pod["spec"]["dnsConfig"] = {"options": [{"name": "ndots", "value": "1"}]}\n'
        'print("\\n".join(lab.apply(pod, wait=True)))\n'
        'with lab.capture("ndots-one", packet_filter="udp port 53") as one:\n'
        '    lab.exec("ndots-one", "getent", "ahosts", "example.com", echo=True)\n'
        "one.packets()",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
