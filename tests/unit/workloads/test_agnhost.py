"""agnhost netexec, serve-hostname and pause, started as the kubelet starts them."""

from __future__ import annotations

import json
import signal
import socket

import pytest
from workload_procs import free_port, get, udp, wait_until

from lab_kit.workloads import agnhost

IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.43"


def run(spawn, *args: str, env: dict | None = None):
    return spawn({"image": IMAGE, "args": list(args)}, env)


@pytest.fixture
def netexec(spawn):
    """(proc, http port, udp port) of a running netexec."""
    http_port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
    proc = run(spawn, "netexec", f"--http-port={http_port}", "--udp-port", str(udp_port))
    proc.wait_port(http_port)
    proc.wait_logged(f"Started UDP server on port  {udp_port}")
    return proc, http_port, udp_port


# --- netexec over HTTP ---------------------------------------------------------------------


def test_netexec_hostname_and_clientip(netexec):
    _, port, _ = netexec
    assert get(port, "/hostname")[::2] == (200, "test-pod")  # no newline
    assert get(port, "/hostName")[2] == "test-pod"
    _, _, body, client = get(port, "/clientip")
    assert body == client and client.startswith("127.0.0.1:")


def test_netexec_echo(netexec):
    _, port, _ = netexec
    assert get(port, "/echo?msg=hello%20world")[::2] == (200, "hello world")
    assert get(port, "/echo?msg=gone&code=404")[::2] == (404, "gone")
    assert get(port, "/echo?msg=x&code=abc")[::2] == (
        200,
        "argument 'code' must be an integer or empty, got \"abc\"\n",
    )
    assert get(port, "/echo")[::2] == (200, "")


def test_netexec_header_by_key(netexec):
    proc, port, _ = netexec
    sent = {"X-Forwarded-For": "192.0.2.10", "x-request-id": "abc"}
    status, headers, body, _ = get(port, "/header?key=X-Forwarded-For", headers=sent)
    assert (status, body, headers["Content-Type"]) == (
        200,
        "192.0.2.10",
        "text/plain; charset=utf-8",
    )
    assert get(port, "/header?key=X-REQUEST-ID", headers=sent)[2] == "abc"  # canonical name
    status, headers, body, _ = get(port, "/header?key=X-Missing", headers=sent)
    assert (status, body, headers.get("Content-Type")) == (200, "", None)
    assert get(port, "/header?key=Host")[2] == ""  # Go keeps Host in r.Host, not r.Header
    proc.wait_logged("GET /header?key=X-Forwarded-For")


