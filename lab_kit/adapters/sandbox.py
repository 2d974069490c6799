"""Pod sandboxes and containers, as a container runtime makes them (CRI in miniature).

    RunPodSandbox    the pause process (catatonit -P, PID 1 of the pod's PID namespace) in
                     new network, UTS, IPC and mount namespaces, with the pod's hostname;
                     with hostNetwork in the node's network namespace instead (a UTS
                     namespace of its own still, holding the node's name)
    CNI ADD / DEL    `plug_pod` / `unplug_pod`: a veth pair to the node, point-to-point
                     (never for hostNetwork pods: they have the node's interfaces)
    CreateContainer  the container's own root filesystem and mount namespace
    + StartContainer (`rootfs.py`), joined to the pod's network, UTS and IPC; its own PID
                     namespace where its process is PID 1 (or the pod's, with
                     shareProcessNamespace); capabilities and /proc as containerd sets them
                     (`container_init.py`); output appended to its log file
    ExecSync / Exec  `nsenter` into the container's namespaces and root, capabilities bounded
                     the same way (`setpriv`): what `kubectl exec`, exec probes and exec
                     lifecycle hooks run
    StopContainer    a signal to the container's process (PID 1 in its namespace: it gets
                     SIGTERM only if it handles it, as in a real cluster; SIGKILL always)
    RemovePodSandbox SIGKILL to the pause process: the pod's PID namespace ends with it

    pod eth0 10.244.1.2/32  --veth--  node lkv<hash> 10.244.1.1/32
    pod routes: 10.244.1.1 dev eth0 scope link; default via 10.244.1.1
    node route: 10.244.1.2/32 dev lkv<hash>

A container's process is started as `unshare --pid --fork --kill-child -- python
container_init.py ... -- ARGV` (with shareProcessNamespace the set-up joins the pod's PID
namespace and `unshare --fork` alone makes the child a member): the host sees the
`unshare` (which the kubelet waits on, and which passes on the exit status) and its child,
the container's process (which the kubelet signals). A container of a built-in image
(Python: the workloads, CoreDNS) is instead forked by the lab's zygote, through the same
set-up (`lab_kit/agents/zygote_container.py`): a few MiB each instead of 15-32.

The seam: `Sandbox` is what the kubelet's pod worker asks of the node. `NamespaceSandbox` is
the real one (root, inside the node's namespaces); `FakeSandbox` records every call and lets
a test decide when containers exit and what exec probes and hooks answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lab_kit.adapters import processes, zygote
from lab_kit.adapters.rootfs import API_SOCKET, Rootfs, container_setup, joiner, pause_setup

# The machine's own Python (not the project's virtualenv, which the container cannot see):
# the init and the built-in workloads need only its standard library.
PYTHON = os.path.realpath(sys.executable)
PACKAGE = Path(__file__).resolve().parents[1]  # lab_kit itself
PAUSE = ("catatonit", "-P")  # a static PID 1 that reaps and waits, as the pause image does
EXEC_OUTPUT_MAX = 16 * 1024  # what ExecSync keeps of a hook's output, for the kubelet's log


@dataclass(frozen=True)
class ExecResult:
    """ExecSync's answer: the exit code (None: killed at the timeout) and the output
    (stdout then stderr, cut at EXEC_OUTPUT_MAX)."""

    exit_code: int | None
    output: str = ""


def veth_name(pod_uid: str) -> str:
    """Node-side interface name: `lkv` + 8 hex of the pod UID (IFNAMSIZ allows 15)."""
    return "lkv" + hashlib.sha1(pod_uid.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ContainerConfig:
    """What CreateContainer needs to know: the command, and everything about isolation that
    the pod worker decided (`lab_kit/node/containers.py`)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: str
    layer_dir: str  # an empty directory for the writable layer
    files: list[tuple[str, str]] = field(default_factory=list)  # resolv.conf, hosts, hostname
    capabilities: tuple[int, ...] = ()  # kernel numbers of the bounding set
    masked: tuple[str, ...] = ()
    readonly: tuple[str, ...] = ()
    privileged: bool = False
    share_pid: bool = False  # shareProcessNamespace: join the pause's PID namespace
    api_access: bool = False  # the image uses the lab's API (the cluster DNS)
    working_dir: str = ""
    # the container's volume mounts the kubelet filled: (directory, mountPath, read-only)
    mounts: list[tuple[str, str, bool]] = field(default_factory=list)


