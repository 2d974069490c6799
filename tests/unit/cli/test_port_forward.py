"""`labkit port-forward`: ports parsed as kubectl's, a Service's port mapped to its pod's,
only 127.0.0.1 accepted, and bytes relayed both ways (the namespace's socket replaced by a
plain one here: entering a pod's namespace needs root and a lab)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from workload_ports import free_port

from lab_kit.cli import port_forward
from lab_kit.cli.main import main
from lab_kit.lab.errors import LabError


def test_ports_as_kubectl_reads_them():
    assert port_forward.parse_ports(["8080:80", "9000", ":53"]) == [
        (8080, 80),
        (9000, 9000),
        (53, 53),
    ]
    with pytest.raises(LabError, match="invalid port 'x:80'"):
        port_forward.parse_ports(["x:80"])


def test_only_loopback_is_offered(capsys, api, rundir):
    code = main(["port-forward", "web", "8080:80", "--address", "0.0.0.0"], connect=api.client)
    assert code == 1 and "labkit forwards only on 127.0.0.1" in capsys.readouterr().err


def test_bytes_go_both_ways_through_the_forward():
    async def go() -> tuple[bytes, list[str]]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"pod says: " + await reader.readline())
            await writer.drain()
            writer.close()

        remote, local = free_port(), free_port()
        server = await asyncio.start_server(echo, "127.0.0.1", remote)
        said: list[str] = []
        ready = asyncio.Event()

        def plain(_pid: int) -> socket.socket:
            s = socket.socket()
            s.setblocking(False)
            return s

        task = asyncio.create_task(
            port_forward.serve(0, [(local, remote)], plain, said.append, ready)
        )
        await ready.wait()
        reader, writer = await asyncio.open_connection("127.0.0.1", local)
        writer.write(b"hello\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        task.cancel()
        server.close()
        return answer, said

    answer, said = asyncio.run(go())
    assert answer == b"pod says: hello\n"
    assert said[0].startswith("Forwarding from 127.0.0.1:") and said[1].startswith(
        "Handling connection for "
    )
