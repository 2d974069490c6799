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
    code("""from lab_kit import Lab
from lab_kit.lab.checks.lab04 import (TRIED, check_called_by_name, check_forwarded,
                                      check_full_name, check_getaddrinfo, check_getent,
                                      check_kube_dns, check_late_service, check_resolv_conf,
                                      check_search_walk, check_short_names, check_trailing_dot,
                                      check_upstream)

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
    code("""toolbox_dns = check_resolv_conf(resolv.stdout)  # the pod's own namespace first"""),
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
    code(
        """coredns_pods = check_kube_dns(lab, coredns, toolbox_dns)  # 10.96.0.10 -> the coredns pods"""
    ),
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
    code("""check_full_name(full, cluster_ip)  # authoritative, TTL 30"""),
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
    code("""check_upstream(lab, corefile, upstream_conf, full)"""),
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
    code("""check_short_names(short, cluster_ip)"""),
    md("""dig is a DNS tool; programs use the C library's resolver instead (glibc here). `getent
hosts NAME` calls it like any program would, and prints the address with the name that
answered."""),
    code("""by_libc = lab.exec("toolbox", "getent", "hosts", "random-generator", echo=True)
print(by_libc.stdout)
bare = lab.exec("toolbox", "getent", "hosts", "kube-dns", echo=True)
print("exit code", bare.returncode)"""),
    code("""check_getent(by_libc, bare, cluster_ip)  # getent exit 2: not found"""),
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
    code(
        """asked = check_search_walk(cap.packets(), outside)  # 3 search domains x AAAA, A: 6 NXDOMAIN"""
    ),
    code("""from lab_kit.lab import plots

plots.distribution([name for _, name in asked], "Names asked for example.com (ndots:5), in order",
                   pods=TRIED, ylabel="questions (A + AAAA)")"""),
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
    code("""check_forwarded(forwarded)"""),
    md("""Most programs (curl, Python's `socket.getaddrinfo`) call `getaddrinfo`
instead; `getent ahosts` does too. glibc then sends A and AAAA *together*, from one socket,
for each name in turn — a different order, the same eight questions:"""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53") as gai:
    lab.exec("toolbox", "getent", "ahosts", "example.com", echo=True)
gai.packets()"""),
    code("""check_getaddrinfo(gai.packets())  # one socket per name"""),
    md("""### The fix: a trailing dot

A name that ends in a dot is *absolute* (fully qualified): the resolver never appends a
search domain to it. `example.com.` costs one name — two questions. (The other fix is
per pod: `dnsConfig.options` with `ndots: 1` or `2`, at the price that short
Service names with that many dots are then tried as absolute names first.)"""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53") as dotted:
    absolute = lab.exec("toolbox", "getent", "hosts", "example.com.", echo=True)
print(absolute.stdout)
dotted.packets()"""),
    code("""check_trailing_dot(asked, dotted.packets().dns_queries(), absolute)"""),
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
    code(
        """check_late_service(late, late_ip, env.stdout, cluster_ip)  # DNS now; the environment never"""
    ),
    md("""And called by name, as a program would: curl resolves `random-generator-late` through
the search list (found under the first domain, so one A and one AAAA question), then
connects to the ClusterIP, where kube-proxy takes over. The random-generator answers with
JSON: a random number and the `id` of the pod that served it."""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53 or tcp port 80") as by_name:
    called = lab.exec("toolbox", "curl", "-s", "http://random-generator-late/", echo=True)
print(called.stdout)
by_name.packets()"""),
    code("""check_called_by_name(called, by_name.packets(), late_ip)"""),
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
