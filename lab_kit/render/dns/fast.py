"""The common replies of the cluster zone, written as bytes without dnslib.

A question never asked before costs the server ~80 µs through dnslib (parse the query,
build the answer as objects, pack them); most questions a cluster asks are one shape:
an A (or AAAA) for a Service, an endpoint or a pod name, or a name that is not there.
`FastPath.reply` answers those from the query's bytes in a few microseconds and declines
(None) everything else, which then takes the full path (answer.py) unchanged:

    taken     a plain query (wire.question_key: one question, uncompressed name, no
              records but at most one EDNS0 OPT of version 0), QR 0, opcode QUERY, a name
              under the cluster domain (and in no more specific zone of the plugin), and
                A / AAAA    addresses of the name (one, or several without `loadbalance`)
                            or NODATA / NXDOMAIN
                other types answer.py only looks up (MX, ANY, HINFO, ...): NODATA / NXDOMAIN
    declined  SRV, PTR, CNAME, TXT, SOA, NS, AXFR, IXFR; ExternalName names (a CNAME);
              NXDOMAIN under a `fallthrough` zone; a zone not synced (SERVFAIL);
              several addresses the `loadbalance` plugin would shuffle; a reply that
              would not fit the client's UDP size; names longer than 200 octets or
              with octets beyond ASCII

What is looked up is answer.py's own `find_items` (the zone's rules are not written
twice). The bytes are the full path's, byte for byte (tests/unit/dns/test_dns_fast.py
compares both for every listed name and many others, every query type, with and
without EDNS and RD): the header as answer.py's `_reply` sets it (QR, AA, opcode QUERY,
RD and CD echoed, no RA), the question as sent, answer records owned by a pointer to
the question (0xC00C) and the negative answers' SOA with its names compressed as
dnslib's packer compresses them against the question (`_encode_name`); every TTL is the
one the `cache` plugin gives the reply (`cache.capped`).
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

from dnslib import QTYPE

from lab_kit.render.dns import cache as cache_plugin
from lab_kit.render.dns import names
from lab_kit.render.dns.answer import (
    SOA_EXPIRE_S,
    SOA_MAX_TTL_S,
    SOA_REFRESH_S,
    SOA_RETRY_S,
    find_items,
)
from lab_kit.render.dns.names import Labels
from lab_kit.render.dns.wire import UDP_MIN_SIZE
from lab_kit.render.dns.zone import ClusterZone, cache_tag

MAX_NAME_OCTETS = 200  # longer names take the full path (dnslib refuses some near 255)
NXDOMAIN = 3
_A, _AAAA = QTYPE.A, QTYPE.AAAA
# The types answer.py gives records of their own (or refuses): never taken here.
_OWN_TYPES = frozenset(
    {QTYPE.SRV, QTYPE.PTR, QTYPE.CNAME, QTYPE.TXT, QTYPE.SOA, QTYPE.NS, QTYPE.AXFR, QTYPE.IXFR}
)
_SOA_CACHE_MAX = 4096

Reply = tuple[bytes, int, int, tuple[str, ...] | None]  # bytes, qtype, rcode, cache tag


class FastPath:
    """The fast replies of one zone under one configuration (the `cache` plugin's TTL
    ceiling, `loadbalance`); made again whenever either changes."""

    def __init__(self, zone: ClusterZone, cache_s: int = 0, loadbalance: bool = False):
        self.zone = zone
        self.loadbalance = loadbalance
        inner = [z for z in zone.zones if z != zone.labels and names.is_under(z, zone.labels)]
        self.usable = zone.synced and not inner
        self.domain = zone.labels
        self.depth = len(zone.labels)
        self.domain_octets = sum(len(label) + 1 for label in zone.labels)  # root not counted
        ttl, soa_ttl = zone.ttl, min(zone.ttl, SOA_MAX_TTL_S)
        if cache_s:  # the cache plugin sets every record's TTL to the reply's, clamped
            ttl = cache_plugin.capped(ttl, cache_s)
            soa_ttl = cache_plugin.capped(min(soa_ttl, zone.ttl), cache_s)  # MinimalTTL
        self.a_head = b"\xc0\x0c" + struct.pack("!HHIH", _A, 1, ttl, 4)
        self.aaaa_head = b"\xc0\x0c" + struct.pack("!HHIH", _AAAA, 1, ttl, 16)
        self.soa_ttl = soa_ttl
        times = (zone.serial & 0xFFFFFFFF, SOA_REFRESH_S, SOA_RETRY_S, SOA_EXPIRE_S, zone.ttl)
        self.soa_times = struct.pack("!5I", *times)
        self.soas: dict[tuple[int, bytes], bytes] = {}

    def reply(self, data: bytes, end: int) -> Reply | None:
        """The reply to a plain query whose question ends at `end` (wire.question_key's
        second value), or None: take the full path. Never raises on a plain query."""
        if not self.usable or data[2] & 0xF8:  # QR set, or an opcode other than QUERY
            return None
        qtype = data[end - 4] << 8 | data[end - 3]
        if qtype in _OWN_TYPES:
            return None
        name = data[12 : end - 4]
        if len(name) > MAX_NAME_OCTETS or not name.isascii():
            return None  # dnslib refuses labels that are not UTF-8: FORMERR
        # Labels lower-cased as names.split reads them.
        text = name.lower().decode("ascii")
        labels: list[str] = []
        i = 0
        while length := ord(text[i]):
            i += 1
            labels.append(text[i : i + length])
            i += length
        depth = self.depth
        count = len(labels) - depth
        if count < 0 or tuple(labels[count:]) != self.domain:
            return None
        low: Labels = tuple(labels)
        relative = low[:count]
        items = find_items(self.zone, relative, low)
        answers = b""
        found = 0
        if items is None:
            if self.zone.falls_through(low):
                return None  # `fallthrough`: the next plugin answers
            rcode = NXDOMAIN
        else:
            rcode = 0
            if qtype in (_A, _AAAA):
                six = qtype == _AAAA
                hosts: list[str] = []
                for item in items:
                    if item.is_name:
                        return None  # an ExternalName: a CNAME
                    host = item.host
                    if (":" in host) == six and host not in hosts:
                        hosts.append(host)
                found = len(hosts)
                if found == 1:
                    if six:
                        answers = self.aaaa_head + _packed(hosts[0], True)
                    else:
                        answers = self.a_head + _packed(hosts[0], False)
                elif found:
                    if self.loadbalance:
                        return None  # shuffled by `loadbalance`, and never cached
                    head = self.aaaa_head if six else self.a_head
                    answers = b"".join([head + _packed(h, six) for h in hosts])
        if data[10] or data[11]:  # an EDNS0 OPT (question_key checked its shape)
            opt = data[end:]
            if opt[6]:
                return None  # EDNS version other than 0: BADVERS
            size = max(UDP_MIN_SIZE, opt[3] << 8 | opt[4])
            edns = b"\x00\x00\x29" + size.to_bytes(2, "big") + b"\x00\x00"
            edns += (b"\x80" if opt[7] & 0x80 else b"\x00") + b"\x00\x00\x00"
        else:
            size, edns = UDP_MIN_SIZE, b""
        if found:
            authority = b""
        else:
            authority = self._authority(data, end, count)
        header = bytes((0x84 | (data[2] & 0x01), (data[3] & 0x10) | rcode))  # QR AA RD; CD
        out = b"".join(
            (
                data[:2],
                header,
                struct.pack("!4H", 1, found, 0 if found else 1, 1 if edns else 0),
                data[12:end],
                answers,
                authority,
                edns,
            )
        )
        if len(out) > size:
            return None  # the full path truncates it
        return out, qtype, rcode, cache_tag(relative) if found else None

    def _authority(self, data: bytes, end: int, first: int) -> bytes:
        """The zone's SOA record after the question (at `end`; the zone's labels start at
        label `first`), as dnslib packs it: the names the packer has seen are the
        question's suffixes; the owner is the zone as the question spells it. Its bytes
        depend on where the zone starts and on the two labels before it (`ns.dns.`,
        `hostmaster.`), so they are kept per both."""
        starts: list[int] = []  # offsets of the labels in the message
        raw: list[bytes] = []
        i = 12
        while length := data[i]:
            starts.append(i)
            raw.append(data[i + 1 : i + 1 + length])
            i += length + 1
        tail_at = starts[first - 2] if first >= 2 else 12
        key = (starts[first] if first < len(starts) else i, data[tail_at:end])
        record = self.soas.get(key)
        if record is None:
            record = self._soa(end, first, starts, raw)
            if len(self.soas) >= _SOA_CACHE_MAX:
                self.soas.clear()
            self.soas[key] = record
        return record

    def _soa(self, end: int, first: int, starts: list[int], raw: list[bytes]) -> bytes:
        known = {tuple(raw[i:]): at for i, at in enumerate(starts)}
        origin = tuple(raw[first:])
        out = bytearray()
        _encode_name(origin, known, out, end)
        rdata_at = len(out) + 10
        out += struct.pack("!HHIH", QTYPE.SOA, 1, self.soa_ttl, 0)
        _encode_name((b"ns", b"dns", *origin), known, out, end)
        _encode_name((b"hostmaster", *origin), known, out, end)
        out += self.soa_times
        struct.pack_into("!H", out, rdata_at - 2, len(out) - rdata_at)
        return bytes(out)


def _encode_name(
    labels: tuple[bytes, ...], known: dict[tuple[bytes, ...], int], out: bytearray, base: int
) -> None:
    """dnslib's DNSBuffer.encode_name: the longest suffix seen before becomes a pointer;
    each suffix written is remembered at its offset (`base`: where `out` starts)."""
    name = labels
    while name:
        pointer = known.get(name)
        if pointer is not None:
            out += (0xC000 | pointer).to_bytes(2, "big")
            return
        known[name] = base + len(out)
        out.append(len(name[0]))
        out += name[0]
        name = name[1:]
    out.append(0)


def _packed(host: str, six: bool) -> bytes:
    """An address as RDATA (the pure ring has no `socket.inet_pton`; the zone holds only
    well-formed addresses, so a dotted quad is four numbers)."""
    if six:
        return IPv6Address(host).packed
    return bytes(map(int, host.split(".")))
