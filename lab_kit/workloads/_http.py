"""A small HTTP/1.1 server on asyncio streams, shared by the HTTP workloads.

Why not aiohttp: importing aiohttp.web takes ~170 ms and a workload must answer within
150 ms of starting. This serves what probes, curl and browsers send: request line, headers,
a Content-Length or chunked body, keep-alive, HEAD, many connections at once.

Like Go's net/http, a handler that raises drops the connection without a response (Go
recovers the panic and closes it); handlers that want a 500 answer build one themselves.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import json
import sys
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MAX_HEADERS = 100
MAX_BODY = 16 * 1024 * 1024

TEXT = "text/plain; charset=utf-8"


@dataclass
class Request:
    method: str
    target: str  # as sent: "/echo?msg=x"
    version: str  # "HTTP/1.1"
    headers: dict[str, str]  # names lower-cased
    body: bytes
    peer: tuple  # (ip, port[, ...]) of the client
    header_list: list[tuple[str, str]] = field(default_factory=list)  # as sent, in order

    def target_parts(self) -> tuple[str, str]:
        """(raw path, raw query). An origin-form target ("/x?q") has no authority even when
        it starts with "//" (Go's ParseRequestURI); an absolute one ("http://h/x") has."""
        if self.target.startswith("/"):
            path, _, query = self.target.partition("?")
            return path, query
        parts = urllib.parse.urlsplit(self.target)
        return parts.path, parts.query

    @property
    def path(self) -> str:
        return urllib.parse.unquote(self.target_parts()[0]) or "/"

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.target_parts()[1], True)

    def param(self, name: str) -> str | None:
        """A form value: urlencoded POST/PUT/PATCH body first, then the query (Go's FormValue)."""
        ctype = self.headers.get("content-type", "")
        if self.method in ("POST", "PUT", "PATCH") and ctype.startswith(
            "application/x-www-form-urlencoded"
        ):
            form = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), True)
            if name in form:
                return form[name][0]
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def remote_addr(self) -> str:
        """The client as Go prints it: "10.0.0.1:43210", "[fd00::1]:43210"."""
        host, port = self.peer[0], self.peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # send "Connection: close" and close after this response
    then: Callable[[], object] | None = None  # called once the response is written


def text(body: str, status: int = 200, **kw) -> Response:
    return Response(status, body.encode(), TEXT if body else None, **kw)


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    pass


