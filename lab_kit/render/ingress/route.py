"""route(): what the rendered nginx does with one request, and why, in plain English.

It walks the same `Server.nginx` location lists that render_nginx() writes, choosing as nginx
chooses (match.py), then applies what the chosen location does, in nginx's order:
`permanent-redirect` (a `return` of the rewrite module, so it comes first), the redirect to
https, the built-in 404, 503 for an upstream without ready endpoints, else the proxy to one
of the upstream's endpoints (after `rewrite-target`).

The client's TLS server name (`sni`, the Host's name when None, "" for a client that sends
none) picks the certificate; the Host header picks the route, as in nginx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab_kit.render.ingress.annotations import Cookie
from lab_kit.render.ingress.build import needs_rewrite
from lab_kit.render.ingress.match import normalize_uri, pcre, select_location, select_server
from lab_kit.render.ingress.model import (
    CATCH_ALL,
    DEFAULT_BACKEND,
    DEFAULT_CERTIFICATE,
    Config,
    Endpoint,
    Location,
    NginxLocation,
    Server,
)


@dataclass(frozen=True)
class Decision:
    status: int  # 200 = proxied to one of `endpoints` (the pod's own answer aside)
    server: str  # the nginx server (a rule host, or "_" the catch-all)
    ingress: str = ""  # namespace/name of the Ingress whose rule or defaultBackend served it
    rule_host: str = ""
    path: str = ""  # the Ingress path that matched ("" when none did)
    path_type: str = ""
    service: str = ""
    port: str = ""
    upstream: str = ""
    endpoints: tuple[Endpoint, ...] = ()  # the candidate pods
    location: str = ""  # the nginx location block, e.g. "= /foo"
    redirect: str = ""  # the Location header of a redirect
    certificate: str = ""  # https only: "namespace/name" of the Secret, or DEFAULT_CERTIFICATE
    upstream_uri: str = ""  # the request-target the pod receives
    hsts: str = ""  # the Strict-Transport-Security header sent, if any
    set_cookie: str = ""  # the affinity Set-Cookie sent (value shown as <request id>), if any
    why: tuple[str, ...] = ()


def route(
    config: Config,
    *,
    host: str,
    path: str,
    scheme: str = "http",
    sni: str | None = None,
    cookies: dict[str, str] | None = None,
) -> Decision:
    """What the data plane does with one request, and why (a list of plain-English lines)."""
    why: list[str] = []
    certificate = (
        _certificate(config, host if sni is None else sni, why) if scheme == "https" else ""
    )
    server = select_server(config.servers, host)
    why.append(_server_line(server, host))
    hsts = _hsts(config, server, scheme)
    uri = normalize_uri(path)
    if uri is None:
        return Decision(
            400,
            server.host,
            certificate=certificate,
            why=(*why, f"{path!r} is not a valid path: 400"),
        )
    block = select_location(server.nginx, uri)
    assert block is not None  # every server has a `/` location
    loc = block.location
    why.append(_location_line(block, uri))
    base = _base(server, block, certificate, hsts)
    redirect = _redirect(config, server, loc, scheme, host, path)
    if redirect is not None:
        status, target, line = redirect
        return Decision(status, **base, redirect=target, why=(*why, line))
    return _backend(config, block, path, uri, base, why, cookies or {})


def _base(server: Server, block: NginxLocation, certificate: str, hsts: str) -> dict:
    loc = block.location
    upstream = "" if loc.upstream == DEFAULT_BACKEND else loc.upstream
    return dict(
        server=server.host,
        ingress=loc.ingress,
        rule_host=loc.host,
        path="" if loc.is_default else loc.path,
        path_type="" if loc.is_default else loc.path_type,
        service=loc.service,
        port=loc.port,
        upstream=upstream,
        location=block.text,
        certificate=certificate,
        hsts=hsts,
    )


def _certificate(config: Config, name: str, why: list[str]) -> str:
    if not name:
        why.append("TLS: no server name (SNI) sent: the catch-all's default certificate")
        return DEFAULT_CERTIFICATE
    server = select_server(config.servers, name)
    tls = server.tls
    if tls is None:
        why.append(
            f"TLS: SNI {name} -> server {server.host}, which no Ingress gives a certificate: default"
        )
        return DEFAULT_CERTIFICATE
    why.append(f"TLS: SNI {name} -> server {server.host}: {tls.reason}")
    return tls.certificate


def _server_line(server: Server, host: str) -> str:
    if server.host == CATCH_ALL:
        return f"Host {host!r} matches no rule host: the catch-all server '_'"
    if server.host.startswith("*."):
        return f"Host {host!r} matches the wildcard rule host {server.host} (exactly one label)"
    return f"Host {host!r} matches the rule host {server.host}"


def _location_line(block: NginxLocation, uri: str) -> str:
    loc = block.location
    if loc.is_default and loc.ingress and loc.upstream != DEFAULT_BACKEND:
        return f"no rule path matches {uri}: the defaultBackend of Ingress {loc.ingress} (location {block.text})"
    if loc.is_default:
        return f"no rule path matches {uri}: the default backend (location {block.text})"
    read = (
        " (ingress-nginx reads ImplementationSpecific as Prefix)"
        if loc.path_type == "ImplementationSpecific"
        else ""
    )
    regex = (
        " (the host uses regex paths: case-insensitive, longest first)"
        if block.modifier == "~*"
        else ""
    )
    return f"{uri} matches {loc.path_type} {loc.path} of Ingress {loc.ingress}{read}{regex}: nginx location {block.text}"


def _hsts(config: Config, server: Server, scheme: str) -> str:
    """HSTS on https responses of hosts served with their own Secret's certificate, as
    ingress-nginx documents it. (Its lua_ingress.lua `header()` tests the function
    `certificate_configured_for_current_request` without calling it, so in fact it sends the
    header on every https response; lab_kit keeps the documented rule.)"""
    if scheme != "https" or not config.settings.hsts or server.tls is None or not server.tls.secret:
        return ""
    return config.settings.hsts_value()


def _redirect(
    config: Config, server: Server, loc: Location, scheme: str, host: str, target: str
) -> tuple[int, str, str] | None:
    notes = loc.annotations
    if notes.permanent_redirect:
        code = notes.permanent_redirect_code
        return (
            code,
            notes.permanent_redirect,
            f"annotation permanent-redirect: {code} to {notes.permanent_redirect}",
        )
    if scheme != "http":
        return None
    if notes.force_ssl_redirect:
        reason = "annotation force-ssl-redirect"
    elif notes.ssl_redirect and server.tls is not None:
        reason = f"{server.host} is a TLS host (ssl-redirect)"
    else:
        return None
    uri = target if notes.preserve_trailing_slash or not target.endswith("/") else target[:-1]
    location = f"https://{host.split(':', 1)[0]}{uri}"
    code = config.settings.http_redirect_code
    return code, location, f"{reason}: {code} to {location}"


def _backend(
    config: Config,
    block: NginxLocation,
    target: str,
    uri: str,
    base: dict,
    why: list[str],
    cookies: dict[str, str],
) -> Decision:
    loc = block.location
    if loc.upstream == DEFAULT_BACKEND:
        return Decision(404, **base, why=(*why, "the default backend answers 404"))
    upstream = config.upstream(loc.upstream)
    if upstream is None or not upstream.endpoints:
        problem = upstream.problem if upstream is not None else f"no upstream {loc.upstream}"
        return Decision(503, **base, why=(*why, f"{problem}: 503"))
    sent = _rewrite(loc, target, uri, why)
    set_cookie = ""
    pods = ", ".join(f"{e.pod or e.ip} ({e.address})" for e in upstream.endpoints)
    if upstream.affinity is not None:
        https = bool(base.get("certificate"))  # a certificate was chosen: an https request
        set_cookie = _affinity_line(upstream.affinity, loc, cookies, why, https)
    else:
        why.append(f"upstream {upstream.name}: round robin over {pods}")
    return Decision(
        200,
        **base,
        endpoints=upstream.endpoints,
        upstream_uri=sent,
        set_cookie=set_cookie,
        why=tuple(why),
    )


def _rewrite(loc: Location, target: str, uri: str, why: list[str]) -> str:
    if not needs_rewrite(loc):
        return target
    found = pcre(loc.path).search(uri)
    if found is None:
        return target
    groups = found.groups()
    new = re.sub(
        r"\$(\d)", lambda m: _group(groups, int(m.group(1))), loc.annotations.rewrite_target
    )
    query = target.partition("?")[2]
    sent = new + ("?" + query if query and not new.endswith("?") else "")
    why.append(f"rewrite-target {loc.annotations.rewrite_target}: the pod receives {sent}")
    return sent


def _group(groups: tuple, index: int) -> str:
    return (groups[index - 1] or "") if 0 < index <= len(groups) else ""


def _affinity_line(
    cookie: Cookie, loc: Location, cookies: dict[str, str], why: list[str], https: bool
) -> str:
    value = cookies.get(cookie.name)
    if value:
        why.append(
            f"cookie {cookie.name}={value}: its value keys a consistent-hash ring, always the same endpoint"
        )
        return ""
    why.append(f"no cookie {cookie.name}: a new key picks an endpoint and is sent as the cookie")
    return set_cookie_value(cookie, loc, "<request id>", https=https)


def set_cookie_value(cookie: Cookie, loc: Location, value: str, https: bool = False) -> str:
    """The Set-Cookie value, attributes in lua-resty-cookie's order. `Secure` with
    session-cookie-secure, and on any https response (sticky.lua sets it from
    `ngx.var.https`; the controller omits a false annotation, so it never turns that off)."""
    parts = [f"{cookie.name}={value}"]
    max_age = cookie.max_age or cookie.expires  # stock nginx cannot compute an Expires date
    if max_age:
        parts.append(f"Max-Age={max_age}")
    if cookie.domain:
        parts.append(f"Domain={cookie.domain}")
    parts.append(f"Path={cookie.path or loc.path}")
    if cookie.secure or https:
        parts.append("Secure")
    parts.append("HttpOnly")
    if cookie.samesite:
        parts.append(f"SameSite={cookie.samesite}")
    return "; ".join(parts)
