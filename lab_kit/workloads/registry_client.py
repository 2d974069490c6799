"""The Eureka client a Spring Cloud application carries (Netflix's DiscoveryClient with
Spring Cloud Netflix's defaults), standard library only.

Producer side (`Registration`): register the instance at start, heartbeat every
lease-renewal interval (a 404 means the registry forgot it: register again), cancel on a
graceful shutdown. A `kill -9` cancels nothing: the registry keeps the lease until it
expires and eviction runs.

Consumer side (`RegistryCache`): fetch the whole registry every fetch interval into a local
cache (a failed fetch keeps the last copy: the stale cache), keep only UP instances, round
robin over them; `refresh_now()` for teaching.

Configuration (Spring's properties; env names by relaxed binding):
    eureka.client.serviceUrl.defaultZone          EUREKA_CLIENT_SERVICEURL_DEFAULTZONE
    eureka.client.registry-fetch-interval-seconds EUREKA_CLIENT_REGISTRYFETCHINTERVALSECONDS (30)
    eureka.instance.lease-renewal-interval-in-seconds     ...LEASERENEWALINTERVALINSECONDS (30)
    eureka.instance.lease-expiration-duration-in-seconds  ...LEASEEXPIRATIONDURATIONINSECONDS (90)
    spring.application.name                        SPRING_APPLICATION_NAME
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

TIMEOUT_S = 2.0  # connect + read, per request to the registry
DEFAULTS = {
    "eureka.client.registry-fetch-interval-seconds": "30",
    "eureka.instance.lease-renewal-interval-in-seconds": "30",
    "eureka.instance.lease-expiration-duration-in-seconds": "90",
}


def setting(name: str, env: dict[str, str], args: dict[str, str] | None = None) -> str | None:
    """A Spring property: `--name=value`, else its relaxed-binding env var, else the default."""
    if args and name in args:
        return args[name]
    env_name = name.upper().replace(".", "_").replace("-", "")
    return env.get(env_name, DEFAULTS.get(name))


def service_url(env: dict[str, str], args: dict[str, str] | None = None) -> str | None:
    url = setting("eureka.client.serviceUrl.defaultZone", env, args)
    return url.split(",")[0].rstrip("/") if url else None


def http(method: str, url: str, body: dict | None = None) -> tuple[int, bytes]:
    """(status, body); raises OSError when the registry cannot be reached."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Accept": "application/json", "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


Transport = Callable[[str, str, "dict | None"], tuple[int, bytes]]


def instance_info(app: str, ip: str, port: int, renew_s: int, duration_s: int) -> dict:
    """The InstanceInfo Spring Cloud sends (prefer-ip-address: the pod's IP as host name)."""
    app = app.upper()
    return {"instance": {
        "instanceId": f"{ip}:{app.lower()}:{port}",
        "hostName": ip, "app": app, "ipAddr": ip, "status": "UP",
        "vipAddress": app.lower(), "secureVipAddress": app.lower(),
        "port": {"$": port, "@enabled": "true"}, "securePort": {"$": 443, "@enabled": "false"},
        "homePageUrl": f"http://{ip}:{port}/", "statusPageUrl": f"http://{ip}:{port}/actuator/info",
        "healthCheckUrl": f"http://{ip}:{port}/actuator/health",
        "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                           "name": "MyOwn"},
        "leaseInfo": {"renewalIntervalInSecs": renew_s, "durationInSecs": duration_s},
        "metadata": {"management.port": str(port)},
    }}  # fmt: skip


@dataclass
class Registration:
    """One instance's registration: register, heartbeat, cancel."""

    url: str  # the defaultZone, e.g. http://eureka:8761/eureka
    info: dict
    renew_s: float
    log: Callable[[str], None] = print
    transport: Transport = http
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def app(self) -> str:
        return self.info["instance"]["app"]

    @property
    def instance_id(self) -> str:
        return self.info["instance"]["instanceId"]

    @property
    def tag(self) -> str:
        return f"DiscoveryClient_{self.app}/{self.instance_id}"

    def register(self) -> bool:
        try:
            status, _ = self.transport("POST", f"{self.url}/apps/{self.app}", self.info)
        except OSError as e:
            self.log(
                f"{self.tag} - registration failed Cannot execute request on any known server: {e}"
            )
            return False
        self.log(f"{self.tag} - registration status: {status}")
        return status == 204

    def renew(self) -> int:
        """One heartbeat; 0 when the registry could not be reached."""
        try:
            status, _ = self.transport(
                "PUT", f"{self.url}/apps/{self.app}/{self.instance_id}", None
            )
        except OSError as e:
            self.log(f"{self.tag} - was unable to send heartbeat!: {e}")
            return 0
        if status == 404:
            self.log(f"{self.tag} - Re-registering apps/{self.app}")
            self.register()
        return status

    def cancel(self) -> int:
        self._stop.set()
        self.log(f"Unregistering application {self.app} with eureka with status DOWN")
        try:
            status, _ = self.transport(
                "DELETE", f"{self.url}/apps/{self.app}/{self.instance_id}", None
            )
        except OSError:
            return 0
        self.log(f"{self.tag} - deregister  status: {status}")
        return status

    def run(self) -> None:
        """Register, then heartbeat until cancelled (a thread's target)."""
        registered = self.register()
        while not self._stop.wait(self.renew_s):
            if not registered:
                registered = self.register()
            else:
                self.renew()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="DiscoveryClient-HeartbeatExecutor",
                                  daemon=True)  # fmt: skip
        thread.start()
        return thread


def up_instances(apps: dict, app: str) -> list[str]:
    """`ip:port` of the app's UP instances in a GET /apps answer (shouldFilterOnlyUpInstances)."""
    out = []
    for application in (apps.get("applications") or {}).get("application") or []:
        if str(application.get("name", "")).upper() != app.upper():
            continue
        for inst in application.get("instance") or []:
            if inst.get("status") == "UP":
                out.append(f"{inst['ipAddr']}:{inst['port']['$']}")
    return sorted(out)


@dataclass
class RegistryCache:
    """The consumer's local copy of the registry, fetched every `fetch_s`."""

    url: str
    app: str
    fetch_s: float
    log: Callable[[str], None] = print
    transport: Transport = http
    clock: Callable[[], float] = time.time
    instances: list[str] = field(default_factory=list)
    fetched_at: float = 0.0  # the last successful fetch
    last_error: str = ""
    _turn: itertools.count = field(default_factory=itertools.count)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def fetch(self) -> bool:
        try:
            status, body = self.transport("GET", f"{self.url}/apps", None)
            if status != 200:
                raise OSError(f"status {status}")
            found = up_instances(json.loads(body), self.app)
        except (OSError, ValueError) as e:
            self.last_error = str(e)
            self.log(f"DiscoveryClient - was unable to refresh its cache! status = {e}")
            return False  # the last copy stays
        if found != self.instances:
            self.log(f"cache of {self.app}: {found}")
        self.instances, self.fetched_at, self.last_error = found, self.clock(), ""
        return True

    def choose(self) -> list[str]:
        """The instances in the order to try them: round robin, the next one first."""
        if not self.instances:
            return []
        start = next(self._turn) % len(self.instances)
        return self.instances[start:] + self.instances[:start]

    def refresh_now(self) -> None:
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            self.fetch()
            self._wake.wait(self.fetch_s)
            self._wake.clear()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="DiscoveryClient-CacheRefreshExecutor",
                                  daemon=True)  # fmt: skip
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
