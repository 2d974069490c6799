"""The zone as data: its listing, and how watch events change it."""

from __future__ import annotations

import copy

from dns_objects import (
    ask,
    coredns_fixture,
    endpoint,
    endpoint_slice,
    external,
    headless,
    many_services,
    namespace,
    pod,
    port,
    service,
    slice_port,
)
from dnslib import RCODE

from lab_kit.render.dns import ClusterZone
from lab_kit.render.dns.names import Request


def small_zone() -> ClusterZone:
    return ClusterZone.build(
        [
            service("web", cluster_ip="10.96.0.20", ports=[port("http", 80), port("", 8443)]),
            headless("db", ports=[port("pg", 5432)]),
            external("search", "search.example.com"),
        ],
        [
            endpoint_slice(
                "web", [endpoint("10.244.1.5")], [slice_port("http", 8080), slice_port("", 8443)]
            ),
            endpoint_slice(
                "db",
                [
                    endpoint("10.244.1.7", "db-0"),
                    endpoint("10.244.2.7", "db-1"),
                    endpoint("10.244.3.7", ready=False),
                ],
                [slice_port("pg", 5432)],
            ),
        ],
        [],
    )


def test_records_list_the_spec_records():
    assert small_zone().zone_text().splitlines() == [
        line.rstrip()
        for line in """\
dns-version.cluster.local.                         28800 IN TXT   "1.1.0"
ns.dns.cluster.local.                                 30 IN A     10.96.0.10
db.default.svc.cluster.local.                         30 IN A     10.244.1.7
db.default.svc.cluster.local.                         30 IN A     10.244.2.7
db-0.db.default.svc.cluster.local.                    30 IN A     10.244.1.7
db-1.db.default.svc.cluster.local.                    30 IN A     10.244.2.7
_pg._tcp.db.default.svc.cluster.local.                30 IN SRV   0 50 5432 db-0.db.default.svc.cluster.local.
_pg._tcp.db.default.svc.cluster.local.                30 IN SRV   0 50 5432 db-1.db.default.svc.cluster.local.
search.default.svc.cluster.local.                     30 IN CNAME search.example.com.
web.default.svc.cluster.local.                        30 IN A     10.96.0.20
10-244-1-5.web.default.svc.cluster.local.             30 IN A     10.244.1.5
_http._tcp.web.default.svc.cluster.local.             30 IN SRV   0 100 80 web.default.svc.cluster.local.
20.0.96.10.in-addr.arpa.                              30 IN PTR   web.default.svc.cluster.local.
5.1.244.10.in-addr.arpa.                              30 IN PTR   10-244-1-5.web.default.svc.cluster.local.
7.1.244.10.in-addr.arpa.                              30 IN PTR   db-0.db.default.svc.cluster.local.
7.2.244.10.in-addr.arpa.                              30 IN PTR   db-1.db.default.svc.cluster.local.
""".splitlines()
    ]


def test_build_equals_the_same_events_applied_one_by_one():
    services, slices, pods, namespaces = coredns_fixture()
    built = ClusterZone.build(services, slices, pods, namespaces)
    streamed = ClusterZone()
    for kind, objs in (
        ("Pod", pods),
        ("EndpointSlice", slices),
        ("Service", services),
        ("Namespace", namespaces),
    ):
        for obj in objs:
            streamed.apply(kind, obj)
    assert streamed.records() == built.records()
    assert not streamed.synced and built.synced


def test_slice_events_add_change_and_remove_endpoints():
    zone = ClusterZone.build([headless("db")], [], [])
    name = "db.default.svc.cluster.local"
    assert ask(zone, name).rcode == RCODE.NXDOMAIN  # no ready endpoints yet
    slc = endpoint_slice("db", [endpoint("10.244.1.7", ready=False)])
    zone.apply("EndpointSlice", slc)
    assert ask(zone, name).rcode == RCODE.NXDOMAIN
    slc = copy.deepcopy(slc)
    slc["endpoints"][0]["conditions"]["ready"] = True
    zone.apply("EndpointSlice", slc)
    assert [r.rdata.toZone() for r in ask(zone, name).reply.rr] == ["10.244.1.7"]
    assert zone.ptr("10.244.1.7") == ["10-244-1-7.db.default.svc.cluster.local."]
    zone.apply("EndpointSlice", slc, deleted=True)
    assert ask(zone, name).rcode == RCODE.NXDOMAIN
    assert zone.ptr("10.244.1.7") == []


def test_slices_join_their_service_by_label_not_by_name():
    zone = ClusterZone.build(
        [headless("db")], [endpoint_slice("db", [endpoint("10.244.1.7")], name="whatever")], []
    )
    assert zone.lookup(Request("svc", "default", "db"))
    relabeled = endpoint_slice("other", [endpoint("10.244.1.7")], name="whatever")
    zone.apply("EndpointSlice", relabeled)
    assert zone.lookup(Request("svc", "default", "db")) is None
    unlabeled = endpoint_slice("db", [endpoint("10.244.1.8")], name="bare")
    del unlabeled["metadata"]["labels"]["kubernetes.io/service-name"]
    zone.apply("EndpointSlice", unlabeled)
    assert zone.lookup(Request("svc", "default", "db")) is None


def test_ipv6_slices_are_ignored_but_their_namespace_exists():
    zone = ClusterZone.build(
        [], [endpoint_slice("v6", [endpoint("fd00::5")], ns="six", address_type="IPv6")], []
    )
    assert zone.namespace_exists("six")
    assert zone.ptr("fd00::5") == []


def test_ready_unset_counts_as_ready():
    zone = ClusterZone.build(
        [headless("db")], [endpoint_slice("db", [endpoint("10.244.1.7", ready=None)])], []
    )
    assert [i.host for i in zone.lookup(Request("svc", "default", "db"))] == ["10.244.1.7"]


