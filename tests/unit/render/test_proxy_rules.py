"""The renderer against kube-proxy's own expectations: known chain hashes, the proxier's
TestOverallIPTablesRules dump, probabilities, ordering, affinity, policies, fallbacks."""

from __future__ import annotations

import pytest

from lab_kit.render import proxy_rules as pr
from lab_kit.render.proxy_endpoints import INFORMER_LABEL_SELECTOR, Endpoint, service_ports


def svc(ns, name, ip, ports, **spec):
    s = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": ns, "name": name, "labels": spec.pop("labels", {})},
        "spec": {"type": spec.pop("type", "ClusterIP"), "clusterIP": ip, "ports": ports, **spec},
    }
    if "lb" in spec:
        s["status"] = {"loadBalancer": {"ingress": [{"ip": i} for i in spec.pop("lb")]}}
        s["spec"].pop("lb", None)
    return s


def port(name, number, proto="TCP", **extra):
    return {"name": name, "port": number, "protocol": proto, **extra}


def eps(ns, service, endpoints, ports, name=None):
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": ns,
            "name": name or f"{service}-abc",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


def ep(ip, node=None, **conditions):
    e = {"addresses": [ip], "conditions": conditions}
    if node:
        e["nodeName"] = node
    return e


P80 = [{"name": "p80", "port": 80, "protocol": "TCP"}]


@pytest.mark.parametrize(
    "port_name,proto,chain",
    [
        ("default/kubernetes:https", "tcp", "KUBE-SVC-NPX46M4PTMTKRN6Y"),
        ("kube-system/kube-dns:dns", "udp", "KUBE-SVC-TCOU7JCQXEZGVUNU"),
        ("kube-system/kube-dns:dns-tcp", "tcp", "KUBE-SVC-ERIFXISQEP7F7OF4"),
        ("kube-system/kube-dns:metrics", "tcp", "KUBE-SVC-JD5MR3NA4I4DYORP"),
        ("ns1/svc1:p80", "tcp", "KUBE-SVC-XPGD46QRK7WJZT7O"),
        ("ns1/svc1:p80", "TCP", "KUBE-SVC-XPGD46QRK7WJZT7O"),
    ],
)
def test_known_chain_names(port_name, proto, chain):
    assert pr.svc_chain(port_name, proto) == chain


def test_known_endpoint_chain_name():
    assert pr.sep_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"


def test_unnamed_port_has_no_colon():
    s = svc("kube-system", "kubernetes-dashboard", "10.96.0.50", [port(None, 443)])
    rules = pr.render([s], [eps("kube-system", "kubernetes-dashboard", [ep("10.244.1.5")],
                                [{"name": "", "port": 8443, "protocol": "TCP"}])], "node1")  # fmt: skip
    assert list(rules.services) == ["kube-system/kubernetes-dashboard"]
    assert "KUBE-SVC-4HQ2X6RJ753IMQ2F" in rules.nat.chains


# kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go, TestOverallIPTablesRules:
# the services, slices and the expected restore input (compared per table as sorted lines,
# as the upstream test's assertIPTablesRulesEqual does).
OVERALL_SERVICES = [
    svc("ns1", "svc1", "172.30.0.41", P80),
    svc("ns2", "svc2", "172.30.0.42", [{**P80[0], "nodePort": 3001}], type="LoadBalancer",
        externalTrafficPolicy="Local", externalIPs=["192.168.99.22"], healthCheckNodePort=30000,
        lb=["1.2.3.4"]),
    svc("ns3", "svc3", "172.30.0.43", [{**P80[0], "nodePort": 3003}], type="NodePort"),
    svc("ns4", "svc4", "172.30.0.44", P80, type="NodePort", externalIPs=["192.168.99.33"]),
    svc("ns5", "svc5", "172.30.0.45", [{**P80[0], "nodePort": 3002}], type="LoadBalancer",
        externalTrafficPolicy="Cluster", healthCheckNodePort=30000,
        loadBalancerSourceRanges=[" 203.0.113.0/25"], lb=["5.6.7.8"]),
    svc("ns6", "svc6", "172.30.0.46", P80),
]  # fmt: skip
OVERALL_SLICES = [
    eps("ns1", "svc1", [ep("10.180.0.1")], P80),
    eps("ns2", "svc2", [ep("10.180.0.2")], P80),
    eps("ns3", "svc3", [ep("10.180.0.3")], P80),
    eps("ns4", "svc4", [ep("10.180.0.4"), ep("10.180.0.5", "test-node")], P80),
    eps("ns5", "svc5", [ep("10.180.0.3")], P80),
]
OVERALL_EXPECTED = """
*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP
COMMIT
*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]
:KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-EXT-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]
:KUBE-FW-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-C6EBXVWJJZMIWKLZ - [0:0]
:KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]
:KUBE-SEP-OYPFS5VJICHGATKP - [0:0]
:KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SEP-UKSFD7AGPMPPLUHC - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
:KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-RS4RBKLTHTF2IUXJ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
COMMIT
"""


