"""The processes seam: one contract, held by the real processes (an unprivileged child
Python, no root) and by the fake the lifecycle's tests will use, so the fake cannot drift."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from lab_kit.adapters.processes import (
    FakeProcesses,
    Processes,
    StartError,
    SystemProcesses,
)

# The child says "ready" on the fd `start` appends (`--ready-fd N`), then serves until stopped.
SERVES = "import os, sys, time; os.write(int(sys.argv[-1]), b'ready\\n'); time.sleep(60)"
CRASHES = "import sys; print('no config'); sys.exit(1)"
CRASH = "exited with code 1 before it was ready"


@dataclass
class Kit:
    processes: Processes
    will_crash: Callable[[str], None]  # make the process of that name crash at start


def real() -> Kit:
    return Kit(SystemProcesses(), lambda name: None)


def fake() -> Kit:
    processes = FakeProcesses()
    return Kit(processes, lambda name: processes.failures.__setitem__(name, CRASH))


def argv(kit: Kit, code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture(params=[real, fake], ids=["real", "fake"])
def kit(request: pytest.FixtureRequest) -> Kit:
    return request.param()


def test_a_spawned_process_is_alive_until_stopped(kit: Kit, tmp_path):
    record = kit.processes.spawn("server", argv(kit, SERVES), str(tmp_path / "server.log"))
    assert (record.name, record.log) == ("server", str(tmp_path / "server.log"))
    assert record.argv == argv(kit, SERVES)  # as given: without the --ready-fd
    assert kit.processes.is_alive(record)
    assert kit.processes.stop(record) is True
    assert not kit.processes.is_alive(record)
    assert kit.processes.stop(record) is False  # already gone


def test_a_reused_pid_is_someone_else(kit: Kit, tmp_path):
    record = kit.processes.start("server", argv(kit, SERVES), str(tmp_path / "s.log")).wait_ready()
    stranger = replace(record, start_ticks=record.start_ticks + 1)
    assert not kit.processes.is_alive(stranger)
    assert kit.processes.stop(stranger) is False  # never signals a stranger
    assert kit.processes.is_alive(record)
    kit.processes.stop(record)


def test_a_process_that_exits_before_ready_is_a_start_error(kit: Kit, tmp_path):
    kit.will_crash("broken")
    starting = kit.processes.start("broken", argv(kit, CRASHES), str(tmp_path / "broken.log"))
    with pytest.raises(StartError, match=CRASH):
        starting.wait_ready(timeout_s=10)
    assert not kit.processes.is_alive(starting.record)


def test_the_fake_can_crash_a_running_process(tmp_path):
    processes = FakeProcesses()
    record = processes.spawn("agent", ["agent"], str(tmp_path / "agent.log"))
    processes.die(record)
    assert not processes.is_alive(record)
    assert processes.stopped == []  # it died; nobody stopped it
    assert processes.started == [record]
