"""Helpers for workload tests: workloads run as subprocesses on 127.0.0.1, on free ports;
every wait is on a condition (a port answers, a line is logged, the process exits) with a
deadline, never a fixed sleep."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab_kit.agents.images import Program, resolve

DEADLINE_S = 5.0


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, what: str, timeout: float = DEADLINE_S, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        if proc is not None and proc.popen.poll() is not None:
            pytest.fail(f"{what}: the workload exited {proc.popen.returncode}\n{proc.output()}")
        time.sleep(0.005)
    pytest.fail(f"timed out waiting for {what}" + (f"\n{proc.output()}" if proc else ""))


@dataclass
class Proc:
    popen: subprocess.Popen
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return f"stdout:\n{self.stdout.read_text()}\nstderr:\n{self.stderr.read_text()}"

    def wait_port(self, port: int) -> None:
        def answers() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False

        wait_until(answers, f"port {port} to answer", proc=self)

    def wait_logged(self, text: str, stream: str = "stderr") -> None:
        path = self.stderr if stream == "stderr" else self.stdout
        wait_until(lambda: text in path.read_text(), f"{text!r} on {stream}", proc=self)

    def exit_code(self, timeout: float = 2.0) -> int:
        return self.popen.wait(timeout)

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)


@pytest.fixture
def spawn(tmp_path):
    """spawn(container, env) -> Proc: runs what images.resolve says, as the kubelet would."""
    started: list[Proc] = []

    def start(container: dict, env: dict | None = None) -> Proc:
        program = resolve(container)
        assert isinstance(program, Program), program
        n = len(started)
        out, err = tmp_path / f"stdout-{n}", tmp_path / f"stderr-{n}"
        base = {"PATH": os.environ["PATH"], "HOSTNAME": "test-pod"}
        with out.open("wb") as o, err.open("wb") as e:
            popen = subprocess.Popen(
                program.argv,
                env={**program.env_extra, **base, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=o,
                stderr=e,
                cwd=tmp_path,
            )
        proc = Proc(popen, out, err)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGKILL)
            proc.popen.wait(DEADLINE_S)


def get(port: int, path: str, method: str = "GET", headers: dict | None = None):
    """(status, headers, body text, client address "ip:port") of one HTTP request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE_S)
    try:
        conn.request(method, path, headers=headers or {})
        client = "{}:{}".format(*conn.sock.getsockname())
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode(), client
    finally:
        conn.close()


def udp(port: int, message: bytes, timeout: float = DEADLINE_S) -> tuple[bytes | None, str]:
    """(the reply or None, the client address "ip:port")."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(message, ("127.0.0.1", port))
        client = "{}:{}".format(*s.getsockname())
        try:
            return s.recv(4096), client
        except TimeoutError:
            return None, client
