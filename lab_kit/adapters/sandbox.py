"""Pod sandboxes: a pod is a set of namespaces held by a pause process, as in Kubernetes.

`create_sandbox` forks `sleep infinity` after giving it new network, mount, UTS and IPC
namespaces, the pod's hostname, and private bind mounts of the kubelet-written
`/etc/resolv.conf` and `/etc/hosts` and of a per-pod writable `/opt` (the book's
readiness file lives in /opt). Containers are processes that join those namespaces
(`setns`) before they exec, so they see the pod's network, hostname and files.
Everything is done with libc calls in the child between fork and exec: argv lists, no
shell strings, and the namespaces exist by the time Popen returns.

`plug_pod` wires the pod to its node with a veth pair, point-to-point style:

    pod eth0 10.244.1.2/32  --veth--  node lkv<hash> 10.244.1.1/32
    pod routes: 10.244.1.1 dev eth0 scope link; default via 10.244.1.1
    node route: 10.244.1.2/32 dev lkv<hash>

The seam: `Sandbox` is what the kubelet's pod worker asks of the node — the CRI calls
(RunPodSandbox, CreateContainer + StartContainer, ExecSync, StopContainer, RemovePodSandbox)
and the CNI's ADD and DEL, in miniature. `NamespaceSandbox` is the real one (the functions
below, needs root); `FakeSandbox` records every call and lets a test decide when containers
exit and what exec probes answer.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import itertools
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from typing import Any, Protocol

from lab_kit.adapters import processes

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET = (
    0x00020000,
    0x04000000,
    0x08000000,
    0x40000000,
)
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
NAMESPACES = ("net", "uts", "ipc", "mnt")


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def veth_name(pod_uid: str) -> str:
    """Node-side interface name: `lkv` + 8 hex of the pod UID (IFNAMSIZ allows 15)."""
    return "lkv" + hashlib.sha1(pod_uid.encode()).hexdigest()[:8]


def create_sandbox(hostname: str, mounts: list[tuple[str, str]]) -> subprocess.Popen:
    """Start the pause process in fresh namespaces; `mounts` are (source, target) binds."""
    encoded = [(s.encode(), t.encode()) for s, t in mounts]

    def enter_new_namespaces() -> None:
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET), "unshare")
        # Private propagation: the pod's mounts never leak back to the node or the machine.
        _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        for source, target in encoded:
            _check(_libc.mount(source, target, None, MS_BIND, None), f"bind {target.decode()}")
        socket.sethostname(hostname)

    return subprocess.Popen(
        ["sleep", "infinity"],
        preexec_fn=enter_new_namespaces,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def joiner(pause_pid: int) -> Callable[[], None]:
    """A preexec_fn that moves the child into the pod's namespaces (net, uts, ipc, mnt)."""
    paths = [f"/proc/{pause_pid}/ns/{ns}".encode() for ns in NAMESPACES]

    def join() -> None:
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            try:
                _check(_libc.setns(fd, 0), f"setns {path.decode()}")
            finally:
                os.close(fd)
        os.chdir("/")

    return join


def run_in_pod(
    pause_pid: int, argv: list[str], env: dict[str, str], **popen_args: Any
) -> subprocess.Popen:
    """Start argv inside the pod (as `kubectl exec` / a container does)."""
    return subprocess.Popen(argv, preexec_fn=joiner(pause_pid), env=env, **popen_args)


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a process group we started (containers run in their own session)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def plug_pod(pause_pid: int, pod_uid: str, pod_ip: str, gateway: str) -> str:
    """Create the veth pair and addresses/routes on both sides; returns the node-side name."""
    from pyroute2 import AsyncIPRoute

    node_if, tmp_if = veth_name(pod_uid), "lkp" + veth_name(pod_uid)[3:]
    async with AsyncIPRoute() as ipr:
        await ipr.link(
            "add", ifname=node_if, kind="veth", peer={"ifname": tmp_if, "net_ns_pid": pause_pid}
        )
        idx = (await ipr.link_lookup(ifname=node_if))[0]
        await ipr.link("set", index=idx, state="up")
        await ipr.addr("add", index=idx, address=gateway, prefixlen=32)
        await ipr.route("add", dst=f"{pod_ip}/32", oif=idx)
    # The pod side is configured by one `ip -batch` run inside the pod's namespaces rather
    # than pyroute2's netns support: that forks a helper which inherits asyncio's signal
    # wake-up fd, and its SIGTERM at close reached the kubelet's own loop as a SIGTERM.
    batch = (
        "\n".join(
            [
                f"link set {tmp_if} name eth0",
                "link set eth0 up",
                "link set lo up",
                f"addr add {pod_ip}/32 dev eth0",
                f"route add {gateway}/32 dev eth0 scope link",
                f"route add default via {gateway} dev eth0",
            ]
        )
        + "\n"
    )
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "-batch",
        "-",
        preexec_fn=joiner(pause_pid),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, err = await proc.communicate(batch.encode())
    if proc.returncode != 0:
        raise RuntimeError(f"configuring the pod's eth0 failed: {err.decode().strip()}")
    return node_if


