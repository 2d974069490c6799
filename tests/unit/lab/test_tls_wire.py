"""Reading a capture as a reader of the wire: TLS records from a real handshake (Python's ssl
over memory BIOs, no network), HTTP heads, and TCP streams reassembled from a pcap file."""

from __future__ import annotations

import ssl

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from lab_kit.adapters import pki
from lab_kit.lab.tls_wire import http_heads, read_wire, reassemble, tls_records


def _pump(source: ssl.MemoryBIO, sink: ssl.MemoryBIO) -> bytes:
    data = source.read()
    sink.write(data)
    return data


@pytest.fixture
def tls_session(tmp_path):
    """A client and a server TLS object over memory BIOs, the server with a lab-CA
    certificate for shop.example; returns (client, server, to_server, to_client, pump)."""
    ca = pki.make_ca()
    pair = pki.issue(ca, ["shop.example"])
    (tmp_path / "tls.pem").write_bytes(pair.cert_pem + pair.key_pem)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "tls.pem")
    client_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="shop.example")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    return client, server, c_out, s_out, c_in, s_in


def _handshake(client, server, c_out, s_out, c_in, s_in) -> tuple[bytes, bytes]:
    """Run the handshake to its end; what the client sent, and what the server sent."""
    sent_by_client, sent_by_server, done = b"", b"", set()
    for _ in range(10):
        for side in (client, server):
            try:
                side.do_handshake()
                done.add(side)
            except ssl.SSLWantReadError:
                pass
        sent_by_client += _pump(c_out, s_in)
        sent_by_server += _pump(s_out, c_in)
        if len(done) == 2:
            break
    assert len(done) == 2, "the handshake did not finish"
    return sent_by_client, sent_by_server


def test_a_real_handshake_shows_the_sni_and_tls13_then_only_encrypted_records(tls_session):
    client, server, c_out, s_out, c_in, s_in = tls_session
    from_client, from_server = _handshake(*tls_session)
    client.write(b"GET /account HTTP/1.1\r\nAuthorization: Bearer secret\r\n\r\n")
    request = _pump(c_out, s_in)
    hello = tls_records(from_client)[0]
    assert (hello.type, hello.handshake, hello.sni) == ("handshake", "client_hello", "shop.example")
    answer = tls_records(from_server)
    assert (answer[0].handshake, answer[0].version) == ("server_hello", "TLS 1.3")
    assert {r.type for r in answer[1:]} <= {"change_cipher_spec", "application_data"}
    assert [r.type for r in tls_records(request)] == ["application_data"]
    assert b"secret" not in request and b"lab_kit CA" not in from_server  # certificate encrypted
    assert "handshake client_hello (SNI shop.example)" in str(hello)


def test_after_change_cipher_spec_a_handshake_record_is_not_read():
    ccs = bytes([20, 3, 3, 0, 1, 1])
    encrypted_finished = bytes([22, 3, 3, 0, 4]) + b"\x01\x02\x03\x04"  # looks like a hello
    records = tls_records(ccs + encrypted_finished)
    assert [str(r) for r in records] == [
        "change_cipher_spec, 1 bytes",
        "handshake, 4 bytes: encrypted",
    ]


def test_reading_stops_at_something_that_is_not_a_record():
    data = bytes([23, 3, 3, 0, 2]) + b"ab" + b"GET / HTTP/1.1\r\n"
    assert [r.type for r in tls_records(data)] == ["application_data"]


def test_http_heads_skip_bodies_by_content_length():
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://a\r\nContent-Length: 0\r\n\r\n"
    )
    assert http_heads(data) == [
        "HTTP/1.1 200 OK\r\nContent-Length: 5",
        "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://a\r\nContent-Length: 0",
    ]


def test_reassemble_orders_segments_and_keeps_retransmitted_bytes_once():
    assert reassemble({1000: b"abc", 1006: b"ghi", 1003: b"def", 1004: b"ef"}) == b"abcdefghi"
    assert reassemble({5: b"abcd", 7: b"cdef"}) == b"abcdef"  # a segment overlapping the last
    assert reassemble({}) == b""


def _segment(src, sport, dst, dport, seq, payload=b"", flags="PA"):
    return (
        Ether()
        / IP(src=src, dst=dst)
        / TCP(sport=sport, dport=dport, seq=seq, flags=flags)
        / payload
    )


def test_read_wire_reassembles_each_direction_of_a_capture(tmp_path):
    controller, pod = "10.244.3.2", "10.244.2.3"
    request = (
        b"GET /account/orders HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-Proto: https\r\n\r\n"
    )
    packets = [
        _segment(controller, 40000, pod, 3000, 10, flags="S"),
        _segment(controller, 40000, pod, 3000, 11, request[:20]),
        _segment(controller, 40000, pod, 3000, 31, request[20:]),
        _segment(controller, 40000, pod, 3000, 11, request[:20]),  # a retransmission
        _segment(
            pod, 3000, controller, 40000, 500, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        ),
        _segment("192.0.2.10", 5000, "198.51.100.32", 443, 7, bytes([23, 3, 3, 0, 3]) + b"xyz"),
    ]
    wrpcap(str(tmp_path / "c.pcap"), packets)
    wire = read_wire(tmp_path / "c.pcap")
    assert [(s.src, s.dport, s.kind) for s in wire] == [
        (controller, 3000, "HTTP"),
        (pod, 40000, "HTTP"),
        ("192.0.2.10", 443, "TLS"),
    ]
    assert wire[0].data == request and wire.http_heads()[0].startswith("GET /account/orders")
    assert wire.contains(b"X-Forwarded-Proto: https") and not wire.contains(b"nothing")
    assert [s.kind for s in wire.of_kind("TLS")] == ["TLS"] and wire.sni() == []
    assert "application_data, 3 bytes: encrypted" in str(wire)
    assert "    X-Forwarded-Proto: https" in str(wire)


def test_an_empty_capture_file_reads_as_no_payload(tmp_path):
    (tmp_path / "e.pcap").write_bytes(b"")
    assert str(read_wire(tmp_path / "e.pcap")) == "No payload."
