"""A container's own root filesystem, built between fork and exec (what runc's rootfs setup
does), and the pod's pause process.

    join the pod's network, UTS and IPC namespaces (the pause process holds them; a
        hostNetwork pod's network namespace is the node's)
    a new mount namespace, private: nothing mounted here is seen by the node or the machine
    the writable layer: a tmpfs (in RAM, gone with the container) holding an overlay's
        upper and work directories, over the machine's root as the read-only lower layer
    on top: a fresh /tmp, /run, /var/tmp; /root, /home, /var/log and the lab's checkout
        hidden (empty tmpfs); /etc/shadow, /etc/gshadow and SSH host keys hidden (/dev/null);
        a minimal /dev (null, zero, full, random, urandom, tty, pts, shm); /sys read-only
    the pod's files: /etc/resolv.conf, /etc/hosts, /etc/hostname (the kubelet writes them)
    what the image needs of lab_kit, read-only: its workloads; for images that use the API
        (the cluster DNS) also lab_kit, its virtualenv and the API socket at one path
    pivot_root into it

Then the container's init (`lab_kit/workloads/container_init.py`) mounts /proc for the
container's PID namespace, masks and write-protects /proc and /sys as containerd does, drops
capabilities and execs the container's command.

What a container still shares with the machine: the kernel, and the machine's files
(read-only, minus what is hidden): its binaries are the image. It is root in namespaces,
not a VM. Everything here runs in the forked child (libc calls through ctypes, no Python
locks taken), as `sandbox.py` did before.
"""

from __future__ import annotations

import ctypes
import glob
import os
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET = (
    0x00020000,
    0x04000000,
    0x08000000,
    0x40000000,
)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}.get(platform.machine(), 155)

LAYER_SIZE = "size=512m"  # a container's writable layer lives in RAM: bounded
SCRATCH_SIZE = "size=64m"  # /tmp, /run, /var/tmp, /dev/shm
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
HIDDEN_DIRS = ("/root", "/home", "/var/log")  # the machine's users and logs
HIDDEN_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/ssh/ssh_host_*key")  # its secrets
API_SOCKET = "/run/labkit/apiserver.sock"  # where images that use the API find it


@dataclass(frozen=True)
class Rootfs:
    """Everything about one container's filesystem; `bind` entries are (host, in container,
    read-only)."""

    layer_dir: str  # an empty directory of the pod's: the writable layer is mounted here
    files: list[tuple[str, str]]  # the pod's own files: resolv.conf, hosts, hostname
    hide: list[str] = field(default_factory=list)  # more directories to hide (the checkout)
    bind: list[tuple[str, str, bool]] = field(default_factory=list)
    privileged: bool = False  # /sys writable


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    src = None if source is None else source.encode()
    kind = None if fstype is None else fstype.encode()
    _check(_libc.mount(src, target.encode(), kind, flags, data.encode() or None), f"mount {target}")


def _bind(source: str, target: str, readonly: bool) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def _dir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path


def _file(path: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    return path


def _contained(root: str, target: str) -> str:
    """`root` + `target` with the symlinks on the way followed inside `root`: a volume
    mounted at /var/run/secrets/... goes to the container's /run (Debian's /var/run is a
    link to /run), never out to the machine's."""
    path, parts, hops = root, [p for p in target.split("/") if p], 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            path = os.path.dirname(path) if path != root else root
            continue
        candidate = f"{path}/{part}"
        if os.path.islink(candidate) and hops < 40:  # 40: the kernel's MAXSYMLINKS
            hops += 1
            link = os.readlink(candidate)
            path = root if link.startswith("/") else path
            parts = [p for p in link.split("/") if p] + parts
            continue
        path = candidate
    return path


def _setns(pid: int, namespaces: tuple[str, ...]) -> None:
    for ns in namespaces:
        fd = os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY)
        try:
            _check(_libc.setns(fd, 0), f"setns {ns}")
        finally:
            os.close(fd)


