"""Bring the lab up and down, and say what runs.

    up:   the supervisor                                   (agents/table.py: supervisor)
          API server, controller-manager                  (control-plane)
          network: Mininet from the topology               (network)
          on every node at once: kubelet, kube-proxy       (node)
          addons: coredns, and those asked for             (lab/addons/)
          on outside hosts: the world's DNS                (host:<role>)
          -> every Node Ready, every node's rules written, every addon ready
          -> phase "running": from now on the supervisor restarts an agent that dies
    down: the supervisor first, then everything recorded, newest first; then whatever
          the records missed: the lab's processes found through /proc, pods, links

Everything `up` makes is recorded in the run dir's `state.json` as it is made — each
process before `up` waits for it — so `down`, or `clean` after a crash, removes exactly
that. An interrupted `up` (Ctrl-C, or SIGTERM, which it takes as Ctrl-C) stops what it
had started before it gives up; and since every agent's command line names the run dir,
`down`/`clean`/`status` also find the lab's processes when state.json is gone
(`lab_kit.adapters.records`). Where things live is `lab_kit.adapters.rundir`'s business;
which agents exist, where they run and whether they are restarted is
`lab_kit.agents.table`'s.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import httpx

from lab_kit.adapters import records
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.processes import Processes, ProcessRecord, StartError, SystemProcesses
from lab_kit.adapters.records import RUNNING, STOPPING, LabState, locked_state
from lab_kit.adapters.rundir import NoSuchHost, RunDir
from lab_kit.agents.table import AGENTS, AgentEntry, command, entry_of, when_down
from lab_kit.lab import addon_install
from lab_kit.lab.addons import ADDONS, lookup
from lab_kit.lab.errors import LabError
from lab_kit.lab.topologies import load_topology
from lab_kit.model.constants import SERVICE_CIDR
from lab_kit.model.topology import ClusterSpec

__all__ = ["LabError", "LabState", "up", "down", "clean", "status", "api_problem", "lab_left"]

Progress = Callable[[str], None]
FOUND = " (found by its command line)"  # how `down` names what state.json did not list
API_ANSWER_S = 5.0  # a live API server that has not answered in this long is "not answering"

# The seams `up`, `down` and `status` act through (tests swap in FakeProcesses, the
# in-process API, and a /proc of their own).
PROCESSES: Processes = SystemProcesses()


def api_client(rd: RunDir, timeout_s: float = 30) -> ApiClient:
    """A client of the lab's API server (its Unix socket)."""
    return ApiClient(rd.socket, timeout_s=timeout_s)


def network_exists() -> bool:
    """Does a lab network (its first switch, a bridge in this namespace) already exist?"""
    return os.path.exists("/sys/class/net/lk-s1")


def find_processes(rd: RunDir) -> list[ProcessRecord]:
    """The lab's processes as /proc shows them, recorded or not."""
    return records.lab_processes(rd)


def find_links() -> list[str]:
    """The `lk-*` links in this namespace."""
    return records.lab_links()


def other_networks(rd: RunDir) -> list[str]:
    """Run dirs of other labs whose network runs on this machine."""
    return records.other_networks(rd)


def run_dir() -> str:
    return RunDir().path


def socket_path(directory: str | None = None) -> str:
    return RunDir(directory).socket


def alive(state: LabState) -> list[ProcessRecord]:
    return [p for p in state.processes if PROCESSES.is_alive(p)]


def unrecorded(rd: RunDir, state: LabState | None) -> list[ProcessRecord]:
    """The lab's running processes that state.json does not list (it is gone, or `up` was
    cut short between starting one and writing it down), in the agent table's order."""
    known = {(p.pid, p.start_ticks) for p in (state.processes if state else [])}
    found = [p for p in find_processes(rd) if (p.pid, p.start_ticks) not in known]
    order = list(AGENTS)
    return sorted(found, key=lambda p: order.index(e.name) if (e := entry_of(p.name)) else 99)


def _entries(where: str) -> list[AgentEntry]:
    return [e for e in AGENTS.values() if e.where == where]


