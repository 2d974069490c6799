"""Bring the lab's control plane up and down, and say what runs.

Everything `up` makes is recorded in `<run dir>/state.json` as it is made (process PIDs
with their start times, the socket, the run dir itself), so `down` — or `clean` after a
crash — removes exactly that and nothing else. The run dir is `/run/labkit` unless
`LABKIT_RUN_DIR` says otherwise (tests use a private one).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab_kit.adapters import processes
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.processes import ProcessRecord
from lab_kit.lab.topologies import load_topology
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.manifests import parse_manifests

DEFAULT_RUN_DIR = "/run/labkit"
ADDON_COREDNS = Path(__file__).with_name("addons") / "coredns.yaml"


class LabError(RuntimeError):
    """A lab lifecycle problem with a message meant for the user."""


def run_dir() -> str:
    return os.environ.get("LABKIT_RUN_DIR", DEFAULT_RUN_DIR)


def socket_path(directory: str | None = None) -> str:
    return os.path.join(directory or run_dir(), "apiserver.sock")


@dataclass
class LabState:
    directory: str
    started_at: float = 0.0
    processes: list[ProcessRecord] = field(default_factory=list)

    @property
    def path(self) -> str:
        return os.path.join(self.directory, "state.json")

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(
                {"started_at": self.started_at, "processes": [p.to_dict() for p in self.processes]},
                f,
                indent=1,
            )
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, directory: str) -> LabState | None:
        try:
            with open(os.path.join(directory, "state.json")) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        return cls(
            directory,
            data.get("started_at", 0.0),
            [ProcessRecord.from_dict(p) for p in data.get("processes", [])],
        )

    def alive(self) -> list[ProcessRecord]:
        return [p for p in self.processes if processes.is_alive(p)]


def up(topology: str | None = None, progress=print, control_plane_only: bool = False) -> LabState:
    """Build the network, start the control plane and a kubelet and a kube-proxy per node,
    the upstream resolver and cluster DNS; return once every Node is registered and Ready,
    every node's rules are written and pods resolve names. `control_plane_only`: API server and controllers
    only (no network, no nodes: pods stay Pending, as on a cluster with no nodes)."""
    spec = load_topology(topology)  # a bad topology fails here, before anything is made
    directory = run_dir()
    existing = LabState.load(directory)
    if existing and existing.alive():
        pids = ", ".join(f"{p.name} (pid {p.pid})" for p in existing.alive())
        raise LabError(f"a lab is already running ({pids}); `labkit down` stops it first")
    if existing:
        progress(f"Cleaning up the leftovers of a lab that did not stop cleanly ({directory})")
        clean(progress=lambda *_: None)
    if not control_plane_only and os.path.exists("/sys/class/net/lk-s1"):
        raise LabError(
            "a lab network already exists on this machine (bridge lk-s1): another lab runs with "
            "another LABKIT_RUN_DIR, or one crashed; stop it with `labkit down` (same run dir) or "
            "`labkit clean`"
        )
    os.makedirs(os.path.join(directory, "logs"), exist_ok=True)
    state = LabState(directory, time.time())
    state.save()
    topo_file = os.path.join(directory, "topology.toml")
    shutil.copyfile(spec.source, topo_file)
    sock = socket_path(directory)
    try:
        _start(state, "apiserver", ["--socket", sock], progress)
        _start(state, "controller-manager", ["--socket", sock], progress)
        if control_plane_only:
            return state
        _start(state, "network", ["--run-dir", directory, "--topology-file", topo_file], progress)
        for line in network_info(directory).get("warnings", []):
            progress(f"  warning: {line}")
        _start_node_agents(state, spec, sock, topo_file, progress)
        # After the nodes are Ready, so the scheduler spreads the two coredns pods the same
        # way every run (node1, node2) and every lab's pods get the same addresses.
        dns_applied_at = _apply_cluster_dns(sock)
        _start_upstream_dns(state, spec, progress)
        _wait_cluster_dns(sock, dns_applied_at, progress)
    except processes.StartError as e:
        down(progress=lambda *_: None)
        raise LabError(str(e)) from e
    return state


def _start_node_agents(state: LabState, spec, sock: str, topo_file: str, progress) -> None:
    """On every node a kubelet and a kube-proxy, all started together (each in its node's
    namespaces), then each awaited: registration and the first syncs run in parallel."""
    t0 = time.monotonic()
    starting = []
    for node in spec.nodes:
        pid = host_pid(node.name, state.directory)
        enter = ["nsenter", f"--net=/proc/{pid}/ns/net", f"--mount=/proc/{pid}/ns/mnt"]
        common = ["--node", node.name, "--socket", sock, "--topology-file", topo_file]
        agents = (
            ("kubelet", [*common, "--run-dir", state.directory]),
            ("kube-proxy", common),
        )
        for agent, args in agents:
            argv = [
                *enter,
                sys.executable,
                "-m",
                "lab_kit.agents." + agent.replace("-", "_"),
                *args,
            ]
            log = os.path.join(state.directory, "logs", f"{agent}-{node.name}.log")
            starting.append(processes.start(f"{agent}/{node.name}", argv, log))
            state.processes.append(starting[-1].record)  # recorded before waiting: `down` finds it
    state.save()
    for s in starting:
        s.wait_ready()
    n = len(spec.nodes)
    progress(f"  {f'kubelets, kube-proxies ({n}+{n})':<20} ready in {time.monotonic() - t0:.2f} s")


def _start_upstream_dns(state: LabState, spec, progress) -> None:
    """The made-up internet's resolver on the host with role "internet" (if the topology
    has one): where cluster DNS forwards names outside the cluster."""
    host = spec.host_role("internet")
    if host is None:
        progress("  no host with role internet: names outside the cluster will not resolve")
        return
    t0 = time.monotonic()
    pid = host_pid(host.name, state.directory)
    argv = [
        "nsenter",
        f"--net=/proc/{pid}/ns/net",
        sys.executable,
        "-m",
        "lab_kit.agents.world_dns",
    ]
    log = os.path.join(state.directory, "logs", f"world-dns-{host.name}.log")
    starting = processes.start(f"world-dns/{host.name}", argv, log)
    state.processes.append(starting.record)
    state.save()
    starting.wait_ready()
    progress(f"  {'upstream DNS':<20} ready in {time.monotonic() - t0:.2f} s ({host.ip}:53)")


def _apply_cluster_dns(sock: str) -> float:
    """Apply kubeadm's CoreDNS addon (lab_kit/lab/addons/coredns.yaml); return when."""
    docs = parse_manifests(ADDON_COREDNS.read_text(), str(ADDON_COREDNS))
    client = ApiClient(sock)
    try:
        client.apply([d.obj for d in docs])
    finally:
        client.close()
    return time.monotonic()


