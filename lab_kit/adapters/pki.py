"""The lab's small PKI: a CA, server certificates it issues, self-signed certificates.

What learners would otherwise make with openssl or cert-manager's CA issuer, so labs need no
outside tools:

    ca = load_or_create_ca(rundir.ca_cert, rundir.ca_key)   # "lab_kit CA", kept for the lab
    pair = issue(ca, ["foo.example", "*.bar.example"])        # SANs, serverAuth, one year
    check_pair(pair.cert_pem, pair.key_pem)                   # what `kubectl create secret
                                                              # tls` checks (tls.X509KeyPair)
    fake_certificate()                                        # ingress-nginx's default

Keys are RSA 2048 and signatures SHA-256, as openssl's and ingress-nginx's defaults make
them. The CA's key never leaves the run directory (mode 0600); clients trust the CA with
`curl --cacert <run dir>/pki/ca.crt`.

Left out: intermediates, revocation, client certificates, key types other than RSA.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "lab_kit CA"
CA_DAYS = 3650
SERVER_DAYS = 365  # as openssl's -days 365 and ingress-nginx's fake certificate
FAKE_CN = "Kubernetes Ingress Controller Fake Certificate"
FAKE_ORGANIZATION = "Acme Co"
FAKE_HOST = "ingress.local"  # ingress-nginx's GetFakeSSLCert


class PkiError(ValueError):
    """A certificate or key that cannot be used; the message names the file or field."""


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey, pkcs1: bool = False) -> bytes:
    form = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if pkcs1
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())


def _name(common_name: str, organization: str = "") -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sans(hosts: list[str]) -> x509.SubjectAlternativeName:
    """DNS names (wildcards such as *.foo.com included) and IP addresses."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _server_usage(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    usage = x509.KeyUsage(
        digital_signature=True, key_encipherment=True, content_commitment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    return (
        builder.add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey, days: int,
             now: datetime.datetime | None) -> x509.CertificateBuilder:  # fmt: skip
    start = now or _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def make_ca(common_name: str = CA_NAME, days: int = CA_DAYS,
            now: datetime.datetime | None = None) -> KeyPair:  # fmt: skip
    """A self-signed CA certificate (CA:TRUE, may sign certificates, no intermediates)."""
    key = _key()
    name = _name(common_name, "lab_kit")
    usage = x509.KeyUsage(
        digital_signature=True, key_encipherment=False, content_commitment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    cert = (
        _builder(name, name, key, days, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(ca: KeyPair, hosts: list[str], days: int = SERVER_DAYS,
          now: datetime.datetime | None = None) -> KeyPair:  # fmt: skip
    """A server certificate for `hosts` (CN the first, every one a SAN) signed by `ca`."""
    if not hosts:
        raise PkiError("a certificate needs at least one host name")
    ca_cert = ca.cert
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise PkiError("the CA's key is not an RSA key")
    key = _key()
    builder = _builder(_name(hosts[0]), ca_cert.subject, key, days, now)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    cert = (
        _server_usage(builder)
        .add_extension(_sans(hosts), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def self_signed(hosts: list[str], common_name: str = "", organization: str = "",
                days: int = SERVER_DAYS, now: datetime.datetime | None = None) -> KeyPair:  # fmt: skip
    """A self-signed server certificate (not a CA), as `openssl req -x509` makes one for a
    host; the key in PKCS#1 ("RSA PRIVATE KEY"), as Go's x509.MarshalPKCS1PrivateKey."""
    key = _key()
    name = _name(common_name or hosts[0], organization)
    cert = (
        _server_usage(_builder(name, name, key, days, now))
        .add_extension(_sans(hosts), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key, pkcs1=True))


def fake_certificate(now: datetime.datetime | None = None) -> KeyPair:
    """ingress-nginx's default certificate for hosts without a valid Secret: O "Acme Co",
    CN "Kubernetes Ingress Controller Fake Certificate", SAN ingress.local, one year."""
    return self_signed([FAKE_HOST], FAKE_CN, FAKE_ORGANIZATION, now=now)


def self_signed_pem(common_name: str, organization: str = "",
                    hosts: list[str] | None = None) -> tuple[bytes, bytes]:  # fmt: skip
    """(certificate, key) PEM of a self-signed certificate; ingress-nginx's fake one (SAN
    ingress.local) when `common_name` is its CN and no hosts are given."""
    if common_name == FAKE_CN and not hosts:
        pair = self_signed([FAKE_HOST], FAKE_CN, organization or FAKE_ORGANIZATION)
    else:
        pair = self_signed(hosts or [common_name], common_name, organization)
    return pair.cert_pem, pair.key_pem


# --- checking what users hand in -----------------------------------------------------------


def load_certificate(pem: bytes, what: str = "certificate") -> x509.Certificate:
    """The first certificate of a PEM bundle, or a PkiError naming `what`."""
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise PkiError(f"{what}: no certificate PEM data found (expected a line "
                       "-----BEGIN CERTIFICATE-----)")  # fmt: skip
    try:
        return x509.load_pem_x509_certificates(pem)[0]
    except ValueError as e:
        raise PkiError(f"{what}: not a valid PEM certificate: {e}") from None


def load_key(pem: bytes, what: str = "key") -> object:
    if b"PRIVATE KEY-----" not in pem:
        raise PkiError(f"{what}: no private key PEM data found (expected a line "
                       "-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")  # fmt: skip
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise PkiError(f"{what}: not a valid unencrypted PEM private key: {e}") from None


def check_pair(cert_pem: bytes, key_pem: bytes, cert_what: str = "certificate",
               key_what: str = "key") -> x509.Certificate:  # fmt: skip
    """What Go's tls.X509KeyPair checks before kubectl or ingress-nginx use a pair: both
    parse, and the key is the certificate's. Returns the certificate."""
    cert = load_certificate(cert_pem, cert_what)
    key = load_key(key_pem, key_what)
    public = getattr(key, "public_key", None)
    if public is None or public().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise PkiError(f"{key_what} does not match {cert_what}: private key does not match "
                       "public key")  # fmt: skip
    return cert


def names(cert: x509.Certificate) -> list[str]:
    """The names ingress-nginx reads from a certificate (CreateSSLCert): its CN and DNS SANs."""
    found = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        found += cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    return sorted({str(n) for n in found})


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    """Every DNS name and IP address the certificate is valid for (its SANs)."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    ips = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    return [*sans.get_values_for_type(x509.DNSName), *ips]


# --- the lab's CA on disk ----------------------------------------------------------------


def load_or_create_ca(cert_path: str, key_path: str) -> KeyPair:
    """The CA kept at these paths, made on first use (under a lock, so two processes asking
    at once get the same CA); the key readable by its owner only."""
    os.makedirs(os.path.dirname(cert_path) or ".", mode=0o755, exist_ok=True)
    with open(os.path.join(os.path.dirname(cert_path) or ".", "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(cert_path):
            with open(cert_path, "rb") as c, open(key_path, "rb") as k:
                ca = KeyPair(c.read(), k.read())
            check_pair(ca.cert_pem, ca.key_pem, cert_path, key_path)
            return ca
        ca = make_ca()
        _write(key_path, ca.key_pem, 0o600)
        _write(cert_path, ca.cert_pem, 0o644)  # last: its presence means both are there
        return ca


def load_or_create_key(path: str) -> bytes:
    """An RSA private key kept at `path` (PEM, owner-only), made on first use: the API
    server's service-account signing key (kube-apiserver's sa.key)."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    with open(os.path.join(os.path.dirname(path) or ".", "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            with open(path, "rb") as f:
                return f.read()
        pem = new_key_pem()
        _write(path, pem, 0o600)
        return pem


def new_key_pem() -> bytes:
    """A new RSA private key, PEM (PKCS#8)."""
    return _key_pem(_key())


def write_pair(cert_path: str, key_path: str, pair: KeyPair) -> None:
    """A certificate and its key on disk (the key owner-only; the certificate last)."""
    os.makedirs(os.path.dirname(cert_path) or ".", mode=0o755, exist_ok=True)
    _write(key_path, pair.key_pem, 0o600)
    _write(cert_path, pair.cert_pem, 0o644)


def _write(path: str, data: bytes, mode: int) -> None:
    temp = f"{path}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(temp, mode)
    os.replace(temp, path)
