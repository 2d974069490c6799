"""The API server's own bounds, on the real aiohttp server over a Unix socket: requests in
flight and watches capped (429 with Retry-After), connections capped (the longest-idle one
makes room), half-sent requests and idle connections timed out (on a fake clock), a body
that never arrives (504), slow and stuck watchers closed, the open-files limit raised."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from raw_http import blocking_exchange, exchange, read_answer, request, serving

from lab_kit.adapters.clock import FakeClock
from lab_kit.agents import apiserver
from lab_kit.api.limits import ConnectionTable, Inflight, Limits, go_duration

CMS = "/api/v1/namespaces/default/configmaps"
READY = b"GET /readyz HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"


async def until(condition: Callable[[], bool], rounds: int = 5000) -> None:
    """Let the loop run (socket I/O included) until `condition` holds: yields, no sleeps."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def connect(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(path)


def cm(name: str, size: int = 10) -> dict:
    meta = {"name": name, "namespace": "default"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "x" * size}}


# --- in flight --------------------------------------------------------------------------------


def test_mutating_requests_past_their_cap_get_429_and_reads_still_pass():
    async def scenario() -> None:
        async with serving(Limits(max_mutating=2)) as (server, path):
            stuck = []
            for _ in range(2):  # two POSTs whose bodies never finish: in flight
                reader, writer = await connect(path)
                writer.write(
                    f"POST {CMS} HTTP/1.1\r\nHost: lab\r\nContent-Length: 100\r\n\r\n{{".encode()
                )
                stuck.append(writer)
            await until(lambda: server.inflight.mutating == 2)
            refused = await exchange(path, request("POST", CMS, cm("third")))
            assert (refused.status, refused.headers["retry-after"]) == (429, "1")
            assert refused.json()["reason"] == "TooManyRequests"
            assert refused.json()["message"] == "Too many requests, please try again later."
            assert refused.json()["details"] == {"retryAfterSeconds": 1}
            assert (await exchange(path, READY)).status == 200  # non-mutating: its own cap
            for writer in stuck:
                writer.close()
            await until(lambda: server.inflight.mutating == 0)
            assert (await exchange(path, request("POST", CMS, cm("now")))).status == 201

    asyncio.run(scenario())


def test_watches_past_their_cap_get_429():
    async def scenario() -> None:
        async with serving(Limits(max_watches=2)) as (server, path):
            watchers = []
            for _ in range(2):
                reader, writer = await connect(path)
                writer.write(request("GET", f"{CMS}?watch=1"))
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
                watchers.append(writer)
            refused = await exchange(path, request("GET", f"{CMS}?watch=true"))
            assert refused.status == 429 and refused.json()["code"] == 429
            assert (await exchange(path, request("GET", CMS))).status == 200  # a list is no watch
            for writer in watchers:
                writer.close()
            await until(lambda: server.inflight.watches == 0)

    asyncio.run(scenario())


# --- connections -----------------------------------------------------------------------------


def test_idle_connections_make_room_for_a_new_one():
    async def scenario() -> None:
        async with serving(Limits(max_connections=8)) as (server, path):
            idle = [await connect(path) for _ in range(12)]  # they never send a byte
            await until(lambda: len(server.connections) == 8)
            answer = await exchange(path, READY)
            assert (answer.status, answer.body) == (200, b"ok")
            assert len(server.connections) <= 8
            # the longest idle were closed to make room: 4 for the 12, 1 for the request
            await until(lambda: sum(reader.at_eof() for reader, _ in idle) == 5)
            for _, writer in idle:
                writer.close()

    asyncio.run(scenario())


def test_with_every_connection_busy_a_new_one_is_refused_with_a_status():
    async def scenario() -> None:
        async with serving(Limits(max_connections=3)) as (server, path):
            for _ in range(3):  # watches keep their connections busy
                reader, writer = await connect(path)
                writer.write(request("GET", f"{CMS}?watch=1"))
                await reader.readuntil(b"\r\n\r\n")
            refused = await exchange(path, READY)
            assert refused.status == 429 and refused.json()["reason"] == "TooManyRequests"
            assert len(server.connections) == 3

    asyncio.run(scenario())