class Server:
    """Serves `handler` on a port; `shutdown` is Go's graceful http.Server.Shutdown."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self._server: asyncio.Server | None = None
        self._busy: dict[asyncio.StreamWriter, bool] = {}  # connection -> serving a request
        self._closing = False
        self._drained = asyncio.Event()

    async def listen(self, port: int, host: str | None = "0.0.0.0") -> None:
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)

    async def shutdown(self, timeout: float) -> bool:
        """Stop listening, close idle connections, wait up to `timeout` s for busy ones."""
        self._closing = True
        if self._server:
            self._server.close()
        for writer, busy in list(self._busy.items()):
            if not busy:
                writer.close()
        if not self._busy:
            return True
        try:
            await asyncio.wait_for(self._drained.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._busy[writer] = False
        peer = writer.get_extra_info("peername") or ("", 0)
        try:
            while not self._closing:
                try:
                    request = await read_request(reader, peer)
                except BadRequest:
                    await write_response(writer, None, text("400 Bad Request", 400), False)
                    break
                if request is None:
                    break
                self._busy[writer] = True
                response = await self.handler(request)
                keep = request.keep_alive and not response.close and not self._closing
                await write_response(writer, request, response, keep)
                self._busy[writer] = False
                if response.then:
                    response.then()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as e:  # a handler "panicked": drop the connection, keep serving others
            print(f"http: panic serving {peer[0]}:{peer[1]}: {e!r}", file=sys.stderr, flush=True)
        finally:
            self._busy.pop(writer, None)
            writer.close()
            if self._closing and not self._busy:
                self._drained.set()


async def read_request(reader: asyncio.StreamReader, peer: tuple) -> Request | None:
    """The next request on a connection, None when the client closed it."""
    try:
        line = await reader.readline()
        while line in (b"\r\n", b"\n"):  # tolerated before a request line (RFC 9112 2.2)
            line = await reader.readline()
        if not line:
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest
        headers: dict[str, str] = {}
        header_list: list[tuple[str, str]] = []
        for _ in range(MAX_HEADERS):
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name.strip():
                raise BadRequest
            headers[name.strip().lower()] = value.strip()
            header_list.append((name.strip(), value.strip()))
        else:
            raise BadRequest
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        else:
            length = int(headers.get("content-length") or 0)
            if not 0 <= length <= MAX_BODY:
                raise BadRequest
            body = await reader.readexactly(length)
    except ValueError as e:  # a line over the stream limit, a bad number
        raise BadRequest from e
    return Request(parts[0], parts[1], parts[2], headers, body, peer, header_list)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while len(body) <= MAX_BODY:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if size == 0:
            for _ in range(MAX_HEADERS):  # trailers
                if await reader.readline() in (b"\r\n", b"\n", b""):
                    return bytes(body)
            raise BadRequest
        body += await reader.readexactly(size)
        await reader.readline()
    raise BadRequest


# ---------------------------------------------------------------------------------------------
# What a Go handler sees of a request, and how Go's encoding/json writes it

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def canonical_header_key(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: "x-forwarded-for" -> "X-Forwarded-For"; a name
    with a character that is not a token character is left as it is."""
    if not name or any(c not in _TOKEN for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _go_fields(request: Request) -> list[tuple[str, str]]:
    """(canonical name, value) as Go keeps them: Host moves to r.Host and a chunked
    Transfer-Encoding is consumed by the server."""
    fields = [(canonical_header_key(name), value) for name, value in request.header_list]
    return [
        (key, value)
        for key, value in fields
        if key != "Host" and not (key == "Transfer-Encoding" and "chunked" in value.lower())
    ]


def go_header(request: Request) -> dict[str, list[str]]:
    """Go's r.Header: canonical names, every value in order, keys sorted (as encoding/json
    writes a map)."""
    header: dict[str, list[str]] = {}
    for key, value in _go_fields(request):
        # Go's strings are bytes; encoding/json writes invalid UTF-8 as U+FFFD.
        header.setdefault(key, []).append(value.encode("latin-1").decode("utf-8", "replace"))
    return dict(sorted(header.items()))


def header_get(request: Request, name: str) -> str:
    """Go's r.Header.Get: the first value of the canonical name ("" if none), as sent."""
    key = canonical_header_key(name)
    return next((value for sent, value in _go_fields(request) if sent == key), "")


def go_json(value: object, indent: str | None = None) -> str:
    """encoding/json's Marshal (indent None) or MarshalIndent(value, "", indent): UTF-8 kept,
    <, > and & escaped (Go's HTML-safe default), as are U+2028 and U+2029."""
    text = json.dumps(
        value,
        ensure_ascii=False,
        indent=indent,
        separators=(",", ":") if indent is None else (",", ": "),
    )
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, escaped)
    return text


async def write_response(
    writer: asyncio.StreamWriter, request: Request | None, response: Response, keep: bool
) -> None:
    try:
        phrase = http.HTTPStatus(response.status).phrase
    except ValueError:
        phrase = f"status code {response.status}"  # what Go writes for codes it doesn't know
    lines = [
        f"HTTP/1.1 {response.status} {phrase}",
        f"Date: {email.utils.formatdate(usegmt=True)}",
    ]
    if response.content_type:
        lines.append(f"Content-Type: {response.content_type}")
    lines.append(f"Content-Length: {len(response.body)}")
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    if not keep and "Connection" not in response.headers:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    writer.write(head if request and request.method == "HEAD" else head + response.body)
    await writer.drain()
