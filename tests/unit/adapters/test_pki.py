"""The lab's PKI: a CA, certificates it issues, ingress-nginx's fake certificate, and the
checks `kubectl create secret tls` makes."""

from __future__ import annotations

import datetime
import os
import threading

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab_kit.adapters import pki


@pytest.fixture(scope="module")
def ca() -> pki.KeyPair:
    return pki.make_ca()


def verify_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """Raises unless `issuer`'s key signed `cert` (and the names chain)."""
    cert.verify_directly_issued_by(issuer)


def test_ca_is_a_self_signed_ca(ca):
    cert = ca.cert
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "lab_kit CA"
    assert cert.issuer == cert.subject
    verify_signed_by(cert, cert)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_issued_certificate_verifies_against_the_ca_and_covers_the_hosts(ca):
    now = datetime.datetime(2030, 1, 2, tzinfo=datetime.timezone.utc)
    pair = pki.issue(ca, ["foo.example", "*.bar.example", "192.0.2.10"], now=now)
    cert = pair.cert
    verify_signed_by(cert, ca.cert)
    with pytest.raises(InvalidSignature):
        verify_signed_by(cert, pki.make_ca().cert)  # another CA did not sign it
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["foo.example", "*.bar.example"]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "foo.example"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.not_valid_before_utc == now
    assert cert.not_valid_after_utc == now + datetime.timedelta(days=365)
    assert pki.check_pair(pair.cert_pem, pair.key_pem) == cert  # the key is the cert's
    assert pki.names(cert) == ["*.bar.example", "foo.example"]


def test_issued_key_signs_what_the_certificate_verifies(ca):
    pair = pki.issue(ca, ["a.example"])
    key = pki.load_key(pair.key_pem)
    signature = key.sign(b"hello", padding.PKCS1v15(), hashes.SHA256())
    pair.cert.public_key().verify(signature, b"hello", padding.PKCS1v15(), hashes.SHA256())


def test_fake_certificate_is_ingress_nginx_s():
    pair = pki.fake_certificate()
    cert = pair.cert
    assert cert.subject.rfc4514_string() == (
        "CN=Kubernetes Ingress Controller Fake Certificate,O=Acme Co"
    )
    assert cert.issuer == cert.subject
    verify_signed_by(cert, cert)
    assert pki.names(cert) == ["Kubernetes Ingress Controller Fake Certificate", "ingress.local"]
    assert pair.key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1, as Go writes it
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=365)
    pki.check_pair(pair.cert_pem, pair.key_pem)


def test_self_signed_pem_pairs():
    cert_pem, key_pem = pki.self_signed_pem(pki.FAKE_CN, organization="Acme Co")
    cert = pki.check_pair(cert_pem, key_pem)
    assert pki.names(cert) == [pki.FAKE_CN, "ingress.local"]
    cert_pem, key_pem = pki.self_signed_pem("conformance", hosts=["foo.bar.com"])
    assert pki.names(pki.check_pair(cert_pem, key_pem)) == ["conformance", "foo.bar.com"]


def test_check_pair_names_what_is_wrong(ca):
    a, b = pki.issue(ca, ["a.example"]), pki.issue(ca, ["b.example"])
    with pytest.raises(pki.PkiError, match=r"^b\.key does not match a\.crt: private key"):
        pki.check_pair(a.cert_pem, b.key_pem, "a.crt", "b.key")
    with pytest.raises(pki.PkiError, match=r"^x\.crt: no certificate PEM data found"):
        pki.check_pair(b"hello", a.key_pem, "x.crt", "x.key")
    with pytest.raises(pki.PkiError, match=r"^x\.key: no private key PEM data found"):
        pki.check_pair(a.cert_pem, a.cert_pem, "x.crt", "x.key")
    broken = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    with pytest.raises(pki.PkiError, match=r"^x\.crt: not a valid PEM certificate"):
        pki.check_pair(broken, a.key_pem, "x.crt", "x.key")


def test_issue_needs_a_host(ca):
    with pytest.raises(pki.PkiError, match="at least one host"):
        pki.issue(ca, [])


def test_the_ca_on_disk_is_made_once_and_kept(tmp_path):
    cert_path, key_path = str(tmp_path / "pki" / "ca.crt"), str(tmp_path / "pki" / "ca.key")
    first = pki.load_or_create_ca(cert_path, key_path)
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    assert pki.load_or_create_ca(cert_path, key_path) == first  # kept for the lab's life
    with open(cert_path, "rb") as f:
        assert f.read() == first.cert_pem


def test_two_processes_asking_at_once_get_one_ca(tmp_path):
    cert_path, key_path = str(tmp_path / "ca.crt"), str(tmp_path / "ca.key")
    got: list[pki.KeyPair] = []
    threads = [
        threading.Thread(target=lambda: got.append(pki.load_or_create_ca(cert_path, key_path)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 3 and got[0] == got[1] == got[2]
    pki.check_pair(got[0].cert_pem, got[0].key_pem)
