"""The agents' fork server: which command lines it takes, and a real round trip — a zygote
started as `labkit up` starts it forks an agent that is its own process (own session,
ready pipe, log, command line `labkit clean` recognises) and notes how it ended. No
namespaces are entered (that needs root and a lab: the integration tests run every lab
on it)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from lab_kit.adapters import processes, records
from lab_kit.adapters.rundir import RunDir
from lab_kit.adapters.zygote import request_for
from lab_kit.agents.table import command

PY = sys.executable


def test_an_agent_command_line_becomes_a_request():
    argv = ["nsenter", "--net=/proc/7/ns/net", "--mount=/proc/7/ns/mnt",
            PY, "-m", "lab_kit.agents", "kubelet", "--node", "node1", "--run-dir", "/tmp/lk-x"]  # fmt: skip
    path, request = request_for(argv, {"A": "1"})
    assert path == "/tmp/lk-x/zygote.sock"
    assert request["argv"] == ["kubelet", "--node", "node1", "--run-dir", "/tmp/lk-x"]
    assert request["net"] == "/proc/7/ns/net" and request["mnt"] == "/proc/7/ns/mnt"
    assert request["title"] == argv[3:] and request["env"] == {"A": "1"}
    _, plain = request_for([PY, "-m", "lab_kit.agents", "apiserver", "--run-dir", "/r"])
    assert "net" not in plain and "mnt" not in plain


@pytest.mark.parametrize(
    "argv",
    [
        [PY, "-m", "lab_kit.agents", "zygote", "--run-dir", "/r"],  # not itself
        [PY, "-m", "lab_kit.agents", "kubelet", "--node", "n1"],  # no run dir: whose zygote?
        [PY, "-m", "lab_kit.workloads", "x", "--run-dir", "/r"],  # not an agent
        ["tcpdump", "-i", "any", "-w", "/r/captures/x.pcap"],
        ["nsenter", "--pid=/proc/7/ns/pid", PY, "-m", "lab_kit.agents", "x", "--run-dir", "/r"],
    ],
)
def test_anything_else_is_exec_as_before(argv):
    assert request_for(argv) is None


def wait_for(condition, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_a_forked_agent_is_its_own_process_and_its_end_is_noted(tmp_path):
    rd = RunDir(str(tmp_path))
    rd.make()
    zygote = processes.spawn("zygote", command("zygote", "--run-dir", rd.path), rd.log("zygote"))
    try:
        argv = command("supervisor", "--run-dir", rd.path)  # an agent that needs no lab
        agent = processes.start("supervisor", argv, rd.log("supervisor")).wait_ready()
        assert parent_of(agent.pid) == zygote.pid  # forked, not exec'd
        assert os.getsid(agent.pid) == agent.pid  # its own session, as start_new_session
        assert processes.is_alive(agent)
        found = {p.pid: p.name for p in records.lab_processes(rd)}
        assert found[agent.pid] == "supervisor" and found[zygote.pid] == "zygote"
        with open(f"/proc/{agent.pid}/cmdline", "rb") as f:
            assert b"lab_kit.agents supervisor --run-dir" in f.read()  # its own title
        wait_for(lambda: "watching the agents" in read(rd.log("supervisor")))
        os.kill(agent.pid, signal.SIGKILL)
        note = rd.exit_note(agent.pid)
        wait_for(lambda: os.path.exists(note))
        assert read(note) == "was killed by SIGKILL"
        assert not processes.is_alive(agent)  # reaped by the zygote: no zombie
    finally:
        processes.stop(zygote)


def test_without_a_zygote_an_agent_is_exec_d(tmp_path):
    rd = RunDir(str(tmp_path))
    rd.make()
    agent = processes.spawn("supervisor", command("supervisor", "--run-dir", rd.path),
                            rd.log("supervisor"))  # fmt: skip
    try:
        assert parent_of(agent.pid) == os.getpid()
    finally:
        processes.stop(agent)
