"""Containers of the built-in images, forked by the zygote (`zygote.py`) instead of exec'd.

A pod's program is, for every built-in image, Python: a workload of `lab_kit/workloads`
(random-generator, agnhost, echoserver, ...) or an agent run as a pod (CoreDNS). Exec'd,
each is a fresh interpreter that imports its libraries again: 15 MiB per workload, 32 MiB
per CoreDNS. Forked from the zygote, which imported them once, each shares those pages
and costs a few MiB of its own. The container is made exactly as the exec path makes it,
with the same functions, in the same order:

    exec path (sandbox.py)                     fork path (here)
    kubelet forks; preexec_fn                  zygote forks the *launcher*: it joins the
      container_setup(pause, rootfs)             kubelet's network and mount namespaces,
                                                 then container_setup(pause, rootfs)
    exec `unshare --pid --fork --kill-child`   unshare(CLONE_NEWPID) and fork (the launcher
      (waits, passes on the exit status)         waits and passes on the exit status)
    exec `python container_init.py`: /proc,    the child, PID 1 of its namespace, calls
      masks, read-only paths, capabilities,      container_init's own functions; then sets
      workdir; exec the program                  the capabilities exec would have left, and
                                                 runs the program's preloaded code as __main__

What a learner can see is the same: PID 1 in its own PID namespace, the pod's network,
UTS and IPC namespaces, the container's root, bounding/permitted/effective capability
sets, its command line in `ps`, its output in the container log, its exit code. What
differs: /proc/1/exe names this lab's Python, which the container's root does not show.

The launcher reports on a pipe the kubelet gave it: `pid N` (the container's process, in
the host's PID numbering) once it is forked, or `error MESSAGE` if the set-up failed; then
`exit CODE` (negative: killed by that signal, as asyncio reports it).
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import logging
import os
import signal
import sys
import threading
import traceback
import types
from pathlib import Path

from lab_kit import workloads
from lab_kit.adapters.netns_socket import CLONE_NEWNET, CLONE_NEWNS, setns
from lab_kit.adapters.rootfs import Rootfs, container_setup

CLONE_NEWPID = 0x20000000
PR_SET_NAME, PR_SET_PDEATHSIG = 15, 1
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
WORKLOADS = Path(workloads.__file__).resolve().parent
PYTHON = os.path.realpath(sys.executable)  # the built-in workloads' (images.PYTHON)
_libc = ctypes.CDLL(None, use_errno=True)

# script path -> (its module's name, its code): what `python -E -S SCRIPT` would run
SCRIPTS: dict[str, tuple[str, types.CodeType]] = {}


# Exec'd still: a program this small costs less as its own `python -S` (3.5 MiB PSS) than
# forked (3.7 MiB for the copy-on-write pages a forked child writes, plus its launcher's
# 3.2), measured with 100 pause pods (benchmarks/memory.py --ten).
EXEC_CHEAPER = ("pause",)


def preload() -> None:
    """Import every built-in workload worth forking as a module (and so everything it
    imports), and keep each one's code to run as __main__ in a container."""
    for path in sorted(WORKLOADS.glob("*.py")):
        if path.name.startswith("_") or path.stem in ("container_init", *EXEC_CHEAPER):
            continue
        name = f"{workloads.__name__}.{path.stem}"
        module = importlib.import_module(name)
        code = module.__spec__.loader.get_code(name)  # type: ignore[union-attr]
        SCRIPTS[str(path)] = (name, code)
    importlib.import_module(f"{workloads.__name__}.container_init")


def program_of(argv: list[str]) -> tuple[str, list[str]] | None:
    """("agent" | script path, its arguments) for a command this zygote can run, else None.

    `PYTHON -E -S SCRIPT ARGS` (`images.workload`) and `PYTHON -m lab_kit.agents NAME ARGS`
    (`images.agent`, `table.command`), each with the exact interpreter path the image table
    writes: a pod's own command (`python3 -m lab_kit.agents ...`) is exec'd, and fails or
    runs there as it would, never turned into one of the lab's programs."""
    if len(argv) < 4:
        return None
    if argv[0] == sys.executable and argv[1:3] == ["-m", "lab_kit.agents"]:
        return "agent", argv[3:]
    if argv[0] == PYTHON and argv[1:3] == ["-E", "-S"] and argv[3] in SCRIPTS:
        return argv[3], argv[4:]
    return None


def _report(fd: int, line: str) -> None:
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode())
    except OSError:
        pass  # the kubelet is gone (restarting): the container runs on, as with exec


