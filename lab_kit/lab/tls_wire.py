"""What a reader of the wire sees in a capture: each TCP direction reassembled into a stream
and read as TLS records or as HTTP/1.x messages, for the lab on TLS at the ingress.

    wire = read_wire(cap.path)     # one Stream per direction that carried data, first seen first
    wire                           # prints what each stream shows a reader
    wire.sni()                     # the server names ClientHellos carried in clear
    wire.http_heads()              # HTTP request and status lines with their headers
    wire.contains(b"Bearer ...")   # is this text anywhere on the wire, in clear?

TLS is read at the record layer (RFC 8446 §5.1, RFC 5246 §6.2): content type, version,
length. Of handshake records only what is sent in clear is decoded: the ClientHello's
server_name extension (RFC 6066 §3) and the version the ServerHello chose
(supported_versions, RFC 8446 §4.2.1); after a change_cipher_spec a direction's handshake
records are encrypted and are not read. Under TLS 1.3 everything after the ServerHello —
the certificate included — travels as encrypted `application_data` records.

Left out: TCP sequence wrap-around within one capture, out-of-order segments beyond
sorting by sequence number, HTTP bodies without Content-Length (chunked) after the first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lab_kit.lab.packets import HTTP_METHODS

RECORD_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
HANDSHAKE_TYPES = {1: "client_hello", 2: "server_hello", 4: "new_session_ticket",
                   8: "encrypted_extensions", 11: "certificate", 12: "server_key_exchange",
                   14: "server_hello_done", 16: "client_key_exchange", 20: "finished"}  # fmt: skip
VERSIONS = {0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
EXT_SERVER_NAME, EXT_SUPPORTED_VERSIONS = 0, 43


@dataclass(frozen=True)
class Record:
    """One TLS record as the wire shows it."""

    type: str  # RECORD_TYPES' name
    length: int
    handshake: str = ""  # a clear handshake message's type
    sni: str = ""  # a ClientHello's server_name
    version: str = ""  # the version a ServerHello chose

    def __str__(self) -> str:
        if self.handshake:
            extra = (
                f" (SNI {self.sni})" if self.sni else f" ({self.version})" if self.version else ""
            )
            return f"handshake {self.handshake}{extra}, {self.length} bytes"
        if self.type == "handshake":
            return f"handshake, {self.length} bytes: encrypted"
        return f"{self.type}, {self.length} bytes" + (
            ": encrypted" if self.type == "application_data" else ""
        )


@dataclass
class Stream:
    """One direction of one TCP connection, its payload reassembled."""

    src: str
    sport: int
    dst: str
    dport: int
    data: bytes = b""
    segments: dict[int, bytes] = field(default_factory=dict)  # sequence number -> payload

    @property
    def kind(self) -> str:
        if len(self.data) >= 3 and self.data[0] in RECORD_TYPES and self.data[1] == 3:
            return "TLS"
        if self.data.startswith(HTTP_METHODS) or self.data.startswith(b"HTTP/1."):
            return "HTTP"
        return "data"

    def records(self) -> list[Record]:
        return tls_records(self.data) if self.kind == "TLS" else []

    def http_heads(self) -> list[str]:
        return http_heads(self.data) if self.kind == "HTTP" else []

    def lines(self) -> list[str]:
        """What a reader sees: one line per TLS record (runs of encrypted records folded),
        or each HTTP message's head."""
        if self.kind == "TLS":
            return _fold([str(r) for r in self.records()])
        if self.kind == "HTTP":
            return [line for head in self.http_heads() for line in [*head.split("\r\n"), ""]][:-1]
        return [f"{len(self.data)} bytes, neither TLS nor HTTP"]

    def __str__(self) -> str:
        title = f"{self.src}:{self.sport} -> {self.dst}:{self.dport}   {self.kind}, {len(self.data)} bytes"
        return "\n".join([title, *(f"    {line}" for line in self.lines())])


class Wire(list):
    """The Streams of one capture, first seen first; prints as what a reader sees."""

    def __str__(self) -> str:
        return "\n".join(str(s) for s in self) if self else "No payload."

    def __repr__(self) -> str:
        return str(self)

    def of_kind(self, kind: str) -> list[Stream]:
        return [s for s in self if s.kind == kind]

    def sni(self) -> list[str]:
        return [r.sni for s in self for r in s.records() if r.sni]

    def http_heads(self) -> list[str]:
        return [head for s in self for head in s.http_heads()]

    def contains(self, text: bytes) -> bool:
        return any(text in s.data for s in self)


