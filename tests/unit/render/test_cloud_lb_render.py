"""The cloud load balancer's pure decisions: which Services and nodes, health thresholds on
virtual time, fail open, the Maglev table, the nft ruleset and the plumbing plans."""

from __future__ import annotations

from collections import Counter

import pytest

from lab_kit.render import cloud_lb as lb

NODES = lb.lb_nodes([("node1", "172.18.0.2"), ("node2", "172.18.0.3"), ("node3", "172.18.0.4")])


def node(name: str, labels: dict | None = None, **extra: object) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}, **extra}}


REGISTERED = [node("node1"), node("node2"), node("node3")]


def service(name: str, ip: str | None = "198.51.100.40", mode: str | None = None,
            policy: str = "Cluster", **spec: object) -> dict:  # fmt: skip
    ingress: dict = {"ip": ip} if ip else {"hostname": "lb.example"}
    if mode:
        ingress["ipMode"] = mode
    body = {
        "type": "LoadBalancer",
        "ports": [{"port": 80, "protocol": "TCP", "nodePort": 31000}],
        "externalTrafficPolicy": policy,
        **spec,
    }
    if policy == "Local":
        body.setdefault("healthCheckNodePort", 32000)
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": body,
        "status": {"loadBalancer": {"ingress": [ingress]}},
    }


def test_marks_and_tables_follow_the_topology_order():
    assert [(n.name, n.mark, n.route_table) for n in NODES] == [
        ("node1", 1, 101), ("node2", 2, 102), ("node3", 3, 103),
    ]  # fmt: skip


def test_the_leg_takes_the_last_free_address_of_the_node_network():
    assert lb.leg_address("172.18.0.0/16", ["172.18.0.2"]) == "172.18.255.254"
    assert lb.leg_address("172.18.0.0/29", ["172.18.0.6", "172.18.0.2"]) == "172.18.0.5"
    assert lb.leg_interface("cloud-lb") == "cloud-lb-eth1"


@pytest.mark.parametrize(
    ("obj", "eligible"),
    [
        (node("n"), True),
        (node("n", {lb.EXCLUDE_LABEL: ""}), False),  # present, not a bool: excluded
        (node("n", {lb.EXCLUDE_LABEL: "true"}), False),
        (node("n", {lb.EXCLUDE_LABEL: "false"}), True),  # ParseBool says false: kept
        (node("n", {lb.EXCLUDE_LABEL: "0"}), True),
        (node("n", deletionTimestamp="2024-01-01T00:00:00Z"), False),
        ({**node("n"), "spec": {"taints": [{"key": lb.TO_BE_DELETED_TAINT}]}}, False),
        ({**node("n"), "status": {"conditions": [{"type": "Ready", "status": "False"}]}}, True),
    ],
)
def test_node_predicates_are_the_service_controllers(obj: dict, eligible: bool):
    assert lb.is_eligible(obj) is eligible


def test_frontends_take_load_balancers_with_an_ipv4_ingress_and_no_class():
    services = [
        service("web"),
        service("other-class", "198.51.100.41", loadBalancerClass="example.com/lb"),
        service("hostname-only", None),
        service("v6", "2001:db8::1"),
        {**service("nodeport", "198.51.100.42"), "spec": {"type": "NodePort", "ports": []}},
    ]
    fes = lb.frontends(services, REGISTERED, NODES)
    assert [(f.address, f.service, f.mode) for f in fes] == [
        ("198.51.100.40", "default/web", "VIP")
    ]
    assert fes[0].nodes == ("node1", "node2", "node3")


def test_health_check_is_the_services_port_under_local_and_kube_proxys_under_cluster():
    local, cluster = lb.frontends(
        [service("a", policy="Local"), service("b", "198.51.100.41")], REGISTERED, NODES
    )
    assert (local.check.port, local.check.path) == (32000, "/")
    assert (cluster.check.port, cluster.check.path) == (10256, "/healthz")
    assert lb.Target("node1", "172.18.0.2", local.check).url == "http://172.18.0.2:32000/"


