"""An HTTP client for the ingress conformance tests, run on the lab's outside `client` host
(stdlib only: `python3 -c <this file> <job as JSON>`), so many requests cost one process.

    {"address": ..., "requests": [REQUEST, ...]}          -> [RESULT, ...]
    {"address": ..., "hold": 50, "requests": [...]}       the same while 50 connections
        sit on a partial request line (slow clients); the result says how many nginx kept
    {"address": ..., "loop": REQUEST, "max_s": 30}        REQUEST again and again, a new
        connection each, until stdin closes; prints "started" first, then the counts

REQUEST: {"method", "host" (the Host header; null: the address), "path", "scheme",
          "sni", "cafile" (verify against it; else no verification), "headers", "raw"
          (bytes as latin-1 sent as they are on a plain connection instead)}
RESULT:  {"status", "version", "headers" [[name, value]], "body", "seconds",
          "sans" (the verified certificate's DNS names), "error"}

Each request is a new TCP connection, as the conformance suite's client makes them.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
import threading
import time

TIMEOUT_S = 5.0


class Connection(http.client.HTTPConnection):
    """HTTP or HTTPS to the address, with the SNI the request asks for."""

    def __init__(self, address: str, port: int, context: ssl.SSLContext | None, sni: str):
        super().__init__(address, port, timeout=TIMEOUT_S)
        self.context, self.sni = context, sni

    def connect(self) -> None:
        super().connect()
        if self.context is not None:
            self.sock = self.context.wrap_socket(self.sock, server_hostname=self.sni or None)


def tls_context(cafile: str | None) -> ssl.SSLContext:
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def one(address: str, req: dict) -> dict:
    at, started = time.time(), time.monotonic()
    try:
        result = raw(address, req) if "raw" in req else structured(address, req)
    except (OSError, http.client.HTTPException) as e:
        result = {"status": 0, "error": f"{type(e).__name__}: {e}"}
    result["seconds"] = round(time.monotonic() - started, 4)
    result["at"] = round(at, 3)
    return result


def structured(address: str, req: dict) -> dict:
    https = req.get("scheme") == "https"
    context = tls_context(req.get("cafile")) if https else None
    conn = Connection(address, 443 if https else 80, context, req.get("sni", ""))
    try:
        conn.putrequest(req.get("method", "GET"), req.get("path", "/"), skip_host=True,
                        skip_accept_encoding=True)  # fmt: skip
        conn.putheader("Host", req.get("host") or address)
        for name, value in (req.get("headers") or {}).items():
            conn.putheader(name, value)
        body = (req.get("body") or "").encode()
        if body or req.get("method") in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        sans = []
        if https and req.get("cafile"):
            cert = conn.sock.getpeercert() or {}
            sans = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
        return {"status": response.status, "version": response.version,
                "headers": response.getheaders(), "body": text, "sans": sans}  # fmt: skip
    finally:
        conn.close()


def raw(address: str, req: dict) -> dict:
    """Send the bytes as they are; the status line of what comes back."""
    with socket.create_connection((address, 80), timeout=TIMEOUT_S) as s:
        s.sendall(req["raw"].encode("latin-1"))
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    line = reply.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return {"status": status, "status_line": line}


def hold(address: str, count: int) -> list[socket.socket]:
    """Slow clients: connections that sent half a request line and then nothing."""
    held = []
    for _ in range(count):
        s = socket.create_connection((address, 80), timeout=TIMEOUT_S)
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: sl")
        held.append(s)
    return held


def still_open(held: list[socket.socket]) -> int:
    """How many held connections the server has not closed (no EOF, no reset yet)."""
    count = 0
    for s in held:
        s.setblocking(False)
        try:
            count += s.recv(1) != b""
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def loop(address: str, req: dict, max_s: float) -> dict:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("started", flush=True)
    deadline = time.monotonic() + max_s
    results = []
    while not stop.is_set() and time.monotonic() < deadline:
        results.append(one(address, req))
    return {"count": len(results),
            "failed": [r for r in results if r["status"] != 200],
            "pods": sorted({json.loads(r["body"])["pod"] for r in results if r["status"] == 200}),
            "slowest": max((r["seconds"] for r in results), default=0)}  # fmt: skip


def main() -> None:
    job = json.loads(sys.argv[1])
    address = job["address"]
    if "loop" in job:
        print(json.dumps(loop(address, job["loop"], job.get("max_s", 30))))
        return
    held = hold(address, job.get("hold", 0))
    results = [one(address, req) for req in job["requests"]]
    out: dict = {"results": results}
    if held:
        out["held_open"] = still_open(held)
        for s in held:
            s.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
