"""Getting inside the lab: run a command in a node, an outside host or a pod.

Hosts are found through `network.json` (their Mininet shell's PID), pods through the
kubelet's `sandbox.json` (their pause process's PID and the container's environment).
Commands are argv lists, entered with `nsenter` (hosts) or `setns` (pods) — never a shell
string — so `labkit host node1 -- ip route` runs exactly `ip route`.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
from dataclasses import dataclass

from lab_kit.adapters import sandbox
from lab_kit.lab import lifecycle
from lab_kit.lab.lifecycle import LabError


@dataclass
class Completed:
    """The outcome of a command run in the lab (what `subprocess.run` would give)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return self.stdout + self.stderr

    def _repr_pretty_(self, p, cycle) -> None:  # IPython: show the output, not the repr
        p.text(str(self))


def host_argv(host: str, argv: list[str]) -> list[str]:
    pid = lifecycle.host_pid(host)
    return ["nsenter", f"--net=/proc/{pid}/ns/net", f"--mount=/proc/{pid}/ns/mnt", *argv]


def run_on_host(
    host: str,
    argv: list[str],
    capture: bool = True,
    timeout_s: float | None = 120,
    stdin: str | None = None,
) -> Completed:
    full = host_argv(host, argv)
    if not capture:
        rc = subprocess.run(full).returncode
        return Completed(argv, rc, "", "")
    r = subprocess.run(full, capture_output=True, text=True, timeout=timeout_s, input=stdin)
    return Completed(argv, r.returncode, r.stdout, r.stderr)


def pod_sandbox(uid: str) -> dict:
    """The kubelet's record of a running pod (pause PID, containers' env and logs)."""
    matches = glob.glob(os.path.join(lifecycle.run_dir(), "pods", f"*_{uid}", "sandbox.json"))
    if not matches:
        raise LabError("the pod has no running sandbox on any node (is it scheduled and started?)")
    with open(matches[0]) as f:
        return json.load(f)


def run_in_pod(
    state: dict,
    container: str | None,
    argv: list[str],
    capture: bool = True,
    timeout_s: float | None = 120,
    stdin: str | None = None,
) -> Completed:
    name = container or next(iter(state["containers"]), "")
    if name not in state["containers"]:
        raise LabError(f"container {name} is not valid for pod {state['name']}")
    env = state["containers"][name].get("env") or {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    }
    pause = state["pause"]["pid"]
    try:
        return _run_in_pod(pause, argv, env, capture, timeout_s, stdin)
    except FileNotFoundError:
        msg = (
            f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{argv[0]}": '
            "executable file not found in $PATH: unknown\n"
        )
        return Completed(argv, 127, "", msg)


def _run_in_pod(
    pause: int,
    argv: list[str],
    env: dict,
    capture: bool,
    timeout_s: float | None,
    stdin: str | None,
) -> Completed:
    if capture:
        proc = sandbox.run_in_pod(
            pause,
            argv,
            env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        )
        try:
            out, err = proc.communicate(stdin, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return Completed(argv, proc.returncode, out, err)
    proc = sandbox.run_in_pod(pause, argv, env)
    return Completed(argv, proc.wait(), "", "")
