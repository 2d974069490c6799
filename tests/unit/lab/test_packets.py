"""read_packets on a pcap built with scapy: DNS, a TCP connection carrying HTTP, ICMP, ARP."""

from __future__ import annotations

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRSRV
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap

from lab_kit.adapters.capture import FakeCapture
from lab_kit.lab.packets import Flow, PacketRow, PacketTable, read_packets

CLIENT, DNS_IP, SVC, SERVER = "10.244.1.6", "10.96.0.10", "10.96.0.12", "10.244.2.5"
NAME = "random-generator.default.svc.cluster.local."


def eth(payload):
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / payload


def build_packets() -> list:
    c, s = 42114, 80
    req = b"GET /info HTTP/1.1\r\nHost: random-generator\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    pkts = [
        eth(
            IP(src=CLIENT, dst=DNS_IP) / UDP(sport=5353, dport=53) / DNS(id=7, qd=DNSQR(qname=NAME))
        ),
        eth(
            IP(src=DNS_IP, dst=CLIENT)
            / UDP(sport=53, dport=5353)
            / DNS(id=7, qr=1, aa=1, qd=DNSQR(qname=NAME), an=DNSRR(rrname=NAME, rdata=SVC))
        ),
        eth(
            IP(src=DNS_IP, dst=CLIENT)
            / UDP(sport=53, dport=5354)
            / DNS(id=8, qr=1, rcode=3, qd=DNSQR(qname="nope.default.svc.cluster.local."))
        ),
        eth(IP(src=CLIENT, dst=SVC) / TCP(sport=c, dport=s, flags="S", seq=100)),
        eth(IP(src=SVC, dst=CLIENT) / TCP(sport=s, dport=c, flags="SA", seq=500, ack=101)),
        eth(IP(src=CLIENT, dst=SVC) / TCP(sport=c, dport=s, flags="A", seq=101, ack=501)),
        eth(IP(src=CLIENT, dst=SVC) / TCP(sport=c, dport=s, flags="PA", seq=101, ack=501) / req),
        eth(IP(src=SVC, dst=CLIENT) / TCP(sport=s, dport=c, flags="PA", seq=501, ack=148) / resp),
        eth(IP(src=CLIENT, dst=SVC) / TCP(sport=c, dport=s, flags="FA")),
        eth(IP(src=SVC, dst=CLIENT) / TCP(sport=s, dport=c, flags="R")),
        eth(IP(src=CLIENT, dst=SERVER) / ICMP(type="echo-request", id=1, seq=1)),
        eth(IP(src=SERVER, dst=CLIENT) / ICMP(type="echo-reply", id=1, seq=1)),
        eth(
            IP(src=SERVER, dst=CLIENT)
            / ICMP(type=3, code=3)
            / IPerror(src=CLIENT, dst=SERVER)
            / UDPerror(sport=40000, dport=9)
        ),
        Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, psrc=CLIENT, pdst="10.244.1.1"),
        eth(ARP(op=2, psrc="10.244.1.1", hwsrc="02:00:00:00:00:09", pdst=CLIENT)),
    ]
    for i, p in enumerate(pkts):
        p.time = 1000.0 + i * 0.25
    return pkts


@pytest.fixture
def pcap(tmp_path):
    path = tmp_path / "lab.pcap"
    wrpcap(str(path), build_packets())
    return path


def test_rows_time_addresses_protocols(pcap):
    rows = read_packets(pcap)
    assert isinstance(rows, PacketTable) and len(rows) == 15
    assert all(isinstance(r, PacketRow) for r in rows)
    assert rows[0].time == 0.0 and rows[4].time == pytest.approx(1.0)
    assert [r.protocol for r in rows] == ["UDP"] * 3 + ["TCP"] * 7 + ["ICMP"] * 3 + ["ARP"] * 2
    assert (rows[0].src, rows[0].sport, rows[0].dst, rows[0].dport) == (CLIENT, 5353, DNS_IP, 53)
    assert rows[10].sport is None and rows[10].dport is None
    assert rows[3].length == len(build_packets()[3])


def test_tcp_flags(pcap):
    tcp = read_packets(pcap).filter(protocol="TCP")
    assert [r.flags for r in tcp] == ["S", "SA", "A", "PA", "PA", "FA", "R"]
    assert all(r.flags == "" for r in read_packets(pcap).filter(protocol="UDP"))


def test_summaries(pcap):
    s = [r.summary for r in read_packets(pcap)]
    assert s[0] == f"A? {NAME}"
    assert s[1] == f"A {NAME} -> {SVC}"
    assert s[2] == "NXDOMAIN A? nope.default.svc.cluster.local."
    assert s[3:6] == ["", "", ""]
    assert s[6] == "GET /info HTTP/1.1"
    assert s[7] == "HTTP/1.1 200 OK"
    assert s[10:13] == ["echo-request", "echo-reply", "port-unreachable"]
    assert s[13] == f"who-has 10.244.1.1 tell {CLIENT}"
    assert s[14] == "10.244.1.1 is-at 02:00:00:00:00:09"


