"""Packet captures inside a pod's or node's network namespace: tcpdump, started and stopped.

    with Capture(pod_pid, "eth0", run_dir / "client.pcap", "tcp port 80") as cap:
        ...                                   # traffic
    cap.result.captured, cap.result.path      # the pcap is complete once the block ends

tcpdump runs as `nsenter --net=/proc/<pid>/ns/net tcpdump ...`: the PID is the pause
process that holds the pod's namespace (or any process in a node's). Flags that matter:
`-U --immediate-mode` (otherwise packets still in the kernel's capture block are lost when
tcpdump stops right after the traffic), `-n` (no DNS lookups of our own), `-Z root` (Debian's
tcpdump drops to the `tcpdump` user, which would own the pcap; we want to remove it later).

Starting waits for tcpdump's "listening on" (from then on nothing is missed); stopping
sends SIGINT, waits, and parses tcpdump's closing statistics. The caller chooses the pcap
path (under its run directory): nothing is written anywhere else.

The seam: `PacketCapture` is what a caller needs (start, stop, the pcap's path and its
counts); `Capture` is the real one (tcpdump, needs root), `FakeCapture` records start and
stop and writes the pcap it was given. `CaptureFactory` makes either from
(pid, interface, path, filter).
"""

from __future__ import annotations

import os
import re
import select
import signal
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lab_kit.adapters import processes

LISTENING = b"listening on"
_STATS = re.compile(
    r"^(\d+) packets? (captured|received by filter|dropped by kernel)\s*$", re.MULTILINE
)


class CaptureError(RuntimeError):
    pass


@dataclass(frozen=True)
class CaptureResult:
    """A finished capture: the pcap and tcpdump's own count of what it saw."""

    path: Path
    captured: int | None  # "N packets captured": written to the pcap
    received: int | None  # "N packets received by filter"
    dropped: int | None  # "N packets dropped by kernel": buffer overruns, should be 0
    stderr: str = field(default="", repr=False)


Self = TypeVar("Self", bound="PacketCapture")


class PacketCapture(Protocol):
    """A packet capture, real or fake: `start` returns once it is listening, `stop` once
    the pcap at `path` is complete (stopping twice gives the same result)."""

    pid: int  # a process in the network namespace captured in
    iface: str
    path: Path
    argv: list[str]  # the tcpdump command (the real one runs it)
    record: processes.ProcessRecord | None  # the running tcpdump, for a lab to remember
    result: CaptureResult | None  # set by stop

    def start(self: Self) -> Self: ...

    def stop(self) -> CaptureResult: ...

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """The end of a `with` block: stop (after an error, without hiding it)."""
        ...


CaptureFactory = Callable[[int, str, Path, "str | None"], PacketCapture]


def tcpdump_argv(
    pid: int, iface: str, path: str | Path, bpf_filter: str | None = None
) -> list[str]:
    """The command a capture runs (an argv list: the filter is one argument, never a shell)."""
    argv = [
        "nsenter",
        f"--net=/proc/{pid}/ns/net",
        "tcpdump",
        "-i",
        iface,
        "-n",
        "-U",
        "--immediate-mode",
        "-Z",
        "root",
        "-w",
        str(path),
    ]
    if bpf_filter:
        argv.append(bpf_filter)
    return argv


def parse_stats(stderr: str) -> tuple[int | None, int | None, int | None]:
    """(captured, received by filter, dropped by kernel) from tcpdump's closing lines."""
    found = {what: int(n) for n, what in _STATS.findall(stderr)}
    return found.get("captured"), found.get("received by filter"), found.get("dropped by kernel")


