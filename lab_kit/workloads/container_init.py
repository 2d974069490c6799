"""The last step of starting a container, inside it: what runc's init does before exec.

    container_init.py --caps 0,1,3,... [--mask P,...] [--readonly P,...] [--workdir D] -- ARGV

The kubelet's sandbox adapter (`lab_kit/adapters/sandbox.py`) has already built the
container's root filesystem and pivoted into it, and `unshare --pid --fork` (or `nsenter
--pid` into the pod's shared namespace) made this process a member of the container's PID
namespace — PID 1 of its own, or one among the pod's. This script then, as runc does:

    mounts /proc for that PID namespace, hides the masked paths and makes the read-only
    ones read-only (`lab_kit/node/containers.py` decides which),
    drops every capability not granted from the bounding set (root's permitted set after
    exec is the bounding set), changes to the working directory,
    and execs ARGV, which keeps this PID: the container's process is this process.

Standard library only, run as `python -I -S` (no site, no environment), so it adds ~20 ms
to a container's start and nothing after: it is gone once ARGV runs.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
PR_CAPBSET_DROP = 24
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    src = None if source is None else source.encode()
    kind = None if fstype is None else fstype.encode()
    if _libc.mount(src, target.encode(), kind, flags, data.encode() or None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def mount_proc() -> None:
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def mask(path: str) -> None:
    """Hide a path as runc does: /dev/null over a file, an empty read-only tmpfs over a dir."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # not on this kernel: nothing to hide
    if stat.S_ISDIR(mode):
        _mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0")
    else:
        _mount("/dev/null", path, None, MS_BIND)


def readonly(path: str) -> None:
    if not os.path.exists(path):
        return
    _mount(path, path, None, MS_BIND | MS_REC)
    _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def drop_capabilities(keep: set[int]) -> None:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        if cap not in keep and _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"dropping capability {cap}: {os.strerror(err)}")


def _split(value: str) -> list[str]:
    return [v for v in value.split(",") if v]


def main(argv: list[str]) -> int:
    options: dict[str, str] = {}
    while argv and argv[0] != "--":
        key, value = argv[0], argv[1] if len(argv) > 1 else ""
        options[key.lstrip("-")] = value
        argv = argv[2:]
    command = argv[1:]
    if not command:
        print("container_init: no command after --", file=sys.stderr)
        return 127
    try:
        mount_proc()
        for path in _split(options.get("mask", "")):
            mask(path)
        for path in _split(options.get("readonly", "")):
            readonly(path)
        drop_capabilities({int(c) for c in _split(options.get("caps", ""))})
        os.chdir(options.get("workdir") or "/")
    except OSError as e:
        print(f"container_init: {e}", file=sys.stderr)
        return 128
    try:
        os.execvp(command[0], command)
    except OSError as e:  # runc's words, as the kubelet shows them
        why = "no such file or directory" if isinstance(e, FileNotFoundError) else e.strerror
        print(f'exec: "{command[0]}": {why}', file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
