"""Answering one query from the cluster zone: CoreDNS's `kubernetes` handler, without sockets.

Mirrors CoreDNS `plugin/kubernetes/handler.go` (which record function runs for which
query type), `kubernetes.go` / `reverse.go` (what a name finds) and
`plugin/backend_lookup.go` (how found items become records). The zone (`zone.py`) finds
the items behind a name; this module shapes the reply. The plugin's zones are the
Corefile's (kubeadm: cluster.local, in-addr.arpa, ip6.arpa); a name in none of them goes
to the next plugin (`Answer.forward`). In a zone, by query type:

    A / AAAA    addresses of the items; an ExternalName gives its CNAME, followed by the
                target's addresses when the target is in the same zone, or marked for
                the server to chase upstream (`Answer.chase`) when it is not
    SRV         one per distinct (target, port): priority 0, weight 100/N; the targets'
                addresses in the additional section. Never from an ExternalName
    CNAME       the ExternalName's target
    TXT         `dns-version.<zone>` ("1.1.0", TTL 28800); elsewhere NODATA where the
                name finds something, else NXDOMAIN (so also at the apex, as CoreDNS)
    PTR         the name of a ClusterIP or ready endpoint address (under a reverse zone)
    SOA         at the apex; NODATA for any other name, existing or not (as CoreDNS)
    NS          at the apex (`ns.dns.<zone>`, with its A as glue)
    AXFR, IXFR  REFUSED: the plugin serves transfers only through the `transfer` plugin
    anything else: the name is looked up only to tell NODATA from NXDOMAIN

Negative answers (the reference's NXDOMAIN vs NODATA table): NXDOMAIN when the name
does not exist, NODATA (NOERROR, empty answer) when it does but holds no record of the
asked type. Both carry the matched zone's SOA in the authority section:

    cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. <serial> 7200 1800 86400 30

(the SOA's own TTL is min(ttl, 300); its last field is the ttl). Every reply from the
zone is authoritative (AA) and, like CoreDNS's, does not offer recursion (no RA): `dig`
shows "recursion requested but not available". An NXDOMAIN under a `fallthrough` zone
goes to the next plugin instead (kubeadm: every reverse name the zone cannot answer
reaches `forward`); otherwise, before the zone has synced, it becomes SERVFAIL, so a
resolver retries instead of caching a false "no such name".

As in CoreDNS, the query class is not checked (records are class IN), and the A records
of the `loadbalance` plugin's shuffle are left to the server (`load_balance(reply, rng)`),
so answers here are reproducible. Replies are dnslib objects, packed by dnslib: this is the
reference. The server writes the commonest shapes (A/AAAA answers, NXDOMAIN, NODATA)
itself from `find_items` (fast.py: ~10x quicker), byte for byte as these. Left out: IPv6 data (see zone.py), so under ip6.arpa
every address is unknown.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from dnslib import (
    AAAA,
    CNAME,
    EDNS0,
    NS,
    OPCODE,
    PTR,
    QTYPE,
    RCODE,
    RR,
    SOA,
    SRV,
    TXT,
    A,
    DNSHeader,
    DNSLabel,
    DNSRecord,
)

from lab_kit.render.dns import names, wire
from lab_kit.render.dns.names import DNS_VERSION_LABEL, Labels
from lab_kit.render.dns.views import Item
from lab_kit.render.dns.zone import DNS_VERSION_TTL_S, SCHEMA_VERSION, ClusterZone, srv_weight

__all__ = ["Answer", "answer", "complete_chase", "find_items", "load_balance"]

MAX_CNAME_CHAIN = 8  # CoreDNS stops following CNAMEs after 8 (`len(previousRecords) > 7`)
SOA_REFRESH_S, SOA_RETRY_S, SOA_EXPIRE_S = 7200, 1800, 86400
SOA_MAX_TTL_S = 300
NS_LABELS: Labels = ("ns", "dns")
_BALANCE_GROUPS = {
    QTYPE.CNAME: "cname",
    QTYPE.A: "address",
    QTYPE.AAAA: "address",
    QTYPE.MX: "mx",
    QTYPE.OPT: "opt",  # kept last, where EDNS puts it
}


@dataclass
class Answer:
    """What to do with one query.

    reply    our response (None with `forward`, or when the query deserves silence)
    forward  not ours: send the query upstream as it is and relay the reply
    chase    an ExternalName target outside the cluster: look it up upstream with the
             question's type, then `complete_chase(answer, upstream_reply)`
    """

    reply: DNSRecord | None = None
    forward: bool = False
    chase: str | None = None
    fallback: DNSRecord | None = None  # the reply if the chase fails (NODATA, as CoreDNS)

    @property
    def rcode(self) -> int | None:
        return None if self.reply is None else self.reply.header.rcode

    def pack(self) -> bytes | None:
        """The reply's bytes (None: nothing to send). Never raises."""
        if self.reply is None:
            return None
        try:
            return bytes(self.reply.pack())
        except Exception:  # an unpackable name (a bug, or odd data): one SERVFAIL, no crash
            return bytes(wire.error_reply(self.reply.header, RCODE.SERVFAIL).pack())


