"""Raw HTTP/1.1 over a Unix socket to the real aiohttp API server, started in the test's
own event loop on a short temporary path (no root, no second process)."""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab_kit.adapters.clock import Clock
from lab_kit.agents.apiserver import ApiServer
from lab_kit.api.limits import Limits
from lab_kit.api.registry import Registry


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@asynccontextmanager
async def serving(
    limits: Limits | None = None, clock: Clock | None = None
) -> AsyncIterator[tuple[ApiServer, str]]:
    registry = Registry(clock=lambda: 1_700_000_000.0)
    registry.bootstrap()
    server = ApiServer(registry, limits, clock)
    with tempfile.TemporaryDirectory(prefix="lkh-") as folder:
        path = str(Path(folder) / "api.sock")
        await server.start(path)
        try:
            yield server, path
        finally:
            await server.stop()


def request(
    method: str,
    path: str,
    body: bytes | str | dict | list | None = None,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> bytes:
    """One request's bytes, ending the connection after it (Connection: close)."""
    if body is not None and not isinstance(body, bytes):
        body = (body if isinstance(body, str) else json.dumps(body)).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: lab"]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
        if content_type:
            lines.append(f"Content-Type: {content_type}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()] + ["Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def read_answer(reader: asyncio.StreamReader, timeout_s: float = 10) -> Answer:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout_s)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
    size = int(headers.get("content-length", 0))
    body = await asyncio.wait_for(reader.readexactly(size), timeout_s) if size else b""
    return Answer(int(status_line.split()[1]), headers, body)


async def exchange(socket_path: str, data: bytes) -> Answer:
    """Send `data` (whatever it is) and read one answer."""
    reader, writer = await asyncio.open_unix_connection(socket_path)
    try:
        writer.write(data)
        await writer.drain()
        return await read_answer(reader)
    finally:
        writer.close()


class ServerThread:
    """The real server on its own event loop in a thread, for tests that speak to it with
    plain blocking sockets (one server for a whole module of requests)."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.folder = tempfile.TemporaryDirectory(prefix="lkh-")
        self.path = str(Path(self.folder.name) / "api.sock")
        registry = Registry(clock=lambda: 1_700_000_000.0)
        registry.bootstrap()
        self.server = ApiServer(registry, limits)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self._run(self.server.start(self.path))
        return self

    def __exit__(self, *exc: object) -> None:
        self._run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.folder.cleanup()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def exchange(self, data: bytes) -> Answer:
        return blocking_exchange(self.path, data)


def _connect(conn: socket.socket, socket_path: str, deadline: float) -> None:
    """connect() as a blocking client's: with a timeout set, a Unix socket whose listen
    backlog is full answers EAGAIN at once (a blocking one would wait for room), which a
    busy machine's slower accept loop makes likely after 1,100 queued connections."""
    while True:
        try:
            conn.connect(socket_path)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def blocking_exchange(socket_path: str, data: bytes) -> Answer:
    """Send `data` on a new connection, read one answer (blocking, 10 s at most)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        _connect(conn, socket_path, deadline=time.monotonic() + 10)
        try:
            conn.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413) before taking the whole body
        received = b""
        while b"\r\n\r\n" not in received:
            received += _recv(conn)
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        size = int(headers.get("content-length", 0))
        while len(body) < size:
            body += _recv(conn)
        return Answer(int(status_line.split()[1]), headers, body[:size])


def _recv(conn: socket.socket) -> bytes:
    chunk = conn.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection before answering")
    return chunk