def test_excluded_and_unregistered_nodes_are_no_candidates():
    registered = [node("node1"), node("node2", {lb.EXCLUDE_LABEL: "true"})]  # node3 unknown
    (fe,) = lb.frontends([service("web")], registered, NODES)
    assert fe.nodes == ("node1",)


def test_an_address_port_held_by_an_earlier_service_is_left_to_it():
    a, b = service("a"), service("b")  # same address and port
    fes = lb.frontends([b, a], REGISTERED, NODES)
    assert [f.service for f in fes] == ["default/a"]


def test_proxy_mode_needs_node_ports():
    svc = service("p", mode="Proxy", allocateLoadBalancerNodePorts=False)
    svc["spec"]["ports"] = [{"port": 80, "protocol": "TCP"}]
    assert lb.frontends([svc], REGISTERED, NODES) == []


def test_health_thresholds_on_virtual_time():
    h = lb.Health()
    h = lb.observe(h, True, 10.0, "200")
    assert (h.state, h.since) == (lb.HEALTHY, 10.0)  # healthy after one pass (GKE: 1)
    for t in (11.0, 12.0):
        h = lb.observe(h, False, t, "503")
        assert h.state == lb.HEALTHY  # 1 and 2 failures: still in
    h = lb.observe(h, False, 13.0, "timeout")
    assert (h.state, h.since, h.last, h.failures) == (lb.UNHEALTHY, 13.0, "timeout", 3)
    h = lb.observe(h, True, 14.0, "200")
    assert (h.state, h.since) == (lb.HEALTHY, 14.0)


def test_a_node_never_seen_passing_is_out_from_its_first_failure():
    assert lb.observe(lb.Health(), False, 1.0, "503").state == lb.UNHEALTHY


def test_the_stated_time_to_leave_the_rotation():
    assert lb.LEAVES_ROTATION_WITHIN_S == 1.0 * 3 + 1.0
    assert lb.GKE_CHECK_INTERVAL_S * lb.GKE_UNHEALTHY_THRESHOLD + lb.GKE_CHECK_TIMEOUT_S == 25.0


def healthy_except(fes: list[lb.Frontend], *down: str) -> dict[lb.Target, lb.Health]:
    return {
        t: lb.Health(lb.UNHEALTHY if t.node in down else lb.HEALTHY) for t in lb.targets(fes, NODES)
    }


def test_only_passing_nodes_get_flows_and_none_passing_fails_open():
    fes = lb.frontends([service("web", policy="Local")], REGISTERED, NODES)
    (b,) = lb.balance(fes, NODES, healthy_except(fes, "node3"))
    assert [n.name for n in b.backends] == ["node1", "node2"] and not b.fail_open
    (b,) = lb.balance(fes, NODES, healthy_except(fes, "node1", "node2", "node3"))
    assert [n.name for n in b.backends] == ["node1", "node2", "node3"] and b.fail_open


def test_maglev_table_is_balanced_and_moves_only_the_leaving_nodes_slots():
    three = lb.maglev_table(["node1", "node2", "node3"])
    two = lb.maglev_table(["node1", "node2"])
    assert len(three) == lb.LOOKUP_SIZE
    assert sorted(Counter(three).values()) == [10, 10, 11]
    moved = [i for i, (a, b) in enumerate(zip(three, two, strict=True)) if a != b]
    assert all(three[i] == "node3" for i in moved)
    assert lb.maglev_table(["node2", "node1", "node3"]) == three  # order does not matter
    assert lb.maglev_table([]) == []


