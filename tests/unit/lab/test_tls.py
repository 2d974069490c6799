"""lab.tls_secret and lab.ca_file: the lab CA (in a private run dir) and kubernetes.io/tls
Secrets written through the real API (in-process)."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509

from lab_kit.adapters import pki
from lab_kit.lab.errors import LabError
from lab_kit.model.kinds import by_kind_name

SECRET = by_kind_name("Secret")


def secret_pair(client, name: str, namespace: str = "default") -> tuple[dict, bytes, bytes]:
    secret = client.get(SECRET, name, namespace)
    data = secret["data"]
    return secret, base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])


def test_tls_secret_issues_from_the_lab_ca(lab, client, rundir):
    done = lab.tls_secret("shop-tls", ["foo.example", "*.bar.example"], namespace="kube-system")
    secret, cert_pem, key_pem = secret_pair(client, "shop-tls", "kube-system")
    assert secret["type"] == "kubernetes.io/tls"
    assert sorted(secret["data"]) == ["tls.crt", "tls.key"]
    cert = pki.check_pair(cert_pem, key_pem)  # the key matches the certificate
    with open(lab.ca_file(), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    cert.verify_directly_issued_by(ca)  # signed by the CA curl --cacert trusts
    assert lab.ca_file() == rundir.ca_cert
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["foo.example", "*.bar.example"]
    assert (done.action, done.hosts, done.namespace) == (
        "created",
        ("foo.example", "*.bar.example"),
        "kube-system",
    )
    assert str(done).startswith("secret/shop-tls created (kubernetes.io/tls, namespace kube-")
    assert f"curl --cacert {rundir.ca_cert} https://foo.example/" in str(done)


def test_tls_secret_again_replaces_the_certificate(lab, client, rundir):
    lab.tls_secret("web-tls", "a.example")
    first = secret_pair(client, "web-tls")[1]
    done = lab.tls_secret("web-tls", ["b.example"])
    _, cert_pem, key_pem = secret_pair(client, "web-tls")
    assert done.action == "configured" and cert_pem != first
    assert pki.names(pki.check_pair(cert_pem, key_pem)) == ["b.example"]


def test_the_ca_is_one_for_the_labs_life(lab, rundir):
    path = lab.ca_file()
    with open(path, "rb") as f:
        before = f.read()
    lab.tls_secret("x-tls", "x.example")
    with open(path, "rb") as f:
        assert f.read() == before


def test_an_opaque_secret_of_that_name_is_not_overwritten(lab, client, rundir):
    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "taken",
                   "namespace": "default"}, "data": {"a": "Yg=="}})  # fmt: skip
    with pytest.raises(LabError, match="already exists with type Opaque"):
        lab.tls_secret("taken", "x.example")
    assert client.get(SECRET, "taken", "default")["data"] == {"a": "Yg=="}


def test_a_certificate_needs_a_host(lab, rundir):
    with pytest.raises(LabError, match="at least one host"):
        lab.tls_secret("none", [])