def answer(zone: ClusterZone, query: bytes | DNSRecord) -> Answer:
    """Answer a query (bytes off the wire, or a parsed dnslib record). Never raises."""
    if isinstance(query, DNSRecord):
        record, error = wire.check(query)
    else:
        record, error = wire.decode(query)
    if record is None:
        return Answer(reply=error)
    try:
        return _answer(zone, record)
    except Exception:  # a bug must cost one SERVFAIL, not the server
        return Answer(reply=_reply(record, RCODE.SERVFAIL, authoritative=False))


def complete_chase(result: Answer, upstream: DNSRecord | None) -> Answer:
    """Finish an ExternalName answer with the upstream reply for `result.chase`.

    As CoreDNS: the upstream's answer records follow our CNAME(s), its TC bit carries
    over; if the upstream could not be asked (None), the CNAME is dropped: NODATA.
    """
    if result.chase is None or result.reply is None:
        return result
    if upstream is None:
        return Answer(reply=result.fallback)
    reply = copy.copy(result.reply)
    reply.header = DNSHeader(id=result.reply.header.id, bitmap=result.reply.header.bitmap)
    reply.rr = list(result.reply.rr) + list(upstream.rr)
    reply.header.tc = result.reply.header.tc or upstream.header.tc
    reply.set_header_qa()
    return Answer(reply=reply)


def load_balance(reply: DNSRecord, rng: random.Random) -> None:
    """Shuffle address records as kubeadm's Corefile `loadbalance` (round_robin) does.

    Only successful answers; per section, CNAMEs stay first, then other records, then
    the shuffled A/AAAA records, then the shuffled MX records.
    """
    if reply.header.rcode != RCODE.NOERROR or reply.q.qtype in (QTYPE.AXFR, QTYPE.IXFR):
        return
    for section in ("rr", "auth", "ar"):
        records = getattr(reply, section)
        if len(records) <= 1:
            continue
        by_type: dict[str, list[RR]] = {"cname": [], "rest": [], "address": [], "mx": [], "opt": []}
        for record in records:
            by_type[_BALANCE_GROUPS.get(record.rtype, "rest")].append(record)
        rng.shuffle(by_type["address"])
        rng.shuffle(by_type["mx"])
        setattr(reply, section, [r for group in by_type.values() for r in group])
    reply.set_header_qa()


# --- the handler ----------------------------------------------------------------------


def _answer(zone: ClusterZone, query: DNSRecord) -> Answer:
    raw, low = names.split(query.q.qname)
    matched = zone.zone_of(low)
    if matched is None:
        return Answer(forward=True)  # not the plugin's: the next plugin is `forward`
    if query.q.qtype in (QTYPE.AXFR, QTYPE.IXFR):
        # The plugin itself refuses transfers: only a `transfer` plugin serves them.
        return Answer(reply=_reply(query, RCODE.REFUSED, authoritative=False))
    return _in_zone(zone, query, _Name(raw, low, matched))


@dataclass(frozen=True)
class _Name:
    """A query name: as sent, lower-cased, and the plugin's zone it is in."""

    raw: tuple[bytes, ...]
    low: Labels
    zone: Labels

    @property
    def origin(self) -> tuple[bytes, ...]:
        return self.raw[len(self.raw) - len(self.zone) :]  # the zone as the question spells it

    @property
    def relative(self) -> Labels:
        return self.low[: len(self.low) - len(self.zone)]


def _in_zone(zone: ClusterZone, query: DNSRecord, name: _Name) -> Answer:
    """handler.go's switch on the query type, for a name in one of the plugin's zones."""
    records, extra, chase, exists = _lookup(zone, query, name)
    if not exists:
        if zone.falls_through(name.low):
            return Answer(forward=True)  # `fallthrough`: the next plugin answers instead
        # Before the first sync a missing name may just not be known yet: SERVFAIL.
        rcode = RCODE.NXDOMAIN if zone.synced else RCODE.SERVFAIL
        return Answer(reply=_negative(zone, query, name.origin, rcode))
    if not records:
        return Answer(reply=_negative(zone, query, name.origin, RCODE.NOERROR))
    reply = _reply(query)
    reply.rr = records
    reply.ar = extra + reply.ar  # the OPT record, if any, stays last
    reply.set_header_qa()
    if chase is None:
        return Answer(reply=reply)
    fallback = _negative(zone, query, name.origin, RCODE.NOERROR)
    return Answer(reply=reply, chase=chase, fallback=fallback)


