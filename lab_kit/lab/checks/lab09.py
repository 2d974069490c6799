"""Lab 09's checks: a Service without a selector (a ClusterIP, no endpoints, refused at once),
Endpoints written by hand and mirrored into an EndpointSlice, kube-proxy's DNAT to an outside
server and ip-masq-agent's SNAT (on the wire and in conntrack), the addresses the API server
refuses, a ClusterIP as an endpoint (accepted, never works), a hand-made EndpointSlice, and
an outside endpoint nobody health-checks."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.packets import PacketTable
    from lab_kit.lab.proxy_view import ConntrackEntry, RulesText

SERVICE_RANGE = ipaddress.ip_network("10.96.0.0/12")
OUTSIDE = "203.0.113.10"
NODE1 = "172.18.0.2"
DNAT_OUTSIDE = f"-j DNAT --to-destination {OUTSIDE}:8080"
NO_ENDPOINTS = '"default/outside has no endpoints"'
MIRRORING = "endpointslicemirroring-controller.k8s.io"
SPECIAL_ERRORS = [
    'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": '
    "may not be in the loopback range (127.0.0.0/8, ::1/128)",
    'subsets[0].addresses[1].ip: Invalid value: "169.254.169.254": '
    "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
    'subsets[0].addresses[2].ip: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)',
]


def endpoints_names(lab: Lab) -> list[str]:
    return [e["metadata"]["name"] for e in lab.get("endpoints")]


def check_direct_answer(lab: Lab, direct) -> str:
    """The toolbox pod reached the outside server at its own address, and it answered
    /hostname with the host's name. Returns that name."""
    internet_hostname = lab.host("internet", "hostname").stdout.strip()
    expect(direct.returncode == 0, "curl succeeds", direct.returncode)
    expect(direct.stdout.strip() == internet_hostname, f"the answer {internet_hostname!r}",
           direct.stdout.strip())  # fmt: skip
    passed(f"the outside server answers directly, as host {internet_hostname!r}")
    return internet_hostname


def check_no_endpoints(lab: Lab) -> str:
    """Service `outside` has no selector and a ClusterIP from the service range, and no
    controller made Endpoints or an EndpointSlice for it. Returns the ClusterIP."""
    spec = lab.get("services", "outside")["spec"]
    cluster_ip = spec["clusterIP"]
    expect("selector" not in spec, "no selector", spec.get("selector"))
    expect(ipaddress.ip_address(cluster_ip) in SERVICE_RANGE, f"a ClusterIP in {SERVICE_RANGE}",
           cluster_ip)  # fmt: skip
    names = endpoints_names(lab)
    expect(names == ["kubernetes"], "no Endpoints but the API server's own", names)
    slices = list(lab.get("endpointslices", selector="kubernetes.io/service-name=outside"))
    expect(slices == [], "no EndpointSlice for outside", slices)
    passed(f"Service outside has ClusterIP {cluster_ip} and no Endpoints, no EndpointSlice")
    return cluster_ip


def check_refused_without_endpoints(lab: Lab, refused, elapsed: float) -> None:
    """kube-proxy wrote a filter REJECT for the Service and no DNAT: curl could not connect
    (exit 7) within 2 s instead of timing out."""
    expect(NO_ENDPOINTS in lab.iptables("node1", "filter"),
           f"a filter rule commented {NO_ENDPOINTS} on node1")  # fmt: skip
    expect("DNAT" not in lab.service_rules("outside", node="node1"), "no DNAT for outside")
    expect(refused.returncode == 7, "curl exit 7: could not connect", refused.returncode)
    expect(elapsed < 2, "refused within 2 s, no timeout", round(elapsed, 2))
    passed(f"refused after {elapsed * 1000:.0f} ms by kube-proxy's REJECT rule")


