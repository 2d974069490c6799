"""What the Mininet adapter does to the root namespace, checked without root: no sysctl of
the machine raised (Mininet's fixLimits never runs), IPv6 off on the lab's bridges and their
ports before they come up, and never on anything else (the switch's `lo` is the machine's)."""

from __future__ import annotations

from pathlib import Path

import mininet.net
import pytest
from mininet.link import Intf

from lab_kit.adapters import mininet_net
from lab_kit.adapters.mininet_net import LabBridge, disable_ipv6, new_mininet


def _conf(proc_sys: Path, link: str) -> Path:
    path = proc_sys / "net" / "ipv6" / "conf" / link / "disable_ipv6"
    path.parent.mkdir(parents=True)
    path.write_text("0\n")
    return path


def test_disable_ipv6_writes_only_that_links_setting(tmp_path):
    port, other = _conf(tmp_path, "lk-s1-eth1"), _conf(tmp_path, "eth0")
    assert disable_ipv6("lk-s1-eth1", str(tmp_path))
    assert port.read_text() == "1"
    assert other.read_text() == "0\n"


def test_disable_ipv6_on_a_kernel_without_ipv6_does_nothing(tmp_path):
    assert not disable_ipv6("lk-s1", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fix_limits_calls(monkeypatch) -> list[str]:
    """Mininet not yet initialised in this process, its fixLimits() recorded, not run."""
    calls: list[str] = []
    monkeypatch.setattr(mininet.net.Mininet, "inited", False)
    monkeypatch.setattr(mininet.net, "fixLimits", lambda: calls.append("fixLimits"))
    monkeypatch.setattr(mininet.net, "ensureRoot", lambda: None)
    return calls


def test_mininet_alone_would_raise_the_machines_limits(fix_limits_calls):
    mininet.net.Mininet(controller=None, build=False)  # what the adapter must not do
    assert fix_limits_calls == ["fixLimits"]


def test_new_mininet_never_runs_fix_limits(fix_limits_calls):
    net = new_mininet()
    assert fix_limits_calls == []
    assert net.switch is LabBridge and net.controller is None


def _bridge(log: list[tuple[str, ...]]) -> LabBridge:
    """A LabBridge without its root-namespace shell: commands are logged, not run."""
    bridge = object.__new__(LabBridge)
    bridge.name, bridge.inNamespace, bridge.portBase = "lk-s1", False, 1
    bridge.intfs, bridge.ports, bridge.nameToIntf = {}, {}, {}
    bridge.cmd = lambda *argv: log.append(argv) or ""
    return bridge


@pytest.fixture
def log(monkeypatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(mininet_net, "disable_ipv6", lambda link: calls.append(("no-ipv6", link)))
    return calls


def _intf(name: str) -> Intf:
    intf = object.__new__(Intf)
    intf.name = name
    return intf


def test_ports_lose_ipv6_when_added_and_lo_is_left_alone(log):
    bridge = _bridge(log)
    bridge.addIntf(
        _intf("lo"), port=0
    )  # Mininet gives every root-namespace switch the machine's lo
    bridge.addIntf(_intf("lk-s1-eth1"))
    assert log == [("no-ipv6", "lk-s1-eth1")]
    assert [i.name for i in bridge.intfList()] == ["lo", "lk-s1-eth1"]


def test_the_bridge_comes_up_last_with_ipv6_already_off(log):
    bridge = _bridge(log)
    for name in ("lo", "lk-s1-eth1", "lk-s1-eth2"):
        bridge.intfs[len(bridge.intfs)] = _intf(name)
    bridge.start([])
    assert log == [
        ("ip", "link", "del", "lk-s1"),
        ("ip", "link", "add", "name", "lk-s1", "type", "bridge"),
        ("no-ipv6", "lk-s1"),
        ("ip", "link", "set", "lk-s1-eth1", "master", "lk-s1"),
        ("ip", "link", "set", "lk-s1-eth2", "master", "lk-s1"),
        ("ip", "link", "set", "lk-s1", "up"),
    ]


def test_the_router_drops_unknown_destinations_silently_inside_its_own_namespace():
    """A ClusterIP ping or a wrong Service port leaves the node towards gw: a real network
    swallows it; gw used to answer ICMP "network unreachable" (no default route)."""
    argv = mininet_net.router_setup()
    assert argv[-1] == ["ip", "route", "add", "blackhole", "default"]
    assert not [a for a in argv if a[:3] == ["ip", "route", "add"] and "unreachable" in a]
    assert ["sysctl", "-qw", "net.ipv4.ip_forward=1"] in argv
    assert ["ip", "addr", "add", "192.0.2.1/24", "dev", "gw-eth1"] in argv
    assert not [a for a in argv if "-n" in a or "netns" in a]  # run inside gw, never here
