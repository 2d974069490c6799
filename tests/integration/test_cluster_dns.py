"""Cluster DNS end to end (root): pods resolve through kube-dns (10.96.0.10) with the
ordinary tools, as the Kubernetes conformance DNS tests do (dig over UDP and TCP, getent):
short, namespace-qualified and full names through the search list, headless Services and
per-pod hostnames, SRV, PTR, ExternalName to the lab's made-up internet, NXDOMAIN vs
NODATA, a Service found the moment it exists, a Corefile edit, and junk that never
stops the server; issue 12's cases (the dns-version TTL, SRV target spelling, AXFR
refused, no names below an ExternalName, reloads to `pods verified`, without
`fallthrough`, and one CoreDNS refuses). One lab serves the module; each test has its own
namespace."""

from __future__ import annotations

import random
import time

import pytest

pytestmark = pytest.mark.root
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def toolbox(lab, ns):
    lab.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "toolbox", "namespace": ns},
               "spec": {"containers": [{"name": "t", "image": "busybox", "command": ["sleep", "infinity"]}]}},
              wait=True)  # fmt: skip


def dig(lab, ns, *args):
    out = lab.exec("toolbox", "dig", "+time=2", "+tries=1", *args, namespace=ns)
    return out.stdout


def short(lab, ns, *args) -> list[str]:
    return dig(lab, ns, "+short", *args).split()


def web(name, ns, labels, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {**spec, "containers": [{"name": "web", "image": AGNHOST, "args": ["netexec", "--http-port=8080"],
                                             "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}  # fmt: skip


def svc(name, ns, cluster_ip=None, selector=None, ports=None, **spec):
    body = {
        "selector": selector or {"app": name},
        "ports": ports or [{"name": "http", "port": 80, "targetPort": 8080}],
        **spec,
    }
    if cluster_ip:
        body["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": body}  # fmt: skip


def test_the_addon_is_deployed_the_kubeadm_way(cluster):
    service = cluster.get("service", "kube-dns", namespace="kube-system")
    assert service["spec"]["clusterIP"] == "10.96.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in service["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]  # fmt: skip
    pods = cluster.get("pods", namespace="kube-system", selector="k8s-app=kube-dns")
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
    # Both servers report what they have applied: `apply --wait` waits for DNS too.
    agents = [a for a in cluster.client.agents()["items"] if a["name"].startswith("coredns/")]
    assert sorted(a["pod"] for a in agents) == sorted(
        f"kube-system/{p['metadata']['name']}" for p in pods
    )


def test_names_through_the_search_list_over_udp_and_tcp(cluster, ns):
    toolbox(cluster, ns)
    cluster.apply(svc("web", ns))
    ip = cluster.get("service", "web", namespace=ns)["spec"]["clusterIP"]
    fqdn = f"web.{ns}.svc.cluster.local"
    assert short(cluster, ns, "+search", "web") == [ip]
    assert short(cluster, ns, "+search", f"web.{ns}") == [ip]
    assert short(cluster, ns, "+tcp", fqdn) == [ip]
    assert short(cluster, ns, "+search", "kubernetes.default") == ["10.96.0.1"]
    assert cluster.exec("toolbox", "getent", "hosts", "web", namespace=ns).stdout.split() == [
        ip,
        fqdn,
    ]
    assert short(cluster, ns, "dns-version.cluster.local", "TXT") == ['"1.1.0"']
    assert short(cluster, ns, f"_http._tcp.{fqdn}", "SRV") == ["0", "100", "80", f"{fqdn}."]
    assert short(cluster, ns, "-x", ip) == [f"{fqdn}."]
    full = cluster.dig("toolbox", fqdn, namespace=ns)
    assert full.flags == ["qr", "aa", "rd"] and full.answers == [
        (f"{fqdn}.", 30, "A", ip)
    ]  # kubeadm's ttl 30


def test_nxdomain_versus_nodata(cluster, ns):
    toolbox(cluster, ns)
    cluster.apply(svc("web", ns))
    missing = dig(cluster, ns, f"nope.{ns}.svc.cluster.local")
    nodata = dig(cluster, ns, f"web.{ns}.svc.cluster.local", "AAAA")
    assert "status: NXDOMAIN" in missing and "IN\tSOA\tns.dns.cluster.local." in missing
    assert "status: NOERROR" in nodata and "ANSWER: 0" in nodata and "IN\tSOA" in nodata


def test_a_new_service_is_found_at_once_while_its_env_vars_stay_missing(cluster, ns):
    toolbox(cluster, ns)
    cluster.apply(svc("late", ns), wait=True)  # waits for kube-proxies and DNS servers alike
    ip = cluster.get("service", "late", namespace=ns)["spec"]["clusterIP"]
    assert short(cluster, ns, f"late.{ns}.svc.cluster.local") == [ip]  # no wait, no retry
    env = cluster.exec("toolbox", "env", namespace=ns).stdout
    assert "LATE_SERVICE_HOST" not in env


def test_headless_service_pod_ips_srv_and_per_pod_names(cluster, ns):
    toolbox(cluster, ns)
    pods = [
        web(f"pet-{i}", ns, {"app": "pets"}, hostname=f"pet-{i}", subdomain="pets")
        for i in range(2)
    ]
    cluster.apply([svc("pets", ns, cluster_ip="None"), *pods], wait=True)
    ips = sorted(cluster.get("pod", f"pet-{i}", namespace=ns)["status"]["podIP"] for i in range(2))
    fqdn = f"pets.{ns}.svc.cluster.local"
    assert sorted(short(cluster, ns, fqdn)) == ips
    srv = short(cluster, ns, f"_http._tcp.{fqdn}", "SRV")
    targets = sorted(srv[3::4])
    assert targets == [f"pet-0.{fqdn}.", f"pet-1.{fqdn}."] and srv[2::4] == ["8080", "8080"]
    pet0 = cluster.get("pod", "pet-0", namespace=ns)["status"]["podIP"]
    assert short(cluster, ns, f"pet-0.{fqdn}") == [pet0]
    assert short(cluster, ns, "-x", pet0) == [f"pet-0.{fqdn}."]
    assert (
        cluster.exec("toolbox", "getent", "hosts", f"pet-0.pets.{ns}", namespace=ns).stdout.split()[
            0
        ]
        == pet0
    )
    dashed = pet0.replace(".", "-")
    assert short(cluster, ns, f"{dashed}.{ns}.pod.cluster.local") == [pet0]  # pods insecure


def test_externalname_is_a_cname_into_the_lab_internet(cluster, ns):
    toolbox(cluster, ns)
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "namespace": ns},
                   "spec": {"type": "ExternalName", "externalName": "www.example.com"}})  # fmt: skip
    assert short(cluster, ns, f"shop.{ns}.svc.cluster.local") == [
        "www.example.com.",
        "example.com.",
        "203.0.113.10",
    ]
    assert short(cluster, ns, "+search", "example.com") == ["203.0.113.10"]
    assert "status: NXDOMAIN" in dig(cluster, ns, "no-such-name.example")


