"""Capture: tcpdump in another process's network namespace, on throwaway namespaces.

Two namespaces `lk-test-<random>a`/`...b`, joined by a veth made inside them (the root
namespace is never touched), addressed in 192.0.2.0/24 (documentation range). A `sleep`
started by `ip netns exec` holds namespace a, as a pause process holds a pod's.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab_kit.adapters.capture import (
    Capture,
    CaptureError,
    parse_stats,
    pcap_record_count,
    tcpdump_argv,
)
from lab_kit.lab.packets import read_packets

A_IP, B_IP = "192.0.2.1", "192.0.2.2"


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def wait_in_netns(pid: int, netns: str, timeout_s: float = 10.0) -> None:
    """`ip netns exec` enters the namespace, then execs: wait until the PID is inside."""
    want = os.stat(f"/run/netns/{netns}").st_ino
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino == want:
                return
        except FileNotFoundError:
            break
        time.sleep(0.01)  # polling a condition, bounded by the deadline
    raise AssertionError(f"pid {pid} did not enter netns {netns} within {timeout_s} s")


@pytest.fixture
def netns_pair():
    """(holder pid in a, name of a, name of b); everything removed afterwards."""
    tag = secrets.token_hex(3)
    a, b = f"lk-test-{tag}a", f"lk-test-{tag}b"
    made: list[str] = []
    holder = None
    try:
        for ns in (a, b):
            run("ip", "netns", "add", ns)
            made.append(ns)
        run(
            "ip",
            "-n",
            a,
            "link",
            "add",
            "veth0",
            "type",
            "veth",
            "peer",
            "name",
            "veth0",
            "netns",
            b,
        )
        for ns, ip in ((a, A_IP), (b, B_IP)):
            run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "veth0")
            run("ip", "-n", ns, "link", "set", "veth0", "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        holder = subprocess.Popen(
            ["ip", "netns", "exec", a, "sleep", "60"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_in_netns(holder.pid, a)
        yield holder.pid, a, b
    finally:
        if holder is not None:
            holder.kill()
            holder.wait(timeout=10)
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


@pytest.mark.root
def test_capture_ping_and_tcp_connect(netns_pair, tmp_path):
    pid, a, _ = netns_pair
    path = tmp_path / "a.pcap"
    with Capture(pid, "veth0", path, "icmp or tcp") as cap:
        assert cap.proc is not None and cap.proc.poll() is None
        ping = subprocess.run(
            ["ip", "netns", "exec", a, "ping", "-c", "3", "-i", "0.2", "-W", "2", B_IP],
            capture_output=True,
            timeout=30,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        connect = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('{B_IP}', 9), timeout=5)\n"
            "except ConnectionRefusedError:\n"
            "    print('refused')\n"
        )
        out = subprocess.run(
            ["ip", "netns", "exec", a, sys.executable, "-c", connect],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.stdout.strip() == "refused", out.stderr  # nothing listens on B's port 9

    result = cap.result
    assert result is not None and result.path == path
    assert cap.proc.returncode == 0
    rows = read_packets(path)
    assert result.captured == len(rows) == pcap_record_count(path.read_bytes())
    assert result.received is not None and result.received >= result.captured
    assert result.dropped == 0
    requests = rows.filter(summary="echo-request", src=A_IP, dst=B_IP)
    replies = rows.filter(summary="echo-reply", src=B_IP, dst=A_IP)
    assert len(requests) == 3 and len(replies) == 3
    (syn,) = rows.syns()
    assert (syn.src, syn.dst, syn.dport, syn.flags) == (A_IP, B_IP, 9, "S")
    assert rows.filter(protocol="TCP", src=B_IP, flags="RA")  # the refusal
    assert os.stat(path).st_uid == 0  # -Z root: we can remove our own pcap
    assert cap.stop() is result  # stopping twice is harmless


@pytest.mark.root
def test_capture_on_missing_interface_fails_fast(netns_pair, tmp_path):
    pid, _, _ = netns_pair
    started = time.monotonic()
    cap = Capture(pid, "nosuch0", tmp_path / "x.pcap", start_timeout_s=20)
    with pytest.raises(CaptureError, match=r"nosuch0.*(No such device|doesn't exist)"):
        cap.start()
    assert time.monotonic() - started < 10
    assert cap.proc is not None and cap.proc.poll() is not None  # nothing left running


@pytest.mark.root
def test_stop_without_traffic_gives_empty_capture(netns_pair, tmp_path):
    pid, _, _ = netns_pair
    cap = Capture(pid, "veth0", tmp_path / "quiet.pcap", "tcp port 9").start()
    result = cap.stop()
    assert (result.captured, result.dropped) == (0, 0)
    assert read_packets(result.path) == []


def test_capture_of_missing_process_fails_before_starting(tmp_path):
    cap = Capture(2**22 + 1, "eth0", tmp_path / "x.pcap")  # above pid_max's ceiling
    with pytest.raises(CaptureError, match="no process"):
        cap.start()
    assert cap.proc is None
    with pytest.raises(CaptureError, match="is not a directory"):
        Capture(os.getpid(), "eth0", tmp_path / "missing" / "x.pcap").start()


def test_argv_and_stats_parsing():
    argv = tcpdump_argv(123, "eth0", Path("/run/x.pcap"), "udp port 53")
    assert argv == [
        "nsenter",
        "--net=/proc/123/ns/net",
        "tcpdump",
        "-i",
        "eth0",
        "-n",
        "-U",
        "--immediate-mode",
        "-Z",
        "root",
        "-w",
        "/run/x.pcap",
        "udp port 53",
    ]
    assert tcpdump_argv(1, "lo", "/x.pcap")[-1] == "/x.pcap"
    stderr = (
        "tcpdump: listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n"
        "^C1 packet captured\n12 packets received by filter\n0 packets dropped by kernel\n"
    )
    # "^C" lands on the same line when tcpdump runs in a terminal; not through a pipe
    assert parse_stats(stderr.replace("^C", "")) == (1, 12, 0)
    assert parse_stats("tcpdump: eth9: No such device exists") == (None, None, None)