def check_mirrored_slice(slices: list[dict]) -> None:
    """One EndpointSlice for outside, made and owned by the mirroring controller from the
    Endpoints object, with its address and port as written."""
    expect(len(slices) == 1, "one EndpointSlice for outside", len(slices))
    (mirrored,) = slices
    labels = mirrored["metadata"]["labels"]
    expect(labels == {"kubernetes.io/service-name": "outside",
                      "endpointslice.kubernetes.io/managed-by": MIRRORING},
           f"labelled for outside and managed-by {MIRRORING}", labels)  # fmt: skip
    owners = mirrored["metadata"]["ownerReferences"]
    expect(len(owners) == 1, "one owner", owners)
    owner = owners[0]
    seen = (owner["kind"], owner["name"], owner["controller"])
    expect(seen == ("Endpoints", "outside", True), "owned by the Endpoints outside", seen)
    addresses = [e["addresses"] for e in mirrored["endpoints"]]
    expect(addresses == [[OUTSIDE]], f"the one address {OUTSIDE}", addresses)
    ports = mirrored["ports"]
    expect(ports == [{"name": "", "port": 8080, "protocol": "TCP"}], "port 8080/TCP, unnamed",
           ports)  # fmt: skip
    passed(f"{mirrored['metadata']['name']} mirrors Endpoints outside: {OUTSIDE}:8080")


def check_dnat_to_outside(lab: Lab, rules: RulesText, cluster_ip: str) -> None:
    """node1 DNATs the Service to the outside server, its REJECT gone; node2 and node3 DNAT
    too (every node can reach it through the Service)."""
    expect(DNAT_OUTSIDE in rules, f"{DNAT_OUTSIDE} on node1")
    expect("REJECT" not in rules, "no REJECT for outside")
    expect(NO_ENDPOINTS not in lab.iptables("node1", "filter"), f"no {NO_ENDPOINTS} rule left")
    for node in ("node2", "node3"):
        expect(DNAT_OUTSIDE in lab.service_rules("outside", node=node), f"{DNAT_OUTSIDE} on {node}")
    passed(f"{cluster_ip}:80 -> DNAT {OUTSIDE}:8080 on every node")


def check_source_is_node1(hostname, clientip, internet_hostname: str, toolbox_ip: str) -> None:
    """Through the Service the outside server answered, and it saw node1's address as the
    source, not the toolbox pod's."""
    expect(hostname.returncode == 0, "curl /hostname succeeds", hostname.returncode)
    expect(hostname.stdout.strip() == internet_hostname, f"the answer {internet_hostname!r}",
           hostname.stdout.strip())  # fmt: skip
    seen_ip, _port = clientip.stdout.strip().rsplit(":", 1)
    expect(seen_ip == NODE1, f"the outside host saw node1 ({NODE1})", seen_ip)
    expect(seen_ip != toolbox_ip, f"not the toolbox's {toolbox_ip}", seen_ip)
    passed(f"answered by {internet_hostname!r}, which saw {seen_ip} (node1), not {toolbox_ip} "
           "(toolbox)")  # fmt: skip


def check_ip_masq_agent(lab: Lab, masq: RulesText) -> None:
    """ip-masq-agent leaves the pod and node networks alone (RETURN) and MASQUERADEs everything
    else; kube-proxy's rules for outside masquerade nothing."""
    masq_rules = masq.rules("IP-MASQ-AGENT")
    kept = [r.split(" -d ")[1].split()[0] for r in masq_rules if "-j RETURN" in r]
    expect(kept == ["10.244.0.0/16", "172.18.0.0/16"], "RETURN for the pod and node networks",
           kept)  # fmt: skip
    expect(masq_rules and masq_rules[-1].endswith("-j MASQUERADE"), "then MASQUERADE",
           masq_rules[-1:])  # fmt: skip
    expect("MASQUERADE" not in lab.service_rules("outside", node="node1"),
           "no MASQUERADE in kube-proxy's rules for outside (its part is only the DNAT)")  # fmt: skip
    passed("ip-masq-agent: pod and node networks RETURN, everything else MASQUERADE")


