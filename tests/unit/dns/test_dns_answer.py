"""Answers for every record type, translated from CoreDNS's handler tests where they exist
(TTL 5, as its fixture), and the reference's NXDOMAIN vs NODATA table."""

from __future__ import annotations

import random

import pytest
from dns_objects import (
    ask,
    coredns_fixture,
    endpoint,
    endpoint_slice,
    headless,
    lines,
    query,
    service,
)
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from lab_kit.render.dns import ClusterZone, answer, complete_chase, load_balance

SOA5 = "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. {serial} 7200 1800 86400 5"


def soa(zone: ClusterZone) -> str:
    return SOA5.format(serial=zone.serial)


# --- ClusterIP Services ---------------------------------------------------------------


def test_clusterip_service_a(zone):
    a = ask(zone, "svc1.testns.svc.cluster.local.")
    assert a.rcode == RCODE.NOERROR
    assert lines(a.reply.rr) == ["svc1.testns.svc.cluster.local. 5 A 10.0.0.1"]
    assert a.reply.auth == []


def test_clusterip_service_without_endpoints_still_answers(zone):
    a = ask(zone, "svcempty.testns.svc.cluster.local.")
    assert lines(a.reply.rr) == ["svcempty.testns.svc.cluster.local. 5 A 10.0.0.1"]


def test_clusterip_srv_targets_the_service_name(zone):
    a = ask(zone, "_http._tcp.svc1.testns.svc.cluster.local.", "SRV")
    assert lines(a.reply.rr) == [
        "_http._tcp.svc1.testns.svc.cluster.local. 5 SRV 0 100 80 svc1.testns.svc.cluster.local."
    ]
    assert lines(a.reply.ar) == ["svc1.testns.svc.cluster.local. 5 A 10.0.0.1"]


def test_srv_protocol_label_udp(zone):
    a = ask(zone, "_dns._udp.twoports.testns.svc.cluster.local.", "SRV")
    assert [rr.rdata.port for rr in a.reply.rr] == [53]
    assert ask(zone, "_dns._tcp.twoports.testns.svc.cluster.local.", "SRV").rcode == RCODE.NXDOMAIN


def test_bare_srv_on_a_service_name_lists_every_port(zone):
    """A CoreDNS extension: SRV at the service name itself, one per port, named or not."""
    a = ask(zone, "twoports.testns.svc.cluster.local.", "SRV")
    assert sorted(lines(a.reply.rr)) == [
        f"twoports.testns.svc.cluster.local. 5 SRV 0 33 {p} twoports.testns.svc.cluster.local."
        for p in (53, 80, 9090)
    ]
    assert lines(a.reply.ar) == ["twoports.testns.svc.cluster.local. 5 A 10.0.0.9"]


def test_srv_name_answers_an_a_query_too(zone):
    """The items behind `_http._tcp.<svc>` are the Service's: CoreDNS answers its A."""
    a = ask(zone, "_http._tcp.svc1.testns.svc.cluster.local.")
    assert lines(a.reply.rr) == ["_http._tcp.svc1.testns.svc.cluster.local. 5 A 10.0.0.1"]


def test_endpoint_name_under_a_clusterip_service(zone):
    a = ask(zone, "ep1a.svc1.testns.svc.cluster.local.")
    assert lines(a.reply.rr) == ["ep1a.svc1.testns.svc.cluster.local. 5 A 172.0.0.1"]


# --- headless Services ----------------------------------------------------------------


def test_headless_a_has_every_ready_endpoint(zone):
    a = ask(zone, "hdls1.testns.svc.cluster.local.")
    assert [rr.rdata.toZone() for rr in a.reply.rr] == [
        "172.0.0.2",
        "172.0.0.3",
        "172.0.0.4",
        "172.0.0.5",
    ]


def test_headless_endpoint_names(zone):
    assert lines(ask(zone, "172-0-0-2.hdls1.testns.svc.cluster.local.").reply.rr) == [
        "172-0-0-2.hdls1.testns.svc.cluster.local. 5 A 172.0.0.2"
    ]
    assert lines(ask(zone, "dup-name.hdls1.testns.svc.cluster.local.").reply.rr) == [
        "dup-name.hdls1.testns.svc.cluster.local. 5 A 172.0.0.4",
        "dup-name.hdls1.testns.svc.cluster.local. 5 A 172.0.0.5",
    ]


