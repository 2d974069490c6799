"""Time, as a seam: agents ask a `Clock` instead of `time` and `asyncio.sleep`, so tests
can run them on virtual time (`FakeClock`) — a 30 s resync or a 10 s probe period passes
in no time at all, and nothing in a test sleeps.

    clock.time()        wall-clock seconds (timestamps written into objects)
    clock.monotonic()   seconds for durations and deadlines
    await clock.sleep(s)
    await wait_event(event, timeout_s, clock)   True if the event was set in time
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real one."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """Virtual time (the 500 Lines cluster's `FakeNetwork.tick`): `sleep` returns only when
    the test calls `advance` past its deadline. `settle()` lets every task that can run,
    run; `advance(s)` moves time forward, waking sleepers in deadline order."""

    def __init__(self, start: float = 1_700_000_000.0):
        self._wall0 = start
        self._now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._wall0 + self._now

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._now + seconds, next(self._seq), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for time to pass."""
        return sum(1 for _, _, f in self._timers if not f.done())

    async def settle(self, rounds: int = 200) -> None:
        """Run the event loop until nothing is ready to run (bounded: `rounds` passes)."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, waking each sleeper at its own deadline and
        letting the woken tasks run before the next one wakes."""
        target = self._now + seconds
        await self.settle()
        while self._timers and self._timers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._timers)
            if future.done():  # cancelled (a wait_event whose event came first)
                continue
            self._now = max(self._now, deadline)
            future.set_result(None)
            await self.settle()
        self._now = target
        await self.settle()


async def wait_event(event: asyncio.Event, timeout_s: float | None, clock: Clock) -> bool:
    """Wait until `event` is set (True) or `timeout_s` passes on `clock` (False)."""
    if event.is_set():
        return True
    if timeout_s is None:
        await event.wait()
        return True
    waiter = asyncio.ensure_future(event.wait())
    timer = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, timer):
            task.cancel()
    return event.is_set()
