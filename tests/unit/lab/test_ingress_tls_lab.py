"""Lab 15's helpers: the curl and openssl command lines, their output read back, a browser's
cookie jar over a faked outside host, the grouped bar chart and the nginx.conf excerpt."""

from __future__ import annotations

import pytest

from lab_kit.adapters import pki
from lab_kit.lab import ingress_tls_lab as m
from lab_kit.lab.access import Completed
from lab_kit.lab.tls_wire import Stream, Wire

ECHO = '{\n "host": "cart.example",\n "pod": "%s"\n}'


def test_curl_argv_pins_the_name_to_the_address_for_its_port():
    assert m.curl_argv("https://blog.example/x", address="198.51.100.32", cacert="/ca") == [
        "curl", "-sS", "-i", "-m", "5", "--resolve", "blog.example:443:198.51.100.32",
        "--cacert", "/ca", "https://blog.example/x",
    ]  # fmt: skip
    argv = m.curl_argv(
        "http://a.example:8080/", address="10.0.0.1", cookie="C=1", headers=("X: y",)
    )
    assert argv[5:] == ["--resolve", "a.example:8080:10.0.0.1", "-b", "C=1", "-H", "X: y",
                        "http://a.example:8080/"]  # fmt: skip
    assert "--resolve" not in m.curl_argv("http://172.18.0.2:32080/")  # no address: plain


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_parse_reply_reads_status_headers_and_body(newline):
    text = newline.join(["HTTP/1.1 308 Permanent Redirect", "Location: https://blog.example",
                         "Set-Cookie: A=1", "set-cookie: B=2", "", "<html>", "", "</html>"])  # fmt: skip
    reply = m.parse_reply(text)
    assert reply.status == 308 and reply.header("location") == "https://blog.example"
    assert reply.all("Set-Cookie") == ["A=1", "B=2"] and reply.body == newline.join(
        ["<html>", "", "</html>"]
    )
    assert reply.pod == "ERR" and reply.json == {}  # not the echo server's JSON


def test_a_failed_request_is_status_0_and_err():
    assert m.parse_reply("ERR") == m.Reply(0, body="ERR")
    assert m.parse_reply("ERR").pod == "ERR"
    assert m.parse_reply("HTTP/1.1 200 OK\n\n" + ECHO % "echo-1").pod == "echo-1"


class FakeClient:
    """The outside host: answers each curl of a loop like the cookie-affinity Ingress would."""

    def __init__(self) -> None:
        self.loops: list[str] = []
        self.issued = 0

    def __call__(self, host: str, argv: list[str], timeout_s: float | None = None,
                 stdin: str | None = None) -> Completed:  # fmt: skip
        assert host == "client" and argv[:2] == ["sh", "-c"]
        loop = argv[2]
        self.loops.append(loop)
        count = int(loop.split("$(seq ")[1].split(")")[0])
        return Completed(
            argv, 0, "".join(self.answer(loop) + f"\n{m.SEPARATOR}\n" for _ in range(count)), ""
        )

    def answer(self, loop: str) -> str:
        if "-b INGRESSCOOKIE=" in loop:
            return "HTTP/1.1 200 OK\nContent-Type: application/json\n\n" + ECHO % "echo-sticky"
        self.issued += 1
        return (f"HTTP/1.1 200 OK\nSet-Cookie: INGRESSCOOKIE=k{self.issued}; Max-Age=172800; Path=/; "
                f"HttpOnly\n\n" + ECHO % f"echo-{self.issued}")  # fmt: skip


@pytest.fixture
def client(monkeypatch) -> FakeClient:
    fake = FakeClient()
    monkeypatch.setattr(m, "run_on_host", fake)
    return fake


def test_replies_from_runs_one_loop_and_reads_every_answer(client):
    replies = m.replies_from("client", "http://cart.example/", 3, address="198.51.100.32")
    assert [r.pod for r in replies] == ["echo-1", "echo-2", "echo-3"]
    (loop,) = client.loops
    assert loop.startswith("for i in $(seq 3); do curl -sS -i -m 5 --resolve cart.example:80:")
    assert f"|| printf ERR; printf '\\n{m.SEPARATOR}\\n'; done" in loop


