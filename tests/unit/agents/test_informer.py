"""The informer lists again at once when the watch window moved on (410), and backs off on
virtual time between other failures (a 429 Too Many Requests, a restarting server)."""

from __future__ import annotations

import asyncio

from lab_kit.adapters.clock import FakeClock
from lab_kit.agents.informer import Informer
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name


class FlakyClient:
    """Fails the first lists as told, then lists one Service and watches forever."""

    def __init__(self, failures: list[ApiError]):
        self.failures, self.lists = failures, 0

    async def list(self, *args: object) -> dict:
        self.lists += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"metadata": {"resourceVersion": "7"}, "items": [
            {"kind": "Service", "metadata": {"name": "web", "namespace": "default",
                                             "resourceVersion": "7"}}]}  # fmt: skip

    async def watch(self, *args: object):
        await asyncio.Event().wait()
        yield {}  # pragma: no cover


def test_too_many_requests_backs_off_and_gone_relists_at_once():
    async def scenario() -> None:
        clock = FakeClock()
        client = FlakyClient(
            [ApiError(410, "Expired", "too old"), ApiError(429, "TooManyRequests", "x")]
        )
        informer = Informer(client, by_kind_name("Service"), lambda: None, clock=clock)  # type: ignore[arg-type]
        task = asyncio.create_task(informer.run())
        await clock.settle()
        assert client.lists == 2  # the 410 was retried at once; the 429 waits
        assert not informer.synced.is_set() and clock.sleepers == 1
        await clock.advance(0.05)
        assert client.lists == 3 and informer.synced.is_set() and informer.seen_rv == 7
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
