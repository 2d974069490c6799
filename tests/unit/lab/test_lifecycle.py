"""`labkit up` / `down` / `status` and addons, without root: the agent table drives what
starts where (FakeProcesses records it), the addons go to the real API in-process, and
state.json keeps exactly what was started so `down` stops exactly that. What /proc would
show is what FakeProcesses holds alive (`find_processes`): the lab's own processes are
found by the run dir their command lines name, with or without state.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lab_fixtures import ready_slice

from lab_kit.adapters import records
from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.processes import FakeProcesses, ProcessRecord
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.table import AGENTS, command
from lab_kit.lab import lifecycle
from lab_kit.lab.errors import LabError
from lab_kit.lab.topologies import load_topology
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
    monkeypatch.setattr(lifecycle, "api_client", lambda rd, **_: api.client())
    monkeypatch.setattr(lifecycle, "network_exists", lambda: False)
    monkeypatch.setattr(lifecycle, "find_processes", lambda rd: seen_in_proc(procs, rd))
    monkeypatch.setattr(lifecycle, "find_links", lambda: [])
    monkeypatch.setattr(lifecycle, "other_networks", lambda rd: [])
    return procs, api


def seen_in_proc(procs: FakeProcesses, rd: RunDir) -> list[ProcessRecord]:
    """What records.lab_processes would find in /proc: the live processes whose command
    line names the run dir, under the name it gives them."""
    found = []
    for r in procs.alive.values():
        name = records.process_name(r.argv, rd)
        if name:
            found.append(ProcessRecord(name, r.pid, r.start_ticks, r.argv))
    return found


def names(records: list[ProcessRecord]) -> list[str]:
    return [r.name for r in records]


def test_control_plane_only_starts_the_table_control_plane_and_down_stops_it(lab_env):
    procs, _ = lab_env
    rd = RunDir()
    state = lifecycle.up(control_plane_only=True, progress=lambda *_: None)
    assert names(state.processes) == [
        "zygote",
        "supervisor",
        "apiserver",
        "controller-manager",
        "cloud-controller-manager",
    ]
    assert state.processes[0].argv == command("zygote", "--run-dir", rd.path)
    assert state.processes[1].argv == command("supervisor", "--run-dir", rd.path)
    assert state.processes[2].argv == command(
        "apiserver", "--socket", rd.socket, "--advertise-address", "172.18.0.2",
        "--bind-netns-host", "node1", "--run-dir", rd.path,
    )  # fmt: skip
    assert state.processes[2].log == rd.log("apiserver")
    saved = json.loads(Path(rd.state_file).read_text())
    assert [p["name"] for p in saved["processes"]] == [
        "zygote", "supervisor", "apiserver", "controller-manager", "cloud-controller-manager"
    ]  # fmt: skip
    assert saved["phase"] == "running"  # up is done: the supervisor may restart agents now
    with pytest.raises(LabError, match=r"a lab is already running \(zygote \(pid 2000\)"):
        lifecycle.up(control_plane_only=True, progress=lambda *_: None)
    status = lifecycle.status()
    assert status["running"] and [p["alive"] for p in status["processes"]] == [True] * 5
    assert status["problems"] == []
    said: list[str] = []
    assert lifecycle.down(progress=said.append)
    # the supervisor first (nothing is restarted behind down's back), then newest first
    assert names(procs.stopped) == [
        "supervisor", "cloud-controller-manager", "controller-manager", "apiserver", "zygote"
    ]  # fmt: skip
    assert said == ["  stopped supervisor (pid 2001)",
                    "  stopped cloud-controller-manager (pid 2004)",
                    "  stopped controller-manager (pid 2003)",
                    "  stopped apiserver (pid 2002)",
                    "  stopped zygote (pid 2000)"]  # fmt: skip
    assert not lifecycle.down(progress=said.append)  # nothing left: nothing to say
    assert lifecycle.status() == {"running": False, "run_dir": rd.path}


def test_a_full_up_follows_the_agent_table_and_installs_the_default_addons(lab_env):
    procs, api = lab_env
    said: list[str] = []
    state = lifecycle.up(progress=said.append)
    assert names(procs.started) == [
        "zygote", "supervisor", "apiserver", "controller-manager", "cloud-controller-manager",
        "network",
        "kubelet/node1", "kube-proxy/node1", "kubelet/node2", "kube-proxy/node2",
        "kubelet/node3", "kube-proxy/node3",
        "world-dns/internet", "cloud-lb/cloud-lb",
    ]  # fmt: skip
    rd = RunDir()
    kubelet = procs.started[6]
    options = ["--node", "node1", "--socket", rd.socket, "--topology-file", rd.topology_file,
               "--run-dir", rd.path]  # fmt: skip
    assert kubelet.argv == rd.host_argv("node1", command("kubelet", *options))
    assert kubelet.argv[:3] == ["nsenter", "--net=/proc/100/ns/net", "--mount=/proc/100/ns/mnt"]
    world = procs.started[-2]
    assert world.argv == [
        "nsenter", "--net=/proc/105/ns/net",
        *command("world-dns", "--socket", rd.socket, "--run-dir", rd.path),
    ]  # fmt: skip
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
    assert names(procs.stopped) == ["supervisor", "apiserver", "zygote"]  # what started, stopped
    assert not RunDir().network() and lifecycle.status()["running"] is False


def test_a_crashed_labs_leftovers_are_cleaned_before_a_new_up(lab_env):
    procs, _ = lab_env
    lifecycle.up(control_plane_only=True, progress=lambda *_: None)
    procs.alive.clear()  # every process died (a crash, a reboot)
    said: list[str] = []
    state = lifecycle.up(control_plane_only=True, progress=said.append)
    assert said[0].startswith("Cleaning up the leftovers of a lab that did not stop cleanly")
    assert names(state.processes) == [
        "zygote",
        "supervisor",
        "apiserver",
        "controller-manager",
        "cloud-controller-manager",
    ]
    lifecycle.down(progress=lambda *_: None)


def test_a_lab_network_of_someone_else_is_refused(lab_env, monkeypatch):
    monkeypatch.setattr(lifecycle, "network_exists", lambda: True)
    with pytest.raises(LabError, match="a lab network already exists on this machine"):
        lifecycle.up(progress=lambda *_: None)


# --- an interrupted up, lost records --------------------------------------------------------


class InterruptingProcesses(FakeNetworkProcesses):
    """Ctrl-C at the n-th step of `up`: a start (just after the process exists, before up
    could write it down: the worst moment) or a wait for "ready" (after it was written)."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.steps = at, 0

    def step(self) -> None:
        self.steps += 1
        if self.steps == self.at:
            raise KeyboardInterrupt

    def start(self, name, argv, log_path, env=None):
        starting = super().start(name, argv, log_path, env)
        self.step()
        return Waiting(starting, self)