def _lookup(
    zone: ClusterZone, query: DNSRecord, name: _Name
) -> tuple[list[RR], list[RR], str | None, bool]:
    """(answers, additional records, a name to chase upstream, does the name exist)."""
    qname, qtype, relative = query.q.qname, query.q.qtype, name.relative
    if qtype in (QTYPE.A, QTYPE.AAAA):
        found = _addresses(zone, name, qtype, [])
        records, chase = found or ([], None)
        return records, [], chase, found is not None
    if qtype == QTYPE.SRV:
        pair = _srv(zone, qname, name)
        answers, extra = pair or ([], [])
        return answers, extra, None, pair is not None
    if qtype == QTYPE.TXT and relative == (DNS_VERSION_LABEL,):
        txt = RR(qname, QTYPE.TXT, ttl=DNS_VERSION_TTL_S, rdata=TXT(SCHEMA_VERSION))
        return [txt], [], None, True
    if qtype == QTYPE.TXT:
        return (
            [],
            [],
            None,
            bool(_records(zone, name.relative, name.low)),
        )  # CoreDNS: NODATA only if found
    if qtype == QTYPE.CNAME:
        items = find_items(zone, name.relative, name.low)
        if items and items[0].is_name:
            cname = CNAME(DNSLabel(items[0].host))
            return [RR(qname, QTYPE.CNAME, ttl=zone.ttl, rdata=cname)], [], None, True
        return [], [], None, items is not None
    if qtype == QTYPE.PTR:
        return _ptr(zone, qname, name)
    if qtype == QTYPE.SOA:
        return ([] if relative else [_soa(zone, name.origin)]), [], None, True
    if qtype == QTYPE.NS and not relative:
        ns_name = DNSLabel((b"ns", b"dns", *name.origin))
        ns = [RR(qname, QTYPE.NS, ttl=zone.ttl, rdata=NS(ns_name))]
        return ns, [RR(ns_name, QTYPE.A, ttl=zone.ttl, rdata=A(zone.dns_ip))], None, True
    # Any other type (and NS below the apex): look the name up only to tell NODATA from
    # NXDOMAIN, as CoreDNS's "fake A lookup".
    return [], [], None, find_items(zone, name.relative, name.low) is not None


def _ptr(zone: ClusterZone, qname: DNSLabel, name: _Name) -> tuple[list[RR], list[RR], None, bool]:
    """reverse.go: a name spelling an address finds its Service or endpoints; any other
    name (`svc1.testns.svc.cluster.local`) is looked up only for NODATA vs NXDOMAIN."""
    ip = names.address_from_reverse(name.low)
    if ip is None:
        return [], [], None, _records(zone, name.relative, name.low) is not None
    targets = list(dict.fromkeys(zone.ptr(ip)))
    ptrs = [RR(qname, QTYPE.PTR, ttl=zone.ttl, rdata=PTR(target)) for target in targets]
    return ptrs, [], None, bool(ptrs)


def find_items(zone: ClusterZone, relative: Labels, low: Labels) -> list[Item] | None:
    """kubernetes.go `Services`: the items behind a name (lower-cased labels below the
    plugin's zone, and the whole name); None = no such name. What every query type looks
    up first (the fast path in fast.py too)."""
    if relative == NS_LABELS:
        # CoreDNS's `isDefaultNS`: ns.dns.<zone> holds the DNS Service's address.
        return [Item(zone.dns_ip, None, NS_LABELS)]
    return _records(zone, relative, low)


def _records(zone: ClusterZone, relative: Labels, low: Labels) -> list[Item] | None:
    """kubernetes.go `Records`: read the name, then find its Services, endpoints or pod."""
    request = names.parse_request(relative)
    if request is None:
        return None
    if not request.kind:
        return []  # the apex, svc.<zone>, pod.<zone>
    if names.is_reverse(low):
        return None  # `svc1.testns.svc.0.10.in-addr.arpa` finds nothing
    return zone.lookup(request)