def test_headless_srv_one_per_endpoint_name_with_glue(zone):
    a = ask(zone, "_http._tcp.hdls1.testns.svc.cluster.local.", "SRV")
    # 4 candidates (the IPv6 slice is ignored): weight 25; dup-name's two IPs share a target.
    assert lines(a.reply.rr) == [
        f"_http._tcp.hdls1.testns.svc.cluster.local. 5 SRV 0 25 80 {t}.hdls1.testns.svc.cluster.local."
        for t in ("172-0-0-2", "172-0-0-3", "dup-name")
    ]
    assert lines(a.reply.ar) == [
        "172-0-0-2.hdls1.testns.svc.cluster.local. 5 A 172.0.0.2",
        "172-0-0-3.hdls1.testns.svc.cluster.local. 5 A 172.0.0.3",
        "dup-name.hdls1.testns.svc.cluster.local. 5 A 172.0.0.4",
        "dup-name.hdls1.testns.svc.cluster.local. 5 A 172.0.0.5",
    ]


def test_headless_srv_counts_are_endpoints_times_named_ports(zone):
    """N ready endpoints x M named ports; a bare SRV takes the unnamed port too."""
    name = "multi.testns.svc.cluster.local."
    http = ask(zone, f"_http._tcp.{name}", "SRV").reply.rr
    metrics = ask(zone, f"_metrics._tcp.{name}", "SRV").reply.rr
    everything = ask(zone, name, "SRV").reply.rr
    assert (len(http), len(metrics), len(everything)) == (3, 3, 9)
    assert {rr.rdata.weight for rr in http} == {33}
    assert {rr.rdata.weight for rr in everything} == {11}
    assert {str(rr.rdata.target) for rr in metrics} == {
        f"{h}.multi.testns.svc.cluster.local." for h in ("m-0", "m-1", "172-0-1-3")
    }


def test_headless_without_ports_answers_addresses_but_no_srv(zone):
    assert lines(ask(zone, "hdlsprtls.testns.svc.cluster.local.").reply.rr) == [
        "hdlsprtls.testns.svc.cluster.local. 5 A 172.0.0.20"
    ]
    assert lines(ask(zone, "172-0-0-20.hdlsprtls.testns.svc.cluster.local.").reply.rr) == [
        "172-0-0-20.hdlsprtls.testns.svc.cluster.local. 5 A 172.0.0.20"
    ]
    srv = ask(zone, "hdlsprtls.testns.svc.cluster.local.", "SRV")
    assert (srv.rcode, srv.reply.rr) == (RCODE.NOERROR, [])


def test_publish_not_ready_addresses_follows_the_slice():
    """The controller marks endpoints ready for publishNotReadyAddresses; DNS reads `ready`."""
    svc = headless("db", publish_not_ready=True)
    slc = endpoint_slice("db", [endpoint("10.244.1.9", "db-0", ready=True)])
    zone = ClusterZone.build([svc], [slc], [])
    assert lines(ask(zone, "db-0.db.default.svc.cluster.local.").reply.rr) == [
        "db-0.db.default.svc.cluster.local. 30 A 10.244.1.9"
    ]


# --- ExternalName -----------------------------------------------------------------------


def test_externalname_cname_query(zone):
    a = ask(zone, "external.testns.svc.cluster.local.", "CNAME")
    assert lines(a.reply.rr) == ["external.testns.svc.cluster.local. 5 CNAME ext.interwebs.test."]
    assert a.chase is None


def test_externalname_a_query_asks_the_server_to_chase(zone):
    a = ask(zone, "external.testns.svc.cluster.local.")
    assert a.chase == "ext.interwebs.test."
    assert lines(a.reply.rr) == ["external.testns.svc.cluster.local. 5 CNAME ext.interwebs.test."]
    upstream = DNSRecord.question("ext.interwebs.test.").reply()
    upstream.add_answer(RR("ext.interwebs.test.", QTYPE.A, ttl=28715, rdata=A("192.0.2.53")))
    done = complete_chase(a, upstream)
    assert done.chase is None
    assert lines(done.reply.rr) == [
        "external.testns.svc.cluster.local. 5 CNAME ext.interwebs.test.",
        "ext.interwebs.test. 28715 A 192.0.2.53",
    ]
    assert done.reply.header.a == 2 and not done.reply.header.tc


def test_chase_keeps_the_upstream_tc_bit_and_drops_the_cname_on_failure(zone):
    a = ask(zone, "external.testns.svc.cluster.local.")
    upstream = DNSRecord.question("ext.interwebs.test.").reply()
    upstream.header.tc = 1
    assert complete_chase(a, upstream).reply.header.tc == 1
    failed = complete_chase(a, None)
    assert (failed.rcode, failed.reply.rr) == (RCODE.NOERROR, [])
    assert lines(failed.reply.auth) == [soa(zone)]


def test_externalname_to_a_cluster_name_is_followed_here(zone):
    a = ask(zone, "external-to-service.testns.svc.cluster.local")
    assert a.chase is None
    assert lines(a.reply.rr) == [
        "external-to-service.testns.svc.cluster.local. 5 CNAME svc1.testns.svc.cluster.local.",
        "svc1.testns.svc.cluster.local. 5 A 10.0.0.1",
    ]


