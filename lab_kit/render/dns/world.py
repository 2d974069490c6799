"""The lab's made-up internet: answers from a zone file, as a recursive resolver would relay them.

The upstream resolver on the "internet" host plays the whole outside DNS for the lab:
every name it knows is in `world.zone` (RFC 1035 master-file format); any other name does
not exist. Replies look like a recursive resolver's (RA set, AA clear): a known name with
the asked type gets its records, following CNAMEs inside the file; a known name without
that type is NODATA; an unknown name is NXDOMAIN. Negative replies carry the root SOA,
whose last field (300 s) is how long resolvers may cache the "no".
"""

from __future__ import annotations

from pathlib import Path

from dnslib import EDNS0, QTYPE, RCODE, RR, DNSHeader, DNSRecord

from lab_kit.render.dns import wire

WORLD_ZONE = Path(__file__).with_name("world.zone")
MAX_CNAME_CHAIN = 8


class WorldZone:
    def __init__(self, zone_text: str):
        self.records: dict[str, list[RR]] = {}
        for rr in RR.fromZone(zone_text):
            self.records.setdefault(_key(rr.rname), []).append(rr)
        self.soa = next(r for rs in self.records.values() for r in rs if r.rtype == QTYPE.SOA)
        # Names with no records of their own but with names below them ("com.") exist too.
        self.parents = {
            ".".join(name.split(".")[i:])
            for name in self.records
            for i in range(1, name.count("."))
        }

    @classmethod
    def default(cls) -> WorldZone:
        return cls(WORLD_ZONE.read_text())

    def answer(self, data: bytes) -> bytes | None:
        """The reply's bytes for one query off the wire (None: stay silent). Never raises."""
        query = wire.parse_query(data)
        if query is None or isinstance(query, bytes):
            return query
        try:
            return bytes(self._answer(query).pack())
        except Exception:  # a bug costs one SERVFAIL, not the server
            return bytes(wire.error_reply(query.header, RCODE.SERVFAIL).pack())

    def _answer(self, query: DNSRecord) -> DNSRecord:
        header = DNSHeader(id=query.header.id, bitmap=0, qr=1)
        header.rd, header.cd, header.ra = query.header.rd, query.header.cd, 1
        reply = DNSRecord(header, questions=[query.q])
        if wire.edns(query) is not None:
            reply.add_ar(EDNS0(udp_len=1232))  # the size resolvers offer since DNS flag day 2020
        name, qtype = _key(query.q.qname), query.q.qtype
        for _ in range(MAX_CNAME_CHAIN):
            records = self.records.get(name)
            if records is None:
                if not reply.rr and name not in self.parents:
                    reply.header.rcode = RCODE.NXDOMAIN
                break
            matching = [r for r in records if r.rtype == qtype or qtype == QTYPE.ANY]
            cname = [r for r in records if r.rtype == QTYPE.CNAME]
            if matching or not cname:
                reply.rr.extend(matching)
                break
            reply.rr.extend(cname)
            name = _key(cname[0].rdata.label)
        if not reply.rr:
            reply.add_auth(self.soa)
        reply.set_header_qa()
        return reply


def _key(name) -> str:
    return str(name).lower().rstrip(".") + "."