def test_dns_answers_grouped_and_cname_chain(tmp_path):
    dns = DNS(
        id=1,
        qr=1,
        qd=DNSQR(qname="www.example."),
        an=[
            DNSRR(rrname="www.example.", type="CNAME", rdata="web.example."),
            DNSRR(rrname="web.example.", rdata="203.0.113.10"),
            DNSRR(rrname="web.example.", rdata="203.0.113.11"),
        ],
    )
    path = tmp_path / "dns.pcap"
    wrpcap(str(path), [eth(IP(src="203.0.113.53", dst=CLIENT) / UDP(sport=53, dport=999) / dns)])
    (row,) = read_packets(path)
    assert row.summary == (
        "CNAME www.example. -> web.example.; A web.example. -> 203.0.113.10, 203.0.113.11"
    )


def test_dns_srv_answer(tmp_path):
    srv = "_http._tcp.web.default.svc.cluster.local."
    dns = DNS(
        qr=1,
        qd=DNSQR(qname=srv, qtype="SRV"),
        an=[
            DNSRRSRV(
                rrname=srv, priority=0, weight=100, port=80, target="web.default.svc.cluster.local."
            )
        ],
    )
    path = tmp_path / "srv.pcap"
    wrpcap(str(path), [eth(IP(src=DNS_IP, dst=CLIENT) / UDP(sport=53, dport=999) / dns)])
    assert read_packets(path)[0].summary == f"SRV {srv} -> 0 100 80 web.default.svc.cluster.local."


def test_flows_in_order_of_appearance(pcap):
    flows = read_packets(pcap).flows()
    assert flows[:4] == [
        Flow("UDP", CLIENT, 5353, DNS_IP, 53),
        Flow("UDP", DNS_IP, 53, CLIENT, 5353),
        Flow("UDP", DNS_IP, 53, CLIENT, 5354),
        Flow("TCP", CLIENT, 42114, SVC, 80),
    ]
    assert flows[4] == ("TCP", SVC, 80, CLIENT, 42114)
    # ICMP: echo-request one way; echo-reply and port-unreachable the other
    assert len(flows) == len(set(flows)) == 9


def test_syns_and_filter(pcap):
    rows = read_packets(pcap)
    syns = rows.syns()
    assert isinstance(syns, PacketTable) and len(syns) == 1
    assert (syns[0].src, syns[0].dst, syns[0].dport, syns[0].flags) == (CLIENT, SVC, 80, "S")
    assert len(rows.filter(protocol="ICMP", src=SERVER)) == 2
    assert [r.flags for r in rows.filter(flags=lambda f: "P" in f)] == ["PA", "PA"]
    with pytest.raises(TypeError, match="unknown field"):
        rows.filter(port=80)


def test_text_and_html(pcap):
    rows = read_packets(pcap)
    text = str(rows).splitlines()
    assert text[0].split() == [
        "NO",
        "TIME",
        "SOURCE",
        "DESTINATION",
        "PROTO",
        "LEN",
        "FLAGS",
        "SUMMARY",
    ]
    assert text[4].split()[:7] == [
        "4",
        "0.750000",
        f"{CLIENT}:42114",
        f"{SVC}:80",
        "TCP",
        "54",
        "S",
    ]
    assert text[7].endswith("GET /info HTTP/1.1")
    # every column starts at the same offset on every line
    col = text[0].index("SOURCE")
    assert all(line[col - 1] == " " and line[col] != " " for line in text[1:])
    page = rows._repr_html_()
    assert page.count("<tr>") == 16 and "GET /info HTTP/1.1" in page
    assert str(PacketTable()) == "No packets."


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    assert read_packets(empty) == []
    header_only = tmp_path / "header.pcap"
    wrpcap(str(header_only), [])
    assert read_packets(header_only) == []


def test_fake_capture_writes_given_pcap(tmp_path, pcap):
    out = tmp_path / "out" / "cap.pcap"
    out.parent.mkdir()
    with FakeCapture(4242, "eth0", out, "tcp", pcap=pcap) as cap:
        pass
    assert cap.calls[0][0] == "start" and cap.calls[1] == ("stop",)
    assert cap.calls[0][1][:4] == ["nsenter", "--net=/proc/4242/ns/net", "tcpdump", "-i"]
    assert cap.calls[0][1][-1] == "tcp"
    assert cap.result.path == out and cap.result.captured == 15
    assert len(read_packets(out)) == 15