def test_externalname_loops_end_in_nodata():
    from dns_objects import external

    zone = ClusterZone.build(
        [
            external("a", "b.default.svc.cluster.local"),
            external("b", "a.default.svc.cluster.local"),
            external("self", "self.default.svc.cluster.local"),
        ],
        [],
        [],
    )
    for name in ("a", "self"):
        result = ask(zone, f"{name}.default.svc.cluster.local")
        assert (result.rcode, result.reply.rr, result.chase) == (RCODE.NOERROR, [], None)


def test_externalname_gives_no_srv(zone):
    a = ask(zone, "external.testns.svc.cluster.local.", "SRV")
    assert (a.rcode, a.reply.rr) == (RCODE.NOERROR, [])


@pytest.mark.parametrize(
    ("name", "qtype"),
    [
        # handler_test.go: "a subdomain of (a subdomain of) an external service"
        ("endpoint.external.testns.svc.cluster.local.", "CNAME"),
        ("subdomain.subdomain.external.testns.svc.cluster.local.", "CNAME"),
        ("subdomain.subdomain.external.testns.svc.cluster.local.", "A"),
        # Two labels are read as a port and a protocol, and an ExternalName has no ports.
        ("_http._tcp.external.testns.svc.cluster.local.", "A"),
        ("_http._tcp.external.testns.svc.cluster.local.", "SRV"),
        ("_http._tcp.external.testns.svc.cluster.local.", "CNAME"),
        ("_http._tcp.external-to-service.testns.svc.cluster.local.", "A"),
    ],
)
def test_no_names_below_an_externalname(zone, name, qtype):
    """Regression (issue 12): CoreDNS skips an ExternalName Service when the name carries
    an endpoint, port or protocol label; the lab answered its CNAME."""
    a = ask(zone, name, qtype)
    assert (RCODE[a.rcode], a.reply.rr, a.chase) == ("NXDOMAIN", [], None)
    assert lines(a.reply.auth) == [soa(zone)]


# --- the NXDOMAIN vs NODATA table (reference section 2.3) -------------------------------


NODATA = [
    ("svc1.testns.svc.cluster.local.", "AAAA"),  # existing name, no IPv6
    ("svc1.testns.svc.cluster.local.", "TXT"),
    ("svc1.testns.svc.cluster.local.", "SOA"),
    ("svc1.testns.svc.cluster.local.", "MX"),
    ("svc1.testns.svc.cluster.local.", "PTR"),
    ("hdls1.testns.svc.cluster.local.", "AAAA"),
    ("svc.cluster.local.", "A"),
    ("svc.cluster.local.", "NS"),
    ("pod.cluster.local.", "A"),
    ("testns.svc.cluster.local.", "A"),
    ("testns.svc.cluster.local.", "NS"),
    ("testns.pod.cluster.local.", "A"),
    ("podns.svc.cluster.local.", "A"),  # a namespace with nothing in it still exists
    ("default.svc.cluster.local.", "A"),  # so do the API server's own namespaces
    ("cluster.local.", "A"),
    ("cluster.local.", "AAAA"),
    ("cluster.local.", "SRV"),
    ("cluster.local.", "HINFO"),
    ("ns.dns.cluster.local.", "AAAA"),
    ("external.testns.svc.cluster.local.", "MX"),
    ("10-244-1-5.testns.pod.cluster.local.", "AAAA"),
    ("10-244-1-5.testns.pod.cluster.local.", "TXT"),  # TXT: NODATA where the name finds items
    ("external.testns.svc.cluster.local.", "TXT"),
    ("svc0.testns.svc.cluster.local.", "SOA"),  # SOA below the apex: always NODATA (handler.go)
    ("nope.cluster.local.", "SOA"),
]

