"""Lab 15's exercises: the missing certificate made, cookie affinity switched off."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, settled

if TYPE_CHECKING:
    from lab_kit.lab.ingress_tls_lab import Reply, SeenCertificate
    from lab_kit.lab.lab import Lab

AFFINITY = "nginx.ingress.kubernetes.io/affinity"


def _address(lab: Lab) -> str:
    """The controller's LoadBalancer address (the one every Ingress publishes)."""
    svc = lab.get("services", "ingress-nginx-controller", namespace="ingress-nginx")
    return svc["status"]["loadBalancer"]["ingress"][0]["ip"]


def _legacy_certificate(lab: Lab) -> str:
    from lab_kit.lab.ingress_tls_lab import certificate_seen, replies_from

    secrets = {s["metadata"]["name"]: s["type"] for s in lab.get("secrets")}
    if "legacy-tls" not in secrets:
        raise NotYet(
            "there is no Secret legacy-tls yet: "
            '`lab.tls_secret("legacy-tls", "legacy.example.com")`'
        )
    address, ca = _address(lab), lab.ca_file()
    seen: dict[str, SeenCertificate] = {}

    def verified() -> bool:
        seen["cert"] = certificate_seen("client", address, "legacy.example.com", ca)
        return seen["cert"].verify == "0 (ok)"

    if not settled(lab, verified, 30):
        cert = seen["cert"]
        raise NotYet(
            f"legacy.example.com is shown {cert.subject or 'no certificate'!r} (openssl: "
            f"{cert.verify}): legacy-tls must hold a certificate for legacy.example.com from the "
            'lab CA — `lab.tls_secret("legacy-tls", "legacy.example.com")` makes one'
        )
    cert = seen["cert"]
    (reply,) = replies_from("client", "https://legacy.example.com/", address=address, cacert=ca)
    if reply.status != 200:
        raise NotYet(
            f"the certificate verifies, but curl got {reply.status or 'no answer'}: check again"
        )
    return (f"legacy.example.com now shows {cert.subject!r} issued by {cert.issuer!r}, "
            f"verified (0 (ok)); curl gets 200 from {reply.pod} — the Ingress itself unchanged")  # fmt: skip


def _no_affinity(lab: Lab) -> str:
    from lab_kit.lab.ingress_tls_lab import replies_from

    annotations = lab.get("ingresses", "cart")["metadata"].get("annotations") or {}
    if annotations.get(AFFINITY) == "cookie":
        raise NotYet(
            f"the Ingress cart still has {AFFINITY}: cookie — apply "
            "manifests/ingress-affinity-cookie.yml again without that line"
        )
    address = _address(lab)
    seen: dict[str, list[Reply]] = {}

    def spread() -> bool:
        # a browser that still sends an old cookie; new connections, round robin over 4 pods
        seen["replies"] = replies_from("client", "http://cart.example.com/", 12, address=address,
                                       cookie="INGRESSCOOKIE=an-old-cookie")  # fmt: skip
        replies = seen["replies"]
        return (all(r.status == 200 for r in replies)
                and not any(r.header("Set-Cookie") for r in replies)
                and len({r.pod for r in replies}) >= 2)  # fmt: skip

    if not settled(lab, spread, 30):
        replies = seen["replies"]
        cookies = sum(1 for r in replies if r.header("Set-Cookie"))
        pods = sorted({r.pod for r in replies})
        raise NotYet(
            f"12 requests with a cookie: statuses {sorted({r.status for r in replies})}, "
            f"{cookies} Set-Cookie, pods {pods}: the controller may not have reloaded yet; "
            "check again in a moment"
        )
    pods = sorted({r.pod for r in seen["replies"]})
    return (f"12 requests sending INGRESSCOOKIE landed on {len(pods)} pods, no Set-Cookie: "
            "without the annotation the cookie is just a header nobody reads")  # fmt: skip


EXERCISES = {
    "15.1": Exercise("The missing certificate", _legacy_certificate),
    "15.2": Exercise("Affinity off", _no_affinity),
}