def _tables(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.strip().splitlines():
        if line.startswith("*"):
            current = line[1:]
            out[current] = []
        elif line != "COMMIT":
            out[current].append(line)
    return {t: sorted(lines) for t, lines in out.items()}


def test_matches_upstream_overall_dump():
    rules = pr.render(OVERALL_SERVICES, OVERALL_SLICES, "test-node", cluster_cidr="10.0.0.0/8")
    # Upstream's fake iptables lacks --random-fully; real nodes (and ours) have it.
    text = rules.text().replace(" --random-fully", "")
    assert _tables(text) == _tables(OVERALL_EXPECTED)


def test_written_order_keeps_chain_order_meaningful():
    rules = pr.render(OVERALL_SERVICES, OVERALL_SLICES, "test-node", cluster_cidr="10.0.0.0/8")
    services = rules.nat.rules("KUBE-SERVICES")
    assert "kubernetes service nodeports" in services[-1]  # must be the last rule
    assert rules.nat.rules("KUBE-SVC-4SW47YFZTEDKD3PK")[0].endswith(
        "! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"
    )


def _pods(n, base="10.244.1."):
    return [ep(f"{base}{i}", "node1") for i in range(2, 2 + n)]


def test_probability_sequence_and_string_sort_order():
    ips = ["10.244.1.2", "10.244.1.10", "10.244.2.3", "10.244.1.3"]
    rules = pr.render([svc("default", "web", "10.96.0.20", [port("http", 80, targetPort=8080)])],
                      [eps("default", "web", [ep(i) for i in ips], [port("http", 8080)])], "node1")  # fmt: skip
    chain = pr.svc_chain("default/web:http", "tcp")
    lb = rules.nat.rules(chain)[1:]
    assert [line.split("-> ")[1].split('"')[0] for line in lb] == [
        "10.244.1.10:8080", "10.244.1.2:8080", "10.244.1.3:8080", "10.244.2.3:8080"
    ]  # fmt: skip
    probs = [line.split("--probability ")[1].split()[0] for line in lb if "--probability" in line]
    assert probs == ["0.2500000000", "0.3333333333", "0.5000000000"]
    assert "statistic" not in lb[-1]


def test_session_affinity_rules():
    s = svc("default", "web", "10.96.0.20", [port("", 80)], sessionAffinity="ClientIP",
            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})  # fmt: skip
    rules = pr.render([s], [eps("default", "web", _pods(2), [port("", 80)])], "node1")
    chain = pr.svc_chain("default/web", "tcp")
    lines = rules.nat.rules(chain)
    seps = [pr.sep_chain("default/web", "tcp", f"10.244.1.{i}:80") for i in (2, 3)]
    assert f"-m recent --name {seps[0]} --rcheck --seconds 60 --reap -j {seps[0]}" in lines[1]
    assert f"-m recent --name {seps[1]} --rcheck --seconds 60 --reap -j {seps[1]}" in lines[2]
    dnat = rules.nat.rules(seps[0])[1]
    assert (
        f"-m recent --name {seps[0]} --set -m tcp -p tcp -j DNAT --to-destination 10.244.1.2:80"
        in dnat
    )


