"""Build labs/11-externalname.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/11-externalname.ipynb"  # the default output, from the repository root

SHOP = "shop.default.svc.cluster.local"
cells = [
    md("""# 11 · ExternalName: a Service that is only a DNS name

**What you will see:** a Service with no selector, no ports and no ClusterIP, whose whole
job is one DNS record: cluster DNS answers its name with a **CNAME** to a name outside the
cluster, and follows that name upstream so the client gets an address in the same reply.
You will dig the record, watch a pod's `curl http://shop/` resolve through the CNAME chain
and connect *straight* to the outside address (kube-proxy writes no rule for it), move the
Service to another outside name without touching the client, and meet two pitfalls: an
`externalName` that looks like an IP, and the HTTP `Host` header."""),
    code("""from lab_kit import Lab
from lab_kit.lab.checks.lab11 import (check_cname_and_getent, check_cname_chain,
                                      check_forwarded_upstream, check_host_header,
                                      check_ip_is_not_a_name, check_masqueraded_no_rules,
                                      check_moved, check_only_a_name, check_straight_to_outside)

lab = Lab.up()
print("\\n".join(lab.apply("manifests/toolbox.yml", wait=True)))
lab.start_on_host("internet", "agnhost", "netexec", "--http-port=80")  # a web server outside
lab.wait_listening("internet", 80)
toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
print("toolbox", toolbox_ip, "on node1; web server listening on internet (203.0.113.10) port 80")"""),
    md("""## 1 · The made-up internet

Nothing in the lab asks the real internet. Cluster DNS forwards every name outside
`cluster.local` to the lab's upstream resolver on the `internet` host (203.0.113.10), which
serves a small zone file. `www.example.com` there is a CNAME to `example.com`, whose address
is the internet host itself — where the web server just started."""),
    code("""from lab_kit.render.dns.world import WORLD_ZONE

print(WORLD_ZONE.read_text())"""),
    md("""From the toolbox pod, through the cluster DNS Service `kube-dns` (10.96.0.10). The
name has dots, so we ask it as it is (no search list). The flags tell where the answer came
from: `ra` (recursion available) and no `aa` (not authoritative) — cluster DNS relayed the
upstream resolver's reply. Look at the TTLs too: the zone file publishes 300 s, the pod sees
30. kubeadm's Corefile has `cache 30`, and CoreDNS's cache plugin sends every reply it
passes on with all its TTLs clamped to at most 30 s (`lab_kit/render/dns/cache.py`)."""),
    code("""world = lab.dig("toolbox", "www.example.com", echo=True)
