"""Knative's KPA decisions on a virtual clock (pkg/autoscaler/scaling/autoscaler.go,
pkg/reconciler/autoscaling/kpa/scaler.go), with config-autoscaler's defaults unless said."""

from __future__ import annotations

import pytest

from lab_kit.controllers.kpa import ConfigError, Decider, Settings

LAB = {"stable-window": "6s", "scale-to-zero-grace-period": "6s", "tick-interval": "1s"}


def run(
    decider: Decider,
    seconds: float,
    concurrency: float,
    ready: int,
    start: float = 0.0,
    step: float = 2.0,
):
    """Tick every `step` s from `start` with the same load; the decisions in order."""
    out, t = [], start
    while t < start + seconds:
        out.append((t, decider.tick(t, ready, concurrency)))
        t += step
    return out


def test_defaults_are_config_autoscalers():
    s = Settings.from_config()
    assert (s.target, s.utilization, s.target_value) == (100, 70, 70)
    assert (s.stable_window_s, s.panic_window_s, s.grace_s, s.tick_s) == (60, 6, 30, 2)
    assert s.burst_capacity == 200 and s.scale_to_zero


def test_desired_pods_are_the_stable_average_over_the_target():
    d = Decider(Settings.from_config())
    last = run(d, 60, concurrency=150, ready=3)[-1][1]
    assert last.desired_scale == 3  # ceil(150 / 70)
    assert last.stable == pytest.approx(150) and not last.panicking


def test_container_concurrency_caps_the_target_and_annotations_win():
    assert Settings.from_config(container_concurrency=10).target == 10
    s = Settings.from_config({}, {"autoscaling.knative.dev/target": "5"}, container_concurrency=10)
    assert s.target == 5 and s.target_value == pytest.approx(3.5)


def test_a_burst_panics_scales_on_the_panic_window_and_never_down_while_panicking():
    d = Decider(Settings.from_config())
    run(d, 60, concurrency=10, ready=1)  # calm: one pod
    burst = run(d, 6, concurrency=500, ready=1, start=60)
    assert burst[0][1].panicking and burst[0][1].desired_scale >= 2
    wanted = [x.desired_scale for _, x in burst]
    assert wanted == sorted(wanted) and wanted[-1] == 8  # ceil(500 / 70)
    calm = run(d, 30, concurrency=10, ready=8, start=66)
    assert all(x.panicking and x.desired_scale == 8 for _, x in calm)  # held for a stable window
    after = run(d, 60, concurrency=10, ready=8, start=96)
    assert not after[-1][1].panicking and after[-1][1].desired_scale < 8


def test_scale_down_is_limited_to_half_the_pods_per_decision():
    d = Decider(Settings.from_config())
    run(d, 60, concurrency=0.5, ready=8)  # load gone, 8 pods up
    assert d.tick(61, 8, 0.5).desired_scale == 4  # max-scale-down-rate 2


def test_idle_goes_to_proxy_first_then_zero_after_the_grace_period():
    d = Decider(Settings.from_config(LAB))
    run(d, 6, concurrency=1, ready=1, step=1)
    idle = run(d, 20, concurrency=0, ready=1, start=6, step=1)
    by_time = {t: x for t, x in idle}
    assert by_time[8].desired_scale == 1  # the 6 s window still remembers the requests
    first_zero_wish = min(t for t, x in idle if "grace period" in x.why)
    assert first_zero_wish == 11 and by_time[11].mode == "Proxy"  # a whole window of nothing
    assert by_time[16].desired_scale == 1 and by_time[17].desired_scale == 0  # 6 s later


def test_a_request_at_zero_wants_a_pod_at_once():
    d = Decider(Settings.from_config(LAB))
    run(d, 20, concurrency=0, ready=1, step=1)  # started, idle, scaled to zero
    assert d.tick(20, 0, 0).desired_scale == 0
    d.poke(20.5)  # the activator holds a request
    decision = d.tick(21, 0)
    assert decision.desired_scale == 1 and decision.mode == "Proxy"  # no pod ready yet


def test_min_scale_keeps_a_pod_and_max_scale_caps():
    keep = Decider(Settings.from_config(LAB, {"autoscaling.knative.dev/min-scale": "1"}))
    assert run(keep, 60, concurrency=0, ready=1, step=1)[-1][1].desired_scale == 1
    cap = Decider(Settings.from_config(LAB, {"autoscaling.knative.dev/max-scale": "3"}))
    assert run(cap, 10, concurrency=1000, ready=1, step=1)[-1][1].desired_scale == 3


def test_burst_capacity_decides_who_is_in_the_path():
    # defaults: 1 pod x 100 - 0 - 200 < 0 -> the activator stays (Proxy)
    assert Decider(Settings.from_config(LAB)).tick(0, 1, 1).mode == "Proxy"
    serve = Decider(
        Settings.from_config(LAB, {"autoscaling.knative.dev/target-burst-capacity": "0"})
    )
    assert serve.tick(0, 1, 1).mode == "Serve"
    always = Decider(
        Settings.from_config(LAB, {"autoscaling.knative.dev/target-burst-capacity": "-1"})
    )
    assert always.tick(0, 5, 1).mode == "Proxy"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"stable-window": "5s"}, "stable-window = 5s, must be in [6s; 1h] range"),
        ({"scale-to-zero-grace-period": "1s"}, "scale-to-zero-grace-period must be at least 6s"),
        ({"stable-window": "soon"}, "config-autoscaler stable-window: not a duration: 'soon'"),
    ],
)
def test_config_values_knative_refuses(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Settings.from_config(data)


def test_a_new_revision_keeps_its_initial_scale_until_its_pod_was_ready():
    d = Decider(Settings.from_config(LAB))
    starting = run(d, 5, concurrency=0, ready=0, step=1)
    assert all(x.desired_scale == 1 for _, x in starting)  # not scaled away while starting
    assert d.tick(5, 1, 0).desired_scale == 1  # ready now; idle from here on
    later = run(d, 20, concurrency=0, ready=1, start=6, step=1)
    assert later[-1][1].desired_scale == 0  # then the usual way to zero
