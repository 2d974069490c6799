"""The supervisor restarts what the agent table says to restart, with systemd's habit of a
back-off that grows with each quick death and starts over after a long life; it records
each restart in state.json in place; it leaves the network and captures alone; and a dead
kubelet's pods are stopped before a new kubelet starts them again."""

from __future__ import annotations

import json
import os

import pytest

from lab_kit.adapters.processes import FakeProcesses, ProcessRecord
from lab_kit.adapters.records import RUNNING, STARTING, LabState
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.supervisor import RESET_S, Supervisor

NAMES = ["supervisor", "apiserver", "controller-manager", "network", "kubelet/node1",
         "kube-proxy/node1", "kubelet/node2", "tcpdump"]  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lab(tmp_path):
    """A run dir whose state.json lists NAMES, all alive in FakeProcesses."""
    rd = RunDir(str(tmp_path))
    rd.make()
    procs = FakeProcesses()
    started = [
        procs.start(n, ["python", "-m", "lab_kit.agents", n], rd.log(n)).record for n in NAMES
    ]
    LabState(rd.path, 1.0, started, phase=RUNNING).save()
    clock = Clock()
    return rd, procs, clock, Supervisor(rd, procs, clock=clock, wall=lambda: 5000 + clock.now)


def record(rd: RunDir, name: str) -> ProcessRecord:
    state = LabState.load(rd.path)
    assert state is not None
    return next(p for p in state.processes if p.name == name)


def test_nothing_happens_while_everything_runs(lab):
    rd, procs, _, supervisor = lab
    assert supervisor.tick() == []
    assert len(procs.started) == len(NAMES)


def test_a_dead_agent_is_restarted_after_its_back_off_in_place(lab):
    rd, procs, clock, supervisor = lab
    victim = record(rd, "kube-proxy/node1")
    procs.die(victim)
    assert supervisor.tick() == [f"kube-proxy/node1 (pid {victim.pid}) ended; restarting in 1 s"]
    clock.now = 0.9
    assert supervisor.tick() == []
    clock.now = 1.0
    said = supervisor.tick()
    new = procs.started[-1]
    assert said == [f"kube-proxy/node1 restarted (pid {new.pid}, restart 1)"]
    assert new.argv == victim.argv and new.log == victim.log
    with open(rd.state_file) as f:
        saved = json.load(f)
    assert [p["name"] for p in saved["processes"]] == NAMES  # same place, new PID
    assert saved["processes"][NAMES.index("kube-proxy/node1")]["pid"] == new.pid
    assert saved["restarts"]["kube-proxy/node1"] == {"count": 1, "at": 5001.0, "reason": "ended"}


def test_quick_deaths_double_the_back_off_and_a_long_life_resets_it(lab):
    rd, procs, clock, supervisor = lab
    delays = []
    for _ in range(4):  # each incarnation dies at once
        procs.die(record(rd, "controller-manager"))
        said = supervisor.tick()
        delays.append(said[0].rsplit("restarting in ", 1)[1])
        clock.now += 100  # long past any back-off: restarted on the next tick
        supervisor.tick()
        clock.now += 0.5  # and dies half a second later
    assert delays == ["1 s", "2 s", "4 s", "8 s"]
    clock.now += RESET_S  # this one lived a minute: its death is not a crash loop
    procs.die(record(rd, "controller-manager"))
    assert supervisor.tick()[0].endswith("restarting in 1 s")


def test_the_network_captures_and_the_supervisor_itself_are_not_restarted(lab):
    rd, procs, clock, supervisor = lab
    for name in ("network", "tcpdump", "supervisor"):
        procs.die(record(rd, name))
    clock.now = 1000
    assert supervisor.tick() == [] and supervisor.tick() == []
    assert len(procs.started) == len(NAMES)


def test_nothing_is_restarted_while_up_or_down_works(lab):
    rd, procs, clock, supervisor = lab
    state = LabState.load(rd.path)
    assert state is not None
    state.phase = STARTING
    state.save()
    procs.die(record(rd, "kube-proxy/node1"))
    clock.now = 1000
    assert supervisor.tick() == []


def test_a_dead_kubelets_pods_are_stopped_before_it_starts_again(lab):
    rd, procs, clock, supervisor = lab
    for pod, node in (("web-1", "node1"), ("web-2", "node2")):
        pause = procs.start(f"pause {pod}", ["catatonit"], "").record
        app = procs.start(f"app {pod}", ["agnhost"], "").record
        directory = rd.pod_dir("default", pod, pod)
        os.makedirs(directory)
        with open(os.path.join(directory, "sandbox.json"), "w") as f:
            json.dump({"name": pod, "namespace": "default", "node": node,
                       "pause": {"pid": pause.pid, "start_ticks": pause.start_ticks},
                       "containers": {"app": {"pid": {"pid": app.pid,
                                                      "start_ticks": app.start_ticks}}}}, f)  # fmt: skip
    procs.die(record(rd, "kubelet/node1"))
    supervisor.tick()
    clock.now = 1
    said = supervisor.tick()
    assert said[0] == "stopped the pods the kubelet on node1 left: pod default/web-1"
    assert said[1].startswith("kubelet/node1 restarted")
    assert sorted(p.name for p in procs.stopped) == ["pod default/web-1", "pod default/web-1"]
    assert procs.started[-1].name == "kubelet/node1"  # stopped first, then started
