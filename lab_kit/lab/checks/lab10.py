"""Lab 10's checks: a headless Service with no virtual IP, whose name resolves to the ready
pods (shuffled), no kube-proxy rules and a direct connection, SRV and PTR records, pods named
with hostname and subdomain, and only ready pods published."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed

if TYPE_CHECKING:
    from lab_kit.lab.dns_view import DigResult
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.packets import PacketTable
    from lab_kit.lab.proxy_view import RulesText

SERVICE_NAME = "random-generator.default.svc.cluster.local"
PETS = "pets.default.svc.cluster.local"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def dashed(ip: str) -> str:
    """The name the cluster DNS makes up for an endpoint without a hostname: 10-244-1-4."""
    return ip.replace(".", "-")


def check_headless_spec(headless: dict, cluster_ip: str, pod_ips: list[str]) -> None:
    """The headless Service is a ClusterIP Service with clusterIP None (nothing allocated) and a
    named port http; the other Service has a virtual IP; 4 pods behind both."""
    kind = (headless["type"], headless["clusterIP"])
    expect(kind == ("ClusterIP", "None"), "type ClusterIP with clusterIP None", kind)
    expect(headless["clusterIPs"] == ["None"], "clusterIPs [None]: nothing allocated",
           headless["clusterIPs"])  # fmt: skip
    ports = headless["ports"]
    expect(ports == [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}],
           "one port named http, 8080 -> 8080", ports)  # fmt: skip
    expect(cluster_ip.startswith("10."), "random-generator has a ClusterIP", cluster_ip)
    expect(len(pod_ips) == 4, "4 pods", pod_ips)
    passed(f"random-generator-headless: CLUSTER-IP None | random-generator: {cluster_ip} | "
           f"pods {pod_ips}")  # fmt: skip


def check_a_records_are_the_pods(answer: DigResult, pod_ips: list[str], fqdn: str) -> None:
    """An authoritative answer with one A record per pod, the pod's own address, TTL 30."""
    expect(answer.status == "NOERROR", "NOERROR", answer.status)
    expect("aa" in answer.flags, "authoritative (aa): the cluster zone", answer.flags)
    expect(sorted(answer.addresses) == pod_ips, f"exactly the pods' addresses {pod_ips}",
           answer.addresses)  # fmt: skip
    kinds = {(name, ttl, rtype) for name, ttl, rtype, _ in answer.answers}
    expect(kinds == {(fqdn + ".", 30, "A")}, f"only A records for {fqdn}., TTL 30", kinds)
    passed(f"{len(answer.addresses)} A records = the 4 pod IPs, TTL 30 (kubeadm's `ttl 30`)")


def check_shuffled(corefile: str, orders: list[list[str]], pod_ips: list[str]) -> None:
    """The Corefile has the loadbalance plugin; every answer holds the same four addresses,
    in changing orders, with more than one pod first."""
    expect("loadbalance" in corefile.split(), "the loadbalance plugin in the Corefile")
    odd = [o for o in orders if sorted(o) != pod_ips]
    expect(not odd, f"always the four addresses {pod_ips}", odd[:1])
    distinct = len({tuple(o) for o in orders})
    expect(distinct > 1, "more than one order", distinct)
    leaders = len({o[0] for o in orders})
    expect(leaders > 1, "more than one pod first", leaders)
    passed(f"{distinct} different orders in {len(orders)} answers; {leaders} different pods "
           "came first")  # fmt: skip


def check_one_virtual_ip(answer: DigResult, cluster_ip: str, pod_ips: list[str]) -> None:
    """The ClusterIP Service's name has one A record: its virtual IP, no pod's address."""
    expect(answer.status == "NOERROR", "NOERROR", answer.status)
    want = [(f"{SERVICE_NAME}.", 30, "A", cluster_ip)]
    expect(answer.answers == want, f"one A record {cluster_ip}, TTL 30", answer.answers)
    expect(cluster_ip not in pod_ips, "the virtual IP is no pod's address", cluster_ip)
    passed(f"random-generator -> {cluster_ip} (one address, no pod's)")


