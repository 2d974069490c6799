"""kube-apiserver for the lab: Kubernetes-style REST over HTTP/JSON on a Unix socket
(and optionally TCP), with list, watch (incl. bookmarks), create, update, delete and the
status and binding subresources. All logic lives in `lab_kit.api.registry`; this module
only speaks HTTP.

    client --HTTP--> handle() --> Registry (defaults, validation, allocation) --> Store
    Store --event--> every open watch's queue --> one JSON line per event

Lab extensions under /lab/v1 (not in Kubernetes): `apply` (an all-or-nothing batch),
`agents/<name>` (agents report the resourceVersion they have applied) and `converged`
(wait until every agent has applied the store's latest version).

Run: python -m lab_kit.agents.apiserver --socket /run/labkit/apiserver.sock [--ready-fd N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from aiohttp import web

from lab_kit.api import queries
from lab_kit.api.paths import RequestInfo, parse_path
from lab_kit.api.registry import Registry
from lab_kit.model import schema
from lab_kit.model.errors import ApiError, err_bad_request, err_method_not_allowed
from lab_kit.model.kinds import KINDS
from lab_kit.store.store import Event

log = logging.getLogger("apiserver")
VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-lab_kit", "platform": "linux/amd64"}


class Agents:
    """Which resourceVersion each agent has applied; lets clients wait for convergence."""

    def __init__(self) -> None:
        self.applied: dict[str, dict] = {}
        self._tick = asyncio.Event()

    def poke(self) -> None:
        """Something changed (a write or a report): wake everyone waiting."""
        self._tick.set()
        self._tick = asyncio.Event()

    def report(self, name: str, rv: int, info: dict) -> None:
        self.applied[name] = {
            "name": name,
            "appliedResourceVersion": rv,
            "lastReport": time.time(),
            **info,
        }
        self.poke()

    def behind(
        self, rv: int, pod_exists: Callable[[str, str], bool] = lambda ns, name: True
    ) -> list[str]:
        """Agents that have not applied `rv`. An agent that runs in a pod (its report says
        `pod: <namespace>/<name>`, as cluster DNS does) stops counting once its Pod is gone,
        so a deleted or replaced pod never holds convergence up."""
        out = []
        for name, a in self.applied.items():
            ns, _, pod = (a.get("pod") or "").partition("/")
            if a["appliedResourceVersion"] < rv and (not pod or pod_exists(ns, pod)):
                out.append(name)
        return sorted(out)

    def forget(self, name: str) -> None:
        self.applied.pop(name, None)
        self.poke()


class ApiServer:
    def __init__(self, registry: Registry):
        self.registry = registry
        self.agents = Agents()
        # Every write may make convergence waiters wait longer; wake them to re-check.
        registry.store.subscribe(lambda _event: self.agents.poke())

    # --- routing ---------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            path = request.path.rstrip("/") or "/"
            if path in ("/healthz", "/readyz", "/livez"):
                return web.Response(text="ok")
            if path == "/version":
                return web.json_response(VERSION)
            if path.startswith("/lab/v1/"):
                return await self._lab(request, path[len("/lab/v1/") :])
            if path in ("/api", "/apis"):
                return web.json_response(_discovery(path))
            info = parse_path(path)
            return await self._resource(request, info)
        except ApiError as e:
            return web.json_response(e.status(), status=e.code)
        except json.JSONDecodeError as e:
            err = err_bad_request(f"the body of the request was in an unknown format: {e}")
            return web.json_response(err.status(), status=400)

    async def _resource(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        method, q = request.method, request.query
        reg = self.registry
        dry = q.get("dryRun") == "All"
        if method == "GET" and not info.name:
            if q.get("watch") in ("1", "true"):
                return await self._watch(request, info)
            keep = queries.make_filter(
                info.kind, info.namespace, q.get("labelSelector", ""), q.get("fieldSelector", "")
            )
            items = [o for o in reg.list(info.kind, info.namespace) if keep(o)]
            return web.json_response(queries.list_envelope(info.kind, items, reg.store.rv))
        if method == "GET":
            return web.json_response(reg.get(info.kind, info.namespace or "", info.name))
        if method == "POST" and info.subresource == "binding":
            body = await request.json()
            target = (body.get("target") or {}).get("name", "")
            return web.json_response(reg.bind(info.namespace or "", info.name, target), status=201)
        if method == "POST" and not info.name:
            obj = await request.json()
            return web.json_response(reg.create(obj, info.namespace, dry_run=dry), status=201)
        if method == "PUT" and info.name:
            obj = await request.json()
            if (obj.get("metadata") or {}).get("name", info.name) != info.name:
                raise err_bad_request("the name of the object does not match the name on the URL")
            obj.setdefault("metadata", {})["name"] = info.name
            return web.json_response(
                reg.update(obj, info.namespace, subresource=info.subresource, dry_run=dry)
            )
        if method == "DELETE" and info.name:
            body = await request.json() if request.can_read_body else {}
            grace = q.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
            uid = (body.get("preconditions") or {}).get("uid", "")
            obj = reg.delete(
                info.kind,
                info.namespace or "",
                info.name,
                grace_period_s=None if grace is None else int(grace),
                uid=uid,
                dry_run=dry,
            )
            return web.json_response(obj)
        raise err_method_not_allowed(
            f"the server does not allow this method on the requested resource ({method})"
        )

    # --- watch -------------------------------------------------------------------------------
    async def _watch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        q = request.query
        keep = queries.make_filter(
            info.kind, info.namespace, q.get("labelSelector", ""), q.get("fieldSelector", "")
        )
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        timeout_s = float(q.get("timeoutSeconds", 0)) or None
        queue: asyncio.Queue[Event] = asyncio.Queue()
        store = self.registry.store
        unsubscribe = store.subscribe(queue.put_nowait)
        try:
            since = q.get("resourceVersion", "")
            if since in ("", "0"):
                backlog = [
                    Event("ADDED", o, store.rv)
                    for o in self.registry.list(info.kind, info.namespace)
                    if keep(o)
                ]
            else:
                backlog = store.events_since(int(since))
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await _stream(response, backlog, queue, keep, info, bookmarks, timeout_s)
            return response
        finally:
            unsubscribe()

    # --- lab extensions ------------------------------------------------------------------------
    async def _lab(self, request: web.Request, path: str) -> web.StreamResponse:
        reg = self.registry
        if path == "apply" and request.method == "POST":
            body = await request.json()
            results = reg.apply(body.get("items") or [], dry_run=bool(body.get("dryRun")))
            return web.json_response(
                {
                    "results": [{"action": a, "object": o} for a, o in results],
                    "resourceVersion": reg.store.rv,
                }
            )
        if path.startswith("agents/") and request.method == "DELETE":
            self.agents.forget(path[len("agents/") :])  # an agent that stops for good
            return web.json_response({"ok": True})
        if path.startswith("agents/") and request.method == "POST":
            body = await request.json()
            self.agents.report(
                path[len("agents/") :], int(body.get("resourceVersion", 0)), body.get("info") or {}
            )
            return web.json_response({"ok": True})
        if path == "agents":
            return web.json_response(
                {
                    "resourceVersion": reg.store.rv,
                    "items": sorted(self.agents.applied.values(), key=lambda a: a["name"]),
                }
            )
        if path == "converged":
            return web.json_response(await self._converged(request))
        raise ApiError(404, "NotFound", f"no lab endpoint {path}")

    async def _converged(self, request: web.Request) -> dict:
        """Wait until every agent has applied the store's newest version (or time runs out)."""
        timeout_s = float(request.query.get("timeoutSeconds", 10))
        need = [a for a in request.query.get("agents", "").split(",") if a]
        deadline = time.monotonic() + timeout_s
        while True:
            tick = self.agents._tick  # taken before checking, so no change is missed
            rv = self.registry.store.rv
            missing = [a for a in need if a not in self.agents.applied]
            behind = self.agents.behind(
                rv, lambda ns, name: self.registry.store.get("Pod", ns, name) is not None
            )
            if not behind and not missing:
                return {"converged": True, "resourceVersion": rv}
            left = deadline - time.monotonic()
            if left <= 0:
                return {
                    "converged": False,
                    "resourceVersion": rv,
                    "behind": behind,
                    "missing": missing,
                }
            try:
                await asyncio.wait_for(tick.wait(), left)
            except asyncio.TimeoutError:
                pass


