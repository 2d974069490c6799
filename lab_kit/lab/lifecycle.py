"""Bring the lab up and down, and say what runs.

    up:   API server, controller-manager                  (agents/table.py: control-plane)
          network: Mininet from the topology               (network)
          on every node at once: kubelet, kube-proxy       (node)
          addons: coredns, and those asked for             (lab/addons/)
          on outside hosts: the world's DNS                (host:<role>)
          -> every Node Ready, every node's rules written, every addon ready
    down: everything recorded, newest first; then pods and links a crash left behind

Everything `up` makes is recorded in the run dir's `state.json` as it is made (process
PIDs with their start times, enabled addons), so `down` — or `clean` after a crash —
removes exactly that and nothing else. Where things live is `lab_kit.adapters.rundir`'s
business; which agents exist and where they run is `lab_kit.agents.table`'s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.processes import Processes, ProcessRecord, StartError, SystemProcesses
from lab_kit.adapters.rundir import NoSuchHost, RunDir
from lab_kit.agents.table import AGENTS, AgentEntry, command
from lab_kit.lab import addon_install
from lab_kit.lab.addons import ADDONS, lookup
from lab_kit.lab.errors import LabError
from lab_kit.lab.topologies import load_topology
from lab_kit.model.topology import ClusterSpec

__all__ = ["LabError", "LabState", "up", "down", "clean", "status"]

Progress = Callable[[str], None]

# The seams `up` and `down` act through (tests swap in FakeProcesses and the in-process API).
PROCESSES: Processes = SystemProcesses()


def api_client(rd: RunDir) -> ApiClient:
    """A client of the lab's API server (its Unix socket)."""
    return ApiClient(rd.socket)


def network_exists() -> bool:
    """Does a lab network (its first switch, a bridge in this namespace) already exist?"""
    return os.path.exists("/sys/class/net/lk-s1")


def run_dir() -> str:
    return RunDir().path


def socket_path(directory: str | None = None) -> str:
    return RunDir(directory).socket