def read_wire(path: str | os.PathLike) -> Wire:
    """The TCP streams of a pcap file, each direction reassembled by sequence number."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import PcapReader

    streams: dict[tuple, Stream] = {}
    if os.path.getsize(path) == 0:  # tcpdump had not written its header yet
        return Wire()
    with PcapReader(str(path)) as reader:
        for pkt in reader:
            if IP not in pkt or TCP not in pkt:
                continue
            ip, tcp = pkt[IP], pkt[TCP]
            payload = bytes(tcp.payload)
            key = (ip.src, tcp.sport, ip.dst, tcp.dport)
            stream = streams.setdefault(key, Stream(ip.src, tcp.sport, ip.dst, tcp.dport))
            if payload:
                stream.segments.setdefault(tcp.seq, payload)
    for stream in streams.values():
        stream.data = reassemble(stream.segments)
    return Wire(s for s in streams.values() if s.data)


def reassemble(segments: dict[int, bytes]) -> bytes:
    """Payloads in sequence order; retransmitted or overlapping bytes kept once."""
    out, end = bytearray(), None
    for seq in sorted(segments):
        data = segments[seq]
        start = seq if end is None else max(seq, end)
        out += data[start - seq :]
        end = max(end or seq, seq + len(data))
    return bytes(out)


def tls_records(data: bytes) -> list[Record]:
    """The records of one direction's stream (a record cut off by the capture's end is
    listed with the length its header announced)."""
    records, offset, encrypted = [], 0, False
    while offset + 5 <= len(data):
        kind, length = data[offset], int.from_bytes(data[offset + 3 : offset + 5], "big")
        if kind not in RECORD_TYPES or data[offset + 1] != 3:
            break  # not a record boundary: stop reading rather than guess
        body = data[offset + 5 : offset + 5 + length]
        if kind == 22 and not encrypted:
            records.append(_handshake(body, length))
        else:
            records.append(Record(RECORD_TYPES[kind], length))
        encrypted = encrypted or kind == 20
        offset += 5 + length
    return records


def _handshake(body: bytes, length: int) -> Record:
    name = HANDSHAKE_TYPES.get(body[0], f"type {body[0]}") if body else "?"
    extensions = _extensions(body) if body[:1] in (b"\x01", b"\x02") else {}
    sni = version = ""
    if body[:1] == b"\x01" and EXT_SERVER_NAME in extensions:
        sni = _server_name(extensions[EXT_SERVER_NAME])
    if body[:1] == b"\x02":
        chosen = extensions.get(EXT_SUPPORTED_VERSIONS, body[4:6])
        version = VERSIONS.get(int.from_bytes(chosen[:2], "big"), "")
    return Record("handshake", length, name, sni, version)


def _extensions(body: bytes) -> dict[int, bytes]:
    """A ClientHello's or ServerHello's extensions (type -> data); {} if it is cut short."""
    at = 4 + 2 + 32  # handshake header, legacy_version, random
    at += 1 + body[at] if at < len(body) else 0  # session id
    if body[0] == 1:  # ClientHello: cipher suites, compression methods
        at += 2 + int.from_bytes(body[at : at + 2], "big")
        at += 1 + body[at] if at < len(body) else 0
    else:  # ServerHello: one cipher suite, one compression method
        at += 3
    end = at + 2 + int.from_bytes(body[at : at + 2], "big")
    at, found = at + 2, {}
    while at + 4 <= min(end, len(body)):
        ext, size = (
            int.from_bytes(body[at : at + 2], "big"),
            int.from_bytes(body[at + 2 : at + 4], "big"),
        )
        found[ext] = body[at + 4 : at + 4 + size]
        at += 4 + size
    return found


def _server_name(ext: bytes) -> str:
    """The host_name entry of a server_name extension."""
    at = 2
    while at + 3 <= len(ext):
        kind, size = ext[at], int.from_bytes(ext[at + 1 : at + 3], "big")
        if kind == 0:
            return ext[at + 3 : at + 3 + size].decode("ascii", "replace")
        at += 3 + size
    return ""


def http_heads(data: bytes) -> list[str]:
    """Each message's start line and headers, in order; bodies skipped by Content-Length."""
    heads, at = [], 0
    while at < len(data) and data.startswith((*HTTP_METHODS, b"HTTP/1."), at):
        end = data.find(b"\r\n\r\n", at)
        if end < 0:
            heads.append(data[at:].decode("latin-1"))
            break
        head = data[at:end].decode("latin-1")
        heads.append(head)
        at = end + 4 + _content_length(head)
    return heads


def _content_length(head: str) -> int:
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            return int(value.strip())
    return 0


def _fold(lines: list[str]) -> list[str]:
    """Runs of encrypted application_data records as one line: "application_data x3, ..."."""
    out: list[str] = []
    run: list[int] = []
    for line in [*lines, ""]:
        if line.startswith("application_data,"):
            run.append(int(line.split(", ")[1].split()[0]))
            continue
        if run:
            n = f" x{len(run)}" if len(run) > 1 else ""
            out.append(f"application_data{n}, {sum(run)} bytes: encrypted")
            run = []
        if line:
            out.append(line)
    return out
