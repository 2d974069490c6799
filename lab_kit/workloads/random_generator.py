"""random-generator: the Kubernetes Patterns book's sample service (k8spatterns/random-generator).

The real one is a Spring Boot 2.7 application (github.com/k8spatterns/random-generator,
spring/.../RandomGeneratorApplication.java, HealthToggleIndicator.java). This re-implements
what a learner can observe of it. Endpoints (any HTTP method, as with @RequestMapping):

  /                   {"random": <Java int>, "id": "<UUID of this process>"}; ?burn=N burns CPU
  /info               memory.max/used/free (MB), cpu.procs, id, version, pattern, POD_IP,
                      NODE_NAME (when set), logFile/logUrl/seed/build-type (when set), env
  /actuator/health    {"status":"UP"} 200, or {"status":"DOWN"} 503 after /toggle-live; on
                      Kubernetes (KUBERNETES_SERVICE_HOST/_PORT set) Spring Boot adds
                      "groups":["liveness","readiness"] and /actuator/health/liveness|readiness
  /toggle-live        flips the health indicator
  /toggle-ready       deletes or creates the ready file (the book's exec readiness probe runs
                      `stat /opt/random-generator-ready`)
  /memory-eater?mb=N  holds N MiB;  /shutdown  exits 0;  /logs  the content of LOG_FILE
  anything else       Spring's 404 JSON error

Configuration, as Spring resolves properties: a `--name=value` argument, else the
environment variable (server.port <- SERVER_PORT), else the default: server.port (8080),
server.address, version (the image tag), log.file, log.url, build.type, pattern ("None"),
seed (0 = unseeded; else java.util.Random's exact sequence), healthy (true). Plain env vars:
DELAY_STARTUP (seconds before the server starts), WAIT_FOR_POST_START ("true": wait for
/opt/postStart-done), and, lab_kit only, READY_FILE / POST_START_FILE to move those files.

Start-up as the real app: remove the ready file, sleep DELAY_STARTUP, listen, log, create the
ready file. SIGTERM/SIGINT log the JVM shutdown hook's line and exit 143/130 (128 + signal),
as a JVM does. Logs use Spring Boot's console format; the one line per request (thread
nio-<port>-exec-N, logger "lab_kit access log") is a lab_kit addition.
"""

from __future__ import annotations

import asyncio
import datetime
import fcntl
import http
import json
import math
import os
import random
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import overload

if __package__:
    from . import _http, registry_client
else:  # run as a file by the kubelet (see lab_kit/workloads/__init__.py)
    import _http  # type: ignore[no-redef,import-not-found]
    import registry_client  # type: ignore[no-redef,import-not-found]

APP_LOGGER = "i.k.examples.RandomGeneratorApplication"
READY_FILE = "/opt/random-generator-ready"
POST_START_FILE = "/opt/postStart-done"
ACTUATOR_JSON = "application/vnd.spring-boot.actuator.v3+json"
MB = 1024 * 1024


def log(message: str, level: str = "INFO", thread: str = "main", logger: str = APP_LOGGER) -> None:
    """Spring Boot's console pattern: date, level, PID, [thread], logger : message."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    print(
        f"{stamp} {level:>5} {os.getpid()} --- [{thread[-15:]:>15}] {logger[-40:]:<40} : {message}",
        flush=True,
    )


class Properties:
    """Spring's property sources, highest first: `--name=value` args, environment, defaults."""

    def __init__(self, args: list[str], env: dict[str, str], defaults: dict[str, str]):
        self.args = {}
        for arg in args:
            if arg.startswith("--"):
                name, _, value = arg[2:].partition("=")
                self.args[name] = value
        self.env, self.defaults = env, defaults

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        if name in self.args:
            return self.args[name]
        env_name = name.upper().replace(".", "_").replace("-", "")  # relaxed binding
        if env_name in self.env:
            return self.env[env_name]
        return self.defaults.get(name, default)


class JavaRandom:
    """java.util.Random's generator, so a SEED gives the same numbers as the real app."""

    MULTIPLIER, MASK = 0x5DEECE66D, (1 << 48) - 1

    def __init__(self, seed: int | None = None):
        self.seed = (
            (random.getrandbits(64) if seed is None else seed) ^ self.MULTIPLIER
        ) & self.MASK

    def next_int(self) -> int:
        self.seed = (self.seed * self.MULTIPLIER + 0xB) & self.MASK
        value = self.seed >> 16
        return value - (1 << 32) if value >= 1 << 31 else value


