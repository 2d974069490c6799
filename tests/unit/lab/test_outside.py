"""`Outside` against a fake run of commands: which commands run in which host's namespaces,
in which order, and what the run dir remembers (the partition flag, the firewall)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.host_commands import FakeHostCommands
from lab_kit.adapters.rundir import RunDir
from lab_kit.lab.errors import LabError
from lab_kit.lab.outside import Outside

MAC = "02:42:ac:12:00:03"


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Outside, FakeHostCommands]:
    rd = RunDir(str(tmp_path))
    rd.write_network(
        {
            "hosts": {
                "node1": {"pid": 1, "role": "node", "ip": "172.18.0.2"},
                "node2": {"pid": 2, "role": "node", "ip": "172.18.0.3"},
                "client": {"pid": 3, "role": "client", "ip": "192.0.2.10"},
                "cloud-lb": {"pid": 4, "role": "cloud-lb", "ip": "198.51.100.10"},
                "gw": {"pid": 5, "role": "router", "ip": "172.18.0.1"},
            }
        }
    )
    default = Path(__file__).parents[3] / "lab_kit" / "topologies" / "default.toml"
    Path(rd.topology_file).write_text(default.read_text())
    commands = FakeHostCommands()
    commands.answers[("node2", "ip", "-j")] = json.dumps([{"ifname": "node2-eth0", "address": MAC}])
    return Outside(rd, commands), commands


def test_disconnect_cuts_the_kubelet_pins_the_peers_then_takes_the_link_down(lab):
    out, commands = lab
    message = out.disconnect_node("node2")
    assert "node2 disconnected" in message
    assert out.rd.partitioned("node2")
    assert out.disconnected() == ["node2"]
    pins = [(h, argv) for h, argv, _ in commands.calls if argv[:3] == ["ip", "neigh", "replace"]]
    assert pins == [
        ("gw", ["ip", "neigh", "replace", "172.18.0.3", "lladdr", MAC, "dev", "gw-eth0",
                "nud", "permanent"]),
        ("node1", ["ip", "neigh", "replace", "172.18.0.3", "lladdr", MAC, "dev", "node1-eth0",
                   "nud", "permanent"]),
    ]  # fmt: skip
    assert commands.calls[-1][:2] == ("node2", ["ip", "link", "set", "dev", "node2-eth0", "down"])
    assert not commands.commands("client")  # outside hosts are not touched
    assert out.disconnect_node("node2") == "node2 is already disconnected"


def test_disconnect_takes_the_kubelet_out_of_convergence(lab):
    out, _ = lab
    api = InProcessApi()
    api.handler.agents.report("kubelet/node2", 1, {})
    api.handler.agents.report("kubelet/node1", 1, {})
    out.disconnect_node("node2", api.client())
    assert set(api.agents) == {"kubelet/node1"}


def test_connect_brings_the_link_and_routes_back_and_forgets_the_pins(lab):
    out, commands = lab
    out.disconnect_node("node2")
    commands.calls.clear()
    assert "node2 connected" in out.connect_node("node2")
    node2 = commands.commands("node2")
    assert node2[0] == ["ip", "link", "set", "dev", "node2-eth0", "up"]
    assert ["ip", "route", "replace", "10.244.1.0/24", "via", "172.18.0.2"] in node2
    assert node2[-1] == ["ip", "route", "replace", "default", "via", "172.18.0.1"]
    assert commands.commands("gw") == [["ip", "neigh", "del", "172.18.0.3", "dev", "gw-eth0"]]
    assert not out.rd.partitioned("node2")
    assert out.connect_node("node2") == "node2 is connected (nothing to do)"


def test_an_unknown_node_or_no_lab_is_a_lab_error(lab, tmp_path):
    out, _ = lab
    with pytest.raises(LabError, match='no node "client" in this lab \\(nodes: node1, node2\\)'):
        out.disconnect_node("client")
    with pytest.raises(LabError, match="no lab is running"):
        Outside(RunDir(str(tmp_path / "none")), FakeHostCommands()).connect_node("node1")


def test_the_firewall_is_off_by_default_and_allow_while_off_touches_nothing(lab):
    out, commands = lab
    assert out.firewall().enabled is False
    out.firewall_allow("30080")
    assert not commands.calls
    assert [str(r) for r in out.firewall().allowed] == ["tcp:30080"]


def test_firewall_on_restores_the_chain_in_gw_and_adds_the_jump_once(lab):
    out, commands = lab
    commands.failing.add(("gw", "iptables", "-C"))  # no jump yet
    out.firewall_on()
    (host, argv, stdin), check, insert = commands.calls
    assert (host, argv) == ("gw", ["iptables-restore", "--noflush"])
    assert stdin is not None and "--dport 30000:32767" in stdin
    assert "-s 198.51.100.10/32" in stdin  # the cloud load balancer passes
    assert check[1][:3] == ["iptables", "-C", "FORWARD"]
    assert insert[1][:4] == ["iptables", "-I", "FORWARD", "1"]
    assert {h for h, _, _ in commands.calls} == {"gw"}  # never anywhere else
    commands.calls.clear()
    commands.failing.clear()  # the jump is there now
    out.firewall_allow("30080")
    assert [argv[:2] for _, argv, _ in commands.calls] == [
        ["iptables-restore", "--noflush"],
        ["iptables", "-C"],
    ]
    assert "allow tcp:30080" in (commands.calls[0][2] or "")


def test_firewall_off_removes_the_jump_and_the_chain(lab):
    out, commands = lab
    out.firewall_on()
    commands.calls.clear()
    out.firewall_off()
    assert [argv[:3] for _, argv, _ in commands.calls] == [
        ["iptables", "-D", "FORWARD"],
        ["iptables", "-F", "LAB-FIREWALL"],
        ["iptables", "-X", "LAB-FIREWALL"],
    ]
    assert out.firewall().enabled is False


def test_a_bad_port_is_a_lab_error(lab):
    out, _ = lab
    with pytest.raises(LabError, match='invalid port "http"'):
        out.firewall_allow("http")


def test_status_names_a_disconnected_node_without_calling_the_lab_broken(lab):
    from lab_kit.lab.status_view import status_text

    out, _ = lab
    out.disconnect_node("node2")
    kubelet = {"name": "kubelet/node2", "pid": 7, "alive": True, "agent": True,
               "restart": "Always", "restarts": 0}  # fmt: skip
    info = {"running": True, "run_dir": out.rd.path, "started_at": 0.0, "phase": "running",
            "processes": [kubelet], "addons": [], "problems": []}  # fmt: skip
    text, healthy = status_text(info, now=100.0)
    assert (
        "Disconnected node: node2 (off the network on purpose; `labkit node connect node2`)" in text
    )
    assert healthy
    out.connect_node("node2")
    assert "Disconnected" not in status_text(info, now=100.0)[0]
