"""The activator's buffer: requests wait here until their Revision has a pod with room.

Mirrors knative/serving `pkg/activator/net/throttler.go` as far as a learner sees it: per
Revision the ready pods (from its private endpoints), each taking at most
`containerConcurrency` requests (0: unlimited); a request takes a free slot on the next pod
round robin, or waits until one frees or a pod appears, or until the Revision's timeout.

    buffer.update("default/hello-00001", ["10.244.1.5"], cc=1, timeout_s=300)
    async with buffer.slot("default/hello-00001") as pod:    # waits while there is none
        forward(request, pod, 8012)

Time comes from a `Clock` (lab_kit/adapters/clock.py), so the unit tests drive it on a
virtual one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from lab_kit.adapters.clock import Clock, wait_event


class TimedOut(Exception):
    """No pod had room for the request within the Revision's timeout."""


@dataclass
class _Revision:
    pods: list[str] = field(default_factory=list)
    capacity: int = 0  # per pod; 0 = unlimited
    timeout_s: float = 300.0
    busy: dict[str, int] = field(default_factory=dict)
    next: int = 0
    waiting: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # replaced at each change


class Buffer:
    def __init__(self, clock: Clock):
        self.clock = clock
        self.revisions: dict[str, _Revision] = {}

    def _rev(self, key: str) -> _Revision:
        return self.revisions.setdefault(key, _Revision())

    def update(self, key: str, pods: list[str], cc: int, timeout_s: float) -> None:
        """The Revision's ready pods (the same or not): wake whoever waits for one."""
        rev = self._rev(key)
        rev.pods, rev.capacity, rev.timeout_s = list(pods), cc, timeout_s
        rev.busy = {p: rev.busy.get(p, 0) for p in pods}
        self._notify(rev)

    @staticmethod
    def _notify(rev: _Revision) -> None:
        rev.changed.set()
        rev.changed = asyncio.Event()

    def timeout(self, key: str) -> float:
        return self._rev(key).timeout_s

    def waiting(self, key: str) -> int:
        return self._rev(key).waiting

    def has_capacity(self, key: str) -> bool:
        rev = self._rev(key)
        return any(rev.capacity == 0 or rev.busy.get(p, 0) < rev.capacity for p in rev.pods)

    def _take(self, rev: _Revision) -> str | None:
        for i in range(len(rev.pods)):
            pod = rev.pods[(rev.next + i) % len(rev.pods)]
            if rev.capacity == 0 or rev.busy.get(pod, 0) < rev.capacity:
                rev.next = (rev.next + i + 1) % len(rev.pods)
                rev.busy[pod] = rev.busy.get(pod, 0) + 1
                return pod
        return None

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[str]:
        """A pod of `key` with room (held for the `with` block), waiting as long as it takes."""
        rev = self._rev(key)
        deadline = self.clock.monotonic() + rev.timeout_s
        rev.waiting += 1
        try:
            while (pod := self._take(rev)) is None:
                left = deadline - self.clock.monotonic()
                if left <= 0:
                    raise TimedOut(f"activator: no pod of {key} ready within {rev.timeout_s:g} s")
                await wait_event(rev.changed, left, self.clock)
        finally:
            rev.waiting -= 1
        try:
            yield pod
        finally:
            if pod in rev.busy:
                rev.busy[pod] -= 1
            self._notify(rev)