def test_affinity_default_timeout_is_three_hours():
    s = svc("default", "web", "10.96.0.20", [port("", 80)], sessionAffinity="ClientIP")
    rules = pr.render([s], [eps("default", "web", _pods(1), [port("", 80)])], "node1")
    assert "--seconds 10800 --reap" in rules.text()


def test_only_ready_endpoints_then_serving_terminating_fallback():
    s = svc("default", "web", "10.96.0.20", [port("", 80)])
    slices = [eps("default", "web", [ep("10.244.1.2", ready=True), ep("10.244.1.3", ready=False)],
                  [port("", 80)])]  # fmt: skip
    text = pr.render([s], slices, "node1").text()
    assert "10.244.1.2:80" in text and "10.244.1.3" not in text
    terminating = [
        ep("10.244.1.2", ready=False, serving=True, terminating=True),
        ep("10.244.1.3", ready=False, serving=False, terminating=True),
    ]
    text = pr.render([s], [eps("default", "web", terminating, [port("", 80)])], "node1").text()
    assert "DNAT --to-destination 10.244.1.2:80" in text and "10.244.1.3" not in text


def test_no_endpoints_rejects_and_has_no_nat_chains():
    s = svc("default", "web", "10.96.0.20", [port("", 80)])
    rules = pr.render([s], [], "node1")
    assert rules.filter.rules("KUBE-SERVICES") == [
        '-A KUBE-SERVICES -m comment --comment "default/web has no endpoints" -m tcp -p tcp '
        "-d 10.96.0.20 --dport 80 -j REJECT"
    ]
    assert not [c for c in rules.nat.chains if c.startswith(("KUBE-SVC", "KUBE-SEP"))]


def test_internal_traffic_policy_local():
    s = svc("default", "web", "10.96.0.20", [port("", 80)], internalTrafficPolicy="Local")
    slices = [
        eps(
            "default", "web", [ep("10.244.1.2", "node1"), ep("10.244.2.2", "node2")], [port("", 80)]
        )
    ]
    on1 = pr.render([s], slices, "node1")
    svl = pr.svc_chain("default/web", "tcp", "KUBE-SVL-")
    assert f"-j {svl}" in on1.nat.rules("KUBE-SERVICES")[0]
    assert "10.244.2.2" not in on1.text()  # only the local endpoint
    on3 = pr.render([s], slices, "node3")
    assert on3.filter.rules("KUBE-SERVICES") == [
        '-A KUBE-SERVICES -m comment --comment "default/web has no local endpoints" -m tcp -p tcp '
        "-d 10.96.0.20 --dport 80 -j DROP"
    ]


def test_multi_port_named_ports_resolve_per_pod():
    s = svc(
        "default",
        "web",
        "10.96.0.20",
        [port("http", 80, targetPort="web"), port("https", 443, targetPort="tls")],
    )
    slices = [
        eps("default", "web", [ep("10.244.1.2")], [port("http", 8080), port("https", 8443)], "a"),
        eps("default", "web", [ep("10.244.2.2")], [port("http", 9090), port("https", 9443)], "b"),
    ]
    rules = pr.render([s], slices, "node1")
    http = " ".join(rules.nat.rules(pr.svc_chain("default/web:http", "tcp")))
    https = " ".join(rules.nat.rules(pr.svc_chain("default/web:https", "tcp")))
    assert "10.244.1.2:8080" in http and "10.244.2.2:9090" in http and "8443" not in http
    assert "10.244.1.2:8443" in https and "10.244.2.2:9443" in https


def test_skipped_services():
    slices = [eps("default", "x", _pods(1), [port("", 80)])]
    headless = svc("default", "x", "None", [port("", 80)])
    external = svc("default", "x", "", [], type="ExternalName", externalName="example.com")
    opted_out = svc("default", "x", "10.96.0.9", [port("", 80)],
                    labels={"service.kubernetes.io/service-proxy-name": "other"})  # fmt: skip
    for s in (headless, external, opted_out):
        assert pr.render([s], slices, "node1").services == {}
    assert INFORMER_LABEL_SELECTOR == (
        "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
    )