def check_no_rules(lab: Lab, headless_rules: RulesText, clusterip_rules: RulesText,
                   slice_labels: dict[str, dict]) -> None:  # fmt: skip
    """node1 has no rule for the headless Service, and the usual 14 for the ClusterIP one
    (KUBE-SERVICES, masquerade mark, 4 branches, 4 SEP chains of 2); the headless Service's
    EndpointSlice carries the headless label, the other's does not."""
    expect(headless_rules.rules() == [], "no nat rule mentions random-generator-headless",
           headless_rules.rules())  # fmt: skip
    service_rules = lab.service_rules("random-generator-headless").rules()
    expect(service_rules == [], "no kube-proxy rule for random-generator-headless", service_rules)
    count = len(clusterip_rules.rules())
    expect(count == 1 + 1 + 4 + 2 * 4, "14 rules for random-generator", count)
    expect(HEADLESS_LABEL in slice_labels["random-generator-headless"],
           f"the headless Service's slice labelled {HEADLESS_LABEL}",
           slice_labels["random-generator-headless"])  # fmt: skip
    expect(HEADLESS_LABEL not in slice_labels["random-generator"],
           f"random-generator's slice without {HEADLESS_LABEL}",
           slice_labels["random-generator"])  # fmt: skip
    passed("no iptables rule for the headless Service; its EndpointSlice carries the headless "
           "label")  # fmt: skip


def check_straight_to_a_pod(reply, packets: PacketTable, pod_ips: list[str]) -> None:
    """One connection, answered; its SYN went to a pod's address on 8080, and every packet
    back came from that same address: nothing rewrote it."""
    syns = packets.syns()
    expect(len(syns) == 1, "one SYN", len(syns))
    (syn,) = syns
    expect(reply.returncode == 0 and '"random"' in reply.stdout, "a random-generator answer",
           (reply.returncode, reply.stdout))  # fmt: skip
    expect(syn.dst in pod_ips and syn.dport == 8080, "the SYN to a pod's address, port 8080",
           f"{syn.dst}:{syn.dport}")  # fmt: skip
    repliers = {p.src for p in packets if p.sport == 8080}
    expect(repliers == {syn.dst}, f"answered by {syn.dst} itself", repliers)
    passed(f"SYN straight to {syn.dst}:8080")


def check_srv_per_pod(srv: DigResult, pod_ips: list[str], fqdn: str) -> None:
    """One SRV record per pod on the named port: priority 0, weight 25, port 8080, the dashed
    name as target; the targets' A records in the ADDITIONAL section."""
    expect(srv.status == "NOERROR", "NOERROR", srv.status)
    want = sorted(f"0 25 8080 {dashed(ip)}.{fqdn}." for ip in pod_ips)
    expect(sorted(srv.records("SRV")) == want, f"the SRV records {want}", srv.records("SRV"))
    parts = str(srv).split(";; ADDITIONAL SECTION:\n")
    expect(len(parts) > 1, "an ADDITIONAL section")
    additional = parts[1].split("\n\n")[0].splitlines()
    want_a = sorted([f"{dashed(ip)}.{fqdn}.", "30", "IN", "A", ip] for ip in pod_ips)
    seen = sorted(line.split() for line in additional)
    expect(seen == want_a, "the targets' A records, TTL 30", seen)
    passed(f"4 SRV records, port 8080, targets {sorted(dashed(ip) for ip in pod_ips)} + their "
           "A records")  # fmt: skip


