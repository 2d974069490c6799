"""A shared-informer in miniature: list, then watch from the list's resourceVersion, keep
a local cache, and tell the owner something changed.

Mirrors client-go's Reflector + Indexer: on a `410 Gone` (the watch window moved on) or a
dropped connection it lists again; BOOKMARK events advance `seen_rv` without touching the
cache, so an agent can say "I have applied everything up to version N" even when none of
N's changes were its kinds.

A watch can also break without ending: a frozen API server keeps the connection open and
says nothing. The server sends a BOOKMARK on every quiet watch now and then
(`lab_kit.adapters.api_serving`), so with `silence_s` set an informer that hears nothing
at all for that long gives the watch up and lists again, as client-go's HTTP/2 health
check drops a connection that stops answering its pings. A bookmark that brings no newer
version only proves the watch alive: it does not wake the agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lab_kit.adapters.apiclient import AsyncApiClient
from lab_kit.adapters.clock import Clock, SystemClock
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import Kind

log = logging.getLogger("informer")


class WatchSilent(Exception):
    """No event and no bookmark for `silence_s`: the watch is taken for broken."""


class Informer:
    def __init__(
        self,
        client: AsyncApiClient,
        kind: Kind,
        on_change: Callable[[], None],
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        clock: Clock | None = None,
        silence_s: float | None = None,
    ):
        self.client, self.kind, self.on_change = client, kind, on_change
        self.namespace, self.label_selector, self.field_selector = (
            namespace,
            label_selector,
            field_selector,
        )
        self.clock: Clock = clock or SystemClock()
        self.silence_s = silence_s
        self.cache: dict[tuple[str, str], dict] = {}
        self.seen_rv = 0
        self.synced = asyncio.Event()
        self.heard_at = 0.0  # clock.monotonic() of the watch's last line

    def items(self) -> list[dict]:
        return list(self.cache.values())

    async def run(self) -> None:
        backoff_s = 0.05
        while True:
            try:
                await self._list()
                await self._watch_until_silent()
                backoff_s = 0.05
                continue  # the watch ended normally (the server closed it): list again
            except ApiError as e:
                if e.code == 410:  # the window moved on: list again at once, as client-go
                    continue
                log.warning("%s watch: %s; retrying in %.2fs", self.kind.plural, e, backoff_s)
            except Exception as e:  # connection dropped, server restarting: list again
                log.warning(
                    "%s watch failed: %r; retrying in %.2fs", self.kind.plural, e, backoff_s
                )
            # Back off between retries (a 429 Too Many Requests, a restarting server), not a
            # wait for state: client-go's reflector backs off the same way.
            await self.clock.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, 2.0)

    async def _list(self) -> None:
        body = await self.client.list(
            self.kind, self.namespace, self.label_selector, self.field_selector
        )
        self.cache = {(meta.namespace(o), meta.name(o)): o for o in body["items"]}
        self.seen_rv = int(body["metadata"]["resourceVersion"])
        self.synced.set()
        self.on_change()

    async def _watch_until_silent(self) -> None:
        """The watch, given up (WatchSilent) once it has been silent for `silence_s`."""
        if self.silence_s is None:
            await self._watch()
            return
        self.heard_at = self.clock.monotonic()
        watch = asyncio.ensure_future(self._watch())
        try:
            while not watch.done():
                left = self.heard_at + self.silence_s - self.clock.monotonic()
                if left <= 0:
                    raise WatchSilent(f"no event or bookmark for {self.silence_s:.0f} s")
                timer = asyncio.ensure_future(self.clock.sleep(left))
                await asyncio.wait({watch, timer}, return_when=asyncio.FIRST_COMPLETED)
                timer.cancel()
            watch.result()  # its exception, if it ended with one
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)

    async def _watch(self) -> None:
        async for event in self.client.watch(
            self.kind, self.namespace, self.seen_rv, self.label_selector, self.field_selector
        ):
            self.heard_at = self.clock.monotonic()
            obj, etype = event["object"], event["type"]
            if etype == "ERROR":
                raise ApiError.from_status(obj)
            if etype == "BOOKMARK":
                if meta.resource_version(obj) > self.seen_rv:
                    self.seen_rv = meta.resource_version(obj)
                    self.on_change()
                continue
            key = (meta.namespace(obj), meta.name(obj))
            cached = self.cache.get(key)
            if cached is not None and meta.resource_version(cached) > meta.resource_version(obj):
                # Our own write already put a newer version here (see `remember_write`).
                self.seen_rv = max(self.seen_rv, meta.resource_version(obj))
                continue
            if etype == "DELETED":
                self.cache.pop(key, None)
            elif etype in ("ADDED", "MODIFIED"):
                self.cache[key] = obj
            self.seen_rv = max(self.seen_rv, meta.resource_version(obj))
            self.on_change()

    def remember_write(self, obj: dict, deleted: bool = False) -> None:
        """Put the API's answer to our own write into the cache at once (write-through).

        Without this a controller could act twice on the same state before the watch
        event of its first write arrives (client-go's controllers use "expectations")."""
        key = (meta.namespace(obj), meta.name(obj))
        if deleted:
            self.cache.pop(key, None)
            return
        cached = self.cache.get(key)
        if cached is None or meta.resource_version(cached) <= meta.resource_version(obj):
            self.cache[key] = obj
