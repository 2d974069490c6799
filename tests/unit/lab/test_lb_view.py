"""The cloud load balancer's view (`labkit lb`, `Lab.load_balancer()`) from the record the
agent writes, and the path of a request with its rewrites: VIP keeps the client's address
to the pod under Local, Proxy shows the LB's leg, Cluster a node's address."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab_kit.adapters.rundir import RunDir
from lab_kit.cli import main as cli
from lab_kit.lab import lb_view
from lab_kit.render import cloud_lb as lb

NODES = lb.lb_nodes([("node1", "172.18.0.2"), ("node2", "172.18.0.3")])


def record(mode: str = "VIP", policy: str = "Local", node2: str = lb.UNHEALTHY) -> dict:
    svc = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                 "healthCheckNodePort": 32000,
                 "ports": [{"port": 80, "protocol": "TCP", "nodePort": 31000}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.32", "ipMode": mode}]}},
    }  # fmt: skip
    fes = lb.frontends([svc], [{"metadata": {"name": n.name}} for n in NODES], NODES)
    health = {
        t: lb.Health(lb.HEALTHY if t.node == "node1" else node2, last="200" if t.node == "node1"
                     else "503")
        for t in lb.targets(fes, NODES)
    }  # fmt: skip
    return lb.view(lb.balance(fes, NODES, health), NODES, "172.18.255.254")


def test_the_table_names_each_address_its_mode_and_which_nodes_are_in():
    text = lb_view.lb_text(record())
    lines = text.splitlines()
    assert lines[0].startswith("cloud-lb (leg 172.18.255.254 on the node network): checks every")
    assert "out after 3 failures (within 4.0 s)" in lines[0]
    assert lines[1].split() == ["ADDRESS", "SERVICE", "MODE", "POLICY", "PORTS", "CHECK", "NODES"]
    assert lines[2].split()[:6] == ["198.51.100.32", "default/web", "VIP", "Local", "80/TCP",
                                    ":32000/"]  # fmt: skip
    assert lines[2].endswith("node1 ✓ 200, node2 ✗ 503")
    view = lb_view.LoadBalancerView(record())
    assert view.in_rotation("198.51.100.32") == ["node1"] and view.address("x") == {}


def test_no_node_passing_says_all_get_traffic_and_an_empty_record_says_why():
    assert "(none passes: all get traffic)" in lb_view.lb_text(record(node2=lb.UNHEALTHY) | {
        "addresses": [{**record()["addresses"][0], "failOpen": True}]})  # fmt: skip
    assert lb_view.lb_text({}).startswith("No load balancer view yet")


@pytest.mark.parametrize(
    ("mode", "policy", "at_node", "at_pod"),
    [
        ("VIP", "Local", ("192.0.2.10:p", "198.51.100.32:80"), "192.0.2.10:p"),
        ("VIP", "Cluster", ("192.0.2.10:p", "198.51.100.32:80"), "172.18.0.2:r"),
        ("Proxy", "Local", ("172.18.255.254:q", "172.18.0.2:31000"), "172.18.255.254:q"),
        ("Proxy", "Cluster", ("172.18.255.254:q", "172.18.0.2:31000"), "172.18.0.2:r"),
    ],
)
def test_each_hop_has_the_addresses_the_packet_has_there(mode, policy, at_node, at_pod):
    entry = record(mode, policy)["addresses"][0]
    hops = lb_view.path_hops(entry, entry["nodes"][0], "10.244.1.5", 8080, "172.18.255.254")
    assert [h["where"] for h in hops] == ["client", "leaving cloud-lb", "node1 (kube-proxy)", "pod"]
    assert (hops[0]["src"], hops[0]["dst"]) == ("192.0.2.10:p", "198.51.100.32:80")
    assert (hops[2]["src"], hops[2]["dst"]) == at_node
    assert (hops[3]["src"], hops[3]["dst"]) == (at_pod, "10.244.1.5:8080")


def test_the_graph_draws_the_reply_past_the_lb_in_vip_mode_and_through_it_in_proxy():
    vip = record("VIP")["addresses"][0]
    g = lb_view.path_graph(vip, vip["nodes"][0], "10.244.1.5", 8080, "172.18.255.254")
    assert "hop3 -> hop0" in g.source and "direct server return" in g.source
    proxy = record("Proxy")["addresses"][0]
    g = lb_view.path_graph(proxy, proxy["nodes"][0], "10.244.1.5", 8080, "172.18.255.254")
    assert "hop3 -> hop1" in g.source and "back through cloud-lb" in g.source
    assert "dst 198.51.100.32:80 → 172.18.0.2:31000" in g.source  # the rewrite, in red


def test_labkit_lb_prints_the_view_from_the_run_dir(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path))
    RunDir(str(tmp_path)).write_cloud_lb(record())
    assert cli.main(["lb"]) == 0
    assert "198.51.100.32   default/web" in capsys.readouterr().out
    assert cli.main(["lb", "198.51.100.99"]) == 1
    assert "serves no address 198.51.100.99" in capsys.readouterr().err