class Waiting:
    def __init__(self, starting, table: InterruptingProcesses):
        self.starting, self.table = starting, table
        self.record = starting.record

    def wait_ready(self, timeout_s: float = 30.0) -> ProcessRecord:
        self.table.step()
        return self.starting.wait_ready(timeout_s)

    def detach(self) -> ProcessRecord:
        return self.record


def full_up_processes() -> int:
    """What `up` starts on the default topology, by the agent table."""
    spec, count = load_topology(), 0
    for e in AGENTS.values():
        if e.where in ("zygote", "supervisor", "control-plane", "network"):
            count += 1
        elif e.where == "node":
            count += len(spec.nodes)
        elif e.where.startswith("host:") and spec.host_role(e.where.partition(":")[2]):
            count += 1
    return count


def host_agents() -> int:
    spec = load_topology()
    return sum(
        1
        for e in AGENTS.values()
        if e.where.startswith("host:") and spec.host_role(e.where.partition(":")[2])
    )


CONTROL_PLANE = sum(
    1 for e in AGENTS.values() if e.where in ("zygote", "supervisor", "control-plane")
)
FULL_UP_STEPS = 2 * full_up_processes()  # each process started and awaited


@pytest.mark.parametrize("at", range(1, FULL_UP_STEPS + 1))
def test_up_interrupted_at_any_step_stops_everything_it_started(lab_env, monkeypatch, at):
    procs = InterruptingProcesses(at)
    monkeypatch.setattr(lifecycle, "PROCESSES", procs)
    monkeypatch.setattr(lifecycle, "find_processes", lambda rd: seen_in_proc(procs, rd))
    with pytest.raises(KeyboardInterrupt):
        lifecycle.up(progress=lambda *_: None)
    assert procs.started and not procs.alive  # recorded or not, each one was stopped
    assert not Path(RunDir().path).exists()
    assert not lifecycle.down(progress=lambda *_: None)  # nothing left for down to find


