"""The waiting half of the API server, shared by its two front ends.

`lab_kit.api.handler` decides everything a request means; two requests then need time:
a watch streams events as writes happen, and `/lab/v1/converged` waits until every agent
has caught up. These two loops drive the handler's plans (`WatchStream`,
`ConvergedWait`) for the aiohttp server (`lab_kit/agents/apiserver.py`) and for the
in-process server tests use (`lab_kit/adapters/api_inprocess.py`), so both behave alike.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from lab_kit.api.handler import ApiHandler, ConvergedWait, WatchStream
from lab_kit.store.store import Event


def encode(payload: dict) -> bytes:
    """One watch event on the wire: a JSON object per line, as client-go's decoder reads."""
    return json.dumps(payload, separators=(",", ":")).encode() + b"\n"


class WatchFeed:
    """One watch being served: subscribed to the store from the moment it is made (so no
    write between the handler's backlog and the first line is lost), unsubscribed by
    `close()`. `lines()` yields the backlog, then live events until `timeoutSeconds`
    (forever without one) or until the consumer stops iterating."""

    def __init__(self, handler: ApiHandler, watch: WatchStream):
        self.watch = watch
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._unsubscribe = handler.registry.store.subscribe(self.queue.put_nowait)

    def close(self) -> None:
        self._unsubscribe()
        self._unsubscribe = lambda: None

    def __enter__(self) -> WatchFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def lines(self) -> AsyncIterator[bytes]:
        watch, queue = self.watch, self.queue
        deadline = time.monotonic() + watch.timeout_s if watch.timeout_s else None
        for payload in watch.start():
            yield encode(payload)
        while True:
            if queue.empty():
                for payload in watch.idle():
                    yield encode(payload)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            try:
                event = await asyncio.wait_for(queue.get(), left)
            except asyncio.TimeoutError:
                return
            for payload in watch.offer(event):
                yield encode(payload)


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
