"""Real nginx as the ingress controller's data plane, and a fake.

ingress-nginx renders nginx.conf from its model and runs Debian/Alpine's nginx; so does the
lab's controller (lab_kit/agents/ingress_nginx.py), with this machine's `/usr/sbin/nginx`
inside the controller's container:

    apply(conf, files, checksum)
      write the files and nginx.conf.new   (certificates 0600)
      nginx -t on the new file             refused: nothing changes, the error is returned
      rename over nginx.conf; first time: start the master (`-g "daemon off;"`, logs to
      the container's stderr); else SIGHUP (new workers read the new file, the old ones
      finish the requests they hold: a reload drops nothing in flight)
      wait until the status server answers with `checksum` (the new workers are serving)
      and no old worker still accepts (they stop only once the master tells them, 100 ms
      after the new ones started)

The rendered configuration must contain the status server (127.0.0.1:STATUS_PORT,
`/configuration/checksum`), as ingress-nginx's template keeps an internal server on 10246.

    NginxInterface   the seam
    Nginx            the real one, as the controller's child process
    FakeNginx        keeps every applied configuration, can refuse one
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import urllib.request
from collections.abc import Mapping
from typing import Protocol

from lab_kit.render.ingress import nginx_conf

NGINX = "/usr/sbin/nginx"
STATUS_PORT = nginx_conf.STATUS_PORT  # ingress-nginx's internal status server
LIVE_TIMEOUT_S = 10.0


class NginxInterface(Protocol):
    async def apply(self, conf: str, files: Mapping[str, bytes], checksum: str) -> str | None:
        """Make `conf` the running configuration; an error text if nginx refused it."""
        ...

    @property
    def running(self) -> bool: ...

    async def wait_exit(self) -> int:
        """Until the master exits (unexpectedly, or after stop()); its exit status."""
        ...

    async def stop(self) -> None: ...


class Nginx:
    def __init__(self, prefix: str, binary: str = NGINX, status_port: int = STATUS_PORT):
        self.prefix, self.binary, self.status_port = prefix, binary, status_port
        self.conf = os.path.join(prefix, "nginx.conf")
        self.proc: asyncio.subprocess.Process | None = None
        self.reloads = 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def apply(self, conf: str, files: Mapping[str, bytes], checksum: str) -> str | None:
        self._write_files(files)
        candidate = self.conf + ".new"
        _write(candidate, conf.encode(), 0o644)
        error = await self._test(candidate)
        if error is not None:
            return error
        os.replace(candidate, self.conf)
        old_workers: set[int] = set()
        if not self.running:
            await self._start()
        else:
            assert self.proc is not None
            old_workers = workers(self.proc.pid)
            self.proc.send_signal(signal.SIGHUP)
            self.reloads += 1
        return await self._wait_live(checksum) or await self._wait_retired(old_workers)

    def _write_files(self, files: Mapping[str, bytes]) -> None:
        for relative, data in files.items():
            path = os.path.join(self.prefix, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _write(path, data, 0o600)

    def _argv(self, conf: str, *extra: str) -> list[str]:
        return [self.binary, "-p", self.prefix + "/", "-c", conf, "-e", "stderr", *extra]

    async def _test(self, conf: str) -> str | None:
        proc = await asyncio.create_subprocess_exec(
            *self._argv(conf, "-t", "-q"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        return None if proc.returncode == 0 else err.decode(errors="replace").strip()

    async def _start(self) -> None:
        os.makedirs(os.path.join(self.prefix, "tmp"), exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            *self._argv(self.conf, "-g", "daemon off;"), stdin=asyncio.subprocess.DEVNULL
        )

    async def _wait_live(self, checksum: str) -> str | None:
        """Poll the status server (every 10 ms) until the new workers answer."""
        deadline = time.monotonic() + LIVE_TIMEOUT_S
        url = f"http://127.0.0.1:{self.status_port}/configuration/checksum"
        while time.monotonic() < deadline:
            if not self.running:
                return "nginx exited while loading the configuration"
            if await asyncio.to_thread(_get, url) == checksum:
                return None
            await asyncio.sleep(0.01)
        return f"nginx did not serve the new configuration within {LIVE_TIMEOUT_S:g} s"

    async def _wait_retired(self, old_workers: set[int]) -> str | None:
        """Until no old worker accepts connections. nginx's master signals them only 100 ms
        after it started the new ones (ngx_master_process_cycle: "allow new processes to
        start"); until then a new connection may still get the old configuration."""
        deadline = time.monotonic() + LIVE_TIMEOUT_S
        while any(is_accepting(pid) for pid in old_workers):
            if time.monotonic() > deadline:
                return f"nginx's old workers still accepted after {LIVE_TIMEOUT_S:g} s"
            await asyncio.sleep(0.01)
        return None

    async def wait_exit(self) -> int:
        while self.proc is None:
            await asyncio.sleep(0.1)
        return await self.proc.wait()

    async def stop(self) -> None:
        """SIGQUIT: nginx's graceful shutdown (workers finish their requests), then wait."""
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGQUIT)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class FakeNginx:
    """`applied`: every accepted (conf, files); `refuse_next`: the next apply's error."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, dict[str, bytes]]] = []
        self.refuse_next: str | None = None
        self._exited = asyncio.Event()

    @property
    def running(self) -> bool:
        return bool(self.applied) and not self._exited.is_set()

    async def apply(self, conf: str, files: Mapping[str, bytes], checksum: str) -> str | None:
        if self.refuse_next is not None:
            error, self.refuse_next = self.refuse_next, None
            return error
        self.applied.append((conf, dict(files)))
        return None

    async def wait_exit(self) -> int:
        await self._exited.wait()
        return 0

    async def stop(self) -> None:
        self._exited.set()


def _write(path: str, data: bytes, mode: int) -> None:
    tmp = f"{path}.tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def workers(master: int, proc: str = "/proc") -> set[int]:
    """The master's worker processes now (its children)."""
    with contextlib.suppress(OSError), open(f"{proc}/{master}/task/{master}/children") as f:
        return {int(pid) for pid in f.read().split()}
    return set()


def is_accepting(pid: int, proc: str = "/proc") -> bool:
    """Whether an nginx worker still takes new connections: it closes its listening sockets
    as it retitles itself "worker process is shutting down" (ngx_worker_process_cycle);
    one that exited (gone, or a zombie with an empty command line) takes none."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return bool(cmdline) and b"shutting down" not in cmdline


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def _get(url: str) -> str | None:
    with contextlib.suppress(OSError), _DIRECT.open(url, timeout=1) as response:
        return response.read().decode()
    return None