def up(topology: str | None = None, progress: Progress = print, control_plane_only: bool = False,
       addons: list[str] | None = None) -> LabState:  # fmt: skip
    """Build the network, start the control plane, a kubelet and a kube-proxy per node,
    the default addons (and `addons`) and the outside hosts' agents; return once every Node
    is registered and Ready, every node's rules are written and every addon is ready.
    `control_plane_only`: API server and controllers only (no network, no nodes: pods stay
    Pending, as on a cluster with no nodes; no addons). Interrupted (Ctrl-C, SIGTERM) or
    failed, it stops what it started before it raises."""
    spec = load_topology(topology)  # a bad topology fails here, before anything is made
    wanted = [a.name for a in ADDONS.values() if a.default]
    for name in addons or []:
        lookup(name)  # an unknown addon fails here too
        if name not in wanted:
            wanted.append(name)
    rd = RunDir()
    _refuse_a_running_lab(rd, progress)
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
    with _sigterm_as_interrupt():
        try:
            _start_all(state, spec, wanted, control_plane_only, progress)
        except BaseException as e:
            with _deferred_interrupts():  # a second Ctrl-C does not cut the clean-up short
                down(progress=lambda *_: None)
            if isinstance(e, (StartError, LabError, NoSuchHost)):
                raise LabError(str(e)) from e
            raise
    return state


def _refuse_a_running_lab(rd: RunDir, progress: Progress) -> None:
    """One lab per run dir: refuse if one runs; clean up after one that crashed."""
    existing = LabState.load(rd.path)
    running = alive(existing) if existing else []
    if running:
        pids = ", ".join(f"{p.name} (pid {p.pid})" for p in running)
        raise LabError(f"a lab is already running ({pids}); `labkit down` stops it first")
    strays = unrecorded(rd, existing)
    if strays:
        pids = ", ".join(f"{p.name} (pid {p.pid})" for p in strays)
        raise LabError(
            f"a lab's processes run without its record ({pids}; {rd.state_file} is gone); "
            "`labkit clean` stops them"
        )
    if existing:
        progress(f"Cleaning up the leftovers of a lab that did not stop cleanly ({rd.path})")
        clean(progress=lambda *_: None)


def _start_all(state: LabState, spec: ClusterSpec, wanted: list[str], control_plane_only: bool,
               progress: Progress) -> None:  # fmt: skip
    rd = RunDir(state.directory)
    # The fork server first: every agent after it starts as a fork of it (lab_kit/agents/zygote.py).
    for entry in [*_entries("zygote"), *_entries("supervisor")]:
        _start(state, entry.name, command(entry.name, "--run-dir", rd.path), progress)
    for entry in _entries("control-plane"):
        options = ["--socket", rd.socket, *_service_range(entry, spec), *_secure_port(entry, spec),
                   "--run-dir", rd.path]  # fmt: skip
        argv = command(entry.name, *options)
        _start(state, entry.name, argv, progress)
    if not control_plane_only:
        _start_network_and_nodes(state, spec, wanted, progress)
    state.phase = RUNNING  # up is done: from now on the supervisor restarts what dies
    state.save()


def _service_range(entry: AgentEntry, spec: ClusterSpec) -> list[str]:
    """The API server's --service-cluster-ip-range, when the topology's service_cidr is
    not the lab's default (which is the API server's own default)."""
    if entry.name != "apiserver" or spec.service_cidr == SERVICE_CIDR:
        return []
    return ["--service-cluster-ip-range", spec.service_cidr]


def _secure_port(entry: AgentEntry, spec: ClusterSpec) -> list[str]:
    """The API server's secure port on the first node's address: that node doubles as the
    control-plane node (the `kubernetes` Service's endpoint, 172.18.0.2:6443 by default)."""
    if entry.name != "apiserver" or not spec.nodes:
        return []
    first = spec.nodes[0]
    return ["--advertise-address", first.ip, "--bind-netns-host", first.name]


def _start_network_and_nodes(
    state: LabState, spec: ClusterSpec, wanted: list[str], progress: Progress
) -> None:
    rd = RunDir(state.directory)
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


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While `up` works, SIGTERM interrupts it as Ctrl-C does (so it cleans up after
    itself); only the main thread can take signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then raise KeyboardInterrupt: a
    process is never started without being written down, a clean-up never cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    hold = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, _: held.append(signum)) for sig in hold}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if held:
            raise KeyboardInterrupt


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
            with _deferred_interrupts():  # recorded before waiting: `down` finds it
                starting.append(PROCESSES.start(name, argv, rd.log(name)))
                state.processes.append(starting[-1].record)
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
        options = ["--socket", rd.socket, "--run-dir", rd.path]  # cloud-lb watches the API
        argv = rd.host_argv(host.name, command(entry.name, *options), mount=False)
        with _deferred_interrupts():
            starting = PROCESSES.start(name, argv, rd.log(name))
            state.processes.append(starting.record)
            state.save()
        starting.wait_ready()
        progress(
            f"  {entry.name:<20} ready in {time.monotonic() - t0:.2f} s ({host.name}, {host.ip})"
        )


