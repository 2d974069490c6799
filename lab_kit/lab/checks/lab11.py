"""Lab 11's checks: the made-up internet behind cluster DNS, an ExternalName Service with no
address, its CNAME chain chased in one answer, a client connecting straight to the outside
address (and saying `Host: shop`), the target moved without touching the client, and an IP
in externalName giving NXDOMAIN."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.render.dns.world import WORLD_ZONE

if TYPE_CHECKING:
    from lab_kit.lab.dns_view import DigResult
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.packets import PacketTable

SHOP = "shop.default.svc.cluster.local"
OUTSIDE = "203.0.113.10"
NODE1 = "172.18.0.2"


def chain(answer: DigResult) -> list[tuple[str, str, str]]:
    """(name, type, data) of each answer record, TTLs left out."""
    return [(name, rtype, data) for name, _ttl, rtype, data in answer.answers]


def check_forwarded_upstream(world: DigResult) -> None:
    """Cluster DNS (10.96.0.10) relayed the upstream resolver's answer: www.example.com is a
    CNAME to example.com at 203.0.113.10; recursion available, not authoritative; the zone's
    TTL 300 clamped to 30 by `cache 30`."""
    expect(world.status == "NOERROR", "NOERROR", world.status)
    expect(world.server.startswith("10.96.0.10#53"), "answered by kube-dns 10.96.0.10",
           world.server)  # fmt: skip
    want = [("www.example.com.", "CNAME", "example.com."), ("example.com.", "A", OUTSIDE)]
    expect(chain(world) == want, f"the records {want}", chain(world))
    expect("ra" in world.flags, "ra: recursion available", world.flags)
    expect("aa" not in world.flags, "no aa: relayed from the upstream resolver", world.flags)
    expect("$TTL 300" in WORLD_ZONE.read_text(), "the zone file's $TTL 300")
    ttls = [ttl for _, ttl, _, _ in world.answers]
    expect(ttls == [30, 30], "TTLs clamped to 30", ttls)
    passed(f"www.example.com -> CNAME example.com -> A {OUTSIDE}, forwarded by cluster DNS, "
           "TTLs 300 -> 30")  # fmt: skip


def check_only_a_name(lab: Lab) -> None:
    """shop is listed as ExternalName with www.example.com in the EXTERNAL-IP column; it has no
    ClusterIP, no ports, no selector, and no EndpointSlice (the only one is kubernetes')."""
    rows = [r for r in lab.get("services").rows() if r[0] == "shop"]
    expect(rows, "a row for shop in the Service list")
    columns = rows[0][1:5]
    expect(columns == ["ExternalName", "<none>", "www.example.com", "<none>"],
           "TYPE ExternalName, CLUSTER-IP <none>, EXTERNAL-IP www.example.com, PORTS <none>",
           columns)  # fmt: skip
    spec = lab.get("services", "shop")["spec"]
    present = [k for k in ("clusterIP", "ports", "selector") if k in spec]
    expect(not present, "no clusterIP, ports or selector in the spec", present)
    services = [x["metadata"]["labels"]["kubernetes.io/service-name"]
                for x in lab.get("endpointslices")]  # fmt: skip
    expect(services == ["kubernetes"], "no EndpointSlice but the API server's own", services)
    passed("shop: TYPE ExternalName, CLUSTER-IP <none>, EXTERNAL-IP www.example.com, "
           "no EndpointSlice")  # fmt: skip


def check_cname_chain(shop: DigResult) -> None:
    """Cluster DNS answers for its zone (aa) with the whole chain in one reply: shop's CNAME to
    www.example.com, the world's CNAME to example.com, the address; every TTL 30."""
    expect(shop.status == "NOERROR", "NOERROR", shop.status)
    expect("aa" in shop.flags, "aa: cluster DNS answers for its zone", shop.flags)
    want = [(f"{SHOP}.", "CNAME", "www.example.com."),
            ("www.example.com.", "CNAME", "example.com."),
            ("example.com.", "A", OUTSIDE)]  # fmt: skip
    expect(chain(shop) == want, f"the chain {want}", chain(shop))
    expect(shop.answers[0][1] == 30, "the cluster's own record with the Corefile's ttl 30",
           shop.answers[0][1])  # fmt: skip
    ttls = {ttl for _, ttl, _, _ in shop.answers}
    expect(ttls == {30}, "the world's records clamped to 30 by `cache 30`", ttls)
    passed(f"shop -> www.example.com. -> example.com. -> {OUTSIDE}; every record with TTL 30")


def check_cname_and_getent(cname: DigResult, hosts) -> None:
    """Asked for the CNAME, cluster DNS answers just that record; getent (the C library's
    resolver) follows the chain: the address, the canonical name example.com, and the names
    passed through as aliases."""
    want = [(f"{SHOP}.", 30, "CNAME", "www.example.com.")]
    expect(cname.answers == want, "one CNAME record to www.example.com., TTL 30", cname.answers)
    words = hosts.stdout.split()
    expect(len(words) >= 2, "getent prints an address and a name", hosts.stdout)
    address, canonical, *aliases = words
    expect(address == OUTSIDE, f"the address {OUTSIDE}", address)
    expect(canonical == "example.com", "the canonical name example.com", canonical)
    expect(sorted(aliases) == [SHOP, "www.example.com"], f"aliases {SHOP} and www.example.com",
           aliases)  # fmt: skip
    passed(f"CNAME query: one record; getent: {OUTSIDE}, canonical example.com")


def check_straight_to_outside(reply, pod: PacketTable, toolbox_ip: str) -> None:
    """curl got an answer; the pod asked A and AAAA for shop's full name and got the CNAME
    chain back; its one connection went straight to 203.0.113.10:80, never to a ClusterIP."""
    expect(reply.returncode == 0 and reply.stdout.strip(), "an answer",
           (reply.returncode, reply.stdout))  # fmt: skip
    queries = pod.dns_queries()[:2]
    expect(queries == [("A", f"{SHOP}."), ("AAAA", f"{SHOP}.")], f"first A and AAAA for {SHOP}.",
           queries)  # fmt: skip
    answer = (f"CNAME {SHOP}. -> www.example.com.; CNAME www.example.com. -> example.com.; "
              f"A example.com. -> {OUTSIDE}")  # fmt: skip
    expect(any(r.summary == answer for r in pod.filter(sport=53)), f"the answer {answer}",
           [r.summary for r in pod.filter(sport=53)])  # fmt: skip
    syns = pod.syns()
    expect(len(syns) == 1, "one connection", len(syns))
    (syn,) = syns
    sent = (syn.src, syn.dst, syn.dport)
    expect(sent == (toolbox_ip, OUTSIDE, 80), f"from the pod straight to {OUTSIDE}:80", sent)
    to_vips = [r.destination for r in pod if r.dst.startswith("10.96.") and r.dport != 53]
    expect(not to_vips, "nothing to a ClusterIP but DNS", to_vips)
    passed(f"DNS: {SHOP} -> CNAME chain -> {OUTSIDE}; TCP to {OUTSIDE}:80")


def check_masqueraded_no_rules(lab: Lab, web: PacketTable) -> None:
    """The web server got one connection from node1 (masqueraded) to 203.0.113.10:80, the
    destination untouched; no nat rule on node1 mentions shop."""
    syns = web.syns()
    expect(len(syns) == 1, "one connection at the web server", len(syns))
    (web_syn,) = syns
    got = (web_syn.src, web_syn.dst, web_syn.dport)
    expect(got == (NODE1, OUTSIDE, 80), f"from node1 ({NODE1}) to {OUTSIDE}:80", got)
    shop_rules = lab.iptables("node1", "nat", grep="shop").rules()
    expect(shop_rules == [], "no nat rule mentions shop", shop_rules)
    passed(f"internet sees node1 ({NODE1}) -> {OUTSIDE}:80; kube-proxy rules for shop: "
           f"{shop_rules}")  # fmt: skip


def check_host_header(verbose, sent: list[str]) -> None:
    """curl's request line and Host header name what the client was given: shop."""
    expect(verbose.returncode == 0, "curl succeeds", verbose.returncode)
    expect("> Host: shop" in sent, "> Host: shop", sent)
    expect("> GET /hostname HTTP/1.1" in sent, "> GET /hostname HTTP/1.1", sent)
    passed("the request says Host: shop, not www.example.com")


def check_moved(moved: DigResult) -> None:
    """Right after the change, shop is a CNAME to db.example.net (TTL 30) and resolves to the
    same outside address."""
    expect(moved.status == "NOERROR", "NOERROR", moved.status)
    want = [(f"{SHOP}.", "CNAME", "db.example.net."), ("db.example.net.", "A", OUTSIDE)]
    expect(chain(moved) == want, f"the chain {want}", chain(moved))
    expect(moved.answers[0][1] == 30, "TTL 30", moved.answers[0][1])
    passed(f"shop -> db.example.net. -> {OUTSIDE}, with no client changed")


def check_ip_is_not_a_name(lab: Lab, as_ip: DigResult, failed, packets: PacketTable) -> None:
    """externalName 203.0.113.10 was accepted, but shop's name does not exist (NXDOMAIN with the
    zone's SOA); the resolver walked the whole search list, every answer NXDOMAIN, and curl
    could not resolve shop (exit 6)."""
    external = lab.get("services", "shop")["spec"]["externalName"]
    expect(external == OUTSIDE, f"externalName {OUTSIDE} accepted", external)
    expect(as_ip.status == "NXDOMAIN", "NXDOMAIN", as_ip.status)
    expect(as_ip.answers == [], "no answer", as_ip.answers)
    soa = as_ip.authority[0][:3] if as_ip.authority else None
    expect(soa == ("cluster.local.", 30, "SOA"), "cluster.local's SOA, TTL 30", as_ip.authority)
    expect(failed.returncode == 6, "curl exit 6: could not resolve", failed.returncode)
    expect("Could not resolve host: shop" in failed.stderr, "Could not resolve host: shop",
           failed.stderr)  # fmt: skip
    walked = [name for qtype, name in packets.dns_queries() if qtype == "A"]
    want = [f"{SHOP}.", "shop.svc.cluster.local.", "shop.cluster.local.", "shop."]
    expect(walked == want, f"A queries down the search list {want}", walked)
    answers = [r.summary for r in packets.filter(sport=53)]
    expect(all(s.startswith("NXDOMAIN") for s in answers), "every answer NXDOMAIN", answers)
    passed(f"externalName {OUTSIDE}: accepted by the API, NXDOMAIN in DNS, curl exit 6")
