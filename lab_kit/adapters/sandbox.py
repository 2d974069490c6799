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
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import os
import signal
import socket
import subprocess
from collections.abc import Callable

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
    pause_pid: int, argv: list[str], env: dict[str, str], **popen_args
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
