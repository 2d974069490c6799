"""Probe worker timelines, handlers, restart policy and CrashLoopBackOff."""

from __future__ import annotations

import math

import pytest

from lab_kit.node import probes
from lab_kit.node.probes import ProbeError, ProbeTracker

# As the API server stores a probe: SetDefaults_Probe applied.
DEFAULTED = {"periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}
T0 = 1000.0  # container start


def probe(**overrides):
    return {"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"}, **DEFAULTED, **overrides}


def run(tracker, timeline):
    """Feed (time, success) pairs; return the cached result after each."""
    return [tracker.record(ok, T0 + t) for t, ok in timeline]


# --- timelines ---------------------------------------------------------------------------------

TIMELINES = [
    (
        "readiness: one success after start makes it ready",
        "readiness",
        {},
        [(0, True)],
        ["Success"],
    ),
    (
        "readiness: three failures in a row to go unready",
        "readiness",
        {},
        [(0, True), (10, False), (20, False), (30, False), (40, True)],
        ["Success", "Success", "Success", "Failure", "Success"],
    ),
    (
        "readiness: a success in between restarts the failure count",
        "readiness",
        {},
        [(0, True), (10, False), (20, False), (30, True), (40, False), (50, False)],
        ["Success"] * 6,
    ),
    (
        "readiness: failures before the first success keep it unready",
        "readiness",
        {},
        [(0, False), (10, False), (20, True)],
        ["Failure", "Failure", "Success"],
    ),
    (
        "readiness: successThreshold 3 needs three in a row",
        "readiness",
        {"successThreshold": 3},
        [(0, True), (10, True), (20, False), (30, True), (40, True), (50, True)],
        ["Failure", "Failure", "Failure", "Failure", "Failure", "Success"],
    ),
    (
        "liveness: stays Success until failureThreshold",
        "liveness",
        {},
        [(0, False), (10, False), (20, False)],
        ["Success", "Success", "Failure"],
    ),
    (
        "liveness: failureThreshold 1 fails at once",
        "liveness",
        {"failureThreshold": 1},
        [(0, True), (10, False)],
        ["Success", "Failure"],
    ),
    (
        "startup: Unknown until the first success",
        "startup",
        {"failureThreshold": 30},
        [(0, False), (10, False), (20, True)],
        ["Unknown", "Unknown", "Success"],
    ),
]


@pytest.mark.parametrize(
    "kind,overrides,timeline,expected", [c[1:] for c in TIMELINES], ids=[c[0] for c in TIMELINES]
)
def test_timelines(kind, overrides, timeline, expected):
    assert run(ProbeTracker(kind, probe(**overrides), T0), timeline) == expected


@pytest.mark.parametrize(
    "kind,initial", [("readiness", "Failure"), ("liveness", "Success"), ("startup", "Unknown")]
)
def test_initial_results(kind, initial):
    assert ProbeTracker(kind, probe(), T0).result == initial


def test_first_run_at_start_then_every_period():
    tracker = ProbeTracker("readiness", probe(), T0)
    assert tracker.due(T0)
    tracker.record(True, T0)
    assert [tracker.due(T0 + t) for t in (5, 9.9, 10)] == [False, False, True]
    assert tracker.seconds_until_due(T0 + 4) == 6


def test_a_container_not_yet_ready_is_probed_again_at_the_first_status_sync():
    tracker = ProbeTracker("readiness", probe(), T0)
    tracker.record(False, T0)  # the server was not listening yet
    assert tracker.seconds_until_due(T0 + 0.5) == 0.5  # PLEG's relist, 1 s after the start
    tracker.record(False, T0 + 1)
    assert tracker.seconds_until_due(T0 + 1) == 10  # then a period after each run
    liveness = ProbeTracker("liveness", probe(), T0)
    liveness.record(False, T0)
    assert liveness.seconds_until_due(T0) == 10  # only readiness is triggered