NXDOMAIN = [
    ("svc0.testns.svc.cluster.local.", "A"),  # unknown service
    ("svc0.testns.svc.cluster.local.", "AAAA"),
    ("svc0.svc-nons.svc.cluster.local.", "A"),  # unknown namespace
    ("svc-nons.svc.cluster.local.", "A"),
    ("foo.svc.cluster.local.", "NS"),
    ("bogusendpoint.hdls1.testns.svc.cluster.local.", "A"),  # unknown endpoint label
    ("bogusendpoint.svc0.testns.svc.cluster.local.", "A"),
    ("foo.cluster.local.", "A"),  # neither svc nor pod
    ("foo.cluster.local.", "NS"),
    ("a.b.c.svc1.testns.svc.cluster.local.", "A"),  # too many labels
    ("unready.testns.svc.cluster.local.", "A"),  # headless, no ready endpoint
    ("unready.testns.svc.cluster.local.", "SRV"),
    ("extip.testns.svc.cluster.local.", "A"),  # externalName looks like an IP
    ("extip.testns.svc.cluster.local.", "CNAME"),
    ("endpoint.external.testns.svc.cluster.local.", "CNAME"),  # below an ExternalName
    ("_nope._tcp.svc1.testns.svc.cluster.local.", "SRV"),  # no such port
    ("_http._udp.svc1.testns.svc.cluster.local.", "SRV"),  # wrong protocol
    ("*.testns.svc.cluster.local.", "A"),  # wildcards were removed in CoreDNS 1.9.0
    ("blah.podns.pod.cluster.local.", "A"),  # not an address
    ("blah.podns.pod.cluster.local.", "HINFO"),
    ("10-0-0-1.pod-nons.pod.cluster.local.", "A"),  # pod in a nonexistent namespace
    ("dns-version.cluster.local.", "A"),  # only the TXT is special (CoreDNS parse.go)
    ("svc0.testns.svc.cluster.local.", "TXT"),
    # CoreDNS answers a TXT query NODATA only when the name finds something; the apex, svc
    # and a namespace find nothing (kubernetes.go Services, TypeTXT), so they are NXDOMAIN.
    ("cluster.local.", "TXT"),
    ("svc.cluster.local.", "TXT"),
    ("testns.svc.cluster.local.", "TXT"),
    ("ns.dns.cluster.local.", "TXT"),
]


@pytest.mark.parametrize(("name", "qtype"), NODATA)
def test_nodata(zone, name, qtype):
    a = ask(zone, name, qtype)
    assert (RCODE[a.rcode], a.reply.rr) == ("NOERROR", [])
    assert lines(a.reply.auth) == [soa(zone)]
    assert a.reply.header.aa == 1


@pytest.mark.parametrize(("name", "qtype"), NXDOMAIN)
def test_nxdomain(zone, name, qtype):
    a = ask(zone, name, qtype)
    assert (RCODE[a.rcode], a.reply.rr) == ("NXDOMAIN", [])
    assert lines(a.reply.auth) == [soa(zone)]
    assert a.reply.header.aa == 1


def test_nxdomain_before_sync_is_servfail():
    services, slices, pods, namespaces = coredns_fixture()
    zone = ClusterZone(ttl=5)
    for svc in services:
        zone.apply("Service", svc)
    assert lines(ask(zone, "svc1.testns.svc.cluster.local.").reply.rr) == [
        "svc1.testns.svc.cluster.local. 5 A 10.0.0.1"
    ]
    assert ask(zone, "svc0.testns.svc.cluster.local.").rcode == RCODE.SERVFAIL
    zone.synced = True
    assert ask(zone, "svc0.testns.svc.cluster.local.").rcode == RCODE.NXDOMAIN


# --- the apex, SOA, NS, dns-version ---------------------------------------------------


def test_schema_version_txt(zone):
    """The plugin's own TTL for it, whatever `ttl` says (kubernetes.go); kubeadm's `cache 30`
    then lowers it on the wire (test_cluster_dns_server.py)."""
    a = ask(zone, "dns-version.cluster.local.", "TXT")
    assert lines(a.reply.rr) == ['dns-version.cluster.local. 28800 TXT "1.1.0"']
    assert lines(ask(zone, "DNS-Version.Cluster.Local.", "TXT").reply.rr) == [
        'DNS-Version.Cluster.Local. 28800 TXT "1.1.0"'
    ]
    ttl0 = ClusterZone.build(*coredns_fixture(), ttl=0)
    assert [r.ttl for r in ask(ttl0, "dns-version.cluster.local.", "TXT").reply.rr] == [28800]


@pytest.mark.parametrize("qtype", ["AXFR", "IXFR"])
@pytest.mark.parametrize(
    "name",
    ["cluster.local.", "svc1.testns.svc.cluster.local.", "nope.cluster.local.", "in-addr.arpa."],
)
def test_zone_transfers_are_refused(zone, name, qtype):
    """Regression (issue 12): without a `transfer` plugin the kubernetes plugin answers
    AXFR/IXFR with REFUSED (handler.go), which the server sends as a bare reply: the
    question, no records, no AA (core/dnsserver errorFunc). The lab answered NODATA."""
    q = query(name, qtype, edns=1232)
    reply = answer(zone, q).reply
    assert (RCODE[reply.header.rcode], reply.header.aa, reply.header.qr) == ("REFUSED", 0, 1)
    assert (reply.q, reply.rr, reply.auth) == (q.q, [], [])
    assert [QTYPE[r.rtype] for r in reply.ar] == ["OPT"]  # EDNS echoed (SizeAndDo)


def test_zone_transfers_of_other_names_go_upstream(zone):
    assert answer(zone, query("example.com.", "AXFR")).forward


