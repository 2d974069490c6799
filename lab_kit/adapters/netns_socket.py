"""A listening TCP socket that lives in another process's network namespace.

The API server runs on the machine (its Unix socket is what the lab's agents use); pods
reach it as on a real cluster, at the control-plane node's address on the node network
(172.18.0.2:6443, the `kubernetes` Service's endpoint). A socket belongs to the network
namespace it was created in, so a helper thread enters the node's namespace, creates and
binds the socket, and leaves; the process keeps serving it from its own namespace. Nothing
is added to the machine's namespace: no address, no route, no rule.

    sock = listen_in(node_pid, "172.18.0.2", 6443)   # then asyncio's create_server(sock=...)
    sock = socket_in(pause_pid)                      # unconnected, in a pod's namespace
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
BACKLOG = 1024


def setns(path: str, nstype: int = CLONE_NEWNET) -> None:
    """Join the namespace `path` (/proc/PID/ns/net|mnt): Python 3.11 has no os.setns."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, nstype) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def listen_in(pid: int, host: str, port: int) -> socket.socket:
    """A socket listening on host:port in the network namespace of process `pid`."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
        return sock

    return _made_in(pid, make)


def socket_in(pid: int) -> socket.socket:
    """A TCP socket (not connected, non-blocking) in the network namespace of `pid`: what
    it connects to is reached as from that namespace (`labkit port-forward`)."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        return sock

    return _made_in(pid, make)


def _made_in(pid: int, make) -> socket.socket:
    """Run `make` in a thread that has entered `pid`'s network namespace (and left it)."""
    result: dict[str, object] = {}

    def work() -> None:
        own = f"/proc/self/task/{threading.get_native_id()}/ns/net"
        back = os.open(own, os.O_RDONLY)  # held open: the way home
        try:
            setns(f"/proc/{pid}/ns/net")
            try:
                result["sock"] = make()
            finally:
                setns(f"/proc/self/fd/{back}")
        except OSError as e:
            result["error"] = e
        finally:
            os.close(back)

    thread = threading.Thread(target=work, name="netns-listen")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["sock"]  # type: ignore[return-value]
