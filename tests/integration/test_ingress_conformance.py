"""ingress-controller-conformance's features against the lab's ingress-nginx (root), plus what
users of ingress-nginx rely on, from the outside client through the LoadBalancer address.

  default_backend   an Ingress with only defaultBackend takes every method, host and path
  host_rules        `*.foo.com` (one label) by port number, foo.bar.com by port name, TLS
                    with SNI from the Secret, the 308 to https
  path_rules        Exact, Prefix, both on one path, trailing slashes
  ingress_class     an unknown class: no address, not served
  load_balancing    10 replicas, 100 requests, 10 pods
  ingress-nginx     404 from its default backend, 503 without endpoints or Service, the
                    X-Forwarded-* / X-Real-IP / X-Request-ID headers, no failed request
                    while endpoints change, slow and malformed clients not disturbing others

One lab for the module: every feature's objects are applied at the start in one go (one
namespace per feature, as the suite makes them), so the lab converges once. The suite runs
each feature alone; here they share the controller, so the one catch-all Ingress
(default_backend's, which would take every unmatched host) is there only for its class.
The requests are made by ingress_probe.py on the client host, many per process.
Every wait is on a condition, never a fixed sleep.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lab_kit.lab import lifecycle
from lab_kit.lab.access import host_argv

pytestmark = pytest.mark.root
ECHO = "registry.k8s.io/ingressconformance/echoserver:v0.0.1"
CLIENT_IP = "192.0.2.10"
PROBE = (Path(__file__).parent / "ingress_probe.py").read_text()
CONTROLLER_NS = "ingress-nginx"
# Longer than an endpoint change takes to reach nginx (slice, render, `nginx -t`, reload: about
# 2 s here), as Kubernetes' advice for graceful termination goes.
PRE_STOP_S = 5


# --- the conformance suite's objects ----------------------------------------------------------
def echo(ns: str, name: str, ingress: str, replicas: int = 1, pre_stop_s: int = 0) -> list[dict]:
    """The suite's echo Deployment (NAMESPACE and POD_NAME from the downward API) and its
    Service on 8080 (port named `http`) -> 3000; `pre_stop_s`: a preStop sleep, so a pod
    being deleted serves on while its endpoint goes (the echo server stops at SIGTERM)."""
    labels = {"app": name}
    env = [
        {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "INGRESS_NAME", "value": ingress},
        {"name": "SERVICE_NAME", "value": name},
    ]
    container = {
        "name": "echoserver", "image": ECHO, "env": env,
        "ports": [{"name": "http-api", "containerPort": 3000}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": 3000}, "periodSeconds": 1},
    }  # fmt: skip
    if pre_stop_s:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": pre_stop_s}}}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}},
    }  # fmt: skip
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": labels,
                 "ports": [{"name": "http", "port": 8080, "targetPort": 3000}]},
    }  # fmt: skip
    return [deployment, service]


def backend(service: str, port: int | str = 8080) -> dict:
    ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {"service": {"name": service, "port": ref}}


def rule(host: str, *paths: tuple[str, str, str], port: int | str = 8080) -> dict:
    """A host rule; paths as (path, pathType, service)."""
    return {"host": host, "http": {"paths": [
        {"path": p, "pathType": t, "backend": backend(s, port)} for p, t, s in paths
    ]}}  # fmt: skip


def ingress(ns: str, name: str, **spec: Any) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}  # fmt: skip


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


DEFAULT_NS, HOSTS_NS, PATHS_NS, CLASS_NS, NGINX_NS = (
    "conformance-default-backend", "conformance-host-rules", "conformance-path-rules",
    "conformance-ingress-class", "conformance-nginx",
)  # fmt: skip
PATH_SERVICES = ("foo-exact", "foo-prefix", "aaa-slash-bbb-prefix", "aaa-prefix",
                 "aaa-slash-bbb-slash-prefix", "foo-slash-exact")  # fmt: skip


def default_backend_objects(replicas: int = 1) -> list[dict]:
    return echo(DEFAULT_NS, "echo-service", "default-backend", replicas)


CATCH_ALL = ingress(DEFAULT_NS, "default-backend", defaultBackend=backend("echo-service"))


def host_rules_objects() -> list[dict]:
    return [
        *echo(HOSTS_NS, "wildcard-foo-com", "host-rules"),
        *echo(HOSTS_NS, "foo-bar-com", "host-rules"),
        ingress(HOSTS_NS, "host-rules",
                tls=[{"hosts": ["foo.bar.com"], "secretName": "conformance-tls"}],
                rules=[rule("*.foo.com", ("/", "Prefix", "wildcard-foo-com"), port=8080),
                       rule("foo.bar.com", ("/", "Prefix", "foo-bar-com"), port="http")]),
    ]  # fmt: skip


def path_rules_objects() -> list[dict]:
    return [
        *(o for name in PATH_SERVICES for o in echo(PATHS_NS, name, "path-rules")),
        ingress(PATHS_NS, "path-rules", rules=[
            rule("exact-path-rules", ("/foo", "Exact", "foo-exact")),
            rule("prefix-path-rules", ("/foo", "Prefix", "foo-prefix"),
                 ("/aaa/bbb", "Prefix", "aaa-slash-bbb-prefix"), ("/aaa", "Prefix", "aaa-prefix")),
            rule("mixed-path-rules", ("/foo", "Prefix", "foo-prefix"),
                 ("/foo", "Exact", "foo-exact")),
            rule("trailing-slash-path-rules",
                 ("/aaa/bbb/", "Prefix", "aaa-slash-bbb-slash-prefix"),
                 ("/foo/", "Exact", "foo-slash-exact")),
        ]),
    ]  # fmt: skip


def ingress_class_objects() -> list[dict]:
    return [
        *echo(CLASS_NS, "echo-class", "ingress-class"),
        ingress(CLASS_NS, "ingress-class", ingressClassName="some-invalid-class-name",
                rules=[rule("ingress-class.example", ("/", "Prefix", "echo-class"))]),
    ]  # fmt: skip


def churn(replicas: int) -> list[dict]:
    return echo(NGINX_NS, "churn", "nginx", replicas, pre_stop_s=PRE_STOP_S)


def nginx_objects() -> list[dict]:
    """ingress-nginx behaviours: headers, 503s, an endpoint change under load."""
    return [
        *echo(NGINX_NS, "headers", "nginx"),
        *echo(NGINX_NS, "no-endpoints", "nginx", replicas=0),
        *churn(replicas=3),
        ingress(NGINX_NS, "nginx", rules=[
            rule("headers.example", ("/", "Prefix", "headers")),
            rule("no-endpoints.example", ("/", "Prefix", "no-endpoints")),
            rule("no-service.example", ("/", "Prefix", "does-not-exist")),
            rule("churn.example", ("/", "Prefix", "churn")),
        ]),
    ]  # fmt: skip


# --- the lab ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(cluster: Any) -> Any:
    """The module's lab with the ingress addon and every feature's objects, converged."""
    namespaces = [DEFAULT_NS, HOSTS_NS, PATHS_NS, CLASS_NS, NGINX_NS]
    cluster.apply([namespace(n) for n in namespaces])
    cluster.tls_secret("conformance-tls", ["foo.bar.com"], HOSTS_NS)
    objects = [*default_backend_objects(), *host_rules_objects(), *path_rules_objects(),
               *ingress_class_objects(), *nginx_objects()]  # fmt: skip
    cluster.apply(objects)  # the pods start while the controller does
    lifecycle.enable_addon("ingress", progress=lambda *_: None)
    cluster.apply(objects, wait=True)  # unchanged now: waits for their rollout
    return cluster


@pytest.fixture(scope="module")
def address(lab: Any) -> str:
    """The controller's LoadBalancer address, once the served Ingresses carry it."""
    svc = lab.get("services", "ingress-nginx-controller", CONTROLLER_NS)
    ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
    for ns, name in [(HOSTS_NS, "host-rules"), (PATHS_NS, "path-rules"), (NGINX_NS, "nginx")]:
        wait_for(f"{ns}/{name}'s address", lambda ns=ns, name=name: ingress_ip(lab, ns, name))
    return ip