@dataclass
class LabState:
    directory: str
    started_at: float = 0.0
    processes: list[ProcessRecord] = field(default_factory=list)
    addons: list[str] = field(default_factory=list)  # enabled, in the order applied

    @property
    def path(self) -> str:
        return RunDir(self.directory).state_file

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(
                {
                    "started_at": self.started_at,
                    "processes": [p.to_dict() for p in self.processes],
                    "addons": self.addons,
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
        )

    def alive(self) -> list[ProcessRecord]:
        return [p for p in self.processes if PROCESSES.is_alive(p)]


def _entries(where: str) -> list[AgentEntry]:
    return [e for e in AGENTS.values() if e.where == where]


def up(topology: str | None = None, progress: Progress = print, control_plane_only: bool = False,
       addons: list[str] | None = None) -> LabState:  # fmt: skip
    """Build the network, start the control plane, a kubelet and a kube-proxy per node,
    the default addons (and `addons`) and the outside hosts' agents; return once every Node
    is registered and Ready, every node's rules are written and every addon is ready.
    `control_plane_only`: API server and controllers only (no network, no nodes: pods stay
    Pending, as on a cluster with no nodes; no addons)."""
    spec = load_topology(topology)  # a bad topology fails here, before anything is made
    wanted = [a.name for a in ADDONS.values() if a.default]
    for name in addons or []:
        lookup(name)  # an unknown addon fails here too
        if name not in wanted:
            wanted.append(name)
    rd = RunDir()
    existing = LabState.load(rd.path)
    if existing and existing.alive():
        pids = ", ".join(f"{p.name} (pid {p.pid})" for p in existing.alive())
        raise LabError(f"a lab is already running ({pids}); `labkit down` stops it first")
    if existing:
        progress(f"Cleaning up the leftovers of a lab that did not stop cleanly ({rd.path})")
        clean(progress=lambda *_: None)
    if not control_plane_only and network_exists():
        raise LabError(
            "a lab network already exists on this machine (bridge lk-s1): another lab runs with "
            "another LABKIT_RUN_DIR, or one crashed; stop it with `labkit down` (same run dir) or "
            "`labkit clean`"
        )
    rd.make()
    state = LabState(rd.path, time.time())
    state.save()
    shutil.copyfile(spec.source, rd.topology_file)
    try:
        for entry in _entries("control-plane"):
            _start(state, entry.name, command(entry.name, "--socket", rd.socket), progress)
        if control_plane_only:
            return state
        for entry in _entries("network"):
            argv = command(entry.name, "--run-dir", rd.path, "--topology-file", rd.topology_file)
            _start(state, entry.name, argv, progress)
        for line in rd.network().get("warnings", []):
            progress(f"  warning: {line}")
        _start_node_agents(state, spec, progress)
        # After the nodes are Ready, so the scheduler spreads the addons' pods the same way
        # every run (coredns on node1 and node2) and every lab's pods get the same addresses.
        client = api_client(rd)
        try:
            applied_at = time.monotonic()
            for name in wanted:
                addon_install.apply_addon(client, ADDONS[name])
                state.addons.append(name)
            state.save()
            _start_host_agents(state, spec, progress)
            for name in wanted:
                addon_install.wait_ready(client, ADDONS[name])
                took = time.monotonic() - applied_at
                progress(f"  {'addon ' + name:<20} ready {took:.2f} s after its apply "
                         f"({ADDONS[name].description})")  # fmt: skip
        finally:
            client.close()
    except (StartError, LabError, NoSuchHost) as e:
        down(progress=lambda *_: None)
        raise LabError(str(e)) from e
    return state


def _start_node_agents(state: LabState, spec: ClusterSpec, progress: Progress) -> None:
    """On every node each node agent (kubelet, kube-proxy), all started together (each in
    its node's namespaces), then each awaited: registration and first syncs overlap."""
    t0 = time.monotonic()
    rd = RunDir(state.directory)
    entries = _entries("node")
    starting = []
    for node in spec.nodes:
        for entry in entries:
            options = ["--node", node.name, "--socket", rd.socket,
                       "--topology-file", rd.topology_file, "--run-dir", rd.path]  # fmt: skip
            argv = rd.host_argv(node.name, command(entry.name, *options))
            name = f"{entry.name}/{node.name}"
            starting.append(PROCESSES.start(name, argv, rd.log(name)))
            state.processes.append(starting[-1].record)  # recorded before waiting: `down` finds it
    state.save()
    for s in starting:
        s.wait_ready()
    n = len(spec.nodes)
    what = " and ".join(e.name for e in entries)
    progress(f"  {what} on {n} nodes ready in {time.monotonic() - t0:.2f} s")


def _start_host_agents(state: LabState, spec: ClusterSpec, progress: Progress) -> None:
    """Each `host:<role>` agent on the outside host with that role (world-dns on the
    internet host: where cluster DNS forwards names outside the cluster)."""
    rd = RunDir(state.directory)
    for entry in AGENTS.values():
        if not entry.where.startswith("host:"):
            continue
        role = entry.where.partition(":")[2]
        host = spec.host_role(role)
        if host is None:
            progress(f"  no host with role {role}: {entry.name} ({entry.summary}) not started")
            continue
        t0 = time.monotonic()
        name = f"{entry.name}/{host.name}"
        argv = rd.host_argv(host.name, command(entry.name), mount=False)
        starting = PROCESSES.start(name, argv, rd.log(name))
        state.processes.append(starting.record)
        state.save()
        starting.wait_ready()
        progress(
            f"  {entry.name:<20} ready in {time.monotonic() - t0:.2f} s ({host.name}, {host.ip})"
        )


def _start(state: LabState, name: str, argv: list[str], progress: Progress) -> None:
    """Spawn one agent of the control plane (or the network) and wait for its "ready"."""
    t0 = time.monotonic()
    record = PROCESSES.spawn(name, argv, RunDir(state.directory).log(name))
    state.processes.append(record)
    state.save()
    progress(f"  {name:<20} ready in {time.monotonic() - t0:.2f} s (pid {record.pid})")


# --- addons on a running lab -----------------------------------------------------------------


def enable_addon(name: str, progress: Progress = print, timeout_s: float = 60) -> bool:
    """Install an addon on the running lab and wait until it is ready; False if it was
    already enabled."""
    addon = lookup(name)
    state = _running_state()
    if name in state.addons:
        return False
    client = api_client(RunDir(state.directory))
    try:
        addon_install.apply_addon(client, addon)
        state.addons.append(name)
        state.save()
        t0 = time.monotonic()
        addon_install.wait_ready(client, addon, timeout_s)
        progress(f"  {'addon ' + name:<20} ready in {time.monotonic() - t0:.2f} s")
    finally:
        client.close()
    return True


def disable_addon(name: str, progress: Progress = print) -> bool:
    """Remove an addon's objects from the running lab; False if it was not enabled."""
    addon = lookup(name)
    state = _running_state()
    if name not in state.addons:
        return False
    client = api_client(RunDir(state.directory))
    try:
        for line in addon_install.remove_addon(client, addon):
            progress(f"  {line} deleted")
    finally:
        client.close()
    state.addons.remove(name)
    state.save()
    return True


def addon_states() -> list[tuple[str, bool, str]]:
    """(name, enabled in the running lab, description) for every addon."""
    state = LabState.load(run_dir())
    enabled = set(state.addons) if state and state.alive() else set()
    return [(a.name, a.name in enabled, a.description) for a in ADDONS.values()]


def _running_state() -> LabState:
    state = LabState.load(run_dir())
    if state is None or not state.alive():
        raise LabError(f"no lab is running (in {run_dir()}); start one with `labkit up`")
    return state


# --- records ---------------------------------------------------------------------------------


def topology_file(directory: str | None = None) -> str:
    """The running lab's copy of its topology (made by `up`)."""
    return RunDir(directory).topology_file


def network_info(directory: str | None = None) -> dict:
    """network.json: each Mininet host's shell PID, role and address."""
    return RunDir(directory).network()


def host_pid(name: str, directory: str | None = None) -> int:
    try:
        return RunDir(directory).host_pid(name)
    except NoSuchHost as e:
        raise LabError(str(e)) from None


def remember_process(record: ProcessRecord) -> None:
    """Add a process the lab started on the side (a capture's tcpdump) to state.json."""
    state = LabState.load(run_dir())
    if state is not None:
        state.processes.append(record)
        state.save()


def down(progress: Progress = print) -> bool:
    """Stop what `up` started (newest first), then anything left that the lab recorded
    (pod processes, root-namespace bridges), and remove the run dir. False if none ran."""
    rd = RunDir()
    state = LabState.load(rd.path)
    if state is None:
        return False
    for record in reversed(state.processes):
        if PROCESSES.stop(record):
            progress(f"  stopped {record.name} (pid {record.pid})")
    _stop_leftover_pods(rd, progress)
    _remove_leftover_links(rd.network().get("root_links", []), progress)
    shutil.rmtree(rd.path, ignore_errors=True)
    return True


def clean(progress: Progress = print) -> bool:
    """Remove the leftovers of a lab that crashed: the same records, tolerant of gaps."""
    return down(progress)


def _stop_leftover_pods(rd: RunDir, progress: Progress) -> None:
    """Pod processes a crashed kubelet could not stop (recorded in each sandbox.json)."""
    for state_file in rd.sandbox_files():
        try:
            with open(state_file) as f:
                sandbox = json.load(f)
        except (OSError, ValueError):
            continue
        records = [c.get("pid") for c in sandbox.get("containers", {}).values()] + [
            sandbox.get("pause")
        ]
        for rec in filter(None, records):
            record = ProcessRecord(f"pod {sandbox.get('name')}", rec["pid"], rec["start_ticks"], [])
            if PROCESSES.stop(record, timeout_s=1.0):
                progress(f"  stopped leftover process {rec['pid']} of pod {sandbox.get('name')}")


def _remove_leftover_links(names: list[str], progress: Progress) -> None:
    """Bridges and ports the network recorded, if a crash left them in the root namespace."""
    for name in names:
        if os.path.exists(f"/sys/class/net/{name}"):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
            progress(f"  removed leftover link {name}")


def status() -> dict:
    """What runs: processes (alive or not), the socket, addons and the agents' progress."""
    rd = RunDir()
    state = LabState.load(rd.path)
    if state is None:
        return {"running": False, "run_dir": rd.path}
    info: dict = {
        "running": bool(state.alive()),
        "run_dir": rd.path,
        "started_at": state.started_at,
        "processes": [
            {"name": p.name, "pid": p.pid, "alive": PROCESSES.is_alive(p)} for p in state.processes
        ],
        "addons": state.addons,
        "socket": rd.socket,
    }
    if info["running"]:
        client = api_client(rd)
        try:
            info["agents"] = client.agents()
        except Exception as e:  # a half-dead lab: report, don't crash
            info["agents_error"] = str(e)
        finally:
            client.close()
    return info
