"""The lab's supervisor: an agent that dies is started again, as systemd restarts a kubelet
or kube-proxy (`Restart=always` with a back-off) and the kubelet restarts a static pod.

    every TICK_S, once `up` has finished (state.json's phase "running"):
      each recorded process whose table entry says restart "Always" and that is gone
      -> wait its back-off: 1 s, doubled per quick death (one that ran < RESET_S), up to 60 s
      -> a kubelet: first stop the pods it left behind (below)
      -> run the same command line again; record the new PID in its place in state.json
         and count the restart (`labkit status` shows both)
    SIGTERM -> exit (`labkit down` stops it first, then every agent by its recorded PID)

One small process for the whole lab (about 10 MB: it imports no HTTP client), not a restart
loop per agent, which would double the lab's ~35 processes. It is not the agents' parent
(`labkit up` started them and exited): it sees a death by looking at /proc twice a second,
and only the agents it restarted itself are its children (it reaps those).

What a restart means, agent by agent: the API server reads its objects back from the run
dir (`lab_kit.adapters.store_file`, etcd's part) and answers older watches 410 Gone, so
every informer lists again; the controller-manager and kube-proxy list everything again and
resync in full (kube-proxy rewrites all its chains); world-dns reloads its zone. A kubelet
is where the lab differs: the real one finds its pods still running in the container
runtime and keeps them. The lab has no runtime apart from the kubelet, so the supervisor
stops the pods the dead kubelet left (their sandbox.json records) and the new kubelet
starts them again from their Pod objects: same Pods, new sandboxes and addresses. The
network is never restarted (`restart="Never"` in the table): its router and outside hosts
die with it; `labkit status` says so.

Run: python -m lab_kit.agents supervisor --run-dir DIR [--ready-fd N]
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab_kit.adapters.processes import (
    Processes,
    ProcessRecord,
    SystemProcesses,
    reap_children,
    signal_ready,
)
from lab_kit.adapters.records import RUNNING, LabState, locked_state, pod_processes
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.table import entry_of

log = logging.getLogger("supervisor")
TICK_S = 0.5  # how often /proc is looked at
RESTART_BACKOFF_S = 1.0  # the first restart's delay; doubled per quick death
RESTART_BACKOFF_MAX_S = 60.0
RESET_S = 60.0  # a process that ran this long died "normally": its back-off starts over
POD_STOP_TIMEOUT_S = 1.0  # SIGTERM, then SIGKILL, for each process a dead kubelet left


@dataclass
class Watched:
    """What the supervisor remembers of one process name between ticks."""

    since: float  # when it was first seen alive, or last started
    failures: int = 0  # consecutive deaths within RESET_S of starting
    died_at: float | None = None


class Supervisor:
    """The policy, one `tick()` at a time (tests drive it with FakeProcesses and a clock)."""

    def __init__(
        self,
        run_dir: RunDir,
        processes: Processes | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        self.run_dir = run_dir
        self.processes: Processes = processes or SystemProcesses()
        self.clock, self.wall = clock, wall
        self.watched: dict[str, Watched] = {}
        self.exits: dict[int, str] = {}  # pid -> how a child of ours ended (see reap())

    def delay(self, watched: Watched) -> float:
        return min(RESTART_BACKOFF_S * 2**watched.failures, RESTART_BACKOFF_MAX_S)

    def tick(self) -> list[str]:
        """One look at every supervised process; restart those whose back-off is over.
        Returns what it did, in words (the log)."""
        said: list[str] = []
        with locked_state(self.run_dir.path) as state:
            if state is None or state.phase != RUNNING:
                return said
            for i, record in enumerate(state.processes):
                entry = entry_of(record.name)
                if entry is None or entry.restart != "Always" or entry.where == "supervisor":
                    continue
                restarted = self._check(state, record, said)
                if restarted is not None:
                    state.processes[i] = restarted
            if said:  # a death noted (its reason) or a restart made: state.json says so
                state.save()
        return said

    def _check(
        self, state: LabState, record: ProcessRecord, said: list[str]
    ) -> ProcessRecord | None:
        now = self.clock()
        watched = self.watched.setdefault(record.name, Watched(since=now))
        if self.processes.is_alive(record):
            return None
        if watched.died_at is None:
            watched.died_at = now
            quick = now - watched.since < RESET_S
            watched.failures = (
                watched.failures + 1 if quick and record.name in state.restarts else 0
            )
            reason = self.exits.pop(record.pid, None) or self.exit_note(record.pid)
            state.restarts.setdefault(record.name, {"count": 0})["reason"] = reason
            said.append(
                f"{record.name} (pid {record.pid}) {reason}; restarting in "
                f"{self.delay(watched):.0f} s"
            )
        if now < watched.died_at + self.delay(watched):
            return None
        return self._restart(state, record, watched, said)

    def _restart(
        self, state: LabState, record: ProcessRecord, watched: Watched, said: list[str]
    ) -> ProcessRecord:
        agent, _, node = record.name.partition("/")
        if agent == "kubelet":
            self._stop_pods_of(node, said)
        new = self.processes.start(record.name, record.argv, record.log).detach()
        restarts = state.restarts.setdefault(record.name, {"count": 0})
        restarts.update(count=restarts.get("count", 0) + 1, at=self.wall())
        watched.since, watched.died_at = self.clock(), None
        said.append(f"{record.name} restarted (pid {new.pid}, restart {restarts['count']})")
        return new

    def _stop_pods_of(self, node: str, said: list[str]) -> None:
        """The lab's kubelet does not adopt running pods: stop what the dead one left."""
        stopped = {
            r.name
            for r in pod_processes(self.run_dir, node=node)
            if self.processes.stop(r, timeout_s=POD_STOP_TIMEOUT_S)
        }
        if stopped:
            said.append(
                f"stopped the pods the kubelet on {node} left: {', '.join(sorted(stopped))}"
            )

    def exit_note(self, pid: int) -> str:
        """How an agent the zygote forked ended, as the zygote noted it; else "ended"."""
        try:
            with open(self.run_dir.exit_note(pid)) as f:
                return f.read().strip() or "ended"
        except OSError:
            return "ended"

    def reap(self) -> None:
        """Collect the exit status of every child of ours that ended (the agents this
        supervisor restarted), so none lingers as a zombie and the log can say why."""
        self.exits.update(reap_children())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="supervisor", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--run-dir", required=True, help="the lab's run directory")
    parser.add_argument("--ready-fd", type=int, help="write 'ready' to this fd once watching")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    supervisor = Supervisor(RunDir(args.run_dir))
    signal_ready(args.ready_fd)
    log.info("watching the agents recorded in %s", supervisor.run_dir.state_file)
    while not stop.is_set():
        supervisor.reap()
        try:
            for line in supervisor.tick():
                log.info("%s", line)
        except Exception:  # a bug must not end supervision: say it, try again next tick
            log.exception("supervising failed; trying again")
        stop.wait(TICK_S)
    log.info("stopped")
