"""iptables-save / iptables-restore in the current network namespace, and a fake.

kube-proxy applies each sync as ONE `iptables-restore --noflush` (all of a table's
changes commit atomically; chains the input does not name are left alone), and reads the
node's state with `iptables-save`. The kube-proxy agent runs inside its node's network
namespace, so plain commands act on that node only — never on the machine's own tables.

    IptablesInterface   the seam (kube-proxy's `utiliptables.Interface`, cut to save/restore)
    Iptables            the real commands, in the current network namespace
    FakeIptables        answers `save` with a given text, keeps every restore input, can fail
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class IptablesError(RuntimeError):
    pass


class IptablesInterface(Protocol):
    async def save(self, table: str | None = None, counters: bool = False) -> str:
        """`iptables-save [-t table] [-c]`: the current rules as restore input."""
        ...

    async def restore(self, text: str) -> None:
        """`iptables-restore --noflush` of `text`; IptablesError if it is refused."""
        ...


class Iptables:
    """The real thing (iptables-nft here), run as subprocesses."""

    async def save(self, table: str | None = None, counters: bool = False) -> str:
        argv = ["iptables-save"]
        if table:
            argv += ["-t", table]
        if counters:
            argv.append("-c")
        return await _run(argv)

    async def restore(self, text: str) -> None:
        # --noflush: only the chains named in the input are flushed and rewritten.
        await _run(["iptables-restore", "--noflush"], text)


class FakeIptables:
    """`saved` is what `save` answers (whatever table is asked for); `restored` every
    accepted restore input, in order; `fail_next` refuses the next restore once, `broken`
    every restore until cleared."""

    def __init__(self, saved: str = ""):
        self.saved = saved
        self.restored: list[str] = []
        self.fail_next = False
        self.broken = False

    async def save(self, table: str | None = None, counters: bool = False) -> str:
        return self.saved

    async def restore(self, text: str) -> None:
        if self.fail_next or self.broken:
            self.fail_next = False
            raise IptablesError("iptables-restore: line 3 failed")
        self.restored.append(text)


async def _run(argv: list[str], stdin: str | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if proc.returncode != 0:
        raise IptablesError(f"{argv[0]} failed (exit {proc.returncode}): {err.decode().strip()}")
    return out.decode()
