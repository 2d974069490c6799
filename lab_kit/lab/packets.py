"""A pcap as a tidy table for notebooks: one row per packet, Wireshark's columns.

    rows = read_packets("client.pcap")
    rows                      # HTML table in Jupyter; print(rows) for aligned text
    rows.syns()               # TCP SYNs without ACK: one per connection attempt
    rows.flows()              # distinct (protocol, src, sport, dst, dport), first seen first
    rows.filter(protocol="UDP", dport=53)

The summary column says what a learner looks for: `A? web.default.svc.cluster.local.`,
`A web.default.svc.cluster.local. -> 10.96.0.12`, `NXDOMAIN A? nope.default.svc...`,
`GET /info HTTP/1.1`, `HTTP/1.1 200 OK`, `echo-request`, `port-unreachable`.

scapy is imported on first use, and only the layers we decode (about 0.13 s, against
0.35-0.5 s for `scapy.all`).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from lab_kit.api.printers import format_table

HTTP_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"PATCH ", b"OPTIONS ")
RR_HEADER = {"rrname", "type", "cacheflush", "rclass", "ttl", "rdlen"}
DNS_RCODES = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


@dataclass(frozen=True)
class PacketRow:
    time: float  # seconds since the capture's first packet
    src: str
    sport: int | None
    dst: str
    dport: int | None
    protocol: str  # TCP, UDP, ICMP, ARP (or ICMPv6, IPv6, the EtherType's name)
    length: int  # bytes on the wire
    flags: str = ""  # TCP: "S", "SA", "A", "PA", "FA", "R", ...
    summary: str = ""

    @property
    def source(self) -> str:
        return _endpoint(self.src, self.sport)

    @property
    def destination(self) -> str:
        return _endpoint(self.dst, self.dport)


class Flow(NamedTuple):
    protocol: str
    src: str
    sport: int | None
    dst: str
    dport: int | None


COLUMNS = ("NO", "TIME", "SOURCE", "DESTINATION", "PROTO", "LEN", "FLAGS", "SUMMARY")
FIELDS = tuple(f.name for f in fields(PacketRow))


class PacketTable(list):
    """PacketRows; prints as aligned columns, renders as an HTML table."""

    def rows(self) -> list[list[str]]:
        return [list(COLUMNS)] + [
            [
                str(i),
                f"{r.time:.6f}",
                r.source,
                r.destination,
                r.protocol,
                str(r.length),
                r.flags,
                r.summary,
            ]
            for i, r in enumerate(self, 1)
        ]

    def __str__(self) -> str:
        return format_table(self.rows()) if self else "No packets."

    def __repr__(self) -> str:  # Jupyter's text view: the aligned table
        return str(self)

    def _repr_html_(self) -> str:
        if not self:
            return "<p>No packets.</p>"
        rows = self.rows()
        cell = "<{t} style='text-align:left;font-family:monospace'>{v}</{t}>"
        head = "".join(cell.format(t="th", v=html.escape(c)) for c in rows[0])
        body = "".join(
            "<tr>" + "".join(cell.format(t="td", v=html.escape(c)) for c in r) + "</tr>"
            for r in rows[1:]
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def flows(self) -> list[Flow]:
        """Distinct (protocol, src, sport, dst, dport), in order of first appearance."""
        return list(dict.fromkeys(Flow(r.protocol, r.src, r.sport, r.dst, r.dport) for r in self))

    def syns(self) -> PacketTable:
        """TCP SYNs without ACK: the first packet of each connection attempt."""
        return PacketTable(
            r for r in self if r.protocol == "TCP" and "S" in r.flags and "A" not in r.flags
        )

    def dns_queries(self) -> list[tuple[str, str]]:
        """(type, name) of every DNS question sent to port 53, in order:
        `[("A", "example.com.default.svc.cluster.local"), ("AAAA", ...), ...]`."""
        out = []
        for r in self:
            if r.dport == 53 and "? " in r.summary:
                for question in r.summary.split(", "):
                    qtype, _, name = question.partition("? ")
                    out.append((qtype, name))
        return out

    def filter(self, **criteria: Any) -> PacketTable:
        """Rows whose fields equal the given values (a callable value is a predicate)."""
        unknown = sorted(set(criteria) - set(FIELDS))
        if unknown:
            raise TypeError(f"unknown field(s) {', '.join(unknown)}; fields: {', '.join(FIELDS)}")

        def keep(row: PacketRow) -> bool:
            for name, want in criteria.items():
                have = getattr(row, name)
                if not (want(have) if callable(want) else have == want):
                    return False
            return True

        return PacketTable(r for r in self if keep(r))


def read_packets(path: str | os.PathLike) -> PacketTable:
    """Decode a pcap (or pcapng) file; an empty or header-only file gives an empty table."""
    from scapy.utils import PcapReader

    _load_layers()
    if os.path.getsize(path) == 0:  # tcpdump had not written its header yet
        return PacketTable()
    table, first = PacketTable(), None
    with PcapReader(str(path)) as reader:
        for pkt in reader:
            t = float(pkt.time)
            first = t if first is None else first
            table.append(packet_row(pkt, t - first))
    return table


def _load_layers() -> None:
    # Importing a layer module binds it into dissection (Ether -> IP -> UDP/53 -> DNS, ...).
    import scapy.layers.dns  # noqa: F401
    import scapy.layers.inet  # noqa: F401
    import scapy.layers.l2  # noqa: F401


def packet_row(pkt: Any, time: float = 0.0) -> PacketRow:
    """One scapy packet -> PacketRow."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP

    length = pkt.wirelen or len(pkt)
    if ARP in pkt:
        a = pkt[ARP]
        summary = f"who-has {a.pdst} tell {a.psrc}" if a.op == 1 else f"{a.psrc} is-at {a.hwsrc}"
        return PacketRow(time, a.psrc, None, a.pdst, None, "ARP", length, "", summary)
    ip = pkt.getlayer(IP)
    if ip is None:
        ip = pkt.getlayer(IPv6)
    if ip is None:
        src, dst = (pkt.src, pkt.dst) if hasattr(pkt, "src") else ("", "")
        proto = pkt.payload.name if pkt.payload else pkt.name
        return PacketRow(time, str(src), None, str(dst), None, proto, length)
    # ICMP errors quote the offending packet's headers: look at the outer layers only.
    l4 = ip.payload
    if isinstance(l4, TCP):
        flags = str(l4.flags)
        return PacketRow(
            time, ip.src, l4.sport, ip.dst, l4.dport, "TCP", length, flags, _tcp_summary(l4)
        )
    if isinstance(l4, UDP):
        return PacketRow(
            time, ip.src, l4.sport, ip.dst, l4.dport, "UDP", length, "", _udp_summary(l4)
        )
    if isinstance(l4, ICMP):
        return PacketRow(time, ip.src, None, ip.dst, None, "ICMP", length, "", _icmp_summary(l4))
    if type(l4).__name__.startswith("ICMPv6"):  # neighbour discovery, echo, ...
        return PacketRow(time, ip.src, None, ip.dst, None, "ICMPv6", length, "", l4.name)
    proto = l4.name if l4 else "IP"
    return PacketRow(time, ip.src, None, ip.dst, None, proto, length)


