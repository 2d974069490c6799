"""The activator's buffer on a virtual clock: requests held while a Revision has no pod,
released when one is ready, containerConcurrency per pod, round robin, the timeout."""

from __future__ import annotations

import asyncio

import pytest

from lab_kit.adapters.clock import FakeClock
from lab_kit.agents.knative_buffer import Buffer, TimedOut

KEY = "default/hello-00001"


async def request(buffer: Buffer, log: list, name: str, hold_s: float, clock: FakeClock) -> None:
    try:
        async with buffer.slot(KEY) as pod:
            log.append((clock.monotonic(), name, pod))
            await clock.sleep(hold_s)
    except TimedOut as e:
        log.append((clock.monotonic(), name, str(e)))


def test_requests_at_zero_wait_for_the_first_pod_then_all_go_through():
    async def go():
        clock = FakeClock()
        buffer, log = Buffer(clock), []
        buffer.update(KEY, [], 0, 300)
        tasks = [asyncio.create_task(request(buffer, log, f"r{i}", 0.1, clock)) for i in range(10)]
        await clock.advance(2.5)  # the cold start
        assert log == [] and buffer.waiting(KEY) == 10
        buffer.update(KEY, ["10.244.1.5"], 0, 300)
        await clock.advance(1)
        await asyncio.gather(*tasks)
        return log

    log = asyncio.run(go())
    assert len(log) == 10 and all(t == 2.5 and pod == "10.244.1.5" for t, _, pod in log)


def test_container_concurrency_one_sends_one_request_per_pod_at_a_time():
    async def go():
        clock = FakeClock()
        buffer, log = Buffer(clock), []
        buffer.update(KEY, ["10.244.1.5", "10.244.2.7"], 1, 300)
        tasks = [asyncio.create_task(request(buffer, log, f"r{i}", 1.0, clock)) for i in range(4)]
        await clock.advance(3)
        await asyncio.gather(*tasks)
        return log

    log = asyncio.run(go())
    assert [(t, pod) for t, _, pod in log] == [
        (0, "10.244.1.5"), (0, "10.244.2.7"), (1, "10.244.1.5"), (1, "10.244.2.7")]  # fmt: skip


def test_round_robin_over_pods_without_a_limit():
    async def go():
        clock = FakeClock()
        buffer, log = Buffer(clock), []
        buffer.update(KEY, ["a", "b", "c"], 0, 300)
        for i in range(6):
            await request(buffer, log, f"r{i}", 0, clock)
        return [pod for _, _, pod in log]

    assert asyncio.run(go()) == ["a", "b", "c", "a", "b", "c"]


def test_a_request_no_pod_takes_times_out_with_the_revision_timeout():
    async def go():
        clock = FakeClock()
        buffer, log = Buffer(clock), []
        buffer.update(KEY, [], 0, 10)
        task = asyncio.create_task(request(buffer, log, "late", 0, clock))
        await clock.advance(11)
        await task
        return log

    ((t, _, message),) = asyncio.run(go())
    assert (
        t == pytest.approx(10)
        and message == "activator: no pod of default/hello-00001 ready within 10 s"
    )