world"""),
    code("""check_forwarded_upstream(world)  # relayed from the upstream resolver, TTLs clamped"""),
    md("""## 2 · An ExternalName Service

`type: ExternalName` with `externalName: www.example.com`. There is no selector, so no
EndpointSlice; no ports; and the API server allocates **no ClusterIP**. `kubectl get` shows
the target name in the EXTERNAL-IP column."""),
    code("""print(open("manifests/externalname-service.yml").read())
print("\\n".join(lab.apply("manifests/externalname-service.yml", wait=True)))
lab.get("services")"""),
    code("""check_only_a_name(lab)  # the only EndpointSlice: the API server's own"""),
    code("""lab.draw_services()"""),
    md("""The Service is only a name now. Ask cluster DNS for it: the answer starts with the
cluster's own record — `shop.default.svc.cluster.local` is a CNAME to `www.example.com.`,
with the Corefile's `ttl 30` — and cluster DNS does not stop there: the target is outside
its zone, so it asks the upstream resolver for `www.example.com` and appends what it gets
(the world's own CNAME to `example.com.` and the address), as CoreDNS does. One query,
the whole chain."""),
    code(f"""shop = lab.dig("toolbox", "{SHOP}", echo=True)
shop"""),
    code(f"""# one answer: {SHOP} -> www.example.com. -> example.com. -> 203.0.113.10
check_cname_chain(shop)"""),
    md("""Asked for the CNAME itself (what Kubernetes' conformance test checks with
`dig +short shop CNAME`), cluster DNS answers just the record, no chase. And the C library's
resolver, as any program uses it (`getent hosts` → `getaddrinfo`), goes through the
search list to `shop.default.svc.cluster.local` and follows the chain: it prints the
final, canonical name first and the names it passed through as aliases."""),
    code(f"""cname = lab.dig("toolbox", "{SHOP}", qtype="CNAME", echo=True)
cname"""),
    code("""hosts = lab.exec("toolbox", "getent", "hosts", "shop", echo=True)
print(hosts.stdout)"""),
    code(f"""check_cname_and_getent(cname, hosts)  # getent: shop, as {SHOP}"""),
    md("""## 3 · A client calls `http://shop/`

The toolbox runs `curl -s http://shop/hostname` while we capture on its `eth0` (DNS and
HTTP) and on the internet host (HTTP). `shop` has no dot, fewer than `ndots:5`, so the
resolver tries the search list first: `shop.default.svc.cluster.local` answers at once
with the CNAME chain. Then curl connects to the address at the end of the chain — the
outside web server — which answers with its host's name (the lab's outside hosts share the
name of the machine the lab runs on)."""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53 or tcp port 80") as pod_cap, \\
        lab.capture("internet", packet_filter="tcp port 80") as web_cap:
    reply = lab.exec("toolbox", "curl", "-s", "http://shop/hostname", echo=True)
print("answer:", reply.stdout)
pod_cap.packets()"""),
    code(f"""# {SHOP} resolved, then no ClusterIP on the way
check_straight_to_outside(reply, pod_cap.packets(), toolbox_ip)"""),
    md("""On the web server's side the connection arrives for the same destination,
203.0.113.10:80 — nothing rewrote it. Its source is node1's address: leaving the pod
network, the node masquerades the pod's traffic (the node's own `IP-MASQ-AGENT` rules,
lab 08), as it would for any outside destination. kube-proxy had nothing to do with it:
it skips ExternalName Services, so no rule on any node even mentions `shop`."""),
    code("""web_cap.packets()"""),
    code("""check_masqueraded_no_rules(lab, web_cap.packets())"""),
    md("""### What the web server is told: `Host: shop`

DNS aliases are invisible to HTTP. curl puts the name it was *given* in the `Host`
header — `shop` — not `www.example.com`. A server with one site (like agnhost here) does
not care; a real one that serves several sites by name (virtual hosts, a CDN, an ingress)
may answer 404 or the wrong site, and with HTTPS the certificate is for `www.example.com`,
so a client that checks it against `shop` refuses. ExternalName fits protocols that don't
carry the name (databases, plain TCP), or clients configured to send the right
`Host`/SNI."""),
    code("""verbose = lab.exec("toolbox", "curl", "-sv", "-o", "/dev/null", "http://shop/hostname", echo=True)
sent = [line for line in verbose.stderr.splitlines() if line.startswith("> ")]
print("\\n".join(sent))"""),
    code("""check_host_header(verbose, sent)"""),
    md("""## 4 · Moving the target, not the clients

