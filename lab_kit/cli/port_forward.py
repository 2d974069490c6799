"""`labkit port-forward POD LOCAL:REMOTE`: a port of this machine's 127.0.0.1 that leads
into a pod, as kubectl's does.

Each connection to 127.0.0.1:LOCAL gets a new connection to 127.0.0.1:REMOTE *inside the
pod's network namespace* (a socket created there: `adapters/netns_socket.socket_in`), and
the bytes are copied both ways. So nothing is added to the machine's own network: no route,
no address, no rule — only a listening socket on loopback, gone at Ctrl-C. Any other
listen address is refused.

    labkit port-forward random-generator-6c9d8b7f5-abcde 8080:8080
    labkit port-forward svc/random-generator 9000:80     a ready pod behind the Service
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Callable

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.netns_socket import socket_in
from lab_kit.lab import access, objects
from lab_kit.lab.errors import LabError
from lab_kit.model import meta

HELP = """Forward a port of this machine's 127.0.0.1 into a pod (or a ready pod of a Service).

examples:
  labkit port-forward POD 8080:8080          then: curl http://127.0.0.1:8080/
  labkit port-forward svc/random-generator 9000:80
  labkit port-forward -n kube-system pod/coredns-7499bf7c45-5vlv8 5353:53"""

SocketFactory = Callable[[int], socket.socket]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("port-forward", help="forward 127.0.0.1:LOCAL of this machine into a pod",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("target", help="POD, pod/POD or svc/SERVICE")
    p.add_argument("ports", nargs="+", metavar="LOCAL:REMOTE", help="or PORT for the same on both")
    p.add_argument("--address", default="127.0.0.1", help="only 127.0.0.1 (or localhost) here")
    p.add_argument("-n", "--namespace", default="default")


def parse_ports(words: list[str]) -> list[tuple[int, int]]:
    pairs = []
    for word in words:
        local, _, remote = word.partition(":")
        try:
            pairs.append((int(local or remote), int(remote or local)))
        except ValueError:
            raise LabError(f"error: invalid port {word!r}: LOCAL:REMOTE, e.g. 8080:80") from None
    return pairs


def resolve(
    client: ApiClient, target: str, namespace: str, pairs: list[tuple[int, int]]
) -> tuple[str, list[tuple[int, int]]]:
    """The pod to forward to, and the ports in it (a Service's port -> its targetPort)."""
    kind, slash, name = target.partition("/")
    if not slash:
        return target, pairs
    k = objects.resolve_kind(kind)
    if k.key == "Pod":
        return name, pairs
    if k.key != "Service":
        raise LabError(
            f"error: port-forward goes to a pod or a Service's pod, not a {objects.kind_name(k)}"
        )
    svc = client.get(k, name, namespace)
    selector = meta.spec(svc).get("selector") or {}
    pods = client.list(objects.resolve_kind("pods"), namespace,
                       label_selector=",".join(f"{a}={b}" for a, b in selector.items()))["items"]  # fmt: skip
    ready = [p for p in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                    for c in (p.get("status") or {}).get("conditions") or [])]  # fmt: skip
    if not selector or not ready:
        raise LabError(f"error: no ready pod behind service/{name}")
    ports = {
        p.get("port"): p.get("targetPort", p.get("port")) for p in meta.spec(svc).get("ports") or []
    }
    mapped = []
    for local, remote in pairs:
        if remote not in ports:
            raise LabError(f"error: Service {name} does not have a service port {remote}")
        target_port = ports[remote]
        if isinstance(target_port, str):
            named = [cp for c in meta.spec(ready[0]).get("containers") or [] for cp in c.get("ports") or []
                     if cp.get("name") == target_port]  # fmt: skip
            if not named:
                raise LabError(f"error: the pod has no port named {target_port}")
            target_port = named[0]["containerPort"]
        mapped.append((local, int(target_port)))
    return meta.name(ready[0]), mapped


async def serve(pid: int, pairs: list[tuple[int, int]], make: SocketFactory = socket_in,
                say: Callable[[str], None] = print, ready: asyncio.Event | None = None) -> None:  # fmt: skip
    """Listen on 127.0.0.1 for each pair and relay each connection into the namespace."""
    loop = asyncio.get_running_loop()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def handler(remote: int):
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            say(f"Handling connection for {writer.get_extra_info('sockname')[1]}")
            sock = make(pid)
            try:
                await loop.sock_connect(sock, ("127.0.0.1", remote))
            except OSError as e:
                say(f"E: an error occurred forwarding to {remote}: {e}")
                sock.close()
                writer.close()
                return
            r2, w2 = await asyncio.open_connection(sock=sock)
            await asyncio.gather(pipe(reader, w2), pipe(r2, writer))

        return handle

    servers = []
    for local, remote in pairs:
        servers.append(await asyncio.start_server(handler(remote), "127.0.0.1", local))
        say(f"Forwarding from 127.0.0.1:{local} -> {remote}")
    if ready is not None:
        ready.set()
    try:
        await asyncio.gather(*(s.serve_forever() for s in servers))
    finally:
        for s in servers:
            s.close()


def cmd_port_forward(args: argparse.Namespace, client: ApiClient) -> int:
    if args.address not in ("127.0.0.1", "localhost"):
        raise LabError("error: labkit forwards only on 127.0.0.1 of this machine (the lab's traffic "
                       "stays on loopback and in the lab's namespaces)")  # fmt: skip
    pod, pairs = resolve(client, args.target, args.namespace, parse_ports(args.ports))
    pid = int(access.sandbox(client, pod, args.namespace)["pause"]["pid"])
    try:
        asyncio.run(serve(pid, pairs, say=lambda line: print(line, flush=True)))
    except KeyboardInterrupt:
        pass
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, ApiClient], int]] = {
    "port-forward": cmd_port_forward
}