@dataclass(frozen=True)
class Installation:
    """What of lab_kit's own installation containers may see. The checkout (or install
    location) is hidden; the built-in workloads and the container init stay readable."""

    init: str  # lab_kit/workloads/container_init.py
    workloads: str  # lab_kit/workloads

    def hidden(self) -> list[str]:
        top = PACKAGE.parent
        return [str(top)] if (top / "pyproject.toml").exists() else []

    def binds(self) -> list[tuple[str, str, bool]]:
        return [(self.workloads, self.workloads, True)]

    def api_binds(self, socket_path: str) -> list[tuple[str, str, bool]]:
        """For images that use the API: lab_kit, its virtualenv (read-only), and the
        socket's directory (it holds nothing else). The directory, not the socket: a
        restarted API server makes a new socket there, which a bind of the old socket's
        inode would never show the pod."""
        binds = [(str(PACKAGE), str(PACKAGE), True)]
        if sys.prefix != sys.base_prefix:
            binds.append((sys.prefix, sys.prefix, True))
        return [*binds, (os.path.dirname(socket_path), os.path.dirname(API_SOCKET), False)]


def run_argv(config: ContainerConfig, pause_pid: int, init_path: str) -> list[str]:
    """The host-side command that becomes the container: a PID namespace, then the init."""
    init = [PYTHON, "-I", "-S", init_path, "--caps", ",".join(map(str, config.capabilities)),
            "--mask", ",".join(config.masked), "--readonly", ",".join(config.readonly),
            "--workdir", config.working_dir or "/", "--", *config.argv]  # fmt: skip
    if config.share_pid:  # the set-up joined the pod's PID namespace for its children
        return [_which("unshare"), "--fork", "--kill-child", "--", *init]
    return [_which("unshare"), "--pid", "--fork", "--kill-child", "--", *init]


def exec_argv(container_pid: int, capabilities: list[str], argv: list[str]) -> list[str]:
    """`kubectl exec`: into the container's namespaces and root, its bounding set."""
    bounding = ",".join(["-all", *(f"+{c.lower()}" for c in capabilities)])
    return [_which("nsenter"), "--target", str(container_pid), "--mount", "--uts", "--ipc",
            "--net", "--pid", "--root", "--wd", "--",
            "setpriv", f"--bounding-set={bounding}", "--", *argv]  # fmt: skip


def _which(program: str) -> str:
    return shutil.which(program) or program