def _wait_cluster_dns(sock: str, applied_at: float, progress, timeout_s: float = 30) -> None:
    """Wait until kube-dns has a ready endpoint that every kube-proxy has programmed: from
    then on pods resolve names."""
    slices = by_kind_name("EndpointSlice")
    deadline = time.monotonic() + timeout_s
    client = ApiClient(sock)
    try:
        while True:
            listing = client.list(slices, "kube-system",
                                  label_selector="kubernetes.io/service-name=kube-dns")  # fmt: skip
            ready = [e for s in listing["items"] for e in s.get("endpoints") or []
                     if (e.get("conditions") or {}).get("ready")]  # fmt: skip
            left = deadline - time.monotonic()
            if ready:
                break
            if left <= 0:
                raise LabError(
                    f"cluster DNS had no ready pod after {timeout_s:.0f} s; see `labkit get pods "
                    f"-n kube-system` and `labkit logs -n kube-system POD` for a coredns pod"
                )
            client.watch_change(slices, left, rv=int(listing["metadata"]["resourceVersion"]))
        client.converged(max(1.0, deadline - time.monotonic()))
    finally:
        client.close()
    took = time.monotonic() - applied_at
    progress(f"  {'cluster DNS':<20} ready {took:.2f} s after its apply (kube-dns 10.96.0.10)")


