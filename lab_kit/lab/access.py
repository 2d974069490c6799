"""Getting inside the lab: run a command in a node, an outside host or a pod, read a
container's logs, start a program on a host.

    run_on_host(host, argv)            nsenter into the host's namespaces (its shell's PID)
    exec_in_pod(client, pod, argv)     setns into the pod's, with the container's env
    dig(client, pod, name)             `dig` in a pod, read back as a DigResult
    logs(client, pod)                  `kubectl logs [--previous]`
    start_on_host(host, argv)          a long-running program `labkit down` stops

Hosts are found through the run dir's `network.json`, pods through the kubelet's
`sandbox.json` (its pause process's PID and the containers' environments): where those
live is `lab_kit.adapters.rundir`'s business. Commands are argv lists — never a shell
string — so `labkit host node1 -- ip route` runs exactly `ip route`.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab_kit.adapters import processes
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.processes import ProcessRecord
from lab_kit.adapters.rundir import NoSuchHost, RunDir
from lab_kit.adapters.sandbox import command_exists, exec_argv
from lab_kit.agents.images import Unknown
from lab_kit.agents.images import resolve as resolve_image
from lab_kit.lab import lifecycle
from lab_kit.lab.dns_view import DigResult, parse_dig
from lab_kit.lab.errors import LabError
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name

AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Completed:
    """The outcome of a command run in the lab (what `subprocess.run` would give)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return self.stdout + self.stderr

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython: the output, not the repr
        p.text(str(self))


def show_command(where: str, argv: list[str]) -> None:
    """Print `node1$ ip route`: what a notebook runs, as a terminal would show it."""
    print(f"{where}$ {shlex.join(argv)}")


# --- hosts -----------------------------------------------------------------------------------


def host_argv(host: str, argv: list[str]) -> list[str]:
    """`argv` entered into a node's or outside host's network and mount namespaces."""
    try:
        return RunDir().host_argv(host, argv)
    except NoSuchHost as e:
        raise LabError(str(e)) from None


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