def test_slice_ports_without_a_name_are_ignored_like_kube_proxy():
    s = svc("default", "web", "10.96.0.20", [port("", 80)])
    rules = pr.render(
        [s], [eps("default", "web", _pods(1), [{"port": 80, "protocol": "TCP"}])], "node1"
    )
    assert "has no endpoints" in rules.text()


def test_large_cluster_mode_drops_endpoint_comments():
    s = svc("default", "big", "10.96.0.30", [port("", 80)])
    many = [ep(f"10.244.{i // 250}.{i % 250 + 2}") for i in range(1001)]
    rules = pr.render([s], [eps("default", "big", many, [port("", 80)])], "node1")
    sep = rules.nat.rules(pr.sep_chain("default/big", "tcp", "10.244.0.2:80"))
    assert "comment" not in sep[0]
    assert '"default/big cluster IP"' in rules.nat.rules("KUBE-SERVICES")[0]


def test_jump_rules_missing_inserts_in_kube_proxy_order():
    text = pr.jump_rules_missing("")
    assert ":KUBE-PROXY-CANARY - [0:0]" in text
    filt = text.split("*filter")[1].split("COMMIT")[0]
    inputs = [line for line in filt.splitlines() if " INPUT " in line]
    assert [line.split("-j ")[1] for line in inputs] == [
        "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL"
    ]  # inserted one by one at the top: the last inserted ends up first  # fmt: skip
    present = "*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING " + pr.JUMP_RULES[10][2] + "\nCOMMIT\n"
    nat = pr.jump_rules_missing(present).split("*nat")[1]
    assert "PREROUTING" not in nat and ":KUBE-SERVICES" not in nat and "-I OUTPUT 1" in nat


def test_chain_rules_for_partial_sync():
    s = svc("default", "web", "10.96.0.20", [port("", 80)])
    a = pr.render([s], [eps("default", "web", _pods(1), [port("", 80)])], "node1").chain_rules()
    b = pr.render([s], [eps("default", "web", _pods(2), [port("", 80)])], "node1").chain_rules()
    changed = {k for k in b if a.get(k) != b[k]}
    assert ("nat", pr.svc_chain("default/web", "tcp")) in changed
    assert ("nat", pr.sep_chain("default/web", "tcp", "10.244.1.2:80")) not in changed


def test_port_plan_decides_once_what_each_chain_kind_writes():
    # ns2/svc2 of the upstream dump: LB + ETP Local, no endpoint on this node.
    svc2 = svc("ns2", "svc2", "172.30.0.42", [{**P80[0], "nodePort": 3001}], type="LoadBalancer",
               externalTrafficPolicy="Local", loadBalancerSourceRanges=["203.0.113.0/25"],
               lb=["1.2.3.4"])  # fmt: skip
    (sp,) = service_ports(svc2)
    plan = pr.plan_service_port(sp, [Endpoint("10.180.0.2", 80, node_name="other")], "test-node")
    assert (plan.has_endpoints, plan.has_internal, plan.has_external) == (True, True, False)
    assert plan.uses_fw and plan.external_entry == plan.chains.fw == "KUBE-FW-GNZBNJ2PO5MGZ6GT"
    assert plan.internal_verdict is None
    assert plan.external_verdict == pr.Verdict("ns2/svc2:p80 has no local endpoints", "DROP")
    assert (plan.uses_cluster, plan.uses_local) == (True, False)  # pods' short cut only
    none = pr.plan_service_port(sp, [], "test-node")
    reject = pr.Verdict("ns2/svc2:p80 has no endpoints", "REJECT")
    assert none.internal_verdict == none.external_verdict == reject
    assert not (none.uses_fw or none.uses_external or none.uses_cluster)


# --- external traffic: NodePort, externalIPs, load-balancer IPs, source ranges -------------
NP = [{**P80[0], "nodePort": 30080}]
WEB_SLICES = [eps("default", "web", [ep("10.244.2.5", "node2")], P80)]
WEB_CHAINS = pr.PortChains.of(service_ports(svc("default", "web", "10.96.0.50", P80))[0])


