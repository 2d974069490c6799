"""TLS Secrets as ingress-nginx reads them (internal/net/ssl/ssl.go `CreateSSLCert`, and the
host check of controller.go `createServers`).

A Secret serves a host when it holds `tls.crt` and `tls.key` (base64 in `data`; ingress-nginx
does not look at the Secret's type), the first PEM block is a CERTIFICATE, the key matches the
certificate's public key, and the certificate covers the host: one of its DNS names (SAN, or
the subject's CN, which ingress-nginx still accepts with a warning) equals the host or is a
`*.` wildcard covering exactly its first label. Anything else: the default certificate.

Left out: certificate chains completed from AIA, CA/CRL keys for client authentication, expiry
(ingress-nginx only warns about it; this module has no clock).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from lab_kit.model import meta


@dataclass(frozen=True)
class KeyPair:
    """A usable certificate: the PEM nginx loads (certificate, then key) and its names."""

    namespace: str
    name: str
    pem: bytes
    names: tuple[str, ...]  # SAN DNS names, then the CN

    def covers(self, host: str) -> bool:
        return any(name_covers(pattern, host) for pattern in self.names)


def name_covers(pattern: str, host: str) -> bool:
    """Go's crypto/x509 hostname match: case-insensitive, `*.` stands for one whole label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if not pattern.startswith("*.") or "*" in host:
        return False
    first, _, rest = host.partition(".")
    return bool(first) and rest == pattern[2:]


def load(secret: dict) -> KeyPair | str:
    """The Secret's key pair, or why it cannot serve TLS (a sentence)."""
    where = f"Secret {meta.namespace(secret)}/{meta.name(secret)}"
    data = secret.get("data") or {}
    if "tls.crt" not in data or "tls.key" not in data:
        return f"{where} has no tls.crt and tls.key"
    try:
        cert_pem = base64.b64decode(data["tls.crt"], validate=True)
        key_pem = base64.b64decode(data["tls.key"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        return f"{where}: tls.crt or tls.key is not base64"
    return _pair(where, secret, cert_pem, key_pem)


def _pair(where: str, secret: dict, cert_pem: bytes, key_pem: bytes) -> KeyPair | str:
    if not cert_pem.lstrip().startswith(b"-----BEGIN CERTIFICATE-----"):
        return f"{where}: tls.crt does not start with a CERTIFICATE PEM block"
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as err:
        return f"{where}: cannot read the certificate or key ({err})"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if cert.public_key().public_bytes(encoding, public) != key.public_key().public_bytes(
        encoding, public
    ):
        return f"{where}: the private key does not match the certificate"
    pem = cert_pem.rstrip(b"\n") + b"\n" + key_pem.rstrip(b"\n") + b"\n"
    return KeyPair(meta.namespace(secret), meta.name(secret), pem, _names(cert))


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    names += [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return tuple(names)
