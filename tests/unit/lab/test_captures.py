"""Captures in the lab (lab_kit.lab.captures, through `Lab`): where a capture enters (a
host's shell, a pod's pause process), where its pcap goes, captures started and stopped
together, and one connection drawn from two captures. `FakeCapture` stands in for tcpdump
(which needs root); its pcaps are built with scapy."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from lab_fixtures import pod, ready_status, seed_pod, write_hosts, write_sandbox
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from lab_kit.adapters.capture import Capture, CaptureError, FakeCapture
from lab_kit.adapters.processes import ProcessRecord
from lab_kit.cli import capture_cmd
from lab_kit.cli.main import parse_args
from lab_kit.lab import captures, lifecycle
from lab_kit.lab.captures import CaptureGroup, LabCapture

CLIENT, VIP, SERVER = "10.244.1.6", "10.96.0.12", "10.244.2.5"


def tcp(src: str, dst: str, sport: int, dport: int, flags: str) -> Ether:
    return Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags)


def pcap(tmp_path: Path, name: str, packets: list) -> Path:
    path = tmp_path / f"{name}.pcap"
    wrpcap(str(path), packets)
    return path


@pytest.fixture
def at_client(tmp_path) -> Path:
    """The client pod's view: to the ClusterIP, and the answer from it."""
    return pcap(
        tmp_path, "client", [tcp(CLIENT, VIP, 40000, 80, "S"), tcp(VIP, CLIENT, 80, 40000, "SA")]
    )


@pytest.fixture
def at_server(tmp_path) -> Path:
    """The serving pod's view: the same connection, DNATed to it."""
    return pcap(tmp_path, "server", [tcp(CLIENT, SERVER, 40000, 8080, "S"),
                                     tcp(SERVER, CLIENT, 8080, 40000, "SA")])  # fmt: skip


@pytest.fixture
def toolbox(api, rundir):
    obj = seed_pod(api, pod("toolbox"), status=ready_status())
    return write_sandbox(rundir, obj, pause_pid=4242)


def fakes(pcaps: dict[str, Path]):
    """A CaptureFactory: FakeCaptures that write the pcap given for their pid."""
    made: list[FakeCapture] = []

    def make(pid: int, iface: str, path: Path, bpf: str | None) -> FakeCapture:
        made.append(FakeCapture(pid, iface, path, bpf, pcap=pcaps.get(str(pid), b"")))
        return made[-1]

    return make, made


def test_a_capture_on_a_host_or_a_pod_enters_the_right_process(client, rundir, toolbox):
    write_hosts(rundir, {"internet": {"pid": 77, "role": "internet", "ip": "203.0.113.10"}})
    make, made = fakes({})
    on_host = captures.capture(client, "internet", packet_filter="tcp port 80", make=make)
    on_pod = captures.capture(client, "toolbox", make=make)
    assert (made[0].pid, made[0].iface, made[0].bpf_filter) == (77, "internet-eth0", "tcp port 80")
    assert (made[1].pid, made[1].iface, made[1].bpf_filter) == (4242, "eth0", None)
    assert on_host.path.parent == Path(rundir.captures)
    assert (
        on_host.path.name.startswith("internet-internet-eth0-") and on_host.path.suffix == ".pcap"
    )
    assert on_pod.pid == 4242 and "not started" in repr(on_pod)


def test_packets_come_back_as_a_table_after_the_block(client, toolbox, at_client):
    make, made = fakes({"4242": at_client})
    with captures.capture(client, "toolbox", make=make) as cap:
        assert made[0].calls == [("start", made[0].argv)]
    assert made[0].calls[-1] == ("stop",) and cap.result is not None and cap.result.captured == 2
    syn, synack = cap.packets()
    assert (syn.src, syn.dst, syn.dport, syn.flags) == (CLIENT, VIP, 80, "S")
    assert synack.flags == "SA"


def test_a_running_capture_is_remembered_with_the_labs_processes(rundir, tmp_path):
    lifecycle.LabState(rundir.path).save()
    fake = FakeCapture(1, "eth0", tmp_path / "x.pcap")
    fake.record = ProcessRecord("tcpdump", 4321, 99, fake.argv)
    LabCapture(fake).start()
    state = lifecycle.LabState.load(rundir.path)
    assert state is not None and [p.pid for p in state.processes] == [4321]


def test_captures_together_and_which_saw_a_connection(client, api, rundir, toolbox, at_client):
    other = seed_pod(api, pod("quiet"), status=ready_status("10.244.2.7"))
    write_sandbox(rundir, other, pause_pid=5151)
    make, made = fakes({"4242": at_client})
    with captures.capture_many(client, ["toolbox", "quiet"], make=make) as caps:
        assert [c.calls[0][0] for c in made] == ["start", "start"]
    assert all(c.calls[-1] == ("stop",) for c in made)
    assert caps.with_connections() == ["toolbox"] and caps.with_traffic() == ["toolbox"]
    assert not caps["quiet"].packets()


class FailsToStart(FakeCapture):
    def start(self) -> FakeCapture:
        raise CaptureError("tcpdump on eth0 exited with code 1: no such device")


def test_captures_start_all_or_none(tmp_path):
    good = FakeCapture(1, "eth0", tmp_path / "a.pcap")
    group = CaptureGroup(
        {"a": LabCapture(good), "b": LabCapture(FailsToStart(2, "eth9", tmp_path / "b.pcap"))}
    )
    with pytest.raises(CaptureError, match="no such device"), group:
        pass
    assert good.calls[-1] == ("stop",)  # the one that had started was stopped


def test_draw_connection_marks_the_rewrite(lab, toolbox, at_client, at_server, monkeypatch):
    monkeypatch.setattr(captures, "Capture", functools.partial(FakeCapture, pcap=at_client))
    with lab.capture("toolbox") as client_side:
        pass
    server_side = LabCapture(FakeCapture(1, "eth0", at_server.with_suffix(".copy"), pcap=at_server))
    with server_side:
        pass
    graph = lab.draw_connection(client_side, server_side, "toolbox", "web-1", node="node1")
    assert f"{VIP}:80" in graph.source and f"{SERVER}:8080" in graph.source
    assert "rewritten on node1" in graph.source


def test_lab_capture_defaults_to_tcpdump(lab, toolbox):
    cap = lab.capture("toolbox", packet_filter="udp port 53")
    assert isinstance(cap.capture, Capture)
    assert cap.argv[:3] == ["nsenter", "--net=/proc/4242/ns/net", "tcpdump"]
    assert cap.argv[-1] == "udp port 53"


def test_labkit_capture_writes_the_pcap_where_asked(
    client, rundir, toolbox, at_client, tmp_path, monkeypatch, capsys
):
    """`labkit capture toolbox -f ... --seconds 2 -w FILE`, tcpdump replaced by a fake."""
    monkeypatch.setattr(
        captures,
        "Capture",
        lambda pid, iface, path, bpf: FakeCapture(pid, iface, path, bpf, pcap=at_client),
    )
    out = tmp_path / "toolbox.pcap"
    slept: list[float] = []
    args = parse_args(["capture", "toolbox", "-f", "tcp port 80", "--seconds", "2", "-w", str(out)])
    assert capture_cmd.cmd_capture(args, client, sleep=slept.append) == 0
    assert slept == [2.0] and out.read_bytes() == at_client.read_bytes()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "capturing on toolbox (eth0) for 2 s ..."
    assert (
        printed[1]
        == f"2 packets captured; written to {out} (open it in Wireshark, or: tcpdump -r {out})"
    )
