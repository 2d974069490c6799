"""Hostile input in bounded memory and time, checked by what the code does — refusing
before it expands, reading no more than the limit, keeping bounded queues and history —
and measured with tracemalloc where memory is the point; never by wall-clock time."""

from __future__ import annotations

import asyncio
import io
import logging
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from manifest_cases import CM, laughs, nested_flow

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.api_serving import WatchFeed
from lab_kit.adapters.clock import FakeClock
from lab_kit.agents.informer import Informer
from lab_kit.api.handler import ApiHandler, WatchStream
from lab_kit.api.registry import Registry
from lab_kit.lab import objects
from lab_kit.model import constants as C
from lab_kit.model import manifests
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.manifests import ManifestError, parse_manifests

MB = 1024 * 1024


def peak_bytes(action: Callable[[], Any]) -> int:
    """The most memory `action` held at once (its exception, if any, swallowed)."""
    tracemalloc.start()
    try:
        action()
    except (ManifestError, ApiError):
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def refusal(text: str) -> str:
    with pytest.raises(ManifestError) as e:
        parse_manifests(text, "x.yaml")
    return str(e.value)


# --- manifests ---------------------------------------------------------------------------


def test_a_1kb_yaml_bomb_is_refused_before_it_expands():
    bomb = laughs(9, 9)  # 9**9 = 387 million "lol"s
    assert len(bomb) < 1024
    assert refusal(bomb).endswith("yaml: document contains excessive aliasing")
    assert peak_bytes(lambda: parse_manifests(bomb, "bomb.yaml")) < 1 * MB


def test_the_alias_rule_is_go_yamls():
    """go-yaml's own expectation (decode.go allowedAliasRatio): 3 levels of 10 aliases
    decode, 4 levels are "excessive aliasing"."""
    assert parse_manifests(laughs(3, 10), "ok.yaml")[0].obj["data"]["a3"][0][0][0] == "lol"
    assert refusal(laughs(4, 10)).endswith("document contains excessive aliasing")
    assert manifests.allowed_alias_ratio(1000) == 0.99
    assert manifests.allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    assert manifests.allowed_alias_ratio(5_000_000) == 0.10


def test_an_alias_costs_what_its_copy_will_cost():
    """Characters count too: five aliases of a 1 MB string would be 5 MB of JSON."""
    text = CM.format(name="a") + "data:\n  a: &a '" + "x" * MB + "'\n  b: [*a, *a, *a]\n"
    assert refusal(text).endswith("document contains excessive aliasing")


def test_depth_is_refused_at_the_limit_not_by_recursion():
    depth = C.MAX_NESTING_DEPTH - 1  # the ConfigMap itself is one level
    assert parse_manifests(nested_flow(depth).replace("data: ", "x: "), "ok.yaml")
    assert refusal(nested_flow(depth + 1)).endswith("exceeded max depth of 100")
    assert peak_bytes(lambda: parse_manifests(nested_flow(100_000), "deep.yaml")) < 2 * MB


def test_values_are_counted_and_the_next_one_refused(monkeypatch):
    monkeypatch.setattr(C, "MAX_MANIFEST_NODES", 1000)
    head = CM.format(name="a") + "data: ["  # 11 values before the list's items
    assert parse_manifests(head + ",".join(["x"] * (1000 - 11)) + "]\n", "ok.yaml")
    error = refusal(head + ",".join(["x"] * (1000 - 10)) + "]\n")
    assert error.endswith("too many values (more than 1000 in one file)")
    assert "(line 5, column 1986;" in error  # at the 1001st value, not at the list's end


def test_a_huge_file_is_refused_having_read_only_the_limit(tmp_path):
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(1 << 30)  # 1 GiB (sparse)
    peak = peak_bytes(lambda: objects.read_documents(str(huge)))
    with pytest.raises(ManifestError, match="more than 3145728 bytes"):
        objects.read_documents(str(huge))
    assert peak < C.MAX_MANIFEST_BYTES + 1 * MB


def test_endless_stdin_is_read_up_to_the_limit(monkeypatch):
    class Endless(io.RawIOBase):
        asked: list[int] = []

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            assert size > 0, "stdin must never be read to its end"
            self.asked.append(size)
            return b"#" * size

    stdin = io.TextIOWrapper(Endless())  # type: ignore[arg-type]
    monkeypatch.setattr("sys.stdin", stdin)
    with pytest.raises(ManifestError, match='error reading "STDIN": more than 3145728 bytes'):
        objects.read_documents("-")


# --- the store's watch window ----------------------------------------------------------------


def configmap(version: int, size: int) -> dict:
    body = f"{version:06d}" + "x" * size
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {"blob": body},
    }


def test_churn_of_a_big_object_keeps_a_bounded_window():
    """The issue's case: 300 updates of a 600 kB ConfigMap kept ~360 MB of old versions."""
    registry = Registry()
    registry.bootstrap()
    first = registry.create(configmap(0, 600_000))  # `replace`, as `apply` would annotate
    tracemalloc.start()  # it with 600 kB of last-applied: "Too long" (as kubectl's)
    for version in range(1, 300):
        registry.update(configmap(version, 600_000))
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store = registry.store
    assert store.history_size <= C.WATCH_HISTORY_BYTES
    assert held < C.WATCH_HISTORY_BYTES + 8 * MB  # about the window, not 300 versions
    with pytest.raises(ApiError) as gone:
        store.events_since(int(first["metadata"]["resourceVersion"]))
    assert gone.value.code == 410 and "too old resource version" in gone.value.message
    recent = store.events_since(store.rv - 3)
    assert [e.type for e in recent] == ["MODIFIED"] * 3


