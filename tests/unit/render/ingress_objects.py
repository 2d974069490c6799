"""Real-shaped API objects for the ingress routing tests (networking.k8s.io/v1 Ingress,
IngressClass, v1 Service, discovery.k8s.io/v1 EndpointSlice, kubernetes.io/tls Secret)."""

from __future__ import annotations

import base64
import datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lab_kit.render.ingress import Config, Settings, build


def backend(service: str, port: int | str = 80) -> dict:
    ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {"service": {"name": service, "port": ref}}


def path(p: str, path_type: str, service: str, port: int | str = 80) -> dict:
    return {"path": p, "pathType": path_type, "backend": backend(service, port)}


def rule(host: str | None, *paths: dict) -> dict:
    out: dict = {"http": {"paths": list(paths)}}
    if host:
        out["host"] = host
    return out


def ingress(
    name: str,
    *rules: dict,
    ns: str = "default",
    created: str = "2024-01-01T00:00:00Z",
    annotations: dict[str, str] | None = None,
    tls: list[dict] | None = None,
    default: dict | None = None,
    class_name: str | None = None,
) -> dict:
    spec: dict = {}
    if rules:
        spec["rules"] = list(rules)
    if tls is not None:
        spec["tls"] = tls
    if default is not None:
        spec["defaultBackend"] = default
    if class_name is not None:
        spec["ingressClassName"] = class_name
    meta = {"name": name, "namespace": ns, "creationTimestamp": created}
    if annotations:
        meta["annotations"] = {
            f"nginx.ingress.kubernetes.io/{k}" if "/" not in k else k: v
            for k, v in annotations.items()
        }
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def ingress_class(name: str, controller: str = "k8s.io/ingress-nginx") -> dict:
    return {"kind": "IngressClass", "metadata": {"name": name}, "spec": {"controller": controller}}


def service(
    name: str, *ports: tuple[int, int | str, str], ns: str = "default", type_: str = "ClusterIP"
) -> dict:
    ports = ports or ((80, 8080, ""),)
    spec: dict = {
        "type": type_,
        "ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"} for p, t, n in ports],
    }
    if type_ == "ExternalName":
        spec = {"type": type_, "externalName": "example.com", "ports": spec["ports"]}
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def endpoint_slice(
    service_name: str,
    *ips: str,
    port: int = 8080,
    port_name: str = "",
    ready: bool | None = True,
    ns: str = "default",
) -> dict:
    conditions = {} if ready is None else {"ready": ready}
    endpoints = [
        {
            "addresses": [ip],
            "conditions": conditions,
            "nodeName": f"node{i % 2 + 1}",
            "targetRef": {"kind": "Pod", "name": f"{service_name}-{i}", "namespace": ns},
        }
        for i, ip in enumerate(ips)
    ]
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-abc",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": endpoints,
    }


def backed(name: str, *ips: str, port_name: str = "") -> list[dict]:
    """A Service on port 80 -> 8080 and its slice with ready endpoints."""
    ips = ips or ("10.244.1.10",)
    return [service(name, (80, 8080, port_name)), endpoint_slice(name, *ips, port_name=port_name)]


@cache
def key_and_cert(hosts: tuple[str, ...], cn: str = "") -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn or (hosts[0] if hosts else "lab"))]
    )
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def tls_secret(
    name: str, *hosts: str, ns: str = "default", cert: bytes | None = None, key: bytes | None = None
) -> dict:
    made_cert, made_key = key_and_cert(tuple(hosts))
    data = {
        "tls.crt": base64.b64encode(cert if cert is not None else made_cert).decode(),
        "tls.key": base64.b64encode(key if key is not None else made_key).decode(),
    }
    return {
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }


def config(*objects: dict | list[dict], settings: Settings | None = None) -> Config:
    flat: list[dict] = []
    for obj in objects:
        flat += obj if isinstance(obj, list) else [obj]
    kinds = {
        k: [o for o in flat if o.get("kind") == k]
        for k in ("Ingress", "IngressClass", "Service", "EndpointSlice", "Secret")
    }
    return build(
        ingresses=kinds["Ingress"],
        ingress_classes=kinds["IngressClass"],
        services=kinds["Service"],
        endpoint_slices=kinds["EndpointSlice"],
        secrets=kinds["Secret"],
        settings=settings or Settings(),
    )
