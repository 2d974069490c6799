"""nginx.ingress.kubernetes.io annotations: parsing as ingress-nginx does, and their effect."""

from __future__ import annotations

from ingress_objects import backed, config, ingress, path, rule

from lab_kit.render.ingress import Settings, render_nginx, route
from lab_kit.render.ingress.annotations import Cookie, Rejected, parse


def test_defaults_and_unknown_annotations() -> None:
    parsed = parse(
        ingress("a", annotations={"whatever-this-is": "1", "ssl-redirect": "False"}), Settings()
    )
    assert (parsed.ssl_redirect, parsed.force_ssl_redirect, parsed.affinity, parsed.problems) == (
        False,
        False,
        None,
        (),
    )


def test_invalid_values_are_ignored_with_a_problem() -> None:
    parsed = parse(
        ingress(
            "a", annotations={"ssl-redirect": "yes", "rewrite-target": "/a b?", "affinity": "ip"}
        ),
        Settings(),
    )
    assert parsed.ssl_redirect is True and parsed.rewrite_target == "" and parsed.affinity is None
    assert len(parsed.problems) == 3


def test_permanent_redirect() -> None:
    notes = {"permanent-redirect": "https://www.example.com/new"}
    c = config(
        ingress("r", rule("old.example", path("/", "Prefix", "web")), annotations=notes),
        *backed("web"),
    )
    decision = route(c, host="old.example", path="/anything")
    assert (decision.status, decision.redirect) == (301, "https://www.example.com/new")
    assert "return 301 https://www.example.com/new;" in render_nginx(c, prefix="/p").conf
    assert (
        parse(
            ingress("a", annotations={**notes, "permanent-redirect-code": "308"}), Settings()
        ).permanent_redirect_code
        == 308
    )
    assert (
        parse(
            ingress("a", annotations={**notes, "permanent-redirect-code": "404"}), Settings()
        ).permanent_redirect_code
        == 301
    )
    try:
        parse(ingress("a", annotations={**notes, "permanent-redirect-code": "abc"}), Settings())
    except Rejected:
        pass
    else:
        raise AssertionError("a non-integer code makes ingress-nginx drop the Ingress")


def test_rewrite_target_with_captures_makes_the_host_regex() -> None:
    notes = {"use-regex": "true", "rewrite-target": "/$2"}
    c = config(
        ingress(
            "rw",
            rule("rewrite.bar.com", path("/something(/|$)(.*)", "ImplementationSpecific", "web")),
            annotations=notes,
        ),
        ingress(
            "plain",
            rule("rewrite.bar.com", path("/other", "Exact", "web")),
            created="2024-02-01T00:00:00Z",
        ),
        *backed("web"),
    )
    server = c.server("rewrite.bar.com")
    assert server.regex and [b.text for b in server.nginx] == [
        '~* "^/something(/|$)(.*)"',
        '~* "^/other"',
        '~* "^/"',
    ]
    assert route(c, host="rewrite.bar.com", path="/something").upstream_uri == "/"
    assert route(c, host="rewrite.bar.com", path="/something/new?x=1").upstream_uri == "/new?x=1"
    assert route(c, host="rewrite.bar.com", path="/SOMETHING/new").upstream_uri == "/new"
    # Every path of the host is now a case-insensitive regex prefix, Exact included.
    assert route(c, host="rewrite.bar.com", path="/OTHER/more").path == "/other"
    conf = render_nginx(c, prefix="/p").conf
    assert 'rewrite "(?i)/something(/|$)(.*)" /$2 break;' in conf
    assert 'set $location_path "/something(/|${literal_dollar})(.*)";' in conf


def test_cookie_affinity() -> None:
    notes = {
        "affinity": "cookie",
        "session-cookie-name": "route",
        "session-cookie-max-age": "172800",
        "session-cookie-secure": "true",
        "session-cookie-samesite": "Lax",
    }
    c = config(
        ingress(
            "s", rule("sticky.example", path("/something", "Prefix", "web")), annotations=notes
        ),
        *backed("web", "10.244.1.5", "10.244.2.5"),
    )
    upstream = c.upstream("default-web-80")
    assert upstream is not None and upstream.affinity == Cookie(
        name="route", secure=True, max_age="172800", samesite="Lax"
    )
    first = route(c, host="sticky.example", path="/something")
    assert (
        first.set_cookie
        == "route=<request id>; Max-Age=172800; Path=/something; Secure; HttpOnly; SameSite=Lax"
    )
    assert len(first.endpoints) == 2
    again = route(c, host="sticky.example", path="/something", cookies={"route": "abc"})
    assert again.set_cookie == "" and "same endpoint" in again.why[-1]
    conf = render_nginx(c, prefix="/p").conf
    assert "hash $ingress_affinity_0 consistent;" in conf
    assert '"~(^|;) *route=(?<ingress_cookie_0>[^;]+)" $ingress_cookie_0;' in conf
    assert (
        'default "route=$request_id; Max-Age=172800; Path=/something; Secure; HttpOnly; SameSite=Lax";'
        in conf
    )
    assert "add_header Set-Cookie $ingress_set_cookie_0 always;" in conf


def test_an_affinity_cookie_is_secure_on_https_without_the_annotation() -> None:
    c = config(
        ingress("s", rule("sticky.example", path("/", "Prefix", "web")),
                annotations={"affinity": "cookie"}),
        *backed("web", "10.244.1.5"),
    )  # fmt: skip
    plain = route(c, host="sticky.example", path="/")
    assert plain.set_cookie == "INGRESSCOOKIE=<request id>; Path=/; HttpOnly"
    secured = route(c, host="sticky.example", path="/", scheme="https")
    assert secured.set_cookie == "INGRESSCOOKIE=<request id>; Path=/; Secure; HttpOnly"
    conf = render_nginx(c, prefix="/p").conf
    assert 'map "$https|$http_cookie" $ingress_set_cookie_0 {' in conf
    assert '"~^on[|]" "INGRESSCOOKIE=$request_id; Path=/; Secure; HttpOnly";' in conf


def test_cookie_defaults() -> None:
    cookie = parse(
        ingress("a", annotations={"affinity": "cookie", "session-cookie-max-age": "x!"}), Settings()
    ).affinity
    assert cookie == Cookie()
