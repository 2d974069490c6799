"""The real prober (NetworkProber) against a tiny HTTP server on 127.0.0.1: redirects as
the kubelet's prober follows them, the 10 KiB body limit, the headers it sends. No root."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from lab_kit.adapters.prober import MAX_BODY, HttpResult, NetworkProber

Seen = list[tuple[str, dict[str, str]]]


def route(path: str, port: int) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) the server answers for `path`."""
    if path == "/ok":
        return 200, {}, b"fine"
    if path == "/same":
        return 302, {"Location": "/ok"}, b"moved"
    if path == "/absolute":
        return 301, {"Location": f"http://127.0.0.1:{port}/ok"}, b""
    if path == "/other":  # "localhost" is another host name than 127.0.0.1
        return 302, {"Location": f"http://localhost:{port}/ok"}, b"elsewhere"
    if path == "/loop":
        return 302, {"Location": "/loop"}, b""
    if path == "/nolocation":
        return 302, {}, b"stay"
    if path == "/big":
        return 200, {}, b"x" * (3 * MAX_BODY)
    return 404, {}, b"not found"


async def serve(seen: Seen) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        line, *fields = head.split("\r\n")
        headers = dict(f.split(": ", 1) for f in fields if f)
        path = line.split()[1]
        seen.append((path, headers))
        status, extra, body = route(path, writer.get_extra_info("sockname")[1])
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in extra.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def probing(body: Callable[[NetworkProber, str, Seen], Awaitable[None]]) -> None:
    async def run() -> None:
        seen: Seen = []
        server, port = await serve(seen)
        try:
            await body(NetworkProber(), f"http://127.0.0.1:{port}", seen)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(run())


PROBE_HEADERS = {"User-Agent": "kube-probe/1.33", "Accept": "*/*"}


def test_a_redirect_to_the_same_host_is_followed():
    async def body(prober: NetworkProber, base: str, seen: Seen) -> None:
        assert await prober.http_get(f"{base}/same", PROBE_HEADERS, 5) == HttpResult(200, "fine")
        assert await prober.http_get(f"{base}/absolute", PROBE_HEADERS, 5) == HttpResult(
            200, "fine"
        )
        assert [path for path, _ in seen] == ["/same", "/ok", "/absolute", "/ok"]

    probing(body)


def test_a_redirect_to_another_host_is_not_followed_and_is_the_answer():
    async def body(prober: NetworkProber, base: str, seen: Seen) -> None:
        answer = await prober.http_get(f"{base}/other", PROBE_HEADERS, 5)
        assert answer == HttpResult(302, "elsewhere")
        assert [path for path, _ in seen] == ["/other"]
        hook = await prober.http_get(
            f"{base}/other", PROBE_HEADERS, 5, follow_non_local_redirects=True
        )
        assert hook == HttpResult(200, "fine")  # a lifecycle hook's client goes anywhere

    probing(body)


def test_a_redirect_loop_stops_after_ten():
    async def body(prober: NetworkProber, base: str, seen: Seen) -> None:
        answer = await prober.http_get(f"{base}/loop", PROBE_HEADERS, 5)
        assert answer.status is None
        assert answer.error == f'Get "{base}/loop": stopped after 10 redirects'
        assert len(seen) == 10

    probing(body)


def test_a_redirect_without_location_is_the_answer():
    async def body(prober: NetworkProber, base: str, seen: Seen) -> None:
        assert await prober.http_get(f"{base}/nolocation", PROBE_HEADERS, 5) == HttpResult(
            302, "stay"
        )

    probing(body)


def test_the_body_is_cut_at_10_kib_and_the_headers_are_the_probes_own():
    async def body(prober: NetworkProber, base: str, seen: Seen) -> None:
        answer = await prober.http_get(f"{base}/big", {**PROBE_HEADERS, "Host": "web"}, 5)
        assert answer.status == 200 and answer.body == "x" * MAX_BODY
        headers = seen[0][1]
        assert headers["User-Agent"] == "kube-probe/1.33" and headers["Host"] == "web"
        assert headers["Connection"] == "close"  # DisableKeepAlives
        assert "Accept-Encoding" not in headers  # DisableCompression

    probing(body)


def test_a_custom_host_header_survives_only_a_relative_redirect():
    async def body(prober: NetworkProber, base: str, seen: Seen) -> None:
        headers = {**PROBE_HEADERS, "Host": "web"}
        await prober.http_get(f"{base}/same", headers, 5)
        await prober.http_get(f"{base}/absolute", headers, 5)
        assert [(path, h["Host"]) for path, h in seen] == [
            ("/same", "web"),
            ("/ok", "web"),  # Location "/ok": relative
            ("/absolute", "web"),
            ("/ok", base.removeprefix("http://")),  # an absolute Location: its own host
        ]

    probing(body)


def test_no_server_is_no_answer():
    async def body(prober: NetworkProber, base: str, seen: Seen) -> None:
        server_less = "http://127.0.0.1:1/healthz"  # port 1: nothing listens there
        answer = await prober.http_get(server_less, PROBE_HEADERS, 5)
        assert answer.status is None and answer.error.startswith(f'Get "{server_less}": ')
        assert await prober.tcp_open("127.0.0.1", 1, 5) is False
        assert await prober.tcp_open("127.0.0.1", int(base.rsplit(":", 1)[1]), 5) is True

    probing(body)
