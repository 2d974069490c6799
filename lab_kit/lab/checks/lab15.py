"""Lab 15's checks: an Ingress with three TLS hosts and two Secrets, each host shown its own
certificate (or the controller's Fake Certificate when its Secret is missing), http redirected
to https with HSTS on the https answer only, TLS ending at the controller (the pod gets plain
HTTP), and cookie affinity against ClientIP affinity for browsers behind one address."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.lab.ingress_tls_lab import conf_block

if TYPE_CHECKING:
    from lab_kit.lab.ingress_tls_lab import Browser, CertificateTable, Reply
    from lab_kit.lab.ingress_view import Explanation
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.tls_wire import Wire

CLIENT_IP = "192.0.2.10"
LAB_CA = "O = lab_kit, CN = lab_kit CA"
FAKE = "O = Acme Co, CN = Kubernetes Ingress Controller Fake Certificate"
HSTS = "max-age=31536000; includeSubDomains"
SET_COOKIE = re.compile(r"INGRESSCOOKIE=[^;]+; Max-Age=172800; Path=/; HttpOnly")


def check_tls_sites(lab: Lab, address: str) -> None:
    """The Ingress `sites` got the controller's address and, having a tls section, port 443 in
    its listing; the Secrets blog-tls and shop-tls are kubernetes.io/tls; legacy-tls, which
    the Ingress also names, does not exist."""
    sites = lab.get("ingress", "sites")
    ingress = sites.get("status", {}).get("loadBalancer", {}).get("ingress")
    expect(ingress == [{"ip": address}], f"the address {address} in the status", ingress)
    listing = str(lab.get("ingress"))
    expect("80, 443" in listing, "PORTS 80, 443 (a tls section: port 443 too)", listing)
    secrets = {s["metadata"]["name"]: s["type"] for s in lab.get("secrets")}
    types = (secrets.get("blog-tls"), secrets.get("shop-tls"))
    expect(types == ("kubernetes.io/tls", "kubernetes.io/tls"),
           "blog-tls and shop-tls of type kubernetes.io/tls", types)  # fmt: skip
    expect("legacy-tls" not in secrets, "no Secret legacy-tls", sorted(secrets))
    passed(f"sites: three TLS hosts on {address}; Secrets blog-tls and shop-tls, no legacy-tls")


def check_certificates(seen: CertificateTable) -> None:
    """blog and shop are shown their own certificate from the lab CA, which openssl verifies;
    legacy (no Secret) and a client sending no server name get the controller's self-signed
    Fake Certificate for `ingress.local`, which openssl refuses."""
    asked = {c.sni for c in seen}
    for name in ("blog.example.com", "shop.example.com"):
        expect(name in asked, f"a certificate seen for {name}", sorted(asked))
        cert = seen.by_sni(name)
        got = (cert.subject, cert.dns_names, cert.verify)
        expect(got == (f"CN = {name}", (name,), "0 (ok)"), f"{name}'s own certificate, verified",
               got)  # fmt: skip
        expect(cert.issuer == LAB_CA, f"issued by {LAB_CA}", cert.issuer)
    for name in ("legacy.example.com", ""):
        shown = name or "no SNI"
        expect(name in asked, f"a certificate seen for {shown}", sorted(asked))
        cert = seen.by_sni(name)
        expect(cert.subject == cert.issuer == FAKE, f"{shown}: the self-signed Fake Certificate",
               (cert.subject, cert.issuer))  # fmt: skip
        expect(cert.dns_names == ("ingress.local",), f"{shown}: for ingress.local", cert.dns_names)
        expect(cert.verify != "0 (ok)", f"{shown}: refused by openssl", cert.verify)
    passed(
        "blog and shop: their own certificate, verified; legacy and no SNI: the fake one, refused"
    )


def check_blog_served_legacy_refused(blog, reply: Reply, legacy) -> None:
    """curl trusts blog.example.com (the lab CA) and gets 200 from an echo pod, which was told
    the request came over https; curl refuses legacy.example.com's self-signed certificate
    (exit 60)."""
    expect(blog.returncode == 0, "curl https://blog.example.com/ succeeds", blog.returncode)
    expect(reply.status == 200, "200", reply.status)
    host = reply.json.get("host")
    expect(host == "blog.example.com", "the pod saw host blog.example.com", host)
    proto = reply.json.get("headers", {}).get("X-Forwarded-Proto")
    expect(proto == ["https"], "X-Forwarded-Proto: https", proto)
    expect(reply.pod.startswith("echo-"), "answered by an echo pod", reply.pod)
    expect(legacy.returncode == 60, "curl exit 60 for legacy.example.com", legacy.returncode)
    expect("self-signed certificate" in legacy.stderr, "curl names the self-signed certificate",
           legacy.stderr)  # fmt: skip
    passed(f"blog.example.com: 200 from {reply.pod}; legacy.example.com: curl exit 60, self-signed")


def check_redirected_to_https(redirects: dict[str, Reply], reply: Reply, conf: str,
                              why: Explanation) -> None:  # fmt: skip
    """Every http request gets a 308 to the same URL on https (the whole URI, query included,
    one trailing slash dropped), without HSTS; the https answer carries HSTS; the controller
    explains the redirect and its server block has the certificate and `return 308`."""
    statuses = [r.status for r in redirects.values()]
    expect(statuses == [308] * len(redirects), "308 for each", statuses)
    locations = [r.header("Location") for r in redirects.values()]
    want = ["https://blog.example.com", "https://blog.example.com/about",
            "https://blog.example.com/about", "https://blog.example.com/a/b/?q=1"]  # fmt: skip
    expect(locations == want, f"Location: {want}", locations)
    hsts = [r.header("Strict-Transport-Security") for r in redirects.values()]
    expect(not any(hsts), "no HSTS on http", hsts)
    got = reply.header("Strict-Transport-Security")
    expect(got == HSTS, f"HSTS on the https answer: {HSTS}", got)
    expect(why.decision.redirect == "https://blog.example.com",
           "explained: a redirect to https://blog.example.com", why.decision.redirect)  # fmt: skip
    server = conf_block(conf, "## server blog.example.com")
    expect("ssl_certificate " in server and "return 308 https://" in server,
           "blog's server block: ssl_certificate and return 308 https://", server)  # fmt: skip
    passed("http -> 308 to https (one trailing slash dropped); HSTS only on the https answer")


def check_terminated_at_controller(sent: Reply, client_wire: Wire, pod_wire: Wire,
                                   controller_wire: Wire, controller_ip: str,
                                   secret: str) -> None:  # fmt: skip
    """On the client's wire: TLS 1.3 only, the server name the one thing in clear (not the
    token, the path, the forwarded headers, even the certificate). At the pod: plain HTTP from
    the controller, the request whole, with X-Forwarded-Proto: https and the client's address.
    The controller sees both legs, TLS on 443 and HTTP to 3000."""
    tls = client_wire.of_kind("TLS")
    expect(len(tls) == 2, "two TLS streams on the client's wire: each direction", len(tls))
    _hello, answer = tls  # the client's direction, then the server's
    expect(sent.status == 200, "200", sent.status)
    expect(not client_wire.of_kind("HTTP"), "no plain HTTP on the client's wire")
    expect(client_wire.sni() == ["shop.example.com"], "SNI shop.example.com", client_wire.sni())
    records = answer.records()
    version = records[0].version if records else None
    expect(version == "TLS 1.3", "TLS 1.3", version)
    for clear_text in (b"lab15-secret-token", b"/account/orders", b"X-Forwarded", b"lab_kit CA"):
        expect(not client_wire.contains(clear_text), f"{clear_text!r} not in clear on the client's wire")  # fmt: skip
    heads = pod_wire.http_heads()
    expect(heads, "an HTTP request at the pod")
    request = heads[0]
    expect(request.startswith("GET /account/orders HTTP/1.1") and secret in request,
           "GET /account/orders with the token, in clear at the pod", request)  # fmt: skip
    expect("X-Forwarded-Proto: https" in request and f"X-Forwarded-For: {CLIENT_IP}" in request,
           f"X-Forwarded-Proto: https and X-Forwarded-For: {CLIENT_IP}", request)  # fmt: skip
    sources = {s.src for s in pod_wire.of_kind("HTTP") if s.dport == 3000}
    expect(sources == {controller_ip}, f"the pod's HTTP from the controller {controller_ip}",
           sources)  # fmt: skip
    legs = {(s.kind, s.dport) for s in controller_wire}
    expect(("TLS", 443) in legs and ("HTTP", 3000) in legs,
           "the controller sees TLS on 443 and HTTP to 3000", legs)  # fmt: skip
    passed(f"client wire: TLS only, SNI in clear; {sent.pod}: plain HTTP from {controller_ip}, "
           "X-Forwarded-Proto: https")  # fmt: skip


def check_cookie_affinity(no_cookie: list[Reply], with_cookie: list[Reply],
                          alice: Browser) -> None:  # fmt: skip
    """Without a cookie every request is a newcomer: a fresh INGRESSCOOKIE each time and a fresh
    draw over the pods (fewer than 3 of 4 pods in 60 draws: odds below 1e-9). Alice, sending
    the cookie she got first, stays on one pod and is not given another."""
    statuses = {r.status for r in no_cookie + with_cookie}
    expect(statuses == {200}, "all 200", statuses)
    new_cookies = [r.header("Set-Cookie") for r in no_cookie]
    odd = [c for c in new_cookies if not SET_COOKIE.fullmatch(c)]
    expect(not odd, "Set-Cookie: INGRESSCOOKIE=...; Max-Age=172800; Path=/; HttpOnly", odd[:3])
    fresh = len(set(new_cookies))
    expect(fresh == 60, "60 newcomers, 60 fresh cookies", fresh)
    spread = {r.pod for r in no_cookie}
    expect(len(spread) >= 3, "newcomers on at least 3 pods", sorted(spread))
    stuck = {r.pod for r in with_cookie}
    expect(len(stuck) == 1, "alice on one pod", sorted(stuck))
    given = [r.header("Set-Cookie") for r in with_cookie]
    expect(given and given[0] and not any(given[1:]),
           "alice gets her cookie on the first answer and never another", given[:3])  # fmt: skip
    expect(list(alice.jar) == ["INGRESSCOOKIE"], "alice's jar: INGRESSCOOKIE", list(alice.jar))
    passed(f"no cookie: {len(spread)} pods; alice: all {len(with_cookie)} on {with_cookie[0].pod}")


def check_cookie_keys_the_hash(conf: str, why: Explanation) -> None:
    """The sticky upstream hashes on the cookie's value (consistent hashing); a request that
    sends the cookie gets no new one, and the explanation says the cookie decided."""
    upstream = conf_block(conf, "upstream default-echo-sticky-80")
    expect("hash $ingress_affinity_0 consistent;" in upstream,
           "hash $ingress_affinity_0 consistent; in the upstream", upstream)  # fmt: skip
    d = why.decision
    expect(d.set_cookie == "", "no new cookie for a request with one", d.set_cookie)
    expect(any("INGRESSCOOKIE=" in line for line in d.why), "the reason names INGRESSCOOKIE=",
           d.why)  # fmt: skip
    passed("the cookie's value keys the hash ring; a request with it gets no new cookie")


def check_cookie_vs_clientip(by_cookie: list[list[Reply]], by_address: list[list[Reply]]) -> None:
    """Every browser sticks to one pod either way. The controller sees all 12 browsers as one
    address (X-Forwarded-For 192.0.2.10): with cookies they still spread over the pods (all on
    one: odds about 1e-6); with the Service's ClientIP affinity all land on one pod."""
    for i, replies in enumerate(by_cookie + by_address):
        pods = {r.pod for r in replies}
        expect(len(pods) == 1 and replies[0].pod != "ERR", f"browser {i + 1} sticks to one pod",
               sorted(pods))  # fmt: skip
    forwarded_for = {r.json["headers"]["X-Forwarded-For"][0] for replies in by_cookie for r in replies}  # fmt: skip
    expect(forwarded_for == {CLIENT_IP}, f"X-Forwarded-For {CLIENT_IP} for every browser",
           forwarded_for)  # fmt: skip
    cookie_pods = {replies[0].pod for replies in by_cookie}
    expect(len(cookie_pods) > 1, "cookie affinity: browsers on more than one pod", cookie_pods)
    address_pods = {replies[0].pod for replies in by_address}
    expect(len(address_pods) == 1, "ClientIP affinity: one address, one pod", address_pods)
    passed(f"cookies: {len(by_cookie)} browsers on {len(cookie_pods)} pods; "
           f"ClientIP: all {len(by_address)} on {by_address[0][0].pod}")  # fmt: skip