def _start(state: LabState, name: str, argv: list[str], progress: Progress) -> None:
    """Start one agent (the supervisor, the control plane, the network): written down in
    state.json first, then awaited ("ready")."""
    t0 = time.monotonic()
    with _deferred_interrupts():
        starting = PROCESSES.start(name, argv, RunDir(state.directory).log(name))
        state.processes.append(starting.record)
        state.save()
    record = starting.wait_ready()
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
        _update_addons(lambda enabled: enabled.append(name) if name not in enabled else None)
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
    _update_addons(lambda enabled: enabled.remove(name) if name in enabled else None)
    return True


def _update_addons(change: Callable[[list[str]], None]) -> None:
    with locked_state(run_dir()) as state:
        if state is not None:
            change(state.addons)
            state.save()


def addon_states() -> list[tuple[str, bool, str]]:
    """(name, enabled in the running lab, description) for every addon."""
    state = LabState.load(run_dir())
    enabled = set(state.addons) if state and alive(state) else set()
    return [(a.name, a.name in enabled, a.description) for a in ADDONS.values()]


def _running_state() -> LabState:
    state = LabState.load(run_dir())
    if state is None or not alive(state):
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
    with locked_state(run_dir()) as state:
        if state is not None:
            state.processes.append(record)
            state.save()


def down(progress: Progress = print) -> bool:
    """Stop the supervisor (so nothing is restarted behind our back), then what `up`
    started (newest first), then whatever the records missed — the lab's processes found
    through /proc, pod processes, its links — and remove the run dir. False if nothing of
    a lab was found."""
    rd = RunDir()
    with locked_state(rd.path) as state:
        if state is not None:
            state.phase = STOPPING
            state.save()
    strays = unrecorded(rd, state)
    if state is None and not strays and not rd.sandbox_files() and not rd.network():
        return False
    for record in [p for p in (state.processes if state else []) if _supervisor(p)]:
        _stop(record, progress)
    for record in [p for p in strays if _supervisor(p)]:
        _stop(record, progress, FOUND)
    state = LabState.load(rd.path)  # with any restart the supervisor made before it stopped
    for record in reversed(state.processes if state else []):
        _stop(record, progress)
    for record in reversed(unrecorded(rd, state)):
        _stop(record, progress, FOUND)
    _stop_leftover_pods(rd, progress)
    _remove_leftover_links(_links_to_remove(rd, state, strays), progress)
    shutil.rmtree(rd.path, ignore_errors=True)
    return True


def lab_left(directory: str | None = None) -> str:
    """A lab running in this run dir, described for someone about to replace it ("" if
    none): "started 14:02:11", or how its processes were found without a record."""
    rd = RunDir(directory)
    state = LabState.load(rd.path)
    if state is not None and alive(state):
        return f"started {time.strftime('%H:%M:%S', time.localtime(state.started_at))}"
    strays = unrecorded(rd, state)
    if strays:
        return f"{len(strays)} of its processes found without its state.json"
    return ""


def clean(progress: Progress = print) -> bool:
    """Remove the leftovers of a lab that crashed: the same records, tolerant of gaps."""
    return down(progress)


def _supervisor(record: ProcessRecord) -> bool:
    entry = entry_of(record.name)
    return entry is not None and entry.where == "supervisor"


def _stop(record: ProcessRecord, progress: Progress, how: str = "") -> None:
    if PROCESSES.stop(record):
        progress(f"  stopped {record.name} (pid {record.pid}){how}")


def _stop_leftover_pods(rd: RunDir, progress: Progress) -> None:
    """Pod processes a crashed kubelet could not stop (recorded in each sandbox.json)."""
    for record in records.pod_processes(rd):
        if PROCESSES.stop(record, timeout_s=1.0):
            progress(f"  stopped leftover process {record.pid} of {record.name}")


def _links_to_remove(rd: RunDir, state: LabState | None, strays: list[ProcessRecord]) -> list[str]:
    """The links network.json names; and if that record is gone but this lab had a
    network, every `lk-*` link, unless another lab's network holds them."""
    recorded = rd.network().get("root_links", [])
    had_network = any(p.name == "network" for p in [*(state.processes if state else []), *strays])
    if recorded or not had_network or other_networks(rd):
        return recorded
    return find_links()