def test_a_browser_keeps_the_cookie_and_sends_it_back(client):
    alice = m.Browser("client", "198.51.100.32")
    replies = alice.get("http://cart.example/", 5)
    assert [r.pod for r in replies] == ["echo-1"] + ["echo-sticky"] * 4
    assert alice.jar == {"INGRESSCOOKIE": "k1"} and alice.cookie == "INGRESSCOOKIE=k1"
    assert (
        len(client.loops) == 2 and "$(seq 1)" in client.loops[0] and "$(seq 4)" in client.loops[1]
    )
    assert "-b INGRESSCOOKIE=k1" in client.loops[1] and "-b " not in client.loops[0]
    bob = m.Browser("client", "198.51.100.32")
    assert bob.get("http://cart.example/")[0].pod == "echo-2" and bob.jar != alice.jar


def test_a_browser_forgets_a_cookie_set_with_max_age_0():
    jar = m.Browser("client", jar={"A": "1", "B": "2"})
    jar.keep(m.Reply(200, (("Set-Cookie", "A=; Max-Age=0; Path=/"), ("Set-Cookie", "C=3"))))
    assert jar.jar == {"B": "2", "C": "3"}


def s_client_output(cert_pem: bytes, verify: str) -> str:
    return (
        "CONNECTED(00000003)\n---\nCertificate chain\n 0 s:CN = x\n---\nServer certificate\n"
        + cert_pem.decode()
        + "subject=CN = x\n---\nNew, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\n"
        + f"Verify return code: {verify}\n---\n    Verify return code: 0 (ok)\n"
    )


def test_read_s_client_shows_the_certificate_as_openssl_names_it():
    ca = pki.make_ca()
    seen = m.read_s_client(
        s_client_output(pki.issue(ca, ["blog.example"]).cert_pem, "0 (ok)"), "blog.example"
    )
    assert seen == m.SeenCertificate("blog.example", "CN = blog.example", "O = lab_kit, CN = lab_kit CA",
                                     ("blog.example",), "0 (ok)", "TLSv1.3")  # fmt: skip
    fake = m.read_s_client(
        s_client_output(pki.fake_certificate().cert_pem, "18 (self-signed certificate)"), ""
    )
    assert (
        fake.subject
        == fake.issuer
        == "O = Acme Co, CN = Kubernetes Ingress Controller Fake Certificate"
    )
    assert fake.dns_names == ("ingress.local",) and fake.verify == "18 (self-signed certificate)"
    table = str(m.CertificateTable([seen, fake]))
    assert table.splitlines()[0].split()[:3] == ["SNI", "SUBJECT", "ISSUER"]
    assert (
        table.splitlines()[2].startswith("(none) ")
        and m.CertificateTable([seen]).by_sni("blog.example") == seen
    )
    assert m.read_s_client("connect:errno=111", "x").verify == "no certificate"


def test_s_client_argv_sends_the_name_or_none():
    named = m.s_client_argv("198.51.100.32", "blog.example", "/ca")
    assert named == ["openssl", "s_client", "-connect", "198.51.100.32:443", "-servername", "blog.example",
                     "-verify_hostname", "blog.example", "-CAfile", "/ca"]  # fmt: skip
    assert "-noservername" in m.s_client_argv("198.51.100.32", "", "/ca")


def test_compare_draws_a_bar_per_pod_per_series():
    fig = m.compare({"without": ["a", "b", "b"], "with": ["b", "b"]}, "t", pods=["c", "b", "a"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c", "b", "a"]
    assert [p.get_height() for p in ax.patches] == [0, 2, 1, 0, 2, 0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["without", "with"]


def test_conf_block_takes_one_block_with_its_nested_braces():
    conf = "http {\n    ## server a\n    server {\n        location / {\n            if ($x) { return 308; }\n        }\n    }\n    upstream u {\n    }\n}\n"
    assert m.conf_block(conf, "## server a").splitlines() == conf.splitlines()[1:7]
    assert m.conf_block(conf, "upstream u") == "    upstream u {\n    }"


def test_draw_termination_labels_each_leg_with_what_was_readable():
    client = Stream("192.0.2.10", 5000, "198.51.100.32", 443,
                    data=bytes([23, 3, 3, 0, 3]) + b"xyz")  # fmt: skip
    pod = Stream("10.244.3.2", 40000, "10.244.2.3", 3000,
                 data=b"GET /orders HTTP/1.1\r\nX-Forwarded-Proto: https\r\n\r\n")  # fmt: skip
    source = m.draw_termination(Wire([client]), Wire([pod]), "ctrl", "echo-1").source
    assert "client\n192.0.2.10" in source and "encrypted: 3 bytes of records" in source
    assert (
        "GET /orders HTTP/1.1\nX-Forwarded-Proto: https" in source
        and "echo-1\n10.244.2.3" in source
    )