def test_junk_never_stops_the_server_and_the_next_query_is_answered(cluster, ns):
    toolbox(cluster, ns)
    rng = random.Random(11)
    junk = "".join(f"\\x{rng.randrange(256):02x}" for _ in range(400))
    script = f"for i in $(seq 50); do printf '{junk}' | nc -u -w0 10.96.0.10 53 >/dev/null; done"
    cluster.exec("toolbox", "sh", "-c", script, namespace=ns)
    assert short(cluster, ns, "kubernetes.default.svc.cluster.local") == ["10.96.0.1"]


def test_an_edited_corefile_takes_effect_at_once(cluster, ns):
    toolbox(cluster, ns)
    cm = cluster.get("configmap", "coredns", namespace="kube-system")
    original = cm["data"]["Corefile"]
    try:
        cm["data"]["Corefile"] = original.replace("ttl 30", "ttl 7")
        cluster.apply(cm)
        ttls = []
        for _ in range(50):  # the reload follows a watch event: a few queries at most
            reply = cluster.dig("toolbox", "kubernetes.default.svc.cluster.local", namespace=ns)
            ttls.append(reply.answers[0][1])
            if ttls[-1] == 7:
                break
        assert ttls[-1] == 7, f"the new ttl never showed: {ttls}"
    finally:
        cm = cluster.get("configmap", "coredns", namespace="kube-system")
        cm["data"]["Corefile"] = original
        cluster.apply(cm)


def test_the_server_counts_queries_in_coredns_metrics(cluster, ns):
    toolbox(cluster, ns)
    short(cluster, ns, "kubernetes.default.svc.cluster.local")
    pod = cluster.get("pods", namespace="kube-system", selector="k8s-app=kube-dns")[0]
    node = pod["spec"]["nodeName"]
    text = cluster.host(node, "curl", "-s", f"http://{pod['status']['podIP']}:9153/metrics").stdout
    # `prometheus` labels each request with the server block's zone: `.` for `.:53`
    assert "coredns_dns_requests_total{" in text and 'zone="."' in text