def check_both_rewrites_on_the_wire(at_pod: PacketTable, at_internet: PacketTable,
                                    toolbox_ip: str, cluster_ip: str):  # fmt: skip
    """One connection: the pod sent to ClusterIP:80, the outside host received from node1 on
    its port 8080. Returns the pod's SYN (its port finds the conntrack entry)."""
    pod_syns, outside_syns = at_pod.syns(), at_internet.syns()
    expect(len(pod_syns) == len(outside_syns) == 1, "one SYN at each end",
           (len(pod_syns), len(outside_syns)))  # fmt: skip
    pod_syn, outside_syn = pod_syns[0], outside_syns[0]
    sent = (pod_syn.src, pod_syn.dst, pod_syn.dport)
    expect(sent == (toolbox_ip, cluster_ip, 80), "the pod's SYN to ClusterIP:80", sent)
    got = (outside_syn.src, outside_syn.dst, outside_syn.dport)
    expect(got == (NODE1, OUTSIDE, 8080), f"the outside host's SYN from node1 to {OUTSIDE}:8080",
           got)  # fmt: skip
    passed(f"pod sent {toolbox_ip} -> {cluster_ip}:80; internet got "
           f"{NODE1}:{outside_syn.sport} -> {OUTSIDE}:8080")  # fmt: skip
    return pod_syn


def check_conntrack_both_rewrites(entry: list[ConntrackEntry], toolbox_ip: str,
                                  cluster_ip: str) -> None:  # fmt: skip
    """node1's one conntrack entry: the toolbox sent to ClusterIP:80, the outside server
    answers node1 from port 8080: destination and source both rewritten."""
    expect(len(entry) == 1, "one conntrack entry", len(entry))
    (e,) = entry
    original = (e.original["src"], e.original["dst"], e.original["dport"])
    expect(original == (toolbox_ip, cluster_ip, 80), "original: toolbox -> ClusterIP:80", original)
    reply = (e.reply["src"], e.reply["sport"], e.reply["dst"])
    expect(reply == (OUTSIDE, 8080, NODE1), f"reply: {OUTSIDE}:8080 -> node1", reply)
    expect(e.dnat, "destination rewritten (DNAT)")
    expect(e.snat, "source rewritten (SNAT)")
    passed("one conntrack entry, both rewrites: DNAT (kube-proxy) and SNAT (ip-masq-agent)")


def check_special_addresses_refused(lab: Lab, error: str) -> None:
    """The API server refused Endpoints "special" with one field error per address (loopback,
    link-local, unspecified), and stored nothing."""
    expect('Endpoints "special" is invalid' in error, 'Endpoints "special" is invalid', error)
    for field_error in SPECIAL_ERRORS:
        expect(field_error in error, field_error, error)
    names = endpoints_names(lab)
    expect(names == ["kubernetes", "outside"], '"special" not stored', names)
    passed("3 addresses, 3 field errors: loopback, link-local, unspecified; nothing applied")


def check_dnat_to_cluster_ip(lab: Lab, via_vip_ip: str, cluster_ip: str) -> None:
    """The API server accepted a ClusterIP as an endpoint: via-vip's rules DNAT to outside's
    ClusterIP."""
    expect(f"-j DNAT --to-destination {cluster_ip}:80" in lab.service_rules("via-vip", node="node1"),
           f"a DNAT to {cluster_ip}:80 on node1")  # fmt: skip
    passed(f"accepted: {via_vip_ip}:80 -> DNAT to {cluster_ip}:80 (outside's ClusterIP)")


def check_not_translated_twice(lab: Lab, failed, packets: PacketTable, cluster_ip: str) -> None:
    """The request to via-vip timed out (curl exit 28) with no answer: its SYN left node1 still
    addressed to outside's ClusterIP, and nothing came back, not even an ICMP error. outside's
    ClusterIP itself still works."""
    expect(failed.returncode != 0 and not failed.stdout, "curl fails without an answer",
           (failed.returncode, failed.stdout))  # fmt: skip
    syns = packets.syns()
    expect(syns, "a SYN leaving node1")
    leaving = (syns[0].src, syns[0].dst, syns[0].dport)
    expect(leaving == (NODE1, cluster_ip, 80),
           f"the SYN leaves node1 for {cluster_ip}:80, not translated again", leaving)  # fmt: skip
    expect(failed.returncode == 28, "curl exit 28: timed out", failed.returncode)
    icmp = packets.filter(protocol="ICMP")
    expect(not icmp, "no ICMP back: the router drops it silently", [p.summary for p in icmp])
    direct = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{cluster_ip}/hostname")
    expect(direct.returncode == 0, f"http://{cluster_ip}/ itself answers", direct.returncode)
    passed(f"the SYN left node1 for {cluster_ip}:80, untranslated; nothing came back")


