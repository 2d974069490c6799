"""Calling through an Ingress from outside the cluster, for the Ingress labs: requests with
a Host header from an outside host, read as the ingress-controller-conformance suite reads
its echo server (the answer names the Service and the pod that served it); the HTTP
requests a capture holds, headers included; the cluster's LoadBalancer Services.

    answers = ask("client", "198.51.100.32", [("shop.example.com", "/"), ("www.example.com", "/api")])
    answers                  # HOST  PATH  STATUS  SERVED BY (the echo server's "service")
    answers[0].pod           # and its "pod"; .status 404/503 when the controller answered
    http_requests(cap)       # the HTTP requests in a capture: from, to, Host, X-Forwarded-For ...
    load_balancers(lab)      # [(namespace/name, address)] of every LoadBalancer Service
    wait_pods_gone(lab, "app=shop")   # a scale to 0 done, and the controller told

Each request is one curl in a single shell on the host, so a table of twenty requests costs
one process start, not twenty.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab_kit.api.printers import format_table
from lab_kit.lab import ingress_view
from lab_kit.lab.access import run_on_host

if TYPE_CHECKING:
    from lab_kit.lab.captures import LabCapture
    from lab_kit.lab.lab import Lab

STATUS_LINE = re.compile(r"\n<<(\d{3})>>\n")  # what each curl's -w writes after its body
SHOWN_HEADERS = ("Host", "X-Forwarded-For", "X-Real-IP", "X-Forwarded-Host")
HTTP_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"PATCH ", b"OPTIONS ")


@dataclass(frozen=True)
class Answer:
    """One request through the Ingress address and what came back."""

    address: str
    host: str  # the Host header sent
    path: str
    status: int  # 0: no HTTP answer at all
    body: str

    @property
    def url(self) -> str:
        return f"http://{self.address}{self.path}"

    def json(self) -> dict[str, Any]:
        """The body as JSON ({} when it is not: nginx's own 404/503 pages are HTML)."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def service(self) -> str:
        """The echo server's `service` field: the Service that served it ("" if none did)."""
        return str(self.json().get("service", ""))

    @property
    def pod(self) -> str:
        return str(self.json().get("pod", ""))

    @property
    def served_by(self) -> str:
        """Who answered: the echo server's Service, else the controller's own page."""
        answer = self.json()
        if self.service:
            return self.service
        if {"random", "id"} <= answer.keys():  # the book's random-generator
            return "random-generator"
        return "the controller" if self.status in (404, 503) else "?"


class Answers(list):
    """Answers that print as a table (no pod names: their suffixes change every run)."""

    def __str__(self) -> str:
        rows = [[a.host or a.address, a.path, str(a.status), a.served_by] for a in self]
        return format_table([["HOST", "PATH", "STATUS", "SERVED BY"], *rows])

    def __repr__(self) -> str:
        return str(self)


def ask(
    client: str, address: str, requests: list[tuple[str, str]], timeout_s: float = 2.0
) -> Answers:
    """GET each (Host header, path) from the outside host `client` to `address`, in order
    (host "": curl's own Host header, the address)."""
    each = [
        f"curl -s -m {timeout_s:g} -w '\\n<<%{{http_code}}>>\\n' "
        + (f"-H {shlex.quote('Host: ' + host)} " if host else "")
        + shlex.quote(f"http://{address}{path}")
        for host, path in requests
    ]
    out = run_on_host(
        client, ["sh", "-c", "; ".join(each)], timeout_s=len(each) * (timeout_s + 1) + 10
    )
    parts = STATUS_LINE.split(out.stdout)  # body, code, body, code, ..., ""
    bodies, codes = parts[0:-1:2], parts[1::2]
    if len(codes) != len(requests):
        raise RuntimeError(f"{len(requests)} requests, {len(codes)} answers: {out.stderr.strip()}")
    return Answers(
        Answer(address, host, path, int(code), body)
        for (host, path), code, body in zip(requests, codes, bodies, strict=True)
    )


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request seen in a capture: who sent it to whom, its request line, headers."""

    src: str
    dst: str
    dport: int
    request_line: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str:
        """The first value of header `name` (case-insensitive), "" if absent."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")


class HttpRequests(list):
    """HTTP requests that print as a table of their addresses and the headers that matter."""

    def __str__(self) -> str:
        rows = [[r.src, f"{r.dst}:{r.dport}", r.request_line, *(r.header(h) for h in SHOWN_HEADERS)]
                for r in self]  # fmt: skip
        return format_table([["FROM", "TO", "REQUEST", *(h.upper() for h in SHOWN_HEADERS)], *rows])

    def __repr__(self) -> str:
        return str(self)


def http_requests(capture: LabCapture) -> HttpRequests:
    """The HTTP requests in a capture, first seen first (a retransmission counted once).
    A request is read from the segment that starts it: the labs' requests fit in one."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import PcapReader

    seen: set[tuple[str, int, int]] = set()
    found = HttpRequests()
    with PcapReader(str(capture.path)) as reader:
        for pkt in reader:
            if IP not in pkt or TCP not in pkt:
                continue
            ip, tcp = pkt[IP], pkt[TCP]
            data = bytes(tcp.payload)
            if not data.startswith(HTTP_METHODS) or (ip.src, tcp.sport, tcp.seq) in seen:
                continue
            seen.add((ip.src, tcp.sport, tcp.seq))
            found.append(_parse_request(ip.src, ip.dst, tcp.dport, data))
    return found


def _parse_request(src: str, dst: str, dport: int, data: bytes) -> HttpRequest:
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = [line.split(":", 1) for line in head[1:] if ":" in line]
    return HttpRequest(src, dst, dport, head[0], tuple((k.strip(), v.strip()) for k, v in fields))


def wait_pods_gone(lab: Lab, selector: str, timeout_s: float = 30) -> None:
    """Until no pod matches `selector` (a scale-down finished), then until every agent,
    the ingress controller too, has applied that."""
    deadline = time.monotonic() + timeout_s
    while lab.get("pods", selector=selector):
        if time.monotonic() > deadline:
            raise TimeoutError(f"pods {selector} still there after {timeout_s:g} s")
        time.sleep(0.1)
    lab.wait()


def load_balancers(lab: Lab) -> list[tuple[str, str]]:
    """(namespace/name, address or <pending>) of every `type: LoadBalancer` Service."""
    rows = []
    for svc in lab.get("services", all_namespaces=True):
        if svc["spec"].get("type") != "LoadBalancer":
            continue
        ingress = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or [{}]
        name = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
        rows.append((name, ingress[0].get("ip", "<pending>")))
    return sorted(rows)


def services_behind(lab: Lab) -> list[str]:
    """namespace/name of every Service the served Ingresses route to (the controller's
    upstreams, from the same model it renders nginx.conf from)."""
    config = ingress_view.model(lab.client)
    return sorted({f"{u.namespace}/{u.service}" for u in config.upstreams})
