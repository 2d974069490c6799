"""The agents' fork server: one warm process that every other agent is forked from.

Every agent is a Python process that imports the same big libraries (asyncio, aiohttp,
httpx, prometheus_client, the Kubernetes schemas, lab_kit's model) before it does any
work: about 0.3-0.5 s of CPU and 20-40 MiB of memory each, a dozen times per lab. The
zygote (Android's name for the same trick) imports all of it once, freezes the garbage
collector's view of those objects (`gc.freeze()`, so a child's collections do not write to
the shared pages) and then forks each agent on request. A forked agent shares the
imported code and data with the zygote and its siblings page by page until it writes to
them, so it costs a few MiB of its own instead of 30, and is running ~0.05 s after it
was asked for.

    labkit up / the supervisor            zygote (this module)
      processes.start(argv)   -- Unix socket zygote.sock: the command line, cwd, env,
                                 and two fds (the log, the ready pipe) -->
                                          fork; the child: new session, setns into the
                                          node's network and mount namespaces (what
                                          `nsenter` did), log on stdout/stderr, process
                                          title = the command line, then runs the agent
      <-- {"pid": N} --------------------

What stays as it was, on purpose: each agent is its own process with its own PID, log,
namespaces, command line (in `ps` and /proc/<pid>/cmdline, via setproctitle) and
life: killed alone, restarted alone by the supervisor, stopped by `labkit down` by its
PID. What differs: its parent is the zygote (which reaps it and writes how it ended to
`exits/<pid>` in the run dir, for the supervisor's log), and its memory is mostly shared.
Nothing here is learner-visible Kubernetes behaviour: real kubelets and kube-proxies are
Go binaries whose code pages the kernel shares the same way.

If the zygote is not there (not started, dead), `processes.start` starts agents the way
it always did, by exec: slower and heavier, never broken. The containers of the built-in
images (CoreDNS, the workloads) come from here too, at their kubelet's request, made as
the exec path makes them (`zygote_container.py`); other commands are exec'd.

    python -m lab_kit.agents zygote --run-dir DIR [--ready-fd N]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import os
import signal
import socket
import sys
import traceback

from lab_kit.adapters.netns_socket import CLONE_NEWNET, CLONE_NEWNS, setns
from lab_kit.adapters.processes import reap_children, signal_ready
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents import zygote_container

log = logging.getLogger("zygote")
MAX_REQUEST = 1 << 20


LOADED_ON_FIRST_REQUEST = (
    "httpcore",
    "h11",
    "certifi",
    "httpcore._backends.auto",
    "httpcore._backends.anyio",
    "anyio._backends._asyncio",
    "anyio.streams.tls",
    "anyio.to_thread",
)


def preload() -> None:
    """Import what the agents `labkit up` starts import, and the built-in images' programs."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # see __main__.py
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # see apiserver.py
    from lab_kit.agents import runner  # noqa: F401  (the runner every Agent runs on)
    from lab_kit.agents.table import AGENTS

    for entry in AGENTS.values():
        if entry.name != "zygote":
            entry.load()
    zygote_container.preload()  # the built-in images' programs
    import setproctitle  # noqa: F401  (a container's root does not show the virtualenv)

    # What agents import or build only once running: the kubelet's netlink client for pod
    # sandboxes (pyroute2, ~15 MiB per kubelet otherwise), the API server's schemas.
    from pyroute2 import AsyncIPRoute  # noqa: F401

    # What httpx loads only at its first transport and request (a few MiB per agent).
    for module in LOADED_ON_FIRST_REQUEST:
        importlib.import_module(module)

    from lab_kit.model import schema

    schema.warm_up()