def test_vip_ruleset_marks_each_packet_untracked_and_proxy_rewrites_both_addresses():
    fes = lb.frontends(
        [service("web", "198.51.100.40", "VIP"),
         service("px", "198.51.100.41", "Proxy", policy="Local")],
        REGISTERED, NODES,
    )  # fmt: skip
    text = lb.render_ruleset(lb.balance(fes, NODES, healthy_except(fes, "node2")), "cloud-lb-eth1")
    lines = [line.strip() for line in text.splitlines()]
    assert lines[:3] == ["table ip cloud-lb", "delete table ip cloud-lb", "table ip cloud-lb {"]
    assert ('ip daddr 198.51.100.40 tcp dport 80 jump vip-198.51.100.40-tcp-80 '
            'comment "default/web:80/tcp VIP"') in lines  # fmt: skip
    vip = next(x for x in lines if x.startswith("notrack counter meta mark set jhash"))
    assert "mod 31 seed 0x6c6b map { 0 : " in vip
    marks = {s.split(" : ")[1] for s in vip.split("map { ")[1].rstrip(" }").split(", ")}
    assert marks == {"0x1", "0x3"}  # node2 is out
    proxy = next(x for x in lines if x.startswith("counter dnat to jhash"))
    targets = {s.split(" : ")[1] for s in proxy.split("map { ")[1].rstrip(" }").split(", ")}
    assert targets == {"172.18.0.2 . 31000", "172.18.0.4 . 31000"}
    assert (
        'oifname "cloud-lb-eth1" ct status dnat masquerade comment "Proxy: the node sees the LB"'
        in lines
    )
    assert any(
        x.startswith("ip daddr { 198.51.100.40, 198.51.100.41 } meta mark 0 drop") for x in lines
    )
    assert any(x.startswith("ip saddr { 198.51.100.40 } counter") for x in lines)


def test_no_candidate_node_drops_and_no_address_leaves_empty_base_chains():
    fes = lb.frontends([service("web")], [], NODES)
    (b,) = lb.balance(fes, NODES, {})
    assert b.backends == ()
    assert 'drop comment "no node to send it to"' in lb.render_ruleset([b], "leg")
    empty = lb.render_ruleset([], "leg")
    assert "jump" not in empty and "chain prerouting {" in empty


def test_plumbing_plans_stay_in_the_named_namespaces():
    host = lb.host_plan("cloud-lb-eth1", "172.18.255.254", 16, "198.51.100.32/27", NODES[:1])
    assert host == [
        ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
        ["ip", "addr", "add", "172.18.255.254/16", "dev", "cloud-lb-eth1"],
        ["ip", "link", "set", "cloud-lb-eth1", "up"],
        ["ip", "route", "add", "blackhole", "198.51.100.32/27"],
        ["ip", "route", "replace", "default", "via", "172.18.0.2", "dev", "cloud-lb-eth1",
         "table", "101"],
        ["ip", "rule", "add", "fwmark", "1", "table", "101", "priority", "1001"],
    ]  # fmt: skip
    router = lb.router_plan("198.51.100.32/27", "198.51.100.10", "gw-eth1", "gw-eth0")
    assert router[0] == ["ip", "route", "add", "198.51.100.32/27", "via", "198.51.100.10",
                         "dev", "gw-eth1"]  # fmt: skip
    assert ["sysctl", "-qw", "net.ipv4.conf.gw-eth0.rp_filter=2"] in router
    assert not [a for a in host + router if "netns" in a or "-n" in a]


def test_view_lists_each_address_with_its_nodes_health():
    fes = lb.frontends([service("web", policy="Local")], REGISTERED, NODES)
    plan = lb.balance(fes, NODES, healthy_except(fes, "node3"))
    v = lb.view(plan, NODES, "172.18.255.254")
    (entry,) = v["addresses"]
    assert (entry["address"], entry["mode"], entry["externalTrafficPolicy"]) == (
        "198.51.100.40", "VIP", "Local",
    )  # fmt: skip
    assert [(n["name"], n["state"], n["inRotation"]) for n in entry["nodes"]] == [
        ("node1", "Healthy", True), ("node2", "Healthy", True), ("node3", "Unhealthy", False),
    ]  # fmt: skip
    assert v["settings"]["leavesRotationWithinS"] == lb.LEAVES_ROTATION_WITHIN_S
