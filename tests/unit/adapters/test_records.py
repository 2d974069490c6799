"""A lab is found by every record it leaves (a /proc and a /sys/class/net of the test's
own): its agents by the run dir their command lines name — never by name alone, never a
neighbour's with a similar path, never a user's `tail -f` of its logs — its captures, its
pods' processes by sandbox.json, its links; state.json is rewritten under a lock."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from lab_kit.adapters.records import (
    RUNNING,
    STOPPING,
    LabState,
    lab_links,
    lab_processes,
    locked_state,
    other_networks,
    pod_processes,
    process_name,
)
from lab_kit.adapters.rundir import RunDir

RD = RunDir("/run/labkit")
PY = "/opt/venv/bin/python"


def fake_proc(root: Path, processes: dict[int, list[str]]) -> str:
    """A /proc with a cmdline and a stat (start time = pid * 10) per process."""
    for pid, argv in processes.items():
        d = root / str(pid)
        d.mkdir(parents=True)
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
        fields = ["S"] + ["0"] * 18 + [str(pid * 10)] + ["0"] * 10
        (d / "stat").write_text(f"{pid} (python3) " + " ".join(fields))
    (root / "self").mkdir(exist_ok=True)
    (root / "1234" / "task").mkdir(parents=True, exist_ok=True)  # a kernel thread: no cmdline
    (root / "1234" / "cmdline").write_bytes(b"")
    return str(root)


AGENTS = {
    101: [PY, "-m", "lab_kit.agents", "supervisor", "--run-dir", "/run/labkit", "--ready-fd", "5"],
    102: [PY, "-m", "lab_kit.agents", "apiserver", "--socket", "/run/labkit/apiserver.sock"],
    103: [PY, "-m", "lab_kit.agents", "kubelet", "--node", "node2", "--socket",
          "/run/labkit/apiserver.sock", "--topology-file", "/run/labkit/topology.toml",
          "--run-dir", "/run/labkit"],
    104: ["nsenter", "--net=/proc/77/ns/net", PY, "-m", "lab_kit.agents", "world-dns",
          "--run-dir", "/run/labkit"],  # between nsenter's start and its exec
    105: ["tcpdump", "-i", "eth0", "-w", "/run/labkit/captures/web.pcap"],
}  # fmt: skip
STRANGERS = {
    201: [PY, "-m", "lab_kit.agents", "kubelet", "--node", "node1", "--run-dir", "/run/labkit2"],
    202: ["tail", "-f", "/run/labkit/logs/kubelet-node1.log"],
    203: [PY, "-m", "lab_kit.agents", "network", "--run-dir", "/tmp/lk-other", "--topology-file",
          "/tmp/lk-other/topology.toml"],
    204: ["tcpdump", "-w", "/run/labkit/elsewhere.pcap"],
    205: ["sleep", "infinity"],
}  # fmt: skip


def test_the_labs_processes_are_found_by_the_run_dir_their_command_lines_name(tmp_path):
    proc = fake_proc(tmp_path, {**AGENTS, **STRANGERS})
    found = lab_processes(RD, proc)
    assert [(p.name, p.pid, p.start_ticks) for p in found] == [
        ("supervisor", 101, 1010), ("apiserver", 102, 1020), ("kubelet/node2", 103, 1030),
        ("world-dns", 104, 1040), ("tcpdump", 105, 1050),
    ]  # fmt: skip
    assert found[2].argv == AGENTS[103] and found[2].log == RD.log("kubelet/node2")


def test_names_come_from_the_agent_table_words_and_never_from_a_lookalike():
    assert process_name(AGENTS[103], RD) == "kubelet/node2"
    assert process_name(STRANGERS[201], RD) is None  # another lab's run dir
    assert process_name(STRANGERS[201], RunDir("/run/labkit2")) == "kubelet/node1"
    assert process_name(STRANGERS[202], RD) is None  # names the run dir, runs no agent
    assert process_name(STRANGERS[204], RD) is None  # tcpdump, but not in captures/
    assert process_name(["sleep", "1"], RunDir("/")) is None


def test_another_labs_network_is_seen(tmp_path):
    proc = fake_proc(tmp_path, {**AGENTS, **STRANGERS})
    assert other_networks(RD, proc) == ["/tmp/lk-other"]
    assert other_networks(RunDir("/tmp/lk-other/"), proc) == []


def test_pods_processes_come_from_their_sandbox_records(tmp_path):
    rd = RunDir(str(tmp_path))
    for name, node, pids in (("web-1", "node1", (11, 12)), ("web-2", "node2", (21, 22))):
        d = Path(rd.pod_dir("default", name, "uid-" + name))
        d.mkdir(parents=True)
        (d / "sandbox.json").write_text(json.dumps({
            "name": name, "namespace": "default", "node": node,
            "pause": {"pid": pids[0], "start_ticks": 1},
            "containers": {"web": {"pid": {"pid": pids[1], "start_ticks": 2}},
                           "never-started": {"pid": None}}}))  # fmt: skip
    broken = Path(rd.pod_dir("default", "x", "u"))
    broken.mkdir()
    (broken / "sandbox.json").write_text("{half")
    assert sorted((p.name, p.pid) for p in pod_processes(rd)) == [
        ("pod default/web-1", 11), ("pod default/web-1", 12),
        ("pod default/web-2", 21), ("pod default/web-2", 22),
    ]  # fmt: skip
    assert [p.pid for p in pod_processes(rd, node="node2")] == [22, 21]  # containers, then pause


def test_links_are_the_lk_ones_bridges_first(tmp_path):
    for name in ("eth0", "lk-s1-eth2", "lk-s2", "lk-s1", "lk-s1-eth1", "lo"):
        (tmp_path / name).mkdir()
    assert lab_links(str(tmp_path)) == ["lk-s1", "lk-s2", "lk-s1-eth1", "lk-s1-eth2"]
    assert lab_links(str(tmp_path / "missing")) == []


def test_state_json_round_trip_and_an_old_record_without_a_phase(tmp_path):
    rd = RunDir(str(tmp_path))
    LabState(rd.path, 1.5, addons=["coredns"], phase=STOPPING,
             restarts={"kubelet/node1": {"count": 2}}).save()  # fmt: skip
    state = LabState.load(rd.path)
    assert state is not None and state.phase == STOPPING and state.addons == ["coredns"]
    assert state.restarts == {"kubelet/node1": {"count": 2}}
    with open(rd.state_file, "w") as f:
        json.dump({"started_at": 1.0, "processes": []}, f)
    old = LabState.load(rd.path)
    assert old is not None and old.phase == RUNNING and old.restarts == {}
    assert LabState.load(str(tmp_path / "none")) is None


def test_state_json_is_rewritten_under_a_lock(tmp_path):
    rd = RunDir(str(tmp_path))
    LabState(rd.path).save()

    def add(name: str) -> None:
        with locked_state(rd.path) as state:
            assert state is not None
            state.addons.append(name)
            state.save()

    threads = [threading.Thread(target=add, args=(f"a{i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = LabState.load(rd.path)
    assert state is not None and sorted(state.addons) == sorted(f"a{i}" for i in range(20))
    with locked_state(str(tmp_path / "gone")) as nothing:
        assert nothing is None
    assert not os.path.exists(tmp_path / "gone")