def _tcp_summary(tcp: Any) -> str:
    data = bytes(tcp.payload)
    line = data.split(b"\r\n", 1)[0]
    if (data.startswith(HTTP_METHODS) and b" HTTP/" in line) or data.startswith(b"HTTP/1."):
        return line.decode("latin-1")
    return ""


def _udp_summary(udp: Any) -> str:
    from scapy.layers.dns import DNS

    dns = udp.payload
    if not isinstance(dns, DNS):
        return ""
    questions = ", ".join(f"{q.sprintf('%qtype%')}? {_name(q.qname)}" for q in (dns.qd or []))
    if not dns.qr:
        return questions
    if dns.rcode:
        return f"{DNS_RCODES.get(dns.rcode, f'rcode {dns.rcode}')} {questions}".rstrip()
    groups: dict[tuple[str, str], list[str]] = {}
    for rr in dns.an or []:
        groups.setdefault((rr.sprintf("%type%"), _name(rr.rrname)), []).append(_rdata(rr))
    if not groups:
        return f"no answer {questions}".rstrip()
    return "; ".join(f"{t} {name} -> {', '.join(data)}" for (t, name), data in groups.items())


def _rdata(rr: Any) -> str:
    data = getattr(rr, "rdata", None)
    if data is None:  # SRV, SOA, ...: the type's own fields, in order ("0 100 80 web.")
        data = [rr.getfieldval(f.name) for f in rr.fields_desc if f.name not in RR_HEADER]
    if isinstance(data, list):  # TXT strings, or the fields above
        return " ".join(_name(d) for d in data)
    return _name(data)


def _name(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _icmp_summary(icmp: Any) -> str:
    if icmp.type == 3:  # destination unreachable: the code says which
        return icmp.sprintf("%code%")
    return icmp.sprintf("%type%")


def _endpoint(ip: str, port: int | None) -> str:
    if port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


__all__ = ["Flow", "PacketRow", "PacketTable", "packet_row", "read_packets"]
