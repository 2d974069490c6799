"""`labkit up` / `down` / `status` and addons, without root: the agent table drives what
starts where (FakeProcesses records it), the addons go to the real API in-process, and
state.json keeps exactly what was started so `down` stops exactly that."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lab_fixtures import ready_slice

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.processes import FakeProcesses, ProcessRecord
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.table import command
from lab_kit.lab import lifecycle
from lab_kit.lab.errors import LabError
from lab_kit.model.kinds import by_kind_name


class FakeNetworkProcesses(FakeProcesses):
    """FakeProcesses whose `network` agent writes network.json, as the real one does once
    Mininet is up: every host's shell PID."""

    def start(self, name, argv, log_path, env=None):
        starting = super().start(name, argv, log_path, env)
        if name == "network":
            hosts = {h: {"pid": 100 + i, "role": r} for i, (h, r) in enumerate(HOSTS)}
            RunDir().write_network({"hosts": hosts, "root_links": [], "warnings": []})
        return starting


HOSTS = [("node1", "node"), ("node2", "node"), ("node3", "node"), ("client", "client"),
         ("cloud-lb", "cloud-lb"), ("internet", "internet"), ("gw", "router")]  # fmt: skip


@pytest.fixture
def lab_env(tmp_path, monkeypatch):
    """A private run dir, fake processes, the real API in-process, no lab network."""
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path / "run"))
    procs = FakeNetworkProcesses()
    api = InProcessApi()
    api.registry.create(
        ready_slice("kube-dns", "kube-system")
    )  # the coredns pods' endpoint, as kubelets would
    monkeypatch.setattr(lifecycle, "PROCESSES", procs)
    monkeypatch.setattr(lifecycle, "api_client", lambda rd: api.client())
    monkeypatch.setattr(lifecycle, "network_exists", lambda: False)
    return procs, api


def names(records: list[ProcessRecord]) -> list[str]:
    return [r.name for r in records]


def test_control_plane_only_starts_the_table_control_plane_and_down_stops_it(lab_env):
    procs, _ = lab_env
    rd = RunDir()
    state = lifecycle.up(control_plane_only=True, progress=lambda *_: None)
    assert names(state.processes) == ["apiserver", "controller-manager"]
    assert state.processes[0].argv == command("apiserver", "--socket", rd.socket)
    assert state.processes[0].log == rd.log("apiserver")
    saved = json.loads(Path(rd.state_file).read_text())
    assert [p["name"] for p in saved["processes"]] == ["apiserver", "controller-manager"]
    with pytest.raises(LabError, match=r"a lab is already running \(apiserver \(pid 2000\)"):
        lifecycle.up(control_plane_only=True, progress=lambda *_: None)
    status = lifecycle.status()
    assert status["running"] and [p["alive"] for p in status["processes"]] == [True, True]
    said: list[str] = []
    assert lifecycle.down(progress=said.append)
    assert names(procs.stopped) == ["controller-manager", "apiserver"]  # newest first
    assert said == ["  stopped controller-manager (pid 2001)", "  stopped apiserver (pid 2000)"]
    assert not lifecycle.down(progress=said.append)  # nothing left: nothing to say
    assert lifecycle.status() == {"running": False, "run_dir": rd.path}


def test_a_full_up_follows_the_agent_table_and_installs_the_default_addons(lab_env):
    procs, api = lab_env
    said: list[str] = []
    state = lifecycle.up(progress=said.append)
    assert names(procs.started) == [
        "apiserver", "controller-manager", "network",
        "kubelet/node1", "kube-proxy/node1", "kubelet/node2", "kube-proxy/node2",
        "kubelet/node3", "kube-proxy/node3",
        "world-dns/internet",
    ]  # fmt: skip
    rd = RunDir()
    kubelet = procs.started[3]
    options = ["--node", "node1", "--socket", rd.socket, "--topology-file", rd.topology_file,
               "--run-dir", rd.path]  # fmt: skip
    assert kubelet.argv == rd.host_argv("node1", command("kubelet", *options))
    assert kubelet.argv[:3] == ["nsenter", "--net=/proc/100/ns/net", "--mount=/proc/100/ns/mnt"]
    world = procs.started[-1]
    assert world.argv == ["nsenter", "--net=/proc/105/ns/net", *command("world-dns")]
    assert state.addons == ["coredns"]
    assert api.registry.store.get("Service", "kube-system", "kube-dns")["spec"]["clusterIP"] == (
        "10.96.0.10"
    )
    assert any(line.startswith("  addon coredns") and "ready" in line for line in said)
    assert lifecycle.status()["addons"] == ["coredns"]
    assert lifecycle.down(progress=lambda *_: None)
    assert not procs.alive


def test_addons_on_a_running_lab(lab_env):
    _, api = lab_env
    lifecycle.up(progress=lambda *_: None)
    service = by_kind_name("Service")
    assert lifecycle.addon_states()[0][:2] == ("coredns", True)
    assert not lifecycle.enable_addon("coredns", progress=lambda *_: None)  # already on
    said: list[str] = []
    assert lifecycle.disable_addon("coredns", progress=said.append)
    assert "  service/kube-dns deleted" in said
    assert api.registry.store.get(service.kind, "kube-system", "kube-dns") is None
    assert lifecycle.addon_states()[0][:2] == ("coredns", False)
    assert not lifecycle.disable_addon("coredns", progress=said.append)  # already off
    assert lifecycle.enable_addon("coredns", progress=lambda *_: None)
    assert api.registry.store.get(service.kind, "kube-system", "kube-dns") is not None
    lifecycle.down(progress=lambda *_: None)


def test_an_unknown_addon_fails_before_anything_starts(lab_env):
    procs, _ = lab_env
    with pytest.raises(KeyError, match='no addon "nope"'):
        lifecycle.up(addons=["nope"], progress=lambda *_: None)
    assert procs.started == []


def test_an_agent_that_fails_to_start_takes_the_lab_down_with_its_reason(lab_env):
    procs, _ = lab_env
    procs.failures["controller-manager"] = "exited with code 1 before it was ready"
    with pytest.raises(LabError, match="controller-manager exited with code 1"):
        lifecycle.up(control_plane_only=True, progress=lambda *_: None)
    assert names(procs.stopped) == ["apiserver"]  # what had started is stopped again
    assert not RunDir().network() and lifecycle.status()["running"] is False


def test_a_crashed_labs_leftovers_are_cleaned_before_a_new_up(lab_env):
    procs, _ = lab_env
    lifecycle.up(control_plane_only=True, progress=lambda *_: None)
    procs.alive.clear()  # every process died (a crash, a reboot)
    said: list[str] = []
    state = lifecycle.up(control_plane_only=True, progress=said.append)
    assert said[0].startswith("Cleaning up the leftovers of a lab that did not stop cleanly")
    assert names(state.processes) == ["apiserver", "controller-manager"]
    lifecycle.down(progress=lambda *_: None)


def test_a_lab_network_of_someone_else_is_refused(lab_env, monkeypatch):
    monkeypatch.setattr(lifecycle, "network_exists", lambda: True)
    with pytest.raises(LabError, match="a lab network already exists on this machine"):
        lifecycle.up(progress=lambda *_: None)