The point of the indirection: clients keep calling `shop`; an operator changes where it
points. Move the Service to `db.example.net` and dig again at once — cluster DNS rebuilt its
zone from the watch event. (A client that cached the old answer keeps it for up to the
record's TTL, 30 s here.)"""),
    code(f"""print("\\n".join(lab.apply("manifests/externalname-service-moved.yml", wait=True)))
moved = lab.dig("toolbox", "{SHOP}", echo=True)
moved"""),
    code(f"""check_moved(moved)  # {SHOP} -> db.example.net. -> 203.0.113.10"""),
    md("""### The pitfall: an IP is not a name

`externalName` must be a DNS name. An IPv4 address such as `203.0.113.10` passes the API's
validation (all digits and dots: a valid DNS name), but cluster DNS cannot make a CNAME of
it. The Kubernetes docs warn that such names "are not resolved by DNS servers"; CoreDNS
(and the lab's server) treats the Service as having no record at all — **NXDOMAIN** — so
the resolver walks the rest of the search list and the client cannot resolve `shop`. For a
fixed address use a Service without selector and your own endpoints (lab 09), or a
headless Service."""),
    code(f"""print("\\n".join(lab.apply("manifests/externalname-service-ip.yml", wait=True)))
as_ip = lab.dig("toolbox", "{SHOP}", echo=True)
as_ip"""),
    code("""with lab.capture("toolbox", packet_filter="udp port 53") as cap:
    failed = lab.exec("toolbox", "curl", "-sS", "http://shop/hostname", echo=True)
print(failed.stderr)
cap.packets()"""),
    code(f"""# accepted by the API, yet {SHOP} is NXDOMAIN
check_ip_is_not_a_name(lab, as_ip, failed, cap.packets())"""),
    md("""## What you saw

- An ExternalName Service is stored like any Service but gets no ClusterIP, no endpoints
  and no ports (`lab_kit/model/validation_service.py` checks `externalName` is a DNS name;
  `lab_kit/controllers/endpointslice.py` skips it).
- Cluster DNS answers its name with a CNAME carrying the Corefile's TTL, and chases a
  target outside `cluster.local` upstream, appending what it gets
  (`lab_kit/render/dns/answer.py`: `_addresses` makes the CNAME and marks the chase,
  `complete_chase` appends the upstream records; `lab_kit/render/dns/zone.py` rule 5: an
  IP-like `externalName` makes the name not exist).
- The chase and plain forwarding go to the upstream resolver
  (`lab_kit/agents/cluster_dns.py`: `_relay`, `_ask_upstream`), which is the lab's whole
  outside world: `lab_kit/agents/world_dns.py` serving `lab_kit/render/dns/world.zone`
  (`lab_kit/render/dns/world.py`).
- The client connects straight to the outside address: kube-proxy skips ExternalName
  Services (`lab_kit/render/proxy_endpoints.py`: `skip_service`), so no iptables rule
  mentions them. HTTP still carries the name the client used (`Host: shop`).
- Repointing the Service changes every client's next lookup; an IP in `externalName` gives
  NXDOMAIN.

Next: back to the [labs index](README.md)."""),
    md("""## Your turn

Two changes to make on the live cluster; each check says what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "11.1",
        "A name again, not an IP",
        "`shop` still points at `203.0.113.10` and resolves to nothing. Point it at a *name* "
        "again: `api.example.com`, which the made-up internet's zone gives an A record "
        "directly (no CNAME of its own). Change only `externalName`; the client keeps calling "
        "`http://shop/`.",
        "how many records will `dig shop.default.svc.cluster.local` answer now (it was three "
        "for `www.example.com`), and does the toolbox's `curl http://shop/hostname` work again "
        "without any change to the pod?",
        'moved = open("manifests/externalname-service.yml").read().replace("www.example.com", "api.example.com")\n'
        'print("\\n".join(lab.apply(moved, wait=True)))\n'
        f'lab.dig("toolbox", "{SHOP}")',
    ),
    *exercise(
        "11.2",
        "An alias for a Service in another namespace",
        "`externalName` may also name a Service *inside* the cluster: a common way to give a "
        "Service in another namespace a short local name. Create an ExternalName Service "
        "`cluster-dns` in `default` whose `externalName` is "
        "`kube-dns.kube-system.svc.cluster.local`, then resolve `cluster-dns` from the toolbox.",
        "which address will `getent hosts cluster-dns` print, and how many records will the "
        "answer hold? Does cluster DNS need the upstream resolver this time?",
        'alias = """apiVersion: v1\n'
        "kind: Service\n"
        "metadata:\n"
        "  name: cluster-dns\n"
        "spec:\n"
        "  type: ExternalName\n"
        '  externalName: kube-dns.kube-system.svc.cluster.local\n"""\n'
        'print("\\n".join(lab.apply(alias, wait=True)))\n'
        'print(lab.exec("toolbox", "getent", "hosts", "cluster-dns").stdout)\n'
        'lab.dig("toolbox", "cluster-dns.default.svc.cluster.local")',
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