def test_netexec_header_without_key_is_every_header_as_json(netexec):
    _, port, _ = netexec
    raw = (
        "GET /header HTTP/1.1\r\nHost: x\r\nx-forwarded-for: 1.2.3.4\r\n"
        "Accept: a<b\r\naccept: c\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), 5) as conn:
        conn.sendall(raw.encode())
        reply = b"".join(iter(lambda: conn.recv(4096), b"")).decode()
    body = reply.split("\r\n\r\n", 1)[1]
    # Go's json.Marshal(r.Header): sorted canonical names, every value, HTML-safe escapes.
    assert body == (
        '{"Accept":["a\\u003cb","c"],"Connection":["close"],"X-Forwarded-For":["1.2.3.4"]}'
    )
    assert json.loads(body)["Accept"] == ["a<b", "c"]


def test_netexec_header_with_http_override_has_no_headers(spawn):
    port = free_port()
    proc = run(spawn, "netexec", f"--http-port={port}", "--udp-port=-1", "--http-override=/header")
    proc.wait_port(port)
    assert get(port, "/", headers={"X-A": "b"})[2] == "{}"


def test_netexec_healthz_and_root(netexec):
    _, port, _ = netexec
    assert get(port, "/healthz")[::2] == (200, "")
    status, _, body, _ = get(port, "/anything/else")
    assert status == 200 and body.startswith("NOW: ") and " +0000 UTC m=+" in body


def test_netexec_healthz_needs_the_udp_server(spawn):
    port = free_port()
    proc = run(spawn, "netexec", f"--http-port={port}", "--udp-port=-1")
    proc.wait_port(port)
    assert get(port, "/healthz")[0] == 412


def test_netexec_redirect(netexec):
    _, port, _ = netexec
    status, headers, _, _ = get(port, "/redirect?location=/echo%3Fmsg%3Dfoo&code=307")
    assert (status, headers["Location"]) == (307, "/echo?msg=foo")
    assert get(port, "/redirect?location=/hostname")[0] == 302


def test_netexec_endpoints_lab_kit_lacks_say_so(netexec):
    _, port, _ = netexec
    for path in ("/shell?cmd=id", "/dial?host=x&port=1&request=hostname", "/upload"):
        status, _, body, _ = get(port, path)
        assert status == 501 and "lab_kit" in body


def test_netexec_http_override(spawn):
    port = free_port()
    proc = run(
        spawn, "netexec", f"--http-port={port}", "--udp-port=-1", "--http-override=/echo?msg=o"
    )
    proc.wait_port(port)
    assert get(port, "/hostname")[2] == "o"


def test_netexec_exit_immediately(netexec):
    proc, port, _ = netexec
    with pytest.raises((ConnectionError, OSError)):  # no response: the process is gone
        get(port, "/exit?code=3")
    assert proc.exit_code() == 3


def test_netexec_exit_gracefully(netexec):
    proc, port, _ = netexec
    assert get(port, "/exit?code=4&timeout=1s")[::2] == (200, "")
    assert proc.exit_code() == 4
    assert "Graceful shutdown completed with: <nil>" in proc.stderr.read_text()
    assert "allowing 1s for connections to close, then will exit with 4" in proc.stderr.read_text()


def test_netexec_shutdown(netexec):
    proc, port, _ = netexec
    with pytest.raises((ConnectionError, OSError)):
        get(port, "/shutdown")
    assert proc.exit_code() == 0


def test_netexec_dies_on_sigterm(netexec):
    proc, _, _ = netexec
    proc.signal(signal.SIGTERM)
    assert proc.exit_code(timeout=2) == -signal.SIGTERM  # Go's default: the signal ends it


# --- netexec over UDP ----------------------------------------------------------------------


def test_netexec_udp_commands(netexec):
    _, _, port = netexec
    assert udp(port, b"hostname")[0] == b"test-pod"
    assert udp(port, b"  HOSTNAME\n")[0] == b"test-pod"  # trimmed and lower-cased
    assert udp(port, b"echo Hello World")[0] == b"hello world"  # lower-cased, as agnhost does
    reply, client = udp(port, b"clientip")
    assert reply.decode() == client


def test_netexec_udp_unknown_command_gets_no_reply(netexec):
    proc, _, port = netexec
    assert udp(port, b"bogus", timeout=0.3)[0] is None
    proc.wait_logged("Unknown UDP command received from 127.0.0.1:")
    assert udp(port, b"hostname")[0] == b"test-pod"


# --- serve-hostname ------------------------------------------------------------------------


def test_serve_hostname_http(spawn):
    port = free_port()
    proc = run(spawn, "serve-hostname", "--port", str(port))
    proc.wait_port(port)
    status, headers, body, _ = get(port, "/any/path")
    assert (status, body) == (200, "test-pod")
    assert headers.get("Connection") != "close"
    proc.wait_logged("HTTP request from 127.0.0.1:")


def test_serve_hostname_close(spawn):
    port = free_port()
    proc = run(spawn, "serve-hostname", f"--port={port}", "--close")
    proc.wait_port(port)
    assert get(port, "/")[1]["Connection"] == "close"


def test_serve_hostname_tcp_and_udp(spawn):
    port = free_port()
    proc = run(spawn, "serve-hostname", f"--port={port}", "--http=false", "--tcp", "--udp")
    proc.wait_logged(f"Serving on port {port}.")  # both listening
    with socket.create_connection(("127.0.0.1", port), 5) as conn:
        assert conn.recv(100) == b"test-pod"
        assert conn.recv(100) == b""  # closed after the hostname
    assert udp(port, b"anything")[0] == b"test-pod"


def test_serve_hostname_refuses_http_with_udp(spawn):
    proc = run(spawn, "serve-hostname", "--udp")
    assert proc.exit_code() == 1
    assert "Can't server TCP/UDP mode and HTTP mode at the same time" in proc.stderr.read_text()


def test_serve_hostname_keeps_serving_after_sigterm(spawn):
    port = free_port()
    proc = run(spawn, "serve-hostname", f"--port={port}")
    proc.wait_port(port)
    proc.wait_logged(f"Serving on port {port}.")
    proc.signal(signal.SIGTERM)
    proc.wait_logged("Awaiting pod deletion.")
    assert get(port, "/")[2] == "test-pod"  # until the kubelet's SIGKILL, like the real one
    assert proc.popen.poll() is None


# --- pause -----------------------------------------------------------------------------------


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 2), (signal.SIGINT, 1)])
def test_pause_exit_codes(spawn, signum, code):
    proc = spawn({"image": IMAGE})  # CMD ["pause"]
    proc.wait_logged("Paused", "stdout")
    proc.signal(signum)
    assert proc.exit_code(timeout=2) == code


