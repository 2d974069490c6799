"""Start, check and stop the lab's own processes, by PID, never by name.

Each process we start is recorded as (pid, start time from /proc/<pid>/stat), so a later
`labkit down` signals exactly that process and never a stranger that reused the PID (the
lesson of Mininet's `mn -c`, which kills by name). Readiness is a pipe: the child writes
"ready" on the fd it was given once it serves, so starting waits on a condition, not a
sleep.

The module's functions are the real thing. As a seam, `Processes` is the same four verbs
(start, spawn, stop, is_alive) for code that takes them injected: `SystemProcesses` calls
the functions, `FakeProcesses` keeps a table in memory where a test decides which process
fails to become ready and which dies.
"""

from __future__ import annotations

import itertools
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol

from lab_kit.adapters import zygote


class StartError(RuntimeError):
    pass


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int  # field 22 of /proc/<pid>/stat: tells a PID's incarnations apart
    argv: list[str]
    log: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ProcessRecord:
        return cls(d["name"], d["pid"], d["start_ticks"], d["argv"], d.get("log", ""))


def start_ticks(pid: int, proc: str = "/proc") -> int | None:
    try:
        with open(f"{proc}/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def is_alive(record: ProcessRecord) -> bool:
    """Same incarnation and not a zombie (an exited child nobody has reaped yet)."""
    if start_ticks(record.pid) != record.start_ticks:
        return False
    try:
        with open(f"/proc/{record.pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


class Forked:
    """What `_wait_ready` needs of a process the zygote forked (not our child: no exit code)."""

    returncode = None

    def __init__(self, pid: int):
        self.pid = pid

    def wait(self, timeout: float) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return
        try:
            select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)


@dataclass
class Starting:
    """A process that was started and has not yet said "ready"."""

    record: ProcessRecord
    proc: subprocess.Popen | Forked
    read_fd: int

    def wait_ready(self, timeout_s: float = 30.0) -> ProcessRecord:
        try:
            _wait_ready(self.read_fd, self.proc, self.record.name, self.record.log, timeout_s)
        except StartError:
            stop(self.record)
            raise
        finally:
            os.close(self.read_fd)
        return self.record

    def detach(self) -> ProcessRecord:
        """Do not wait for "ready" (the supervisor's restarts): close our end of the pipe."""
        os.close(self.read_fd)
        return self.record


def signal_ready(fd: int | None) -> None:
    """The child's end of the ready pipe: say "ready" on the fd `start` passed (--ready-fd).
    Nobody listening any more (a restart the supervisor did not wait for) is fine."""
    if fd is None:
        return
    try:
        os.write(fd, b"ready\n")
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def start(name: str, argv: list[str], log_path: str, env: dict | None = None) -> Starting:
    """Start `argv` (which gets `--ready-fd N`) in its own session; don't wait. An agent of
    a lab whose zygote runs is forked by it (`lab_kit/adapters/zygote.py`), else exec'd."""
    read_fd, write_fd = os.pipe()
    via = zygote.request_for(argv, env)
    with open(log_path, "ab") as log:
        pid = zygote.fork(*via, log.fileno(), write_fd) if via else None
        if pid is not None:
            os.close(write_fd)
            record = ProcessRecord(name, pid, start_ticks(pid) or 0, argv, log_path)
            return Starting(record, Forked(pid), read_fd)
        proc = subprocess.Popen(
            [*argv, "--ready-fd", str(write_fd)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
            env=env,
        )
    os.close(write_fd)
    return Starting(
        ProcessRecord(name, proc.pid, start_ticks(proc.pid) or 0, argv, log_path), proc, read_fd
    )


def spawn(
    name: str,
    argv: list[str],
    log_path: str,
    ready_timeout_s: float = 30.0,
    env: dict | None = None,
) -> ProcessRecord:
    """Start `argv` and wait for its "ready"."""
    return start(name, argv, log_path, env).wait_ready(ready_timeout_s)


def _wait_ready(
    fd: int, proc: subprocess.Popen | Forked, name: str, log_path: str, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise StartError(
                f"{name} did not become ready within {timeout_s:.0f} s; see {log_path}:\n"
                + tail(log_path)
            )
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            data = os.read(fd, 64)
            if data.startswith(b"ready"):
                return
            # EOF without "ready": the process exited or closed the pipe.
            proc.wait(timeout=5)
            code = f" with code {proc.returncode}" if proc.returncode is not None else ""
            raise StartError(
                f"{name} exited{code} before it was ready; see {log_path}:\n" + tail(log_path)
            )


def exit_reason(status: int) -> str:
    """How a process ended, from its wait status: "was killed by SIGKILL", "exited with code 1"."""
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


def reap_children() -> Iterator[tuple[int, str]]:
    """(pid, how it ended) of every child of ours that has ended, collected so none lingers
    as a zombie; returns when none is left to collect (for a SIGCHLD handler or a loop)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, exit_reason(status)


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def stop(record: ProcessRecord, timeout_s: float = 5.0) -> bool:
    """SIGTERM, wait for exit (pidfd), then SIGKILL. False if it was already gone."""
    if not is_alive(record):
        return False
    try:
        pidfd = os.pidfd_open(record.pid)
    except ProcessLookupError:
        return False
    try:
        os.kill(record.pid, signal.SIGTERM)
        if not select.select([pidfd], [], [], timeout_s)[0]:
            os.kill(record.pid, signal.SIGKILL)
            select.select([pidfd], [], [], timeout_s)
        _reap(record.pid)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (avoids a zombie in notebooks)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# --- the seam -------------------------------------------------------------------------------


class StartingProcess(Protocol):
    """A process started and not yet ready (`Starting`, `FakeStarting`)."""

    @property
    def record(self) -> ProcessRecord: ...

    def wait_ready(self, timeout_s: float = 30.0) -> ProcessRecord: ...

    def detach(self) -> ProcessRecord: ...


class Processes(Protocol):
    def start(
        self, name: str, argv: list[str], log_path: str, env: dict | None = None
    ) -> StartingProcess: ...

    def spawn(
        self,
        name: str,
        argv: list[str],
        log_path: str,
        ready_timeout_s: float = 30.0,
        env: dict | None = None,
    ) -> ProcessRecord: ...

    def stop(self, record: ProcessRecord, timeout_s: float = 5.0) -> bool: ...

    def is_alive(self, record: ProcessRecord) -> bool: ...


class SystemProcesses:
    """The real processes: this module's functions."""

    def start(
        self, name: str, argv: list[str], log_path: str, env: dict | None = None
    ) -> StartingProcess:
        return start(name, argv, log_path, env)

    def spawn(
        self,
        name: str,
        argv: list[str],
        log_path: str,
        ready_timeout_s: float = 30.0,
        env: dict | None = None,
    ) -> ProcessRecord:
        return spawn(name, argv, log_path, ready_timeout_s, env)

    def stop(self, record: ProcessRecord, timeout_s: float = 5.0) -> bool:
        return stop(record, timeout_s)

    def is_alive(self, record: ProcessRecord) -> bool:
        return is_alive(record)


@dataclass
class FakeStarting:
    record: ProcessRecord
    table: FakeProcesses

    def wait_ready(self, timeout_s: float = 30.0) -> ProcessRecord:
        failure = self.table.failures.get(self.record.name)
        if failure is not None:
            self.table.alive.pop(self.record.pid, None)
            raise StartError(f"{self.record.name} {failure}; see {self.record.log}:\n")
        return self.record

    def detach(self) -> ProcessRecord:
        return self.record


@dataclass
class FakeProcesses:
    """Processes in memory. `started` lists every record in start order, `alive` those
    still running (by PID); `failures[name]` makes that process fail to become ready (the text
    of its StartError, e.g. "exited with code 1 before it was ready"); `die(record)` is a
    crash."""

    started: list[ProcessRecord] = field(default_factory=list)
    alive: dict[int, ProcessRecord] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    stopped: list[ProcessRecord] = field(default_factory=list)
    _pids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(2000), init=False, repr=False
    )

    def start(
        self, name: str, argv: list[str], log_path: str, env: dict | None = None
    ) -> StartingProcess:
        pid = next(self._pids)
        record = ProcessRecord(name, pid, pid * 7, list(argv), log_path)
        self.started.append(record)
        self.alive[pid] = record
        return FakeStarting(record, self)

    def spawn(
        self,
        name: str,
        argv: list[str],
        log_path: str,
        ready_timeout_s: float = 30.0,
        env: dict | None = None,
    ) -> ProcessRecord:
        return self.start(name, argv, log_path, env).wait_ready(ready_timeout_s)

    def stop(self, record: ProcessRecord, timeout_s: float = 5.0) -> bool:
        if not self.is_alive(record):
            return False
        del self.alive[record.pid]
        self.stopped.append(record)
        return True

    def is_alive(self, record: ProcessRecord) -> bool:
        """Same incarnation: the PID and its start time (a reused PID is someone else)."""
        running = self.alive.get(record.pid)
        return running is not None and running.start_ticks == record.start_ticks

    def die(self, record: ProcessRecord) -> None:
        self.alive.pop(record.pid, None)
