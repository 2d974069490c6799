"""Forward an HTTP/1.1 request to another server and bring its answer back: the one step
every Knative hop makes (gateway -> activator -> queue-proxy -> the app).

One connection per request (`Connection: close`), so the answer ends at the server's close
when it names no length: simple, and each hop is a new TCP connection a capture shows.
Headers that describe the hop (Connection, Keep-Alive, Transfer-Encoding, ...) are not
forwarded, as Go's httputil.ReverseProxy drops them; X-Forwarded-For gains the client.
"""

from __future__ import annotations

import asyncio

if __package__:
    from . import _http
else:  # run as a file by the kubelet (see lab_kit/workloads/__init__.py)
    import _http  # type: ignore[no-redef,import-not-found]

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length"}  # fmt: skip


class Unreachable(Exception):
    """The next hop refused, reset or timed out before answering."""


async def forward(request: _http.Request, host: str, port: int, timeout: float,
                  extra: dict[str, str] | None = None) -> _http.Response:  # fmt: skip
    headers = [(k, v) for k, v in request.header_list if k.lower() not in HOP_BY_HOP]
    client = request.peer[0] if request.peer else ""
    seen = request.headers.get("x-forwarded-for")
    headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
    headers.append(("X-Forwarded-For", f"{seen}, {client}" if seen else client))
    headers += list((extra or {}).items())
    head = [f"{request.method} {request.target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers),
            f"Content-Length: {len(request.body)}", "Connection: close", "", ""]  # fmt: skip
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError) as e:
        raise Unreachable(f"dial tcp {host}:{port}: {e or 'timeout'}") from None
    try:
        writer.write("\r\n".join(head).encode("latin-1") + request.body)
        await writer.drain()
        return await asyncio.wait_for(_read_response(reader), timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
        raise Unreachable(f"{host}:{port}: {e!r}") from None
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> _http.Response:
    status_line = (await reader.readline()).decode("latin-1")
    if not status_line.startswith("HTTP/"):
        raise ValueError(f"malformed status line {status_line!r}")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while True:
        line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    lower = {k.lower(): v for k, v in headers.items()}
    if "content-length" in lower:
        body = await reader.readexactly(int(lower["content-length"]))
    else:
        body = await reader.read()
    kept = {
        k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP | {"date", "content-type"}
    }
    return _http.Response(status, body, lower.get("content-type"), kept)
