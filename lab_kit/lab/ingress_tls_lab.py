"""Lab 15's helpers (TLS at the ingress, cookie affinity): curl and openssl from an outside
host with a name pinned to the ingress address, their answers read, a browser that keeps its
cookies, what was captured drawn as the path of one request, and a grouped bar chart.

    argv = curl_argv("https://blog.example.com/", address="198.51.100.32", cacert=ca)
    lab.host("client", *argv, echo=True)              # curl ... --resolve blog...:443:198...
    replies = replies_from("client", url, 60, address=address)   # one curl each, as Replies
    certificates_seen("client", address, ["blog.example.com", ""], ca)  # what each SNI is shown
    alice = Browser("client", address); alice.get(url, 10)   # keeps and returns its cookies
    compare({"no cookie": pods_a, "with the cookie": pods_b}, "title")

Each request is a new curl (a new TCP and TLS connection), as a browser's new visit would be;
the browser's cookie jar lives here, in Python, so a cell shows exactly what is sent back.
"""

from __future__ import annotations

import json
import re
import shlex
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

import graphviz
from cryptography import x509

from lab_kit.adapters import pki
from lab_kit.api.printers import format_table
from lab_kit.lab.access import run_on_host
from lab_kit.lab.tls_wire import Wire

SEPARATOR = "@@end-of-reply@@"  # between the answers of a request loop
FONT = {"fontname": "Helvetica", "fontsize": "11"}