def java_hashmap_order(data: dict) -> dict:
    """The iteration order of a java.util.HashMap with these String keys (Jackson writes it)."""

    def bucket(key: str) -> int:
        h = 0
        for ch in key:
            h = (31 * h + ord(ch)) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    capacity = 16
    while len(data) > capacity * 3 // 4:
        capacity *= 2
    return dict(sorted(data.items(), key=lambda item: bucket(item[0])))


class App:
    def __init__(self, props: Properties, env: dict[str, str], port: int):
        self.props, self.env, self.port = props, env, port
        self.id = str(uuid.uuid4())
        seed = int(props.get("seed", "0"))
        self.random = JavaRandom(seed if seed else None)
        self.healthy = props.get("healthy", "true").lower() in ("true", "on", "yes", "1")
        self.ready_file = Path(env.get("READY_FILE", READY_FILE))
        self.memory_hole: bytes | None = None
        self.served = 0
        self.routes = {
            "/": self.random_number,
            "/info": self.info,
            "/actuator": self.actuator,
            "/actuator/health": self.health,
            "/actuator/health/liveness": self.probe_group,
            "/actuator/health/readiness": self.probe_group,
            "/toggle-live": self.toggle_live,
            "/toggle-ready": self.toggle_ready,
            "/memory-eater": self.memory_eater,
            "/shutdown": self.shutdown,
            "/logs": self.logs,
        }

    # --- HTTP ----------------------------------------------------------------------------

    async def handle(self, request: _http.Request) -> _http.Response:
        self.served += 1
        route = self.routes.get(request.path.rstrip("/") or "/")
        try:
            response = await route(request) if route else self.error(request, 404)
        except BadRequestParam:
            response = self.error(request, 400)
        except Exception as e:
            log(f"Servlet.service() threw exception: {e!r}", "ERROR", self.thread)
            response = self.error(request, 500)
        log(
            f"{request.method} {request.target} -> {response.status} ({request.remote_addr})",
            thread=self.thread,
            logger="lab_kit access log",
        )
        return response

    @property
    def thread(self) -> str:
        return f"nio-{self.port}-exec-{(self.served - 1) % 10 + 1}"  # Tomcat's 10 spare threads

    def error(self, request: _http.Request, status: int) -> _http.Response:
        """Spring Boot's default error body (server.error.include-message=never)."""
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        body = {
            "timestamp": stamp,
            "status": status,
            "error": http.HTTPStatus(status).phrase,
            "path": request.path,
        }
        return json_response(body, status)

    async def random_number(self, request: _http.Request) -> _http.Response:
        start = time.perf_counter_ns()
        burn = long_param(request, "burn")
        if burn is not None:
            await asyncio.get_running_loop().run_in_executor(None, burn_cpu, burn)
        value = self.random.next_int()
        await self.log_random_value(value, time.perf_counter_ns() - start)
        return json_response(java_hashmap_order({"random": value, "id": self.id}))

    async def info(self, request: _http.Request) -> _http.Response:
        return json_response(self.sysinfo())

    async def actuator(self, request: _http.Request) -> _http.Response:
        base = f"http://{request.headers.get('host', f'localhost:{self.port}')}/actuator"
        links = {
            "self": {"href": base, "templated": False},
            "health": {"href": f"{base}/health", "templated": False},
            "health-path": {"href": f"{base}/health/{{*path}}", "templated": True},
        }
        return json_response({"_links": links}, content_type=actuator_type(request))

    async def health(self, request: _http.Request) -> _http.Response:
        body: dict = {"status": "UP" if self.healthy else "DOWN"}
        if on_kubernetes(self.env):
            body["groups"] = ["liveness", "readiness"]
        return json_response(body, 200 if self.healthy else 503, actuator_type(request))

    async def probe_group(self, request: _http.Request) -> _http.Response:
        """Liveness/readiness state (not the toggle): only Spring Boot on Kubernetes has them."""
        if not on_kubernetes(self.env):
            return self.error(request, 404)
        return json_response({"status": "UP"}, content_type=actuator_type(request))

    async def toggle_live(self, request: _http.Request) -> _http.Response:
        self.healthy = not self.healthy
        return _http.Response()

    async def toggle_ready(self, request: _http.Request) -> _http.Response:
        self.set_ready(not self.ready_file.exists())
        return _http.Response()

    async def memory_eater(self, request: _http.Request) -> _http.Response:
        megabytes = long_param(request, "mb")
        if megabytes is None:
            raise BadRequestParam("mb")
        self.memory_hole = random.randbytes(megabytes * MB)
        return _http.Response()

    async def shutdown(self, request: _http.Request) -> _http.Response:
        log("SHUTDOWN NOW", thread=self.thread)
        return _http.Response(then=lambda: shutdown_hook(0))

    async def logs(self, request: _http.Request) -> _http.Response:
        log_file = self.props.get("log.file")
        content = "" if log_file is None else "\n".join(Path(log_file).read_text().splitlines())
        return _http.Response(body=content.encode(), content_type="text/plain;charset=UTF-8")

    # --- the application -------------------------------------------------------------------

    def set_ready(self, ready: bool) -> None:
        if ready:
            self.ready_file.touch()
        else:
            self.ready_file.unlink(missing_ok=True)

    async def log_random_value(self, value: int, duration_ns: int) -> None:
        log_file, log_url = self.props.get("log.file"), self.props.get("log.url")
        if log_file is not None:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
            with open(log_file, "a") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                f.write(f"{stamp},{self.id},{duration_ns},{value}\n")
        if log_url is not None:
            body = f'{{ "id": "{self.id}", "random": "{value}", "duration": "{duration_ns}" }}'
            log(f"Sending log to {log_url}", thread=self.thread)
            loop = asyncio.get_running_loop()
            status = await loop.run_in_executor(None, post, log_url, body.encode())
            log(f"Log delegate response: {status}", thread=self.thread)

    def sysinfo(self) -> dict:
        max_mb, used_mb, free_mb = memory_mb()
        info: dict = {
            "memory.max": max_mb,
            "memory.used": used_mb,
            "memory.free": free_mb,
            "cpu.procs": available_processors(),
            "id": self.id,
            "version": self.props.get("version"),
            "pattern": self.props.get("pattern", "None"),
        }
        optional = {
            "logFile": self.props.get("log.file"),
            "logUrl": self.props.get("log.url"),
            "seed": int(self.props.get("seed", "0")) or None,
            "build-type": self.props.get("build.type"),
            "POD_IP": self.env.get("POD_IP"),
            "NODE_NAME": self.env.get("NODE_NAME"),
        }
        info.update({k: v for k, v in optional.items() if v is not None})
        info["env"] = dict(self.env)
        return java_hashmap_order(info)


