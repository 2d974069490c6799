"""The kubelet's network probes as a seam: an HTTP GET and a TCP connect to a pod.

Mirrors the I/O half of `kubernetes/kubernetes` `pkg/probe/http/http.go` and
`pkg/probe/tcp`: the request is made from the node (the kubelet's own network namespace) to
the pod's address. What the request is (URL, headers, host, port), which redirects are
followed and what an answer means are decided in the pure `lab_kit.node.probes`; this module
only sends it, as the kubelet's prober client does: no TLS verification, no proxy, no
compression, `Connection: close` (DisableKeepAlives), one deadline for the whole redirect
chain (http.Client's Timeout), at most 10 KiB of the body kept. `NetworkProber` is the real
one; `FakeProber` records each request and answers what the test decided.

    result = await prober.http_get(url, headers, timeout_s)   # HttpResult(status, body, error)
    ok = await prober.tcp_open(host, port, timeout_s)

httpGet lifecycle hooks go through the same seam with `follow_non_local_redirects` (the
hook's client is Go's default, which follows redirects to any host).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from lab_kit.node import probes

MAX_BODY = 10 * 1024  # http.go maxRespBodyLength: the rest is read no further


@dataclass(frozen=True)
class HttpResult:
    """The answer to an HTTP GET: the last response's status and (the first 10 KiB of)
    its body, or status None when there was no response, with `error` saying why in Go's
    words (`Get "URL": ...`)."""

    status: int | None
    body: str = ""
    error: str = ""


class Prober(Protocol):
    async def http_get(
        self, url: str, headers: dict[str, str], timeout_s: float, *,
        follow_non_local_redirects: bool = False,
    ) -> HttpResult:  # fmt: skip
        """GET `url`, following redirects as probes.next_redirect says."""
        ...

    async def tcp_open(self, host: str, port: int, timeout_s: float) -> bool:
        """True when a TCP connection opened within `timeout_s` (then closed at once)."""
        ...


class NetworkProber:
    """The real one: httpx, one request per hop of the redirect chain, and a socket."""

    async def http_get(
        self, url: str, headers: dict[str, str], timeout_s: float, *,
        follow_non_local_redirects: bool = False,
    ) -> HttpResult:  # fmt: skip
        try:
            return await asyncio.wait_for(
                self._chain(url, headers, follow_non_local_redirects), timeout_s
            )
        except asyncio.TimeoutError:
            why = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            return HttpResult(None, error=f'Get "{url}": {why}')

    async def _chain(self, url: str, headers: dict[str, str], follow_non_local: bool) -> HttpResult:
        async with httpx.AsyncClient(verify=False, trust_env=False, timeout=None) as http:
            http.headers.clear()  # only the probe's headers (Go adds no Accept-Encoding here)
            current, sent, hops = url, {**headers, "Connection": "close"}, 0
            while True:
                try:
                    status, location, body = await _get(http, current, sent)
                    step = probes.next_redirect(
                        url, current, status, location, hops, follow_non_local=follow_non_local
                    )
                except probes.RedirectError as e:
                    return HttpResult(None, error=str(e))
                except (OSError, httpx.HTTPError) as e:
                    return HttpResult(None, error=f'Get "{current}": {e or type(e).__name__}')
                if step is None:
                    return HttpResult(status, body)
                current, hops = step.url, hops + 1
                if not step.keep_host:
                    sent = {k: v for k, v in sent.items() if k.lower() != "host"}

    async def tcp_open(self, host: str, port: int, timeout_s: float) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.close()
        return True


async def _get(
    http: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> tuple[int, str | None, str]:
    """One GET: (status, Location header, the body's first MAX_BODY bytes as text)."""
    async with http.stream("GET", url, headers=headers) as response:
        kept = bytearray()
        async for chunk in response.aiter_bytes():
            kept += chunk[: MAX_BODY - len(kept)]
            if len(kept) >= MAX_BODY:
                break  # utilio.ReadAtMost: a longer body is cut, not an error
        location = response.headers.get("location")
        return response.status_code, location, kept.decode("utf-8", "replace")


class FakeProber:
    """Answers from tables a test fills: `http[url]` (a status code, None for no answer,
    or a whole HttpResult; else `http_default`) and `tcp[(host, port)]` (else
    `tcp_default`). `calls` lists every request made, in order; `http_gates[url]`, when
    set, holds that request until the test sets the event."""

    def __init__(self) -> None:
        self.http: dict[str, int | HttpResult | None] = {}
        self.http_default: int | HttpResult | None = 200
        self.http_gates: dict[str, asyncio.Event] = {}
        self.tcp: dict[tuple[str, int], bool] = {}
        self.tcp_default = True
        self.calls: list[tuple[Any, ...]] = []

    async def http_get(
        self, url: str, headers: dict[str, str], timeout_s: float, *,
        follow_non_local_redirects: bool = False,
    ) -> HttpResult:  # fmt: skip
        self.calls.append(("http", url, headers))
        gate = self.http_gates.get(url)
        if gate is not None:
            await gate.wait()
        answer = self.http.get(url, self.http_default)
        if isinstance(answer, HttpResult):
            return answer
        if answer is None:
            return HttpResult(None, error=f'Get "{url}": connect: connection refused')
        return HttpResult(answer)

    async def tcp_open(self, host: str, port: int, timeout_s: float) -> bool:
        self.calls.append(("tcp", host, port))
        return self.tcp.get((host, port), self.tcp_default)