def test_a_half_sent_request_times_out_at_the_read_header_timeout():
    async def scenario() -> None:
        clock = FakeClock()
        async with serving(Limits(), clock) as (server, path):
            reader, writer = await connect(path)
            writer.write(b"GET /api/v1/namespaces HTT")  # and nothing more (slowloris)
            await until(lambda: len(server.connections) == 1)
            await clock.advance(31)
            assert server.sweep() == 0 and not reader.at_eof()
            await clock.advance(1)  # 32 s: net/http's ReadHeaderTimeout in kube-apiserver
            await until(lambda: len(server.connections) == 0)
            assert await reader.read() == b""

    asyncio.run(scenario())


def test_an_idle_keepalive_connection_times_out_at_the_idle_timeout():
    async def scenario() -> None:
        clock = FakeClock()
        async with serving(Limits(), clock) as (server, path):
            reader, writer = await connect(path)
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: lab\r\n\r\n")  # keep-alive
            assert (await read_answer(reader)).status == 200
            await clock.advance(89)
            assert len(server.connections) == 1
            await clock.advance(1)  # 90 s: IdleTimeout
            await until(lambda: len(server.connections) == 0)
            assert await reader.read() == b""

    asyncio.run(scenario())


def test_a_body_that_never_arrives_is_a_504():
    async def scenario() -> None:
        async with serving(Limits(request_timeout_s=0.05)) as (server, path):
            reader, writer = await connect(path)
            writer.write(
                f"POST {CMS} HTTP/1.1\r\nHost: lab\r\nContent-Length: 50\r\n\r\n{{".encode()
            )
            answer = await read_answer(reader)
            assert answer.status == 504 and answer.json()["reason"] == "Timeout"
            assert answer.json()["message"] == "Timeout: request did not complete within 0.05s"
            assert server.inflight.mutating == 0

    asyncio.run(scenario())


# --- watchers ---------------------------------------------------------------------------------


def test_a_watcher_too_far_behind_is_closed_and_its_slot_freed(monkeypatch):
    monkeypatch.setattr("lab_kit.adapters.api_serving.WATCH_QUEUE_EVENTS", 50)

    async def scenario() -> None:
        async with serving() as (server, path):
            store = server.handler.registry.store
            subscribers = len(store._subscribers)
            reader, writer = await connect(path)
            writer.write(request("GET", f"{CMS}?watch=1&resourceVersion={store.rv}"))
            await reader.readuntil(b"\r\n\r\n")
            await until(lambda: len(store._subscribers) == subscribers + 1)
            for i in range(200):  # one burst: far more than the watch's queue
                server.handler.registry.create(cm(f"c{i}"))
            await until(lambda: server.inflight.watches == 0)
            assert len(store._subscribers) == subscribers
            assert (await reader.read()).endswith(b"0\r\n\r\n")  # the stream ended cleanly

    asyncio.run(scenario())


def test_a_watcher_that_stops_reading_is_dropped():
    async def scenario() -> None:
        async with serving(Limits(request_timeout_s=0.1)) as (server, path):
            reader, writer = await connect(path)
            writer.write(request("GET", f"{CMS}?watch=1"))
            await reader.readuntil(b"\r\n\r\n")
            for i in range(100):  # 6 MB of events to a client that reads none
                server.handler.registry.create(cm(f"c{i}", 60_000))
                await asyncio.sleep(0)
            await asyncio.wait_for(until(lambda: server.inflight.watches == 0, 10**9), 10)

    asyncio.run(scenario())


# --- open files -------------------------------------------------------------------------------


