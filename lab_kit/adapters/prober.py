"""The kubelet's network probes as a seam: an HTTP GET and a TCP connect to a pod.

Mirrors the I/O half of `kubernetes/kubernetes` `pkg/probe/http` and `pkg/probe/tcp`: the
request is made from the node (the kubelet's own network namespace) to the pod's address.
What the request is (URL, headers, host, port) and what its answer means (2xx/3xx) are
decided in the pure `lab_kit.node.probes`; this module only sends it. `NetworkProber` is the
real one; `FakeProber` records each request and answers what the test decided.

    status = await prober.http_get(url, headers, timeout_s)   # None: no answer in time
    ok = await prober.tcp_open(host, port, timeout_s)
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx


class Prober(Protocol):
    async def http_get(self, url: str, headers: dict[str, str], timeout_s: float) -> int | None:
        """The response's status code; None when there was none (refused, timed out)."""
        ...

    async def tcp_open(self, host: str, port: int, timeout_s: float) -> bool:
        """True when a TCP connection opened within `timeout_s` (then closed at once)."""
        ...


class NetworkProber:
    """The real one: httpx (no TLS verification, as kubelet's prober) and a socket."""

    async def http_get(self, url: str, headers: dict[str, str], timeout_s: float) -> int | None:
        try:
            async with httpx.AsyncClient(timeout=timeout_s, verify=False) as http:
                response = await http.get(url, headers=headers)
        except (OSError, httpx.HTTPError, asyncio.TimeoutError):
            return None
        return response.status_code

    async def tcp_open(self, host: str, port: int, timeout_s: float) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.close()
        return True


class FakeProber:
    """Answers from tables a test fills: `http[url]` (a status code, or None for no answer;
    else `http_default`) and `tcp[(host, port)]` (else `tcp_default`). `calls` lists every
    request made, in order."""

    def __init__(self) -> None:
        self.http: dict[str, int | None] = {}
        self.http_default: int | None = 200
        self.tcp: dict[tuple[str, int], bool] = {}
        self.tcp_default = True
        self.calls: list[tuple[Any, ...]] = []

    async def http_get(self, url: str, headers: dict[str, str], timeout_s: float) -> int | None:
        self.calls.append(("http", url, headers))
        return self.http.get(url, self.http_default)

    async def tcp_open(self, host: str, port: int, timeout_s: float) -> bool:
        self.calls.append(("tcp", host, port))
        return self.tcp.get((host, port), self.tcp_default)