def test_apex_soa_and_ns(zone):
    assert lines(ask(zone, "cluster.local.", "SOA").reply.rr) == [soa(zone)]
    ns = ask(zone, "cluster.local.", "NS").reply
    assert lines(ns.rr) == ["cluster.local. 5 NS ns.dns.cluster.local."]
    assert lines(ns.ar) == ["ns.dns.cluster.local. 5 A 10.96.0.10"]
    assert lines(ask(zone, "ns.dns.cluster.local.").reply.rr) == [
        "ns.dns.cluster.local. 5 A 10.96.0.10"
    ]


def test_soa_ttl_is_capped_at_300_and_serial_is_the_newest_resource_version():
    services, slices, pods, namespaces = coredns_fixture()
    zone = ClusterZone.build(services, slices, pods, namespaces, ttl=600)
    newest = max(
        int(o["metadata"]["resourceVersion"]) for o in services + slices + pods + namespaces
    )
    record = ask(zone, "nope.cluster.local.").reply.auth[0]
    assert record.ttl == 300
    assert record.rdata.times == (newest, 7200, 1800, 86400, 600)


def test_kubeadm_ttl_is_the_default_and_configurable():
    svc = service("web", cluster_ip="10.96.0.20")
    assert (
        ask(ClusterZone.build([svc], [], []), "web.default.svc.cluster.local").reply.rr[0].ttl == 30
    )
    assert (
        ask(ClusterZone.build([svc], [], [], ttl=0), "web.default.svc.cluster.local")
        .reply.rr[0]
        .ttl
        == 0
    )
    with pytest.raises(ValueError):
        ClusterZone(ttl=3601)


def test_other_cluster_domain():
    zone = ClusterZone.build([service("web")], [], [], domain="lab.test")
    assert lines(ask(zone, "web.default.svc.lab.test").reply.rr) == [
        "web.default.svc.lab.test. 30 A 10.96.0.20"
    ]
    assert ask(zone, "web.default.svc.cluster.local").forward


# --- case, flags, EDNS -------------------------------------------------------------------


def test_answers_keep_the_question_spelling(zone):
    a = ask(zone, "SvC1.TeStNs.SvC.cLuStEr.LoCaL.")
    assert lines(a.reply.rr) == ["SvC1.TeStNs.SvC.cLuStEr.LoCaL. 5 A 10.0.0.1"]
    srv = ask(zone, "_HtTp._TcP.sVc1.TeStNs.SvC.cLuStEr.LoCaL.", "SRV")
    assert lines(srv.reply.rr) == [
        "_HtTp._TcP.sVc1.TeStNs.SvC.cLuStEr.LoCaL. 5 SRV 0 100 80 svc1.testns.svc.cLuStEr.LoCaL."
    ]
    assert lines(srv.reply.ar) == ["svc1.testns.svc.cLuStEr.LoCaL. 5 A 10.0.0.1"]
    negative = ask(zone, "not-a-service.testns.svc.ClUsTeR.lOcAl.")
    assert lines(negative.reply.auth)[0].startswith(
        "ClUsTeR.lOcAl. 5 SOA ns.dns.ClUsTeR.lOcAl. hostmaster.ClUsTeR.lOcAl."
    )
    assert lines(ask(zone, "Cluster.local.", "SOA").reply.rr)[0].startswith("Cluster.local. 5 SOA")
    assert lines(ask(zone, "DUP-NAME.HDLS1.testns.svc.cluster.local").reply.rr)[0].startswith(
        "DUP-NAME.HDLS1.testns.svc.cluster.local. 5 A"
    )


def test_header_flags_as_coredns(zone):
    q = query("svc1.testns.svc.cluster.local.")
    q.header.id, q.header.rd, q.header.cd = 4242, 0, 1
    reply = answer(zone, q).reply
    h = reply.header
    assert (h.id, h.qr, h.aa, h.ra, h.rd, h.cd, h.tc, h.opcode) == (4242, 1, 1, 0, 0, 1, 0, 0)
    assert reply.q == q.q
    assert ask(zone, "svc0.testns.svc.cluster.local.", rd=1).reply.header.rd == 1


def test_edns_is_echoed(zone):
    reply = answer(zone, query("svc1.testns.svc.cluster.local.", edns=1232, do=True)).reply
    opt = reply.ar[-1]
    assert (opt.rtype, opt.edns_len, opt.edns_do, opt.edns_ver) == (QTYPE.OPT, 1232, 1, 0)
    tiny = answer(zone, query("svc1.testns.svc.cluster.local.", edns=100)).reply.ar[-1]
    assert (tiny.edns_len, tiny.edns_do) == (512, 0)
    srv = answer(zone, query("_http._tcp.svc1.testns.svc.cluster.local.", "SRV", edns=4096)).reply
    assert [QTYPE[r.rtype] for r in srv.ar] == ["A", "OPT"]
    assert answer(zone, query("svc1.testns.svc.cluster.local.")).reply.ar == []