def _dev(root: str) -> None:
    dev = root + "/dev"
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=64k")
    for name in DEVICES:
        _bind(f"/dev/{name}", _file(f"{dev}/{name}"), readonly=False)
    _mount("devpts", _dir(f"{dev}/pts"), "devpts", MS_NOSUID | MS_NOEXEC,
           "newinstance,ptmxmode=0666,mode=0620,gid=5")  # fmt: skip
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    _mount("tmpfs", _dir(f"{dev}/shm"), "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,{SCRATCH_SIZE}")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{dev}/{name}")


def build(fs: Rootfs) -> str:
    """Mount the container's root under `fs.layer_dir`/root (in the current mount
    namespace, which must be new and private); returns that root."""
    _mount("tmpfs", fs.layer_dir, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=700,{LAYER_SIZE}")
    upper, work = _dir(fs.layer_dir + "/upper"), _dir(fs.layer_dir + "/work")
    root = _dir(fs.layer_dir + "/root")
    _mount("overlay", root, "overlay", 0, f"lowerdir=/,upperdir={upper},workdir={work}")
    for path, mode in (("/tmp", "1777"), ("/var/tmp", "1777"), ("/run", "755")):
        _mount(
            "tmpfs", _dir(root + path), "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},{SCRATCH_SIZE}"
        )
    for path in (*HIDDEN_DIRS, *fs.hide):
        if os.path.isdir(root + path):
            _mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=755,{SCRATCH_SIZE}")
    for pattern in HIDDEN_FILES:
        for path in glob.glob(root + pattern):
            _bind("/dev/null", path, readonly=True)
    _dev(root)
    sys_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (0 if fs.privileged else MS_RDONLY)
    _mount("sysfs", _dir(root + "/sys"), "sysfs", sys_flags)
    for source, target in fs.files:
        _bind(source, _file(root + target), readonly=False)
    for source, target, readonly in fs.bind:
        inside = _contained(root, target)
        made = _dir(inside) if os.path.isdir(source) else _file(inside)
        _bind(source, made, readonly)
    return root


def pivot(root: str) -> None:
    """Make `root` the root of this mount namespace and let go of the old one."""
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")


def container_setup(pause_pid: int, fs: Rootfs, share_pid: bool = False) -> Callable[[], None]:
    """A preexec_fn: into the pod's network, UTS and IPC namespaces (and, with
    `share_pid`, its PID namespace for the children to come), then a mount namespace of the
    container's own with its root built and pivoted into."""

    def setup() -> None:
        _setns(pause_pid, ("net", "uts", "ipc", *(("pid_for_children",) if share_pid else ())))
        _check(_libc.unshare(CLONE_NEWNS), "unshare mount namespace")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing leaks back to the node
        pivot(build(fs))

    return setup


def pause_setup(hostname: str, new_network: bool = True) -> Callable[[], None]:
    """A preexec_fn for the pause process: the pod's new network, UTS, IPC and mount
    namespaces (its PID namespace comes from `unshare --pid --fork` after exec).

    Without `new_network` (a hostNetwork pod) it stays in the node's network namespace, as
    containerd's sandbox does with NamespaceMode NODE. containerd then shares the node's
    UTS namespace too; the lab's nodes share the machine's, so the pod gets one of its own
    that holds the node's name, which is what it would see on a real node."""
    flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (CLONE_NEWNET if new_network else 0)

    def setup() -> None:
        _check(_libc.unshare(flags), "unshare")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        socket.sethostname(hostname)

    return setup


def joiner(pid: int, namespaces: tuple[str, ...] = ("net", "uts", "ipc")) -> Callable[[], None]:
    """A preexec_fn that moves the child into `pid`'s namespaces (the pod's network, for
    configuring its eth0)."""

    def join() -> None:
        _setns(pid, namespaces)

    return join