class BadRequestParam(Exception):
    pass


def long_param(request: _http.Request, name: str) -> int | None:
    value = request.param(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequestParam(name) from None


def json_response(body, status: int = 200, content_type: str = "application/json"):
    return _http.Response(status, json.dumps(body, separators=(",", ":")).encode(), content_type)


def actuator_type(request: _http.Request) -> str:
    accept = request.headers.get("accept", "*/*")
    return "application/json" if "application/json" in accept else ACTUATOR_JSON


def on_kubernetes(env: dict[str, str]) -> bool:
    """Spring Boot's CloudPlatform.KUBERNETES: some <X>_SERVICE_HOST with its <X>_SERVICE_PORT."""
    return any(
        name.endswith("_SERVICE_HOST") and name[: -len("_HOST")] + "_PORT" in env for name in env
    )


def burn_cpu(burn: int) -> None:
    """The real app draws min(burn, 10000) million random ints: about 8 ms of CPU per unit."""
    deadline = time.perf_counter() + min(burn, 10_000) * 0.008
    while time.perf_counter() < deadline:
        pass


def post(url: str, body: bytes) -> int:
    import urllib.request  # only when LOG_URL is set: it costs ~30 ms to import

    with urllib.request.urlopen(urllib.request.Request(url, body, method="POST")) as response:
        return response.status


def cgroup_file(name: str) -> Path | None:
    """A file of this process's cgroup (v2), if there is one."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                path = Path("/sys/fs/cgroup") / line[3:].lstrip("/") / name
                return path if path.exists() else None
    except OSError:
        pass
    return None


def memory_mb() -> tuple[int, int, int]:
    """The JVM's heap figures, approximated: max = 1/4 of the memory limit (the JVM's default
    -XX:MaxRAMPercentage), used = this process's resident memory, free = max - used."""
    limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    path = cgroup_file("memory.max")
    if path:
        value = path.read_text().strip()
        if value.isdigit():
            limit = min(limit, int(value))
    resident = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    max_heap = limit // 4
    return max_heap // MB, resident // MB, max(max_heap - resident, 0) // MB


def available_processors() -> int:
    """Runtime.availableProcessors(): CPUs this process may use, capped by a cgroup CPU quota."""
    count = len(os.sched_getaffinity(0))
    path = cgroup_file("cpu.max")
    if path:
        quota, _, period = path.read_text().partition(" ")
        if quota.isdigit() and period.strip().isdigit():
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    return count