# --- the command line ------------------------------------------------------------------------


def test_unknown_subcommand_is_a_cobra_error_and_exit_0(spawn):
    proc = run(spawn, "netexc")
    assert proc.exit_code() == 0
    assert proc.stderr.read_text() == (
        'Error: unknown command "netexc" for "app"\n\nDid you mean this?\n\tnetexec\n\n'
        "Run 'app --help' for usage.\n"
    )


def test_unknown_flag_is_a_cobra_error_and_exit_0(spawn):
    proc = run(spawn, "netexec", "--no-such-flag")
    assert proc.exit_code() == 0
    assert proc.stderr.read_text().startswith(
        "Error: unknown flag: --no-such-flag\nUsage:\n  app netexec [flags]"
    )


def test_no_subcommand_prints_help(spawn):
    proc = spawn({"image": IMAGE, "command": ["/agnhost"]})
    assert proc.exit_code() == 0
    assert "serve-hostname" in proc.stdout.read_text()


def test_flag_parsing():
    spec = {**agnhost.KLOG_FLAGS, **agnhost.SUBCOMMANDS["serve-hostname"]}
    values, rest = agnhost.parse_flags(["--port", "80", "--http=false", "--udp", "--v=4"], spec)
    assert (values["port"], values["http"], values["udp"], values["tcp"], rest) == (
        80,
        False,
        True,
        False,
        [],
    )
    assert agnhost.parse_flags(["--port=0x10", "extra"], spec)[0]["port"] == 16
    assert agnhost.parse_flags(["--", "--port=1"], spec)[1] == ["--port=1"]
    for args, message in [
        (["--port=abc"], 'invalid argument "abc" for "--port" flag: strconv.ParseInt'),
        (["--port"], "flag needs an argument: --port"),
        (["--http=maybe"], 'invalid argument "maybe" for "--http" flag: strconv.ParseBool'),
        (["-p"], "unknown shorthand flag: 'p' in -p"),
    ]:
        with pytest.raises(agnhost.UsageError, match=message):
            agnhost.parse_flags(args, spec)


def test_split_subcommand_skips_klog_flags():
    assert agnhost.split_subcommand(["--v", "2", "netexec", "--http-port=1"]) == (
        "netexec",
        ["--v", "2", "--http-port=1"],
    )
    assert agnhost.split_subcommand(["--logtostderr", "pause"]) == ("pause", ["--logtostderr"])
    assert agnhost.split_subcommand([]) == (None, [])


@pytest.mark.parametrize(
    "text, seconds, shown",
    [
        ("0", 0, "0s"),
        ("1s", 1, "1s"),
        ("1.5s", 1.5, "1.5s"),
        ("300ms", 0.3, "300ms"),
        ("1m30s", 90, "1m30s"),
        ("2h", 7200, "2h0m0s"),
    ],
)
def test_go_durations(text, seconds, shown):
    assert agnhost._parse_duration(text) == pytest.approx(seconds)
    assert agnhost._fmt_duration(seconds) == shown


def test_bad_go_durations():
    for text in ("", "1", "s", "1x", "1s2"):
        assert agnhost._parse_duration(text) is None


def test_hostname_prefers_the_pods(monkeypatch):
    monkeypatch.setenv("HOSTNAME", "web-0")
    assert agnhost.hostname() == "web-0"
    monkeypatch.delenv("HOSTNAME")
    assert agnhost.hostname() == socket.gethostname()


def test_wait_until_is_bounded():
    with pytest.raises(pytest.fail.Exception):
        wait_until(lambda: False, "never", timeout=0.05)
