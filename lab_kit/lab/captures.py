"""Packet captures in the lab: on a pod's eth0 or a host's interface, one or several at
once, and the picture of one connection seen at both ends.

    with capture(client, "web", packet_filter="tcp") as cap:   # a pod (or "node1", "client")
        ...
    cap.packets()                 # the decoded table (lab_kit.lab.packets)
    with capture_many(client, ["toolbox", *pods]) as caps:
        ...
    caps.with_connections()       # which captures saw a SYN
    draw_connection(caps["toolbox"], caps[server], "toolbox", server)

A capture enters the namespace of a process: a pod's pause process (from its sandbox
record) or a host's shell (from the run dir's network record), and writes its pcap under
the run dir's captures/. Each tcpdump is recorded with the lab's processes, so `labkit
down` stops it even if a notebook's kernel died mid-capture. The capture itself comes from
a `CaptureFactory` (tcpdump by default; `FakeCapture` in tests).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.capture import Capture, CaptureFactory, CaptureResult, PacketCapture
from lab_kit.adapters.rundir import RunDir
from lab_kit.lab import access, lifecycle

if TYPE_CHECKING:  # scapy and graphviz load when first needed, not with the CLI
    import graphviz

    from lab_kit.lab.packets import PacketTable


class LabCapture:
    """A capture whose packets come back as a table (`cap.packets()`); its process is
    recorded with the lab's, so `labkit down` stops it."""

    def __init__(self, capture: PacketCapture):
        self.capture = capture

    @property
    def path(self) -> Path:
        return self.capture.path

    @property
    def result(self) -> CaptureResult | None:
        return self.capture.result

    def __getattr__(self, name: str) -> Any:  # pid, iface, argv, proc, ... of the capture
        if name == "capture":  # not set yet (copy, pickle): not the capture's to answer
            raise AttributeError(name)
        return getattr(self.capture, name)

    def __repr__(self) -> str:
        return repr(self.capture)

    def start(self) -> LabCapture:
        self.capture.start()
        if self.capture.record is not None:
            lifecycle.remember_process(self.capture.record)
        return self

    def stop(self) -> CaptureResult:
        return self.capture.stop()

    def __enter__(self) -> LabCapture:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.capture.__exit__(exc_type, exc, tb)

    def packets(self) -> PacketTable:
        from lab_kit.lab.packets import read_packets

        return read_packets(self.path)


class CaptureGroup(dict):
    """Captures by target, started together (all or none) and stopped together."""

    def __enter__(self) -> CaptureGroup:
        started = []
        try:
            for cap in self.values():
                started.append(cap.start())
        except BaseException:
            for cap in started:
                cap.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for cap in self.values():
            cap.stop()

    def with_traffic(self) -> list[str]:
        """Targets whose capture holds any packet."""
        return [name for name, cap in self.items() if cap.packets()]

    def with_connections(self) -> list[str]:
        """Targets whose capture saw a new TCP connection (a SYN): late packets of older
        connections do not count."""
        return [name for name, cap in self.items() if cap.packets().syns()]


def where(
    client: ApiClient, target: str, interface: str | None = None, namespace: str = "default"
) -> tuple[int, str]:
    """(PID whose network namespace to enter, interface) for a host or a pod: a host's
    `<host>-eth0`, a pod's `eth0`, unless `interface` says otherwise."""
    hosts = RunDir().hosts()
    if target in hosts:
        return int(hosts[target]["pid"]), interface or f"{target}-eth0"
    return int(access.sandbox(client, target, namespace)["pause"]["pid"]), interface or "eth0"


def capture(
    client: ApiClient,
    target: str,
    interface: str | None = None,
    namespace: str = "default",
    packet_filter: str = "",
    *,
    make: CaptureFactory | None = None,
) -> LabCapture:
    """A capture (not started) on a pod's eth0 or a host's interface, writing
    captures/<target>-<interface>-<ms>.pcap."""
    pid, iface = where(client, target, interface, namespace)
    directory = RunDir().captures
    os.makedirs(directory, exist_ok=True)
    path = Path(directory) / f"{target}-{iface}-{int(time.time() * 1000)}.pcap"
    return LabCapture((make or Capture)(pid, iface, path, packet_filter or None))


def capture_many(
    client: ApiClient,
    targets: list[str],
    namespace: str = "default",
    packet_filter: str = "",
    *,
    make: CaptureFactory | None = None,
) -> CaptureGroup:
    """Captures on several pods or hosts, to start and stop together."""
    return CaptureGroup(
        {t: capture(client, t, None, namespace, packet_filter, make=make) for t in targets}
    )


def draw_connection(
    client_capture: LabCapture, server_capture: LabCapture, client: str, server: str, node: str = ""
) -> graphviz.Digraph:
    """The first connection seen in both captures, hop by hop, rewrites in red."""
    from lab_kit.lab.graphs import packet_path_graph
    from lab_kit.lab.packet_path import connection_hops

    hops = connection_hops(
        client_capture.packets(),
        server_capture.packets(),
        client,
        server,
        node or "the client's node",
    )
    return packet_path_graph(hops)
