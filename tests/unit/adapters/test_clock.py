"""Virtual time: sleepers wake in deadline order when the test advances the clock, and
`wait_event` tells an event from a timeout."""

from __future__ import annotations

import asyncio

from lab_kit.adapters.clock import FakeClock, SystemClock, wait_event


def test_sleepers_wake_in_deadline_order_only_when_time_passes():
    async def scenario():
        clock = FakeClock(start=100.0)
        woke: list[tuple[str, float]] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append((name, clock.monotonic()))

        tasks = [asyncio.create_task(sleeper("late", 5)), asyncio.create_task(sleeper("soon", 1))]
        await clock.settle()
        assert woke == [] and clock.sleepers == 2
        await clock.advance(0.5)
        assert woke == []
        await clock.advance(10)
        assert woke == [("soon", 1.0), ("late", 5.0)]
        assert clock.monotonic() == 10.5 and clock.time() == 110.5
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


def test_wait_event_returns_true_for_the_event_and_false_for_the_timeout():
    async def scenario():
        clock = FakeClock()
        event = asyncio.Event()
        waiting = asyncio.create_task(wait_event(event, 30, clock))
        await clock.advance(29)
        assert not waiting.done()
        event.set()
        await clock.settle()
        assert waiting.result() is True
        assert clock.sleepers == 0  # the timer was cancelled
        event.clear()
        timing_out = asyncio.create_task(wait_event(event, 30, clock))
        await clock.advance(30)
        assert timing_out.result() is False

    asyncio.run(scenario())


def test_the_system_clock_is_the_real_one():
    async def scenario():
        clock = SystemClock()
        event = asyncio.Event()
        event.set()
        assert await wait_event(event, 0.01, clock)
        assert abs(clock.time() - __import__("time").time()) < 1

    asyncio.run(scenario())