def test_initial_delay_is_measured_from_container_start():
    tracker = ProbeTracker("liveness", probe(initialDelaySeconds=15), T0)
    assert [tracker.due(T0 + t) for t in (0, 14.9, 15)] == [False, False, True]
    assert tracker.seconds_until_due(T0 + 5) == 10
    tracker.record(True, T0 + 15)
    assert tracker.seconds_until_due(T0 + 20) == 5


def test_readiness_and_liveness_wait_for_the_container_to_have_started():
    tracker = ProbeTracker("readiness", probe(), T0)
    assert not tracker.due(T0, container_started=False)
    assert tracker.seconds_until_due(T0, container_started=False) == math.inf
    assert tracker.due(T0, container_started=True)


def test_startup_probe_stops_once_it_succeeded():
    tracker = ProbeTracker("startup", probe(), T0)
    assert tracker.due(T0, container_started=False)
    tracker.record(True, T0)
    assert tracker.seconds_until_due(T0 + 100) == math.inf


def test_liveness_failure_holds_probing_until_the_container_is_replaced():
    tracker = ProbeTracker("liveness", probe(failureThreshold=1), T0)
    assert tracker.record(False, T0) == "Failure"
    assert not tracker.due(T0 + 100)
    tracker.reset(T0 + 50)
    assert tracker.result == "Success"
    assert tracker.due(T0 + 50)
    assert tracker.record(True, T0 + 50) == "Success"


def test_readiness_after_a_restart_starts_unready_again():
    tracker = ProbeTracker("readiness", probe(), T0)
    tracker.record(True, T0)
    assert tracker.container_stopped() == "Failure"
    tracker.reset(T0 + 60)
    assert tracker.result == "Failure"
    assert tracker.due(T0 + 60)
    assert tracker.record(True, T0 + 60) == "Success"


def test_a_probe_error_only_moves_the_schedule():
    tracker = ProbeTracker("liveness", probe(), T0)
    assert tracker.record_error(T0) == "Success"
    assert tracker.seconds_until_due(T0) == 10


def test_timeout_and_thresholds_read_from_the_probe():
    tracker = ProbeTracker("readiness", probe(timeoutSeconds=3, failureThreshold=5), T0)
    assert (tracker.timeout_s, tracker.period_s, tracker.failure_threshold) == (3, 10, 5)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError):
        ProbeTracker("sideways", probe(), T0)


# --- handlers ------------------------------------------------------------------------------------

CONTAINER = {
    "name": "app",
    "ports": [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "grpc", "containerPort": 9000, "protocol": "TCP"},
    ],
}
UA = {"User-Agent": "kube-probe/1.33", "Accept": "*/*"}

