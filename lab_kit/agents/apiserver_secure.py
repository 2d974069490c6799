"""The API server's secure port: HTTPS with the lab CA's certificate, service-account
authentication, reachable from pods through the `kubernetes` Service.

    at start, before the API server says ready
        lab CA, apiserver.crt (SANs kubernetes.default.svc..., 10.96.0.1, the address),
        sa.key -> the registry signs tokens and publishes kube-root-ca.crt
    then in the background (the Unix socket serves meanwhile)
        wait for the control-plane node's network namespace (the network agent makes it)
        listen on 172.18.0.2:6443 inside it (`adapters/netns_socket.py`)
        write default/kubernetes' Endpoints and EndpointSlice (`api/apiserver_endpoints.py`)

kubeadm's control plane listens on the node's address, port 6443; in the lab the first
node doubles as the control-plane node (as on minikube or a one-control-plane kubeadm
cluster whose node is not tainted). Without `--bind-netns-host` (unit tests) the port is
opened in the API server's own namespace.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lab_kit.adapters import pki
from lab_kit.adapters.clock import Clock
from lab_kit.adapters.netns_socket import listen_in
from lab_kit.adapters.rundir import NoSuchHost, RunDir
from lab_kit.api import apiserver_endpoints
from lab_kit.api.authn import TokenIssuer
from lab_kit.api.registry import Registry
from lab_kit.model import constants as C

log = logging.getLogger("apiserver")
NETNS_POLL_S = 0.1  # how often the network record is looked at until the node exists


@dataclass(frozen=True)
class SecurePort:
    advertise_address: str  # the kubernetes Service's endpoint (kube's --advertise-address)
    port: int = C.API_SERVER_PORT
    netns_host: str = ""  # the lab host whose network namespace holds the port ("" = own)
    bind_address: str = ""  # default: the advertise address


def serving_names(cluster_ip: str, advertise: str) -> list[str]:
    """The serving certificate's SANs, as kubeadm's apiserver.crt has them."""
    dns = [f"kubernetes.default.svc.{C.CLUSTER_DOMAIN}", "kubernetes", "kubernetes.default",
           "kubernetes.default.svc", "localhost"]  # fmt: skip
    return [*dns, cluster_ip, advertise, "127.0.0.1"]


def credentials(rd: RunDir, names: list[str]) -> tuple[pki.KeyPair, pki.KeyPair, bytes]:
    """(CA, serving pair, service-account key), made on first use and kept in the run dir
    (a restarted API server keeps its certificate and the tokens it signed stay valid)."""
    ca = pki.load_or_create_ca(rd.ca_cert, rd.ca_key)
    pair = _kept_pair(rd)
    if pair is None or not set(names) <= set(pki.subject_alt_names(pair.cert)):
        pair = pki.issue(ca, names)
        pki.write_pair(rd.apiserver_cert, rd.apiserver_key, pair)
    return ca, pair, pki.load_or_create_key(rd.service_account_key)


def _kept_pair(rd: RunDir) -> pki.KeyPair | None:
    try:
        with open(rd.apiserver_cert, "rb") as c, open(rd.apiserver_key, "rb") as k:
            return pki.KeyPair(c.read(), k.read())
    except OSError:
        return None


async def open_secure_port(
    registry: Registry,
    rd: RunDir,
    options: SecurePort,
    serve: Callable[[socket.socket, ssl.SSLContext], Awaitable[asyncio.AbstractServer]],
    clock: Clock,
) -> asyncio.AbstractServer:
    """Everything the docstring lists, in order; returns the server of the secure port.
    The keys come first (`prepare`): the API server awaits them before it says ready."""
    loop = asyncio.get_running_loop()
    await prepare(registry, rd, options)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(rd.apiserver_cert, rd.apiserver_key)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # kube-apiserver's default minimum
    bind = options.bind_address or options.advertise_address
    if options.netns_host:
        pid = await _wait_for_host(rd, options.netns_host, clock)
        sock = await loop.run_in_executor(None, listen_in, pid, bind, options.port)
    else:
        sock = await loop.run_in_executor(None, _listen_here, bind, options.port)
    server = await serve(sock, context)
    reconcile_endpoints(registry, options.advertise_address, options.port)
    log.info("serving securely on %s:%d%s", bind, options.port,
             f" (in {options.netns_host}'s network namespace)" if options.netns_host else "")  # fmt: skip
    return server


async def prepare(registry: Registry, rd: RunDir, options: SecurePort) -> None:
    """The keys (made once per lab, as kubeadm's certs phase makes them before the control
    plane starts), the token issuer and kube-root-ca.crt: what pods need from their first
    moment, so the API server awaits this before it says ready. Idempotent."""
    if registry.token_issuer is not None:
        return
    svc = registry.store.get("Service", "default", "kubernetes") or {}
    cluster_ip = (svc.get("spec") or {}).get("clusterIP", "")
    names = serving_names(cluster_ip, options.advertise_address)
    loop = asyncio.get_running_loop()
    ca, _pair, sa_key = await loop.run_in_executor(None, credentials, rd, names)
    registry.token_issuer = TokenIssuer(sa_key)
    registry.publish_root_ca(ca.cert_pem.decode())


def _listen_here(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _wait_for_host(rd: RunDir, host: str, clock: Clock) -> int:
    """The PID of the host's shell, once the network agent has recorded it (and it lives)."""
    while True:
        try:
            pid = rd.host_pid(host)
            if os.path.exists(f"/proc/{pid}/ns/net"):
                return pid
        except NoSuchHost:
            pass
        await clock.sleep(NETNS_POLL_S)


def reconcile_endpoints(registry: Registry, ip: str, port: int) -> None:
    """default/kubernetes' Endpoints and EndpointSlice name this API server."""
    ipaddress.ip_address(ip)  # an address, not a name
    for wanted in (apiserver_endpoints.endpoints(ip, port),
                   apiserver_endpoints.endpoint_slice(ip, port)):  # fmt: skip
        kind = wanted["kind"]
        current = registry.store.get(kind, "default", "kubernetes")
        if not apiserver_endpoints.changed(current, wanted):
            continue
        if current is None:
            registry.create(wanted)
        else:
            registry.update({**wanted, "metadata": {**current["metadata"], **wanted["metadata"]}})
