"""TLS: which certificate a host gets (ingress-nginx createServers), SNI vs Host, the 308
redirect and HSTS (lua_ingress.lua, docs/user-guide/tls.md)."""

from __future__ import annotations

import pytest
from ingress_objects import backed, config, ingress, key_and_cert, path, rule, tls_secret

from lab_kit.render.ingress import DEFAULT_CERTIFICATE, Settings, render_nginx, route


def _tls_ingress(
    *secrets: dict, tls: list[dict] | None = None, annotations: dict | None = None
) -> object:
    return config(
        ingress(
            "shop",
            rule("shop.example", path("/", "Prefix", "web")),
            rule("blog.example", path("/", "Prefix", "web")),
            tls=tls if tls is not None else [{"hosts": ["shop.example"], "secretName": "shop-tls"}],
            annotations=annotations,
        ),
        *secrets,
        *backed("web"),
    )


def test_a_valid_secret_serves_its_host_and_hsts_is_sent() -> None:
    c = _tls_ingress(tls_secret("shop-tls", "shop.example"))
    decision = route(c, host="shop.example", path="/", scheme="https")
    assert (decision.status, decision.certificate) == (200, "default/shop-tls")
    assert decision.hsts == "max-age=31536000; includeSubDomains"
    assert c.server("shop.example").tls.pem.startswith(b"-----BEGIN CERTIFICATE-----")  # type: ignore[union-attr]
    rendered = render_nginx(c, prefix="/run/ing")
    assert rendered.files["ssl/default-shop-tls.pem"] == c.server("shop.example").tls.pem  # type: ignore[union-attr]
    assert "ssl_certificate /run/ing/ssl/default-shop-tls.pem;" in rendered.conf


@pytest.mark.parametrize(
    ("secrets", "problem"),
    [
        ([], "Secret default/shop-tls not found"),
        ([tls_secret("shop-tls", "other.example")], "does not cover shop.example"),
        (
            [tls_secret("shop-tls", "shop.example", key=key_and_cert(("x.example",))[1])],
            "private key does not match",
        ),
        ([tls_secret("shop-tls", "shop.example", cert=b"not a pem")], "CERTIFICATE"),
    ],
)
def test_a_bad_secret_falls_back_to_the_default_certificate(secrets: list, problem: str) -> None:
    c = _tls_ingress(*secrets)
    decision = route(c, host="shop.example", path="/", scheme="https")
    assert (decision.status, decision.certificate) == (200, DEFAULT_CERTIFICATE)
    assert decision.hsts == ""  # only with a configured certificate
    assert any(problem in p for p in c.problems), c.problems
    assert route(c, host="shop.example", path="/").status == 308  # still a TLS host


def test_a_wildcard_certificate_covers_one_label() -> None:
    c = config(
        ingress(
            "w",
            rule("a.wild.example", path("/", "Prefix", "web")),
            rule("a.b.wild.example", path("/", "Prefix", "web")),
            tls=[{"hosts": ["a.wild.example", "a.b.wild.example"], "secretName": "wild"}],
        ),
        tls_secret("wild", "*.wild.example"),
        *backed("web"),
    )
    assert route(c, host="a.wild.example", path="/", scheme="https").certificate == "default/wild"
    assert (
        route(c, host="a.b.wild.example", path="/", scheme="https").certificate
        == DEFAULT_CERTIFICATE
    )


def test_a_secret_of_another_entry_is_used_when_its_certificate_covers_the_host() -> None:
    c = _tls_ingress(tls_secret("shop-tls", "shop.example", "blog.example"))
    assert route(c, host="blog.example", path="/", scheme="https").certificate == "default/shop-tls"


def test_sni_picks_the_certificate_and_host_the_route() -> None:
    c = _tls_ingress(tls_secret("shop-tls", "shop.example"))
    decision = route(c, host="blog.example", path="/", scheme="https", sni="shop.example")
    assert (decision.server, decision.certificate) == ("blog.example", "default/shop-tls")
    assert (
        route(c, host="shop.example", path="/", scheme="https", sni="").certificate
        == DEFAULT_CERTIFICATE
    )


def test_the_redirect_to_https() -> None:
    c = _tls_ingress(tls_secret("shop-tls", "shop.example"))
    assert (
        route(c, host="shop.example", path="/").status,
        route(c, host="shop.example", path="/").redirect,
    ) == (
        308,
        "https://shop.example",
    )
    assert (
        route(c, host="shop.example:80", path="/a/b/?x=1").redirect
        == "https://shop.example/a/b/?x=1"
    )
    assert route(c, host="shop.example", path="/a/b/").redirect == "https://shop.example/a/b"
    # no TLS at all for a host of an Ingress without a tls section
    plain = config(ingress("p", rule("p.example", path("/", "Prefix", "web"))), *backed("web"))
    assert route(plain, host="p.example", path="/").status == 200
    assert (
        route(plain, host="p.example", path="/", scheme="https").certificate == DEFAULT_CERTIFICATE
    )


def test_ssl_redirect_false_and_force_ssl_redirect() -> None:
    c = _tls_ingress(tls_secret("shop-tls", "shop.example"), annotations={"ssl-redirect": "false"})
    assert route(c, host="shop.example", path="/").status == 200
    forced = config(
        ingress(
            "f",
            rule("forcesslredirect.bar.com", path("/", "Prefix", "web")),
            annotations={"force-ssl-redirect": "true"},
        ),
        *backed("web"),
    )
    decision = route(forced, host="forcesslredirect.bar.com", path="/")
    assert (decision.status, decision.redirect) == (308, "https://forcesslredirect.bar.com")
    code = route(
        config(*_forced_objects(), settings=Settings(http_redirect_code=301)),
        host="f.example",
        path="/x",
    )
    assert code.status == 301


def _forced_objects() -> list:
    return [
        ingress(
            "f",
            rule("f.example", path("/", "Prefix", "web")),
            annotations={"force-ssl-redirect": "true"},
        ),
        *backed("web"),
    ]


def test_rendered_tls_servers() -> None:
    conf = render_nginx(_tls_ingress(tls_secret("shop-tls", "shop.example")), prefix="/p").conf
    shop = conf.split("## server shop.example")[1].split("## server")[0]
    blog = conf.split("## server blog.example")[1].split("## server")[0]
    assert "if ($scheme = http) { return 308 https://$redirect_host$redirect_uri; }" in shop
    assert "add_header Strict-Transport-Security $hsts_header always;" in shop
    assert "Strict-Transport-Security" not in blog and "ssl_certificate" not in blog
    assert "listen 443 ssl default_server;" in conf and "ssl_certificate /p/default.crt;" in conf