class Capture:
    """tcpdump on `iface` in the network namespace of process `pid`, writing `path`."""

    def __init__(
        self,
        pid: int,
        iface: str,
        path: str | Path,
        bpf_filter: str | None = None,
        *,
        start_timeout_s: float = 10.0,
        stop_timeout_s: float = 10.0,
    ):
        self.pid, self.iface, self.path = pid, iface, Path(path)
        self.bpf_filter = bpf_filter
        self.start_timeout_s, self.stop_timeout_s = start_timeout_s, stop_timeout_s
        self.argv = tcpdump_argv(pid, iface, self.path, bpf_filter)
        self.proc: subprocess.Popen | None = None
        self.record: processes.ProcessRecord | None = None  # tcpdump's pid + start time
        self.result: CaptureResult | None = None
        self._stderr = b""

    def __repr__(self) -> str:
        state = "stopped" if self.result else "running" if self.proc else "not started"
        return f"<Capture pid={self.pid} iface={self.iface} {str(self.path)!r} {state}>"

    def start(self) -> Capture:
        """Start tcpdump; return once it is listening. CaptureError carries its stderr."""
        if self.proc is not None:
            raise CaptureError(f"{self!r} was already started")
        if not os.path.exists(f"/proc/{self.pid}/ns/net"):
            raise CaptureError(f"no process {self.pid}: cannot enter its network namespace")
        if not self.path.parent.is_dir():
            raise CaptureError(f"{self.path.parent} is not a directory")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a notebook's interrupt (SIGINT to its group) spares it
        )
        ticks = processes.start_ticks(self.proc.pid) or 0
        self.record = processes.ProcessRecord("tcpdump", self.proc.pid, ticks, self.argv)
        try:
            self._wait_listening()
        except BaseException:
            self._kill()
            raise
        return self

    def _wait_listening(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + self.start_timeout_s
        while LISTENING not in self._stderr:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaptureError(
                    f"tcpdump on {self.iface} (in the netns of pid {self.pid}) was not "
                    f"listening after {self.start_timeout_s:g} s; stderr: {self._text()!r}"
                )
            if not select.select([fd], [], [], left)[0]:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:  # EOF: tcpdump (or nsenter) exited
                code = self.proc.wait(timeout=5)
                raise CaptureError(
                    f"tcpdump on {self.iface} (in the netns of pid {self.pid}) exited with "
                    f"code {code}: {self._text()}"
                )
            self._stderr += chunk

    def _text(self) -> str:
        return self._stderr.decode(errors="replace").strip()

    def stop(self) -> CaptureResult:
        """SIGINT, wait for tcpdump to flush and exit; the pcap path and its counts."""
        if self.result is not None:
            return self.result
        if self.proc is None:
            raise CaptureError(f"{self!r} was never started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, rest = self.proc.communicate(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self._kill()
            raise CaptureError(
                f"tcpdump (pid {self.proc.pid}) did not stop within {self.stop_timeout_s:g} s "
                "of SIGINT; killed it"
            ) from None
        self._stderr += rest or b""
        stderr = self._text()
        if self.proc.returncode not in (0, -signal.SIGINT):
            raise CaptureError(f"tcpdump exited with code {self.proc.returncode}: {stderr}")
        self.result = CaptureResult(self.path, *parse_stats(stderr), stderr=stderr)
        return self.result

    def _kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError):
            pass

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        if self.proc is None or self.result is not None:
            return
        if exc_type is None:
            self.stop()
        else:  # don't hide the block's own error behind a stop error
            try:
                self.stop()
            except CaptureError:
                self._kill()


class FakeCapture:
    """Capture's interface without root: records calls, writes the pcap it was given.

    `pcap` is the file's content (bytes) or a file to copy; `calls` lists ("start", argv)
    and ("stop",). The counts are the number of records in a classic pcap.
    """

    def __init__(
        self,
        pid: int,
        iface: str,
        path: str | Path,
        bpf_filter: str | None = None,
        *,
        pcap: bytes | str | Path = b"",
        **_ignored: Any,
    ):
        self.pid, self.iface, self.path, self.bpf_filter = pid, iface, Path(path), bpf_filter
        self.argv = tcpdump_argv(pid, iface, self.path, bpf_filter)
        self.pcap = pcap
        self.calls: list[tuple] = []
        self.record: processes.ProcessRecord | None = None  # no process to remember
        self.result: CaptureResult | None = None
        self.started = False

    def __repr__(self) -> str:
        state = "stopped" if self.result else "running" if self.started else "not started"
        return f"<FakeCapture pid={self.pid} iface={self.iface} {str(self.path)!r} {state}>"

    def start(self) -> FakeCapture:
        if self.started:
            raise CaptureError(f"{self!r} was already started")
        self.started = True
        self.calls.append(("start", self.argv))
        return self

    def stop(self) -> CaptureResult:
        if self.result is not None:
            return self.result
        if not self.started:
            raise CaptureError(f"{self!r} was never started")
        self.calls.append(("stop",))
        data = self.pcap if isinstance(self.pcap, bytes) else Path(self.pcap).read_bytes()
        self.path.write_bytes(data)
        n = pcap_record_count(data)
        self.result = CaptureResult(self.path, n, n, 0 if n is not None else None)
        return self.result

    def __enter__(self) -> FakeCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.result is None and self.started:
            self.stop()


def pcap_record_count(data: bytes) -> int | None:
    """Records in a classic pcap (None for anything else, e.g. pcapng)."""
    if len(data) < 24:
        return 0 if not data else None
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        return None
    count, offset = 0, 24
    while offset + 16 <= len(data):
        (incl_len,) = struct.unpack_from(endian + "I", data, offset + 8)
        offset += 16 + incl_len
        count += 1
    return count
