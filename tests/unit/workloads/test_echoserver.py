"""The ingress-controller-conformance echo server, started as the kubelet starts it."""

from __future__ import annotations

import json
import signal
import socket

import pytest
from workload_procs import free_port, get

IMAGE = "registry.k8s.io/ingressconformance/echoserver:v0.0.1"
CONTEXT = {
    "NAMESPACE": "default",
    "INGRESS_NAME": "host-rules",
    "SERVICE_NAME": "foo-bar-com",
    "POD_NAME": "host-rules-foo-bar-com-7d9f-abcde",
}


@pytest.fixture
def echo(spawn):
    """(proc, port) of a running echo server with the suite's environment."""
    port = free_port()
    proc = spawn({"image": IMAGE}, {"HTTP_PORT": str(port), **CONTEXT})
    proc.wait_port(port)
    return proc, port


def raw(port: int, request: str) -> tuple[str, str]:
    """(head, body) of the answer to one request sent as written."""
    with socket.create_connection(("127.0.0.1", port), 5) as conn:
        conn.sendall(request.encode("latin-1"))
        reply = b"".join(iter(lambda: conn.recv(4096), b"")).decode()
    head, _, body = reply.partition("\r\n\r\n")
    return head, body


def test_every_path_echoes_the_request_and_the_pods_context(echo):
    proc, port = echo
    status, headers, body, client = get(
        port, "/sub-path?a=1", "POST", {"Host": "foo.bar.com", "X-Forwarded-For": "192.0.2.10"}
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(body) == {
        "path": "/sub-path?a=1",
        "host": "foo.bar.com",
        "method": "POST",
        "proto": "HTTP/1.1",
        "headers": {
            "Accept-Encoding": ["identity"],
            "Content-Length": ["0"],
            "X-Forwarded-For": ["192.0.2.10"],
        },
        "namespace": "default",
        "ingress": "host-rules",
        "service": "foo-bar-com",
        "pod": "host-rules-foo-bar-com-7d9f-abcde",
    }
    proc.wait_logged(f"Echoing back request made to /sub-path?a=1 to client ({client})", "stdout")


def test_the_json_is_gos_indented_marshal(echo):
    _, port = echo
    head, body = raw(
        port,
        "GET /a<b> HTTP/1.1\r\nHost: h\r\nx-custom: one\r\nX-CUSTOM: two\r\n"
        "Connection: close\r\n\r\n",
    )
    assert body == (
        "{\n"
        ' "path": "/a\\u003cb\\u003e",\n'
        ' "host": "h",\n'
        ' "method": "GET",\n'
        ' "proto": "HTTP/1.1",\n'
        ' "headers": {\n'
        '  "Connection": [\n   "close"\n  ],\n'
        '  "X-Custom": [\n   "one",\n   "two"\n  ]\n'
        " },\n"
        ' "namespace": "default",\n'
        ' "ingress": "host-rules",\n'
        ' "service": "foo-bar-com",\n'
        ' "pod": "host-rules-foo-bar-com-7d9f-abcde"\n'
        "}"
    )
    assert f"Content-Length: {len(body)}" in head


def test_health(echo):
    _, port = echo
    status, headers, body, _ = get(port, "/health")
    assert (status, body, headers["Content-Type"]) == (200, "OK", "text/plain; charset=utf-8")
    assert get(port, "//health")[2] == "OK"  # "//" collapsed before routing
    assert json.loads(get(port, "/health/")[2])["path"] == "/health/"  # only /health itself


def test_double_slashes_are_collapsed_for_routing_not_in_path(echo):
    _, port = echo
    status, _, body, _ = get(port, "//foo//bar")
    assert status == 200 and json.loads(body)["path"] == "//foo//bar"


def test_an_unclean_path_is_redirected_as_gos_servemux_does(echo):
    _, port = echo
    status, headers, body, _ = get(port, "/foo/../bar?x=1")
    assert (status, headers["Location"]) == (301, "/bar?x=1")
    assert body == '<a href="/bar?x=1">Moved Permanently</a>.\n\n'
    assert get(port, "/a///b")[1]["Location"] == "/a/b"  # "//" collapsed once, then cleaned
    assert get(port, "/trailing/")[0] == 200  # a trailing slash is clean


def test_host_of_http_1_0_and_a_missing_host(echo):
    _, port = echo
    _, body = raw(port, "GET / HTTP/1.0\r\n\r\n")
    assert json.loads(body)["host"] == "" and json.loads(body)["proto"] == "HTTP/1.0"
    head, body = raw(port, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert (
        head.startswith("HTTP/1.1 400 ") and body == "400 Bad Request: missing required Host header"
    )


def test_port_default_and_empty_context(spawn):
    proc = spawn({"image": IMAGE}, {"HTTP_PORT": ""})  # empty: the default, as os.Getenv
    proc.wait_logged("Starting server, listening on port 3000 (http)", "stdout")


def test_sigterm_ends_it_as_go_does(echo):
    proc, _ = echo
    proc.signal(signal.SIGTERM)
    assert proc.exit_code(timeout=2) == -signal.SIGTERM


def test_a_taken_port_is_a_panic(spawn):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = spawn({"image": IMAGE}, {"HTTP_PORT": str(port)})
        assert proc.exit_code() == 2
    assert proc.stderr.read_text().startswith(
        f"panic: Failed to start listening: listen tcp :{port}: bind: address already in use"
    )
