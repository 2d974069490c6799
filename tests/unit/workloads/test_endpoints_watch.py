"""The consumer's cache on the Kubernetes API: in-cluster files and env only, TLS checked
against ca.crt, the bearer token sent, list then watch, ready endpoints only, a 410 or a
broken watch listed again, the cache kept while the API is away."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from workload_procs import wait_until

from lab_kit.adapters import pki
from lab_kit.workloads.endpoints_watch import EndpointsWatch, ready_addresses


def slice_(name: str, *endpoints: tuple[str, bool | None], port: int = 8080) -> dict:
    eps = []
    for ip, ready in endpoints:
        ep: dict = {"addresses": [ip]}
        if ready is not None:
            ep["conditions"] = {"ready": ready}
        eps.append(ep)
    return {"metadata": {"name": name}, "endpoints": eps, "ports": [{"name": "", "port": port}]}


def test_ready_addresses_reads_absent_conditions_as_ready():
    slices = {"a": slice_("a", ("10.0.0.1", True), ("10.0.0.2", False), ("10.0.0.3", None))}
    assert ready_addresses(slices) == ["10.0.0.1:8080", "10.0.0.3:8080"]


class FakeApi:
    """A TLS server answering the list, and streaming the watch events it is given."""

    def __init__(self, tmp_path):
        ca = pki.make_ca("test CA")
        pair = pki.issue(ca, ["127.0.0.1"])
        (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
        (tmp_path / "token").write_text("the-token\n")
        (tmp_path / "namespace").write_text("shop")
        (tmp_path / "tls.crt").write_bytes(pair.cert_pem)
        (tmp_path / "tls.key").write_bytes(pair.key_pem)
        self.requests: list[tuple[str, str]] = []
        self.items = [slice_("web-abc", ("10.0.0.1", True))]
        self.events: list[dict | None] = []  # None ends the watch
        self.gone_once = False
        self.wake = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                api.requests.append((self.path, self.headers.get("Authorization", "")))
                if "watch=1" not in self.path:
                    return self._send(200, {"kind": "EndpointSliceList",
                                            "metadata": {"resourceVersion": "7"},
                                            "items": api.items})  # fmt: skip
                if api.gone_once:
                    api.gone_once = False
                    return self._send(410, {"kind": "Status", "code": 410})
                self.send_response(200)
                self.end_headers()
                while True:
                    with api.wake:
                        api.wake.wait_for(lambda: api.events, timeout=5)
                        if not api.events:
                            return
                        event = api.events.pop(0)
                    if event is None:
                        return
                    self.wfile.write(json.dumps(event).encode() + b"\n")
                    self.wfile.flush()

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def send(self, *events: dict | None) -> None:
        with self.wake:
            self.events.extend(events)
            self.wake.notify_all()

    def close(self) -> None:
        self.send(None)
        self.server.shutdown()


@pytest.fixture
def api(tmp_path):
    fake = FakeApi(tmp_path)
    yield fake
    fake.close()


def watcher(api: FakeApi, tmp_path) -> EndpointsWatch:
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)}
    w = EndpointsWatch("web", log=lambda _: None, sa_dir=str(tmp_path), env=env)
    w.start()
    return w


def test_it_lists_then_follows_the_watch_with_the_token(api, tmp_path):
    w = watcher(api, tmp_path)
    try:
        wait_until(lambda: w.instances == ["10.0.0.1:8080"], "the list")
        path, auth = api.requests[0]
        assert auth == "Bearer the-token"
        assert path.startswith("/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices?")
        assert "labelSelector=kubernetes.io%2Fservice-name%3Dweb" in path
        wait_until(lambda: len(api.requests) == 2, "the watch")
        assert "watch=1" in api.requests[1][0] and "resourceVersion=7" in api.requests[1][0]
        api.send(
            {
                "type": "MODIFIED",
                "object": slice_("web-abc", ("10.0.0.1", True), ("10.0.0.2", True)),
            }
        )
        wait_until(lambda: w.instances == ["10.0.0.1:8080", "10.0.0.2:8080"], "an added pod")
        api.send(
            {
                "type": "MODIFIED",
                "object": slice_("web-abc", ("10.0.0.1", False), ("10.0.0.2", True)),
            }
        )
        wait_until(lambda: w.instances == ["10.0.0.2:8080"], "a pod not ready")
        assert w.choose() != w.choose() or len(w.instances) == 1
    finally:
        w.stop()


def test_a_broken_watch_is_listed_again_and_the_cache_kept_meanwhile(api, tmp_path):
    w = watcher(api, tmp_path)
    try:
        wait_until(lambda: len(api.requests) == 2, "the watch")
        api.gone_once = True
        api.items = [slice_("web-abc", ("10.0.0.9", True))]
        api.send(None)  # the server ends the watch: list again, then 410, then list again
        wait_until(lambda: w.instances == ["10.0.0.9:8080"], "the relist")
        lists = [p for p, _ in api.requests if "watch=1" not in p]
        assert len(lists) >= 2  # listed again after the watch ended
    finally:
        w.stop()


def test_an_untrusted_certificate_is_refused(api, tmp_path):
    other = pki.make_ca("another CA")
    (tmp_path / "ca.crt").write_bytes(other.cert_pem)
    w = watcher(api, tmp_path)
    try:
        wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in w.last_error, "the TLS refusal")
        assert w.instances == [] and api.requests == []
    finally:
        w.stop()