def with_ingress(s: dict, *ingress: dict) -> dict:
    return {**s, "status": {"loadBalancer": {"ingress": list(ingress)}}}


def test_nodeport_cluster_policy_masquerades_everything_then_balances():
    s = svc("default", "web", "10.96.0.50", NP, type="NodePort")
    rules = pr.render([s], WEB_SLICES, "node1", cluster_cidr="10.244.0.0/16")
    ext = WEB_CHAINS.ext
    assert rules.nat.rules("KUBE-NODEPORTS") == [
        f"-A KUBE-NODEPORTS -m comment --comment default/web:p80 -m tcp -p tcp --dport 30080 -j {ext}"
    ]
    assert rules.nat.rules(ext) == [
        f'-A {ext} -m comment --comment "masquerade traffic for default/web:p80 external destinations" -j KUBE-MARK-MASQ',
        f"-A {ext} -j {WEB_CHAINS.cluster}",
    ]  # fmt: skip
    assert not rules.filter.rules("KUBE-EXTERNAL-SERVICES")  # served from any node


def test_nodeport_local_policy_keeps_the_client_and_drops_where_no_pod_runs():
    s = svc("default", "web", "10.96.0.50", NP, type="NodePort", externalTrafficPolicy="Local")
    ext, svl, cluster = WEB_CHAINS.ext, WEB_CHAINS.local, WEB_CHAINS.cluster
    shortcuts = [
        f'-A {ext} -m comment --comment "pod traffic for default/web:p80 external destinations" -s 10.244.0.0/16 -j {cluster}',
        f'-A {ext} -m comment --comment "masquerade LOCAL traffic for default/web:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
        f'-A {ext} -m comment --comment "route LOCAL traffic for default/web:p80 external destinations" -m addrtype --src-type LOCAL -j {cluster}',
    ]  # fmt: skip
    on2 = pr.render([s], WEB_SLICES, "node2", cluster_cidr="10.244.0.0/16")
    assert on2.nat.rules(ext) == [*shortcuts, f"-A {ext} -j {svl}"]  # no KUBE-MARK-MASQ
    assert "10.244.2.5:80" in " ".join(on2.nat.rules(svl))
    assert not on2.filter.rules("KUBE-EXTERNAL-SERVICES")
    on1 = pr.render([s], WEB_SLICES, "node1", cluster_cidr="10.244.0.0/16")
    assert on1.nat.rules(ext) == shortcuts  # outside clients fall through...
    assert not on1.nat.has(svl)
    assert on1.filter.rules("KUBE-EXTERNAL-SERVICES") == [  # ...and are dropped: a timeout
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:p80 has no local endpoints" '
        "-m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP"
    ]
    # The ClusterIP keeps internalTrafficPolicy Cluster: any node serves it.
    assert f"-d 10.96.0.50 --dport 80 -j {cluster}" in on1.nat.rules("KUBE-SERVICES")[0]


def test_external_ips_go_to_the_ext_chain_on_every_node():
    s = svc("default", "web", "10.96.0.50", P80, externalIPs=["203.0.113.80", "2001:db8::1"])
    rules = pr.render([s], WEB_SLICES, "node1")
    assert rules.nat.rules("KUBE-SERVICES")[1] == (
        '-A KUBE-SERVICES -m comment --comment "default/web:p80 external IP" -m tcp -p tcp '
        f"-d 203.0.113.80 --dport 80 -j {WEB_CHAINS.ext}"
    )
    assert "2001:db8::1" not in rules.text()


LB = svc("default", "web", "10.96.0.50", NP, type="LoadBalancer")