# --- pods ------------------------------------------------------------------------------


def test_pods_insecure_answers_any_dashed_address_in_an_existing_namespace(zone):
    for name, ip in [
        ("10-240-0-1.podns.pod.cluster.local.", "10.240.0.1"),
        ("172-0-0-2.podns.pod.cluster.local.", "172.0.0.2"),
        ("10-244-1-5.testns.pod.cluster.local.", "10.244.1.5"),
    ]:
        assert lines(ask(zone, name).reply.rr) == [f"{name} 5 A {ip}"]
    v6 = ask(zone, "fd00--1.podns.pod.cluster.local.", "AAAA")
    assert lines(v6.reply.rr) == ["fd00--1.podns.pod.cluster.local. 5 AAAA fd00::1"]


def test_pod_name_quirks_kept_from_coredns(zone):
    """Labels left of the pod label are not read; a pod's SRV has port 0."""
    a = ask(zone, "anything.10-0-0-1.podns.pod.cluster.local.")
    assert [rr.rdata.toZone() for rr in a.reply.rr] == ["10.0.0.1"]
    srv = ask(zone, "10-0-0-1.podns.pod.cluster.local.", "SRV")
    assert lines(srv.reply.rr) == [
        "10-0-0-1.podns.pod.cluster.local. 5 SRV 0 100 0 10-0-0-1.podns.pod.cluster.local."
    ]


def test_pods_verified_and_disabled():
    services, slices, pods, namespaces = coredns_fixture()
    verified = ClusterZone.build(services, slices, pods, namespaces, pods_mode="verified")
    assert [
        r.rdata.toZone() for r in ask(verified, "10-244-1-5.testns.pod.cluster.local").reply.rr
    ] == ["10.244.1.5"]
    assert ask(verified, "10-244-1-5.podns.pod.cluster.local").rcode == RCODE.NXDOMAIN
    assert ask(verified, "10-244-1-6.testns.pod.cluster.local").rcode == RCODE.NXDOMAIN
    verified.apply("Pod", pods[0], deleted=True)
    assert ask(verified, "10-244-1-5.testns.pod.cluster.local").rcode == RCODE.NXDOMAIN
    disabled = ClusterZone.build(services, slices, pods, namespaces, pods_mode="disabled")
    assert ask(disabled, "10-244-1-5.testns.pod.cluster.local").rcode == RCODE.NXDOMAIN
    assert ask(disabled, "testns.pod.cluster.local").rcode == RCODE.NXDOMAIN
    assert ask(disabled, "pod.cluster.local").rcode == RCODE.NOERROR


# --- reverse names ----------------------------------------------------------------------


def test_ptr_for_a_cluster_ip(zone):
    a = ask(zone, "9.0.0.10.in-addr.arpa.", "PTR")
    assert lines(a.reply.rr) == ["9.0.0.10.in-addr.arpa. 5 PTR twoports.testns.svc.cluster.local."]
    assert a.reply.header.aa == 1


def test_ptr_for_headless_and_clusterip_endpoints(zone):
    assert lines(ask(zone, "4.0.0.172.in-addr.arpa.", "PTR").reply.rr) == [
        "4.0.0.172.in-addr.arpa. 5 PTR dup-name.hdls1.testns.svc.cluster.local."
    ]
    assert lines(ask(zone, "2.0.0.172.in-addr.arpa.", "PTR").reply.rr) == [
        "2.0.0.172.in-addr.arpa. 5 PTR 172-0-0-2.hdls1.testns.svc.cluster.local."
    ]
    assert lines(ask(zone, "1.0.0.172.in-addr.arpa.", "PTR").reply.rr) == [
        "1.0.0.172.in-addr.arpa. 5 PTR ep1a.svc1.testns.svc.cluster.local."
    ]


def test_an_address_selected_by_two_services_has_two_ptrs():
    zone = ClusterZone.build(
        [headless("a"), headless("b")],
        [
            endpoint_slice("a", [endpoint("10.244.1.7", "x")]),
            endpoint_slice("b", [endpoint("10.244.1.7")], name="b-1"),
        ],
        [],
    )
    assert lines(ask(zone, "7.1.244.10.in-addr.arpa", "PTR").reply.rr) == [
        "7.1.244.10.in-addr.arpa. 30 PTR x.a.default.svc.cluster.local.",
        "7.1.244.10.in-addr.arpa. 30 PTR 10-244-1-7.b.default.svc.cluster.local.",
    ]


