"""Lab 04's checks: the pod's resolv.conf, kube-dns and its coredns pods, the Service's A
record and the upstream chain, short names through the search list (dig and libc), the
questions ndots:5 costs (and a trailing dot saves), what leaves the cluster, and a Service
found by DNS the moment it exists while the environment never learns it."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.node.dnsconfig import parse_resolv_conf
from lab_kit.render.dns.corefile import parse as parse_corefile

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

KUBE_DNS, UPSTREAM = "10.96.0.10", "203.0.113.10"
FQDN = "random-generator.default.svc.cluster.local."
# getent hosts example.com with ndots:5: the three search domains first, then the name itself
TRIED = ["example.com.default.svc.cluster.local.", "example.com.svc.cluster.local.",
         "example.com.cluster.local.", "example.com."]  # fmt: skip


def check_resolv_conf(text: str):
    """The kubelet's resolv.conf for a ClusterFirst pod: its namespace's search domains
    first, kube-dns, ndots:5. Returns it parsed."""
    lines = text.splitlines()
    expect(lines == ["search default.svc.cluster.local svc.cluster.local cluster.local",
                     f"nameserver {KUBE_DNS}", "options ndots:5"],
           "search list, kube-dns, ndots:5", lines)  # fmt: skip
    dns = parse_resolv_conf(text)
    expect(
        dns.searches[0] == "default.svc.cluster.local", "the pod's namespace first", dns.searches
    )
    passed(f"search: {dns.searches} | nameserver: {dns.servers} | options: {dns.options}")
    return dns


def check_kube_dns(lab: Lab, coredns: list[dict], toolbox_dns) -> list[str]:
    """kube-dns is 10.96.0.10 (the pod's nameserver), selects k8s-app=kube-dns, serves dns/53
    UDP, dns-tcp/53 and metrics/9153, and its endpoints are the two coredns pods. Returns
    their names."""
    spec = lab.get("services", "kube-dns", namespace="kube-system")["spec"]
    expect(spec["clusterIP"] == KUBE_DNS == toolbox_dns.servers[0], f"kube-dns at {KUBE_DNS}",
           spec["clusterIP"])  # fmt: skip
    expect(
        spec["selector"] == {"k8s-app": "kube-dns"}, "selector k8s-app=kube-dns", spec["selector"]
    )
    ports = [(p["name"], p["port"], p["protocol"]) for p in spec["ports"]]
    expect(ports == [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")],
           "ports dns 53/UDP, dns-tcp 53/TCP, metrics 9153", ports)  # fmt: skip
    names = sorted(p["metadata"]["name"] for p in coredns)
    ips = sorted(p["status"]["podIP"] for p in coredns)
    slices = lab.get("endpointslices", namespace="kube-system",
                     selector="kubernetes.io/service-name=kube-dns")  # fmt: skip
    endpoints = sorted(e["addresses"][0] for s in slices for e in s["endpoints"])
    expect(endpoints == ips == ["10.244.1.2", "10.244.2.2"], "the two coredns pods", endpoints)
    passed(f"kube-dns {KUBE_DNS} -> {len(names)} coredns pods at {ips}")
    return names


def check_full_name(full, cluster_ip: str) -> None:
    """The full name: an authoritative NOERROR with the ClusterIP, TTL 30, from kube-dns."""
    expect(full.status == "NOERROR" and "aa" in full.flags, "an authoritative NOERROR",
           (full.status, full.flags))  # fmt: skip
    expect(
        full.answers == [(FQDN, 30, "A", cluster_ip)],
        f"{FQDN} A {cluster_ip}, TTL 30",
        full.answers,
    )
    expect(full.server.startswith(f"{KUBE_DNS}#53"), "answered by kube-dns", full.server)
    passed(f"{FQDN.rstrip('.')} -> {cluster_ip} (TTL 30 s, flags {' '.join(full.flags)})")


def check_upstream(lab: Lab, corefile: str, upstream_conf, full) -> None:
    """The Corefile serves cluster.local with TTL 30 (the TTL seen) and forwards the rest to
    /etc/resolv.conf, which coredns (dnsPolicy Default) has from its node: 203.0.113.10."""
    config = parse_corefile(corefile)
    expect(config.domain == "cluster.local" and config.ttl == 30 == full.answers[0][1],
           "zone cluster.local, ttl 30", (config.domain, config.ttl))  # fmt: skip
    expect(
        config.forward_to == ["/etc/resolv.conf"], "forward . /etc/resolv.conf", config.forward_to
    )
    deployment = lab.get("deployments", "coredns", namespace="kube-system")
    policy = deployment["spec"]["template"]["spec"].get("dnsPolicy")
    expect(policy == "Default", "coredns with dnsPolicy Default", policy)
    servers = parse_resolv_conf(upstream_conf.stdout).servers
    expect(servers == [UPSTREAM], f"coredns' nameserver {UPSTREAM}", servers)
    passed(
        f"zone cluster.local, ttl {config.ttl} | everything else -> /etc/resolv.conf of coredns -> {UPSTREAM}"
    )


def check_short_names(short: dict, cluster_ip: str) -> None:
    """Through the search list the short and namespace-qualified names resolve; a bare name
    from another namespace does not."""
    for name in ("random-generator", "random-generator.default"):
        expect(short[name].answers == [(FQDN, 30, "A", cluster_ip)], f"{name} -> {cluster_ip}",
               short[name].answers)  # fmt: skip
    other = short["kube-dns.kube-system"].answers
    expect(other == [("kube-dns.kube-system.svc.cluster.local.", 30, "A", KUBE_DNS)],
           f"kube-dns.kube-system -> {KUBE_DNS}", other)  # fmt: skip
    bare = short["kube-dns"]
    expect(bare.status == "NXDOMAIN" and bare.answers == [], "kube-dns alone: NXDOMAIN",
           (bare.status, bare.answers))  # fmt: skip
    passed(
        "short and namespace-qualified names resolve; a bare name from another namespace does not"
    )


def check_getent(by_libc, bare, cluster_ip: str) -> None:
    """libc resolves the short name to the ClusterIP and the full name; a bare name from
    another namespace is not found (getent exit 2)."""
    words = by_libc.stdout.split()
    expect(by_libc.returncode == 0 and words == [cluster_ip, FQDN.rstrip(".")],
           f"{cluster_ip} {FQDN.rstrip('.')}", by_libc.stdout)  # fmt: skip
    expect(bare.returncode == 2 and bare.stdout == "", "getent exit 2: not found", bare.returncode)
    passed(
        f"getent hosts random-generator -> {cluster_ip}; getent hosts kube-dns -> not found (exit 2)"
    )


def check_search_walk(packets, outside) -> list[tuple[str, str]]:
    """getent hosts example.com asked AAAA then A for each of the four names, got 8 replies
    from kube-dns (6 NXDOMAIN), and the answer. Returns the questions."""
    asked = packets.dns_queries()
    expect(asked == [("AAAA", n) for n in TRIED] + [("A", n) for n in TRIED],
           "AAAA then A for the 3 search domains and the name", asked)  # fmt: skip
    replies = packets.filter(src=KUBE_DNS)
    expect(len(replies) == 8, "8 replies", len(replies))
    nx = sum(r.summary.startswith("NXDOMAIN") for r in replies)
    expect(nx == 6, "6 NXDOMAIN (3 search domains x AAAA, A)", nx)
    expect(
        outside.stdout.split() == [UPSTREAM, "example.com"],
        f"example.com -> {UPSTREAM}",
        outside.stdout,
    )
    passed(f"getent hosts example.com: {len(asked)} questions, 6 NXDOMAIN, 1 empty AAAA, 1 answer")
    return asked


def check_forwarded(forwarded: list[tuple[str, str]]) -> None:
    """Only example.com. itself (A and AAAA) went upstream."""
    expect(forwarded == [("A", "example.com."), ("AAAA", "example.com.")],
           "A and AAAA for example.com. only", forwarded)  # fmt: skip
    passed(f"forwarded upstream: {forwarded} - the 6 cluster.local guesses never left the cluster")


def check_getaddrinfo(packets) -> None:
    """getaddrinfo asks A and AAAA per name, name by name, one socket per name."""
    asked = packets.dns_queries()
    expect(
        asked == [(t, n) for n in TRIED for t in ("A", "AAAA")], "A and AAAA paired per name", asked
    )
    sockets = len({r.sport for r in packets.filter(dport=53)})
    expect(sockets == 4, "one socket per name", sockets)
    passed("getaddrinfo: 8 questions, A and AAAA paired per name")


def check_trailing_dot(asked: list, asked_dotted: list, absolute) -> None:
    """example.com. is asked as is (AAAA, A: 2 questions, not 8) and answered."""
    expect(asked_dotted == [("AAAA", "example.com."), ("A", "example.com.")],
           "AAAA and A for example.com. only", asked_dotted)  # fmt: skip
    expect(
        absolute.stdout.split()[:1] == [UPSTREAM], f"example.com. -> {UPSTREAM}", absolute.stdout
    )
    cost = {"example.com": asked, "example.com.": asked_dotted}
    for name, questions in cost.items():
        print(
            f"getent hosts {name:13} {len(questions)} questions  {dict(Counter(n for _, n in questions))}"
        )
    counts = {name: len(q) for name, q in cost.items()}
    expect(counts == {"example.com": 8, "example.com.": 2}, "8 questions, then 2", counts)
    passed(f"the trailing dot saves {len(asked) - len(asked_dotted)} of {len(asked)} questions")


def check_late_service(late, late_ip: str, env_text: str, cluster_ip: str) -> None:
    """DNS answers the Service created after the pod at once; the pod's environment has the
    earlier Service and never the later one."""
    expect(late.status == "NOERROR", "NOERROR", late.status)
    name = "random-generator-late.default.svc.cluster.local."
    expect(late.answers == [(name, 30, "A", late_ip)], f"{name} A {late_ip}", late.answers)
    env = dict(line.split("=", 1) for line in env_text.splitlines() if "=" in line)
    expect(env.get("RANDOM_GENERATOR_SERVICE_HOST") == cluster_ip, "the earlier Service in the environment",
           env.get("RANDOM_GENERATOR_SERVICE_HOST"))  # fmt: skip
    expect("RANDOM_GENERATOR_LATE_SERVICE_HOST" not in env, "the later one never")
    passed(f"DNS: random-generator-late -> {late_ip}; environment: no RANDOM_GENERATOR_LATE_*")


def check_called_by_name(called, packets, late_ip: str) -> None:
    """curl by the short name: the A and AAAA questions for the full name, a SYN to the
    ClusterIP:80, and a random-generator answer."""
    fqdn = "random-generator-late.default.svc.cluster.local."
    answered = called.returncode == 0 and "id" in json.loads(called.stdout or "{}")
    expect(answered, "an answer with an id", called.stdout or called.stderr)
    questions = packets.dns_queries()
    expect(questions == [("A", fqdn), ("AAAA", fqdn)], f"A and AAAA for {fqdn}", questions)
    syn = packets.syns()[0]
    expect((syn.dst, syn.dport) == (late_ip, 80), f"a SYN to {late_ip}:80", (syn.dst, syn.dport))
    passed(f"curl http://random-generator-late/ -> {fqdn} -> {late_ip}:80 -> JSON with an 'id'")
