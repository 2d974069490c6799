"""Knative's sample apps: ghcr.io/knative/helloworld-go and ghcr.io/knative/autoscale-go.

Re-implements what a learner sees of knative/docs `code-samples/serving/hello-world/
helloworld-go` (GET / answers `Hello <TARGET>!` on $PORT, TARGET defaulting to "World")
and knative/serving `test/test_images/autoscale` as the autoscaling docs use it
(`?sleep=MS` holds the request that long and answers `Slept for MS milliseconds.`), which
makes concurrency, and so scaling, visible. Both log one line at start, as the Go
programs do. Run: python helloworld.py [hello|autoscale]
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

if __package__:
    from . import _http
else:  # run as a file by the kubelet (see lab_kit/workloads/__init__.py)
    import _http  # type: ignore[no-redef,import-not-found]

MAX_SLEEP_MS = 60_000  # a bounded request, whatever the query says


def handler(kind: str):
    target = os.environ.get("TARGET", "World")

    async def handle(request: _http.Request) -> _http.Response:
        sleep = request.param("sleep")
        if kind == "autoscale" and sleep is not None:
            try:
                ms = max(0, min(int(sleep), MAX_SLEEP_MS))
            except ValueError:
                return _http.text("invalid sleep value\n", 400)
            await asyncio.sleep(ms / 1000)
            return _http.text(f"Slept for {ms} milliseconds.\n")
        if kind == "autoscale":
            return _http.text("Hello from autoscale-go\n")
        return _http.text(f"Hello {target}!\n")

    return handle


async def main(kind: str) -> None:
    port = int(os.environ.get("PORT", "8080"))
    server = _http.Server(handler(kind))
    await server.listen(port)
    print(
        f"{'helloworld' if kind == 'hello' else 'autoscale'}: listening on port {port}", flush=True
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.shutdown(5)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "hello"))