async def _stream(response, backlog, queue, keep, info, bookmarks, timeout_s) -> None:
    """Write backlog then live events as JSON lines; BOOKMARK when idle after skipped events."""
    last_sent = 0
    pending_bookmark = 0
    deadline = time.monotonic() + timeout_s if timeout_s else None
    for event in backlog:
        if keep(event.obj):
            await _write(response, {"type": event.type, "object": event.obj})
        last_sent = max(last_sent, event.rv)
    if bookmarks and backlog:
        await _write(response, queries.bookmark(info.kind, max(e.rv for e in backlog)))
    while True:
        if pending_bookmark > last_sent and queue.empty():
            await _write(response, queries.bookmark(info.kind, pending_bookmark))
            last_sent = pending_bookmark
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        try:
            event = await asyncio.wait_for(queue.get(), left)
        except asyncio.TimeoutError:
            return
        if event.rv <= last_sent:
            continue
        etype = _event_type_for(event, keep)
        if etype:
            await _write(response, {"type": etype, "object": event.obj})
            last_sent = event.rv
        elif bookmarks:
            pending_bookmark = event.rv


def _event_type_for(event: Event, keep) -> str:
    """What a filtered watch sees: an object that stops matching is DELETED for it, one
    that starts matching is ADDED (as the API server's watch filtering does)."""
    now = keep(event.obj)
    if event.type != "MODIFIED":
        return event.type if now else ""
    before = event.prev is not None and keep(event.prev)
    if now:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else ""


async def _write(response: web.StreamResponse, payload: dict) -> None:
    await response.write(json.dumps(payload, separators=(",", ":")).encode() + b"\n")


def _discovery(path: str) -> dict:
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"]}
    groups = sorted({(k.group, k.version) for k in KINDS if k.group})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
            }
            for g, v in groups
        ],
    }


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
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    if os.path.exists(socket_path):
        os.unlink(socket_path)


def main(argv: list[str] | None = None) -> None:
    # jsonschema imports rfc3987_syntax for its "uri" format checker if it is installed
    # (Jupyter brings it); building its grammar costs 0.6 s at start-up, and Kubernetes'
    # schemas are checked without format assertions, so this process does without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    parser = argparse.ArgumentParser(
        prog="lab_kit.agents.apiserver", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--socket", required=True, help="Unix socket path to serve on")
    parser.add_argument("--tcp", help="also serve on HOST:PORT (for in-cluster clients)")
    parser.add_argument("--ready-fd", type=int, help="write 'ready' to this fd once serving")
    parser.add_argument(
        "--advertise-address", help="IP:port published as the kubernetes Service's endpoint"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(args.socket, args.tcp, args.ready_fd, args.advertise_address))


if __name__ == "__main__":
    main()
