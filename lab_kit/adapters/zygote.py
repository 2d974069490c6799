"""The client side of the agents' fork server (`lab_kit/agents/zygote.py`).

`processes.start` asks here first: a command line of the shape `labkit up` builds for an
agent,

    [nsenter --net=/proc/P/ns/net [--mount=/proc/P/ns/mnt]] PYTHON -m lab_kit.agents NAME ... --run-dir DIR ...

is forked by the zygote of DIR when one listens (`DIR/zygote.sock`); anything else, or no
zygote, is None and the caller starts it by exec as before. `request_for` is pure.
"""

from __future__ import annotations

import json
import os
import socket

AGENTS_MODULE = "lab_kit.agents"
TIMEOUT_S = 10.0


def request_for(argv: list[str], env: dict | None = None) -> tuple[str, dict] | None:
    """(the zygote's socket path, the request) for an agent command line, else None."""
    rest, namespaces = list(argv), {}
    if rest and os.path.basename(rest[0]) == "nsenter":
        rest = rest[1:]
        while rest and rest[0].startswith("--"):
            option, _, value = rest.pop(0).partition("=")
            if option not in ("--net", "--mount") or not value:
                return None  # an nsenter we do not mirror: exec it
            namespaces["net" if option == "--net" else "mnt"] = value
    if len(rest) < 4 or rest[1:3] != ["-m", AGENTS_MODULE] or rest[3] == "zygote":
        return None
    agent_argv = rest[3:]
    if "--run-dir" not in agent_argv[:-1]:
        return None
    run_dir = agent_argv[agent_argv.index("--run-dir") + 1]
    request = {
        "argv": agent_argv,
        "title": rest,  # what `ps` shows: the agent's own command line, without nsenter
        "cwd": os.getcwd(),
        "env": env,
        **namespaces,
    }
    return os.path.join(run_dir, "zygote.sock"), request


def fork(path: str, request: dict, log_fd: int, ready_fd: int) -> int | None:
    """Ask the zygote at `path` to fork; the new PID, or None (no zygote, or it refused)."""
    if not os.path.exists(path):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(TIMEOUT_S)
            conn.connect(path)
            socket.send_fds(conn, [json.dumps(request).encode()], [log_fd, ready_fd])
            conn.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
    except OSError:
        return None
    try:
        pid = json.loads(answer).get("pid")
    except ValueError:
        return None
    return pid if isinstance(pid, int) and pid > 0 else None
