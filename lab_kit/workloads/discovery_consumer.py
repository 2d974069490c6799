"""lab-kit/discovery-client: a consumer that finds its producer itself (client-side
discovery) and calls it every interval, recording every call for the lab to read.

    --registry=eureka     the Eureka client's cache (`registry_client.RegistryCache`),
                          EUREKA_CLIENT_SERVICEURL_DEFAULTZONE and --app=RANDOM-GENERATOR
    --registry=kubernetes the API's EndpointSlices (`endpoints_watch.EndpointsWatch`),
                          --service=random-generator and the pod's service-account files

Each call goes to the next instance of the cache (round robin); a connection that fails
(refused, reset, timed out) is retried once on the next instance (Ribbon's
MaxAutoRetriesNextServer=1), and both attempts are recorded. Admin port (9090):

    GET  /calls?since=N   [{seq, t, instance, ok, status | error, attempt, retried_from}]
    GET  /cache           {instances, fetched_at, last_error, registry}
    POST /refresh         fetch the registry now (Eureka); a watch needs none
    GET  /healthz

Our own image (no such image exists upstream): the programs a Spring Cloud consumer with
spring-cloud-starter-netflix-eureka-client and a load-balanced RestTemplate would run.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

if __package__:
    from . import endpoints_watch, registry_client
else:  # run as a file by the kubelet (see lab_kit/workloads/__init__.py)
    import endpoints_watch  # type: ignore[no-redef,import-not-found]
    import registry_client  # type: ignore[no-redef,import-not-found]

MAX_CALLS = 5000
CALL_TIMEOUT_S = 2.0


def log(message: str) -> None:
    now = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
    print(f"{now}  INFO {os.getpid()} --- [consumer] {message}", flush=True)


class Calls:
    """The ring of recorded calls (thread-safe)."""

    def __init__(self) -> None:
        self.records: deque[dict] = deque(maxlen=MAX_CALLS)
        self.seq = 0
        self.lock = threading.Lock()

    def add(self, **record: object) -> None:
        with self.lock:
            self.seq += 1
            self.records.append({"seq": self.seq, "t": round(time.time(), 3), **record})

    def since(self, seq: int) -> list[dict]:
        with self.lock:
            return [r for r in self.records if r["seq"] > seq]


def call_once(instance: str, path: str) -> tuple[int, str]:
    """(status, "") or (0, the connection error)."""
    host, _, port = instance.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=CALL_TIMEOUT_S)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, ""
    except TimeoutError:
        return 0, "timeout"
    except ConnectionRefusedError:
        return 0, "connection refused"
    except OSError as e:
        return 0, e.strerror or type(e).__name__
    finally:
        conn.close()


def call(cache, calls: Calls, path: str, retries: int) -> None:
    order = cache.choose()
    if not order:
        calls.add(instance="", ok=False, error="no instances", attempt=1, retried_from="")
        return
    previous = ""
    for attempt, instance in enumerate(order[: retries + 1], start=1):
        status, error = call_once(instance, path)
        ok = error == "" and status < 500
        calls.add(instance=instance, ok=ok, status=status, error=error, attempt=attempt,
                  retried_from=previous)  # fmt: skip
        if error == "":
            return
        log(f"call to {instance} failed: {error}")
        previous = instance


def admin(cache, calls: Calls, registry: str) -> type[BaseHTTPRequestHandler]:
    class Admin(BaseHTTPRequestHandler):
        def _json(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlparse(self.path)
            if url.path == "/calls":
                since = int((parse_qs(url.query).get("since") or ["0"])[0])
                self._json(calls.since(since))
            elif url.path == "/cache":
                self._json({"instances": cache.instances, "fetched_at": cache.fetched_at,
                            "last_error": cache.last_error, "registry": registry})  # fmt: skip
            elif url.path == "/healthz":
                self._json({"status": "UP"})
            else:
                self.send_error(404)

        def do_POST(self) -> None:  # noqa: N802
            if urlparse(self.path).path == "/refresh":
                cache.refresh_now()
                self._json({"refreshing": True})
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    return Admin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="discovery-client")
    parser.add_argument("--registry", choices=("eureka", "kubernetes"), default="eureka")
    parser.add_argument("--app", default="RANDOM-GENERATOR", help="the Eureka application")
    parser.add_argument("--service", default="random-generator", help="the Kubernetes Service")
    parser.add_argument("--path", default="/")
    parser.add_argument("--interval-ms", type=int, default=200)
    parser.add_argument("--retries", type=int, default=1, help="MaxAutoRetriesNextServer")
    parser.add_argument("--admin-port", type=int, default=9090)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda n, _f: (sys.stdout.flush(), os._exit(128 + n)))
    env = dict(os.environ)
    cache: registry_client.RegistryCache | endpoints_watch.EndpointsWatch
    if args.registry == "eureka":
        url = registry_client.service_url(env)
        if not url:
            parser.error("set EUREKA_CLIENT_SERVICEURL_DEFAULTZONE (where the registry is)")
        fetch_s = float(registry_client.setting(
            "eureka.client.registry-fetch-interval-seconds", env) or 30)  # fmt: skip
        cache = registry_client.RegistryCache(url, args.app, fetch_s, log)
    else:
        cache = endpoints_watch.EndpointsWatch(args.service, log)
    cache.start()
    calls = Calls()
    server = ThreadingHTTPServer(("0.0.0.0", args.admin_port), admin(cache, calls, args.registry))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(f"calling {args.app if args.registry == 'eureka' else args.service} every "
        f"{args.interval_ms} ms, discovered through {args.registry}")  # fmt: skip
    while True:
        started = time.monotonic()
        call(cache, calls, args.path, args.retries)
        time.sleep(max(0.0, args.interval_ms / 1000 - (time.monotonic() - started)))


if __name__ == "__main__":
    sys.exit(main())