def become(request: dict, log_fd: int, ready_fd: int) -> int:
    """In the forked child: turn into the agent `request` describes and run it."""
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    if request.get("net"):
        setns(request["net"], CLONE_NEWNET)
    if request.get("mnt"):
        setns(request["mnt"], CLONE_NEWNS)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    # Nothing of the zygote's leaks into the agent (its socket, the request's copy of the
    # log fd): the agent has stdin/stdout/stderr and its ready pipe, as after exec.
    os.closerange(3, ready_fd)
    os.closerange(ready_fd + 1, os.sysconf("SC_OPEN_MAX"))
    # As after exec: the caller's directory, or, in a node's mount namespace, its root
    # (setns into a mount namespace leaves the process there, as under nsenter).
    try:
        os.chdir("/" if request.get("mnt") else request.get("cwd") or "/")
    except OSError:
        os.chdir("/")
    zygote_container.as_after_exec(request["title"])
    # after the title: setproctitle finds the title's room next to the original environ
    if request.get("env") is not None:
        os.environ.clear()
        os.environ.update(request["env"])
    from lab_kit.agents.table import main

    try:
        return main([*request["argv"], "--ready-fd", str(ready_fd)]) or 0
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return 1
        return e.code or 0
    except BaseException:
        traceback.print_exc()
        return 1


class Zygote:
    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir
        self.exits = os.path.join(run_dir.path, "exits")
        self.names: dict[int, str] = {}  # pid -> the agent's name, for the exit notes

    def reap(self, *_: object) -> None:
        """SIGCHLD: collect every ended child and note how it ended."""
        for pid, reason in reap_children():
            name = self.names.pop(pid, "?")
            log.info("%s (pid %d) %s", name, pid, reason)
            try:
                os.makedirs(self.exits, exist_ok=True)
                with open(os.path.join(self.exits, str(pid)), "w") as f:
                    f.write(reason)
            except OSError:
                pass

    def serve_one(self, listener: socket.socket, conn: socket.socket) -> None:
        """One request: fork the agent, answer its PID (or what went wrong)."""
        fds: list[int] = []
        try:
            conn.settimeout(10)  # a client that never finishes must not block the others
            data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 2)
            while chunk := conn.recv(MAX_REQUEST):  # the client shuts its side: EOF ends it
                data += chunk
            request = json.loads(data)
            if len(fds) != 2:
                raise ValueError(f"expected 2 fds (log, ready or status), got {len(fds)}")
            container = request.get("kind") == "container"
            if container and zygote_container.program_of(request["argv"]) is None:
                raise ValueError(f"not a built-in program: {request['argv'][:4]}")
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    listener.close()
                    conn.close()
                    if container:
                        code = zygote_container.launch(request, fds[0], fds[1])
                    else:
                        code = become(request, fds[0], fds[1])
                finally:
                    try:
                        sys.stdout.flush()
                        sys.stderr.flush()
                    finally:
                        os._exit(code if isinstance(code, int) else 1)
            self.names[pid] = ("container " if container else "") + " ".join(request["argv"][:1])
            conn.sendall(json.dumps({"pid": pid}).encode())
        except Exception as e:  # a bad request costs that request, never the zygote
            log.exception("request failed")
            try:
                conn.sendall(json.dumps({"error": str(e)}).encode())
            except OSError:
                pass
        finally:
            for fd in fds:
                os.close(fd)
            conn.close()

    def serve(self, ready_fd: int | None) -> None:
        path = self.run_dir.zygote_socket
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(64)
        signal.signal(signal.SIGCHLD, self.reap)
        signal_ready(ready_fd)
        log.info("ready: agents are forked from pid %d", os.getpid())
        while True:
            conn, _ = listener.accept()
            self.serve_one(listener, conn)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="zygote", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--run-dir", required=True, help="the lab's run directory")
    parser.add_argument("--ready-fd", type=int, help="write 'ready' to this fd once serving")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s zygote %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    preload()
    gc.collect()
    gc.freeze()  # what is imported now stays shared: the children's GC never touches it
    Zygote(RunDir(args.run_dir)).serve(args.ready_fd)