def command_exists(argv0: str, env: dict[str, str]) -> bool:
    """Would exec find argv[0] (the container sees the machine's binaries)?"""
    if "/" in argv0:
        return os.access(argv0, os.X_OK)
    return shutil.which(argv0, path=env.get("PATH", os.defpath)) is not None


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a process group we started (a container's launcher and its children)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def signal_process(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def child_of(pid: int, timeout_s: float = 5.0) -> int | None:
    """The first child of `pid` (the container's process under its launcher), once forked."""
    path = f"/proc/{pid}/task/{pid}/children"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        try:
            with open(path) as f:
                children = f.read().split()
        except OSError:
            return None  # the launcher is gone (its container already ended)
        if children:
            return int(children[0])
        await asyncio.sleep(0.001)  # the fork happens right after exec: a few polls at most
    return None


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
    """A started container: `pid` is its process (the one to signal), `wait()` its end."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


class Sandbox(Protocol):
    """What the pod worker needs from the node to run a pod."""

    def create(self, hostname: str, host_network: bool = False) -> int:
        """RunPodSandbox: the pause process in fresh namespaces (with `host_network`, the
        node's network namespace); returns its PID."""
        ...

    async def plug(self, pause_pid: int, pod_uid: str, pod_ip: str, gateway: str) -> str:
        """CNI ADD: the veth pair, addresses and routes; returns the node-side name."""
        ...

    async def start(self, pause_pid: int, config: ContainerConfig) -> ContainerProcess:
        """CreateContainer + StartContainer. Raises FileNotFoundError / PermissionError as
        exec would for the command."""
        ...

    async def exec_probe(
        self, container_pid: int, capabilities: list[str], argv: list[str],
        env: dict[str, str], timeout_s: float,
    ) -> bool:  # fmt: skip
        """ExecSync for an exec probe: True when argv exits 0 within `timeout_s`."""
        ...

    async def exec_sync(
        self, container_pid: int, capabilities: list[str], argv: list[str],
        env: dict[str, str], timeout_s: float,
    ) -> ExecResult:  # fmt: skip
        """ExecSync for an exec lifecycle hook: the exit code and output."""
        ...

    def kill(self, pid: int, sig: int) -> None:
        """Signal a container's process (gone already: nothing happens)."""
        ...

    def start_ticks(self, pid: int) -> int:
        """The process's start time, for the sandbox.json record `labkit clean` checks."""
        ...

    def remove(self, pause_pid: int) -> None:
        """Stop the pause process (the pod's namespaces, and every process left in its PID
        namespace, go with it)."""
        ...

    async def unplug(self, pod_uid: str) -> None:
        """CNI DEL: remove the node side of the pod's veth."""
        ...


class RunningContainer:
    """A container as the real runtime runs it: `launcher` (the host-side `unshare` or
    `nsenter`, which passes on the exit status) and `pid`, the container's own process."""

    def __init__(self, launcher: asyncio.subprocess.Process, pid: int):
        self.launcher, self.pid = launcher, pid

    @property
    def returncode(self) -> int | None:
        return self.launcher.returncode

    async def wait(self) -> int:
        code = await self.launcher.wait()
        # The launcher re-raises a signal that ended the container: 128+N either way.
        return code


class ForkedContainer:
    """A container the zygote forked: `launcher` (its `unshare` on the exec path) reports on
    a pipe the container's PID, then its exit code (`zygote_container.py`). Not our child,
    so the pipe is how its end is known; a launcher killed before it could say counts as
    killed by SIGKILL."""

    def __init__(self, launcher: int, pid: int, reader: asyncio.StreamReader,
                 transport: asyncio.BaseTransport) -> None:  # fmt: skip
        self.launcher, self.pid = launcher, pid
        self.returncode: int | None = None
        self._reader, self._transport = reader, transport
        self._ended = asyncio.ensure_future(self._watch())

    @classmethod
    async def attach(cls, launcher: int, fd: int) -> ForkedContainer:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
        )
        word, _, rest = (await reader.readline()).decode().strip().partition(" ")
        if word != "pid":
            transport.close()
            raise RuntimeError(f"starting the container failed: {rest or 'its launcher ended'}")
        return cls(launcher, int(rest), reader, transport)

    async def _watch(self) -> int:
        code = -signal.SIGKILL
        while line := await self._reader.readline():
            word, _, rest = line.decode().strip().partition(" ")
            if word == "exit":
                code = int(rest)
        self._transport.close()
        self.returncode = code
        return code

    async def wait(self) -> int:
        return await asyncio.shield(self._ended)


class NamespaceSandbox:
    """The real sandbox: namespaces, an overlay root, pyroute2 (root, in the node's
    namespaces). `api_socket`: the lab's API, bound into containers of images that use it."""

    def __init__(
        self, installation: Installation, api_socket: str = "", zygote_socket: str = ""
    ) -> None:
        self.installation, self.api_socket = installation, api_socket
        self.zygote_socket = zygote_socket  # the lab's fork server: built-in programs fork
        self._pauses: dict[int, subprocess.Popen] = {}

    def create(self, hostname: str, host_network: bool = False) -> int:
        pause = shutil.which(PAUSE[0])
        argv = [pause, *PAUSE[1:]] if pause else ["sleep", "infinity"]
        proc = subprocess.Popen(
            [_which("unshare"), "--pid", "--fork", "--kill-child", "--mount-proc", "--", *argv],
            preexec_fn=pause_setup(hostname, new_network=not host_network),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self._pauses[proc.pid] = proc
        return proc.pid

    async def plug(self, pause_pid: int, pod_uid: str, pod_ip: str, gateway: str) -> str:
        return await plug_pod(pause_pid, pod_uid, pod_ip, gateway)

    def rootfs(self, config: ContainerConfig) -> Rootfs:
        lab = self.installation
        binds = lab.binds()
        if config.api_access and self.api_socket:
            binds += lab.api_binds(self.api_socket)
        binds += config.mounts
        return Rootfs(config.layer_dir, config.files, lab.hidden(), binds, config.privileged)

    async def start(self, pause_pid: int, config: ContainerConfig) -> ContainerProcess:
        if not command_exists(config.argv[0], config.env):
            raise FileNotFoundError(2, "No such file or directory", config.argv[0])
        os.makedirs(config.layer_dir, exist_ok=True)
        if self.zygote_socket:
            forked = await self._fork(pause_pid, config)
            if forked is not None:
                return forked
        with open(config.log_path, "ab") as log:
            launcher = await asyncio.create_subprocess_exec(
                *run_argv(config, pause_pid, self.installation.init),
                preexec_fn=container_setup(pause_pid, self.rootfs(config), config.share_pid),
                env=config.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        pid = await child_of(launcher.pid)
        return RunningContainer(launcher, pid or launcher.pid)

    async def _fork(self, pause_pid: int, config: ContainerConfig) -> ForkedContainer | None:
        """The container forked by the lab's zygote (`lab_kit/agents/zygote_container.py`),
        if it runs one of the built-in programs; None: start it by exec."""
        me = os.getpid()  # the zygote's child joins the kubelet's namespaces: the node's
        request = {
            "kind": "container", "argv": config.argv, "env": config.env,
            "net": f"/proc/{me}/ns/net", "mnt": f"/proc/{me}/ns/mnt",
            "pause_pid": pause_pid, "share_pid": config.share_pid,
            "rootfs": dataclasses.asdict(self.rootfs(config)),
            "init": {"caps": list(config.capabilities), "mask": list(config.masked),
                     "readonly": list(config.readonly), "workdir": config.working_dir or "/"},
        }  # fmt: skip
        read_fd, write_fd = os.pipe()
        try:
            with open(config.log_path, "ab") as log:
                launcher = await asyncio.to_thread(
                    zygote.fork, self.zygote_socket, request, log.fileno(), write_fd
                )
        finally:
            os.close(write_fd)
        if launcher is None:
            os.close(read_fd)
            return None
        return await ForkedContainer.attach(launcher, read_fd)

    async def exec_probe(
        self, container_pid: int, capabilities: list[str], argv: list[str],
        env: dict[str, str], timeout_s: float,
    ) -> bool:  # fmt: skip
        if not command_exists(argv[0], env):
            return False  # no such command in the container: the probe fails
        proc = await asyncio.create_subprocess_exec(
            *exec_argv(container_pid, capabilities, argv), env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            # The runtime's own deadline (ExecSync's timeout), not the kubelet's clock.
            return await asyncio.wait_for(proc.wait(), timeout_s) == 0
        except asyncio.TimeoutError:
            kill_tree(proc.pid)
            return False

    async def exec_sync(
        self, container_pid: int, capabilities: list[str], argv: list[str],
        env: dict[str, str], timeout_s: float,
    ) -> ExecResult:  # fmt: skip
        if not command_exists(argv[0], env):
            message = f'exec: "{argv[0]}": executable file not found in $PATH'
            return ExecResult(127, message)
        proc = await asyncio.create_subprocess_exec(
            *exec_argv(container_pid, capabilities, argv), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            output = await asyncio.wait_for(_read_bounded(proc.stdout), timeout_s)
            return ExecResult(await proc.wait(), output)
        except asyncio.TimeoutError:
            kill_tree(proc.pid)
            return ExecResult(None)

    def kill(self, pid: int, sig: int) -> None:
        signal_process(pid, sig)

    def start_ticks(self, pid: int) -> int:
        return processes.start_ticks(pid) or 0

    def remove(self, pause_pid: int) -> None:
        pause = self._pauses.pop(pause_pid, None)
        if pause is not None:
            pause.kill()  # --kill-child: the pod's PID 1, and so its whole PID namespace
            pause.wait()

    async def unplug(self, pod_uid: str) -> None:
        await unplug_pod(pod_uid)


async def _read_bounded(stream: asyncio.StreamReader, limit: int = EXEC_OUTPUT_MAX) -> str:
    """All of a pipe until EOF, keeping the first `limit` bytes (the rest is read and
    dropped, so a chatty command never blocks on a full pipe)."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        kept += chunk[: max(0, limit - len(kept))]
    return kept.decode("utf-8", "replace")


class FakeProcess:
    """A container that runs until the test (or a signal) ends it: `exit(code)`."""

    def __init__(self, pid: int, argv: list[str], env: dict[str, str], log_path: str):
        self.pid, self.argv, self.env, self.log_path = pid, argv, env, log_path
        self.config: ContainerConfig | None = None  # what it was started with
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
    - an exec probe or exec hook answers `exec_results[tuple(argv)]`, else `exec_default`
      (a hook: exit 0 or 1); a hook whose argv has an event in `exec_gates` runs until the
      test sets it;
    - a command in `missing` cannot start (FileNotFoundError, as exec says);
    - `network_ready` cleared holds every new pod in its set-up (the CNI ADD), and
      `network_error` makes that set-up fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.processes: list[FakeProcess] = []
        self.pauses: set[int] = set()  # live sandboxes (pause PIDs)
        self.host_network: set[int] = set()  # the pause PIDs in the node's network
        self.plugged: dict[str, str] = {}  # pod UID -> pod IP
        self.exec_results: dict[tuple[str, ...], bool] = {}
        self.exec_default = True
        self.exec_gates: dict[tuple[str, ...], asyncio.Event] = {}
        self.missing: set[str] = set()
        self.ignore_sigterm = False
        self.network_ready = asyncio.Event()  # CNI ADD waits for it: clear it to hold pods
        self.network_ready.set()
        self.network_error: Exception | None = None  # what CNI ADD raises, if anything
        self._pids = itertools.count(1000)

    def create(self, hostname: str, host_network: bool = False) -> int:
        pid = next(self._pids)
        self.calls.append(("create", hostname))
        self.pauses.add(pid)
        if host_network:
            self.host_network.add(pid)
        return pid

    async def plug(self, pause_pid: int, pod_uid: str, pod_ip: str, gateway: str) -> str:
        self.calls.append(("plug", pause_pid, pod_uid, pod_ip, gateway))
        await self.network_ready.wait()
        if self.network_error is not None:
            raise self.network_error
        self.plugged[pod_uid] = pod_ip
        return veth_name(pod_uid)

    async def start(self, pause_pid: int, config: ContainerConfig) -> ContainerProcess:
        self.calls.append(("start", pause_pid, config))
        if config.argv[0] in self.missing:
            raise FileNotFoundError(2, "No such file or directory", config.argv[0])
        proc = FakeProcess(next(self._pids), config.argv, config.env, config.log_path)
        proc.config = config
        proc.ignore_sigterm = self.ignore_sigterm
        self.processes.append(proc)
        return proc

    async def exec_probe(
        self, container_pid: int, capabilities: list[str], argv: list[str],
        env: dict[str, str], timeout_s: float,
    ) -> bool:  # fmt: skip
        self.calls.append(("exec", container_pid, argv))
        return self.exec_results.get(tuple(argv), self.exec_default)

    async def exec_sync(
        self, container_pid: int, capabilities: list[str], argv: list[str],
        env: dict[str, str], timeout_s: float,
    ) -> ExecResult:  # fmt: skip
        self.calls.append(("exec_sync", container_pid, argv))
        gate = self.exec_gates.get(tuple(argv))
        if gate is not None:
            await gate.wait()
        ok = self.exec_results.get(tuple(argv), self.exec_default)
        return ExecResult(0 if ok else 1, "" if ok else "hook failed\n")

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
        self.host_network.discard(pause_pid)

    async def unplug(self, pod_uid: str) -> None:
        self.calls.append(("unplug", pod_uid))
        self.plugged.pop(pod_uid, None)

    def running(self) -> list[FakeProcess]:
        return [p for p in self.processes if p.returncode is None]