def launch(request: dict, log_fd: int, status_fd: int) -> int:
    """In the zygote's child: the launcher (what `unshare --pid --fork --kill-child` is on
    the exec path). Returns its exit code; a container killed by a signal, the launcher
    re-raises it."""
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.closerange(3, status_fd)  # nothing of the zygote's: as after exec
    os.closerange(status_fd + 1, os.sysconf("SC_OPEN_MAX"))
    try:
        setns(request["net"], CLONE_NEWNET)  # the kubelet's: the node's
        setns(request["mnt"], CLONE_NEWNS)
        container_setup(request["pause_pid"], _rootfs(request["rootfs"]), request["share_pid"])()
        if not request["share_pid"] and _libc.unshare(CLONE_NEWPID) != 0:
            raise OSError(ctypes.get_errno(), "unshare PID namespace")
    except OSError as e:
        _report(status_fd, f"error {e}")
        return 128
    # as unshare --fork does: the launcher waits; signals are for the container
    pid = os.fork()
    if pid == 0:
        os._exit(_container(request, status_fd))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What `ps` shows for it: the role it plays (the exec path's `unshare`), with the command.
    pid_option = [] if request["share_pid"] else ["--pid"]
    as_after_exec(["unshare", *pid_option, "--fork", "--kill-child", "--", *request["argv"]])
    _report(status_fd, f"pid {pid}")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    _report(status_fd, f"exit {code}")
    if code < 0:  # as unshare does: end by the same signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def _rootfs(fields: dict) -> Rootfs:
    return Rootfs(
        fields["layer_dir"],
        [(source, target) for source, target in fields["files"]],
        list(fields["hide"]),
        [(source, target, readonly) for source, target, readonly in fields["bind"]],
        fields["privileged"],
    )


def _container(request: dict, status_fd: int) -> int:
    """The container's process: PID 1 of its PID namespace (or one of the pod's)."""
    from lab_kit.workloads import container_init as init

    code = 1
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # --kill-child
        os.close(status_fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a new interpreter's
        options = request["init"]
        try:
            init.mount_proc()
            for path in options["mask"]:
                init.mask(path)
            for path in options["readonly"]:
                init.readonly(path)
            keep = set(options["caps"])
            init.drop_capabilities(keep)
            set_capabilities(keep)  # what exec does from the bounding set
            os.chdir(options["workdir"] or "/")
        except OSError as e:
            print(f"container_init: {e}", file=sys.stderr)
            return 128
        as_after_exec(request["argv"])  # first: setproctitle finds the title's room next to environ
        os.environ.clear()
        os.environ.update(request["env"])
        code = _run(request["argv"])
    except BaseException:
        traceback.print_exc()
    finally:
        _finish()
    return code


def set_capabilities(keep: set[int]) -> None:
    """Permitted and effective = `keep`, inheritable cleared: root's sets after exec under a
    bounding set of `keep` (no exec happens here, so nothing else would apply it)."""
    mask = sum(1 << c for c in keep)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]  # fmt: skip

    low, high = mask & 0xFFFFFFFF, mask >> 32
    data = (Data * 2)(Data(low, low, 0), Data(high, high, 0))
    if _libc.capset(ctypes.byref(Header(_LINUX_CAPABILITY_VERSION_3, 0)), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def as_after_exec(argv: list[str]) -> None:
    """What a forked child resets to look and start as exec would have made it: the command
    line `ps` shows, the command name (`ps -o comm`, top), logging not yet configured.
    Before the environment changes: setproctitle finds the title's room next to environ."""
    try:
        import setproctitle

        setproctitle.setproctitle(" ".join(argv))
    except ImportError:
        pass
    name = os.path.basename(argv[0]).encode()[:15]
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)
    for handler in list(logging.root.handlers):  # the program sets up its own logging
        logging.root.removeHandler(handler)
    logging.root.setLevel(logging.WARNING)


def _run(argv: list[str]) -> int:
    """Run the program as `python` would: an agent's main, or a script's code as __main__."""
    program = program_of(argv)
    assert program is not None  # the zygote checked before it forked
    what, args = program
    try:
        if what == "agent":
            from lab_kit.agents import table

            return table.main(args) or 0
        name, code = SCRIPTS[what]
        main = types.ModuleType("__main__")
        main.__dict__.update(__file__=what, __package__=name.rpartition(".")[0],
                             __builtins__=__builtins__, __cached__=None)  # fmt: skip
        sys.modules["__main__"] = main
        sys.argv = [what, *args]
        exec(code, main.__dict__)
        return 0
    except SystemExit as e:
        if isinstance(e.code, str) or e.code is None:
            if e.code is not None:
                print(e.code, file=sys.stderr)
            return 1 if e.code is not None else 0
        return e.code


def _finish() -> None:
    """What the interpreter does at exit: wait for non-daemon threads, run atexit, flush."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
