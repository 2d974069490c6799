"""Lab 13's named checks over data (answers, the load balancer's view, packets, health-check
answers, a failover timeline): each passes on what a working lab shows and fails, saying what
it saw, on what a broken one would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab13 import (
    CLIENT_IP,
    FIRST,
    check_all_pods_answer,
    check_failover,
    check_lb_entry,
    check_local_rotation,
    check_one_way_through_lb,
    check_pods_see_the_client,
    check_second_load_balancer,
    check_vip_path,
)
from lab_kit.lab.lb_view import LoadBalancerView
from lab_kit.lab.packets import PacketRow, PacketTable
from lab_kit.render import cloud_lb

IDS = {"1": "rg-a", "2": "rg-b", "3": "rg-c", "4": "rg-d"}


def lb(
    rotation=("node1", "node2", "node3"), check=(10256, "/healthz"), mode="VIP"
) -> LoadBalancerView:
    nodes = [{"name": n, "inRotation": n in rotation} for n in ("node1", "node2", "node3")]
    entry = {"address": FIRST, "service": "default/random-generator", "mode": mode,
             "externalTrafficPolicy": "Cluster", "nodes": nodes,
             "healthCheck": {"port": check[0], "path": check[1]}}  # fmt: skip
    return LoadBalancerView({"addresses": [entry]})


def row(src: str, dst: str, dport: int, flags: str = "S") -> PacketRow:
    return PacketRow(0.0, src, 40000, dst, dport, "TCP", 60, flags)


def test_every_pod_answers_through_the_load_balancer(capsys):
    answers = ["rg-a", "rg-b", "rg-c", "rg-d"] * 15
    check_all_pods_answer(answers, IDS)
    assert capsys.readouterr().out == (
        "✓ 60 answers: {'rg-a': 15, 'rg-b': 15, 'rg-c': 15, 'rg-d': 15}\n"
    )
    with pytest.raises(CheckFailed, match=r"all 4 pods answer; saw \['rg-a', 'rg-b'\]"):
        check_all_pods_answer(["rg-a", "rg-b"] * 30, IDS)
    with pytest.raises(CheckFailed, match="every request answered; saw 1"):
        check_all_pods_answer([*answers[:-1], "ERR"], IDS)


def test_the_load_balancer_checks_healthz_and_uses_every_node():
    check_lb_entry(lb(), FIRST)
    assert cloud_lb.KUBE_PROXY_HEALTHZ_PORT == 10256
    with pytest.raises(CheckFailed, match=r"in rotation: node1, node2, node3; saw \['node1'\]"):
        check_lb_entry(lb(rotation=("node1",)), FIRST)
    with pytest.raises(CheckFailed, match="health check :10256/healthz"):
        check_lb_entry(lb(check=(31000, "/")), FIRST)
    with pytest.raises(CheckFailed, match=f"an entry for {FIRST}"):
        check_lb_entry(LoadBalancerView({}), FIRST)


def test_only_requests_pass_the_load_balancer():
    rows = PacketTable([row(CLIENT_IP, FIRST, 8080)] * 5 + [row(CLIENT_IP, FIRST, 8080, "A")] * 5)
    check_one_way_through_lb(rows, FIRST)
    reply = row(FIRST, CLIENT_IP, 40000, "SA")
    with pytest.raises(CheckFailed, match=r"only 192.0.2.10 -> 198.51.100.32:8080"):
        check_one_way_through_lb(PacketTable([*rows, reply]), FIRST)


def test_the_drawn_path_shows_snat_and_direct_server_return():
    source = f"src {CLIENT_IP}:p -> dst {FIRST}:8080 ... KUBE-EXT: SNAT ... direct server return"
    drawn = SimpleNamespace(draw_load_balancer=lambda a: SimpleNamespace(source=source))
    check_vip_path(drawn, FIRST)
    drawn = SimpleNamespace(draw_load_balancer=lambda a: SimpleNamespace(source=source[:-22]))
    with pytest.raises(CheckFailed, match="'direct server return' in the drawn path"):
        check_vip_path(drawn, FIRST)


def pod(node: str) -> dict:
    return {"spec": {"nodeName": node}}


def health(code: int, local: int) -> SimpleNamespace:
    return SimpleNamespace(stdout=f'{{"localEndpoints": {local}}} {code}')


def test_health_checks_keep_only_the_nodes_with_a_pod():
    pods, with_pod = [pod("node1"), pod("node3")], ["node1", "node3"]
    checks = {"node1": health(200, 1), "node2": health(503, 0), "node3": health(200, 1)}
    view = lb(rotation=with_pod, check=(31877, "/"))
    check_local_rotation(view, FIRST, pods, with_pod, checks, 31877)
    with pytest.raises(CheckFailed, match=r"node2 \(0 local\) answers 503"):
        check_local_rotation(
            view, FIRST, pods, with_pod, {**checks, "node2": health(200, 0)}, 31877
        )
    with pytest.raises(CheckFailed, match="the LB checks the healthCheckNodePort :31877/"):
        check_local_rotation(lb(rotation=with_pod), FIRST, pods, with_pod, checks, 31877)
    with pytest.raises(CheckFailed, match="2 pods on 2 nodes"):
        check_local_rotation(view, FIRST, [pod("node1"), pod("node1")], ["node1"], checks, 31877)


LABELS = {"rg-a": "rg-a @ node1", "rg-b": "rg-b @ node2"}


def timeline(*lost: float, victim_back: float = 12.0) -> list[tuple[float, str]]:
    """Requests every 0.1 s for 16 s: node1's pod until the cut at 3 s and again from
    `victim_back`, node2's pod otherwise; ERR at the `lost` times."""
    out = []
    for i in range(160):
        t = i / 10
        who = "rg-a @ node1" if (t < 3 or t >= victim_back) and i % 2 else "rg-b @ node2"
        out.append((t, "ERR" if any(abs(t - x) < 0.01 for x in lost) else who))
    return out


