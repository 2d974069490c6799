"""Knative's queue-proxy in front of the autoscale sample app, in one event loop: readiness
through the user container, forwarding, the containerConcurrency breaker, and the
concurrency the autoscaler scrapes."""

from __future__ import annotations

import asyncio

import pytest
from workload_procs import free_port

from lab_kit.workloads import _http, helloworld, queue_proxy


def request(target: str, headers: dict[str, str] | None = None) -> _http.Request:
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    return _http.Request("GET", target, "HTTP/1.1", headers, b"", ("10.244.1.7", 40000),
                         [(k, v) for k, v in headers.items()])  # fmt: skip


async def app(port: int) -> _http.Server:
    server = _http.Server(helloworld.handler("autoscale"))
    await server.listen(port, "127.0.0.1")
    return server


def test_probe_answers_for_the_user_container():
    async def go():
        port = free_port()
        stats, breaker = queue_proxy.Stats(0), queue_proxy.Breaker(0)
        handle = queue_proxy.make_handler(stats, breaker, port, {"tcpSocket": {"port": port}}, 5)
        probe = request("/", {"K-Network-Probe": "queue"})
        before = await handle(probe)
        server = await app(port)
        after = await handle(probe)
        await server.shutdown(1)
        return before, after

    before, after = asyncio.run(go())
    assert (before.status, after.status, after.body) == (503, 200, b"queue")


def test_forwards_and_holds_at_most_container_concurrency_at_the_app():
    async def go():
        port = free_port()
        server = await app(port)
        stats, breaker = queue_proxy.Stats(0), queue_proxy.Breaker(1)
        handle = queue_proxy.make_handler(stats, breaker, port, {}, 5)
        seen = []

        async def watch():
            while True:
                seen.append((stats.in_flight, breaker.waiting))
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        answers = await asyncio.gather(*(handle(request("/?sleep=100")) for _ in range(3)))
        elapsed = loop.time() - t0
        watcher.cancel()
        await server.shutdown(1)
        return answers, elapsed, seen

    answers, elapsed, seen = asyncio.run(go())
    assert [a.body for a in answers] == [b"Slept for 100 milliseconds.\n"] * 3
    assert elapsed >= 0.3  # one at a time: containerConcurrency 1
    assert max(w for _, w in seen) == 2  # the other two waited in the breaker's queue


def test_a_full_queue_is_refused_with_503():
    breaker = queue_proxy.Breaker(1)

    async def go():
        port = free_port()
        server = await app(port)
        handle = queue_proxy.make_handler(queue_proxy.Stats(0), breaker, port, {}, 5)
        tasks = [asyncio.create_task(handle(request("/?sleep=300"))) for _ in range(11)]
        await asyncio.sleep(0.1)  # 1 at the app, 10 (= 10 x 1) queued
        refused = await handle(request("/"))
        await asyncio.gather(*tasks)
        await server.shutdown(1)
        return refused

    refused = asyncio.run(go())
    assert (refused.status, refused.body) == (503, b"pending request queue full\n")


def test_average_concurrency_since_the_last_scrape():
    stats = queue_proxy.Stats(0.0)
    stats.started(0.0)
    stats.started(1.0)
    stats.finished(2.0)  # 1 in flight for 1 s, 2 for 1 s, then 1 for 2 s
    first = stats.scrape(4.0)
    assert first["queue_average_concurrent_requests"] == pytest.approx(5 / 4)
    assert first["queue_requests_per_second"] == pytest.approx(2 / 4)
    assert stats.scrape(6.0)["queue_average_concurrent_requests"] == pytest.approx(1.0)


def test_helloworld_greets_its_target(monkeypatch):
    monkeypatch.setenv("TARGET", "Knative")
    answer = asyncio.run(helloworld.handler("hello")(request("/")))
    assert answer.body == b"Hello Knative!\n"
