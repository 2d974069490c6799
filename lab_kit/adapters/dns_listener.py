"""DNS over UDP and TCP on one port: the sockets around a DNS server's pure answer code.

UDP is served by one thread doing blocking recvfrom/sendto: no event loop per datagram,
which is what lets a Python server answer tens of thousands of queries a second. TCP
(RFC 7766: two-byte length prefix, several queries per connection) runs on the asyncio
loop. Both hand each message to one `handle(data, reply, tcp)` callback; the callback may
`reply(bytes)` at once or later (after asking an upstream), from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
from collections.abc import Callable

log = logging.getLogger("dns")

Reply = Callable[[bytes], None]
Handler = Callable[[bytes, Reply, bool], None]
TCP_IDLE_TIMEOUT_S = 10.0  # CoreDNS's idle timeout for TCP connections
UDP_BUFFER_BYTES = 4 << 20  # room for a load generator's bursts
BIND_ATTEMPTS = 20  # port 0: tries at a port free for UDP and TCP alike


class DnsListener:
    def __init__(self, handle: Handler, host: str = "0.0.0.0", port: int = 53):
        self.handle, self.host = handle, host
        self.udp, self.tcp = _bind_pair(host, port)
        self.port = self.udp.getsockname()[1]  # port 0: the kernel's choice, for tests
        self.tcp_server: asyncio.base_events.Server | None = None
        self.udp_thread: threading.Thread | None = None
        self.closing = False

    async def start(self) -> None:
        self.tcp_server = await asyncio.start_server(self._tcp, sock=self.tcp)
        self.udp_thread = threading.Thread(target=self._udp_loop, name="dns-udp", daemon=True)
        self.udp_thread.start()

    def _udp_loop(self) -> None:
        sock, handle = self.udp, self.handle
        recvfrom, sendto = sock.recvfrom, sock.sendto
        while True:
            try:
                data, addr = recvfrom(65535)
            except OSError:  # the socket was closed: the server is stopping
                return
            if self.closing:
                return
            try:
                handle(data, _sender(sendto, addr), False)
            except Exception:  # a bug costs this datagram, never the loop
                log.exception("handling a UDP query from %s", addr)

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(out: bytes) -> None:  # called on the loop: at once, or after a forward
            if not writer.is_closing():
                writer.write(struct.pack("!H", len(out)) + out)

        try:
            while True:
                prefix = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT_S)
                data = await reader.readexactly(struct.unpack("!H", prefix)[0])
                self.handle(data, reply, True)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client closed, went idle, or sent half a message
        except Exception:
            log.exception("handling a TCP query")
        finally:
            writer.close()

    def close(self) -> None:
        """Stop serving: the port is free when this returns."""
        self.closing = True
        try:
            # close() alone would leave the UDP thread blocked in recvfrom, the port still
            # bound, until one more datagram came; shutdown wakes it at once.
            self.udp.shutdown(socket.SHUT_RDWR)
        except OSError:  # ENOTCONN (never connected): Linux wakes the reader all the same
            pass
        if self.udp_thread is not None:
            self.udp_thread.join(timeout=1)
        self.udp.close()
        if self.tcp_server is not None:
            self.tcp_server.close()
        else:
            self.tcp.close()


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to `port`. For 0, the kernel picks a free UDP port,
    which another program may hold for TCP (a busy test machine): then try another."""
    for _ in range(BIND_ATTEMPTS if port == 0 else 1):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER_BYTES)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers
        try:
            udp.bind((host, port))
            tcp.bind((host, udp.getsockname()[1]))
            return udp, tcp
        except OSError:
            udp.close()
            tcp.close()
            if port != 0:
                raise
    raise OSError(f"no port free for both UDP and TCP on {host} in {BIND_ATTEMPTS} tries")


def _sender(sendto: Callable[[bytes, tuple[str, int]], int], addr: tuple[str, int]) -> Reply:
    """The reply to one datagram: back to whoever sent it."""

    def reply(out: bytes) -> None:
        sendto(out, addr)

    return reply


async def ask(server: tuple[str, int], data: bytes, tcp: bool, timeout_s: float) -> bytes | None:
    """Send one query to `server` and return its reply (None: no answer in time)."""
    try:
        if tcp:
            return await asyncio.wait_for(_ask_tcp(server, data), timeout_s)
        return await asyncio.wait_for(_ask_udp(server, data), timeout_s)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return None


async def _ask_udp(server: tuple[str, int], data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, server)
        await loop.sock_sendall(sock, data)
        while True:
            out = await loop.sock_recv(sock, 65535)
            if out[:2] == data[:2]:  # a late reply to someone else's id is not ours
                return out


async def _ask_tcp(server: tuple[str, int], data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        length = struct.unpack("!H", await reader.readexactly(2))[0]
        return await reader.readexactly(length)
    finally:
        writer.close()
