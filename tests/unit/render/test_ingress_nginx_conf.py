"""render_nginx(): the text, `nginx -t` on it, and real nginx answering as route() says
(on 127.0.0.1 high ports with stub pods; skipped where nginx is not installed)."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ingress_objects import (
    backed,
    backend,
    config,
    endpoint_slice,
    ingress,
    key_and_cert,
    path,
    rule,
    service,
    tls_secret,
)

from lab_kit.render.ingress import CHECKSUM_PLACEHOLDER, Config, Settings, render_nginx, route

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def _objects() -> list:
    return [
        ingress(
            "paths",
            rule("exact.example", path("/foo", "Exact", "foo-exact")),
            rule(
                "prefix.example",
                path("/foo", "Prefix", "foo-prefix"),
                path("/aaa/bbb/", "Prefix", "bbb"),
                path("/", "Exact", "root-exact"),
            ),
            rule("*.wild.example", path("/", "Prefix", "wild")),
            rule("secure.example", path("/", "Prefix", "foo-prefix")),
            tls=[{"hosts": ["secure.example"], "secretName": "secure-tls"}],
        ),
        ingress(
            "broken",
            rule("broken.example", path("/", "Prefix", "missing")),
            created="2024-02-01T00:00:00Z",
        ),
        ingress("catch", default=backend("fallback"), created="2024-03-01T00:00:00Z"),
        tls_secret("secure-tls", "secure.example"),
    ]


def test_the_text() -> None:
    services = [
        o
        for name in ("foo-exact", "foo-prefix", "bbb", "root-exact", "wild", "fallback")
        for o in backed(name)
    ]
    conf = render_nginx(config(*_objects(), *services), prefix="/run/x/").conf
    assert "daemon" not in conf and CHECKSUM_PLACEHOLDER in conf
    assert "pid /run/x/nginx.pid;" in conf and "proxy_temp_path /run/x/proxy_temp;" in conf
    assert "error_log stderr notice;" in conf and "access_log /dev/stdout upstreaminfo;" in conf
    assert 'server_name "~^(?<subdomain>[\\w-]+)\\.wild\\.example$";' in conf
    assert (
        "upstream default-foo-prefix-80 {" in conf
        and "server 10.244.1.10:8080 max_fails=0;  # pod foo-prefix-0, node node1" in conf
    )
    for header in ("Host $best_http_host", "X-Request-ID $req_id", "X-Real-IP $remote_addr", "X-Forwarded-For $remote_addr",
                   "X-Forwarded-Host $best_http_host", "X-Forwarded-Port $server_port", "X-Forwarded-Proto $scheme",
                   "X-Forwarded-Scheme $scheme", "X-Scheme $scheme"):  # fmt: skip
        assert f"proxy_set_header {header};" in conf
    assert "proxy_next_upstream error timeout;" in conf and "keepalive 320;" in conf
    assert "return 503;  # Service default/missing not found" in conf
    prefix_server = conf.split("## server prefix.example")[1].split("## server")[0]
    assert sorted(line.strip() for line in prefix_server.splitlines() if line.strip().startswith("location")) == sorted([
        'location "/aaa/bbb/" {', 'location = "/aaa/bbb" {', 'location "/foo/" {', 'location = "/foo" {', 'location = "/" {', 'location "/" {',
    ])  # fmt: skip


def test_two_paths_that_would_repeat_a_location_keep_the_older() -> None:
    c = config(
        ingress(
            "dup", rule("d.example", path("/foo", "Prefix", "a"), path("/foo/", "Prefix", "b"))
        ),
        *backed("a"),
        *backed("b"),
    )
    assert [b.text for b in c.server("d.example").nginx].count("/foo/") == 1
    assert any(
        "would repeat nginx location ' /foo/'; the older path keeps it" in p for p in c.problems
    ), c.problems


# --- real nginx -------------------------------------------------------------------------------
def _write(conf_config: Config, prefix: Path) -> Path:
    rendered = render_nginx(conf_config, prefix=str(prefix))
    cert, key = key_and_cert(("ingress.local",), "Kubernetes Ingress Controller Fake Certificate")
    (prefix / "default.crt").write_bytes(cert)
    (prefix / "default.key").write_bytes(key)
    for name, data in rendered.files.items():
        (prefix / name).parent.mkdir(parents=True, exist_ok=True)
        (prefix / name).write_bytes(data)
    conf = prefix / "nginx.conf"
    conf.write_text(rendered.conf)
    return conf


@needs_nginx
def test_nginx_accepts_every_rendered_config(tmp_path: Path) -> None:
    notes = {
        "affinity": "cookie",
        "session-cookie-name": "my.cookie",
        "use-regex": "true",
        "rewrite-target": "/$2",
    }
    variants = [
        config(*_objects(), *backed("foo-prefix")),
        config(
            ingress(
                "rw",
                rule("r.example", path("/x(/|$)(.*)", "ImplementationSpecific", "web")),
                annotations=notes,
            ),
            *backed("web"),
        ),
        config(),
    ]
    for i, variant in enumerate(variants):
        prefix = tmp_path / str(i)
        prefix.mkdir()
        conf = _write(variant, prefix)
        result = subprocess.run(
            [str(NGINX), "-t", "-p", str(prefix), "-c", str(conf), "-e", "stderr"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr


class _Pod(BaseHTTPRequestHandler):
    """A stub pod: answers with its Service's name, the path and the headers it received."""

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps(
            {"service": self.server.service, "path": self.path, "headers": dict(self.headers)}
        ).encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def pods() -> Iterator[dict[str, int]]:
    servers = {}
    for name in ("foo-exact", "foo-prefix", "bbb", "root-exact", "wild", "fallback"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Pod)
        server.service = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers[name] = server
    yield {name: s.server_address[1] for name, s in servers.items()}
    for s in servers.values():
        s.shutdown()
        s.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running(tmp_path: Path, pods: dict[str, int]) -> Iterator[tuple[Config, int, int]]:
    settings = Settings(
        http_port=_free_port(),
        https_port=_free_port(),
        listen_address="127.0.0.1",
        access_log=False,
    )
    stubs = [
        o
        for name, port in pods.items()
        for o in (service(name), endpoint_slice(name, "127.0.0.1", port=port))
    ]
    c = config(*_objects(), *stubs, settings=settings)
    conf = _write(c, tmp_path)
    process = subprocess.Popen(
        [str(NGINX), "-p", str(tmp_path), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(settings.http_port, process)
        yield c, settings.http_port, settings.https_port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else "nginx exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nginx did not listen within 10 s")


def _get(port: int, host: str, target: str, sni: str | None = None) -> tuple[int, dict, str]:
    if sni is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        peer = ""
    else:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
        conn.sock = context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname=sni
        )
        peer = _subject(conn.sock.getpeercert(binary_form=True) or b"")
    conn.request("GET", target, headers={"Host": host})
    response = conn.getresponse()
    body = response.read()
    headers = {k.lower(): v for k, v in response.getheaders()}
    data = json.loads(body) if headers.get("content-type") == "application/json" else {}
    conn.close()
    return (
        response.status,
        {
            **data,
            "location": headers.get("location", ""),
            "hsts": headers.get("strict-transport-security", ""),
        },
        peer,
    )


