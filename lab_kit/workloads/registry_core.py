"""A Eureka registry's logic without I/O or clock: leases, eviction, self-preservation, and
the JSON a Eureka server answers (Netflix/eureka eureka-core: AbstractInstanceRegistry,
Lease, PeerAwareInstanceRegistryImpl, MeasuredRate; Spring Cloud Netflix's InstanceRegistry).
Every call takes `now` (seconds); `registry_server.py` is the HTTP around it.

    register(app, body, now)  -> 204 | 400       renew(app, id, now)  -> 200 | 404
    cancel(app, id, now)      -> 200 | 404       set_status(app, id, value, now)
    evict(now)      every eviction interval: expired leases out, unless self-preservation
    tick(now)       the renew-rate window and the threshold's periodic recount
    applications(now)  GET /eureka/apps, through the read-only response cache

Faithful details a lab can watch:
- the lease quirk (Lease.renew sets lastUpdate = now + duration, and expiry is checked
  against lastUpdate + duration): a renewed instance that dies is listed 2 x duration after
  its last heartbeat. `lease_quirk=False` is the corrected arithmetic.
- eviction: expired leases in random order, at most size - int(size * percent) per run.
- self-preservation: eviction runs only while the renews counted in the last window exceed
  int(expected * (window / expected_interval) * percent). Spring Cloud opens the registry
  with an expectation of 1 client, and each register/cancel moves it by one (only while it
  is above 0), so a small registry protects its leases early; the recount (every
  threshold_update_interval) lowers it only if the registry kept over `percent` of it.
- GET /apps lags by up to the response-cache update interval (the read-only cache).
Lab-only: `rate_window` (Eureka's MeasuredRate counts per fixed 60 s); labs shorten it with
the other timings so the whole lifecycle runs in seconds.
Left out: replication between peers, deltas, XML (JSON only), regions/zones, ASG status.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

STATUSES = ("UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN")
REQUIRED = ("instanceId", "hostName", "ipAddr", "app")
MAX_EVENTS = 2000


@dataclass
class Config:
    eviction_interval: float = 60.0  # eureka.server.eviction-interval-timer-in-ms
    self_preservation: bool = True  # eureka.server.enable-self-preservation
    percent: float = 0.85  # eureka.server.renewal-percent-threshold
    expected_interval: float = 30.0  # eureka.server.expected-client-renewal-interval-seconds
    threshold_update_interval: float = 900.0  # ...renewal-threshold-update-interval-ms
    response_cache_update: float = 30.0  # eureka.server.response-cache-update-interval-ms
    use_response_cache: bool = True  # eureka.server.use-read-only-response-cache
    lease_quirk: bool = True  # lab-only switch: the 2 x lease of Lease.renew
    rate_window: float = 60.0  # lab-only: MeasuredRate's window (60 s in Eureka)
    initial_expected: int = 1  # Spring Cloud's defaultOpenForTrafficCount


@dataclass
class Lease:
    instance: dict
    registered: float
    last_update: float
    duration: float
    evicted_at: float = 0.0
    override: str = ""  # an OUT_OF_SERVICE status override, until removed

    def expired(self, now: float) -> bool:
        """Lease.isExpired: lastUpdate + duration (renew() put the quirk into lastUpdate)."""
        return now > self.last_update + self.duration

    def renew(self, now: float, quirk: bool) -> None:
        self.last_update = now + (self.duration if quirk else 0.0)


@dataclass
class Event:
    t: float
    event: str  # registered | renewed-unknown | cancelled | evicted | status | self-preservation
    app: str
    instance: str = ""
    detail: str = ""

    def json(self) -> dict:
        out = {"t": round(self.t, 3), "event": self.event, "app": self.app,
               "instanceId": self.instance}  # fmt: skip
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class Registry:
    config: Config = field(default_factory=Config)
    rng: random.Random = field(default_factory=random.Random)
    started: float = 0.0
    apps: dict[str, dict[str, Lease]] = field(default_factory=dict)
    expected: int = -1
    renews_window: int = 0  # renews counted in the window under way
    renews_last: int = 0  # ... in the last complete window (getNumOfRenewsInLastMin)
    window_start: float = 0.0
    threshold_recount_at: float = 0.0
    events: list[Event] = field(default_factory=list)
    protecting: bool = False  # self-preservation is holding expired leases
    _cache: dict | None = None
    _cache_at: float = -1e18
    version: int = 0  # bumped on every change; the cache's apps__hashcode comes from it

    def __post_init__(self) -> None:
        if self.expected < 0:
            self.expected = self.config.initial_expected
        self.window_start = self.threshold_recount_at = self.started

    # --- the threshold ------------------------------------------------------------------
    @property
    def threshold(self) -> int:
        per_client = self.config.rate_window / self.config.expected_interval
        return int(self.expected * per_client * self.config.percent)

    def lease_expiration_enabled(self) -> bool:
        if not self.config.self_preservation:
            return True
        return self.threshold > 0 and self.renews_last > self.threshold

    def _expect(self, delta: int) -> None:
        if self.expected > 0:
            self.expected = max(self.expected + delta, 0)

    # --- writes -------------------------------------------------------------------------
    def register(self, app: str, body: object, now: float) -> tuple[int, str]:
        """(status, message). 204 when registered (again)."""
        app = app.upper()
        inst = body.get("instance") if isinstance(body, dict) else None
        if not isinstance(inst, dict):
            return 400, "Missing instanceInfo"
        for key in REQUIRED:
            if not inst.get(key):
                return 400, f"Missing {key}"
        if str(inst["app"]).upper() != app:
            return 400, f"Mismatched appName, expecting {app} but was {str(inst['app']).upper()}"
        dci = inst.get("dataCenterInfo")
        if not isinstance(dci, dict) or not dci.get("name"):
            return 400, "Missing dataCenterInfo Name" if isinstance(
                dci, dict
            ) else "Missing dataCenterInfo"
        lease_info = inst.get("leaseInfo") or {}
        duration = float(lease_info.get("durationInSecs") or 90)
        leases = self.apps.setdefault(app, {})
        iid = str(inst["instanceId"])
        existing = leases.get(iid)
        if existing is None:
            self._expect(+1)
        stored = {**inst, "app": app, "status": inst.get("status") or "UP"}
        leases[iid] = Lease(stored, existing.registered if existing else now, now, duration)
        if existing and existing.override:
            leases[iid].override = existing.override
        self._event(now, "registered", app, iid)
        return 204, ""

    def renew(self, app: str, iid: str, now: float) -> int:
        lease = self.apps.get(app.upper(), {}).get(iid)
        self.renews_window += 1  # counted whether known or not (renewsLastMin.increment())
        if lease is None:
            self._event(now, "renewed-unknown", app.upper(), iid)
            return 404
        lease.renew(now, self.config.lease_quirk)
        return 200

    def cancel(self, app: str, iid: str, now: float, why: str = "cancelled") -> int:
        leases = self.apps.get(app.upper(), {})
        lease = leases.pop(iid, None)
        if lease is None:
            return 404
        if not leases:
            self.apps.pop(app.upper(), None)
        self._expect(-1)
        self._event(now, why, app.upper(), iid)
        return 200

    def set_status(self, app: str, iid: str, value: str, now: float) -> int:
        """PUT .../status?value=OUT_OF_SERVICE (an override), DELETE .../status (value "")."""
        lease = self.apps.get(app.upper(), {}).get(iid)
        if lease is None:
            return 404
        if value and value not in STATUSES:
            return 400
        lease.override = value
        self._event(now, "status", app.upper(), iid, value or "override removed")
        return 200

    # --- timers -------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """The renew-rate window rolls over; the 15-minute threshold recount."""
        while now >= self.window_start + self.config.rate_window:
            self.renews_last, self.renews_window = self.renews_window, 0
            self.window_start += self.config.rate_window
        if now >= self.threshold_recount_at + self.config.threshold_update_interval:
            self.threshold_recount_at = now
            count = self.size()
            if count > self.config.percent * self.expected or not self.config.self_preservation:
                self.expected = count

    def evict(self, now: float) -> list[str]:
        """EvictionTask: instance ids evicted now ([] while self-preservation holds)."""
        self.tick(now)
        if not self.lease_expiration_enabled():
            holding = any(lease.expired(now) for lease in self._leases())
            if holding and not self.protecting:
                self._event(now, "self-preservation", "", "",
                            f"renews {self.renews_last} <= threshold {self.threshold}")  # fmt: skip
            self.protecting = holding
            return []
        self.protecting = False
        expired = [(app, iid) for app, leases in self.apps.items()
                   for iid, lease in leases.items() if lease.expired(now)]  # fmt: skip
        size = self.size()
        limit = size - int(size * self.config.percent)
        self.rng.shuffle(expired)
        gone = []
        for app, iid in expired[:limit]:
            self.cancel(app, iid, now, why="evicted")
            gone.append(iid)
        return gone

    # --- reads --------------------------------------------------------------------------
    def size(self) -> int:
        return sum(len(ls) for ls in self.apps.values())

    def _leases(self) -> list[Lease]:
        return [lease for ls in self.apps.values() for lease in ls.values()]

    def instance_json(self, lease: Lease) -> dict:
        info = lease.instance
        status = lease.override or info.get("status", "UP")
        lease_info = {
            **(info.get("leaseInfo") or {}),
            "registrationTimestamp": int(lease.registered * 1000),
            "lastRenewalTimestamp": int(lease.last_update * 1000),
            "evictionTimestamp": 0,
            "serviceUpTimestamp": int(lease.registered * 1000),
        }
        return {**info, "status": status, "overriddenStatus": lease.override or "UNKNOWN",
                "leaseInfo": lease_info, "actionType": "ADDED"}  # fmt: skip

    def application(self, app: str) -> dict | None:
        leases = self.apps.get(app.upper())
        if not leases:
            return None
        return {"name": app.upper(), "instance": [self.instance_json(x) for x in leases.values()]}

    def find(self, iid: str, app: str = "") -> dict | None:
        for name, leases in self.apps.items():
            if (not app or name == app.upper()) and iid in leases:
                return self.instance_json(leases[iid])
        return None

    def applications(self, now: float) -> dict:
        """GET /apps as served: from the read-only cache, refreshed every update interval."""
        fresh = not self.config.use_response_cache or self._cache is None
        if (
            fresh
            or self._cache is None
            or now >= self._cache_at + self.config.response_cache_update
        ):
            self._cache, self._cache_at = self._render(), now
        return self._cache

    def _render(self) -> dict:
        apps = [self.application(name) for name in sorted(self.apps)]
        counts: dict[str, int] = {}
        for app in apps:
            for inst in (app or {}).get("instance", []):
                counts[inst["status"]] = counts.get(inst["status"], 0) + 1
        hashcode = "".join(f"{s}_{n}_" for s, n in sorted(counts.items()))
        return {"applications": {"versions__delta": str(self.version),
                                 "apps__hashcode": hashcode, "application": apps}}  # fmt: skip

    def _event(self, now: float, kind: str, app: str, iid: str, detail: str = "") -> None:
        self.version += 1
        self.events.append(Event(now, kind, app, iid, detail))
        del self.events[:-MAX_EVENTS]
