"""Everything a running lab leaves on the machine, and how to find each thing again.

    state.json          what `up` started (PID + start time), addons, the phase, restarts
                        (`LabState`, read and rewritten under state.lock)
    /proc               processes running `python -m lab_kit.agents NAME ...` whose command
                        line names the lab's run dir, and its tcpdump captures
                        (`lab_processes`)
    pods/*/sandbox.json each pod's pause and container processes (`pod_processes`)
    /sys/class/net      the lab's bridges and their ports in this namespace, `lk-*`
                        (`lab_links`; network.json names them while the network runs)

`labkit down`, `clean` and `status` read all of them, so no single lost record strands
anything: a state.json deleted, or never written because `up` was interrupted, still
leaves every agent findable by the run dir its command line names. Processes are never
picked by name alone (the lesson of Mininet's `mn -c`): a process belongs to this lab
only if it runs lab_kit's agents (or a capture) AND names this lab's run dir, and it is
stopped by PID and start time like any recorded one. Links are removed by name only
when no other lab's network holds them.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lab_kit.adapters.processes import ProcessRecord, start_ticks
from lab_kit.adapters.rundir import RunDir

PROC = "/proc"
SYS_CLASS_NET = "/sys/class/net"
LINK_PREFIX = "lk-"  # every bridge and port the lab makes in this namespace (mininet_net)
AGENTS_MODULE = "lab_kit.agents"

# Where a lab is in its life: "starting" (`up` at work: nothing is restarted), "running"
# (`up` returned: the supervisor restarts agents that die), "stopping" (`down` at work).
STARTING, RUNNING, STOPPING = "starting", "running", "stopping"


@dataclass
class LabState:
    """state.json: the lab's own record of what it started."""

    directory: str
    started_at: float = 0.0
    processes: list[ProcessRecord] = field(default_factory=list)
    addons: list[str] = field(default_factory=list)  # enabled, in the order applied
    phase: str = STARTING
    # process name -> {"count": restarts so far, "at": time of the last, "reason": why}
    restarts: dict[str, dict] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return RunDir(self.directory).state_file

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(
                {
                    "started_at": self.started_at,
                    "phase": self.phase,
                    "processes": [p.to_dict() for p in self.processes],
                    "addons": self.addons,
                    "restarts": self.restarts,
                },
                f,
                indent=1,
            )
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, directory: str) -> LabState | None:
        try:
            with open(RunDir(directory).state_file) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        return cls(
            directory,
            data.get("started_at", 0.0),
            [ProcessRecord.from_dict(p) for p in data.get("processes", [])],
            list(data.get("addons", [])),
            data.get("phase", RUNNING),  # a record from before phases: a lab that was up
            dict(data.get("restarts", {})),
        )


@contextmanager
def locked_state(directory: str) -> Iterator[LabState | None]:
    """state.json read under the run dir's lock, for a read-modify-write (`save()` inside
    the block): the supervisor, `down`, captures and addons each rewrite it. None (and no
    lock) when there is no run dir."""
    try:
        fd = os.open(RunDir(directory).state_lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield None
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield LabState.load(directory)
    finally:
        os.close(fd)  # releases the lock


# --- processes found through /proc --------------------------------------------------------------


def command_lines(proc: str = PROC) -> Iterator[tuple[int, list[str]]]:
    """(pid, argv) of every process this namespace shows (kernel threads have none)."""
    for entry in os.listdir(proc):
        if entry.isdigit() and (argv := argv_of(int(entry), proc)):
            yield int(entry), argv


def argv_of(pid: int, proc: str = PROC) -> list[str]:
    """A process's command line; [] if it is gone or a kernel thread. A process title
    (setproctitle, as the zygote's children set it) is one string: split at spaces."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as f:
            raw = f.read()
    except OSError:
        return []  # it ended while we looked
    argv = [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")] if raw else []
    if len(argv) == 1 and " " in argv[0]:
        argv = argv[0].split()
    return argv


def _agent(argv: list[str]) -> str | None:
    """NAME of a `... -m lab_kit.agents NAME ...` command line."""
    for i in range(len(argv) - 2):
        if argv[i] == "-m" and argv[i + 1] == AGENTS_MODULE:
            return argv[i + 2]
    return None


def _option(argv: list[str], option: str) -> str:
    return argv[argv.index(option) + 1] if option in argv[:-1] else ""


def process_name(argv: list[str], rd: RunDir) -> str | None:
    """The lab's name for a process of the lab at `rd` ("kubelet/node1", "apiserver",
    "tcpdump"), or None if the command line is not one of its processes."""
    if not rd.names_this(argv):
        return None
    agent = _agent(argv)
    if agent is not None:
        node = _option(argv, "--node")
        return f"{agent}/{node}" if node else agent
    captures = rd.captures.rstrip("/") + "/"
    if os.path.basename(argv[0]) == "tcpdump" and any(a.startswith(captures) for a in argv):
        return "tcpdump"
    return None


def lab_processes(rd: RunDir, proc: str = PROC) -> list[ProcessRecord]:
    """The lab's processes as /proc shows them, whatever state.json says (pid order)."""
    found = []
    for pid, argv in sorted(command_lines(proc)):
        name = process_name(argv, rd)
        ticks = start_ticks(pid, proc) if name else None
        if name and ticks is not None and pid != os.getpid():
            found.append(ProcessRecord(name, pid, ticks, argv, rd.log(name)))
    return found


def other_networks(rd: RunDir, proc: str = PROC) -> list[str]:
    """Run dirs of other labs whose network agent runs (their `lk-*` links are not ours)."""
    mine = rd.path.rstrip("/")
    dirs = []
    for _, argv in command_lines(proc):
        other = _option(argv, "--run-dir").rstrip("/")
        if _agent(argv) == "network" and other and other != mine:
            dirs.append(other)
    return dirs


# --- pods and links ------------------------------------------------------------------------------


def pod_processes(rd: RunDir, node: str | None = None) -> list[ProcessRecord]:
    """Each pod's processes (containers first, then the pause) from its sandbox.json; only
    the pods of `node` if given."""
    found = []
    for path in rd.sandbox_files():
        try:
            with open(path) as f:
                sandbox = json.load(f)
        except (OSError, ValueError):
            continue
        if node is not None and sandbox.get("node") != node:
            continue
        pids = [c.get("pid") for c in sandbox.get("containers", {}).values()]
        name = f"pod {sandbox.get('namespace', 'default')}/{sandbox.get('name')}"
        for rec in filter(None, [*pids, sandbox.get("pause")]):
            found.append(ProcessRecord(name, rec["pid"], rec["start_ticks"], []))
    return found


def lab_links(sys_class_net: str = SYS_CLASS_NET) -> list[str]:
    """The `lk-*` links of this namespace (bridges first: removing one takes its ports)."""
    try:
        names = [n for n in os.listdir(sys_class_net) if n.startswith(LINK_PREFIX)]
    except OSError:
        return []
    return sorted(names, key=lambda n: (n.count("-"), n))