def start_on_host(host: str, argv: list[str], name: str = "") -> ProcessRecord:
    """Start a long-running program on a node or outside host, recorded with the lab's
    processes so that `labkit down` stops it; `agnhost ...` runs the built-in agnhost."""
    if argv and argv[0] == "agnhost":
        argv = agnhost_argv(argv[1:])
    label = name or Path(argv[0]).name
    with open(RunDir().log(f"{host}-{label}"), "ab") as out:
        proc = subprocess.Popen(
            host_argv(host, argv), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    record = ProcessRecord(
        f"{host}: {name or argv[0]}", proc.pid, processes.start_ticks(proc.pid) or 0, argv
    )
    lifecycle.remember_process(record)
    return record


def agnhost_argv(args: list[str]) -> list[str]:
    """The command of the built-in agnhost (`netexec --http-port=80`, ...)."""
    program = resolve_image({"image": AGNHOST_IMAGE, "args": args})
    if isinstance(program, Unknown):
        raise LabError(f"agnhost {shlex.join(args)}: {program.reason}: {program.message}")
    return list(program.argv)


# --- pods ------------------------------------------------------------------------------------


def pod_sandbox(uid: str) -> dict:
    """The kubelet's record of a running pod (pause PID, containers' env and logs)."""
    path = RunDir().sandbox_file(uid)
    if path is None:
        raise LabError("the pod has no running sandbox on any node (is it scheduled and started?)")
    with open(path) as f:
        return json.load(f)


def sandbox(client: ApiClient, pod: str, namespace: str = "default") -> dict:
    """The sandbox record of a pod, by name (a LabError if it has none yet)."""
    obj = client.get(by_kind_name("Pod"), pod, namespace)
    if not meta.spec(obj).get("nodeName"):
        raise LabError(f"pod {pod} is not scheduled yet (no node): it has nothing to run in")
    return pod_sandbox(meta.uid(obj))


def container_name(state: dict, container: str | None) -> str:
    """The container meant (the first when none is named), checked against the pod's."""
    name = container or next(iter(state["containers"]), "")
    if name not in state["containers"]:
        raise LabError(f"container {name} is not valid for pod {state['name']}")
    return name


def exec_in_pod(
    client: ApiClient,
    pod: str,
    argv: list[str],
    namespace: str = "default",
    container: str | None = None,
    *,
    stdin: str | None = None,
    capture: bool = True,
    timeout_s: float | None = 120,
) -> Completed:
    """`kubectl exec POD [-c CONTAINER] -- ARGV`."""
    state = sandbox(client, pod, namespace)
    return run_in_pod(state, container, argv, capture, timeout_s, stdin)


def kill_container(
    client: ApiClient, pod: str, namespace: str = "default", container: str | None = None
) -> int:
    """SIGKILL to a container's process, as `kill -9` on its machine (or the OOM killer)
    would send it: nothing in the process runs, no shutdown hook, no deregistration. The
    kubelet then sees exit code 137 and applies the pod's restartPolicy. Returns the PID."""
    state = sandbox(client, pod, namespace)
    name = container_name(state, container)
    record = state["containers"][name].get("pid") or {}
    pid, ticks = record.get("pid"), record.get("start_ticks")
    if not pid or processes.start_ticks(pid) != ticks:
        raise LabError(f"container {name} of pod {pod} is not running")
    os.kill(pid, signal.SIGKILL)
    return int(pid)


def dig(
    client: ApiClient,
    pod: str,
    name: str,
    options: list[str],
    qtype: str = "A",
    namespace: str = "default",
) -> DigResult:
    """`dig [options] name qtype` in a pod (its resolv.conf: kube-dns and the search list;
    "+search" uses it), read back; two tries of 2 s each, as a quick resolver would."""
    argv = ["dig", "+time=2", "+tries=2", *options, name, qtype]
    return parse_dig(exec_in_pod(client, pod, argv, namespace).stdout)


def log_file(
    client: ApiClient,
    pod: str,
    namespace: str = "default",
    container: str | None = None,
    previous: bool = False,
) -> Path:
    """Where a container's output is: the kubelet keeps one file per run (0.log, 1.log,
    ...) beside the log path its sandbox record names."""
    state = sandbox(client, pod, namespace)
    name = container_name(state, container)
    log_dir = Path(state["containers"][name]["log"]).parent
    runs = sorted((int(p.stem) for p in log_dir.glob("*.log")), reverse=True)
    index = 1 if previous else 0
    if len(runs) <= index:
        what = "previous terminated container" if previous else "container"
        raise LabError(f'{what} "{name}" in pod "{pod}" not found')
    return log_dir / f"{runs[index]}.log"


def logs(
    client: ApiClient,
    pod: str,
    namespace: str = "default",
    container: str | None = None,
    previous: bool = False,
    tail: int = -1,
) -> str:
    """A container's output (`kubectl logs [--previous] [--tail N]`)."""
    text = log_file(client, pod, namespace, container, previous).read_text(errors="replace")
    if tail < 0:
        return text
    lines = text.splitlines(keepends=True)
    return "".join(lines[-tail:]) if tail else ""


def follow_logs(client: ApiClient, pod: str, namespace: str = "default", container: str | None = None,
                tail: int = -1, write=print, poll_s: float = 0.2) -> None:  # fmt: skip
    """`kubectl logs -f`: what is there, then what the container writes, until it ends
    (or its pod goes, or Ctrl-C)."""
    path = log_file(client, pod, namespace, container)
    offset = path.stat().st_size  # before the first write: what comes after is followed
    text = path.read_bytes()[:offset].decode(errors="replace")
    lines = text.splitlines(keepends=True)
    write(text if tail < 0 else "".join(lines[-tail:]) if tail else "")
    checked = time.monotonic()
    while True:
        size = path.stat().st_size if path.exists() else offset
        if size > offset:
            with path.open("rb") as f:
                f.seek(offset)
                write(f.read(size - offset).decode(errors="replace"))
            offset = size
        if time.monotonic() - checked >= 1:  # still running? (an API call, once a second)
            checked = time.monotonic()
            if not _container_running(client, pod, namespace, container):
                return
        time.sleep(poll_s)


def _container_running(client: ApiClient, pod: str, namespace: str, container: str | None) -> bool:
    try:
        obj = client.get(by_kind_name("Pod"), pod, namespace)
    except ApiError:
        return False
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    wanted = [s for s in statuses if container in (None, s.get("name"))][:1]
    return bool(wanted) and "running" in (wanted[0].get("state") or {})


ALPINE_SHELLS = ("ash", "/bin/ash")


def run_in_pod(
    state: dict,
    container: str | None,
    argv: list[str],
    capture: bool = True,
    timeout_s: float | None = 120,
    stdin: str | None = None,
) -> Completed:
    """Run `argv` in a container of a sandbox record (`kubectl exec`): in its namespaces and
    root, with its environment and capabilities; it ends with the container at the latest."""
    record = state["containers"][container_name(state, container)]
    env = record.get("env") or {"PATH": DEFAULT_PATH}
    pid = (record.get("pid") or {}).get("pid")
    if not pid:
        raise LabError(f"container {container_name(state, container)} is not running")
    if argv[0] in ALPINE_SHELLS and not command_exists(argv[0], env) and command_exists("sh", env):
        # Alpine-based images (the book's random-generator) have busybox's `ash` as their
        # shell; a lab container runs this machine's userland, whose POSIX `sh` stands in.
        argv = ["sh", *argv[1:]]
    if not command_exists(argv[0], env):
        msg = (
            f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{argv[0]}": '
            "executable file not found in $PATH: unknown\n"
        )
        return Completed(argv, 127, "", msg)
    full = exec_argv(pid, record.get("capabilities") or [], argv)
    return _run(full, argv, env, capture, timeout_s, stdin)


def _run(
    full: list[str],
    argv: list[str],
    env: dict,
    capture: bool,
    timeout_s: float | None,
    stdin: str | None,
) -> Completed:
    if not capture:
        return Completed(argv, subprocess.Popen(full, env=env).wait(), "", "")
    proc = subprocess.Popen(
        full, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
    )  # fmt: skip
    try:
        out, err = proc.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return Completed(argv, proc.returncode, out, err)


def requests_command(
    url: str, count: int, timeout_s: float = 2.0, stamp: bool = False
) -> list[str]:
    """A bounded request loop to run inside a pod: `count` curls, one answer per line
    (prefixed with a timestamp when `stamp`); a failed request prints ERR."""
    each = f"curl -s -m {timeout_s:g} {shlex.quote(url)} || printf ERR"
    prefix = 'printf "%s " "$(date +%s.%N)"; ' if stamp else ""
    return ["sh", "-c", f"for i in $(seq {int(count)}); do {prefix}{each}; echo; done"]


def requests(
    client: ApiClient,
    pod: str,
    url: str,
    count: int = 100,
    *,
    namespace: str = "default",
    timeout_s: float = 2.0,
    stamp: bool = False,
) -> list[str]:
    """`count` HTTP requests from inside `pod`, one after another; the answers in order
    ("ERR" for a failed one), each after its arrival time (epoch seconds) with `stamp`."""
    argv = requests_command(url, count, timeout_s, stamp)
    return exec_in_pod(client, pod, argv, namespace).stdout.splitlines()
