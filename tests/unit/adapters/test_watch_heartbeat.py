"""A quiet watch that asked for bookmarks gets one every WATCH_BOOKMARK_PERIOD_S, at the
store's version (nothing it should have seen is skipped); one that did not ask gets none.
The period is shortened here to a few milliseconds of real time (the server's loop, shared
with the real server, runs on the event loop's clock)."""

from __future__ import annotations

import asyncio

import pytest

from lab_kit.adapters import api_serving
from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.model.kinds import by_kind_name


@pytest.fixture(autouse=True)
def short_period(monkeypatch):
    monkeypatch.setattr(api_serving, "WATCH_BOOKMARK_PERIOD_S", 0.005)


def test_a_quiet_watch_gets_bookmarks_at_the_stores_version():
    async def scenario() -> None:
        api = InProcessApi()
        client = api.async_client()
        api.registry.create({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "other", "namespace": "default"}})  # fmt: skip
        rv = api.registry.store.rv
        events = client.watch(by_kind_name("Service"), "kube-system", rv=rv)
        first = await asyncio.wait_for(events.__anext__(), 5)
        second = await asyncio.wait_for(events.__anext__(), 5)
        assert [first["type"], second["type"]] == ["BOOKMARK", "BOOKMARK"]
        assert first["object"]["metadata"]["resourceVersion"] == str(rv)
        api.registry.create({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "later", "namespace": "default"}})  # fmt: skip
        later = await asyncio.wait_for(events.__anext__(), 5)
        assert later["type"] == "BOOKMARK"
        assert int(later["object"]["metadata"]["resourceVersion"]) == rv + 1
        await events.aclose()
        await client.close()

    asyncio.run(scenario())


def test_a_watch_without_bookmarks_hears_nothing_while_quiet():
    async def scenario() -> None:
        api = InProcessApi()
        kind = by_kind_name("Service")
        answer = api.handler.handle("GET", kind.collection_path("kube-system"),
                                    {"watch": "1", "resourceVersion": str(api.registry.store.rv)},
                                    b"")  # fmt: skip
        feed = api_serving.WatchFeed(api.handler, answer)  # type: ignore[arg-type]
        lines = feed.lines()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lines.__anext__(), 0.05)
        feed.close()

    asyncio.run(scenario())