def _addresses(
    zone: ClusterZone, name: _Name, qtype: int, chain: list[RR]
) -> tuple[list[RR], str | None] | None:
    """backend_lookup.go `A`/`AAAA`: (records, name to chase upstream), None = NXDOMAIN."""
    items = find_items(zone, name.relative, name.low)
    if items is None:
        return None
    owner = DNSLabel(name.raw)
    records: list[RR] = []
    chase = None
    seen: set[str] = set()
    for item in items:
        if item.is_name:
            target_raw, target_low = names.split(item.host)
            cname = RR(owner, QTYPE.CNAME, ttl=zone.ttl, rdata=CNAME(DNSLabel(target_raw)))
            # No x CNAME x, no chain longer than CoreDNS follows, no CNAME loop.
            if target_low == name.low or len(chain) >= MAX_CNAME_CHAIN or _seen(cname, chain):
                continue
            if names.is_under(target_low, name.zone):
                target = _Name(target_raw, target_low, name.zone)
                inner = _addresses(zone, target, qtype, [*chain, cname])
                if inner is not None and inner[0]:  # an empty target drops the CNAME too
                    records += [cname, *inner[0]]
                    chase = chase or inner[1]
            else:
                records.append(cname)
                chase = str(DNSLabel(target_raw))
            continue
        family = QTYPE.AAAA if ":" in item.host else QTYPE.A
        if family == qtype and item.host not in seen:
            seen.add(item.host)
            rdata = AAAA(item.host) if family == QTYPE.AAAA else A(item.host)
            records.append(RR(owner, qtype, ttl=zone.ttl, rdata=rdata))
    return records, chase


def _seen(cname: RR, chain: list[RR]) -> bool:
    key = (str(cname.rname).lower(), str(cname.rdata.label).lower())
    return any((str(c.rname).lower(), str(c.rdata.label).lower()) == key for c in chain)


def _srv(zone: ClusterZone, qname: DNSLabel, name: _Name) -> tuple[list[RR], list[RR]] | None:
    """backend_lookup.go `SRV`: (answers, additional addresses), None = NXDOMAIN.

    A target is the item's own name (lower case, as the API object spells it) in the
    zone as the question spells it: `svc1.testns.svc.cLuStEr.LoCaL.`."""
    items = find_items(zone, name.relative, name.low)
    origin = name.origin
    if items is None:
        return None
    items = [item for item in items if not item.is_name]  # no SRV from an ExternalName
    weight = srv_weight(len(items))
    records: list[RR] = []
    extra: list[RR] = []
    seen: set[tuple[str, object]] = set()
    for item in items:
        if item.port is None:
            continue  # a portless endpoint: addresses only
        target = DNSLabel((*(label.encode() for label in item.owner), *origin))
        key = str(target).lower()
        if (key, item.port) not in seen:
            seen.add((key, item.port))
            srv = SRV(priority=0, weight=weight, port=item.port, target=target)
            records.append(RR(qname, QTYPE.SRV, ttl=zone.ttl, rdata=srv))
        if (key, item.host) not in seen:
            seen.add((key, item.host))
            family = QTYPE.AAAA if ":" in item.host else QTYPE.A
            rdata = AAAA(item.host) if family == QTYPE.AAAA else A(item.host)
            extra.append(RR(target, family, ttl=zone.ttl, rdata=rdata))
    return records, extra


# --- reply shapes ---------------------------------------------------------------------


def _reply(query: DNSRecord, rcode: int = RCODE.NOERROR, authoritative: bool = True) -> DNSRecord:
    """A reply skeleton: the question as asked, AA, RD and CD echoed, no RA; EDNS echoed."""
    header = DNSHeader(id=query.header.id, bitmap=0, qr=1, rcode=rcode)
    header.opcode = OPCODE.QUERY
    header.aa, header.rd, header.cd = int(authoritative), query.header.rd, query.header.cd
    reply = DNSRecord(header, questions=[query.q])
    opt = wire.edns(query)
    if opt is not None:
        # As CoreDNS's SizeAndDo: version 0, the client's buffer size, its DO bit.
        reply.add_ar(EDNS0(udp_len=wire.udp_size(query), flags="do" if opt.edns_do else ""))
    return reply


def _soa(zone: ClusterZone, origin: tuple[bytes, ...]) -> RR:
    times = (zone.serial & 0xFFFFFFFF, SOA_REFRESH_S, SOA_RETRY_S, SOA_EXPIRE_S, zone.ttl)
    mname = DNSLabel((b"ns", b"dns", *origin))
    rname = DNSLabel((b"hostmaster", *origin))
    soa = SOA(mname=mname, rname=rname, times=times)
    return RR(DNSLabel(origin), QTYPE.SOA, ttl=min(zone.ttl, SOA_MAX_TTL_S), rdata=soa)


def _negative(
    zone: ClusterZone, query: DNSRecord, origin: tuple[bytes, ...], rcode: int
) -> DNSRecord:
    """NXDOMAIN, NODATA (rcode NOERROR) or SERVFAIL, with the zone's SOA as authority."""
    reply = _reply(query, rcode)
    reply.add_auth(_soa(zone, origin))
    return reply
