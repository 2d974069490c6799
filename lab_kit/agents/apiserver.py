"""kube-apiserver for the lab: Kubernetes-style REST over HTTP/JSON on a Unix socket
(and optionally TCP), with list, watch (incl. bookmarks), create, update, delete and the
status and binding subresources. All logic lives in `lab_kit.api.handler` (what a request
means), `lab_kit.api.registry` (writes) and `lab_kit.api.limits` (what is bounded); this
module only speaks HTTP.

    client --HTTP--> ApiHandler.handle --> Registry (defaults, validation, allocation) --> Store
    Store --event--> every open watch's feed --> one JSON line per event

It is not an `Agent` (it is what agents watch), but its process uses the runner's pieces:
the options, the logging, the ready pipe, the signals.

Hardened as kube-apiserver's HTTP server is (limits in `lab_kit/model/constants.py`):
- every answer is a `Status`, malformed HTTP included (aiohttp's own parse errors too);
- bodies over 3 MiB are 413 before they are read; a body that does not arrive within the
  request timeout is a 504; a watch whose client takes no event for that long is dropped,
  and one whose queue overflows is ended (the client lists again, `api_serving`);
- in-flight caps per class (`--max-requests-inflight`, `--max-mutating-requests-inflight`)
  and one for watches: past them a 429 with `Retry-After: 1`;
- connections: the soft open-files limit is raised to the hard one at start; the number
  of connections is capped below it (past the cap the longest-idle connection is closed,
  or the new one refused when none is idle); a request's headers must arrive within the
  read-header timeout, a connection may stay idle for the idle timeout (net/http's
  ReadHeaderTimeout and IdleTimeout, as secure_serving.go sets them);
- no access log; aiohttp's error log goes through the runner's repeat filter.
Deliberate difference: a header line over 8190 bytes is a 400 (aiohttp's bound), where
Go's net/http takes 1 MiB of headers before answering 431.

The secure port (`apiserver_secure.py`, with --advertise-address): HTTPS on the
control-plane node's address, port 6443, what pods reach through the `kubernetes` Service;
requests there are authenticated with service-account tokens (`lab_kit/api/authn.py`),
those on the Unix socket are not (it stands for the admin's kubeconfig).

Lab extensions under /lab/v1 (not in Kubernetes): `apply` (an all-or-nothing batch),
`agents/<name>` (agents report the resourceVersion they have applied) and `converged`
(wait until every agent has applied the store's latest version).

Run: python -m lab_kit.agents apiserver --socket /run/labkit/apiserver.sock [--ready-fd N]
     [--service-cluster-ip-range 10.96.0.0/12]   (`labkit up` passes the topology's service_cidr)
     [--run-dir /run/labkit]   (keep the objects in its etcd/, `lab_kit.adapters.store_file`)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import resource
import socket
import ssl
import sys
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from lab_kit.adapters.api_serving import WatchFeed, converged, encode
from lab_kit.adapters.clock import Clock, SystemClock
from lab_kit.adapters.processes import signal_ready
from lab_kit.adapters.rundir import RunDir
from lab_kit.adapters.store_file import StoreFile
from lab_kit.agents.apiserver_secure import SecurePort, open_secure_port
from lab_kit.agents.apiserver_secure import prepare as prepare_secure_port
from lab_kit.agents.runner import common_parser, setup_logging, until_stopped
from lab_kit.api.handler import ApiHandler, ConvergedWait, Reply, WatchStream
from lab_kit.api.limits import (
    ConnectionTable,
    Inflight,
    Limits,
    err_request_entity_too_large,
    err_timeout,
    err_too_many_requests,
)
from lab_kit.api.registry import Registry
from lab_kit.model import constants as C
from lab_kit.model import schema
from lab_kit.model.errors import ApiError
from lab_kit.model.topology import service_cidr_problems

log = logging.getLogger("apiserver")
LOG_FORMAT = "%(asctime)s %(name)s %(message)s"
SWEEP_PERIOD_S = 1.0  # how often idle and half-sent connections are looked at
REFUSED_LINGER_S = 1.0  # how long a refused connection is drained before it is closed
_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestEntityTooLarge",
}


class ApiServer:
    """aiohttp in front of `ApiHandler`: every request is one `handle` call; watches and
    convergence waits are served by the shared loops of `lab_kit.adapters.api_serving`."""

    def __init__(
        self, registry: Registry, limits: Limits | None = None, clock: Clock | None = None
    ):
        self.handler = ApiHandler(registry)
        self.limits = limits or Limits()
        self.clock: Clock = clock or SystemClock()
        self.inflight = Inflight(self.limits)
        self.connections = ConnectionTable(self.limits)
        self._servers: list[asyncio.AbstractServer] = []
        self._web: web.Server | None = None
        self._sweeper: asyncio.Task | None = None
        self._secure_task: asyncio.Task | None = None
        self._connection: Callable[[], asyncio.Protocol] | None = None

    # --- requests ------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        key = request.transport
        self.connections.started(key)
        try:
            return await self._serve(request)
        finally:
            self.connections.finished(key, self.clock.monotonic())

    async def _serve(self, request: web.BaseRequest) -> web.StreamResponse:
        counted = self.inflight.admit(request.method, _long_running(request))
        if not counted:
            return status_response(err_too_many_requests())
        if _secure(request):  # the secure port authenticates; the Unix socket is the admin's
            refused = self.handler.refuse(
                request.method, request.path, request.query, request.headers.get("Authorization")
            )
            if refused is not None:
                self.inflight.release(counted)
                return status_response(refused)
        try:
            body = await self._read_body(request)
            answer = self.handler.handle(
                request.method,
                request.path,
                request.query,
                body,
                request.headers.get("Content-Type", ""),
            )
            return await self._respond(request, answer)
        except ApiError as e:
            return status_response(e)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as e:  # a bug: a Status all the same, as kube's InternalError
            log.exception("internal error serving %s %s", request.method, request.path)
            return status_response(
                ApiError(500, "InternalError", f"Internal error occurred: {e!r}")
            )
        finally:
            self.inflight.release(counted)

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        """At most the request limit (a larger Content-Length is refused unread), within
        the request timeout."""
        if not request.can_read_body:
            return b""
        limit = self.limits.max_request_bytes
        if request.content_length is not None and request.content_length > limit:
            raise err_request_entity_too_large(limit)
        try:
            return await asyncio.wait_for(
                _read_limited(request, limit), self.limits.request_timeout_s
            )
        except asyncio.TimeoutError:
            raise err_timeout(self.limits.request_timeout_s) from None

    async def _respond(
        self, request: web.BaseRequest, answer: Reply | WatchStream | ConvergedWait
    ) -> web.StreamResponse:
        if isinstance(answer, WatchStream):
            with WatchFeed(self.handler, answer) as feed:  # subscribed before any await
                response = web.StreamResponse(headers={"Content-Type": "application/json"})
                await response.prepare(request)
                async for line in feed.lines():
                    if not await self._write(request, response, line):
                        break
                return response
        if isinstance(answer, ConvergedWait):
            return web.json_response(await converged(self.handler, answer))
        headers = CIMultiDict(("Warning", value) for value in answer.warnings)
        if isinstance(answer.body, str):
            return web.Response(text=answer.body, status=answer.status, headers=headers)
        return web.json_response(answer.body, status=answer.status, headers=headers)

    async def _write(
        self, request: web.BaseRequest, response: web.StreamResponse, line: bytes
    ) -> bool:
        """One watch event; a client that takes none for the request timeout is an
        unresponsive watcher: its connection is dropped (False)."""
        try:
            await asyncio.wait_for(response.write(line), self.limits.request_timeout_s)
            return True
        except asyncio.TimeoutError:
            log.warning("closing a watch whose client stopped reading")
            if request.transport is not None:
                request.transport.abort()
            return False

    # --- connections ---------------------------------------------------------------------

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """A new connection: counted, making room by closing the longest-idle one."""
        admitted, victim = self.connections.opened(transport, self.clock.monotonic())
        if victim is not None:
            victim.close()  # type: ignore[attr-defined]
        return admitted

    def sweep(self) -> int:
        """Close the connections idle or half-sent too long; how many were closed."""
        expired = self.connections.expired(self.clock.monotonic())
        for transport in expired:
            self.connections.closed(transport)
            transport.close()  # type: ignore[attr-defined]
        return len(expired)

    async def _sweep_forever(self) -> None:
        while True:
            await self.clock.sleep(SWEEP_PERIOD_S)
            self.sweep()

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, socket_path: str, tcp: str | None = None) -> None:
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {
            "keepalive_timeout": self.limits.idle_timeout_s,
            "access_log": None,
            "logger": logging.getLogger("apiserver.http"),
            "auto_decompress": False,  # no gzip bombs: a body is counted as it arrives
        }
        # handler_cancellation: a client gone mid-request (a watch it stopped) frees its
        # handler at once, not at the next event the watch would have written.
        self._web = web_server = web.Server(self.handle, handler_cancellation=True, **options)

        def connection() -> asyncio.Protocol:
            return GuardedConnection(self, StatusRequestHandler(web_server, loop=loop, **options))

        self._connection = connection

        if os.path.exists(socket_path):
            os.unlink(socket_path)  # a socket left by an API server that was killed
        os.makedirs(os.path.dirname(socket_path) or ".", exist_ok=True)
        self._servers.append(await loop.create_unix_server(connection, socket_path))
        if tcp:
            host, _, port = tcp.rpartition(":")
            self._servers.append(await loop.create_server(connection, host, int(port)))
        self._sweeper = asyncio.ensure_future(self._sweep_forever())

    def open_secure_port(self, options: SecurePort, rd: RunDir) -> None:
        """In the background: the Unix socket serves while the keys are made and the
        control-plane node's namespace comes up (`apiserver_secure.py`)."""

        async def run() -> None:
            try:
                await open_secure_port(
                    self.handler.registry, rd, options, self.serve_secure, self.clock
                )
            except Exception:
                log.exception("the secure port could not be opened; pods cannot reach the API")

        self._secure_task = asyncio.ensure_future(run())

    async def serve_secure(
        self, sock: socket.socket, context: ssl.SSLContext
    ) -> asyncio.AbstractServer:
        """The secure port (`apiserver_secure.py` opens the socket): same connections,
        same handler, over TLS."""
        assert self._connection is not None, "start() comes first"
        server = await asyncio.get_running_loop().create_server(
            self._connection, sock=sock, ssl=context
        )
        self._servers.append(server)
        return server

    async def stop(self) -> None:
        if self._secure_task is not None:
            self._secure_task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for server in self._servers:
            server.close()
        if self._web is not None:
            await self._web.shutdown(0.2)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