def topology_file(directory: str | None = None) -> str:
    """The running lab's copy of its topology (made by `up`)."""
    return os.path.join(directory or run_dir(), "topology.toml")


def network_info(directory: str | None = None) -> dict:
    """network.json: each Mininet host's shell PID, role and address."""
    try:
        with open(os.path.join(directory or run_dir(), "network.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def host_pid(name: str, directory: str | None = None) -> int:
    hosts = network_info(directory).get("hosts", {})
    if name not in hosts:
        known = ", ".join(sorted(hosts)) or "none: is the lab up?"
        raise LabError(f'no host "{name}" in this lab (hosts: {known})')
    return hosts[name]["pid"]


def _start(state: LabState, name: str, args: list[str], progress) -> None:
    """Spawn an agent of the control plane and wait for its "ready"."""
    t0 = time.monotonic()
    argv = [sys.executable, "-m", "lab_kit.agents." + name.replace("-", "_"), *args]
    record = processes.spawn(name, argv, os.path.join(state.directory, "logs", f"{name}.log"))
    state.processes.append(record)
    state.save()
    progress(f"  {name:<20} ready in {time.monotonic() - t0:.2f} s (pid {record.pid})")


def remember_process(record: ProcessRecord) -> None:
    """Add a process the lab started on the side (a capture's tcpdump) to state.json."""
    state = LabState.load(run_dir())
    if state is not None:
        state.processes.append(record)
        state.save()


def down(progress=print) -> bool:
    """Stop what `up` started (newest first), then anything left that the lab recorded
    (pod processes, root-namespace bridges), and remove the run dir. False if none ran."""
    directory = run_dir()
    state = LabState.load(directory)
    if state is None:
        return False
    for record in reversed(state.processes):
        if processes.stop(record):
            progress(f"  stopped {record.name} (pid {record.pid})")
    _stop_leftover_pods(directory, progress)
    _remove_leftover_links(network_info(directory).get("root_links", []), progress)
    shutil.rmtree(directory, ignore_errors=True)
    return True


def clean(progress=print) -> bool:
    """Remove the leftovers of a lab that crashed: the same records, tolerant of gaps."""
    return down(progress)


def _stop_leftover_pods(directory: str, progress) -> None:
    """Pod processes a crashed kubelet could not stop (recorded in each sandbox.json)."""
    for state_file in glob.glob(os.path.join(directory, "pods", "*", "sandbox.json")):
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
            if processes.stop(record, timeout_s=1.0):
                progress(f"  stopped leftover process {rec['pid']} of pod {sandbox.get('name')}")


def _remove_leftover_links(names: list[str], progress) -> None:
    """Bridges and ports the network recorded, if a crash left them in the root namespace."""
    for name in names:
        if os.path.exists(f"/sys/class/net/{name}"):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
            progress(f"  removed leftover link {name}")


def status() -> dict:
    """What runs: processes (alive or not), the socket, and the agents' progress."""
    directory = run_dir()
    state = LabState.load(directory)
    if state is None:
        return {"running": False, "run_dir": directory}
    info: dict = {
        "running": bool(state.alive()),
        "run_dir": directory,
        "started_at": state.started_at,
        "processes": [
            {"name": p.name, "pid": p.pid, "alive": processes.is_alive(p)} for p in state.processes
        ],
        "socket": socket_path(directory),
    }
    if info["running"]:
        client = ApiClient(socket_path(directory))
        try:
            info["agents"] = client.agents()
        except Exception as e:  # a half-dead lab: report, don't crash
            info["agents_error"] = str(e)
        finally:
            client.close()
    return info