def test_the_window_keeps_the_newest_event_even_when_it_alone_is_too_big():
    from lab_kit.store.store import Store

    store = Store(history_bytes=1000)
    store.put(configmap(1, 5000))
    store.put(configmap(2, 5000))
    assert [e.rv for e in store.events_since(1)] == [2]


# --- a watch's queue ----------------------------------------------------------------------------


def watch_all(handler: ApiHandler) -> WatchStream:
    from lab_kit.api.paths import parse_path

    return handler.watch(
        parse_path("/api/v1/configmaps"), {"resourceVersion": str(handler.registry.store.rv)}
    )


def test_a_watcher_that_falls_behind_is_closed_and_forgets_its_queue():
    async def scenario() -> None:
        api = InProcessApi()
        feed = WatchFeed(api.handler, watch_all(api.handler), max_events=5)
        subscribers = len(api.registry.store._subscribers)
        for i in range(20):  # nobody reads: the client stopped
            api.registry.create({**configmap(i, 10), "metadata": {"name": f"c{i}"}})
        assert feed.overflowed and len(feed.queue) == 0 and feed.queued_bytes == 0
        assert len(api.registry.store._subscribers) == subscribers - 1  # no longer fed
        assert [line async for line in feed.lines()] == []  # the stream ends

    asyncio.run(scenario())


def test_a_watch_queue_is_bounded_by_bytes_too():
    async def scenario() -> None:
        api = InProcessApi()
        feed = WatchFeed(api.handler, watch_all(api.handler), max_bytes=100_000)
        api.registry.create({**configmap(1, 60_000), "metadata": {"name": "a"}})
        assert not feed.overflowed and feed.queued_bytes > 60_000
        api.registry.create({**configmap(2, 60_000), "metadata": {"name": "b"}})
        assert feed.overflowed

    asyncio.run(scenario())


def test_the_informer_lists_again_when_its_watch_is_closed(monkeypatch):
    """kube-apiserver closes an unresponsive watcher; client-go's Reflector (our
    Informer) lists again and its cache is whole."""
    monkeypatch.setattr("lab_kit.adapters.api_serving.WATCH_QUEUE_EVENTS", 10)

    async def scenario() -> None:
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        lists = 0
        informer = Informer(
            api.async_client(), by_kind_name("ConfigMap"), lambda: None, clock=clock
        )
        real_list = informer._list

        async def counted_list() -> None:
            nonlocal lists
            lists += 1
            await real_list()

        informer._list = counted_list  # type: ignore[method-assign]
        task = asyncio.create_task(informer.run())
        await clock.settle()
        for i in range(50):  # one burst, no await: the watch cannot keep up
            api.registry.create({**configmap(i, 10), "metadata": {"name": f"c{i}"}})
        await clock.settle()
        task.cancel()
        assert lists == 2
        made = [o for o in informer.items() if o["metadata"]["name"] != "kube-root-ca.crt"]
        assert len(made) == 50 and informer.seen_rv == api.registry.store.rv

    asyncio.run(scenario())


# --- logs --------------------------------------------------------------------------------------


def record(text: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("asyncio", level, __file__, 1, text, None, None)


def test_a_line_repeated_is_logged_a_few_times_then_counted():
    from lab_kit.agents.logs import RepeatFilter

    now = [0.0]
    repeats = RepeatFilter(clock=lambda: now[0], burst=5, window_s=60)
    accept = "socket.accept() out of system resource"
    passed = [r.getMessage() for r in map(record, [accept] * 10_000) if repeats.filter(r)]
    assert passed == [accept] * 5 + [f"{accept} (repeated: dropping repeats for 60 s)"]
    assert repeats.filter(record("another line"))
    now[0] = 60.0
    later = record(accept)
    assert repeats.filter(later)
    assert later.getMessage() == f"{accept} (and 9995 more like it, not logged)"


def test_an_agents_log_stops_at_its_cap():
    from lab_kit.agents.logs import CappedStreamHandler

    out = io.StringIO()
    handler = CappedStreamHandler(out, max_bytes=1000)
    for i in range(1000):
        handler.emit(record(f"line {i} " + "x" * 50))
    text = out.getvalue()
    assert len(text.encode()) <= 1000
    assert text.endswith("log stopped at 1000 bytes: later lines are dropped\n")


def test_setup_logging_installs_the_filter_and_the_cap(monkeypatch):
    from lab_kit.agents.logs import CappedStreamHandler, RepeatFilter
    from lab_kit.agents.runner import setup_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    setup_logging("apiserver")
    (handler,) = root.handlers
    assert isinstance(handler, CappedStreamHandler) and handler.max_bytes == 10 * MB
    assert any(isinstance(f, RepeatFilter) for f in handler.filters)