def _subject(der: bytes) -> str:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


AGREEMENT = [
    ("exact.example", "/foo"), ("exact.example", "/foo/"), ("exact.example", "/FOO"),
    ("prefix.example", "/foo"), ("prefix.example", "/foo/"), ("prefix.example", "/foobar"), ("prefix.example", "/foo/x?y=1"),
    ("prefix.example", "/aaa/bbb"), ("prefix.example", "/aaa/bbb/c"), ("prefix.example", "/aaa/bbbc"), ("prefix.example", "/"),
    ("prefix.example", "//foo"), ("a.wild.example", "/z"), ("a.b.wild.example", "/z"), ("wild.example", "/z"),
    ("broken.example", "/"), ("nobody.example", "/anything"), ("secure.example", "/"), ("secure.example", "/a/"),
]  # fmt: skip


@needs_nginx
def test_real_nginx_answers_as_route_says(running: tuple[Config, int, int]) -> None:
    c, http_port, _ = running
    for host, target in AGREEMENT:
        expected = route(c, host=host, path=target)
        status, seen, _ = _get(http_port, host, target)
        assert status == expected.status, (host, target, expected.why)
        assert seen.get("service", "") == (expected.service if expected.status == 200 else ""), (
            host,
            target,
        )
        assert seen["location"] == expected.redirect
        if status == 200:
            assert seen["path"] == expected.upstream_uri


