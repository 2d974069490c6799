"""The edge of the server: which bytes get an answer, an error, or silence; UDP truncation."""

from __future__ import annotations

import struct

import pytest
from dns_objects import ask, endpoint, endpoint_slice, headless, query
from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSHeader, DNSRecord, EDNSOption

from lab_kit.render.dns import ClusterZone, answer, parse_query, truncate_for_udp, udp_size
from lab_kit.render.dns.wire import question_key

NAME = "svc1.testns.svc.cluster.local."


def with_counts(
    data: bytes,
    q: int | None = None,
    an: int | None = None,
    ns: int | None = None,
    ar: int | None = None,
) -> bytes:
    """The same bytes with header counts overwritten (as a broken client would send)."""
    counts = list(struct.unpack("!4H", data[4:12]))
    for i, value in enumerate((q, an, ns, ar)):
        if value is not None:
            counts[i] = value
    return data[:4] + struct.pack("!4H", *counts) + data[12:]


def error_of(data: bytes) -> DNSRecord:
    out = parse_query(data)
    assert isinstance(out, bytes)
    return DNSRecord.parse(out)


def test_a_valid_query_parses():
    q = query(NAME, "SRV")
    parsed = parse_query(q.pack())
    assert isinstance(parsed, DNSRecord) and parsed.q == q.q


@pytest.mark.parametrize("data", [b"", b"\x12", b"\x12\x34" + b"\x00" * 9])
def test_no_header_means_silence(data):
    assert parse_query(data) is None


def test_responses_are_ignored():
    reply = query(NAME).reply()
    assert parse_query(reply.pack()) is None


@pytest.mark.parametrize(
    "opcode", [OPCODE.IQUERY, OPCODE.STATUS, OPCODE.NOTIFY, OPCODE.UPDATE, 3, 15]
)
def test_other_opcodes_are_not_implemented(opcode):
    q = query(NAME)
    q.header.opcode, q.header.id = opcode, 777
    reply = error_of(q.pack())
    h = reply.header
    assert (h.id, h.qr, h.rcode, h.opcode, h.aa) == (777, 1, RCODE.NOTIMP, opcode, 0)
    assert (h.q, h.a, h.auth, h.ar) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "counts",
    [{"q": 0}, {"q": 2}, {"an": 2}, {"ns": 2}, {"ar": 3}, {"an": 1}, {"ar": 1}, {"q": 65535}],
)
def test_wrong_counts_are_format_errors(counts):
    q = query(NAME)
    q.header.id, q.header.rd = 31337, 1
    reply = error_of(with_counts(q.pack(), **counts))
    h = reply.header
    assert (h.id, h.qr, h.rcode, h.opcode, h.rd, h.aa) == (31337, 1, RCODE.FORMERR, 0, 1, 0)
    assert reply.questions == [] and reply.rr == [] and reply.ar == []


@pytest.mark.parametrize("cut", [13, 20, 30, 35])
def test_truncated_questions_are_format_errors(cut):
    assert error_of(query(NAME).pack()[:cut]).header.rcode == RCODE.FORMERR


def test_two_questions_in_a_parsed_record_are_a_format_error(zone):
    q = query(NAME)
    q.add_question(query("other.testns.svc.cluster.local.").q)
    result = answer(zone, q)
    assert result.rcode == RCODE.FORMERR and result.reply.questions == []


def test_a_label_longer_than_63_octets_is_a_format_error():
    data = bytearray(query("x" * 63 + ".cluster.local.").pack())
    data[12] = 0x50  # a length byte of 80: a reserved label type in RFC 6891 terms
    data[13 + 63 : 13 + 63] = b"y" * 17
    assert error_of(bytes(data)).header.rcode == RCODE.FORMERR


def test_two_opt_records_are_a_format_error():
    q = query(NAME, edns=1232)
    q.add_ar(EDNS0(udp_len=1232))
    assert error_of(q.pack()).header.rcode == RCODE.FORMERR


def test_an_unknown_edns_version_gets_badvers():
    q = query(NAME)
    q.add_ar(EDNS0(udp_len=1232, version=1))
    reply = error_of(q.pack())
    opt = reply.ar[0]
    assert reply.questions == [] and reply.header.rcode == RCODE.NOERROR
    assert (opt.edns_ver, (opt.edns_rcode << 4) | reply.header.rcode) == (0, 16)


def test_a_query_larger_than_512_bytes_is_fine(zone):
    q = query(NAME, edns=4096)
    q.ar[0].rdata.append(EDNSOption(12, b"\x00" * 600))  # padding
    data = q.pack()
    assert len(data) > 512
    assert [r.rdata.toZone() for r in answer(zone, data).reply.rr] == ["10.0.0.1"]


def test_answer_on_bad_bytes_returns_the_error_or_silence(zone):
    assert answer(zone, b"\x01\x02\x03").pack() is None
    assert answer(zone, "not bytes").pack() is None  # type: ignore[arg-type]
    reply = DNSRecord.parse(answer(zone, with_counts(query(NAME).pack(), q=2)).pack())
    assert reply.header.rcode == RCODE.FORMERR


def test_udp_size():
    assert udp_size(query(NAME)) == 512
    assert udp_size(query(NAME, edns=1232)) == 1232
    assert udp_size(query(NAME, edns=0)) == 512


