"""`nft -f` in the current network namespace, and a fake.

The cloud load balancer (lab_kit/agents/cloud_lb.py) replaces its whole table in one
`nft -f -` (the input declares, deletes and redefines the table: one transaction, so a
packet sees the old ruleset or the new one, never half of each). The agent runs inside
the cloud-lb host's network namespace, so `nft` acts on that host only.

    NftablesInterface   the seam: apply(text), list_table(family, name)
    Nftables            the real `nft`, as a subprocess
    FakeNftables        keeps every applied text, can refuse one
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class NftablesError(RuntimeError):
    pass


class NftablesInterface(Protocol):
    async def apply(self, text: str) -> None:
        """`nft -f -` of `text`; NftablesError if it is refused (nothing changes then)."""
        ...

    async def list_table(self, family: str, name: str) -> str:
        """`nft list table FAMILY NAME` ("" if there is no such table)."""
        ...


class Nftables:
    async def apply(self, text: str) -> None:
        await _run(["nft", "-f", "-"], text)

    async def list_table(self, family: str, name: str) -> str:
        try:
            return await _run(["nft", "list", "table", family, name])
        except NftablesError:
            return ""


class FakeNftables:
    """`applied`: every accepted input, in order; `fail_next` refuses the next one."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.fail_next = False

    async def apply(self, text: str) -> None:
        if self.fail_next:
            self.fail_next = False
            raise NftablesError("nft: Error: syntax error, unexpected junk")
        self.applied.append(text)

    async def list_table(self, family: str, name: str) -> str:
        return self.applied[-1] if self.applied else ""


async def _run(argv: list[str], stdin: str | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if proc.returncode != 0:
        raise NftablesError(f"{' '.join(argv)} failed (exit {proc.returncode}): "
                            f"{err.decode().strip()}")  # fmt: skip
    return out.decode()