REGISTRATIONS: list = []  # the Eureka registration, when the app has one


def shutdown_hook(code: int) -> None:
    """The app's JVM shutdown hook runs on exit and on SIGTERM/SIGINT, then the JVM ends;
    Spring's context closes with it, and the Eureka client cancels its registration."""
    log(">>>> SHUTDOWN HOOK called. Possibly because of a SIGTERM from Kubernetes")
    for registration in REGISTRATIONS:
        registration.cancel()
    sys.stdout.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    image_version = "1.0"
    for arg in args:
        if arg.startswith("--image-version="):  # lab_kit: the tag the "image" was built with
            image_version = arg.partition("=")[2]
    env = dict(os.environ)
    props = Properties(args, env, {"version": image_version})
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda n, _frame: shutdown_hook(128 + n))

    if env.get("WAIT_FOR_POST_START") == "true":
        post_start = Path(env.get("POST_START_FILE", POST_START_FILE))
        while not post_start.exists():
            log("Waiting for postStart to be finished ....")
            time.sleep(10)
        log(f"postStart Message: {post_start.read_text()}")
    else:
        log("No WAIT_FOR_POST_START configured")
    Path(env.get("READY_FILE", READY_FILE)).unlink(missing_ok=True)
    delay = env.get("DELAY_STARTUP", "0")
    if not delay.lstrip("+-").isdigit():  # Integer.parseInt fails: the JVM's main thread dies
        print(
            f'Exception in thread "main" java.lang.NumberFormatException: For input string: "{delay}"',
            file=sys.stderr,
            flush=True,
        )
        return 1
    time.sleep(max(int(delay), 0))
    return asyncio.run(serve(props, env))


async def serve(props: Properties, env: dict[str, str]) -> int:
    started = time.monotonic()  # SpringApplication.run measures from here (after the delay)
    port = int(props.get("server.port", "8080"))
    app = App(props, env, port)
    try:
        await _http.Server(app.handle).listen(port, props.get("server.address", "0.0.0.0"))
    except OSError:
        print(
            "\n***************************\nAPPLICATION FAILED TO START\n"
            "***************************\n\nDescription:\n\n"
            f"Web server failed to start. Port {port} was already in use.\n\nAction:\n\n"
            f"Identify and stop the process that's listening on port {port} or configure "
            "this application to listen on another port.\n",
            flush=True,
        )
        return 1
    log(
        f"Tomcat started on port(s): {port} (http) with context path ''",
        logger="o.s.b.w.embedded.tomcat.TomcatWebServer",
    )
    log(f"Started RandomGeneratorApplication in {time.monotonic() - started:.3f} seconds")
    max_mb, used_mb, free_mb = memory_mb()
    log(f"=== Max Heap Memory:  {max_mb} MB")
    log(f"=== Used Heap Memory: {used_mb} MB")
    log(f"=== Free Memory:      {free_mb} MB")
    log(f"=== Processors:       {available_processors()}")
    try:
        app.set_ready(True)
    except OSError:
        log(
            f"Can't create 'ready' file {app.ready_file} used in readiness check. "
            "Possibly running locally, so ignoring it",
            "WARN",
        )
    register_with_eureka(props, env, port)
    await asyncio.Event().wait()  # serve until a signal or /shutdown ends the process
    return 0


def register_with_eureka(props: Properties, env: dict[str, str], port: int) -> None:
    """With eureka.client.serviceUrl.defaultZone set, the app registers itself as Spring
    Cloud's Eureka client does (spring-cloud-starter-netflix-eureka-client), prefer-ip-address
    on: POD_IP, else this host's address."""
    url = props.get("eureka.client.serviceUrl.defaultZone")
    if not url or props.get("eureka.client.register-with-eureka", "true") == "false":
        return
    renew = int(props.get("eureka.instance.lease-renewal-interval-in-seconds", "30"))
    duration = int(props.get("eureka.instance.lease-expiration-duration-in-seconds", "90"))
    app = props.get("spring.application.name", "random-generator")
    ip = env.get("POD_IP") or socket.gethostbyname(socket.gethostname())
    info = registry_client.instance_info(app, ip, port, renew, duration)

    def eureka_log(message: str) -> None:
        log(message, thread="DiscoveryClient", logger="c.n.d.DiscoveryClient")

    registration = registry_client.Registration(url.split(",")[0].rstrip("/"), info, renew,
                                                eureka_log)  # fmt: skip
    REGISTRATIONS.append(registration)
    registration.start()


if __name__ == "__main__":
    sys.exit(main())
