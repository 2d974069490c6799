"""The real nginx adapter's promise: once `apply` returns, every new connection gets the new
configuration (on 127.0.0.1 high ports; skipped where nginx is not installed).

nginx's master tells the old workers to stop accepting only 100 ms after it started the new
ones (ngx_master_process_cycle), so "a new worker answered" is not yet "the reload is done".
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import urllib.request
from pathlib import Path

import pytest

from lab_kit.adapters import nginx

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _conf(prefix: Path, port: int, status_port: int, answer: str) -> str:
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp; proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp; uwsgi_temp_path {prefix}/tmp; scgi_temp_path {prefix}/tmp;
    server {{ listen 127.0.0.1:{port}; location / {{ return 200 "{answer}"; }} }}
    server {{
        listen 127.0.0.1:{status_port};
        location = /configuration/checksum {{ return 200 "{answer}"; }}
    }}
}}
"""


def _answer(port: int) -> str:
    with DIRECT.open(f"http://127.0.0.1:{port}/", timeout=2) as response:  # a new connection
        return str(response.read().decode())


@needs_nginx
def test_after_apply_no_new_connection_gets_the_old_configuration(tmp_path: Path) -> None:
    port, status_port = _free_port(), _free_port()
    server = nginx.Nginx(str(tmp_path), binary=str(NGINX), status_port=status_port)

    async def scenario() -> list[str]:
        try:
            assert await server.apply(_conf(tmp_path, port, status_port, "one"), {}, "one") is None
            assert await asyncio.to_thread(_answer, port) == "one"
            assert await server.apply(_conf(tmp_path, port, status_port, "two"), {}, "two") is None
            return [await asyncio.to_thread(_answer, port) for _ in range(20)]
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == ["two"] * 20
    assert server.reloads == 1


def test_a_worker_accepts_until_it_says_it_is_shutting_down(tmp_path: Path) -> None:
    def worker(name: str, cmdline: bytes) -> int:
        (tmp_path / name).mkdir()
        (tmp_path / name / "cmdline").write_bytes(cmdline)
        return int(name)

    serving = worker("11", b"nginx: worker process\x00")
    leaving = worker("12", b"nginx: worker process is shutting down\x00")
    zombie = worker("13", b"")  # exited, not yet reaped: no listening socket left
    assert nginx.is_accepting(serving, proc=str(tmp_path))
    assert not nginx.is_accepting(leaving, proc=str(tmp_path))
    assert not nginx.is_accepting(zombie, proc=str(tmp_path))
    assert not nginx.is_accepting(14, proc=str(tmp_path))  # gone
