"""DNS messages at the edge: which bytes get an answer, which an error, which silence.

Mirrors what CoreDNS's server library (miekg/dns `server.go`, `DefaultMsgAcceptFunc`)
does before any plugin sees a query, so a learner's `dig` with odd flags, or random
bytes from a fuzzer, meet the same treatment as on a real cluster:

    fewer than 12 bytes (no header)         -> silence: any reply could amplify an attack
    QR bit set (a response, not a query)    -> silence
    opcode other than QUERY                 -> NOTIMP, header only
    QDCOUNT != 1, ANCOUNT > 1, NSCOUNT > 1,
    ARCOUNT > 2, or sections that do not
    parse                                   -> FORMERR, header only
    EDNS version other than 0               -> BADVERS (RFC 6891)

dnslib does the packing and unpacking here; the only bytes written by hand are
`question_key`'s reading of a plain query, and fast.py's replies of the common shapes
(tested to be dnslib's bytes exactly).
`truncate_for_udp` is CoreDNS's `Scrub`/miekg's `Truncate`: keep as many records as
fit, in order (answer, authority, additional), and set TC when any had to go.
"""

from __future__ import annotations

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSHeader, DNSRecord
from dnslib.label import DNSBuffer

UDP_MIN_SIZE = 512  # RFC 1035; RFC 6891: an EDNS size below it counts as 512
MAX_NAME_OCTETS = 255
MAX_LABEL_OCTETS = 63
BADVERS = 16  # an extended rcode: upper 8 bits go in the OPT record, lower 4 in the header


def _accept(header: DNSHeader, questions: int, answers: int, authority: int, additional: int):
    """miekg's DefaultMsgAcceptFunc: "ignore", "notimp", "formerr" or "accept"."""
    if header.qr:
        return "ignore"
    if header.opcode != OPCODE.QUERY:
        return "notimp"  # NOTIFY and UPDATE too: this server is nobody's secondary
    if questions != 1 or answers > 1 or authority > 1 or additional > 2:
        return "formerr"
    return "accept"


def error_reply(header: DNSHeader, rcode: int) -> DNSRecord:
    """The header-only reply miekg sends to a rejected query (request flags kept, QR set)."""
    reply = DNSHeader(id=header.id, bitmap=header.bitmap)
    reply.qr, reply.aa, reply.z, reply.rcode = 1, 0, 0, rcode
    # FORMERR claims opcode QUERY; NOTIMP echoes the opcode it does not implement.
    reply.opcode = header.opcode if rcode == RCODE.NOTIMP else OPCODE.QUERY
    return DNSRecord(reply)


def _well_formed_name(query: DNSRecord) -> bool:
    labels = query.questions[0].qname.label
    # dnslib reads 64..191 as label lengths where the RFC has reserved label types.
    if any(len(label) > MAX_LABEL_OCTETS for label in labels):
        return False
    return sum(len(label) + 1 for label in labels) + 1 <= MAX_NAME_OCTETS


def edns(query: DNSRecord):
    """The query's OPT record, or None."""
    opts = [rr for rr in query.ar if rr.rtype == QTYPE.OPT]
    return opts[0] if opts else None


def check(query: DNSRecord) -> tuple[DNSRecord | None, DNSRecord | None]:
    """(query, None) to answer it, (None, reply) to send an error, (None, None) for silence."""
    action = _accept(
        query.header, len(query.questions), len(query.rr), len(query.auth), len(query.ar)
    )
    if action == "ignore":
        return None, None
    if action == "notimp":
        return None, error_reply(query.header, RCODE.NOTIMP)
    opts = [rr for rr in query.ar if rr.rtype == QTYPE.OPT]
    if action == "formerr" or len(opts) > 1 or not _well_formed_name(query):
        return None, error_reply(query.header, RCODE.FORMERR)
    if opts and opts[0].edns_ver != 0:
        return None, badvers_reply(query)
    return query, None


def badvers_reply(query: DNSRecord) -> DNSRecord:
    """CoreDNS `edns.Version`: no question, an OPT of version 0 carrying BADVERS."""
    header = DNSHeader(id=query.header.id, bitmap=0, qr=1, rd=query.header.rd, cd=query.header.cd)
    header.rcode = BADVERS & 0xF
    reply = DNSRecord(header)
    reply.add_ar(EDNS0(udp_len=UDP_MIN_SIZE, ext_rcode=BADVERS >> 4))
    return reply


