"""labkit create secret tls and labkit certificate issue, against the in-process API."""

from __future__ import annotations

import base64

import pytest

from lab_kit.adapters import pki
from lab_kit.cli.main import build_parsers
from lab_kit.model.kinds import by_kind_name


@pytest.fixture(scope="module")
def pairs() -> tuple[pki.KeyPair, pki.KeyPair]:
    ca = pki.make_ca()
    return pki.issue(ca, ["a.example"]), pki.issue(ca, ["b.example"])


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_create_secret_tls_stores_the_files_as_kubectl_does(labkit, api, tmp_path, pairs):
    a, _ = pairs
    cert, key = write(tmp_path, "tls.crt", a.cert_pem), write(tmp_path, "tls.key", a.key_pem)
    result = labkit(
        "create", "secret", "tls", "a-tls", "--cert", cert, "--key", key, "-n", "kube-system"
    )
    assert (result.code, result.out, result.err) == (0, "secret/a-tls created\n", "")
    secret = api.client().get(by_kind_name("Secret"), "a-tls", "kube-system")
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]) == a.cert_pem
    assert base64.b64decode(secret["data"]["tls.key"]) == a.key_pem
    again = labkit(
        "create", "secret", "tls", "a-tls", "--cert", cert, "--key", key, "-n", "kube-system"
    )
    assert (
        again.code == 1 and "(AlreadyExists)" in again.err and '"a-tls" already exists' in again.err
    )


def test_create_secret_tls_names_the_file_that_is_wrong(labkit, tmp_path, pairs):
    a, b = pairs
    cert, other_key = write(tmp_path, "a.crt", a.cert_pem), write(tmp_path, "b.key", b.key_pem)
    result = labkit("create", "secret", "tls", "x", "--cert", cert, "--key", other_key)
    assert result.code == 1
    assert result.err == (
        f"error: failed to load key pair tls: --key {other_key} does not match --cert {cert}: "
        "private key does not match public key\n"
    )
    missing = str(tmp_path / "nope.crt")
    result = labkit("create", "secret", "tls", "x", "--cert", missing, "--key", other_key)
    assert result.err == f"error: --cert: open {missing}: no such file or directory\n"
    not_pem = write(tmp_path, "notes.txt", b"hello")
    result = labkit("create", "secret", "tls", "x", "--cert", not_pem, "--key", other_key)
    assert result.code == 1 and f"--cert {not_pem}: no certificate PEM data found" in result.err
    result = labkit("create", "secret", "tls", "x", "--cert", cert, "--key", not_pem)
    assert result.code == 1 and f"--key {not_pem}: no private key PEM data found" in result.err


def test_certificate_issue_creates_a_secret_from_the_lab_ca(labkit, api, rundir):
    result = labkit("certificate", "issue", "foo.example", "*.bar.example", "--secret", "shop-tls")
    assert result.code == 0, result.err
    assert result.out.startswith("secret/shop-tls created (kubernetes.io/tls, namespace default)")
    assert f"curl --cacert {rundir.ca_cert} https://foo.example/" in result.out
    secret = api.client().get(by_kind_name("Secret"), "shop-tls", "default")
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    cert = pki.check_pair(data["tls.crt"], data["tls.key"])
    with open(rundir.ca_cert, "rb") as f:
        cert.verify_directly_issued_by(pki.KeyPair(f.read(), b"").cert)
    assert pki.names(cert) == ["*.bar.example", "foo.example"]
    again = labkit("certificate", "issue", "foo.example", "--secret", "shop-tls")
    assert again.out.startswith("secret/shop-tls configured")


@pytest.mark.parametrize(
    "path, example",
    [
        (
            ["create", "secret", "tls"],
            "labkit create secret tls hello-tls --cert tls.crt --key tls.key",
        ),
        (["certificate", "issue"], "labkit certificate issue hello.example --secret hello-tls"),
    ],
)
def test_help_has_an_example(path, example):
    _, commands = build_parsers()
    parser = commands[path[0]]
    for word in path[1:]:
        sub = next(a for a in parser._actions if a.dest in ("kind", "secret_type", "action"))
        parser = sub.choices[word]
    assert example in parser.format_help()


def test_certificate_issue_needs_a_secret(labkit):
    with pytest.raises(SystemExit):
        labkit("certificate", "issue", "foo.example")
