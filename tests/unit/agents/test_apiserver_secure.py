"""The API server's secure port on loopback (no namespaces, no root): HTTPS with the lab
CA's certificate, anonymous 403 / bad token 401 / bound token 200, the kubernetes Service's
Endpoints and EndpointSlice, and the Unix socket left unauthenticated."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import httpx

from lab_kit.adapters import pki
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.apiserver import ApiServer
from lab_kit.agents.apiserver_secure import SecurePort, open_secure_port
from lab_kit.api.registry import Registry
from lab_kit.model.kinds import by_kind_name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_secure_port_authenticates_and_names_itself_in_the_endpoints(tmp_path):
    rd = RunDir(str(tmp_path))
    port = free_port()

    async def scenario() -> None:
        registry = Registry()
        registry.bootstrap()
        server = ApiServer(registry)
        await server.start(str(tmp_path / "api.sock"))
        options = SecurePort("172.18.0.2", port, "", "127.0.0.1")
        await open_secure_port(registry, rd, options, server.serve_secure, server.clock)
        registry.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}})  # fmt: skip
        token = registry.create_token("default", "default", {"spec": {
            "boundObjectRef": {"kind": "Pod", "name": "p"}, "expirationSeconds": 3607}})  # fmt: skip
        context = ssl.create_default_context(cafile=rd.ca_cert)
        context.check_hostname = False  # the certificate names 172.18.0.2, we dial 127.0.0.1
        base = f"https://127.0.0.1:{port}"
        slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
        async with httpx.AsyncClient(verify=context, base_url=base) as client:
            anonymous = await client.get(slices)
            bad = await client.get(slices, headers={"Authorization": "Bearer x.y.z"})
            good = await client.get(
                slices, headers={"Authorization": f"Bearer {token['status']['token']}"}
            )
            version = await client.get("/version")
        uds = httpx.AsyncHTTPTransport(uds=str(tmp_path / "api.sock"))
        async with httpx.AsyncClient(transport=uds, base_url="http://api") as admin:
            unix = await admin.get(slices)
        await server.stop()
        assert (anonymous.status_code, anonymous.json()["reason"]) == (403, "Forbidden")
        assert (bad.status_code, bad.json()["message"]) == (401, "Unauthorized")
        assert good.status_code == 200 and version.status_code == 200
        assert unix.status_code == 200  # the admin's socket: no token asked
        (kubernetes,) = [s for s in good.json()["items"] if s["metadata"]["name"] == "kubernetes"]
        assert kubernetes["endpoints"] == [
            {"addresses": ["172.18.0.2"], "conditions": {"ready": True}}
        ]
        assert kubernetes["ports"] == [{"name": "https", "port": port, "protocol": "TCP"}]
        endpoints = registry.get(by_kind_name("Endpoints"), "default", "kubernetes")
        assert endpoints["metadata"]["labels"] == {
            "endpointslice.kubernetes.io/skip-mirror": "true"
        }
        ca = registry.get(by_kind_name("ConfigMap"), "default", "kube-root-ca.crt")
        assert ca["data"]["ca.crt"].encode() == Path(rd.ca_cert).read_bytes()

    asyncio.run(scenario())
    with open(rd.apiserver_cert, "rb") as f:
        sans = pki.subject_alt_names(pki.load_certificate(f.read()))
    assert {"kubernetes.default.svc.cluster.local", "10.96.0.1", "172.18.0.2"} <= set(sans)


def test_a_restarted_api_server_keeps_its_certificate_and_signing_key(tmp_path):
    rd = RunDir(str(tmp_path))
    from lab_kit.agents.apiserver_secure import credentials

    names = ["kubernetes", "10.96.0.1", "172.18.0.2"]
    first = credentials(rd, names)
    again = credentials(rd, names)
    assert first[1].cert_pem == again[1].cert_pem and first[2] == again[2]
    wider = credentials(rd, [*names, "172.18.0.9"])  # a new address: a new certificate
    assert wider[1].cert_pem != first[1].cert_pem and wider[2] == first[2]
