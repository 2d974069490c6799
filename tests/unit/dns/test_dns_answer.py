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
    ("cluster.local.", "TXT"),
    ("ns.dns.cluster.local.", "AAAA"),
    ("external.testns.svc.cluster.local.", "MX"),
    ("10-244-1-5.testns.pod.cluster.local.", "AAAA"),
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
    ("svc0.testns.svc.cluster.local.", "TXT"),  # CoreDNS says NODATA here; see answer.py
    ("svc0.testns.svc.cluster.local.", "SOA"),
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
    a = ask(zone, "dns-version.cluster.local.", "TXT")
    assert lines(a.reply.rr) == ['dns-version.cluster.local. 28800 TXT "1.1.0"']


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
        ("in-addr.arpa.", "SOA"),
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