def curl_argv(url: str, *, address: str = "", cacert: str = "", cookie: str = "",
              headers: tuple[str, ...] = (), timeout_s: float = 5) -> list[str]:  # fmt: skip
    """curl printing the status line and headers too (-i); with `address`, the URL's host
    name resolved to it (--resolve: SNI and Host are the name, as for a browser that looked
    the name up in DNS)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    argv = ["curl", "-sS", "-i", "-m", f"{timeout_s:g}"]
    argv += ["--resolve", f"{parts.hostname}:{port}:{address}"] if address else []
    argv += ["--cacert", cacert] if cacert else []
    argv += ["-b", cookie] if cookie else []
    for header in headers:
        argv += ["-H", header]
    return [*argv, url]


@dataclass(frozen=True)
class Reply:
    """One HTTP answer as curl -i printed it; status 0 when the request failed."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""

    def header(self, name: str) -> str:
        """The first value of a header ("" if absent); names compare case-insensitively."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), "")

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    @property
    def json(self) -> dict:
        try:
            found = json.loads(self.body)
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    @property
    def pod(self) -> str:
        """The pod the echo server says answered ("ERR" for a failed request)."""
        return str(self.json.get("pod") or "ERR") if self.status else "ERR"


def parse_reply(text: str) -> Reply:
    """curl -i's output -> Reply; "ERR" or anything without a status line -> status 0. Lines
    may end in CRLF, as on the wire, or LF (a pipe read as text)."""
    parts = re.split(r"\r?\n\r?\n", text.lstrip("\r\n"), maxsplit=1)
    head, body = parts[0], parts[1] if len(parts) > 1 else ""
    lines = re.split(r"\r?\n", head)
    found = re.match(r"HTTP/[\d.]+ (\d{3})", lines[0])
    if not found:
        return Reply(0, body=text)
    headers = tuple(
        (name.strip(), value.strip())
        for name, sep, value in (line.partition(":") for line in lines[1:])
        if sep
    )
    return Reply(int(found.group(1)), headers, body)


def replies_from(host: str, url: str, count: int = 1, *, address: str = "", cacert: str = "",
                 cookie: str = "", headers: tuple[str, ...] = ()) -> list[Reply]:  # fmt: skip
    """`count` requests from an outside host, one curl after another (a loop in its shell),
    each answer read as a Reply."""
    argv = curl_argv(url, address=address, cacert=cacert, cookie=cookie, headers=headers)
    each = f"{shlex.join(argv)} || printf ERR; printf '\\n{SEPARATOR}\\n'"
    loop = f"for i in $(seq {int(count)}); do {each}; done"
    out = run_on_host(host, ["sh", "-c", loop], timeout_s=count * 6 + 10).stdout
    return [parse_reply(part) for part in out.split(f"\n{SEPARATOR}\n")[:count]]


@dataclass
class Browser:
    """A browser on an outside host: what a site sets with Set-Cookie it keeps (its cookie
    jar) and sends back with every later request, as a browser or `curl -c jar -b jar` does."""

    host: str
    address: str = ""  # the address its host names resolve to (curl --resolve)
    cacert: str = ""
    jar: dict[str, str] = field(default_factory=dict)

    @property
    def cookie(self) -> str:
        """The Cookie header it sends ("" while the jar is empty)."""
        return "; ".join(f"{name}={value}" for name, value in self.jar.items())

    def get(self, url: str, count: int = 1) -> list[Reply]:
        """`count` requests, each sending the cookies the jar holds by then: the first one
        alone (its answer may set a cookie), the others in one loop."""
        replies: list[Reply] = []
        while len(replies) < count:
            batch = count - len(replies) if replies else 1
            got = replies_from(self.host, url, batch, address=self.address, cacert=self.cacert,
                               cookie=self.cookie)  # fmt: skip
            for reply in got:
                self.keep(reply)
            replies += got
        return replies

    def keep(self, reply: Reply) -> None:
        for set_cookie in reply.all("Set-Cookie"):
            pair, *attributes = [p.strip() for p in set_cookie.split(";")]
            name, _, value = pair.partition("=")
            if any(a.lower() == "max-age=0" for a in attributes):
                self.jar.pop(name, None)
            else:
                self.jar[name] = value


# --- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class SeenCertificate:
    """The certificate a TLS client was shown for one server name, and its verdict."""

    sni: str  # "" = no server name sent
    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    verify: str  # openssl's "Verify return code", e.g. "0 (ok)"
    protocol: str  # e.g. "TLSv1.3"


def s_client_argv(address: str, sni: str, cacert: str) -> list[str]:
    """openssl s_client: the handshake only, the name sent as SNI and checked against the
    certificate (-verify_hostname), the chain checked against `cacert`."""
    named = ["-servername", sni, "-verify_hostname", sni] if sni else ["-noservername"]
    return ["openssl", "s_client", "-connect", f"{address}:443", *named, "-CAfile", cacert]


def certificate_seen(host: str, address: str, sni: str, cacert: str) -> SeenCertificate:
    """Run s_client on `host` (its stdin empty, so it ends after the handshake) and read the
    certificate it printed."""
    out = run_on_host(host, s_client_argv(address, sni, cacert), stdin="", timeout_s=15).stdout
    return read_s_client(out, sni)


def read_s_client(out: str, sni: str) -> SeenCertificate:
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin not in out:
        return SeenCertificate(sni, "", "", (), "no certificate", "")
    pem = out[out.index(begin) : out.index(end) + len(end)]
    cert = pki.load_certificate(pem.encode())
    verify = re.search(r"Verify return code: (.+)", out)
    protocol = re.search(r"^New, (\S+), Cipher", out, re.MULTILINE)
    return SeenCertificate(
        sni,
        _oneline(cert.subject),
        _oneline(cert.issuer),
        _dns_names(cert),
        verify.group(1).strip() if verify else "",
        protocol.group(1) if protocol else "",
    )


def _oneline(name: x509.Name) -> str:
    """A name as openssl prints it: `O = Acme Co, CN = ...`, in the certificate's order."""
    return ", ".join(f"{a.rfc4514_attribute_name} = {a.value!s}" for a in name)


def _dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The DNS names of the subjectAltName extension (what clients check the name against)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(n) for n in san.get_values_for_type(x509.DNSName))


