"""The rollout request loop (lab_kit.lab.request_loop) without a lab: its client script run by
this Python against a server on loopback (answers, a refused port, the stop file, the count),
its output read back, and when a rolling update counts as over."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab_kit.lab import request_loop
from lab_kit.lab.request_loop import Answer, parse, rolled_out


class Hostname(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"web-1" if self.path == "/hostname" else b"?"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hostname)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run_client(tmp_path: Path, host: str, count: int) -> list[Answer]:
    stop, answered = str(tmp_path / "stop"), str(tmp_path / "answered")
    argv = request_loop.client_argv(host, count, 30, stop=stop, answered=answered)
    done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return parse(done.stdout)


def test_the_client_sends_count_requests_and_notes_its_first_answer(tmp_path, server):
    answers = run_client(tmp_path, server, 5)
    assert [a.text for a in answers] == ["web-1"] * 5
    assert not any(a.failed for a in answers)
    assert answers == sorted(answers, key=lambda a: a.t)
    assert (tmp_path / "answered").exists()


def test_a_refused_connection_is_a_failure_and_no_answer(tmp_path, server):
    with ThreadingHTTPServer(("127.0.0.1", 0), Hostname) as closed:
        port = closed.server_address[1]  # bound, then closed: nothing listens there now
    answers = run_client(tmp_path, f"127.0.0.1:{port}", 2)
    assert [a.text for a in answers] == ["ERR refused"] * 2
    assert all(a.failed for a in answers)
    assert not (tmp_path / "answered").exists()


def test_the_stop_file_ends_the_client_before_its_next_request(tmp_path, server):
    (tmp_path / "stop").touch()
    assert run_client(tmp_path, server, 100) == []


def test_parse_keeps_the_clients_lines_only():
    out = "1700000000.125 web-1\nTraceback (most recent call last):\n1700000000.500 ERR timeout\n"
    assert parse(out) == [Answer(1700000000.125, "web-1"), Answer(1700000000.5, "ERR timeout")]
    assert [a.failed for a in parse(out)] == [False, True]


def pod(name: str, revision: int, ready: bool = True, deleting: bool = False) -> dict:
    web = request_loop.web_deployment("ns", 3, revision, pre_stop_s=5)
    md: dict = {"name": name}
    if deleting:
        md["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    return {"metadata": md, "spec": web["spec"]["template"]["spec"],
            "status": {"conditions": [condition]}}  # fmt: skip


def test_a_rollout_is_over_when_only_the_new_revisions_pods_are_left_all_ready():
    new = [pod("a", 2), pod("b", 2), pod("c", 2)]
    assert rolled_out(new, 3, 2)
    assert not rolled_out(new, 3, 1)
    assert not rolled_out(new[:2], 3, 2)
    assert not rolled_out([*new[:2], pod("c", 2, ready=False)], 3, 2)
    assert not rolled_out([*new, pod("old", 1, ready=False, deleting=True)], 3, 2)
    assert not rolled_out([*new[:2], pod("c", 2, deleting=True)], 3, 2)


def test_the_deployment_has_the_pre_stop_sleep_only_when_asked():
    def container(pre_stop_s: int) -> dict:
        web = request_loop.web_deployment("ns", 3, 1, pre_stop_s)
        return web["spec"]["template"]["spec"]["containers"][0]

    assert container(4)["lifecycle"] == {"preStop": {"sleep": {"seconds": 4}}}
    assert "lifecycle" not in container(0)
    assert request_loop.revision_of({"spec": {"containers": [container(0)]}}) == "1"
