"""render_nginx(): the routing model -> nginx.conf for stock nginx (Debian's 1.22), the shape
of ingress-nginx's rootfs/etc/nginx/template/nginx.tmpl without its Lua.

    http {
        maps          $req_id (X-Request-ID kept or made), the redirect host and URI, affinity keys
        upstream <namespace>-<service>-<port> { server <pod ip>:<port> max_fails=0; ... keepalive; }
        server { listen 80 default_server; listen 443 ssl default_server; server_name _; ... }
        server { listen 80; listen 443 ssl; server_name <host>; ssl_certificate <Secret's PEM>;
            location = /foo { set $ingress_name ...; [redirect]; proxy_pass http://<upstream>; }
        }
    }

Where ingress-nginx uses Lua, this file uses plain directives:
- endpoints are written into `upstream` blocks (ingress-nginx posts them to its Lua balancer
  without a reload); the agent reloads nginx when they change;
- the https redirect and HSTS are decided here, per location, not at request time;
- cookie affinity: ingress-nginx's cookie holds the chosen upstream's key; here the upstream
  is `hash <key> consistent` (ketama) where the key is the cookie's value, or for a client
  without the cookie a fresh `$request_id`, sent back as the cookie. So a cookie always
  returns to the same pod while it exists; a new pod takes over some keys (ingress-nginx's
  `balanced` mode; `persistent` cannot be had without Lua); an unknown value is placed on
  the ring rather than replaced; `session-cookie-expires` is sent as Max-Age;
- no HTTP/2, no OCSP, no metrics, no `/healthz` on the default server.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab_kit.render.ingress.build import needs_rewrite
from lab_kit.render.ingress.match import server_name_regex
from lab_kit.render.ingress.model import (
    CATCH_ALL,
    DEFAULT_BACKEND,
    Config,
    Location,
    NginxLocation,
    Server,
    Upstream,
)
from lab_kit.render.ingress.route import set_cookie_value

SSL_DIR = "ssl"
_REQUEST_ID = "@@REQUEST_ID@@"  # where the cookie's value goes in a Set-Cookie template
# The agent replaces it with the checksum of what it writes (as ingress-nginx's template line).
CHECKSUM_PLACEHOLDER = "@@CONFIGURATION_CHECKSUM@@"


@dataclass(frozen=True)
class Rendered:
    conf: str
    files: dict[str, bytes]  # relative path under the prefix -> content (certificate + key PEMs)


def render_nginx(config: Config, *, prefix: str) -> Rendered:
    """nginx.conf text + the files it needs (certificate+key PEMs by relative path under `prefix`)."""
    prefix = prefix.rstrip("/")
    files = {_pem_path(s): s.tls.pem for s in config.servers if s.tls is not None and s.tls.secret}
    cookies = _CookieMaps(config)
    keepalive = config.settings.upstream_keepalive_connections
    http = [
        *_http_settings(config, prefix),
        *cookies.maps(),
        *(
            line
            for u in config.upstreams
            if u.endpoints
            for line in _upstream(u, cookies, keepalive)
        ),
        *(line for s in config.servers for line in _server(config, s, prefix, cookies)),
        *_status_server(),
    ]
    conf = [
        "# Rendered by lab_kit.render.ingress from the Ingresses this controller serves.",
        f"# Configuration checksum: {CHECKSUM_PLACEHOLDER}",
        f"worker_processes {config.settings.worker_processes};",
        f"pid {prefix}/nginx.pid;",
        "error_log stderr notice;",
        "events {",
        "    worker_connections 1024;",
        "}",
        "http {",
        *_indent(http),
        "}",
    ]
    return Rendered("\n".join(conf) + "\n", files)


STATUS_PORT = 10246  # ingress-nginx's internal status server, on loopback only


def _status_server() -> list[str]:
    """The agent knows a reload is live when the new workers answer with the new checksum."""
    return [
        "server {",
        f"    listen 127.0.0.1:{STATUS_PORT};",
        "    access_log off;",
        "    location = /configuration/checksum {",
        f'        return 200 "{CHECKSUM_PLACEHOLDER}";',
        "    }",
        "    location / {",
        "        return 404;",
        "    }",
        "}",
    ]


def _indent(lines: list[str]) -> list[str]:
    return [("    " + line) if line else "" for line in lines]


def _pem_path(server: Server) -> str:
    assert server.tls is not None
    return f"{SSL_DIR}/{server.tls.secret.replace('/', '-')}.pem"


def _absolute(prefix: str, path: str) -> str:
    return path if path.startswith("/") else f"{prefix}/{path}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _http_settings(config: Config, prefix: str) -> list[str]:
    settings = config.settings
    cert, key = (_absolute(prefix, p) for p in config.default_certificate)
    temp = [
        f"{kind}_temp_path {prefix}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    ]
    log = (
        'log_format upstreaminfo \'$remote_addr - $remote_user [$time_local] "$request" $status'
        ' $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time'
        " [$namespace/$ingress_name] [$service_name:$service_port] [$proxy_upstream_name]"
        " $upstream_addr $upstream_status $upstream_response_time $req_id';"
    )
    return [
        *temp,
        "server_names_hash_bucket_size 128;",
        "map_hash_bucket_size 128;",
        "types_hash_max_size 2048;",
        "default_type text/html;",
        log,
        "access_log /dev/stdout upstreaminfo;" if settings.access_log else "access_log off;",
        "keepalive_timeout 75s;",
        # ingress-nginx's default certificate for every handshake no server claims.
        f"ssl_certificate {cert};",
        f"ssl_certificate_key {key};",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_session_cache shared:SSL:10m;",
        "",
        *_maps(config),
        "",
        *_proxy_settings(config),
        "",
    ]


def _maps(config: Config) -> list[str]:
    return [
        "# X-Request-ID: the client's, else a fresh one (ingress-nginx's generate-request-id).",
        "map $http_x_request_id $req_id {",
        "    default $http_x_request_id;",
        '    "" $request_id;',
        "}",
        "map $http_host $best_http_host {",
        "    default $http_host;",
        '    "" $host;',
        "}",
        "# The redirect to https: the Host without its port, the URI without one trailing slash.",
        "map $best_http_host $redirect_host {",
        "    default $best_http_host;",
        '    "~^(?<redirect_hostname>[^:]+):" $redirect_hostname;',
        "}",
        "map $request_uri $redirect_uri {",
        "    default $request_uri;",
        '    "~^(?<redirect_trimmed>.*)/$" $redirect_trimmed;',
        "}",
        "map $http_upgrade $connection_upgrade {",
        "    default upgrade;",
        '    "" "";',
        "}",
        "map $scheme $hsts_header {",
        '    default "";',
        f"    https {_quote(config.settings.hsts_value())};",
        "}",
        "# A literal $ inside `set` values (an Ingress path may hold one).",
        "geo $literal_dollar {",
        '    default "$";',
        "}",
    ]


def _proxy_settings(config: Config) -> list[str]:
    settings = config.settings
    headers = [
        ("Host", "$best_http_host"),
        ("Upgrade", "$http_upgrade"),
        ("Connection", "$connection_upgrade"),
        ("X-Request-ID", "$req_id"),
        ("X-Real-IP", "$remote_addr"),
        ("X-Forwarded-For", "$remote_addr"),
        ("X-Forwarded-Host", "$best_http_host"),
        ("X-Forwarded-Port", "$server_port"),
        ("X-Forwarded-Proto", "$scheme"),
        ("X-Forwarded-Scheme", "$scheme"),
        ("X-Scheme", "$scheme"),
        ("Proxy", '""'),  # httpoxy
    ]
    return [
        "# Headers to the pods, as ingress-nginx's template sets them.",
        *(f"proxy_set_header {name} {value};" for name, value in headers),
        "proxy_http_version 1.1;",
        f"proxy_connect_timeout {settings.proxy_connect_timeout_s}s;",
        f"proxy_send_timeout {settings.proxy_send_timeout_s}s;",
        f"proxy_read_timeout {settings.proxy_read_timeout_s}s;",
        "proxy_buffering off;",
        "proxy_redirect off;",
        "# A refused or timed-out connection is retried on another endpoint.",
        "proxy_next_upstream error timeout;",
        f"proxy_next_upstream_tries {settings.proxy_next_upstream_tries};",
    ]


class _CookieMaps:
    """The maps of cookie affinity: per upstream its hash key, per Set-Cookie text its header."""

    def __init__(self, config: Config) -> None:
        self.keys = {
            u.name: i
            for i, u in enumerate(u for u in config.upstreams if u.affinity and u.endpoints)
        }
        self.cookies = {u.name: u.affinity for u in config.upstreams if u.affinity and u.endpoints}
        self.headers: dict[str, int] = {}
        for server in config.servers:
            for block in server.nginx:
                if block.location.upstream in self.cookies:
                    self.headers.setdefault(self._header(block.location), len(self.headers))

    def _header(self, loc: Location) -> str:
        cookie = self.cookies[loc.upstream]
        assert cookie is not None
        return set_cookie_value(cookie, loc, _REQUEST_ID)

    def key_var(self, upstream: str) -> str:
        return f"$ingress_affinity_{self.keys[upstream]}"

    def header_var(self, loc: Location) -> str | None:
        if loc.upstream not in self.cookies:
            return None
        return f"$ingress_set_cookie_{self.headers[self._header(loc)]}"

    def maps(self) -> list[str]:
        lines: list[str] = []
        for upstream, i in self.keys.items():
            cookie = self.cookies[upstream]
            assert cookie is not None
            name = _cookie_regex(cookie.name)
            lines += [
                f"# Cookie affinity of {upstream}: the cookie's value, else a new key.",
                f"map $http_cookie $ingress_affinity_{i} {{",
                f'    "~(^|;) *{name}=(?<ingress_cookie_{i}>[^;]+)" $ingress_cookie_{i};',
                "    default $request_id;",
                "}",
            ]
        for header, j in self.headers.items():
            name = _cookie_regex(header.split("=", 1)[0])
            secure = (
                header
                if "; Secure;" in header
                else header.replace("; HttpOnly", "; Secure; HttpOnly")
            )
            lines += [  # on https the cookie is Secure (as sticky.lua sets it)
                f'map "$https|$http_cookie" $ingress_set_cookie_{j} {{',
                f'    "~([|]|;) *{name}=[^;]" "";',
                f'    "~^on[|]" {_literal(secure).replace(_REQUEST_ID, "$request_id")};',
                f"    default {_literal(header).replace(_REQUEST_ID, '$request_id')};",
                "}",
            ]
        return [*lines, ""] if lines else []


def _cookie_regex(name: str) -> str:
    """A cookie name as a regex without backslashes (nginx strings keep them, but plainly)."""
    return "".join(c if c.isalnum() or c == "_" else f"[{c}]" for c in name)


def _upstream(upstream: Upstream, cookies: _CookieMaps, keepalive: int) -> list[str]:
    lines = [f"upstream {upstream.name} {{"]
    if upstream.name in cookies.keys:
        lines.append(f"    hash {cookies.key_var(upstream.name)} consistent;")
    for e in upstream.endpoints:
        where = ", ".join(
            x for x in (f"pod {e.pod}" if e.pod else "", f"node {e.node}" if e.node else "") if x
        )
        lines.append(f"    server {e.address} max_fails=0;" + (f"  # {where}" if where else ""))
    lines += [f"    keepalive {keepalive};", "}", ""]
    return lines


def _server(config: Config, server: Server, prefix: str, cookies: _CookieMaps) -> list[str]:
    settings = config.settings
    default = " default_server" if server.host == CATCH_ALL else ""
    address = f"{settings.listen_address}:" if settings.listen_address else ""
    name = server_name_regex(server.host) if server.host.startswith("*.") else server.host
    lines = [
        f"## server {server.host}",
        "server {",
        f"    listen {address}{settings.http_port}{default};",
        f"    listen {address}{settings.https_port} ssl{default};",
        f'    server_name "{name}";',  # a DNS name: nothing to escape
    ]
    if server.tls is not None:
        lines.append(f"    # TLS: {server.tls.reason}")
        if server.tls.secret:
            pem = f"{prefix}/{_pem_path(server)}"
            lines += [f"    ssl_certificate {pem};", f"    ssl_certificate_key {pem};"]
    for block in server.nginx:
        lines += ["", *_indent(_location(config, server, block, cookies))]
    return [*lines, "}", ""]


def _location(
    config: Config, server: Server, block: NginxLocation, cookies: _CookieMaps
) -> list[str]:
    loc = block.location
    notes = loc.annotations
    modifier = f"{block.modifier} " if block.modifier else ""
    path = f"^{block.path}" if block.modifier == "~*" else block.path
    variables = [
        ("namespace", loc.ingress.split("/")[0] if loc.ingress else ""),
        ("ingress_name", loc.ingress.split("/")[-1] if loc.ingress else ""),
        ("service_name", loc.service),
        ("service_port", loc.port),
        ("proxy_upstream_name", loc.upstream),
        ("location_path", loc.path),
    ]
    lines = [f"location {modifier}{_quote(path)} {{"]
    lines += [f"    set ${name} {_literal(value)};" for name, value in variables]
    if notes.permanent_redirect:
        lines.append(f"    return {notes.permanent_redirect_code} {notes.permanent_redirect};")
    if notes.force_ssl_redirect or (notes.ssl_redirect and server.tls is not None):
        uri = "$request_uri" if notes.preserve_trailing_slash else "$redirect_uri"
        code = config.settings.http_redirect_code
        lines.append(f"    if ($scheme = http) {{ return {code} https://$redirect_host{uri}; }}")
    if config.settings.hsts and server.tls is not None and server.tls.secret:
        lines.append("    add_header Strict-Transport-Security $hsts_header always;")
    return [*lines, *_pass(config, loc, cookies), "}"]


def _pass(config: Config, loc: Location, cookies: _CookieMaps) -> list[str]:
    if loc.upstream == DEFAULT_BACKEND:
        return ["    return 404;  # ingress-nginx's default backend"]
    upstream = config.upstream(loc.upstream)
    if upstream is None or not upstream.endpoints:
        why = upstream.problem if upstream is not None else "no upstream"
        return [f"    return 503;  # {why}"]
    lines = []
    header = cookies.header_var(loc)
    if header is not None:
        lines.append(f"    add_header Set-Cookie {header} always;")
    if needs_rewrite(loc):
        lines.append(
            f"    rewrite {_quote('(?i)' + loc.path)} {loc.annotations.rewrite_target} break;"
        )
    return [*lines, f"    proxy_pass http://{loc.upstream};"]


def _literal(value: str) -> str:
    """A `set` value: quoted, with `$` kept literal."""
    return _quote(value).replace("$", "${literal_dollar}")