async def unplug_pod(pod_uid: str) -> None:
    """Delete the node side of the pod's veth (the pair goes with it)."""
    from pyroute2 import AsyncIPRoute

    async with AsyncIPRoute() as ipr:
        found = await ipr.link_lookup(ifname=veth_name(pod_uid))
        if found:
            await ipr.link("del", index=found[0])


# --- the seam -------------------------------------------------------------------------------


class ContainerProcess(Protocol):
    """A started container (asyncio's `Process` has this shape, and so has `FakeProcess`)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


class Sandbox(Protocol):
    """What the pod worker needs from the node to run a pod."""

    def create(self, hostname: str, mounts: list[tuple[str, str]]) -> int:
        """RunPodSandbox: the pause process in fresh namespaces; returns its PID."""
        ...

    async def plug(self, pause_pid: int, pod_uid: str, pod_ip: str, gateway: str) -> str:
        """CNI ADD: the veth pair, addresses and routes; returns the node-side name."""
        ...

    async def start(
        self, pause_pid: int, argv: list[str], env: dict[str, str], log_path: str
    ) -> ContainerProcess:
        """A container: argv in the pod's namespaces, in its own process group, output
        appended to `log_path`. Raises FileNotFoundError / PermissionError as exec does."""
        ...

    async def exec_probe(
        self, pause_pid: int, argv: list[str], env: dict[str, str], timeout_s: float
    ) -> bool:
        """ExecSync for an exec probe: True when argv exits 0 within `timeout_s`."""
        ...

    def kill(self, pid: int, sig: int) -> None:
        """Signal a container's process group (gone already: nothing happens)."""
        ...

    def start_ticks(self, pid: int) -> int:
        """The process's start time, for the sandbox.json record `labkit clean` checks."""
        ...

    def remove(self, pause_pid: int) -> None:
        """Stop the pause process (the namespaces go with it)."""
        ...

    async def unplug(self, pod_uid: str) -> None:
        """CNI DEL: remove the node side of the pod's veth."""
        ...


