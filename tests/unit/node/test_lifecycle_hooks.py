"""The kubelet's termination arithmetic and lifecycle handlers (lab_kit.node.lifecycle),
case by case from pod_workers.go, kuberuntime_container.go and lifecycle/handlers.go."""

from __future__ import annotations

import pytest

from lab_kit.node import lifecycle


def a_pod(grace: int | None = 30, deletion: int | None = None, **container: object) -> dict:
    metadata: dict = {"name": "web", "namespace": "shop", "uid": "u-1"}
    if deletion is not None:
        metadata["deletionGracePeriodSeconds"] = deletion
    spec: dict = {"containers": [{"name": "c", **container}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": metadata, "spec": spec}


# --- grace periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grace, deletion, override, expected",
    [
        (30, None, None, 30),  # only the pod's own
        (30, 10, None, 10),  # the delete's grace period is the bedrock truth
        (30, 60, None, 60),  # even when longer than the pod's
        (30, 10, 0, 1),  # force delete seen by the kubelet: 0, but never under 1
        (30, None, 0, 1),  # a pod that vanished: the override, floored at 1
        (30, 0, None, 1),  # deletionGracePeriodSeconds 0 is an override too, not "unset"
        (0, None, None, 1),  # terminationGracePeriodSeconds 0
        (None, None, None, 1),  # nothing at all
        (30, 10, 5, 5),  # a shorter override wins
        (30, 10, 20, 10),  # a longer one does not
    ],
)
def test_pod_grace_period_is_calculate_effective_grace_period(grace, deletion, override, expected):
    assert lifecycle.pod_grace_period_s(a_pod(grace, deletion), override) == expected


def test_a_liveness_or_startup_kill_takes_that_probes_own_grace_period():
    probe = {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 5}
    pod = a_pod(30, livenessProbe=probe, startupProbe=probe, readinessProbe=probe)
    container = pod["spec"]["containers"][0]
    assert lifecycle.kill_grace_period_s(pod, container, "liveness") == 5
    assert lifecycle.kill_grace_period_s(pod, container, "startup") == 5
    assert lifecycle.kill_grace_period_s(pod, container, "readiness") == 30  # never kills
    assert lifecycle.kill_grace_period_s(pod, container) == 30
    deleting = a_pod(30, 12, livenessProbe=probe)
    assert lifecycle.kill_grace_period_s(deleting, container, "liveness") == 12
    assert lifecycle.kill_grace_period_s(a_pod(None), container) == 2


@pytest.mark.parametrize(
    "grace, hook_s, timeout",
    [
        (30, 0.0, 30),
        (30, 5.0, 25),
        (30, 5.9, 25),  # whole seconds only: executePreStopHook truncates
        (30, 29.5, 2),  # the minimal shutdown window
        (10, 10.0, 2),  # the hook used it all
        (1, 1.0, 2),  # a force delete
        (1, 0.0, 2),
    ],
)
def test_stop_timeout_is_what_the_hook_left_but_at_least_2_s(grace, hook_s, timeout):
    assert lifecycle.stop_timeout_s(grace, hook_s) == timeout


def test_pre_stop_runs_only_with_a_hook_and_time_for_it():
    hooked = {"lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}
    assert lifecycle.runs_pre_stop(hooked, 30)
    assert not lifecycle.runs_pre_stop(hooked, 0)
    assert not lifecycle.runs_pre_stop({"lifecycle": {"postStart": {"sleep": {}}}}, 30)
    assert not lifecycle.runs_pre_stop({}, 30)


# --- handlers --------------------------------------------------------------------------------------

CONTAINER = {"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}


def test_each_handler_kind_and_its_parameters():
    assert lifecycle.handler_of(
        {"exec": {"command": ["sh", "-c", "x"]}}, CONTAINER, "10.0.0.9"
    ) == (
        "exec",
        {"command": ["sh", "-c", "x"]},
    )
    assert lifecycle.handler_of({"sleep": {"seconds": 5}}, CONTAINER, "10.0.0.9") == (
        "sleep",
        {"seconds": 5},
    )
    kind, params = lifecycle.handler_of(
        {"httpGet": {"path": "drain", "port": "http", "httpHeaders": [{"name": "x-why", "value": "stop"}]}},
        CONTAINER,
        "10.0.0.9",
    )  # fmt: skip
    assert kind == "httpGet"
    assert params["url"] == "http://10.0.0.9:8080/drain"
    assert params["headers"] == {
        "X-Why": "stop",
        "User-Agent": "kube-lifecycle/1.33",
        "Accept": "*/*",
    }
    _, other = lifecycle.handler_of(
        {"httpGet": {"host": "192.0.2.1", "port": 80, "scheme": "HTTPS"}}, CONTAINER, "10.0.0.9"
    )
    assert other["url"] == "https://192.0.2.1:80/"


def test_handlers_the_kubelet_cannot_run():
    with pytest.raises(lifecycle.HookError, match="invalid handler"):
        lifecycle.handler_of({"tcpSocket": {"port": 80}}, CONTAINER, "10.0.0.9")
    with pytest.raises(lifecycle.HookError, match="invalid handler"):
        lifecycle.handler_of({}, CONTAINER, "10.0.0.9")
    with pytest.raises(lifecycle.HookError, match="invalid syntax"):
        lifecycle.handler_of({"httpGet": {"port": "nope"}}, CONTAINER, "10.0.0.9")


def test_failure_messages_in_handlers_go_words():
    pod = a_pod()
    exec_hook = {"exec": {"command": ["/bin/drain", "--now"]}}
    error = lifecycle.exec_error(["/bin/drain", "--now"], 3, "busy\n")
    assert error == "command '/bin/drain --now' exited with 3: busy\n"
    assert lifecycle.hook_failure(exec_hook, CONTAINER, pod, error, "busy\n") == (
        'Exec lifecycle hook ([/bin/drain --now]) for Container "c" in Pod "web_shop(u-1)" '
        "failed - error: command '/bin/drain --now' exited with 3: busy\n, "
        'message: "busy\\n"'
    )
    http_hook = {"httpGet": {"path": "/drain", "port": 8080}}
    assert lifecycle.hook_failure(http_hook, CONTAINER, pod, "no answer") == (
        'HTTP lifecycle hook (/drain) for Container "c" in Pod "web_shop(u-1)" failed - '
        "error: no answer"
    )
    sleep_hook = {"sleep": {"seconds": 5}}
    assert lifecycle.hook_failure(sleep_hook, CONTAINER, pod, "cut") == (
        'Sleep lifecycle hook (5) for Container "c" in Pod "web_shop(u-1)" failed - error: cut'
    )
    assert lifecycle.hook_failure({}, CONTAINER, pod, "invalid handler: {}") == (
        "Cannot run handler: invalid handler: {}"
    )