@pytest.mark.parametrize(
    "ingress,captured",
    [
        ({"ip": "198.51.100.50"}, True),  # ipMode unset: VIP
        ({"ip": "198.51.100.50", "ipMode": "VIP"}, True),
        ({"ip": "198.51.100.50", "ipMode": "Proxy"}, False),  # the LB forwards: left alone
        ({"hostname": "lb.example.com"}, False),
    ],
)
def test_load_balancer_ingress_ips_by_ip_mode(ingress, captured):
    rules = pr.render([with_ingress(LB, ingress)], WEB_SLICES, "node1")
    line = (
        '-A KUBE-SERVICES -m comment --comment "default/web:p80 loadbalancer IP" -m tcp -p tcp '
        f"-d 198.51.100.50 --dport 80 -j {WEB_CHAINS.ext}"
    )
    assert (line in rules.nat.rules("KUBE-SERVICES")) == captured
    assert ("198.51.100.50" in rules.text()) == captured


def test_source_ranges_filter_lb_traffic_in_kube_fw_and_drop_the_rest():
    s = with_ingress(
        {**LB, "spec": {**LB["spec"], "loadBalancerSourceRanges": [
            " 192.0.2.10/24", "203.0.113.7/32", "10.0.0.1", "2001:db8::/64", "nonsense"]}},
        {"ip": "198.51.100.50"},
    )  # fmt: skip
    rules = pr.render([s], WEB_SLICES, "node1", node_ip="172.18.0.2")
    fw, ext = WEB_CHAINS.fw, WEB_CHAINS.ext
    assert f"-d 198.51.100.50 --dport 80 -j {fw}" in rules.nat.rules("KUBE-SERVICES")[1]
    # Go's IPNet.String() of each valid IPv4 CIDR; a bare address is no CIDR.
    assert rules.nat.rules(fw) == [
        f'-A {fw} -m comment --comment "default/web:p80 loadbalancer IP" -s 192.0.2.0/24 -j {ext}',
        f'-A {fw} -m comment --comment "default/web:p80 loadbalancer IP" -s 203.0.113.7/32 -j {ext}',
        f'-A {fw} -m comment --comment "other traffic to default/web:p80 will be dropped by KUBE-PROXY-FIREWALL"',
    ]  # fmt: skip
    assert rules.filter.rules("KUBE-PROXY-FIREWALL") == [
        f'-A KUBE-PROXY-FIREWALL -m comment --comment "default/web:p80 traffic not accepted by {fw}" '
        "-m tcp -p tcp -d 198.51.100.50 --dport 80 -j DROP"
    ]
    # NodePorts are not subject to source ranges.
    assert f"--dport 30080 -j {ext}" in rules.nat.rules("KUBE-NODEPORTS")[0]


def test_a_source_range_holding_the_node_lets_the_node_reach_the_lb_ip():
    s = with_ingress(
        {**LB, "spec": {**LB["spec"], "loadBalancerSourceRanges": ["172.18.0.0/16"]}},
        {"ip": "198.51.100.50"},
    )
    fw, ext = WEB_CHAINS.fw, WEB_CHAINS.ext
    inside = pr.render([s], WEB_SLICES, "node1", node_ip="172.18.0.2").nat.rules(fw)
    assert inside[1] == (
        f'-A {fw} -m comment --comment "default/web:p80 loadbalancer IP" -s 198.51.100.50 -j {ext}'
    )
    outside = pr.render([s], WEB_SLICES, "node1", node_ip="192.168.0.2").nat.rules(fw)
    assert len(outside) == 2 and "198.51.100.50" not in " ".join(outside)


def test_lb_ip_without_local_endpoint_is_dropped_under_local_policy():
    s = with_ingress(
        {**LB, "spec": {**LB["spec"], "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000}},
        {"ip": "198.51.100.50"},
    )  # fmt: skip
    rules = pr.render([s], WEB_SLICES, "node1")
    assert rules.filter.rules("KUBE-EXTERNAL-SERVICES")[0] == (
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:p80 has no local endpoints" '
        "-m tcp -p tcp -d 198.51.100.50 --dport 80 -j DROP"
    )
    assert rules.filter.rules("KUBE-NODEPORTS") == [
        '-A KUBE-NODEPORTS -m comment --comment "default/web:p80 health check node port" '
        "-m tcp -p tcp --dport 32000 -j ACCEPT"
    ]