def test_service_changes_replace_its_records():
    zone = ClusterZone.build([service("web", cluster_ip="10.96.0.20")], [], [])
    assert zone.ptr("10.96.0.20") == ["web.default.svc.cluster.local."]
    moved = service("web", cluster_ip="10.96.0.21")
    zone.apply("Service", moved)
    assert zone.ptr("10.96.0.20") == [] and zone.ptr("10.96.0.21")
    zone.apply("Service", external("web", "example.com"))
    assert zone.ptr("10.96.0.21") == []
    assert zone.lookup(Request("svc", "default", "web"))[0].host == "example.com"
    zone.apply("Service", moved, deleted=True)
    assert zone.lookup(Request("svc", "default", "web")) is None


def test_ipv6_cluster_ips_are_skipped():
    svc = service("dual", cluster_ip="10.96.0.30")
    svc["spec"]["clusterIPs"] = ["10.96.0.30", "fd00:96::30"]
    zone = ClusterZone.build([svc], [], [])
    assert [i.host for i in zone.lookup(Request("svc", "default", "dual"))] == ["10.96.0.30"]


def test_namespaces_exist_by_object_by_content_or_as_system_namespaces():
    zone = ClusterZone.build([], [], [], [namespace("empty")])
    assert zone.namespace_exists("empty")
    assert all(zone.namespace_exists(ns) for ns in ("default", "kube-system", "kube-public"))
    assert not zone.namespace_exists("nope")
    web = pod("web", "10.244.1.5", ns="team-a")
    zone.apply("Pod", web)
    assert zone.namespace_exists("team-a")
    zone.apply("Pod", web)  # MODIFIED: still one pod
    zone.apply("Pod", web, deleted=True)
    assert not zone.namespace_exists("team-a")
    zone.apply("Namespace", namespace("empty"), deleted=True)
    assert not zone.namespace_exists("empty")


def test_serial_follows_the_newest_resource_version():
    zone = ClusterZone()
    svc = service("web")
    svc["metadata"]["resourceVersion"] = "41"
    zone.apply("Service", svc)
    assert zone.serial == 41
    del svc["metadata"]["resourceVersion"]
    zone.apply("Service", svc)  # objects without a version still move the serial
    assert zone.serial == 42


def test_names_compare_case_insensitively_on_both_sides():
    svc = service("web")
    svc["metadata"]["namespace"] = "Default"  # not valid in Kubernetes, but never mind
    zone = ClusterZone.build([svc], [], [])
    assert zone.lookup(Request("svc", "default", "web"))


def test_other_kinds_are_ignored():
    zone = ClusterZone()
    zone.apply("ConfigMap", {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}})
    assert zone.serial == 0 and not zone.namespace_exists("y")


def test_a_thousand_services_build():
    """No timing assert (see objects.py's __main__ for the number); it just has to work."""
    zone = ClusterZone.build(*many_services(1000))
    assert zone.lookup(Request("svc", "ns9", "svc999", endpoint="10-244-3-250"))
    assert zone.ptr("10.96.4.250") == ["svc999.ns9.svc.cluster.local."]


def test_records_list_ptrs_only_under_the_plugins_reverse_zones():
    services = [service("web", cluster_ip="10.96.0.20")]
    listed = ClusterZone.build(services, [], [], other_zones=("96.10.in-addr.arpa",))
    assert ("20.0.96.10.in-addr.arpa.", 30, "PTR", "web.default.svc.cluster.local.") in (
        listed.records()
    )
    unlisted = ClusterZone.build(services, [], [], other_zones=())
    assert [r for r in unlisted.records() if r[2] == "PTR"] == []


def test_changes_since_names_what_cached_answers_read():
    web, shop = service("web", cluster_ip="10.96.0.20"), service("shop", cluster_ip="10.96.0.30")
    db = endpoint_slice("db", [endpoint("10.244.1.5", "db-0")])
    before = ClusterZone.build([web, shop, headless("db")], [db], [], [namespace("other")])
    moved = service("web", cluster_ip="10.96.0.21")
    after = ClusterZone.build([moved, shop, headless("db")], [], [], [])
    changes = after.changes_since(before)
    assert changes.services == {("default", "web"), ("default", "db")}  # its view; its slice
    assert changes.namespaces == {"other"}
    assert not changes.pods
    assert changes.keeps(("svc", "default", "shop"))
    assert not changes.keeps(("svc", "default", "web")) and not changes.keeps(
        ("svc", "default", "db")
    )
    assert changes.keeps(("pod", "default")) and not changes.keeps(("pod", "other"))
    assert not changes.keeps(None)  # negative answers, PTR, CNAME, the apex: never kept
    assert after.changes_since(after).services == frozenset()
    # Other options, or a zone not synced: anything may have changed.
    assert ClusterZone.build([web], ttl=5).changes_since(ClusterZone.build([web])) is None
    unsynced = ClusterZone()
    assert ClusterZone.build([web]).changes_since(unsynced) is None


def test_changes_since_in_pods_verified_mode_follow_pod_addresses():
    pods = [pod("a", "10.244.1.5")]
    before = ClusterZone.build([], [], pods, [], pods_mode="verified")
    same = ClusterZone.build([], [], pods, [], pods_mode="verified")
    after = ClusterZone.build([], [], [*pods, pod("b", "10.244.1.6")], [], pods_mode="verified")
    assert same.changes_since(before).keeps(("pod", "default"))
    assert not after.changes_since(before).keeps(("pod", "default"))
    insecure = ClusterZone.build([], [], [*pods, pod("b", "10.244.1.6")], [])
    assert insecure.changes_since(ClusterZone.build([], [], pods, [])).keeps(("pod", "default"))
