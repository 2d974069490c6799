"""kube-apiserver for the lab: Kubernetes-style REST over HTTP/JSON on a Unix socket
(and optionally TCP), with list, watch (incl. bookmarks), create, update, delete and the
status and binding subresources. All logic lives in `lab_kit.api.handler` (what a request
means) and `lab_kit.api.registry` (writes); this module only speaks HTTP.

    client --HTTP--> ApiHandler.handle --> Registry (defaults, validation, allocation) --> Store
    Store --event--> every open watch's feed --> one JSON line per event

It is not an `Agent` (it is what agents watch), but its process uses the runner's pieces:
the options, the ready pipe, the signals.

Lab extensions under /lab/v1 (not in Kubernetes): `apply` (an all-or-nothing batch),
`agents/<name>` (agents report the resourceVersion they have applied) and `converged`
(wait until every agent has applied the store's latest version).

Run: python -m lab_kit.agents apiserver --socket /run/labkit/apiserver.sock [--ready-fd N]
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from aiohttp import web

from lab_kit.adapters.api_serving import WatchFeed, converged
from lab_kit.adapters.processes import signal_ready
from lab_kit.agents.runner import common_parser, until_stopped
from lab_kit.api.handler import ApiHandler, ConvergedWait, Reply, WatchStream
from lab_kit.api.registry import Registry
from lab_kit.model import schema

log = logging.getLogger("apiserver")


class ApiServer:
    """aiohttp in front of `ApiHandler`: every request is one `handle` call; watches and
    convergence waits are served by the shared loops of `lab_kit.adapters.api_serving`."""

    def __init__(self, registry: Registry):
        self.handler = ApiHandler(registry)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read() if request.can_read_body else b""
        answer = self.handler.handle(request.method, request.path, request.query, body)
        if isinstance(answer, WatchStream):
            with WatchFeed(self.handler, answer) as feed:  # subscribed before any await
                response = web.StreamResponse(headers={"Content-Type": "application/json"})
                await response.prepare(request)
                async for line in feed.lines():
                    await response.write(line)
                return response
        if isinstance(answer, ConvergedWait):
            return web.json_response(await converged(self.handler, answer))
        assert isinstance(answer, Reply)
        if isinstance(answer.body, str):
            return web.Response(text=answer.body, status=answer.status)
        return web.json_response(answer.body, status=answer.status)


async def serve(
    socket_path: str, tcp: str | None, ready_fd: int | None, advertise: str | None
) -> None:
    schema.warm_up()
    registry = Registry()
    registry.bootstrap()
    server = ApiServer(registry)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
    await runner.setup()
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    await web.UnixSite(runner, socket_path).start()
    if tcp:
        host, _, port = tcp.rpartition(":")
        await web.TCPSite(runner, host, int(port)).start()
    log.info("serving on %s%s", socket_path, f" and {tcp}" if tcp else "")
    signal_ready(ready_fd)
    await until_stopped(asyncio.get_running_loop().create_future(), log)  # until a signal
    await runner.cleanup()
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
        "--advertise-address", help="IP:port published as the kubernetes Service's endpoint"
    )
    args = parser.parse_args(argv)
    if not args.socket:
        parser.error("--socket PATH is required (the Unix socket to serve on)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(args.socket, args.tcp, args.ready_fd, args.advertise_address))


if __name__ == "__main__":
    main()