def test_the_soft_open_files_limit_is_raised_to_the_hard_one(monkeypatch):
    limits: dict[int, tuple[int, int]] = {resource.RLIMIT_NOFILE: (1024, 524288)}
    monkeypatch.setattr(resource, "getrlimit", lambda which: limits[which])
    monkeypatch.setattr(
        resource, "setrlimit", lambda which, value: limits.__setitem__(which, value)
    )
    assert apiserver.raise_open_files_limit() == 524288
    assert limits[resource.RLIMIT_NOFILE] == (524288, 524288)
    assert apiserver.connection_cap(524288, Limits()) == 4096
    assert apiserver.connection_cap(1024, Limits()) == 512  # a hard limit of 1024: room kept


def test_1100_idle_connections_at_1024_open_files_leave_it_reachable(tmp_path):
    """The issue's case, whole: the API server process held to 1,024 open files (soft and
    hard), 1,100 idle connections, then a real request. Before: unreachable, 108 MB of log."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1300:
        pytest.skip("this test process needs 1,300 open files for its own connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1300), hard))
    folder = tempfile.mkdtemp(prefix="lkh-")
    path, log = str(Path(folder) / "api.sock"), tmp_path / "apiserver.log"
    read_fd, write_fd = os.pipe()

    def held_to_1024() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    argv = [
        sys.executable,
        "-m",
        "lab_kit.agents",
        "apiserver",
        "--socket",
        path,
        "--ready-fd",
        str(write_fd),
    ]
    with log.open("w") as out:
        process = subprocess.Popen(argv, stderr=out, preexec_fn=held_to_1024, pass_fds=[write_fd])
    os.close(write_fd)
    idle: list[socket.socket] = []
    try:
        assert os.read(read_fd, 16).startswith(b"ready")
        for _ in range(1100):  # blocking connects: each one queued at the server
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(path)
            idle.append(conn)
        answer = blocking_exchange(path, READY)
        assert (answer.status, answer.body) == (200, b"ok")
    finally:
        for conn in idle:
            conn.close()
        process.terminate()
        process.wait(10)
        os.close(read_fd)
        Path(path).unlink(missing_ok=True)
        os.rmdir(folder)
    text = log.read_text()
    assert "at most 512 connections" in text
    assert len(text) < 4096 and "Traceback" not in text


# --- the policies, without sockets --------------------------------------------------------------


def test_inflight_counts_each_class_apart():
    inflight = Inflight(Limits(max_readonly=1, max_mutating=1, max_watches=1))
    assert [inflight.admit(m, w) for m, w in [("GET", False), ("POST", False), ("GET", True)]] == [
        "readonly",
        "mutating",
        "watches",
    ]
    assert [
        inflight.admit(m, w) for m, w in [("GET", False), ("DELETE", False), ("GET", True)]
    ] == ["", "", ""]
    inflight.release("mutating")
    assert inflight.admit("PUT", False) == "mutating"


def test_the_connection_table_picks_the_longest_idle_and_times_out():
    table = ConnectionTable(Limits(max_connections=2, read_header_timeout_s=32, idle_timeout_s=90))
    assert table.opened("a", 0) == (True, None)
    assert table.opened("b", 1) == (True, None)
    table.started("b")
    table.finished("b", 5)
    assert table.opened("c", 6) == (True, "a")  # a: idle since 0, the longest
    table.started("b")
    table.started("c")
    assert table.opened("d", 7) == (False, None)  # all busy: refused
    table.finished("c", 10)
    table.received("c", 20)  # a new request begins, and stalls
    assert table.expired(51) == [] and table.expired(52) == ["c"]
    table.finished("b", 10)
    assert table.expired(99) == ["c"] and table.expired(100) == ["b", "c"]


def test_go_durations():
    assert [go_duration(s) for s in (60, 32, 3600, 5400, 0.05)] == [
        "1m0s",
        "32s",
        "1h0m0s",
        "1h30m0s",
        "0.05s",
    ]