@needs_nginx
def test_real_nginx_headers_tls_and_hsts(running: tuple[Config, int, int]) -> None:
    c, http_port, https_port = running
    status, seen, _ = _get(http_port, "nobody.example", "/foo")  # the catch-all: no redirect
    assert status == 200, seen
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == "nobody.example"
    assert headers["x-forwarded-for"] == headers["x-real-ip"] == "127.0.0.1"
    assert (headers["x-forwarded-host"], headers["x-forwarded-proto"], headers["x-scheme"]) == (
        "nobody.example",
        "http",
        "http",
    )
    assert headers["x-forwarded-port"] == str(http_port) and len(headers["x-request-id"]) == 32
    status, seen, subject = _get(https_port, "secure.example", "/", sni="secure.example")
    decision = route(c, host="secure.example", path="/", scheme="https")
    assert (status, seen["service"], seen["hsts"]) == (200, decision.service, decision.hsts)
    assert subject == "CN=secure.example" and decision.certificate == "default/secure-tls"
    # A TLS host without a Secret of its own: the default certificate, no HSTS.
    status, seen, subject = _get(https_port, "prefix.example", "/foo", sni="prefix.example")
    assert (status, seen["service"], seen["hsts"]) == (200, "foo-prefix", "")
    assert subject == "CN=Kubernetes Ingress Controller Fake Certificate"
    assert (
        route(c, host="prefix.example", path="/foo", scheme="https").certificate
        == "default (self-signed)"
    )
    # The client's X-Request-ID is kept.
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
    conn.request("GET", "/", headers={"Host": "nobody.example", "X-Request-ID": "abc123"})
    assert json.loads(conn.getresponse().read())["headers"]["X-Request-ID"] == "abc123"
    conn.close()


@needs_nginx
def test_real_nginx_cookie_affinity(tmp_path: Path) -> None:
    pods = []
    for name in ("web-a", "web-b", "web-c"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Pod)
        server.service = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        pods.append(server)
    slices = []  # one slice per stub pod: the pods share 127.0.0.1, each on its own port
    for pod in pods:
        one = endpoint_slice("web", "127.0.0.1", port=pod.server_address[1])
        one["metadata"]["name"] = f"web-{pod.server_address[1]}"
        slices.append(one)
    settings = Settings(
        http_port=_free_port(),
        https_port=_free_port(),
        listen_address="127.0.0.1",
        access_log=False,
    )
    notes = {
        "affinity": "cookie",
        "session-cookie-name": "sticky-route",
        "session-cookie-path": "/",
    }
    c = config(
        ingress("s", rule("s.example", path("/", "Prefix", "web")), annotations=notes),
        service("web"),
        *slices,
        settings=settings,
    )
    conf = _write(c, tmp_path)
    process = subprocess.Popen(
        [str(NGINX), "-p", str(tmp_path), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(settings.http_port, process)
        seen = set()
        for _ in range(12):
            conn = http.client.HTTPConnection("127.0.0.1", settings.http_port, timeout=5)
            conn.request("GET", "/", headers={"Host": "s.example"})
            response = conn.getresponse()
            first = json.loads(response.read())["service"]
            cookie = response.getheader("Set-Cookie") or ""
            conn.close()
            assert cookie.startswith("sticky-route=") and cookie.endswith("; Path=/; HttpOnly"), (
                cookie
            )
            value = cookie.split(";")[0].split("=", 1)[1]
            for _ in range(3):  # the same cookie, the same pod, no new cookie
                conn = http.client.HTTPConnection("127.0.0.1", settings.http_port, timeout=5)
                conn.request(
                    "GET",
                    "/",
                    headers={"Host": "s.example", "Cookie": f"other=1; sticky-route={value}"},
                )
                again = conn.getresponse()
                assert json.loads(again.read())["service"] == first
                assert again.getheader("Set-Cookie") is None
                conn.close()
            seen.add(first)
        assert len(seen) > 1  # new clients spread over the pods
    finally:
        process.terminate()
        process.wait(timeout=10)
        for pod in pods:
            pod.shutdown()
            pod.server_close()