def test_coredns_answers_for_the_fidelity_cases(cluster, ns):
    """Issue 12's DNS cases, against what CoreDNS 1.11.3 answers with kubeadm's Corefile:
    the dns-version TXT at `cache 30`'s TTL, SRV targets in the question's zone spelling
    (also after another spelling was cached), AXFR refused, no names below an ExternalName."""
    toolbox(cluster, ns)
    cluster.apply([svc("web", ns),
                   {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "namespace": ns},
                    "spec": {"type": "ExternalName", "externalName": "www.example.com"}}])  # fmt: skip
    version = cluster.dig("toolbox", "dns-version.cluster.local", qtype="TXT", namespace=ns)
    assert version.answers == [("dns-version.cluster.local.", 30, "TXT", '"1.1.0"')]
    for _ in range(4):  # both servers cache the lower-case spelling first
        short(cluster, ns, f"_http._tcp.web.{ns}.svc.cluster.local", "SRV")
    srv = cluster.dig(
        "toolbox", f"_HtTp._TcP.web.{ns}.SVC.Cluster.LOCAL", qtype="SRV", namespace=ns
    )
    assert srv.records("SRV") == [f"0 100 80 web.{ns}.svc.Cluster.LOCAL."]
    assert "Transfer failed" in dig(cluster, ns, "cluster.local", "AXFR")
    for name in (f"_http._tcp.shop.{ns}", f"a.b.shop.{ns}"):
        assert "status: NXDOMAIN" in dig(cluster, ns, f"{name}.svc.cluster.local")


def coredns_ips(cluster) -> list[str]:
    pods = cluster.get("pods", namespace="kube-system", selector="k8s-app=kube-dns")
    return [p["status"]["podIP"] for p in pods]


def on_every_server(cluster, ns, check, name, qtype="A", timeout_s=15.0):
    """Wait until `check(dig result)` holds on both coredns pods (each reloads on its own)."""
    deadline = time.monotonic() + timeout_s
    while True:
        replies = [cluster.dig("toolbox", name, f"@{ip}", qtype=qtype, namespace=ns)
                   for ip in coredns_ips(cluster)]  # fmt: skip
        if all(check(r) for r in replies) or time.monotonic() > deadline:
            return replies
        time.sleep(0.2)


def test_corefile_edits_are_reloaded_as_coredns_reloads_them(cluster, ns):
    """`pods verified` answers for running pods, removing `fallthrough` makes unknown
    reverse names NXDOMAIN here, and an edit CoreDNS refuses is logged in its words while
    the running Corefile serves on."""
    toolbox(cluster, ns)
    ip = cluster.get("pod", "toolbox", namespace=ns)["status"]["podIP"]
    mine, nobody = (
        f"{ip.replace('.', '-')}.{ns}.pod.cluster.local",
        f"10-244-99-99.{ns}.pod.cluster.local",
    )
    cm = cluster.get("configmap", "coredns", namespace="kube-system")
    original = cm["data"]["Corefile"]
    unknown_ptr = "99.99.96.10.in-addr.arpa"  # no Service or endpoint has 10.96.99.99
    edited = original.replace("pods insecure", "pods verified").replace(
        "       fallthrough in-addr.arpa ip6.arpa\n", "")  # fmt: skip
    try:
        cm["data"]["Corefile"] = edited
        cluster.apply(cm)
        missing = on_every_server(cluster, ns, lambda r: r.status == "NXDOMAIN", nobody)
        assert all(r.status == "NXDOMAIN" for r in missing), missing
        assert all(r.addresses == [ip] for r in on_every_server(cluster, ns, bool, mine))
        here = on_every_server(cluster, ns, lambda r: "aa" in r.flags, unknown_ptr, "PTR")
        assert all((r.status, "aa" in r.flags) == ("NXDOMAIN", True) for r in here), here
        cm = cluster.get("configmap", "coredns", namespace="kube-system")
        cm["data"]["Corefile"] = edited.replace("pods verified", "pods verified\n       podz")
        cluster.apply(cm)
        line = "[ERROR] Restart failed: plugin/kubernetes: /etc/coredns/Corefile:9 - Error during parsing: unknown property 'podz'"  # fmt: skip
        pods = cluster.get("pods", namespace="kube-system", selector="k8s-app=kube-dns")
        deadline = time.monotonic() + 15
        while not all(line in cluster.logs(p["metadata"]["name"], "kube-system") for p in pods):
            assert time.monotonic() < deadline, "the refusal was never logged"
            time.sleep(0.2)
        assert all(r.status == "NXDOMAIN" for r in on_every_server(cluster, ns, bool, nobody))
    finally:
        cm = cluster.get("configmap", "coredns", namespace="kube-system")
        cm["data"]["Corefile"] = original
        cluster.apply(cm)
        on_every_server(cluster, ns, lambda r: r.addresses == ["10.244.99.99"], nobody)
