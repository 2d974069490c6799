"""Commands run inside one of the lab's hosts (a node, an outside host, the router `gw`),
and a fake that records them.

    HostCommands        the seam: run(host, argv, stdin, check) -> stdout
    NamespaceCommands   nsenter into the host's network and mount namespaces
                        (`RunDir.host_argv`): never the machine's own namespaces
    FakeHostCommands    keeps every call; answers and failures set by the test
"""

from __future__ import annotations

import subprocess
from typing import Protocol

from lab_kit.adapters.rundir import RunDir


class HostCommandError(RuntimeError):
    pass


class HostCommands(Protocol):
    def run(self, host: str, argv: list[str], stdin: str | None = None, check: bool = True) -> str:
        """`argv` in `host`'s namespaces; its stdout. HostCommandError if it fails and
        `check`."""
        ...


class NamespaceCommands:
    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir

    def run(self, host: str, argv: list[str], stdin: str | None = None, check: bool = True) -> str:
        done = subprocess.run(
            self.run_dir.host_argv(host, argv), input=stdin, capture_output=True, text=True
        )
        if check and done.returncode != 0:
            raise HostCommandError(
                f"{host}: {' '.join(argv)} failed (exit {done.returncode}): {done.stderr.strip()}"
            )
        return done.stdout


class FakeHostCommands:
    """`calls`: every (host, argv, stdin) in order. `answers[(host, argv[0], argv[1])]` is
    the stdout of such a command ("" otherwise); `failing` holds (host, argv[0], argv[1])
    of commands that fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], str | None]] = []
        self.answers: dict[tuple[str, str, str], str] = {}
        self.failing: set[tuple[str, str, str]] = set()

    def run(self, host: str, argv: list[str], stdin: str | None = None, check: bool = True) -> str:
        self.calls.append((host, list(argv), stdin))
        key = (host, argv[0], argv[1] if len(argv) > 1 else "")
        if key in self.failing and check:
            raise HostCommandError(f"{host}: {' '.join(argv)} failed")
        return self.answers.get(key, "")

    def commands(self, host: str) -> list[list[str]]:
        return [argv for h, argv, _ in self.calls if h == host]
