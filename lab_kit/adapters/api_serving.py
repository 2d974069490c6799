"""The waiting half of the API server, shared by its two front ends.

`lab_kit.api.handler` decides everything a request means; two requests then need time:
a watch streams events as writes happen, and `/lab/v1/converged` waits until every agent
has caught up. These two loops drive the handler's plans (`WatchStream`,
`ConvergedWait`) for the aiohttp server (`lab_kit/agents/apiserver.py`) and for the
in-process server tests use (`lab_kit/adapters/api_inprocess.py`), so both behave alike.

A watch's queue of events not yet written is bounded (WATCH_QUEUE_EVENTS and
WATCH_QUEUE_BYTES): a watcher that falls that far behind — its client stopped reading —
is closed, as kube-apiserver's cacher closes an unresponsive watcher, and its client
lists again (client-go's Reflector does; so does `lab_kit.agents.informer`).

A watch that asked for bookmarks gets one after every WATCH_BOOKMARK_PERIOD_S without
an event, as kube-apiserver's cacher sends them periodically: the client learns the
version, and learns that the watch is alive — an informer that hears nothing at all for
longer takes the server for frozen and lists again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator

from lab_kit.api import queries
from lab_kit.api.handler import ApiHandler, ConvergedWait, WatchStream
from lab_kit.model.constants import WATCH_QUEUE_BYTES, WATCH_QUEUE_EVENTS
from lab_kit.store.store import Event

log = logging.getLogger("apiserver")
WATCH_BOOKMARK_PERIOD_S = 15.0  # a bookmark on a watch quiet this long (informers: 45 s)


def encode(payload: dict) -> bytes:
    """One watch event on the wire: a JSON object per line, as client-go's decoder reads."""
    return json.dumps(payload, separators=(",", ":")).encode() + b"\n"


class WatchFeed:
    """One watch being served: subscribed to the store from the moment it is made (so no
    write between the handler's backlog and the first line is lost), unsubscribed by
    `close()`. `lines()` yields the backlog, then live events until `timeoutSeconds`
    (forever without one), until the consumer stops iterating, or until the queue
    overflows (`overflowed`: the watch ends, the client lists again)."""

    def __init__(
        self,
        handler: ApiHandler,
        watch: WatchStream,
        max_events: int | None = None,
        max_bytes: int | None = None,
    ):
        self.watch = watch
        self.store = handler.registry.store
        self.max_events = WATCH_QUEUE_EVENTS if max_events is None else max_events
        self.max_bytes = WATCH_QUEUE_BYTES if max_bytes is None else max_bytes
        self.queue: deque[Event] = deque()
        self.queued_bytes = 0
        self.overflowed = False
        self._ready = asyncio.Event()
        self._unsubscribe = handler.registry.store.subscribe(self._offer)

    def _offer(self, event: Event) -> None:
        """The store's callback (synchronous): queue the event, or give up on a watcher
        that is too far behind (forget its queue at once: that is the memory to free)."""
        if len(self.queue) >= self.max_events or self.queued_bytes + event.size > self.max_bytes:
            if not self.overflowed:
                log.warning("closing a watch that fell %d events behind", len(self.queue))
            self.overflowed = True
            self.queue.clear()
            self.queued_bytes = 0
            self.close()
        else:
            self.queue.append(event)
            self.queued_bytes += event.size
        self._ready.set()

    def close(self) -> None:
        self._unsubscribe()
        self._unsubscribe = lambda: None

    def __enter__(self) -> WatchFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _next(self, left: float | None) -> Event | None:
        """The next queued event, waiting up to `left` seconds (None: timed out or over)."""
        while not self.queue and not self.overflowed:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), left)
            except asyncio.TimeoutError:
                return None
        if self.overflowed:
            return None
        event = self.queue.popleft()
        self.queued_bytes -= event.size
        return event

    async def lines(self) -> AsyncIterator[bytes]:
        watch = self.watch
        deadline = time.monotonic() + watch.timeout_s if watch.timeout_s else None
        for payload in watch.start():
            yield encode(payload)
        while not self.overflowed:
            if not self.queue:
                for payload in watch.idle():
                    yield encode(payload)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            wait = self._quiet_limit(left)
            event = await self._next(wait)
            if event is not None:
                for payload in watch.offer(event):
                    yield encode(payload)
            elif wait == left or self.overflowed:
                return  # timeoutSeconds reached, or the watcher fell too far behind
            else:
                yield encode(self.heartbeat())

    def _quiet_limit(self, left: float | None) -> float | None:
        """How long to wait for an event: until the deadline, or the next bookmark."""
        if not self.watch.bookmarks:
            return left
        return WATCH_BOOKMARK_PERIOD_S if left is None else min(left, WATCH_BOOKMARK_PERIOD_S)

    def heartbeat(self) -> dict:
        """A bookmark at the store's version: with nothing queued, this watch has been
        offered every event up to it."""
        version = max(self.watch.last_sent, self.store.rv)
        self.watch.last_sent = version
        return queries.bookmark(self.watch.kind, version)


async def converged(handler: ApiHandler, wait: ConvergedWait) -> dict:
    """Re-check convergence after every write or report until it holds or time runs out."""
    changed = asyncio.Event()
    unsubscribe = handler.subscribe(changed.set)
    deadline = time.monotonic() + wait.timeout_s
    try:
        while True:
            changed.clear()  # cleared before checking, so no change is missed
            answer = handler.convergence(wait.agents)
            left = deadline - time.monotonic()
            if answer["converged"] or left <= 0:
                return answer
            try:
                await asyncio.wait_for(changed.wait(), left)
            except asyncio.TimeoutError:
                pass
    finally:
        unsubscribe()
