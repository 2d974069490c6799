"""Benchmark: what a child forked from the zygote writes of its parent's memory (copy on write).

    .venv/bin/python benchmarks/fork_cow.py          (no lab, no root; ~5 s)

The zygote (`lab_kit/agents/zygote.py`) imports what the agents import, then forks them:
their pages are shared until written. This measures how many a child writes (its
Private_Dirty in /proc/<pid>/smaps_rollup, by mapping) after the zygote's own preload,
for a child that
  idle      does nothing,
  loop      runs an asyncio event loop for a moment,
  http      serves and makes 50 HTTP requests (aiohttp server, httpx client: what every
            agent does with the API server and its /metrics),
and for `http` again with two ways of preparing the parent before it forks:
  warmed    the parent ran the same HTTP exchange first (so CPython 3.11's adaptive
            interpreter has already warmed up and specialised that code in shared pages),
  filled    every free block of the parent's small-object allocator is taken first (so
            the child's new objects cannot land in half-used shared pages).
Each case forks a fresh parent. Results go in docs/performance.md by hand.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import gc
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

CASES = ("idle", "loop", "http", "http warmed", "http filled")


def private_dirty_mib(pid: int) -> tuple[float, dict[str, float]]:
    """The process's Private_Dirty, total and by mapping ([heap], [anon], a library)."""
    by_map: collections.Counter[str] = collections.Counter()
    name = ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts[0] == "Private_Dirty:":
                by_map[name] += int(parts[1])
    return sum(by_map.values()) / 1024, {k: v / 1024 for k, v in by_map.most_common(3)}


async def http_exchange(requests: int = 50) -> None:
    import httpx
    from aiohttp import web

    async def hello(_: web.Request) -> web.Response:
        return web.json_response({"items": [1, 2, 3]})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with httpx.AsyncClient() as client:
        for _ in range(requests):
            (await client.get(f"http://127.0.0.1:{port}/")).json()
    await runner.cleanup()


def work(case: str) -> None:
    if case == "loop":
        asyncio.run(asyncio.sleep(0.01))
    elif case.startswith("http"):
        asyncio.run(http_exchange())


def fill_free_blocks(keep: list) -> None:
    """Take every free block of pymalloc's used pools (sys._debugmallocstats' counts)."""
    malloc = ctypes.pythonapi.PyObject_Malloc
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        stats = out.read().decode()
    for m in re.finditer(r"^\s+\d+\s+(\d+)\s+\d+\s+\d+\s+(\d+)$", stats, re.M):
        keep += [malloc(int(m[1])) for _ in range(int(m[2]))]


def one_case(case: str) -> None:
    """In a fresh parent: the zygote's preload, the case's preparation, one forked child."""
    from lab_kit.agents import zygote

    zygote.preload()
    if case.endswith("warmed"):
        work(case)
    gc.collect()
    gc.freeze()
    keep: list = []
    if case.endswith("filled"):
        fill_free_blocks(keep)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        work(case)
        os.write(write_fd, b"x")
        time.sleep(60)
        os._exit(0)
    os.read(read_fd, 1)
    total, top = private_dirty_mib(pid)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    where = ", ".join(f"{k} {v:.1f}" for k, v in top.items())
    print(f"  {case:<12} {total:5.1f} MiB   ({where})", flush=True)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        one_case(sys.argv[2])
        return
    print(
        f"Private_Dirty of a child forked after the zygote's preload (Python {sys.version.split()[0]})"
    )
    for case in CASES:
        subprocess.run([sys.executable, __file__, "--case", case], check=True, timeout=120)


if __name__ == "__main__":
    main()