def check_unnamed_port_no_srv(lab: Lab, unnamed: DigResult) -> None:
    """No SRV record for the ClusterIP Service: its one port has no name."""
    expect(unnamed.status == "NXDOMAIN", "NXDOMAIN", unnamed.status)
    expect(unnamed.answers == [], "no answer", unnamed.answers)
    name = lab.get("services", "random-generator")["spec"]["ports"][0].get("name")
    expect(name is None, "random-generator's port unnamed", name)
    passed("_http._tcp.random-generator: NXDOMAIN (the port has no name)")


def check_clusterip_srv(named: DigResult, cluster_ip: str) -> None:
    """With the port named, one SRV record: the Service's own name and port 80, its virtual IP
    in the ADDITIONAL section."""
    expect(named.status == "NOERROR", "NOERROR", named.status)
    records = named.records("SRV")
    expect(records == [f"0 100 80 {SERVICE_NAME}."], f"one SRV record, {SERVICE_NAME}. port 80",
           records)  # fmt: skip
    expect(f"{SERVICE_NAME}. 30 IN A {cluster_ip}" in " ".join(str(named).split()),
           f"the A record {cluster_ip} for the target")  # fmt: skip
    passed(f"ClusterIP SRV: one record, target {SERVICE_NAME}., port 80")


def check_ptr(lab: Lab, pod_ptr: DigResult, vip_ptr: DigResult, pod_ip: str, fqdn: str) -> None:
    """A pod's address points back to its endpoint name under both Services that select it;
    the ClusterIP to the Service's name; the endpoint name resolves forward to the pod."""
    first = dashed(pod_ip)
    expect(pod_ptr.status == "NOERROR", "NOERROR", pod_ptr.status)
    want = [
        f"{first}.{SERVICE_NAME}.",
        f"{first}.random-generator-headless.default.svc.cluster.local.",
    ]
    expect(pod_ptr.records("PTR") == want, f"the PTR records {want}", pod_ptr.records("PTR"))
    reverse = ".".join(reversed(pod_ip.split("."))) + ".in-addr.arpa."
    asked = pod_ptr.answers[0][0] if pod_ptr.answers else None
    expect(asked == reverse, f"the name {reverse}", asked)
    vip = vip_ptr.records("PTR")
    expect(vip == [f"{SERVICE_NAME}."], f"the ClusterIP back to {SERVICE_NAME}.", vip)
    forward = lab.dig("toolbox", f"{first}.{fqdn}").addresses
    expect(forward == [pod_ip], f"{first}.{fqdn} forward to {pod_ip}", forward)
    passed(f"{pod_ip} -> {pod_ptr.records('PTR')}")


def check_pet_names(lab: Lab, pet0: DigResult, pets_srv: DigResult, pets: dict[str, str]) -> None:
    """The pets' endpoints carry their hostnames; pet-0.pets resolves to that pod only; the SRV
    targets and a PTR are the hostnames, not dashed addresses."""
    slices = lab.get("endpointslices", selector="kubernetes.io/service-name=pets")
    expect(len(slices) == 1, "one EndpointSlice for pets", len(slices))
    named = {e.get("hostname"): e["addresses"][0] for e in slices[0]["endpoints"]}
    expect(named == pets, f"endpoints named by hostname {pets}", named)
    expect(pet0.status == "NOERROR", "pet-0.pets: NOERROR", pet0.status)
    expect(pet0.addresses == [pets["pet-0"]], f"pet-0.pets -> {pets['pet-0']} only", pet0.addresses)
    want = [f"0 50 8080 {pet}.{PETS}." for pet in ("pet-0", "pet-1")]
    srv = sorted(pets_srv.records("SRV"))
    expect(srv == want, "SRV targets pet-0.pets and pet-1.pets", srv)
    ptr = lab.dig("toolbox", pets["pet-1"], "-x", qtype="PTR").records("PTR")
    expect(ptr == [f"pet-1.{PETS}."], f"{pets['pet-1']} back to pet-1.{PETS}.", ptr)
    passed(f"pet-0.pets -> {pets['pet-0']} | SRV targets are the hostnames now, not dashed IPs")


