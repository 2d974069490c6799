"""Knative's Pod Autoscaler (KPA): how many pods a Revision wants, and whether the activator
stays in its data path.

Mirrors knative/serving `pkg/autoscaler/scaling/autoscaler.go` (Scale: stable and panic
windows, panic mode entered at 200 % of the target and left after a stable window without
it, scale-up and scale-down rate limits, excess burst capacity),
`pkg/autoscaler/config/config.go` (config-autoscaler's defaults and limits) and
`pkg/reconciler/autoscaling/kpa/scaler.go` (scale to zero only after the ServerlessService
went to Proxy and the scale-to-zero grace period passed; min-scale and max-scale).

    decider = Decider(Settings.from_config(configmap_data, annotations, container_concurrency))
    decision = decider.tick(now, concurrency=2.5, ready_pods=1)   # every tick (2 s)
    decision.desired_scale, decision.mode                          # 1, "Serve" or "Proxy"

Time is a number passed in, so tests run hours of traffic on a virtual clock.

Deviations: one metric (concurrency; `rps` is accepted and read as concurrency), windows
are plain averages of the samples in them (Knative averages per-second buckets), and the
scale-to-zero grace period counts from the moment the decider first wanted zero (Knative
counts from the PodAutoscaler's last activity).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from lab_kit.model import knative as kn

# config-autoscaler as shipped (key: default)
DEFAULTS = {
    "container-concurrency-target-default": 100.0,
    "container-concurrency-target-percentage": 70.0,
    "target-burst-capacity": 200.0,
    "stable-window": 60.0,
    "panic-window-percentage": 10.0,
    "panic-threshold-percentage": 200.0,
    "max-scale-up-rate": 1000.0,
    "max-scale-down-rate": 2.0,
    "scale-to-zero-grace-period": 30.0,
    "enable-scale-to-zero": True,
    "tick-interval": 2.0,
    "initial-scale": 1.0,
}
DURATIONS = ("stable-window", "scale-to-zero-grace-period", "tick-interval")
MIN_WINDOW_S = 6.0  # Knative refuses a stable window (or grace period) below 6 s


class ConfigError(ValueError):
    """A config-autoscaler value Knative would refuse."""


@dataclass(frozen=True)
class Settings:
    """What one Revision's decider needs, config-autoscaler and annotations resolved."""

    target: float = 100.0  # concurrency per pod aimed at ("TotalValue")
    utilization: float = 70.0  # percent of target used for decisions ("TargetValue")
    burst_capacity: float = 200.0  # -1: the activator always stays in the path
    stable_window_s: float = 60.0
    panic_window_pct: float = 10.0
    panic_threshold_pct: float = 200.0
    max_up_rate: float = 1000.0
    max_down_rate: float = 2.0
    grace_s: float = 30.0
    scale_to_zero: bool = True
    min_scale: int = 0
    max_scale: int = 0  # 0: unbounded
    tick_s: float = 2.0
    initial_scale: int = 1  # pods a new Revision gets before any traffic was seen

    @property
    def target_value(self) -> float:
        return max(0.01, self.target * self.utilization / 100)

    @property
    def panic_window_s(self) -> float:
        return self.stable_window_s * self.panic_window_pct / 100

    @classmethod
    def from_config(
        cls,
        data: dict | None = None,
        annotations: dict | None = None,
        container_concurrency: int = 0,
    ) -> Settings:
        """config-autoscaler's data (strings, as a ConfigMap holds them) and the
        Revision's autoscaling annotations; raises ConfigError for values Knative refuses."""
        conf = dict(DEFAULTS)
        for key, value in (data or {}).items():
            if key in DURATIONS:
                seconds = kn.parse_duration(str(value))
                if seconds is None:
                    raise ConfigError(f"config-autoscaler {key}: not a duration: {value!r}")
                conf[key] = seconds
            elif key == "enable-scale-to-zero":
                conf[key] = str(value).lower() == "true"
            elif key in conf:
                try:
                    conf[key] = float(value)
                except ValueError:
                    raise ConfigError(f"config-autoscaler {key}: not a number: {value!r}") from None
        if conf["stable-window"] < MIN_WINDOW_S or conf["stable-window"] > 3600:
            raise ConfigError(
                f"stable-window = {conf['stable-window']:g}s, must be in [6s; 1h] range"
            )
        if conf["scale-to-zero-grace-period"] < MIN_WINDOW_S:
            raise ConfigError("scale-to-zero-grace-period must be at least 6s")
        notes = annotations or {}
        target = float(notes.get(kn.TARGET, conf["container-concurrency-target-default"]))
        if container_concurrency > 0 and kn.TARGET not in notes:
            target = min(target, float(container_concurrency))
        window = conf["stable-window"]
        if kn.WINDOW in notes:
            window = kn.parse_duration(str(notes[kn.WINDOW])) or window
        return cls(
            target=target,
            utilization=float(conf["container-concurrency-target-percentage"]),
            burst_capacity=float(
                notes.get(kn.TARGET_BURST_CAPACITY, conf["target-burst-capacity"])
            ),
            stable_window_s=window,
            panic_window_pct=float(
                notes.get(kn.PANIC_WINDOW_PERCENTAGE, conf["panic-window-percentage"])
            ),
            panic_threshold_pct=float(
                notes.get(kn.PANIC_THRESHOLD_PERCENTAGE, conf["panic-threshold-percentage"])
            ),
            max_up_rate=float(conf["max-scale-up-rate"]),
            max_down_rate=float(conf["max-scale-down-rate"]),
            grace_s=float(conf["scale-to-zero-grace-period"]),
            scale_to_zero=bool(conf["enable-scale-to-zero"]),
            min_scale=int(notes.get(kn.MIN_SCALE, 0)),
            max_scale=int(notes.get(kn.MAX_SCALE, 0)),
            tick_s=float(conf["tick-interval"]),
            initial_scale=int(notes.get(kn.INITIAL_SCALE, conf["initial-scale"])),
        )