def test_an_up_that_is_not_interrupted_takes_exactly_those_steps(lab_env, monkeypatch):
    procs = InterruptingProcesses(FULL_UP_STEPS + 1)
    monkeypatch.setattr(lifecycle, "PROCESSES", procs)
    lifecycle.up(progress=lambda *_: None)
    assert procs.steps == FULL_UP_STEPS  # so the test above interrupted every step
    lifecycle.down(progress=lambda *_: None)


def test_an_interrupt_during_the_addons_stops_everything(lab_env, monkeypatch):
    procs, api = lab_env

    def interrupted(rd, **_):
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle, "api_client", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lifecycle.up(progress=lambda *_: None)
    assert len(procs.started) == full_up_processes() - host_agents() and not procs.alive


def test_without_state_json_a_lab_is_still_found_refused_reported_and_cleaned(lab_env, monkeypatch):
    procs, _ = lab_env
    removed: list[str] = []
    monkeypatch.setattr(lifecycle, "find_links", lambda: ["lk-s1", "lk-s1-eth1", "lk-s2"])
    monkeypatch.setattr(lifecycle, "_remove_leftover_links", lambda names, _: removed.extend(names))
    lifecycle.up(progress=lambda *_: None)
    rd = RunDir()
    Path(rd.state_file).unlink()
    Path(rd.network_file).unlink()  # the network's record too: the links are found by name
    status = lifecycle.status()
    assert status["running"] and len(status["processes"]) == full_up_processes()
    assert status["problems"][0].startswith(f"{rd.state_file} is gone, but processes of this lab")
    with pytest.raises(
        LabError,
        match=r"a lab's processes run without its record \(zygote \(pid 2000\), supervisor",
    ):
        lifecycle.up(progress=lambda *_: None)
    assert lifecycle.lab_left() == (
        f"{full_up_processes()} of its processes found without its state.json"
    )
    said: list[str] = []
    assert lifecycle.clean(progress=said.append)
    assert (
        not procs.alive and said[0] == "  stopped supervisor (pid 2001) (found by its command line)"
    )
    assert said[1].startswith("  stopped cloud-lb")  # then the rest, newest kind first
    assert removed == ["lk-s1", "lk-s1-eth1", "lk-s2"]
    assert lifecycle.status() == {"running": False, "run_dir": rd.path}


def test_links_another_labs_network_holds_are_left_alone(lab_env, monkeypatch):
    removed: list[str] = []
    monkeypatch.setattr(lifecycle, "find_links", lambda: ["lk-s1"])
    monkeypatch.setattr(lifecycle, "other_networks", lambda rd: ["/tmp/lk-other"])
    monkeypatch.setattr(lifecycle, "_remove_leftover_links", lambda names, _: removed.extend(names))
    lifecycle.up(progress=lambda *_: None)
    Path(RunDir().network_file).unlink()
    lifecycle.down(progress=lambda *_: None)
    assert removed == []


def test_status_says_what_a_dead_agent_means_and_that_it_is_being_restarted(lab_env):
    procs, _ = lab_env
    state = lifecycle.up(progress=lambda *_: None)
    proxy = next(p for p in state.processes if p.name == "kube-proxy/node2")
    procs.die(proxy)
    status = lifecycle.status()
    assert status["problems"] == [
        "kube-proxy/node2 is not running: Service changes do not reach node2 "
        "(the supervisor is restarting it)"
    ]
    supervisor = next(p for p in state.processes if p.name == "supervisor")
    procs.die(supervisor)
    assert lifecycle.status()["problems"] == [
        "supervisor is not running: agents that die are no longer restarted",
        "kube-proxy/node2 is not running: Service changes do not reach node2",
    ]
    lifecycle.down(progress=lambda *_: None)


def test_a_notebooks_lab_up_takes_over_a_lab_left_running(lab_env, monkeypatch, capsys):
    from lab_kit.lab.lab import Lab

    procs, api = lab_env
    monkeypatch.setattr(Lab, "connect", classmethod(lambda cls: cls(api.client())))
    lifecycle.up(control_plane_only=True, progress=lambda *_: None)
    first = dict(procs.alive)
    Lab.up(control_plane_only=True)
    assert capsys.readouterr().out.startswith("A lab was left running (started ")
    assert not set(first) & set(procs.alive) and len(procs.alive) == CONTROL_PLANE  # replaced
    Lab.up(control_plane_only=True).down()
    assert not procs.alive