def check_knows_itself(short, full, hosts, pet0_ip: str) -> None:
    """Inside pet-0: hostname pet-0, hostname -f the full name, and the kubelet's /etc/hosts
    line mapping its address to both."""
    expect(short.stdout.strip() == "pet-0", "hostname: pet-0", short.stdout.strip())
    expect(full.stdout.strip() == f"pet-0.{PETS}", f"hostname -f: pet-0.{PETS}",
           full.stdout.strip())  # fmt: skip
    line = f"{pet0_ip}\tpet-0.{PETS}\tpet-0"
    expect(line in hosts.stdout.splitlines(), f"the /etc/hosts line {line!r}", hosts.stdout)
    passed(f"pet-0 knows itself as pet-0.{PETS}")


def check_same_pod_every_time(answers: list[str], pet: str, requests: int) -> None:
    """Every one of the requests to the pod's own name reached that pod."""
    expect(answers == [pet] * requests, f"{pet}, {requests} times", answers)
    passed(f"{requests} requests to {pet}.pets:8080 -> {pet}, {requests} times")


def check_unready_not_published(lab: Lab, pet2: DigResult, all_pets: DigResult, direct,
                                pets: dict[str, str]) -> None:  # fmt: skip
    """pet-2 runs but is not ready: its endpoint is listed with ready false, its name does not
    exist, the Service's name holds pet-0 and pet-1 only; its server answers when called
    directly."""
    pod = lab.get("pods", "pet-2")
    slices = lab.get("endpointslices", selector="kubernetes.io/service-name=pets")
    endpoints = [e for e in slices[0]["endpoints"] if e.get("hostname") == "pet-2"]
    state = (pod["status"]["phase"], pod["status"]["containerStatuses"][0]["ready"])
    expect(state == ("Running", False), "pet-2 Running, not ready", state)
    expect(len(endpoints) == 1, "one endpoint named pet-2", endpoints)
    (endpoint,) = endpoints
    expect(endpoint["conditions"]["ready"] is False, "its endpoint ready: false",
           endpoint["conditions"])  # fmt: skip
    expect(endpoint["addresses"] == [pets["pet-2"]], f"at {pets['pet-2']}", endpoint["addresses"])
    expect(pet2.status == "NXDOMAIN", "pet-2.pets: NXDOMAIN", pet2.status)
    want = sorted([pets["pet-0"], pets["pet-1"]])
    expect(sorted(all_pets.addresses) == want, f"pets -> pet-0 and pet-1 only {want}",
           all_pets.addresses)  # fmt: skip
    expect(direct.stdout == "pet-2", "pet-2's server answers directly", direct.stdout)
    passed("pet-2: Running, endpoint ready=false, name NXDOMAIN; pets -> pet-0 and pet-1 only")


def check_gone_from_dns(lab: Lab, gone: DigResult, left: DigResult, empty: DigResult,
                        pets: dict[str, str]) -> None:  # fmt: skip
    """A deleted pod's name is gone at once; with no ready endpoint left the Service's own name
    is NXDOMAIN (with the zone's SOA), though not-ready pet-2 still exists."""
    expect(gone.status == "NXDOMAIN", "pet-1.pets: NXDOMAIN", gone.status)
    expect(left.addresses == [pets["pet-0"]], f"pets -> pet-0 only ({pets['pet-0']})",
           left.addresses)  # fmt: skip
    expect(empty.status == "NXDOMAIN", "pets: NXDOMAIN", empty.status)
    expect(empty.answers == [], "no answer", empty.answers)
    soa = empty.authority[0][2] if empty.authority else None
    expect(soa == "SOA", "the zone's SOA in the negative answer", empty.authority)
    names = [p["metadata"]["name"] for p in lab.get("pods", selector="app=pets")]
    expect(names == ["pet-2"], "only pet-2 left", names)
    passed("pet-1.pets NXDOMAIN; pets with no ready endpoint: NXDOMAIN")