@pytest.mark.parametrize(
    ("name", "qtype"),
    [
        ("99.0.0.10.in-addr.arpa.", "PTR"),  # an address the zone does not know
        ("30.0.0.172.in-addr.arpa.", "PTR"),  # a not-ready endpoint
        ("9.0.0.10.in-addr.arpa.", "A"),  # only PTR is answered under in-addr.arpa
        ("0.0.10.in-addr.arpa.", "PTR"),  # a partial reverse name
        ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa.", "PTR"),
        ("example.com.", "A"),
        ("kubernetes.default.svc.cluster.local.example.com.", "A"),
    ],
)
def test_forwarded(zone, name, qtype):
    a = ask(zone, name, qtype)
    assert a.forward and a.reply is None and a.pack() is None


def test_reverse_names_fall_through_even_before_sync():
    assert ask(ClusterZone(), "1.0.96.10.in-addr.arpa", "PTR").forward


# --- reverse zones and fallthrough (CoreDNS reverse_test.go, IPv4 parts) -----------------


def reverse_fixture_zone(**options) -> ClusterZone:
    """reverse_test.go's objects: svc1 (ClusterIP 192.168.1.100) with endpoints ep1a
    10.0.0.100 (in two of its slices) and double-ep 10.0.0.99, which svc2 selects too."""
    svc1 = service("svc1", "testns", "192.168.1.100", [{"name": "http", "port": 80}])
    http = [{"name": "http", "port": 80, "protocol": "TCP"}]
    slices = [
        endpoint_slice(
            "svc1",
            [endpoint("10.0.0.100", "ep1a"), endpoint("10.0.0.99", "double-ep")],
            http,
            "testns",
            "svc1-slice1",
        ),
        endpoint_slice("svc1", [endpoint("10.0.0.100", "ep1a")], http, "testns", "svc1-ccccc"),
        endpoint_slice("svc2", [endpoint("10.0.0.99", "double-ep")], http, "testns", "svc2-s1"),
    ]
    return ClusterZone.build([svc1], slices, [], [], ttl=5, **options)


REVERSE_ZONES = ("0.10.in-addr.arpa", "168.192.in-addr.arpa")
SOA_0_10 = "0.10.in-addr.arpa. 5 SOA ns.dns.0.10.in-addr.arpa. hostmaster.0.10.in-addr.arpa."
SOA_CLUSTER = "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local."


@pytest.mark.parametrize(
    ("name", "qtype", "rcode", "answers", "authority"),
    [
        ("100.0.0.10.in-addr.arpa.", "PTR", "NOERROR", ["ep1a.svc1.testns.svc.cluster.local."], None),
        ("100.1.168.192.in-addr.arpa.", "PTR", "NOERROR", ["svc1.testns.svc.cluster.local."], None),
        ("101.0.0.10.in-addr.arpa.", "PTR", "NXDOMAIN", [], SOA_0_10),
        ("example.org.cluster.local.", "PTR", "NXDOMAIN", [], SOA_CLUSTER),
        ("svc1.testns.svc.cluster.local.", "PTR", "NOERROR", [], SOA_CLUSTER),
        ("svc1.testns.svc.0.10.in-addr.arpa.", "A", "NXDOMAIN", [], SOA_0_10),
        ("100.0.0.10.cluster.local.", "PTR", "NXDOMAIN", [], SOA_CLUSTER),
        (
            "99.0.0.10.in-addr.arpa.",
            "PTR",
            "NOERROR",
            ["double-ep.svc1.testns.svc.cluster.local.", "double-ep.svc2.testns.svc.cluster.local."],
            None,
        ),
    ],
)  # fmt: skip
def test_reverse_zones_as_coredns_reverse_test(name, qtype, rcode, answers, authority):
    """`kubernetes cluster.local 0.10.in-addr.arpa 168.192.in-addr.arpa`, no fallthrough."""
    zone = reverse_fixture_zone(other_zones=REVERSE_ZONES, fallthrough=None)
    a = ask(zone, name, qtype)
    assert RCODE[a.rcode] == rcode and a.reply.header.aa == 1
    assert [r.rdata.toZone() for r in a.reply.rr] == answers
    assert [line.rsplit(" ", 5)[0] for line in lines(a.reply.auth)] == (
        [authority] if authority else []
    )


def test_reverse_names_outside_the_plugins_zones_go_upstream():
    """Regression (issue 12): the Corefile's reverse zones decide which PTRs are answered
    here; the lab answered every in-addr.arpa name whatever the Corefile listed."""
    zone = reverse_fixture_zone(other_zones=REVERSE_ZONES, fallthrough=None)
    assert ask(zone, "1.0.0.11.in-addr.arpa.", "PTR").forward  # 11.x is not a listed zone
    only_cluster = reverse_fixture_zone(other_zones=(), fallthrough=None)
    for name in ("100.1.168.192.in-addr.arpa.", "100.0.0.10.in-addr.arpa."):
        assert ask(only_cluster, name, "PTR").forward  # a ClusterIP, but not ours to answer
    assert lines(ask(only_cluster, "svc1.testns.svc.cluster.local").reply.rr) == [
        "svc1.testns.svc.cluster.local. 5 A 192.168.1.100"
    ]


