"""TLS Secrets for Ingress labs: the lab CA issues a host's certificate, the Secret holds it.

    lab.tls_secret("hello-tls", ["hello.example"])   # issue + create (or replace) the Secret
    lab.ca_file()                                     # /run/labkit/pki/ca.crt, for --cacert
    labkit certificate issue hello.example --secret hello-tls
    labkit create secret tls hello-tls --cert tls.crt --key tls.key     (kubectl's command)

A `kubernetes.io/tls` Secret is what ingress-nginx reads for an Ingress's `tls:` entry: data
`tls.crt` (the certificate, PEM) and `tls.key` (its key), base64 as every Secret's data.
`create secret tls` checks the pair as kubectl does (both parse, the key is the
certificate's) before anything reaches the API, and names the file that is wrong.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass

from lab_kit.adapters import pki
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.rundir import RunDir
from lab_kit.controllers.state import Update
from lab_kit.lab.errors import LabError
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name

TLS_TYPE = "kubernetes.io/tls"


@dataclass(frozen=True)
class TlsSecret:
    """What `tls_secret` did: prints as the CLI says it."""

    name: str
    namespace: str
    action: str  # "created" or "configured" (kubectl's words)
    hosts: tuple[str, ...]
    not_after: datetime.datetime
    ca_file: str

    def __str__(self) -> str:
        return (
            f"secret/{self.name} {self.action} ({TLS_TYPE}, namespace {self.namespace}): a "
            f"certificate for {', '.join(self.hosts)} from the lab CA, valid until "
            f"{self.not_after:%Y-%m-%d}\n"
            f"trust it with: curl --cacert {self.ca_file} https://{self.hosts[0]}/"
        )

    def _repr_pretty_(self, p: object, cycle: bool) -> None:  # what a notebook cell shows
        p.text(str(self))  # type: ignore[attr-defined]


def ca(run_dir: RunDir | None = None) -> pki.KeyPair:
    rd = run_dir or RunDir()
    return pki.load_or_create_ca(rd.ca_cert, rd.ca_key)


def ca_file(run_dir: RunDir | None = None) -> str:
    """The lab CA's certificate (made on first use): `curl --cacert` trusts what it issued."""
    rd = run_dir or RunDir()
    ca(rd)
    return rd.ca_cert


def secret_object(name: str, namespace: str, cert_pem: bytes, key_pem: bytes) -> dict:
    """The Secret `kubectl create secret tls` makes."""
    data = {"tls.crt": cert_pem, "tls.key": key_pem}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": TLS_TYPE,
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def tls_secret(client: ApiClient, name: str, hosts: list[str] | str, namespace: str = "default",
               run_dir: RunDir | None = None) -> TlsSecret:  # fmt: skip
    """Issue a certificate for `hosts` from the lab CA and create the TLS Secret `name`, or
    replace the certificate of the TLS Secret already there."""
    hosts = [hosts] if isinstance(hosts, str) else list(hosts)
    if not hosts:
        raise LabError("a certificate needs at least one host name")
    rd = run_dir or RunDir()
    try:
        pair = pki.issue(ca(rd), hosts)
    except pki.PkiError as e:
        raise LabError(str(e)) from None
    action = _create_or_replace(client, secret_object(name, namespace, pair.cert_pem, pair.key_pem))
    return TlsSecret(
        name, namespace, action, tuple(hosts), pair.cert.not_valid_after_utc, rd.ca_cert
    )


def _create_or_replace(client: ApiClient, secret: dict) -> str:
    try:
        client.create(secret)
        return "created"
    except ApiError as e:
        if e.reason != "AlreadyExists":
            raise
    meta = secret["metadata"]
    current = client.get(by_kind_name("Secret"), meta["name"], meta["namespace"])
    if current.get("type", "Opaque") != TLS_TYPE:
        raise LabError(
            f'secret "{meta["name"]}" already exists with type {current.get("type", "Opaque")}, '
            f"not {TLS_TYPE} (a Secret's type cannot change): delete it first"
        )
    client.perform(Update({**current, "data": secret["data"]}))
    return "configured"


def create_tls_secret(client: ApiClient, name: str, cert_file: str, key_file: str,
                      namespace: str = "default") -> dict:  # fmt: skip
    """kubectl create secret tls NAME --cert FILE --key FILE: the files checked as a pair
    (each error names its file), then created (AlreadyExists if the name is taken)."""
    cert_pem, key_pem = _read(cert_file, "--cert"), _read(key_file, "--key")
    try:
        pki.check_pair(cert_pem, key_pem, f"--cert {cert_file}", f"--key {key_file}")
    except pki.PkiError as e:
        raise LabError(f"failed to load key pair tls: {e}") from None
    return client.create(secret_object(name, namespace, cert_pem, key_pem))


def _read(path: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise LabError(f"{flag}: open {path}: {(e.strerror or str(e)).lower()}") from None