class CertificateTable(list):
    """SeenCertificates; prints as a table, one row per server name asked for."""

    def __str__(self) -> str:
        rows = [["SNI", "SUBJECT", "ISSUER", "DNS NAMES", "VERIFY (openssl)"]]
        rows += [
            [c.sni or "(none)", c.subject, c.issuer, ", ".join(c.dns_names), c.verify] for c in self
        ]
        return format_table(rows)

    def __repr__(self) -> str:
        return str(self)

    def by_sni(self, sni: str) -> SeenCertificate:
        return next(c for c in self if c.sni == sni)


def certificates_seen(host: str, address: str, names: list[str], cacert: str) -> CertificateTable:
    return CertificateTable(certificate_seen(host, address, sni, cacert) for sni in names)


# --- pictures -----------------------------------------------------------------------------


def compare(series: dict[str, list[str]], title: str, pods: list[str] | None = None,
            ylabel: str = "requests answered"):  # fmt: skip
    """Grouped bars: per pod, one bar for each series (e.g. without and with the cookie)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    counts = {label: Counter(answers) for label, answers in series.items()}
    names = list(pods or sorted({p for c in counts.values() for p in c}))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for i, (label, count) in enumerate(counts.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(names))]
        ax.bar_label(ax.bar(xs, [count[n] for n in names], width, label=label))
    ax.set_xticks(range(len(names)), names)
    tallest = max((n for c in counts.values() for n in c.values()), default=1)
    ax.set_ylim(0, tallest * 1.4)  # room for the legend above the bars
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8, ncol=len(series))
    ax.tick_params(axis="x", labelrotation=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_termination(at_client: Wire, at_pod: Wire, controller: str, pod: str) -> graphviz.Digraph:
    """One request's two legs as captured: what the wire showed between the client and the
    controller, and between the controller and the pod (readable parts in red)."""
    g = graphviz.Digraph("termination", graph_attr={"rankdir": "LR", **FONT}, node_attr=FONT,
                         edge_attr=FONT)  # fmt: skip
    tls = at_client.of_kind("TLS")
    http = at_pod.of_kind("HTTP")
    client = f"{tls[0].src}" if tls else "?"
    g.node("client", f"client\n{client}", shape="box", style="rounded")
    g.node("controller", f"ingress-nginx\n{controller}\nTLS ends here", shape="box3d",
           style="filled", fillcolor="lightblue")  # fmt: skip
    g.node("pod", f"{pod}\n{http[0].dst if http else '?'}", shape="ellipse", style="filled",
           fillcolor="palegreen")  # fmt: skip
    g.edge("client", "controller", label=_tls_label(at_client), color="darkgreen", penwidth="2")
    g.edge("controller", "pod", label=_http_label(at_pod), color="red", fontcolor="red")
    return g


def _tls_label(wire: Wire) -> str:
    streams = wire.of_kind("TLS")
    if not streams:
        return "no TLS seen"
    records = [r for s in streams for r in s.records()]
    encrypted = sum(r.length for r in records if r.type == "application_data")
    sni = ", ".join(wire.sni())
    return (f"to {streams[0].dst}:{streams[0].dport}\nin clear: SNI {sni}\n"
            f"encrypted: {encrypted} bytes of records\nno HTTP readable")  # fmt: skip


def _http_label(wire: Wire) -> str:
    heads = wire.http_heads()
    if not heads:
        return "no HTTP seen"
    request = heads[0].split("\r\n")
    proto = next((line for line in request if line.lower().startswith("x-forwarded-proto:")), "")
    return f"plain HTTP to port {wire.of_kind('HTTP')[0].dport}\n{request[0]}\n{proto}"


def conf_block(conf: str, marker: str) -> str:
    """The block of an nginx.conf that opens on the line with `marker` (or the line after),
    up to its closing brace: one server or upstream out of the whole file."""
    lines = conf.splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    depth, out = 0, []
    for line in lines[start:]:
        out.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0 and "}" in line:
            break
    return "\n".join(out)