def test_a_failover_loses_requests_only_until_the_node_leaves():
    check_failover(timeline(3.1, 4.5), LABELS, "node1", cut=3.0, out=6.0, back=11.0)
    with pytest.raises(CheckFailed, match=r"lost only between 2.5 s and 7.0 s; saw \[9.0\]"):
        check_failover(timeline(3.1, 9.0), LABELS, "node1", cut=3.0, out=6.0, back=11.0)
    with pytest.raises(CheckFailed, match="some requests lost during the failover"):
        check_failover(timeline(), LABELS, "node1", cut=3.0, out=6.0, back=11.0)
    slow = cloud_lb.LEAVES_ROTATION_WITHIN_S + 2
    with pytest.raises(CheckFailed, match="out of rotation within"):
        check_failover(timeline(3.1), LABELS, "node1", cut=3.0, out=3.0 + slow, back=12.0)
    with pytest.raises(CheckFailed, match="rg-a @ node1 answers again after node1 is back"):
        check_failover(timeline(3.1, victim_back=99), LABELS, "node1", cut=3.0, out=6.0, back=11.0)


def test_vip_shows_the_client_and_a_second_service_gets_the_next_address():
    check_pods_see_the_client([row(CLIENT_IP, "10.244.1.4", 8080)] * 10)
    with pytest.raises(CheckFailed, match="every SYN from the client"):
        check_pods_see_the_client([row("172.18.0.2", "10.244.1.4", 8080)] * 10)
    two = SimpleNamespace(load_balancer=lambda: [{}, {}])
    check_second_load_balancer(two, "198.51.100.33", FIRST, ["rg-a", "ERR", "rg-b"])
    with pytest.raises(CheckFailed, match="an answer through 198.51.100.33"):
        check_second_load_balancer(two, "198.51.100.33", FIRST, ["ERR"] * 3)
    with pytest.raises(CheckFailed, match="the next address 198.51.100.33; saw '198.51.100.34'"):
        check_second_load_balancer(two, "198.51.100.34", FIRST, ["rg-a"] * 3)
