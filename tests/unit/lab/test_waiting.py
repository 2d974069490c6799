"""Waiting without sleeping (lab_kit.lab.waiting), on the real API in-process: a stepping
clock makes every deadline arrive in a bounded number of rounds."""

from __future__ import annotations

import pytest
from lab_fixtures import Steps, pod, ready_status, seed_pod

from lab_kit.lab import access, waiting
from lab_kit.lab.access import Completed
from lab_kit.lab.errors import LabError


def terminated(code: int, where: str = "state") -> dict:
    status = {"name": "main", "ready": False, "state": {"running": {}}}
    status[where] = {"terminated": {"exitCode": code, "reason": "Error"}}
    return {"phase": "Running", "containerStatuses": [status]}


def test_converged_when_every_agent_has_applied_the_latest_change(client, api):
    waiting.converged(client, 5)  # no agents: nothing is behind
    api.handler.agents.report("kube-proxy/node1", 1, {})  # an agent behind the store
    with pytest.raises(LabError, match=r"timed out after 5 s .*still behind: .*kube-proxy/node1"):
        waiting.converged(client, 5)


def test_wait_ready_returns_once_every_pod_counted_is_ready(client, api):
    seed_pod(api, pod("web"), status=ready_status())
    seed_pod(api, pod("done"), status={"phase": "Succeeded"})  # finished: does not count
    seed_pod(api, pod("elsewhere", "kube-system"), status={"phase": "Pending"})
    clock = Steps()
    waiting.wait_ready(client, 10, namespace="default", now=clock)
    assert clock.reads <= 3  # no rounds: it was true at once
    waiting.wait_applied(client, [], 10)  # "default" when only cluster-scoped objects applied


def test_wait_ready_names_what_it_still_waits_for(client, api):
    seed_pod(api, pod("web"), status=ready_status())
    seed_pod(api, pod("slow"), status={"phase": "Pending"})
    with pytest.raises(LabError) as late:
        waiting.wait_ready(client, 5, namespaces=["default"], now=Steps())
    assert (
        str(late.value) == "timed out after 5 s waiting for pods to be Ready: default/slow: Pending"
    )


def test_not_ready_skips_finished_and_deleting_pods():
    running = {"metadata": {"name": "a", "namespace": "x"}, "status": {"phase": "Running"}}
    deleting = {"metadata": {"name": "b", "namespace": "x", "deletionTimestamp": "t"}}
    failed = {"metadata": {"name": "c", "namespace": "x"}, "status": {"phase": "Failed"}}
    assert waiting.not_ready([running, deleting, failed]) == [running]
    assert waiting.not_ready([running], ["other"]) == []


def test_a_finished_pods_exit_code(client, api):
    seed_pod(api, pod("job"), status=terminated(3))
    assert waiting.wait_pod_finished(client, "job", now=Steps()) == 3
    seed_pod(api, pod("restarted"), status=terminated(0, where="lastState"))
    assert waiting.wait_pod_finished(client, "restarted", now=Steps()) == 0


def test_waiting_for_a_pod_that_cannot_start_or_does_not_end(client, api):
    stuck = {"phase": "Pending", "containerStatuses": [{"name": "main", "state": {
        "waiting": {"reason": "ErrImagePull", "message": "no such image"}}}]}  # fmt: skip
    seed_pod(api, pod("pull"), status=stuck)
    with pytest.raises(LabError, match="pod pull: ErrImagePull: no such image"):
        waiting.wait_pod_finished(client, "pull", now=Steps())
    seed_pod(api, pod("forever"), status=ready_status())
    with pytest.raises(LabError, match=r"waiting for pod forever to finish \(Running\)"):
        waiting.wait_pod_finished(client, "forever", timeout_s=3, now=Steps())


def test_wait_listening_polls_the_hosts_socket_table(monkeypatch):
    answers = iter(["", "", "LISTEN 0 128 0.0.0.0:80 0.0.0.0:*\n"])
    asked: list[tuple[str, list[str]]] = []

    def ss(host: str, argv: list[str], **_: object) -> Completed:
        asked.append((host, argv))
        return Completed(argv, 0, next(answers), "")

    monkeypatch.setattr(access, "run_on_host", ss)
    slept: list[float] = []
    waiting.wait_listening("internet", 80, now=Steps(0.01), sleep=slept.append)
    assert asked[0] == ("internet", ["ss", "-Hltn", "sport = :80"])
    assert len(asked) == 3 and slept == [0.05, 0.05]
    monkeypatch.setattr(access, "run_on_host", lambda h, a, **_: Completed(a, 0, "", ""))
    with pytest.raises(LabError, match="nothing listens on internet:81 after 2 s"):
        waiting.wait_listening("internet", 81, timeout_s=2, now=Steps(), sleep=slept.append)