class NamespaceSandbox:
    """The real sandbox: namespaces, setns, pyroute2 (root, inside the node's namespaces)."""

    def __init__(self) -> None:
        self._pauses: dict[int, subprocess.Popen] = {}

    def create(self, hostname: str, mounts: list[tuple[str, str]]) -> int:
        pause = create_sandbox(hostname, mounts)
        self._pauses[pause.pid] = pause
        return pause.pid

    async def plug(self, pause_pid: int, pod_uid: str, pod_ip: str, gateway: str) -> str:
        return await plug_pod(pause_pid, pod_uid, pod_ip, gateway)

    async def start(
        self, pause_pid: int, argv: list[str], env: dict[str, str], log_path: str
    ) -> ContainerProcess:
        with open(log_path, "ab") as log:
            return await asyncio.create_subprocess_exec(
                *argv,
                preexec_fn=joiner(pause_pid),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def exec_probe(
        self, pause_pid: int, argv: list[str], env: dict[str, str], timeout_s: float
    ) -> bool:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                preexec_fn=joiner(pause_pid),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:  # no such command in the pod: the probe fails
            return False
        try:
            # The runtime's own deadline (ExecSync's timeout), not the kubelet's clock.
            return await asyncio.wait_for(proc.wait(), timeout_s) == 0
        except asyncio.TimeoutError:
            kill_tree(proc.pid)
            return False

    def kill(self, pid: int, sig: int) -> None:
        kill_tree(pid, sig)

    def start_ticks(self, pid: int) -> int:
        return processes.start_ticks(pid) or 0

    def remove(self, pause_pid: int) -> None:
        pause = self._pauses.pop(pause_pid, None)
        if pause is not None:
            pause.kill()
            pause.wait()

    async def unplug(self, pod_uid: str) -> None:
        await unplug_pod(pod_uid)


class FakeProcess:
    """A container that runs until the test (or a signal) ends it: `exit(code)`."""

    def __init__(self, pid: int, argv: list[str], env: dict[str, str], log_path: str):
        self.pid, self.argv, self.env, self.log_path = pid, argv, env, log_path
        self.returncode: int | None = None
        self.signals: list[int] = []  # every signal it was sent, in order
        self.ignore_sigterm = False  # a process that keeps running until SIGKILL
        self._exited = asyncio.Event()

    def exit(self, code: int) -> None:
        """End the process (a negative code: killed by that signal, as asyncio reports)."""
        if self.returncode is None:
            self.returncode = code
            self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode


class FakeSandbox:
    """A sandbox in memory: records every call in `calls`; a test decides what happens.

    - containers (`processes`, in start order) run until `FakeProcess.exit`, SIGKILL, or
      SIGTERM (unless `ignore_sigterm` is set on the process or here, for new ones);
    - an exec probe answers `exec_results[tuple(argv)]`, else `exec_default`;
    - a command in `missing` cannot start (FileNotFoundError, as exec says);
    - `network_ready` cleared holds every new pod in its set-up (the CNI ADD), and
      `network_error` makes that set-up fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.processes: list[FakeProcess] = []
        self.pauses: set[int] = set()  # live sandboxes (pause PIDs)
        self.plugged: dict[str, str] = {}  # pod UID -> pod IP
        self.exec_results: dict[tuple[str, ...], bool] = {}
        self.exec_default = True
        self.missing: set[str] = set()
        self.ignore_sigterm = False
        self.network_ready = asyncio.Event()  # CNI ADD waits for it: clear it to hold pods
        self.network_ready.set()
        self.network_error: Exception | None = None  # what CNI ADD raises, if anything
        self._pids = itertools.count(1000)

    def create(self, hostname: str, mounts: list[tuple[str, str]]) -> int:
        pid = next(self._pids)
        self.calls.append(("create", hostname, mounts))
        self.pauses.add(pid)
        return pid

    async def plug(self, pause_pid: int, pod_uid: str, pod_ip: str, gateway: str) -> str:
        self.calls.append(("plug", pause_pid, pod_uid, pod_ip, gateway))
        await self.network_ready.wait()
        if self.network_error is not None:
            raise self.network_error
        self.plugged[pod_uid] = pod_ip
        return veth_name(pod_uid)

    async def start(
        self, pause_pid: int, argv: list[str], env: dict[str, str], log_path: str
    ) -> ContainerProcess:
        self.calls.append(("start", pause_pid, argv, log_path))
        if argv[0] in self.missing:
            raise FileNotFoundError(2, "No such file or directory", argv[0])
        proc = FakeProcess(next(self._pids), argv, env, log_path)
        proc.ignore_sigterm = self.ignore_sigterm
        self.processes.append(proc)
        return proc

    async def exec_probe(
        self, pause_pid: int, argv: list[str], env: dict[str, str], timeout_s: float
    ) -> bool:
        self.calls.append(("exec", pause_pid, argv))
        return self.exec_results.get(tuple(argv), self.exec_default)

    def kill(self, pid: int, sig: int) -> None:
        self.calls.append(("kill", pid, sig))
        for proc in self.processes:
            if proc.pid == pid and proc.returncode is None:
                proc.signals.append(sig)
                if sig == signal.SIGKILL or not proc.ignore_sigterm:
                    proc.exit(-sig)

    def start_ticks(self, pid: int) -> int:
        return 4242

    def remove(self, pause_pid: int) -> None:
        self.calls.append(("remove", pause_pid))
        self.pauses.discard(pause_pid)

    async def unplug(self, pod_uid: str) -> None:
        self.calls.append(("unplug", pod_uid))
        self.plugged.pop(pod_uid, None)

    def running(self) -> list[FakeProcess]:
        return [p for p in self.processes if p.returncode is None]