def _secure(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def _long_running(request: web.BaseRequest) -> bool:
    """kube-apiserver's long-running check, for the lab's routes: watches, and the lab's
    convergence waits."""
    if request.method != "GET":
        return False
    return request.query.get("watch") in ("1", "true") or request.path.rstrip("/") == (
        "/lab/v1/converged"
    )


async def _read_limited(request: web.BaseRequest, limit: int) -> bytes:
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise err_request_entity_too_large(limit)
    return bytes(data)


def status_response(error: ApiError) -> web.Response:
    headers = {"Retry-After": str(C.RETRY_AFTER_S)} if error.code == 429 else None
    response = web.json_response(error.status(), status=error.code, headers=headers)
    if error.code in (413, 504):  # a body left unread: this connection carries no more
        response.force_close()
    return response


class StatusRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors (a request it cannot parse, a
    handler that timed out) with a `Status` and without a traceback in the log."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp's: too late for another answer
            raise ConnectionError("response already sent, cannot send the error")
        if status >= 500:
            self.logger.warning("error handling a request: %r", exc)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        detail = (message or str(exc or "")).strip().split("\n")[0]
        text = f"{phrase}: {detail}" if detail and detail != phrase else phrase
        reason = _REASONS.get(status, "InternalError" if status >= 500 else "BadRequest")
        response = status_response(ApiError(status, reason, text))
        response.force_close()
        return response


_REFUSED = (
    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
    + f"Retry-After: {C.RETRY_AFTER_S}\r\nConnection: close\r\n".encode()
)


class GuardedConnection(asyncio.Protocol):
    """One connection, counted in the server's ConnectionTable before aiohttp sees it; past
    the cap with nothing idle to close, it is answered 429 and closed."""

    def __init__(self, server: ApiServer, inner: RequestHandler):
        self.server, self.inner = server, inner
        self.transport: asyncio.BaseTransport | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if self.server.admit(transport):
            self.inner.connection_made(transport)
            return
        self.refused = True
        body = encode(err_too_many_requests().status())
        head = _REFUSED + f"Content-Length: {len(body)}\r\n\r\n".encode()
        transport.write(head + body)  # type: ignore[attr-defined]
        # Half-close and drain what the client sends until it closes (at most a second):
        # closing with its request unread would reset the connection before it reads 429.
        transport.write_eof()  # type: ignore[attr-defined]
        asyncio.get_running_loop().call_later(REFUSED_LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            self.server.connections.received(self.transport, self.server.clock.monotonic())
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if not self.refused:
            self.inner.eof_received()
        return None  # close the transport (aiohttp's answer too)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.server.connections.closed(self.transport)
        if not self.refused:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def raise_open_files_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (the stock soft limit is 1024); returns the
    soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as e:
            log.warning("could not raise the open-files limit to %d: %s", target, e)
    return soft


def connection_cap(open_files: int, limits: Limits) -> int:
    """Connections the server keeps: the configured cap, or what the open-files limit
    leaves after FD_HEADROOM descriptors for everything else (at least 16)."""
    return max(16, min(limits.max_connections, open_files - C.FD_HEADROOM))


async def serve(
    socket_path: str,
    tcp: str | None,
    ready_fd: int | None,
    advertise: str | None,
    service_cidr: str = C.SERVICE_CIDR,
    data_dir: str | None = None,
    secure: SecurePort | None = None,
    run_dir: str | None = None,
) -> None:
    schema.warm_up()
    # With a data dir the objects outlive the process (etcd's part): a restarted API server
    # (the lab's supervisor restarts it) serves what it had, at the version it had reached.
    store = StoreFile(data_dir).open() if data_dir else None
    registry = Registry(store, service_cidr=service_cidr)
    registry.bootstrap()
    open_files = raise_open_files_limit()
    limits = Limits(max_connections=connection_cap(open_files, Limits()))
    server = ApiServer(registry, limits)
    await server.start(socket_path, tcp)
    if secure is not None:
        # Tokens and kube-root-ca.crt before "ready": a pod created at once gets its files.
        await prepare_secure_port(registry, RunDir(run_dir), secure)
        server.open_secure_port(secure, RunDir(run_dir))
    log.info(
        "serving on %s%s (at most %d connections)",
        socket_path,
        f" and {tcp}" if tcp else "",
        limits.max_connections,
    )
    signal_ready(ready_fd)
    await until_stopped(asyncio.get_running_loop().create_future(), log)  # until a signal
    await server.stop()
    if os.path.exists(socket_path):
        os.unlink(socket_path)


def main(argv: list[str] | None = None) -> None:
    # jsonschema imports rfc3987_syntax for its "uri" format checker if it is installed
    # (Jupyter brings it); building its grammar costs 0.6 s at start-up, and Kubernetes'
    # schemas are checked without format assertions, so this process does without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    parser = common_parser("apiserver", (__doc__ or "").split("\n")[0])
    parser.add_argument("--tcp", help="also serve on HOST:PORT (for in-cluster clients)")
    parser.add_argument(
        "--advertise-address",
        metavar="IP",
        help="the address published as the kubernetes Service's endpoint (enables the secure port)",
    )
    parser.add_argument(
        "--secure-port",
        type=int,
        default=C.API_SERVER_PORT,
        metavar="PORT",
        help=f"HTTPS port, with service-account authentication (default {C.API_SERVER_PORT})",
    )
    parser.add_argument(
        "--bind-netns-host",
        default="",
        metavar="HOST",
        help="lab only: open the secure port in this lab host's network namespace "
        "(the control-plane node), found in --run-dir's network record",
    )
    parser.add_argument(
        "--bind-address",
        default="",
        metavar="IP",
        help="where the secure port listens (default: the advertise address)",
    )
    parser.add_argument(
        "--service-cluster-ip-range",
        default=C.SERVICE_CIDR,
        metavar="CIDR",
        help=f"the ClusterIPs' range; `kubernetes` gets its first address (default {C.SERVICE_CIDR})",
    )
    args = parser.parse_args(argv)
    if not args.socket:
        parser.error("--socket PATH is required (the Unix socket to serve on)")
    service_cidr = args.service_cluster_ip_range
    problems = service_cidr_problems(service_cidr) if _is_cidr(service_cidr) else ["not a CIDR"]
    if problems:
        parser.error(f"--service-cluster-ip-range {service_cidr}: {problems[0]}")
    setup_logging("apiserver", LOG_FORMAT)
    # --run-dir (what `labkit up` passes): the objects are kept in its etcd/ directory
    kept = {"data_dir": RunDir(args.run_dir).etcd} if args.run_dir else {}
    secure = None
    if args.advertise_address:
        if not args.run_dir:
            parser.error("--advertise-address needs --run-dir (the lab CA and keys live there)")
        secure = SecurePort(args.advertise_address, args.secure_port, args.bind_netns_host,
                            args.bind_address)  # fmt: skip
    asyncio.run(serve(args.socket, args.tcp, args.ready_fd, args.advertise_address, service_cidr,
                      **kept, secure=secure, run_dir=args.run_dir))  # fmt: skip


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    main()
