"""Lab 14's helpers: requests through the Ingress address read as the echo server's answers,
and the HTTP requests a capture holds."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from lab_kit.lab import ingress_lab
from lab_kit.lab.access import Completed


def echo(service: str, pod: str) -> str:
    return json.dumps({"path": "/", "service": service, "pod": pod}, indent=1)


def test_ask_sends_each_host_header_and_reads_each_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[tuple[str, list[str]]] = []
    out = (
        echo("shop", "shop-1") + "\n<<200>>\n"
        + "<html>404 Not Found</html>\n" + "\n<<404>>\n"
        + '{"random":1,"id":"a"}' + "\n<<200>>\n"
        + "\n<<000>>\n"
    )  # fmt: skip

    def run_on_host(host: str, argv: list[str], **_: object) -> Completed:
        ran.append((host, argv))
        return Completed(argv, 0, out, "")

    monkeypatch.setattr(ingress_lab, "run_on_host", run_on_host)
    requests = [("shop.example.com", "/"), ("nothing.test", "/x y"), ("", "/"), ("down.test", "/")]
    answers = ingress_lab.ask("client", "198.51.100.32", requests)

    ((host, argv),) = ran
    curls = argv[2].split("; ")
    assert host == "client" and len(curls) == 4
    assert shlex.split(curls[0])[-3:] == ["-H", "Host: shop.example.com", "http://198.51.100.32/"]
    assert shlex.split(curls[1])[-1] == "http://198.51.100.32/x y"
    assert "-H" not in shlex.split(curls[2])  # curl's own Host: the address
    assert [a.status for a in answers] == [200, 404, 200, 0]
    assert [a.served_by for a in answers] == ["shop", "the controller", "random-generator", "?"]
    assert answers[0].pod == "shop-1" and answers[1].json() == {}
    assert str(answers).splitlines()[3].split()[:2] == ["198.51.100.32", "/"]  # no Host sent


def test_ask_says_when_answers_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingress_lab, "run_on_host",
                        lambda host, argv, **_: Completed(argv, 1, "", "sh: curl: not found"))  # fmt: skip
    with pytest.raises(RuntimeError, match="2 requests, 0 answers: sh: curl: not found"):
        ingress_lab.ask("client", "198.51.100.32", [("a", "/"), ("b", "/")])


def _segment(src: str, dst: str, sport: int, dport: int, seq: int, data: bytes) -> Ether:
    return (
        Ether()
        / IP(src=src, dst=dst)
        / TCP(sport=sport, dport=dport, seq=seq, flags="PA")
        / Raw(data)
    )


def test_http_requests_reads_each_request_once_with_its_headers(tmp_path: Path) -> None:
    inner = (b"GET /users HTTP/1.1\r\nHost: api.example.com\r\nX-Real-IP: 192.0.2.10\r\n"
             b"X-Forwarded-For: 192.0.2.10\r\n\r\n")  # fmt: skip
    packets = [
        _segment(
            "192.0.2.10",
            "10.244.3.2",
            40000,
            80,
            1,
            b"GET /users HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
        ),
        _segment("10.244.3.2", "10.244.1.5", 50000, 3000, 7, inner),
        _segment("10.244.3.2", "10.244.1.5", 50000, 3000, 7, inner),  # a retransmission
        _segment("10.244.1.5", "10.244.3.2", 3000, 50000, 9, b"HTTP/1.1 200 OK\r\n\r\n"),
    ]
    wrpcap(str(tmp_path / "c.pcap"), packets)
    found = ingress_lab.http_requests(SimpleNamespace(path=tmp_path / "c.pcap"))  # type: ignore[arg-type]

    assert [(r.src, r.dst, r.dport, r.request_line) for r in found] == [
        ("192.0.2.10", "10.244.3.2", 80, "GET /users HTTP/1.1"),
        ("10.244.3.2", "10.244.1.5", 3000, "GET /users HTTP/1.1"),
    ]
    assert (
        found[0].header("x-forwarded-for") == ""
        and found[1].header("x-forwarded-for") == "192.0.2.10"
    )
    assert found[1].header("HOST") == "api.example.com"
    assert "192.0.2.10" in str(found).splitlines()[2]