def test_without_fallthrough_an_unknown_reverse_name_is_nxdomain_here():
    """Regression (issue 12): removing `fallthrough in-addr.arpa ip6.arpa` from kubeadm's
    Corefile makes the plugin answer NXDOMAIN itself, with the reverse zone's SOA."""
    zone = reverse_fixture_zone(fallthrough=None)  # kubeadm's zones, no fallthrough
    v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa."
    for name, qtype, apex in [
        ("101.0.0.10.in-addr.arpa.", "PTR", "in-addr.arpa."),
        ("0.0.10.in-addr.arpa.", "PTR", "in-addr.arpa."),  # a partial name spells no address
        ("100.0.0.10.in-addr.arpa.", "A", "in-addr.arpa."),  # only PTR reads an address
        (v6, "PTR", "ip6.arpa."),  # the lab has no IPv6 data (zone.py)
    ]:
        a = ask(zone, name, qtype)
        assert (RCODE[a.rcode], a.reply.header.aa) == ("NXDOMAIN", 1), name
        assert lines(a.reply.auth)[0].startswith(f"{apex} 5 SOA ns.dns.{apex} hostmaster.{apex}")
    soa_rr = lines(ask(zone, "in-addr.arpa.", "SOA").reply.rr)
    assert soa_rr[0].startswith("in-addr.arpa. 5 SOA ns.dns.in-addr.arpa.")
    assert lines(ask(zone, "100.0.0.10.in-addr.arpa.", "PTR").reply.rr) == [
        "100.0.0.10.in-addr.arpa. 5 PTR ep1a.svc1.testns.svc.cluster.local."
    ]


def test_fallthrough_zones_decide_what_goes_upstream():
    only_v4 = reverse_fixture_zone(fallthrough=("in-addr.arpa",))
    v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa."
    assert ask(only_v4, "101.0.0.10.in-addr.arpa.", "PTR").forward
    assert ask(only_v4, v6, "PTR").rcode == RCODE.NXDOMAIN
    everything = reverse_fixture_zone(fallthrough=(".",))  # `fallthrough` with no zones
    assert ask(everything, "nope.testns.svc.cluster.local.").forward  # NXDOMAIN goes on
    assert ask(everything, "svc1.testns.svc.cluster.local.", "AAAA").rcode == RCODE.NOERROR
    unsynced = ClusterZone(fallthrough=(".",))  # handler.go: fallthrough before the sync check
    assert ask(unsynced, "nope.default.svc.cluster.local.").forward


# --- the spec's own example, and agreement with records() ------------------------------


def test_spec_examples_on_a_kubeadm_zone():
    kubernetes = service(
        "kubernetes",
        cluster_ip="10.96.0.1",
        ports=[{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
    )
    zone = ClusterZone.build([kubernetes], [], [])
    assert lines(ask(zone, "kubernetes.default.svc.cluster.local").reply.rr) == [
        "kubernetes.default.svc.cluster.local. 30 A 10.96.0.1"
    ]
    assert lines(ask(zone, "_https._tcp.kubernetes.default.svc.cluster.local", "SRV").reply.rr) == [
        "_https._tcp.kubernetes.default.svc.cluster.local. 30 SRV 0 100 443 kubernetes.default.svc.cluster.local."
    ]
    assert lines(ask(zone, "1.0.96.10.in-addr.arpa", "PTR").reply.rr) == [
        "1.0.96.10.in-addr.arpa. 30 PTR kubernetes.default.svc.cluster.local."
    ]


def test_every_listed_record_is_answered(zone):
    for name, ttl, kind, data in zone.records():
        a = ask(zone, name, kind)
        answered = [line.split(" ", 3) for line in lines(a.reply.rr)] if a.reply else []
        assert [name, str(ttl), kind, data] in answered, (name, kind)


def test_load_balance_shuffles_addresses_only():
    zone = ClusterZone.build(
        [headless("big")],
        [endpoint_slice("big", [endpoint(f"10.244.1.{i}") for i in range(1, 9)])],
        [],
    )
    reply = ask(zone, "big.default.svc.cluster.local").reply
    before = lines(reply.rr)
    load_balance(reply, random.Random(7))
    assert sorted(lines(reply.rr)) == sorted(before) and lines(reply.rr) != before
    chained = ask(coredns_zone(), "external-to-service.testns.svc.cluster.local").reply
    load_balance(chained, random.Random(1))
    assert QTYPE[chained.rr[0].rtype] == "CNAME"


def coredns_zone() -> ClusterZone:
    return ClusterZone.build(*coredns_fixture(), ttl=5)
