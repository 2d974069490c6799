"""springcloud/eureka: a Eureka server (Spring Cloud Netflix's @EnableEurekaServer app) on
port 8761, REST under /eureka (`registry_core.py` holds the logic).

    POST   /eureka/apps/{APP}                         register       204 | 400
    PUT    /eureka/apps/{APP}/{id}                    heartbeat      200 | 404
    DELETE /eureka/apps/{APP}/{id}                    cancel         200 | 404
    GET    /eureka/apps, /eureka/apps/{APP}, /eureka/apps/{APP}/{id}, /eureka/instances/{id}
    PUT    /eureka/apps/{APP}/{id}/status?value=OUT_OF_SERVICE   DELETE .../status
    GET    /                    the dashboard (instances, renews vs threshold, EMERGENCY banner)
    GET    /actuator/health     {"status":"UP"}
    GET    /lab/events          lab-only: what happened when (registered, evicted, ...), JSON

Configuration as Spring reads it: `--name=value` arguments, else the environment (relaxed
binding: eureka.server.eviction-interval-timer-in-ms <- EUREKA_SERVER_EVICTIONINTERVALTIMERINMS),
else Eureka's defaults: server.port 8761, eviction-interval-timer-in-ms 60000,
enable-self-preservation true, renewal-percent-threshold 0.85,
expected-client-renewal-interval-seconds 30, renewal-threshold-update-interval-ms 900000,
response-cache-update-interval-ms 30000, use-read-only-response-cache true. Lab-only:
LABKIT_EUREKA_LEASE_QUIRK (true: the 2 x lease of Lease.renew) and
LABKIT_EUREKA_RATE_WINDOW_MS (60000: the renews-per-minute window), so a lab can run the
lifecycle in seconds. JSON is answered whatever the Accept header (Eureka answers XML unless
asked for JSON: a deliberate difference). Logs: Spring Boot's console format, Eureka's lines.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
import sys
import time

if __package__:
    from . import _http, registry_core
else:  # run as a file by the kubelet (see lab_kit/workloads/__init__.py)
    import _http  # type: ignore[no-redef,import-not-found]
    import registry_core  # type: ignore[no-redef,import-not-found]

BASE = "/eureka"
JSON = "application/json"
SETTINGS = {  # property -> (Config field, unit: ms -> s, or a bool / float / int)
    "eureka.server.eviction-interval-timer-in-ms": ("eviction_interval", "ms"),
    "eureka.server.enable-self-preservation": ("self_preservation", "bool"),
    "eureka.server.renewal-percent-threshold": ("percent", "float"),
    "eureka.server.expected-client-renewal-interval-seconds": ("expected_interval", "float"),
    "eureka.server.renewal-threshold-update-interval-ms": ("threshold_update_interval", "ms"),
    "eureka.server.response-cache-update-interval-ms": ("response_cache_update", "ms"),
    "eureka.server.use-read-only-response-cache": ("use_response_cache", "bool"),
    "labkit.eureka.lease-quirk": ("lease_quirk", "bool"),
    "labkit.eureka.rate-window-ms": ("rate_window", "ms"),
}


def log(message: str, logger: str = "c.n.e.registry.AbstractInstanceRegistry",
        level: str = "INFO", thread: str = "nio-8761-exec-1") -> None:  # fmt: skip
    now = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
    print(f"{now}  {level:>5} {os.getpid()} --- [{thread:>15}] {logger:<40} : {message}",
          flush=True)  # fmt: skip


LAB_ENV = {  # lab-only settings, by the names the manifests use
    "labkit.eureka.lease-quirk": "LABKIT_EUREKA_LEASE_QUIRK",
    "labkit.eureka.rate-window-ms": "LABKIT_EUREKA_RATE_WINDOW_MS",
}


def env_name(prop: str) -> str:
    """Spring's relaxed binding (dots to underscores, dashes dropped, upper case)."""
    return LAB_ENV.get(prop) or prop.upper().replace(".", "_").replace("-", "")


def config(args: list[str], env: dict[str, str]) -> tuple[registry_core.Config, int]:
    given = dict(a[2:].partition("=")[::2] for a in args if a.startswith("--"))
    cfg = registry_core.Config()
    for prop, (attr, unit) in SETTINGS.items():
        raw = given.get(prop, env.get(env_name(prop)))
        if raw is None:
            continue
        value: object
        if unit == "bool":
            value = raw.strip().lower() == "true"
        elif unit == "ms":
            value = float(raw) / 1000
        else:
            value = float(raw)
        setattr(cfg, attr, value)
    port = int(given.get("server.port", env.get("SERVER_PORT", "8761")))
    return cfg, port


