"""`labkit up` hands the topology's service_cidr to the API server (and nothing to it when
the topology keeps the default, which is the API server's own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab_kit.adapters.processes import FakeProcesses
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.table import command
from lab_kit.lab import lifecycle

# the first node doubles as the control-plane node: the API server's secure port is there
SECURE = ("--advertise-address", "172.18.0.2", "--bind-netns-host", "node1")
TOPOLOGY = '[cluster]\nservice_cidr = "{}"\n[[nodes]]\n'


@pytest.fixture
def fake_up(tmp_path, monkeypatch):
    """Control-plane-only `up` with fake processes and no lab on the machine."""
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path / "run"))
    procs = FakeProcesses()
    monkeypatch.setattr(lifecycle, "PROCESSES", procs)
    monkeypatch.setattr(lifecycle, "network_exists", lambda: False)
    monkeypatch.setattr(lifecycle, "find_processes", lambda rd: [])
    monkeypatch.setattr(lifecycle, "find_links", lambda: [])
    monkeypatch.setattr(lifecycle, "other_networks", lambda rd: [])

    def up(service_cidr: str) -> list[str]:
        topology = Path(tmp_path / "t.toml")
        topology.write_text(TOPOLOGY.format(service_cidr))
        state = lifecycle.up(str(topology), progress=lambda *_: None, control_plane_only=True)
        (apiserver,) = [p for p in state.processes if p.name == "apiserver"]
        lifecycle.down(progress=lambda *_: None)
        return apiserver.argv

    return up


def test_the_api_server_gets_the_topologys_service_cidr(fake_up):
    argv = fake_up("10.96.0.0/16")
    rd = RunDir()
    assert argv == command(
        "apiserver", "--socket", rd.socket, "--service-cluster-ip-range", "10.96.0.0/16",
        *SECURE, "--run-dir", rd.path,
    )  # fmt: skip


def test_the_default_range_needs_no_option(fake_up):
    rd = RunDir()
    assert fake_up("10.96.0.0/12") == command(
        "apiserver", "--socket", rd.socket, *SECURE, "--run-dir", rd.path
    )  # fmt: skip
