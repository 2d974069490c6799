"""Lab 15's named checks over data (certificates openssl was shown, curl's results and replies,
nginx.conf, the bytes on each wire, cookie and ClientIP affinity answers): each passes on what
a working lab shows and fails, saying what it saw, on what a broken one would."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab15 import (
    CLIENT_IP,
    FAKE,
    HSTS,
    LAB_CA,
    check_blog_served_legacy_refused,
    check_certificates,
    check_cookie_affinity,
    check_cookie_keys_the_hash,
    check_cookie_vs_clientip,
    check_redirected_to_https,
    check_terminated_at_controller,
)
from lab_kit.lab.ingress_tls_lab import Browser, CertificateTable, Reply, SeenCertificate
from lab_kit.lab.ingress_view import Explanation
from lab_kit.lab.tls_wire import Stream, Wire
from lab_kit.render.ingress.route import Decision

CONTROLLER_IP, POD_IP = "10.244.2.7", "10.244.1.9"
SECRET = "Authorization: Bearer lab15-secret-token"


def cert(sni: str, own: bool) -> SeenCertificate:
    if own:
        return SeenCertificate(sni, f"CN = {sni}", LAB_CA, (sni,), "0 (ok)", "TLSv1.3")
    return SeenCertificate(sni, FAKE, FAKE, ("ingress.local",), "18 (self-signed certificate)",
                           "TLSv1.3")  # fmt: skip


def test_own_certificates_and_the_fake_one():
    seen = CertificateTable([cert("blog.example.com", True), cert("shop.example.com", True),
                             cert("legacy.example.com", False), cert("", False)])  # fmt: skip
    check_certificates(seen)
    with pytest.raises(CheckFailed, match="shop.example.com's own certificate, verified"):
        check_certificates(CertificateTable([seen[0], cert("shop.example.com", False), *seen[2:]]))
    with pytest.raises(CheckFailed, match="a certificate seen for no SNI"):
        check_certificates(CertificateTable(seen[:3]))


def reply(status: int = 200, body: dict | None = None, **headers: str) -> Reply:
    pairs = tuple((name.replace("_", "-"), value) for name, value in headers.items())
    return Reply(status, pairs, json.dumps(body) if body is not None else "")


def echoed(pod: str = "echo-5f7-abcde", host: str = "blog.example.com", **headers) -> Reply:
    return reply(200, {"pod": pod, "host": host, "headers": {k: [v] for k, v in headers.items()}})


def test_blog_is_trusted_and_legacy_refused():
    blog, legacy = (
        SimpleNamespace(returncode=0),
        SimpleNamespace(
            returncode=60, stderr="curl: (60) SSL certificate problem: self-signed certificate"
        ),
    )
    good = echoed(**{"X-Forwarded-Proto": "https"})
    check_blog_served_legacy_refused(blog, good, legacy)
    with pytest.raises(CheckFailed, match=r"X-Forwarded-Proto: https; saw \['http'\]"):
        check_blog_served_legacy_refused(blog, echoed(**{"X-Forwarded-Proto": "http"}), legacy)
    with pytest.raises(CheckFailed, match="curl exit 60 for legacy.example.com; saw 0"):
        check_blog_served_legacy_refused(blog, good, SimpleNamespace(returncode=0, stderr=""))


CONF = """    ## server blog.example.com
    server {
        ssl_certificate /etc/nginx/certs/default-blog-tls.pem;
        if ($scheme = http) {
            return 308 https://$host$redirect_uri;
        }
    }
    upstream default-echo-sticky-80 {
        hash $ingress_affinity_0 consistent;
        server 10.244.1.9:3000;
    }"""
PATHS = {"/": "", "/about/": "/about", "/about": "/about", "/a/b/?q=1": "/a/b/?q=1"}


def test_http_is_redirected_and_only_https_has_hsts():
    redirects = {
        p: reply(308, Location=f"https://blog.example.com{loc}") for p, loc in PATHS.items()
    }
    https = reply(200, {}, Strict_Transport_Security=HSTS)
    why = Explanation(
        "GET /", Decision(308, "blog.example.com", redirect="https://blog.example.com")
    )
    check_redirected_to_https(redirects, https, CONF, why)
    with pytest.raises(CheckFailed, match="HSTS on the https answer"):
        check_redirected_to_https(redirects, reply(200, {}), CONF, why)
    kept = {**redirects, "/about/": reply(308, Location="https://blog.example.com/about/")}
    with pytest.raises(CheckFailed, match="Location: "):
        check_redirected_to_https(kept, https, CONF, why)
    with pytest.raises(CheckFailed, match="no HSTS on http"):
        check_redirected_to_https({**redirects, "/": reply(308, Location="https://blog.example.com",
                                                           Strict_Transport_Security=HSTS)},
                                  https, CONF, why)  # fmt: skip


def record(kind: int, body: bytes) -> bytes:
    return bytes([kind, 3, 3]) + len(body).to_bytes(2, "big") + body


def hello(kind: int, extensions: bytes) -> bytes:
    """A ClientHello (1) or ServerHello (2) record, with these extensions."""
    middle = b"\x00\x02\x13\x01\x01\x00" if kind == 1 else b"\x13\x01\x00"
    rest = (
        b"\x03\x03" + bytes(32) + b"\x00" + middle + len(extensions).to_bytes(2, "big") + extensions
    )
    return record(22, bytes([kind]) + len(rest).to_bytes(3, "big") + rest)


def ext(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


def sni(name: str) -> bytes:
    entry = b"\x00" + len(name).to_bytes(2, "big") + name.encode()
    return ext(0, len(entry).to_bytes(2, "big") + entry)


CLIENT_TLS = hello(1, sni("shop.example.com")) + record(23, bytes(200))
SERVER_TLS = hello(2, ext(43, b"\x03\x04")) + record(23, bytes(900))
REQUEST = ("GET /account/orders HTTP/1.1\r\nHost: shop.example.com\r\n" + SECRET + "\r\n"
           f"X-Forwarded-For: {CLIENT_IP}\r\nX-Forwarded-Proto: https\r\n\r\n").encode()  # fmt: skip


def wires(request: bytes = REQUEST, client_tls: bytes = CLIENT_TLS) -> tuple[Wire, Wire, Wire]:
    client = Wire([Stream(CLIENT_IP, 41000, "198.51.100.32", 443, client_tls),
                   Stream("198.51.100.32", 443, CLIENT_IP, 41000, SERVER_TLS)])  # fmt: skip
    pod = Wire([Stream(CONTROLLER_IP, 52000, POD_IP, 3000, request)])
    controller = Wire([Stream(CLIENT_IP, 41000, CONTROLLER_IP, 443, client_tls),
                       Stream(CONTROLLER_IP, 52000, POD_IP, 3000, request)])  # fmt: skip
    return client, pod, controller


def test_tls_ends_at_the_controller():
    sent = echoed("echo-5f7-abcde", "shop.example.com")
    client, pod, controller = wires()
    check_terminated_at_controller(sent, client, pod, controller, CONTROLLER_IP, SECRET)
    leaky = CLIENT_TLS + b"GET /account/orders"
    client, pod, controller = wires(client_tls=leaky)
    with pytest.raises(CheckFailed, match="b'/account/orders' not in clear"):
        check_terminated_at_controller(sent, client, pod, controller, CONTROLLER_IP, SECRET)
    client, pod, controller = wires(
        REQUEST.replace(b"X-Forwarded-Proto: https", b"X-Forwarded-Proto: http")
    )
    with pytest.raises(CheckFailed, match="X-Forwarded-Proto: https and X-Forwarded-For"):
        check_terminated_at_controller(sent, client, pod, controller, CONTROLLER_IP, SECRET)


def cookie(n: int) -> str:
    return f"INGRESSCOOKIE={n:032x}; Max-Age=172800; Path=/; HttpOnly"


def test_a_cookie_keeps_one_browser_on_one_pod():
    pods = ["echo-a", "echo-b", "echo-c", "echo-d"]
    no_cookie = [reply(200, {"pod": pods[i % 4]}, Set_Cookie=cookie(i)) for i in range(60)]
    with_cookie = [reply(200, {"pod": "echo-c"}, Set_Cookie=cookie(99))]
    with_cookie += [reply(200, {"pod": "echo-c"}) for _ in range(59)]
    alice = Browser("client", jar={"INGRESSCOOKIE": f"{99:032x}"})
    check_cookie_affinity(no_cookie, with_cookie, alice)
    with pytest.raises(CheckFailed, match="60 newcomers, 60 fresh cookies; saw 1"):
        check_cookie_affinity([reply(200, {"pod": pods[i % 4]}, Set_Cookie=cookie(1)) for i in range(60)],
                              with_cookie, alice)  # fmt: skip
    with pytest.raises(CheckFailed, match="alice on one pod"):
        check_cookie_affinity(no_cookie, [*with_cookie[:-1], reply(200, {"pod": "echo-a"})], alice)
    with pytest.raises(CheckFailed, match="never another"):
        check_cookie_affinity(no_cookie, [*with_cookie[:-1], with_cookie[0]], alice)


def test_the_cookie_keys_the_hash_ring():
    why = Explanation("GET /", Decision(200, "cart.example.com", why=("INGRESSCOOKIE=ab12 sent",)))
    check_cookie_keys_the_hash(CONF, why)
    again = Explanation("GET /", Decision(200, "cart.example.com", set_cookie="INGRESSCOOKIE=<id>",
                                          why=("no INGRESSCOOKIE sent",)))  # fmt: skip
    with pytest.raises(CheckFailed, match="no new cookie for a request with one"):
        check_cookie_keys_the_hash(CONF, again)
    with pytest.raises(CheckFailed, match="hash \\$ingress_affinity_0 consistent"):
        check_cookie_keys_the_hash(CONF.replace(" consistent", ""), why)


def browser(pod: str, forwarded_for: str = CLIENT_IP) -> list[Reply]:
    return [reply(200, {"pod": pod, "headers": {"X-Forwarded-For": [forwarded_for]}})] * 5


def test_cookies_tell_browsers_apart_where_clientip_cannot():
    by_cookie = [browser(f"echo-{'abcd'[i % 4]}") for i in range(12)]
    by_address = [browser("echo-b") for _ in range(12)]
    check_cookie_vs_clientip(by_cookie, by_address)
    with pytest.raises(CheckFailed, match="ClientIP affinity: one address, one pod"):
        check_cookie_vs_clientip(by_cookie, [*by_address[:-1], browser("echo-a")])
    with pytest.raises(CheckFailed, match="browser 3 sticks to one pod"):
        check_cookie_vs_clientip([*by_cookie[:2], browser("echo-a")[:4] + browser("echo-d")[:1],
                                  *by_cookie[3:]], by_address)  # fmt: skip
    with pytest.raises(CheckFailed, match="cookie affinity: browsers on more than one pod"):
        check_cookie_vs_clientip([browser("echo-a") for _ in range(12)], by_address)