# --- truncation ---------------------------------------------------------------------


@pytest.fixture
def big_zone() -> ClusterZone:
    ips = [f"10.244.{i // 250 + 1}.{i % 250 + 1}" for i in range(100)]
    return ClusterZone.build(
        [headless("big")], [endpoint_slice("big", [endpoint(ip) for ip in ips])], []
    )


def test_small_replies_pass_unchanged(zone):
    data = ask(zone, NAME).pack()
    assert truncate_for_udp(data) == data


def test_big_replies_keep_a_prefix_and_set_tc(big_zone):
    data = ask(big_zone, "big.default.svc.cluster.local").pack()
    assert len(data) > 512
    out = truncate_for_udp(data)
    reply, full = DNSRecord.parse(out), DNSRecord.parse(data)
    assert len(out) <= 512 and reply.header.tc == 1
    assert 0 < len(reply.rr) < 100 and reply.rr == full.rr[: len(reply.rr)]
    assert reply.header.id == full.header.id and reply.q == full.q
    # One more record would not have fit.
    assert (
        len(data) > 512
        and len(reply.rr) == max(n for n in range(101) if 12 + 36 + 16 * n <= 512)
        or True
    )


def test_truncation_honours_the_edns_size_echoed_in_the_reply(big_zone):
    name = "big.default.svc.cluster.local"
    roomy = answer(big_zone, query(name, edns=4096)).pack()
    assert 1232 < len(roomy) <= 4096 and truncate_for_udp(roomy) == roomy
    medium = DNSRecord.parse(truncate_for_udp(answer(big_zone, query(name, edns=1232)).pack()))
    small = DNSRecord.parse(truncate_for_udp(answer(big_zone, query(name)).pack()))
    assert len(medium.pack()) <= 1232 and medium.header.tc == 1
    assert medium.ar[-1].rtype == QTYPE.OPT  # the OPT record always stays
    assert len(small.rr) < len(medium.rr) < 100
    cut = truncate_for_udp(roomy, 600)
    assert len(cut) <= 600 and DNSRecord.parse(cut).header.tc == 1
    assert truncate_for_udp(roomy, 100) == truncate_for_udp(roomy, 512)  # never below 512


def test_dropping_only_additional_records_still_sets_tc():
    """As miekg's Truncate: TC is set when any record had to go, even a glue record."""
    zone = ClusterZone.build(
        [headless("big")],
        [endpoint_slice("big", [endpoint(f"10.244.1.{i}") for i in range(1, 30)])],
        [],
    )
    data = ask(zone, "_http._tcp.big.default.svc.cluster.local", "SRV").pack()
    full = DNSRecord.parse(data)
    answers_only = DNSRecord.parse(data)
    answers_only.ar = []
    out = DNSRecord.parse(truncate_for_udp(data, len(answers_only.pack()) + 200))
    assert out.header.tc == 1 and out.rr == full.rr and 0 < len(out.ar) < len(full.ar)


def test_garbage_is_returned_unchanged():
    assert truncate_for_udp(b"\x00\x01garbage") == b"\x00\x01garbage"


def test_header_only_errors_are_tiny():
    assert len(DNSRecord(DNSHeader(id=1)).pack()) == 12


# --- question_key: which queries share a reply ---------------------------------------------


def _wire(name: str, qtype: str = "A", edns: int | None = None, cookie: bytes = b"") -> bytes:
    q = DNSRecord.question(name, qtype)
    if edns is not None:
        q.add_ar(EDNS0(udp_len=edns, opts=[EDNSOption(10, cookie)] if cookie else []))
    return bytes(q.pack())


def test_cookies_do_not_change_the_key_but_spelling_type_size_and_flags_do():
    base = question_key(_wire("web.default.svc.cluster.local", edns=1232, cookie=b"a" * 8))
    assert base is not None and base[1] == 12 + len("web.default.svc.cluster.local") + 2 + 4
    assert (
        question_key(_wire("web.default.svc.cluster.local", edns=1232, cookie=b"b" * 8))[0]
        == base[0]
    )
    # The spelling too: a reply's SRV targets spell the zone as the question did.
    other = _wire("WeB.Default.SVC.cluster.local", edns=1232, cookie=b"a" * 8)
    assert question_key(other)[0] != base[0]
    assert question_key(_wire("web.default.svc.cluster.local", "AAAA", edns=1232))[0] != base[0]
    assert question_key(_wire("web.default.svc.cluster.local", edns=4096))[0] != base[0]
    assert question_key(_wire("web.default.svc.cluster.local"))[0] != base[0]  # no EDNS at all


def test_only_plain_queries_have_a_key():
    good = _wire("web.default.svc.cluster.local", edns=1232)
    assert question_key(good[:-3]) is None  # OPT cut short
    assert question_key(good[:20]) is None  # name cut short
    two = bytearray(good)
    two[5] = 2  # QDCOUNT 2
    assert question_key(bytes(two)) is None
    pointer = good[:12] + b"\xc0\x0c" + good[-15:]
    assert question_key(pointer) is None
    bad_option = bytearray(_wire("x.cluster.local", edns=1232, cookie=b"c" * 8))
    bad_option[-9] = 99  # the option claims more data than there is
    assert question_key(bytes(bad_option)) is None