@dataclass(frozen=True)
class Decision:
    desired_scale: int
    mode: str  # "Serve" (public endpoints = pods) or "Proxy" (= the activator)
    stable: float  # average concurrency over the stable window
    panic: float  # ... over the panic window
    panicking: bool
    excess_burst_capacity: float
    why: str


@dataclass
class Decider:
    settings: Settings
    samples: deque = field(default_factory=deque)  # (time, total concurrency)
    panic_since: float | None = None
    max_panic_pods: int = 0
    zero_since: float | None = None
    last_desired: int = -1
    reached_initial: bool = False  # the new Revision had its initial pods ready once

    def record(self, now: float, concurrency: float) -> None:
        """One observation: requests in flight across the Revision's pods and activators."""
        self.samples.append((now, concurrency))
        while self.samples and self.samples[0][0] <= now - self.settings.stable_window_s:
            self.samples.popleft()

    def poke(self, now: float) -> None:
        """The activator holds a request for a Revision at zero: count it at once."""
        self.record(now, 1.0)

    def _average(self, now: float, window_s: float) -> float:
        values = [c for t, c in self.samples if t > now - window_s]
        return sum(values) / len(values) if values else 0.0

    def tick(self, now: float, ready_pods: int, concurrency: float | None = None) -> Decision:
        """Record `concurrency` (if given) and decide, as Scale() does every tick."""
        s = self.settings
        if concurrency is not None:
            self.record(now, concurrency)
        stable = self._average(now, s.stable_window_s)
        panic = self._average(now, max(s.panic_window_s, s.tick_s))
        want_stable = math.ceil(stable / s.target_value)
        want_panic = math.ceil(panic / s.target_value)
        pods = max(ready_pods, 1)
        if ready_pods > 0:  # rate limits apply to a running Revision
            up = math.ceil(s.max_up_rate * ready_pods)
            down = math.floor(ready_pods / s.max_down_rate)
            want_stable = min(max(want_stable, down), up)
            want_panic = min(max(want_panic, down), up)
        over = panic / pods >= s.target_value * s.panic_threshold_pct / 100
        if over and self.panic_since is None:
            self.panic_since, self.max_panic_pods = now, ready_pods
        elif (
            not over
            and self.panic_since is not None
            and now >= self.panic_since + s.stable_window_s
        ):
            self.panic_since, self.max_panic_pods = None, 0
        if self.panic_since is not None:
            if over:
                self.panic_since = now  # panic lasts a stable window past the last overload
            desired = max(want_panic, self.max_panic_pods)  # never scale down while panicking
            self.max_panic_pods = desired
            why = f"panic: {panic:.2f} concurrent over {s.panic_window_s:g} s"
        else:
            desired = want_stable
            why = f"stable: {stable:.2f} concurrent over {s.stable_window_s:g} s"
        desired = self._bounded(desired)
        if ready_pods >= s.initial_scale:
            self.reached_initial = True
        if not self.reached_initial and desired < s.initial_scale:
            # a new Revision keeps its initial scale until those pods were ready once
            desired, why = (
                s.initial_scale,
                why + f"; initial scale {s.initial_scale} not reached yet",
            )
        desired, why = self._scale_to_zero(now, desired, ready_pods, why)
        ebc = self._excess_burst_capacity(ready_pods, panic)
        mode = "Serve" if desired > 0 and ready_pods > 0 and ebc >= 0 else "Proxy"
        self.last_desired = desired
        return Decision(desired, mode, stable, panic, self.panic_since is not None, ebc, why)

    def _bounded(self, desired: int) -> int:
        s = self.settings
        if s.max_scale > 0:
            desired = min(desired, s.max_scale)
        return max(desired, s.min_scale)

    def _scale_to_zero(self, now: float, desired: int, ready: int, why: str) -> tuple[int, str]:
        """Zero only with scale to zero on and min-scale 0, after the grace period: the
        last pod stays while the activator takes over the path (Proxy first)."""
        s = self.settings
        if desired > 0:
            self.zero_since = None
            return desired, why
        if not s.scale_to_zero or s.min_scale > 0:
            return max(desired, 1), why + "; scale to zero off"
        if ready == 0:
            return 0, why + "; at zero"
        if self.zero_since is None:
            self.zero_since = now
        left = self.zero_since + s.grace_s - now
        if left > 0:
            return 1, why + f"; idle, zero in {left:.1f} s (grace period)"
        return 0, why + "; idle past the grace period: to zero"

    def _excess_burst_capacity(self, ready: int, panic: float) -> float:
        """What the pods could still absorb beyond the burst the activator would shield
        them from; negative keeps the activator in the path. -1 capacity: always."""
        s = self.settings
        if s.burst_capacity < 0:
            return -1.0
        if s.burst_capacity == 0:
            return 0.0  # the activator only at zero
        return math.floor(ready * s.target - panic - s.burst_capacity)
