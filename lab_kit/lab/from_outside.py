"""Calling the cluster from a host outside it (the topology's `client`), for the labs on
NodePort and LoadBalancer Services: a bounded request loop, a loop that runs in the
background while a cell changes something, and waiting for the cloud LB's rotation.

    answers = requests_from("client", "http://198.51.100.32:8080/", 60)
    with RequestLoop("client", url) as loop:      # curl after curl until the block ends
        lab.disconnect_node("node2")
        out_at = wait_rotation("198.51.100.32", ["node1", "node3"])
    loop.answers                                  # "<epoch seconds> <body>" or "... ERR"

Each request is a new TCP connection (a new curl), so the LB hashes every one afresh; the
loop runs in the host's shell, so requests follow each other closely enough for a timeline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from typing import IO

from lab_kit.lab import lb_view
from lab_kit.lab.access import host_argv, requests_command, run_on_host


def requests_from(host: str, url: str, count: int = 10, timeout_s: float = 2.0,
                  stamp: bool = False) -> list[str]:  # fmt: skip
    """`count` requests from an outside host, one after another; "ERR" for a failed one."""
    argv = requests_command(url, count, timeout_s, stamp)
    return run_on_host(host, argv, timeout_s=count * (timeout_s + 1) + 10).stdout.splitlines()


def loop_command(url: str, timeout_s: float) -> list[str]:
    """Requests until stopped, each line stamped with the moment it was sent."""
    each = f'printf "%s " "$(date +%s.%N)"; curl -s -m {timeout_s:g} \'{url}\' || printf ERR; echo'
    return ["sh", "-c", f"while :; do {each}; done"]


class RequestLoop:
    """A request loop on `host` for as long as the `with` block runs; afterwards
    `answers` holds every completed request ("<epoch seconds> <answer or ERR>")."""

    def __init__(self, host: str, url: str, timeout_s: float = 1.0):
        self.argv = host_argv(host, loop_command(url, timeout_s))
        self.proc: subprocess.Popen[bytes] | None = None
        self.out: IO[bytes] | None = None
        self.answers: list[str] = []

    def __enter__(self) -> RequestLoop:
        # Into a file, not a pipe: nobody reads until the end, and ~100 requests a second
        # fill a pipe's 64 KiB in seconds, after which the loop would block (and the later
        # answers would be stamped late or lost).
        self.out = tempfile.TemporaryFile()
        # a session of its own, so the loop and the curl it is waiting for stop together
        self.proc = subprocess.Popen(self.argv, stdout=self.out, start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None and self.out is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.out.seek(0)
        text = self.out.read().decode(errors="replace")
        self.out.close()
        self.answers = text.split("\n")[:-1]  # the last line may be a request cut short


def wait_rotation(address: str, nodes: list[str], timeout_s: float = 15) -> float:
    """Wait until the cloud LB's rotation for `address` is exactly `nodes`; the moment it
    saw that (epoch seconds; its view is refreshed every health-check round)."""
    deadline = time.monotonic() + timeout_s
    while lb_view.load_balancer().in_rotation(address) != sorted(nodes):
        if time.monotonic() > deadline:
            now = lb_view.load_balancer().in_rotation(address)
            raise TimeoutError(f"the rotation of {address} is {now}, not {sorted(nodes)}, "
                               f"after {timeout_s} s")  # fmt: skip
        time.sleep(0.1)
    return time.time()


def pods_on_nodes(pods: list[dict], ids: dict[str, str]) -> dict[str, str]:
    """Relabel `replica_ids` answers as "pod @ node", for pictures where the node matters."""
    node_of = {p["metadata"]["name"]: p["spec"].get("nodeName", "?") for p in pods}
    return {i: f"{pod} @ {node_of.get(pod, '?')}" for i, pod in ids.items()}
