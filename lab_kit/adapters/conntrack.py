"""Deleting conntrack entries in the current network namespace, and a fake.

kube-proxy deletes stale UDP flows after endpoint changes (`pkg/proxy/conntrack`,
`CleanStaleEntries`): with no connection to close, a UDP client would otherwise keep
sending to an endpoint that left, or to the REJECT it met while the Service had none.
The kube-proxy agent runs inside its node's network namespace, so the `conntrack` command
acts on that node's table only.

    ConntrackInterface  the seam (kube-proxy's `conntrack.Interface`, the two deletions it uses)
    Conntrack           the real `conntrack -D ...` command
    FakeConntrack       records the argument lists it would have run

Unlike kube-proxy (netlink since v1.30), we run the `conntrack` tool, as it did before.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class ConntrackInterface(Protocol):
    async def clear_entries_for_ip(self, ip: str, protocol: str) -> None:
        """Delete the flows sent to `ip` (a Service's ClusterIP)."""
        ...

    async def clear_entries_for_nat(self, origin: str, dest: str, protocol: str) -> None:
        """Delete the flows sent to `origin` that were DNATed to `dest` (an endpoint)."""
        ...


def ip_args(ip: str, protocol: str) -> tuple[str, ...]:
    return ("-D", "-p", protocol, "--orig-dst", ip)


def nat_args(origin: str, dest: str, protocol: str) -> tuple[str, ...]:
    # The reply of a DNATed flow comes from the endpoint: --reply-src names it.
    return ("-D", "-p", protocol, "--orig-dst", origin, "--reply-src", dest)


class Conntrack:
    """The real thing: `conntrack -D ...` as a subprocess."""

    async def clear_entries_for_ip(self, ip: str, protocol: str) -> None:
        await _run(ip_args(ip, protocol))

    async def clear_entries_for_nat(self, origin: str, dest: str, protocol: str) -> None:
        await _run(nat_args(origin, dest, protocol))


class FakeConntrack:
    """`deleted`: the argument lists (after `conntrack`) of every deletion, in order."""

    def __init__(self) -> None:
        self.deleted: list[tuple[str, ...]] = []

    async def clear_entries_for_ip(self, ip: str, protocol: str) -> None:
        self.deleted.append(ip_args(ip, protocol))

    async def clear_entries_for_nat(self, origin: str, dest: str, protocol: str) -> None:
        self.deleted.append(nat_args(origin, dest, protocol))


async def _run(args: tuple[str, ...]) -> None:
    proc = await asyncio.create_subprocess_exec(
        "conntrack", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await proc.wait()  # exit 1 means "nothing matched": fine
