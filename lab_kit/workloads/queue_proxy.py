"""Knative's queue-proxy: the sidecar in every Revision pod, in front of the user container.

Re-implements what knative/serving `cmd/queue` does that a learner can observe:

- Serves on $QUEUE_SERVING_PORT (8012) and forwards each request to the user container on
  127.0.0.1:$USER_PORT, holding at most $CONTAINER_CONCURRENCY requests there at once
  (0: no limit); the others wait in a queue of 10x that depth (Knative's breaker), beyond
  which the answer is 503 `pending request queue full`.
- Readiness: a request with `K-Network-Probe: queue` (the kubelet's probe, and the
  activator's) is answered 200 `queue` only when the user container passes its own
  readiness probe ($SERVING_READINESS_PROBE: a TCP connect or an HTTP GET), else 503.
- Metrics for the autoscaler on :9090/metrics (Prometheus text): the average number of
  requests in flight since the last scrape, requests per second, and in flight now
  (`queue_average_concurrent_requests`, `queue_requests_per_second`,
  `queue_requests_in_flight`), as Knative's stat reporter keeps them.
- SIGTERM: stop taking requests and drain those in flight ($REVISION_TIMEOUT_SECONDS).

Differs: one HTTP/1.1 connection per forwarded request; no request logging, tracing or
timeouts other than the revision timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

if __package__:
    from . import _http, _proxy
else:  # run as a file by the kubelet (see lab_kit/workloads/__init__.py)
    import _http  # type: ignore[no-redef,import-not-found]
    import _proxy  # type: ignore[no-redef,import-not-found]

PROBE_HEADER = "k-network-probe"
METRICS_PORT = 9090


class Stats:
    """Requests in flight, integrated over time, read (and reset) at each scrape."""

    def __init__(self, now: float):
        self.in_flight = 0
        self.requests = 0
        self._since = self._changed = now
        self._area = 0.0

    def _advance(self, now: float) -> None:
        self._area += self.in_flight * (now - self._changed)
        self._changed = now

    def started(self, now: float) -> None:
        self._advance(now)
        self.in_flight += 1
        self.requests += 1

    def finished(self, now: float) -> None:
        self._advance(now)
        self.in_flight -= 1

    def scrape(self, now: float) -> dict[str, float]:
        self._advance(now)
        elapsed = max(now - self._since, 1e-6)
        out = {
            "queue_average_concurrent_requests": self._area / elapsed,
            "queue_requests_per_second": self.requests / elapsed,
            "queue_requests_in_flight": float(self.in_flight),
        }
        self._since, self._area, self.requests = now, 0.0, 0
        return out


class Breaker:
    """At most `capacity` requests at the app; `queue_depth` more may wait (0: no limit)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.queue_depth = 10 * capacity
        self._slots = asyncio.Semaphore(capacity) if capacity > 0 else None
        self.waiting = 0

    def full(self) -> bool:
        return self._slots is not None and self._slots.locked() and self.waiting >= self.queue_depth

    async def __aenter__(self) -> None:
        if self._slots is not None:
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1

    async def __aexit__(self, *exc: object) -> None:
        if self._slots is not None:
            self._slots.release()


async def user_ready(probe: dict, port: int) -> bool:
    """The user container's readiness probe, as the queue-proxy runs it."""
    try:
        if "httpGet" in probe:
            get = probe["httpGet"]
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", int(get.get("port") or port)), 1
            )
            writer.write(f"GET {get.get('path', '/')} HTTP/1.1\r\nHost: localhost\r\n"
                         "User-Agent: Knative-Queue-Proxy\r\nConnection: close\r\n\r\n".encode())  # fmt: skip
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 1)
            writer.close()
            return 200 <= int(line.split()[1]) < 400
        tcp = probe.get("tcpSocket") or {}
        _, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", int(tcp.get("port") or port)), 1)  # fmt: skip
        writer.close()
        return True
    except (OSError, asyncio.TimeoutError, ValueError, IndexError):
        return False


def make_handler(stats: Stats, breaker: Breaker, user_port: int, probe: dict, timeout: float):
    async def handle(request: _http.Request) -> _http.Response:
        if request.headers.get(PROBE_HEADER) == "queue":
            if await user_ready(probe, user_port):
                return _http.text("queue")
            return _http.text("container not ready", 503)
        if breaker.full():
            return _http.text("pending request queue full\n", 503)
        stats.started(time.monotonic())
        try:
            async with breaker:
                return await _proxy.forward(request, "127.0.0.1", user_port, timeout)
        except _proxy.Unreachable as e:
            return _http.text(f"{e}\n", 502)
        finally:
            stats.finished(time.monotonic())

    return handle


def metrics_handler(stats: Stats):
    async def handle(request: _http.Request) -> _http.Response:
        if request.path != "/metrics":
            return _http.text("404 page not found\n", 404)
        values = stats.scrape(time.monotonic())
        if request.param("format") == "json":
            return _http.Response(200, json.dumps(values).encode(), "application/json")
        lines = [f"{k} {v:g}" for k, v in values.items()]
        return _http.text("\n".join(lines) + "\n")

    return handle


async def main() -> None:
    env = os.environ
    user_port = int(env.get("USER_PORT", "8080"))
    timeout = float(env.get("REVISION_TIMEOUT_SECONDS", "300"))
    probe = json.loads(env.get("SERVING_READINESS_PROBE") or "{}") or {
        "tcpSocket": {"port": user_port}
    }
    stats, breaker = Stats(time.monotonic()), Breaker(int(env.get("CONTAINER_CONCURRENCY", "0")))
    server = _http.Server(make_handler(stats, breaker, user_port, probe, timeout))
    metrics = _http.Server(metrics_handler(stats))
    port = int(env.get("QUEUE_SERVING_PORT", "8012"))
    await server.listen(port)
    await metrics.listen(METRICS_PORT)
    print(f"queue-proxy: serving on {port}, user port {user_port}, "
          f"containerConcurrency {breaker.capacity}", flush=True)  # fmt: skip
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.shutdown(timeout)
    await metrics.shutdown(1)


if __name__ == "__main__":
    asyncio.run(main())