class EurekaServer:
    def __init__(self, cfg: registry_core.Config, clock=time.time):
        self.clock = clock
        self.registry = registry_core.Registry(cfg, started=clock())

    async def handle(self, request: _http.Request) -> _http.Response:
        path, method = request.path.rstrip("/") or "/", request.method
        try:
            if path == "/actuator/health":
                return answer({"status": "UP"})
            if path == "/lab/events":
                return answer([e.json() for e in self.registry.events])
            if path == "/":
                return _http.Response(200, self.dashboard().encode(), "text/html;charset=UTF-8")
            if path.startswith(BASE + "/"):
                return self.rest(method, path[len(BASE) + 1 :].split("/"), request)
        except (ValueError, KeyError) as e:
            return _http.text(f"bad request: {e}\n", 400)
        return answer({"timestamp": _iso(), "status": 404, "error": "Not Found", "path": path}, 404)

    def rest(self, method: str, parts: list[str], request: _http.Request) -> _http.Response:
        reg, now = self.registry, self.clock()
        if parts[0] == "instances" and len(parts) == 2 and method == "GET":
            found = reg.find(parts[1])
            return answer({"instance": found}) if found else empty(404)
        if parts[0] != "apps":
            return empty(404)
        if len(parts) == 1 and method == "GET":
            return answer(reg.applications(now))
        app = parts[1].upper()
        if len(parts) == 2 and method == "POST":
            code, why = reg.register(app, json.loads(request.body or b"{}"), now)
            if code == 204:
                iid = json.loads(request.body)["instance"]["instanceId"]
                log(f"Registered instance {app}/{iid} with status UP (replication=false)")
            return empty(code) if code == 204 else _http.text(why, code)
        if len(parts) == 2 and method == "GET":
            found = reg.application(app)
            return answer({"application": found}) if found else empty(404)
        iid = parts[2]
        if len(parts) == 3:
            return self.instance(method, app, iid, now)
        if len(parts) == 4 and parts[3] == "status" and method in ("PUT", "DELETE"):
            value = request.param("value") or "" if method == "PUT" else ""
            return empty(reg.set_status(app, iid, value, now))
        return empty(405)

    def instance(self, method: str, app: str, iid: str, now: float) -> _http.Response:
        reg = self.registry
        if method == "PUT":
            code = reg.renew(app, iid, now)
            if code == 404:
                log(f"DS: Registry: lease doesn't exist, registering resource: {app} - {iid}",
                    "c.n.e.resources.InstanceResource", "WARN")  # fmt: skip
            return empty(code)
        if method == "DELETE":
            code = reg.cancel(app, iid, now)
            if code == 200:
                log(f"Cancelled instance {app}/{iid} (replication=false)")
            return empty(code)
        if method == "GET":
            found = reg.find(iid, app)
            return answer({"instance": found}) if found else empty(404)
        return empty(405)

    async def evict_forever(self) -> None:
        cfg = self.registry.config
        while True:
            await asyncio.sleep(cfg.eviction_interval)
            before = self.registry.size()
            gone = self.registry.evict(self.clock())
            if gone:
                limit = before - int(before * cfg.percent)
                log(f"Evicting {len(gone)} items (expired={len(gone)}, evictionLimit={limit})",
                    thread="Eureka-EvictionTimer")  # fmt: skip
                for iid in gone:
                    log(f"DS: Registry: expired lease for {iid}", thread="Eureka-EvictionTimer")
            elif self.registry.protecting:
                log("Lease expiration is currently disabled.", thread="Eureka-EvictionTimer",
                    logger="c.n.e.registry.PeerAwareInstanceRegistryImpl")  # fmt: skip

    def dashboard(self) -> str:
        reg = self.registry
        rows = "".join(
            f"<tr><td>{app}</td><td>{len(leases)}</td><td>"
            + ", ".join(f"{(x.override or x.instance.get('status', 'UP'))} ({iid})"
                        for iid, x in leases.items()) + "</td></tr>"
            for app, leases in sorted(reg.apps.items())
        )  # fmt: skip
        banner = ""
        if reg.config.self_preservation and not reg.lease_expiration_enabled():
            banner = ("<h3 style='color:red'>EMERGENCY! EUREKA MAY BE INCORRECTLY CLAIMING "
                      "INSTANCES ARE UP WHEN THEY'RE NOT. RENEWALS ARE LESSER THAN THRESHOLD "
                      "AND HENCE THE INSTANCES ARE NOT BEING EXPIRED JUST TO BE SAFE.</h3>")  # fmt: skip
        return (f"<html><head><title>Eureka</title></head><body>{banner}"
                f"<p>Renews threshold: {reg.threshold}<br>Renews (last window): "
                f"{reg.renews_last}</p><h2>Instances currently registered with Eureka</h2>"
                f"<table border=1><tr><th>Application</th><th>Count</th><th>Status</th></tr>"
                f"{rows}</table></body></html>")  # fmt: skip


def answer(body: object, status: int = 200) -> _http.Response:
    return _http.Response(status, json.dumps(body).encode(), JSON)


def empty(status: int) -> _http.Response:
    return _http.Response(status, b"", None)


def _iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


async def serve(cfg: registry_core.Config, port: int) -> int:
    server = EurekaServer(cfg)
    await _http.Server(server.handle).listen(port)
    log(f"Tomcat started on port(s): {port} (http) with context path ''",
        "o.s.b.w.embedded.tomcat.TomcatWebServer", thread="main")  # fmt: skip
    log("Started Eureka Server", "o.s.c.n.e.server.EurekaServerBootstrap", thread="main")
    await server.evict_forever()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cfg, port = config(args, dict(os.environ))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda n, _f: (sys.stdout.flush(), os._exit(128 + n)))
    return asyncio.run(serve(cfg, port))


if __name__ == "__main__":
    sys.exit(main())
