"""Build labs/15-ingress-tls.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/15-ingress-tls.ipynb"  # the default output, from the repository root

cells = [
    md("""# 15 · TLS at the Ingress, and cookie affinity

**What you will see:** one Ingress address serving three host names over HTTPS. Two of them
have a certificate from the lab's CA in a Secret, and the client is shown the right one for
the name it asks for (SNI); the third names a Secret that does not exist and gets the
controller's self-signed "Fake Certificate", which a client refuses. Plain HTTP to a TLS host
is answered with a 308 redirect to https, and https answers carry HSTS. Captures show where
the encryption ends: TLS on the client's wire, plain HTTP with `X-Forwarded-Proto: https` at
the pod. Then **cookie affinity**, which a Service cannot do and an Ingress can: with
ingress-nginx's `INGRESSCOOKIE` every request of one browser lands on one pod, without it they
spread, and twelve browsers behind the *same* address each keep their own pod — where lab 06's
`ClientIP` affinity sends all twelve to one."""),
    code("""from lab_kit import Lab
from lab_kit.lab.checks.lab15 import (check_blog_served_legacy_refused, check_certificates,
                                      check_cookie_affinity, check_cookie_keys_the_hash,
                                      check_cookie_vs_clientip, check_redirected_to_https,
                                      check_terminated_at_controller, check_tls_sites)
from lab_kit.lab.figure import figure
from lab_kit.lab.from_outside import wait_rotation
from lab_kit.lab.ingress_tls_lab import (Browser, certificates_seen, compare, conf_block,
                                         curl_argv, draw_termination, replies_from)
from lab_kit.lab.tls_wire import read_wire

lab = Lab.up(addons=["ingress"])
print("\\n".join(lab.apply("manifests/ingress-tls-echo.yml", wait=True)))"""),
    md("""## One address, two certificates from the lab CA

The `ingress` addon runs ingress-nginx's shape: a controller pod in the namespace
`ingress-nginx` behind a `type: LoadBalancer` Service with `externalTrafficPolicy: Local`, so
the cloud load balancer sends its address only to the node where the controller runs.

A certificate for a name is what a TLS server shows to prove it is that name; a client trusts
it if a CA it trusts signed it. The lab has its own CA (`lab.ca_file()`, what `curl --cacert`
trusts). `lab.tls_secret` has it issue a certificate for a host and stores certificate and key
in a `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`), as
`kubectl create secret tls` would. One for `blog.example.com`, one for `shop.example.com`:"""),
    code("""service = lab.get("services", "ingress-nginx-controller", namespace="ingress-nginx")
address = service["status"]["loadBalancer"]["ingress"][0]["ip"]
(controller,) = lab.get("pods", namespace="ingress-nginx", selector="app.kubernetes.io/component=controller")
wait_rotation(address, [controller["spec"]["nodeName"]])  # Local: only the controller's node serves
ca = lab.ca_file()
print(lab.tls_secret("blog-tls", "blog.example.com"))
print(lab.tls_secret("shop-tls", "shop.example.com"))"""),
    md("""The Ingress lists three hosts under `tls:`, each with the Secret that holds its