HANDLERS = [
    (
        "httpGet with a named port and the pod IP as host",
        {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}},
        (
            "httpGet",
            {
                "scheme": "HTTP",
                "host": "10.244.1.5",
                "port": 8080,
                "path": "/healthz",
                "url": "http://10.244.1.5:8080/healthz",
                "headers": UA,
            },
        ),
    ),
    (
        "httpGet with host, HTTPS, query and headers",
        {
            "httpGet": {
                "host": "example.test",
                "path": "/ready?full=1",
                "port": 8443,
                "scheme": "HTTPS",
                "httpHeaders": [
                    {"name": "x-probe", "value": "1"},
                    {"name": "X-PROBE", "value": "2"},
                    {"name": "accept", "value": "application/json"},
                ],
            }
        },
        (
            "httpGet",
            {
                "scheme": "HTTPS",
                "host": "example.test",
                "port": 8443,
                "path": "/ready?full=1",
                "url": "https://example.test:8443/ready?full=1",
                "headers": {
                    "X-Probe": "1, 2",
                    "Accept": "application/json",
                    "User-Agent": "kube-probe/1.33",
                },
            },
        ),
    ),
    (
        "httpGet defaults: path / and scheme HTTP; an empty Accept removes it",
        {"httpGet": {"port": 80, "httpHeaders": [{"name": "Accept", "value": ""}]}},
        (
            "httpGet",
            {
                "scheme": "HTTP",
                "host": "10.244.1.5",
                "port": 80,
                "path": "/",
                "url": "http://10.244.1.5:80/",
                "headers": {"User-Agent": "kube-probe/1.33"},
            },
        ),
    ),
    (
        "tcpSocket with a named port",
        {"tcpSocket": {"port": "grpc"}},
        ("tcpSocket", {"host": "10.244.1.5", "port": 9000}),
    ),
    (
        "tcpSocket with a numeric string port",
        {"tcpSocket": {"port": "6379", "host": "10.0.0.1"}},
        ("tcpSocket", {"host": "10.0.0.1", "port": 6379}),
    ),
    (
        "exec",
        {"exec": {"command": ["cat", "/tmp/healthy"]}},
        ("exec", {"command": ["cat", "/tmp/healthy"]}),
    ),
    (
        "grpc",
        {"grpc": {"port": 9000, "service": ""}},
        ("grpc", {"host": "10.244.1.5", "port": 9000, "service": ""}),
    ),
]


@pytest.mark.parametrize(
    "the_probe,expected", [c[1:] for c in HANDLERS], ids=[c[0] for c in HANDLERS]
)
def test_handler_of(the_probe, expected):
    assert probes.handler_of(the_probe, CONTAINER, "10.244.1.5") == expected


@pytest.mark.parametrize(
    "the_probe,message",
    [
        ({"tcpSocket": {"port": "metrics"}}, 'strconv.Atoi: parsing "metrics": invalid syntax'),
        ({"httpGet": {"port": 0}}, "invalid port number: 0"),
        ({"tcpSocket": {"port": 70000}}, "invalid port number: 70000"),
        ({"periodSeconds": 10}, "missing probe handler"),
    ],
)
def test_handler_errors(the_probe, message):
    with pytest.raises(ProbeError) as err:
        probes.handler_of(the_probe, CONTAINER, "10.244.1.5")
    assert str(err.value) == message


@pytest.mark.parametrize(
    "code,success",
    [(100, False), (199, False), (200, True), (204, True), (302, True), (399, True), (400, False),
     (404, False), (500, False), (503, False)],
)  # fmt: skip
def test_http_success(code, success):
    assert probes.http_success(code) is success


@pytest.mark.parametrize(
    "status, body, error, expected",
    [
        (200, "ok", "", ("Success", "ok")),
        (302, "moved", "", ("Warning", "Probe terminated redirects, Response body: moved")),
        (304, "", "", ("Warning", "Probe terminated redirects, Response body: ")),
        (503, "busy", "", ("Failure", "HTTP probe failed with statuscode: 503")),  # no body
        (None, "", 'Get "http://x/": refused', ("Failure", 'Get "http://x/": refused')),
    ],
)
def test_http_result_is_do_http_probe(status, body, error, expected):
    assert probes.http_result(status, body, error) == expected


def test_a_probe_warning_reads_like_the_kubelets_event():
    assert probes.probe_warning("liveness", "Probe terminated redirects, Response body: x") == (
        "Liveness probe warning: Probe terminated redirects, Response body: x"
    )


# --- redirects (http.go RedirectChecker over net/http's Client) -----------------------------------

FIRST = "http://10.244.1.5:8080/healthz"