def decode(data: bytes) -> tuple[DNSRecord | None, DNSRecord | None]:
    """Bytes from the network -> (query, None), (None, error reply) or (None, None)."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 12:
        return None, None
    data = bytes(data)
    header = DNSHeader.parse(DNSBuffer(data[:12]))
    action = _accept(header, header.q, header.a, header.auth, header.ar)
    if action == "ignore":
        return None, None
    if action != "accept":
        return None, error_reply(header, RCODE.NOTIMP if action == "notimp" else RCODE.FORMERR)
    try:
        query = DNSRecord.parse(data)
    except Exception:  # dnslib raises DNSError, but odd bytes can raise others (recursion)
        return None, error_reply(header, RCODE.FORMERR)
    return check(query)


def parse_query(data: bytes) -> DNSRecord | bytes | None:
    """A query to answer, or the bytes of an error reply to send, or None: stay silent."""
    query, error = decode(data)
    if query is not None:
        return query
    return bytes(error.pack()) if error is not None else None


def udp_size(query: DNSRecord) -> int:
    """The largest UDP reply the client takes: its EDNS0 size, never below 512."""
    opt = edns(query)
    return max(UDP_MIN_SIZE, opt.edns_len if opt is not None else 0)


def truncate_for_udp(response: bytes, max_size: int | None = None) -> bytes:
    """Fit a reply into `max_size` bytes (default: the reply's own EDNS0 size, else 512).

    Our replies echo the query's EDNS0 size (as CoreDNS does), so the default honours what
    the client asked for. Records are kept in order while they fit; TC is set if any had
    to go. Bytes that do not parse are returned unchanged.
    """
    try:
        reply = DNSRecord.parse(response)
    except Exception:
        return response
    opt = edns(reply)
    size = max(UDP_MIN_SIZE, max_size if max_size is not None else (opt.edns_len if opt else 0))
    if len(response) <= size:
        return response
    records = [("rr", r) for r in reply.rr] + [("auth", r) for r in reply.auth]
    records += [("ar", r) for r in reply.ar if r.rtype != QTYPE.OPT]

    def build(keep: int) -> DNSRecord:
        out = DNSRecord(DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap))
        out.questions = list(reply.questions)
        for section, rr in records[:keep]:
            getattr(out, section).append(rr)
        if opt is not None:
            out.ar.append(opt)  # the OPT record always stays (miekg reserves room for it)
        out.header.tc = reply.header.tc or keep < len(records)
        out.set_header_qa()
        return out

    # Binary search on how many records fit: packing never shrinks as records are added.
    low, high = 0, len(records)
    while low < high:
        mid = (low + high + 1) // 2
        if len(build(mid).pack()) <= size:
            low = mid
        else:
            high = mid - 1
    return bytes(build(low).pack())


def question_key(data: bytes) -> tuple[bytes, int] | None:
    """What decides the answer to a plain query, and where its question ends.

    A plain query has one question with an uncompressed name, no answer or authority
    records, and at most an EDNS0 OPT record with well-formed options. Its key is the
    header flags, the question as sent, and the OPT's buffer size, extended rcode, version
    and flags (the DO bit) — not its options (a client cookie changes every time; the
    server echoes no options). Two queries with the same key get the same reply but for the
    ID, so a server can reuse a reply: the new ID, the reply's header, the query's question
    bytes and the reply's records. The name's letter case is part of the key: a reply
    spells names from the question's zone (an SRV target `web.default.svc.cLuStEr.LoCaL.`),
    and only some of them are pointers to the question. None: not plain; the full path
    decides. Never raises.
    """
    try:
        if data[4:10] != b"\x00\x01\x00\x00\x00\x00":  # QD=1, AN=0, NS=0
            return None
        i = 12
        while (length := data[i]) != 0:
            if length > 63:  # a compression pointer or an extended label type
                return None
            i += length + 1
        end = i + 5  # the root label, QTYPE, QCLASS
        rest = data[end:]
        if len(data) < end:
            return None
        additional = int.from_bytes(data[10:12], "big")
        if additional == 0:
            opt = b""
            if rest:
                return None
        elif additional == 1 and len(rest) >= 11 and rest[:3] == b"\x00\x00\x29":
            if 11 + int.from_bytes(rest[9:11], "big") != len(rest):
                return None
            j = 11
            while j < len(rest):  # each option: code, length, data; they must fit exactly
                j += 4 + int.from_bytes(rest[j + 2 : j + 4], "big")
            if j != len(rest):
                return None
            opt = rest[3:9]
        else:
            return None
        return data[2:4] + data[12:end] + opt, end
    except IndexError:
        return None
