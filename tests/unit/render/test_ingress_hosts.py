"""Hosts, classes, defaultBackend and merging: conformance host_rules / default_backend /
ingress_class, and ingress-nginx's merge of several Ingresses per host."""

from __future__ import annotations

import pytest
from ingress_objects import (
    backed,
    backend,
    config,
    endpoint_slice,
    ingress,
    ingress_class,
    path,
    rule,
    service,
    tls_secret,
)

from lab_kit.render.ingress import CATCH_ALL, Settings, route, serves
from lab_kit.render.ingress.match import host_matches


def _host_rules() -> list:
    """conformance features/host_rules.feature."""
    return [
        tls_secret("conformance-tls", "foo.bar.com"),
        ingress(
            "host-rules",
            rule("*.foo.com", path("/", "Prefix", "wildcard-foo-com", 8080)),
            rule("foo.bar.com", path("/", "Prefix", "foo-bar-com", "http")),
            tls=[{"hosts": ["foo.bar.com"], "secretName": "conformance-tls"}],
        ),
        endpoint_slice("wildcard-foo-com", "10.244.1.7"),
        *backed("foo-bar-com", port_name="http"),
    ]


@pytest.mark.parametrize(
    ("host", "scheme", "status", "service"),
    [
        ("foo.bar.com", "https", 200, "foo-bar-com"),
        ("foo.bar.com", "http", 308, "foo-bar-com"),  # conformance follows the redirect
        ("subdomain.bar.com", "http", 404, ""),
        # The Ingress has a tls section: ingress-nginx gives all its hosts a certificate (the
        # default one here) and so redirects them; conformance follows redirects.
        ("bar.foo.com", "http", 308, "wildcard-foo-com"),
        ("bar.foo.com", "https", 200, "wildcard-foo-com"),
        ("baz.bar.foo.com", "http", 404, ""),
        ("foo.com", "http", 404, ""),
    ],
)
def test_conformance_host_rules(host: str, scheme: str, status: int, service: str) -> None:
    c = config(*_host_rules(), service_8080())
    decision = route(c, host=host, path="/", scheme=scheme)
    assert (decision.status, decision.service) == (status, service)


def service_8080() -> dict:
    """wildcard-foo-com is addressed by port number 8080 in the Ingress."""
    return service("wildcard-foo-com", (8080, 8080, ""))


def test_the_wildcard_is_one_label_in_the_spec_and_in_nginx() -> None:
    for host, expected in [
        ("bar.foo.com", True),
        ("baz.bar.foo.com", False),
        ("foo.com", False),
        (".foo.com", False),
    ]:
        assert host_matches("*.foo.com", host) is expected
    c = config(*_host_rules(), service_8080())
    server = c.server("*.foo.com")
    assert route(c, host="BAR.foo.com:80", path="/").server == "*.foo.com"
    assert route(c, host="baz.bar.foo.com", path="/").server == CATCH_ALL
    assert server.nginx[0].location.service == "wildcard-foo-com"


def test_host_is_matched_without_port_and_case() -> None:
    c = config(*_host_rules(), service_8080())
    assert route(c, host="FOO.BAR.COM:8443", path="/", scheme="https").service == "foo-bar-com"


# --- conformance features/default_backend.feature ---------------------------------------------
@pytest.mark.parametrize("host", ["my-host", "some-host", ""])
@pytest.mark.parametrize("request_path", ["/", "/sub-path", "/resource"])
def test_an_ingress_with_only_a_default_backend_takes_everything(
    host: str, request_path: str
) -> None:
    c = config(
        ingress("default-backend", default=backend("echo-service", 8080)),
        *backed_8080("echo-service"),
    )
    decision = route(c, host=host, path=request_path)
    assert (decision.status, decision.service, decision.ingress) == (
        200,
        "echo-service",
        "default/default-backend",
    )
    assert decision.upstream_uri == request_path
    assert c.default_backend.service == "echo-service"


def backed_8080(name: str) -> list:
    return [service(name, (8080, 8080, "")), endpoint_slice(name, "10.244.1.20")]


def test_without_default_backend_unmatched_requests_get_404() -> None:
    c = config(ingress("web", rule("web.example", path("/app", "Prefix", "web"))), *backed("web"))
    assert route(c, host="other.example", path="/app").status == 404
    assert route(c, host="web.example", path="/other").status == 404
    assert "default backend answers 404" in route(c, host="web.example", path="/other").why[-1]


def test_a_host_without_a_matching_path_falls_to_its_ingress_default_backend() -> None:
    c = config(
        ingress(
            "web", rule("web.example", path("/app", "Prefix", "web")), default=backend("fallback")
        ),
        *backed("web"),
        *backed("fallback"),
    )
    decision = route(c, host="web.example", path="/other")
    assert (decision.status, decision.service, decision.path) == (200, "fallback", "")
    # An Ingress with rules does not become the catch-all (ingress-nginx: only rule-less ones).
    assert route(c, host="other.example", path="/").status == 404