def _remove_leftover_links(names: list[str], progress: Progress) -> None:
    """Bridges and ports left in the root namespace (a crash, an interrupted `up`)."""
    for name in names:
        if os.path.exists(f"/sys/class/net/{name}"):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
            progress(f"  removed leftover link {name}")


# --- what runs --------------------------------------------------------------------------------


def status() -> dict:
    """What runs: each process (alive or not, its restarts), the API server's answer with
    every agent's last report, and what is wrong, in words (`problems`)."""
    rd = RunDir()
    with locked_state(rd.path) as state:
        strays = unrecorded(rd, state)
    if state is None and not strays:
        return {"running": False, "run_dir": rd.path}
    processes = [_process_info(p, state) for p in (state.processes if state else [])]
    processes += [{**_process_info(p, None), "unrecorded": True} for p in strays]
    info: dict = {
        "running": any(p["alive"] for p in processes),
        "run_dir": rd.path,
        "started_at": state.started_at if state else 0.0,
        "phase": state.phase if state else "",
        "processes": processes,
        "addons": state.addons if state else [],
        "socket": rd.socket,
    }
    problems = _process_problems(rd, state, processes)
    api = [p for p in processes if p["name"] == "apiserver" and p["alive"]]
    if api:
        _ask_api(rd, api[-1]["pid"], info, problems)
    info["problems"] = problems
    return info


def _process_info(record: ProcessRecord, state: LabState | None) -> dict:
    entry = entry_of(record.name)
    restarts = (state.restarts if state else {}).get(record.name, {})
    return {
        "name": record.name,
        "pid": record.pid,
        "alive": PROCESSES.is_alive(record),
        "agent": entry is not None,
        "restart": entry.restart if entry else "",
        "restarts": restarts.get("count", 0),
        "restarted_at": restarts.get("at"),
        "last_exit": restarts.get("reason", ""),
    }


def _process_problems(rd: RunDir, state: LabState | None, processes: list[dict]) -> list[str]:
    problems = []
    if state is None:
        problems.append(
            f"{rd.state_file} is gone, but processes of this lab still run (found by their "
            "command lines): `labkit clean` stops them"
        )
    supervised = (
        state is not None
        and state.phase == RUNNING
        and any(p["alive"] for p in processes if p["name"] == "supervisor")
    )
    for p in processes:
        if p.get("unrecorded") and state is not None:
            problems.append(f"{p['name']} (pid {p['pid']}) runs without a record in state.json")
        if p["agent"] and not p["alive"]:
            restarting = supervised and p["restart"] == "Always"
            problems.append(
                when_down(p["name"]) + (" (the supervisor is restarting it)" if restarting else "")
            )
    return problems


def _ask_api(rd: RunDir, pid: int, info: dict, problems: list[str]) -> None:
    """The agents' reports, from an API server given API_ANSWER_S to answer."""
    client = api_client(rd, timeout_s=API_ANSWER_S)
    try:
        info["agents"] = client.agents()
    except httpx.TimeoutException:
        info["agents_error"] = "timed out"
        problems.append(_not_answering(pid))
    except Exception as e:  # a half-dead lab: report, don't crash
        info["agents_error"] = str(e)
        problems.append(f"the API server (pid {pid}) does not answer: {e}")
    finally:
        client.close()


def _not_answering(pid: int) -> str:
    return (
        f"the API server is not answering (apiserver pid {pid} is alive but does not answer "
        f"within {API_ANSWER_S:.0f} s: frozen?)"
    )


def api_problem(directory: str | None = None) -> str:
    """Why the lab's API server does not answer, in a user's words, for a command that
    needed it: no lab at all, an API server that exited, or one that is frozen."""
    rd = RunDir(directory)
    state = LabState.load(rd.path)
    known = [*(state.processes if state else []), *unrecorded(rd, state)]
    servers = [p for p in known if p.name == "apiserver"]
    if not servers:
        return f"no lab is running (no API server at {rd.socket}); start one with `labkit up`"
    if not PROCESSES.is_alive(servers[-1]):
        return (
            f"the API server is not running (pid {servers[-1].pid} exited); `labkit status` "
            "says what else stopped"
        )
    return f"{_not_answering(servers[-1].pid)}; `labkit status`"