def check_own_slice(lab: Lab, answer, slice_ip: str, internet_hostname: str) -> None:
    """outside-slice has exactly our slice outside-slice-1, managed by no controller;
    kube-proxy DNATs to the outside server, which answered; no Endpoints object exists."""
    slices = lab.get("endpointslices", selector="kubernetes.io/service-name=outside-slice")
    expect(len(slices) == 1, "one EndpointSlice for outside-slice", len(slices))
    (own,) = slices
    expect(own["metadata"]["name"] == "outside-slice-1", "our slice outside-slice-1",
           own["metadata"]["name"])  # fmt: skip
    labels = own["metadata"]["labels"]
    expect("endpointslice.kubernetes.io/managed-by" not in labels, "no managed-by label", labels)
    expect(DNAT_OUTSIDE in lab.service_rules("outside-slice", node="node1"),
           f"{DNAT_OUTSIDE} for outside-slice on node1")  # fmt: skip
    expect(answer.returncode == 0, "curl succeeds", answer.returncode)
    expect(answer.stdout.strip() == internet_hostname, f"the answer {internet_hostname!r}",
           answer.stdout.strip())  # fmt: skip
    names = endpoints_names(lab)
    expect("outside-slice" not in names, "no Endpoints outside-slice", names)
    passed(f"{slice_ip}:80 -> {OUTSIDE}:8080 from the slice alone; no Endpoints object exists "
           "for it")  # fmt: skip


def check_no_pod_endpoints(lab: Lab, cluster_ip: str) -> None:
    """Four selector-less Services, one slice each: outside and outside-slice to the outside
    server, via-vip to outside's ClusterIP, kubernetes to the API server on node1; no endpoint
    is a pod or on a node."""
    slices = lab.get("endpointslices")
    by_service: dict[str, list[list[str]]] = {}
    for s in slices:
        by_service.setdefault(s["metadata"]["labels"]["kubernetes.io/service-name"], []).append(
            [e["addresses"][0] for e in s["endpoints"]]
        )
    want = {"outside": [[OUTSIDE]], "via-vip": [[cluster_ip]], "outside-slice": [[OUTSIDE]],
            "kubernetes": [[NODE1]]}  # fmt: skip
    expect(by_service == want, f"the slices {want}", by_service)
    refs = [e for s in slices for e in s["endpoints"] if "targetRef" in e or "nodeName" in e]
    expect(not refs, "no endpoint with a targetRef or a nodeName", refs)
    passed(str({svc: addresses[0][0] for svc, addresses in sorted(by_service.items())}))


def check_nobody_checks(lab: Lab, gone) -> None:
    """With the outside server stopped, the request is refused (curl exit 7, the host's TCP
    reset), yet kube-proxy keeps the DNAT and the endpoint stays ready."""
    expect(gone.returncode == 7, "curl exit 7: refused by the outside host", gone.returncode)
    expect(DNAT_OUTSIDE in lab.service_rules("outside", node="node1"), f"{DNAT_OUTSIDE} kept")
    slices = lab.get("endpointslices", selector="kubernetes.io/service-name=outside")
    expect(len(slices) == 1, "one EndpointSlice for outside", len(slices))
    conditions = slices[0]["endpoints"][0]["conditions"]
    expect(conditions == {"ready": True}, "the endpoint still ready", conditions)
    passed("server gone, endpoint still 'ready', DNAT still in place: the request is refused")