def test_the_oldest_rule_less_ingress_is_the_catch_all() -> None:
    c = config(
        ingress("young", default=backend("b"), created="2024-02-01T00:00:00Z"),
        ingress("old", default=backend("a"), created="2024-01-01T00:00:00Z"),
        *backed("a"),
        *backed("b"),
    )
    assert route(c, host="x", path="/").service == "a"


def test_rules_without_host_serve_hosts_that_have_no_server_of_their_own() -> None:
    c = config(
        ingress("any", rule(None, path("/api", "Prefix", "api"))),
        ingress("web", rule("web.example", path("/", "Prefix", "web"))),
        *backed("api"),
        *backed("web"),
    )
    assert route(c, host="anything", path="/api").service == "api"
    # ingress-nginx puts host-less rules in the catch-all server only.
    assert route(c, host="web.example", path="/api").service == "web"


# --- classes: conformance features/ingress_class.feature --------------------------------------
def test_classes() -> None:
    classes = [ingress_class("nginx"), ingress_class("other", "example.com/other")]
    s = Settings()
    assert serves(ingress("a", class_name="nginx"), classes, s)[0]
    assert not serves(ingress("a", class_name="other"), classes, s)[0]
    assert not serves(ingress("a", class_name="some-invalid-class-name"), classes, s)[0]
    assert serves(ingress("a", annotations={"kubernetes.io/ingress.class": "nginx"}), classes, s)[0]
    assert not serves(
        ingress("a", annotations={"kubernetes.io/ingress.class": "traefik"}), classes, s
    )[0]
    assert serves(ingress("a"), classes, s)[0]
    assert not serves(ingress("a"), classes, Settings(watch_without_class=False))[0]
    # spec.ingressClassName wins over the annotation, as in ingress-nginx.
    annotated = ingress(
        "a", class_name="other", annotations={"kubernetes.io/ingress.class": "nginx"}
    )
    assert not serves(annotated, classes, s)[0]


def test_an_ingress_of_an_unknown_class_is_not_routed() -> None:
    c = config(
        ingress_class("nginx"),
        ingress(
            "elsewhere",
            rule("x.example", path("/", "Prefix", "web")),
            class_name="some-invalid-class-name",
        ),
        *backed("web"),
    )
    assert c.served == ()
    assert c.ignored[0][0] == "default/elsewhere" and "names no IngressClass" in c.ignored[0][1]
    assert route(c, host="x.example", path="/").status == 404


# --- merging ----------------------------------------------------------------------------------
def test_ingresses_for_one_host_merge_and_the_oldest_keeps_a_shared_path() -> None:
    c = config(
        ingress(
            "b-new",
            rule("shop.example", path("/cart", "Prefix", "new"), path("/pay", "Prefix", "pay")),
            created="2024-03-01T00:00:00Z",
        ),
        ingress(
            "a-old",
            rule("shop.example", path("/cart", "Prefix", "old")),
            created="2024-01-01T00:00:00Z",
        ),
        *backed("new"),
        *backed("old"),
        *backed("pay"),
    )
    assert [s.host for s in c.servers].count("shop.example") == 1
    assert route(c, host="shop.example", path="/cart").service == "old"
    assert route(c, host="shop.example", path="/pay").service == "pay"
    assert any("already served by Ingress default/a-old" in p for p in c.problems)


def test_same_timestamp_ties_go_to_the_greater_namespace_name_as_ingress_nginx_sorts() -> None:
    c = config(
        ingress("aaa", rule("t.example", path("/", "Prefix", "one"))),
        ingress("zzz", rule("t.example", path("/", "Prefix", "two"))),
        *backed("one"),
        *backed("two"),
    )
    assert c.served == ("default/zzz", "default/aaa")
    assert route(c, host="t.example", path="/").service == "two"


def test_a_rule_slash_replaces_the_host_fallback() -> None:
    c = config(
        ingress("first", rule("h.example", path("/a", "Prefix", "a"))),
        ingress(
            "second", rule("h.example", path("/", "Prefix", "root")), created="2024-05-01T00:00:00Z"
        ),
        *backed("a"),
        *backed("root"),
    )
    assert route(c, host="h.example", path="/zzz").service == "root"


def test_an_invalid_permanent_redirect_drops_the_whole_ingress() -> None:
    c = config(
        ingress(
            "bad",
            rule("b.example", path("/", "Prefix", "web")),
            annotations={"permanent-redirect": "https://x.example/a b%"},
        ),
        *backed("web"),
    )
    assert c.served == ()
    assert "leaves the whole Ingress out" in c.ignored[0][1]