certificate. `legacy-tls` was never made."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/ingress-tls-sites.yml").read())
print("\\n".join(lab.apply("manifests/ingress-tls-sites.yml", wait=True)))"""),
    code("""lab.get("ingress")"""),
    code("""check_tls_sites(lab, address)  # a tls section: kubectl shows port 443 too"""),
    md("""## SNI: the name the client asks for picks the certificate

All three names share one address and port 443, so the server cannot tell from the
connection which site is wanted — and it must show a certificate *before* any HTTP (and its
`Host` header) is sent. The client therefore puts the name in its first TLS message, the
ClientHello: the **server name indication** (SNI). nginx picks the `server` block by it, and
with it that host's certificate.

`openssl s_client` is a bare TLS client: it sends a name (`-servername`), shows the
certificate it got, and checks it against the lab CA and the name (`-verify_hostname`). The
last row sends no name at all (`-noservername`), as a client calling the bare IP does."""),
    code("""names = ["blog.example.com", "shop.example.com", "legacy.example.com", ""]
seen = certificates_seen("client", address, names, ca)
seen"""),
    code("""check_certificates(seen)  # the fake one is self-signed: it vouches for itself"""),
    md("""openssl names one problem per certificate: for `legacy.example.com` that the certificate is
for another name (62: the fake one is for `ingress.local`); with no name to check, that it is
self-signed (18) — both hold for both rows. Why `legacy.example.com` got the fake certificate,
in the controller's words (the same model its nginx.conf is rendered from):"""),
    code("""print(lab.ingress_explain("https://legacy.example.com/"))"""),
    md("""A real client with the lab CA: `curl` to `blog.example.com` completes the handshake and gets
the pod's answer (the echo server returns the request as it arrived, as JSON). To
`legacy.example.com` it refuses to talk at all (exit 60): the certificate is not signed by
anyone it trusts, and it is not for that name either. `--resolve` makes the name point at the
Ingress address, as DNS would."""),
    code("""blog = lab.host("client", *curl_argv("https://blog.example.com/", address=address, cacert=ca), echo=True)
print(blog)"""),
    code("""legacy = lab.host("client", *curl_argv("https://legacy.example.com/", address=address, cacert=ca),
                  echo=True)
print(legacy)"""),
    code("""(reply,) = replies_from("client", "https://blog.example.com/", address=address, cacert=ca)
check_blog_served_legacy_refused(blog, reply, legacy)"""),
    md("""## http:// to a TLS host: a 308 redirect, and HSTS

ingress-nginx redirects plain HTTP to https for every host of an Ingress with a `tls:`
section (annotation `nginx.ingress.kubernetes.io/ssl-redirect`, default `"true"`). The code is
**308 Permanent Redirect** (unlike 301, the client must repeat the same method and body), and
the `Location` drops one trailing slash: `/` goes to `https://blog.example.com`, without `/`.

https answers carry **HSTS**, `Strict-Transport-Security: max-age=31536000; includeSubDomains`:
for a year this browser uses only https for the name and its subdomains, without asking http
first. It is sent over https only — a browser ignores it on plain http, where anyone on the way
could have added it (RFC 6797)."""),
    code("""plain = curl_argv("http://blog.example.com/", address=address)
print(lab.host("client", *plain, echo=True))"""),
    code("""paths = ["/", "/about/", "/about", "/a/b/?q=1"]
redirects = {p: replies_from("client", f"http://blog.example.com{p}", address=address)[0] for p in paths}
for path, r in redirects.items():
    print(f"http://blog.example.com{path:<10} -> {r.status} Location: {r.header('Location')}")"""),
    md("""The rendered nginx `server` for the host: the Secret's certificate, the redirect (taken only
when the request came in as `http`), and the HSTS header (empty, so not sent, unless the scheme
is `https`)."""),
    code("""conf = lab.ingress_conf()
print(conf_block(conf, "## server blog.example.com"))"""),
    code(
        """check_redirected_to_https(redirects, reply, conf, lab.ingress_explain("http://blog.example.com/"))"""
    ),
    md("""## What is encrypted where

TLS ends at the controller: it decrypts, routes by `Host` and path, and opens its own, plain
HTTP connection to a pod over the pod network. The pod learns how the client came only from
the headers the controller adds: `X-Forwarded-Proto: https`, `X-Forwarded-For: <client>`.

We capture at three places at once while the client sends one request with a secret in it (a
path and an `Authorization` header): on the client host's own interface, on the controller
pod, and on the four echo pods. `read_wire` reassembles each direction of each TCP connection
and shows what a reader of the wire can make of it: TLS records, or HTTP in clear."""),
    code("""controller_name, controller_ip = controller["metadata"]["name"], controller["status"]["podIP"]
echo_pods = sorted(p["metadata"]["name"] for p in lab.get("pods", selector="app=echo"))
secret = "Authorization: Bearer lab15-secret-token"
with (lab.capture("client", packet_filter="tcp port 443") as at_client,
      lab.capture(controller_name, namespace="ingress-nginx",
                  packet_filter="tcp port 443 or tcp port 3000") as at_controller,
      lab.capture_many(echo_pods, packet_filter="tcp port 3000") as at_pods):
    (sent,) = replies_from("client", "https://shop.example.com/account/orders", address=address,
                           cacert=ca, headers=(secret,))
client_wire, controller_wire = read_wire(at_client.path), read_wire(at_controller.path)
pod_wire = read_wire(at_pods[sent.pod].path)
client_wire"""),
    md("""At the client: a ClientHello naming `shop.example.com` — the one thing in clear — the
server's answer (TLS 1.3), then only encrypted `application_data` records. Under TLS 1.3 even the
certificate travels encrypted. At the pod that answered, the same request in plain HTTP:"""),
    code("""pod_wire"""),
    code("""where = f"{controller_name}\\n{controller_ip}"
figure(draw_termination(client_wire, pod_wire, where, sent.pod))"""),
    code(
        """check_terminated_at_controller(sent, client_wire, pod_wire, controller_wire, controller_ip, secret)"""
    ),
    md("""## Cookie affinity: what a Service cannot do

Lab 06's `sessionAffinity: ClientIP` is kube-proxy's: it works on packets, and the only thing
it knows about a client is its **source address**. It cannot read a cookie, because at layer
4 there is no HTTP. An Ingress controller is an HTTP proxy: it can. With the annotation
`nginx.ingress.kubernetes.io/affinity: cookie`, ingress-nginx answers a request that brings no
cookie with `Set-Cookie: INGRESSCOOKIE=<key>`, a key that leads to the pod it chose, and sends
every request that brings the cookie back to that pod.

`ingress-affinity-cookie.yml` puts a second Service, `echo-sticky`, in front of the same four
pods, and an Ingress for `cart.example.com` with the annotation (plain http here, to keep
the commands short; it works the same over https)."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/ingress-affinity-cookie.yml").read())
print("\\n".join(lab.apply("manifests/ingress-affinity-cookie.yml", wait=True)))"""),
    code("""cart = "http://cart.example.com/"
(first,) = replies_from("client", cart, address=address)
print("Set-Cookie:", first.header("Set-Cookie"))
print(lab.ingress_explain(cart))"""),
    md("""60 requests from the client that throw the cookie away (every one is a newcomer), then a
browser that keeps it: its first request gets the cookie, the other 59 send it back."""),
    code("""no_cookie = replies_from("client", cart, 60, address=address)
alice = Browser("client", address)
with_cookie = alice.get(cart, 60)
compare({"no cookie (60 requests)": [r.pod for r in no_cookie],
         "alice, with her cookie (60 requests)": [r.pod for r in with_cookie]},
        "cart.example.com: which pod answered", pods=echo_pods)"""),
    code("""check_cookie_affinity(no_cookie, with_cookie, alice)  # one browser, one pod"""),
    md("""How it is done: ingress-nginx's Lua balancer gives a newcomer a random key as the cookie
and places keys on a consistent-hash ring of the endpoints, so a key always finds the same pod
while the pods stay. The lab's controller does the same with stock nginx: the upstream hashes
on the cookie's value (`hash ... consistent`), and a request without the cookie is hashed on a
fresh request id, which is then sent back as the cookie. (The real cookie's value also carries,
after a `|`, a hash of the backend's name; `docs/architecture.md` lists where the lab differs.)"""),
    code("""conf = lab.ingress_conf()
print(conf_block(conf, "map $http_cookie $ingress_affinity_0"))
print(conf_block(conf, "upstream default-echo-sticky-80"))
print(lab.ingress_explain(cart, cookies=alice.jar))"""),
    code("""check_cookie_keys_the_hash(conf, lab.ingress_explain(cart, cookies=alice.jar))"""),
    md("""## Twelve browsers behind one address

Now twelve browsers on the *same* client host — twelve people behind one office NAT, one
address 192.0.2.10 — each with its own cookie jar, 5 requests each. With cookies, each keeps
its own pod, and together they spread.

For comparison, lab 06's way: `ingress-affinity-clientip.yml` is a NodePort Service with
`sessionAffinity: ClientIP` in front of the same pods, and the same twelve browsers call it
on node1. kube-proxy sees one source address, so it is one client: all twelve get one pod."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/ingress-affinity-clientip.yml").read())
print("\\n".join(lab.apply("manifests/ingress-affinity-clientip.yml", wait=True)))"""),
    code("""node1 = lab.get("nodes", "node1")["status"]["addresses"][0]["address"]
by_cookie = [Browser("client", address).get(cart, 5) for _ in range(12)]
by_address = [Browser("client").get(f"http://{node1}:32080/", 5) for _ in range(12)]
compare({"cookie affinity (Ingress)": [replies[0].pod for replies in by_cookie],
         "ClientIP affinity (Service)": [replies[0].pod for replies in by_address]},
        "12 browsers behind 192.0.2.10: the pod each one stays on", pods=echo_pods, ylabel="browsers")"""),
    code(
        """check_cookie_vs_clientip(by_cookie, by_address)  # one address for the controller too"""
    ),
    md("""## What you saw

- A TLS Secret is `tls.crt` + `tls.key`; the lab CA issues them (`lab_kit/adapters/pki.py`,
  `lab_kit/lab/tls.py`). Which Secret serves which host, and why a missing or wrong one falls
  back to ingress-nginx's self-signed "Kubernetes Ingress Controller Fake Certificate", is
  `lab_kit/render/ingress/certs.py` and `build.py`; nginx chooses by SNI among the `server`
  blocks `lab_kit/render/ingress/nginx_conf.py` writes, each with its `ssl_certificate`.
- http to a TLS host: a 308 to `https://host` + the URI less one trailing slash; HSTS on https
  answers only (`nginx_conf.py`, explained by `lab_kit/render/ingress/route.py`, shown by
  `lab.ingress_explain` from `lab_kit/lab/ingress_view.py`).
- TLS ends at the controller (`lab_kit/agents/ingress_nginx.py` runs nginx in its pod): on the
  client's wire only the SNI is readable; at the pod plain HTTP with `X-Forwarded-Proto:
  https` and `X-Forwarded-For` (the stream reader is `lab_kit/lab/tls_wire.py`).
- Cookie affinity (`lab_kit/render/ingress/annotations.py` reads the annotations,
  `nginx_conf.py` renders the hash on `INGRESSCOOKIE`): one browser, one pod; a newcomer a
  fresh draw; many browsers behind one address keep their own pods. `ClientIP` affinity
  (`lab_kit/render/proxy_rules.py`, `-m recent` on the source address) sees one client there.
  This lab's helpers are in `lab_kit/lab/ingress_tls_lab.py`.

Next: `README.md` lists every lab; the terminal (`labkit ingress explain https://blog.example.com/`,
`labkit ingress conf`) shows the same views."""),
    md("""## Your turn

Two changes to the live cluster; each check makes its own requests from `client`."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "15.1",
        "The missing certificate",
        "`legacy.example.com` gets the Fake Certificate because the Secret `legacy-tls` does not "
        'exist. Make it: `lab.tls_secret("legacy-tls", "legacy.example.com")`, then ask '
        "openssl again.",
        "does the Ingress `sites` have to be applied again? What will openssl's verify code be?",
        'print(lab.tls_secret("legacy-tls", "legacy.example.com"))\n'
        "lab.wait()\n"
        'certificates_seen("client", address, ["legacy.example.com"], ca)',
    ),
    *exercise(
        "15.2",
        "Affinity off",
        "Take the annotation `nginx.ingress.kubernetes.io/affinity` out of the Ingress `cart`: "
        "apply `manifests/ingress-affinity-cookie.yml` again without that line (apply's "
        "three-way merge drops an annotation the last apply set and this one does not). Then let "
        "`alice`, who still holds her `INGRESSCOOKIE`, make 12 more requests.",
        "does her cookie still keep her on one pod? Does anyone get a new cookie?",
        'no_affinity = open("manifests/ingress-affinity-cookie.yml").read().replace(\n'
        '    \'    nginx.ingress.kubernetes.io/affinity: "cookie"\\n\', "")\n'
        'print("\\n".join(lab.apply(no_affinity, wait=True)))\n'
        "print(alice.cookie)\n"
        "sorted({r.pod for r in alice.get(cart, 12)})",
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)