@pytest.mark.parametrize(
    "status, location, expected",
    [
        (302, "/ready", probes.Redirect("http://10.244.1.5:8080/ready", keep_host=True)),
        (301, "ready", probes.Redirect("http://10.244.1.5:8080/ready", keep_host=True)),
        (307, "http://10.244.1.5:9090/x", probes.Redirect("http://10.244.1.5:9090/x", False)),
        (308, "https://10.244.1.5/x", probes.Redirect("https://10.244.1.5/x", False)),
        (303, "http://10.244.1.6:8080/", None),  # another host: the 303 is the answer
        (302, "http://example.com/", None),
        (302, None, None),  # no Location: the response as it is
        (302, "", None),
        (300, "/other", None),  # not a redirect Go's client follows
        (304, "/other", None),
        (200, "/other", None),
    ],
)
def test_which_redirects_are_followed(status, location, expected):
    assert probes.next_redirect(FIRST, FIRST, status, location, 0) == expected


def test_the_host_compared_is_the_first_requests_not_the_port():
    hop = "http://10.244.1.5:9090/a"
    assert probes.next_redirect(FIRST, hop, 302, "http://10.244.1.5:7070/b", 3) == probes.Redirect(
        "http://10.244.1.5:7070/b", keep_host=False
    )


def test_a_hook_follows_redirects_to_any_host():
    step = probes.next_redirect(FIRST, FIRST, 302, "http://10.244.1.6/", 0, follow_non_local=True)
    assert step == probes.Redirect("http://10.244.1.6/", keep_host=False)


def test_ten_redirects_are_the_most():
    assert probes.next_redirect(FIRST, FIRST, 302, "/again", 8) is not None  # the 9th
    with pytest.raises(probes.RedirectError) as stopped:
        probes.next_redirect(FIRST, FIRST, 302, "/again", 9)
    assert str(stopped.value) == 'Get "http://10.244.1.5:8080/again": stopped after 10 redirects'


# --- restarts ----------------------------------------------------------------------------------

RESTARTS = [
    ("Always", 0, True),
    ("Always", 1, True),
    ("OnFailure", 0, False),
    ("OnFailure", 137, True),
    ("Never", 0, False),
    ("Never", 1, False),
]


@pytest.mark.parametrize("policy,exit_code,expected", RESTARTS)
def test_should_restart(policy, exit_code, expected):
    assert probes.should_restart(policy, exit_code) is expected


def test_backoff_sequence():
    # The first restart is immediate; then 10 s doubling, capped at 300 s.
    assert [probes.crash_loop_backoff_s(n) for n in range(10)] == [
        0, 10, 20, 40, 80, 160, 300, 300, 300, 300,
    ]  # fmt: skip
    assert probes.crash_loop_backoff_s(1000) == 300


def test_restart_backoff_timeline():
    backoff = probes.RestartBackOff()
    waits = []
    finished = 0.0
    for _ in range(8):  # each container crashes 1 s after it starts
        wait = backoff.wait_s(finished, now=finished)
        waits.append(wait)
        backoff.restarting(finished, now=finished + wait)
        finished = finished + wait + 1
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300]
    assert backoff.wait_s(finished, now=finished + 299) == 1


def test_restart_backoff_resets_after_ten_minutes_of_running():
    backoff = probes.RestartBackOff()
    backoff.restarting(0, now=0)
    backoff.restarting(5, now=15)  # back-off is now 20 s
    assert backoff.wait_s(20, now=20) == 20
    assert backoff.wait_s(15 + 601, now=15 + 601) == 0  # ran over 600 s: a fresh start
    backoff.restarting(15 + 601, now=15 + 601)
    assert backoff.backoff_s == 10


@pytest.mark.parametrize(
    "seconds,text", [(10, "10s"), (40, "40s"), (80, "1m20s"), (160, "2m40s"), (300, "5m0s"),
                     (3600, "1h0m0s")]
)  # fmt: skip
def test_go_duration(seconds, text):
    assert probes.go_duration(seconds) == text


def test_crash_loop_message():
    pod = {"metadata": {"name": "random-generator", "namespace": "default", "uid": "u-1"}}
    assert probes.crash_loop_message(pod, "random-generator", 40) == (
        "back-off 40s restarting failed container=random-generator "
        "pod=random-generator_default(u-1)"
    )