def ingress_ip(lab: Any, ns: str, name: str) -> str:
    status = lab.get("ingresses", name, ns).get("status") or {}
    return ((status.get("loadBalancer") or {}).get("ingress") or [{}])[0].get("ip", "")


def wait_for(what: str, check: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (got := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)
    return got


def probe(lab: Any, address: str, requests: list[dict], **job: Any) -> dict:
    """Run the requests from the client host; {"results": [...], ...}."""
    argv = ["python3", "-c", PROBE, json.dumps({"address": address, "requests": requests, **job})]
    out = lab.host("client", *argv)
    assert out.returncode == 0, out
    return json.loads(out.stdout)


def get(lab: Any, address: str, host: str | None, path: str = "/", **request: Any) -> dict:
    return probe(lab, address, [{"host": host, "path": path, **request}])["results"][0]


def echoed(result: dict) -> dict:
    """The echo server's JSON (the request as the pod saw it, and who the pod is)."""
    assert result["status"] == 200, result
    return json.loads(result["body"])


def header(result: dict, name: str) -> str:
    return next((v for k, v in result["headers"] if k.lower() == name.lower()), "")


def controller_pod(lab: Any) -> str:
    selector = "app.kubernetes.io/name=ingress-nginx"
    return lab.get("pods", namespace=CONTROLLER_NS, selector=selector)[0]["metadata"]["name"]


def controller_log(lab: Any) -> str:
    return lab.logs(controller_pod(lab), namespace=CONTROLLER_NS)


def controller_conf(lab: Any) -> str:
    """The nginx.conf the controller rendered (as `labkit exec -n ingress-nginx POD -- cat`)."""
    return lab.exec(controller_pod(lab), "cat", "/etc/nginx/nginx.conf",
                    namespace=CONTROLLER_NS).stdout  # fmt: skip


# --- default_backend.feature and load_balancing.feature ---------------------------------------
@pytest.fixture(scope="class")
def catch_all(lab: Any, address: str) -> Any:
    """The suite's catch-all Ingress, for one class: with it no host is unmatched."""
    lab.apply(CATCH_ALL, wait=True)
    wait_for("the catch-all's address", lambda: ingress_ip(lab, DEFAULT_NS, "default-backend"))
    yield
    lab.delete("ingresses", "default-backend", DEFAULT_NS)
    lab.apply(default_backend_objects(replicas=1))
    lab.wait()


@pytest.mark.usefixtures("catch_all")
class TestDefaultBackend:
    def test_every_method_host_and_path_reaches_the_default_backend(
        self, lab: Any, address: str
    ) -> None:
        requests = [
            {"method": method, "host": host, "path": path}
            for method in ("GET", "POST", "PUT", "DELETE", "PATCH")
            for host in ("my-host", "some-host", None)
            for path in ("/", "/sub-path", "/resource")
        ]
        for req, result in zip(requests, probe(lab, address, requests)["results"], strict=True):
            seen = echoed(result)
            assert (seen["service"], seen["ingress"], seen["namespace"]) == (
                "echo-service", "default-backend", DEFAULT_NS), (req, seen)  # fmt: skip
            assert (seen["method"], seen["path"], seen["proto"]) == (
                req["method"], req["path"], "HTTP/1.1"), (req, seen)  # fmt: skip
            assert seen["host"] == (req["host"] or address)
            assert seen["pod"].startswith("echo-service-")
            assert result["version"] == 11  # HTTP/1.1
            for name in ("Content-Length", "Content-Type", "Date", "Server"):
                assert header(result, name), (name, result["headers"])

    def test_ten_replicas_share_a_hundred_requests(self, lab: Any, address: str) -> None:
        lab.apply(default_backend_objects(replicas=10), wait=True)
        requests = [{"host": "load-balancing", "path": "/"}] * 100
        results = probe(lab, address, requests)["results"]
        assert [r["status"] for r in results] == [200] * 100
        pods = Counter(echoed(r)["pod"] for r in results)
        assert len(pods) == 10, pods


# --- host_rules.feature ------------------------------------------------------------------------
def test_host_rules(lab: Any, address: str) -> None:
    ca = lab.ca_file()
    cases = [  # (request, status, service)
        ({"host": "foo.bar.com", "scheme": "https", "sni": "foo.bar.com", "cafile": ca},
         200, "foo-bar-com"),
        ({"host": "bar.foo.com", "scheme": "https", "sni": "bar.foo.com"}, 200, "wildcard-foo-com"),
        ({"host": "baz.bar.foo.com"}, 404, ""),
        ({"host": "foo.com"}, 404, ""),
        ({"host": "subdomain.bar.com"}, 404, ""),
    ]  # fmt: skip
    results = probe(lab, address, [req for req, _, _ in cases])["results"]
    for (req, status, service), result in zip(cases, results, strict=True):
        assert result["status"] == status, (req, result)
        if service:
            assert echoed(result)["service"] == service, req
    tls = results[0]
    assert tls["sans"] == ["foo.bar.com"]  # verified against the lab CA: the Secret's certificate
    hsts = header(tls, "Strict-Transport-Security")
    assert hsts == "max-age=31536000; includeSubDomains"


def test_http_to_a_tls_host_is_redirected_with_308(lab: Any, address: str) -> None:
    results = probe(lab, address, [
        {"host": "foo.bar.com", "path": "/app?x=1"},
        {"host": "bar.foo.com", "path": "/"},  # the Ingress's other host has the default cert
    ])["results"]  # fmt: skip
    assert results[0]["status"] == 308
    assert header(results[0], "Location") == "https://foo.bar.com/app?x=1"
    assert results[1]["status"] == 308
    assert header(results[1], "Location") == "https://bar.foo.com"  # one trailing / dropped


def test_the_served_certificate_seen_with_curl(lab: Any, address: str) -> None:
    out = lab.host("client", "curl", "-sv", "--cacert", lab.ca_file(),
                   "--resolve", f"foo.bar.com:443:{address}", "https://foo.bar.com/")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert 'subjectAltName: host "foo.bar.com" matched cert\'s "foo.bar.com"' in out.stderr
    assert "SSL certificate verify ok" in out.stderr
    assert json.loads(out.stdout)["service"] == "foo-bar-com"


# --- path_rules.feature ------------------------------------------------------------------------
PATH_RULES = [  # (host, path, service or None for 404)
    ("exact-path-rules", "/foo", "foo-exact"),
    ("exact-path-rules", "/foo/", None),
    ("exact-path-rules", "/FOO", None),
    ("exact-path-rules", "/bar", None),
    ("prefix-path-rules", "/foo", "foo-prefix"),
    ("prefix-path-rules", "/foo/", "foo-prefix"),
    ("prefix-path-rules", "/foo/bar", "foo-prefix"),
    ("prefix-path-rules", "/foobar", None),
    ("prefix-path-rules", "/FOO", None),
    ("prefix-path-rules", "/aaa/bbb", "aaa-slash-bbb-prefix"),
    ("prefix-path-rules", "/aaa/bbb/ccc", "aaa-slash-bbb-prefix"),
    ("prefix-path-rules", "/aaa/bbbxyz", "aaa-prefix"),
    ("prefix-path-rules", "/aaa/ccc", "aaa-prefix"),
    ("prefix-path-rules", "/aaaccc", None),
    ("mixed-path-rules", "/foo", "foo-exact"),
    ("mixed-path-rules", "/foo/", "foo-prefix"),
    ("mixed-path-rules", "/foo/x", "foo-prefix"),
    ("trailing-slash-path-rules", "/aaa/bbb", "aaa-slash-bbb-slash-prefix"),
    ("trailing-slash-path-rules", "/aaa/bbb/", "aaa-slash-bbb-slash-prefix"),
    ("trailing-slash-path-rules", "/aaa/bbb/ccc", "aaa-slash-bbb-slash-prefix"),
    ("trailing-slash-path-rules", "/foo/", "foo-slash-exact"),
    ("trailing-slash-path-rules", "/foo", None),
]


def test_path_rules(lab: Any, address: str) -> None:
    results = probe(lab, address, [{"host": h, "path": p} for h, p, _ in PATH_RULES])["results"]
    got = [
        (h, p, echoed(r)["service"] if r["status"] == 200 else r["status"])
        for (h, p, _), r in zip(PATH_RULES, results, strict=True)
    ]
    assert got == [(h, p, s or 404) for h, p, s in PATH_RULES]
    for (_, p, service), r in zip(PATH_RULES, results, strict=True):
        if service:
            assert echoed(r)["path"] == p  # the path reaches the pod as it was sent


# --- ingress_class.feature ---------------------------------------------------------------------
def test_an_unknown_class_gets_no_address_and_is_not_served(lab: Any, address: str) -> None:
    lab.wait()  # the controller has seen everything (and has given the others their address)
    assert ingress_ip(lab, PATHS_NS, "path-rules") == address
    assert ingress_ip(lab, CLASS_NS, "ingress-class") == ""
    assert get(lab, address, "ingress-class.example")["status"] == 404
    assert "ingress-class.example" not in controller_conf(lab)


# --- ingress-nginx: default backend, 503, headers ----------------------------------------------
def test_nothing_matches_404_from_the_default_backend(lab: Any, address: str) -> None:
    for host in ("nothing.example", None):
        result = get(lab, address, host, "/anything")
        assert result["status"] == 404, result
        assert "404 Not Found" in result["body"]


def test_503_without_ready_endpoints_or_without_service(lab: Any, address: str) -> None:
    results = probe(lab, address, [
        {"host": "no-endpoints.example"}, {"host": "no-service.example"},
    ])["results"]  # fmt: skip
    assert [r["status"] for r in results] == [503, 503], results


def test_forwarded_headers(lab: Any, address: str) -> None:
    result = get(lab, address, "headers.example", "/h?q=1",
                 headers={"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"})  # fmt: skip
    seen = echoed(result)["headers"]
    # externalTrafficPolicy Local keeps the client's address; incoming X-Forwarded-For is
    # not trusted (use-forwarded-headers is false by default)
    assert seen["X-Forwarded-For"] == [CLIENT_IP]
    assert seen["X-Real-Ip"] == [CLIENT_IP]
    assert seen["X-Forwarded-Host"] == ["headers.example"]
    assert seen["X-Forwarded-Proto"] == ["http"]
    assert seen["X-Forwarded-Port"] == ["80"]
    assert len(seen["X-Request-Id"][0]) == 32 and int(seen["X-Request-Id"][0], 16) >= 0
    https = get(lab, address, "foo.bar.com", scheme="https", sni="foo.bar.com")
    seen = echoed(https)["headers"]
    assert (seen["X-Forwarded-Proto"], seen["X-Forwarded-Port"]) == (["https"], ["443"])


# --- an endpoint change while requests flow ----------------------------------------------------
def test_no_failed_request_while_endpoints_change(lab: Any, address: str) -> None:
    """A pod deleted and the Deployment scaled from 3 to 1 while the client loops; the loop
    ends once the pods that went are gone (stopped after their preStop, addresses freed)."""
    job = {"address": address, "loop": {"host": "churn.example"}, "max_s": 60}
    argv = host_argv("client", ["python3", "-c", PROBE, json.dumps(job)])
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        before = lab.get("pods", namespace=NGINX_NS, selector="app=churn")
        lab.delete("pods", before[0]["metadata"]["name"], NGINX_NS)
        lab.apply(churn(replicas=1), wait=True)
        wait_for("one churn pod left", lambda: len(churn_pods(lab)) == 1, timeout_s=PRE_STOP_S + 20)
        lab.wait()
        out, _ = proc.communicate("", timeout=30)  # closing stdin ends the loop
    finally:
        if proc.poll() is None:
            proc.kill()
    loop = json.loads(out)
    assert loop["failed"] == [], (loop["failed"][:5], controller_log(lab)[-3000:])
    assert loop["count"] >= 20, loop
    assert len(loop["pods"]) >= 2, loop  # it did go to several pods
    assert loop["slowest"] < 2.0, loop  # none waited out a connect to a pod that was gone


def churn_pods(lab: Any) -> list[dict]:
    """The churn pods, those being deleted included."""
    return list(lab.get("pods", namespace=NGINX_NS, selector="app=churn"))


# --- slow and malformed clients ----------------------------------------------------------------
MALFORMED = [
    "GARBAGE\r\n\r\n",
    "GET / HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
    "GET / HTTP/1.1\r\nHost: headers.example\r\nno colon here\r\n\r\n",
    "GET /\x00 HTTP/1.1\r\nHost: headers.example\r\n\r\n",
    f"GET / HTTP/1.1\r\nHost: headers.example\r\nX-Big: {'a' * 20000}\r\n\r\n",
]


def test_slow_and_malformed_clients_do_not_disturb_others(lab: Any, address: str) -> None:
    normal = [{"host": "headers.example", "path": f"/n{i}"} for i in range(20)]
    garbage = [{"raw": r} for r in MALFORMED]
    out = probe(lab, address, [*normal[:10], *garbage, *normal[10:]], hold=50)
    results = out["results"]
    good = results[:10] + results[10 + len(garbage) :]
    assert [r["status"] for r in good] == [200] * 20
    # quick: a slow client holds only its own connection (nginx would wait 60 s for its header)
    assert max(r["seconds"] for r in good) < 2.0, [r["seconds"] for r in good]
    bad = results[10 : 10 + len(garbage)]
    assert [r["status"] for r in bad] == [400] * len(garbage), [r.get("status_line") for r in bad]
    assert out["held_open"] == 50  # the slow clients wait on their own, nothing else does
