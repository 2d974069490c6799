"""The Pod status kubelet writes: phase, conditions, container statuses, QoS, write skipping."""

from __future__ import annotations

import copy

import pytest

from lab_kit.node.podstatus import (
    ContainerFacts,
    pod_qos_class,
    render_status,
    status_changed,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
T_SCHED = "2023-11-14T22:13:00Z"
T_START = "2023-11-14T22:13:05Z"
T_NOW = "2023-11-14T22:13:20Z"
IMAGE = "k8spatterns/random-generator:1.0"
IMAGE_ID = "docker.io/k8spatterns/random-generator@sha256:0123"
CID = "containerd://c0ffee"


def pod(restart_policy="Always", containers=None, status=None, **spec):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "random-generator", "namespace": "default", "uid": "u-1"},
        "spec": {
            "restartPolicy": restart_policy,
            "containers": containers or [{"name": "random-generator", "image": IMAGE}],
            **spec,
        },
        "status": status
        if status is not None
        else {
            "phase": "Pending",
            "qosClass": "BestEffort",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": T_SCHED,
                }
            ],
        },
    }


def cond(ctype, status, when, reason=None, message=None):
    out = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": when}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


UNREADY = "containers with unready status: [random-generator]"


def render(the_pod, facts, pod_ip="10.244.1.5"):
    return render_status(the_pod, facts, pod_ip, "172.18.0.3", NOW - 15, NOW)


def addresses(pod_ip="10.244.1.5"):
    out = {"hostIP": "172.18.0.3", "hostIPs": [{"ip": "172.18.0.3"}]}
    if pod_ip:
        out.update(podIP=pod_ip, podIPs=[{"ip": pod_ip}])
    return out


def test_waiting_container_creating_before_the_sandbox_exists():
    facts = [ContainerFacts("random-generator", IMAGE, state="waiting", reason="ContainerCreating")]
    assert render(pod(), facts, pod_ip="") == {
        "phase": "Pending",
        "conditions": [
            cond("PodReadyToStartContainers", "False", T_NOW),
            cond("Initialized", "True", T_NOW),
            cond("Ready", "False", T_NOW, "ContainersNotReady", UNREADY),
            cond("ContainersReady", "False", T_NOW, "ContainersNotReady", UNREADY),
            cond("PodScheduled", "True", T_SCHED),
        ],
        **addresses(pod_ip=""),
        "startTime": T_START,
        "containerStatuses": [
            {
                "name": "random-generator",
                "state": {"waiting": {"reason": "ContainerCreating"}},
                "lastState": {},
                "ready": False,
                "restartCount": 0,
                "image": IMAGE,
                "imageID": "",
                "started": False,
            }
        ],
        "qosClass": "BestEffort",
    }


def running(ready, started=True, **kw):
    return ContainerFacts(
        "random-generator",
        IMAGE,
        state="running",
        started_at=NOW - 10,
        ready=ready,
        started=started,
        container_id=CID,
        image_id=IMAGE_ID,
        **kw,
    )


def running_status(ready, started=True):
    return {
        "name": "random-generator",
        "state": {"running": {"startedAt": "2023-11-14T22:13:10Z"}},
        "lastState": {},
        "ready": ready,
        "restartCount": 0,
        "image": IMAGE,
        "imageID": IMAGE_ID,
        "containerID": CID,
        "started": started,
    }


def test_running_but_not_ready():
    assert render(pod(), [running(ready=False)]) == {
        "phase": "Running",
        "conditions": [
            cond("PodReadyToStartContainers", "True", T_NOW),
            cond("Initialized", "True", T_NOW),
            cond("Ready", "False", T_NOW, "ContainersNotReady", UNREADY),
            cond("ContainersReady", "False", T_NOW, "ContainersNotReady", UNREADY),
            cond("PodScheduled", "True", T_SCHED),
        ],
        **addresses(),
        "startTime": T_START,
        "containerStatuses": [running_status(ready=False)],
        "qosClass": "BestEffort",
    }


def test_running_and_ready():
    status = render(pod(), [running(ready=True)])
    assert status["phase"] == "Running"
    assert status["conditions"][2:4] == [
        cond("Ready", "True", T_NOW),
        cond("ContainersReady", "True", T_NOW),
    ]
    assert status["containerStatuses"] == [running_status(ready=True)]


def test_not_started_means_not_ready_even_if_readiness_passed():
    status = render(pod(), [running(ready=True, started=False)])
    assert status["containerStatuses"] == [running_status(ready=False, started=False)]
    assert status["conditions"][2]["status"] == "False"


LAST_TERMINATED = {
    "terminated": {
        "exitCode": 1,
        "reason": "Error",
        "startedAt": "2023-11-14T22:12:50Z",
        "finishedAt": "2023-11-14T22:13:00Z",
        "containerID": "containerd://dead",
    }
}
BACKOFF_MESSAGE = (
    "back-off 40s restarting failed container=random-generator pod=random-generator_default(u-1)"
)


def test_crash_loop_back_off_is_running_phase_and_not_ready():
    facts = ContainerFacts(
        "random-generator",
        IMAGE,
        state="waiting",
        reason="CrashLoopBackOff",
        message=BACKOFF_MESSAGE,
        restart_count=3,
        last_state=LAST_TERMINATED,
        container_id="containerd://dead",
        image_id=IMAGE_ID,
    )
    status = render(pod(), [facts])
    assert status["phase"] == "Running"
    assert status["conditions"][2] == cond("Ready", "False", T_NOW, "ContainersNotReady", UNREADY)
    assert status["containerStatuses"] == [
        {
            "name": "random-generator",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": BACKOFF_MESSAGE}},
            "lastState": LAST_TERMINATED,
            "ready": False,
            "restartCount": 3,
            "image": IMAGE,
            "imageID": IMAGE_ID,
            "containerID": "containerd://dead",
            "started": False,
        }
    ]


def terminated(code, reason=""):
    return ContainerFacts(
        "random-generator",
        IMAGE,
        state="terminated",
        reason=reason,
        exit_code=code,
        started_at=NOW - 10,
        finished_at=NOW - 1,
        container_id=CID,
        image_id=IMAGE_ID,
    )


def test_completed_with_restart_policy_never():
    status = render_status(
        pod("Never"),
        [terminated(0)],
        "10.244.1.5",
        "172.18.0.3",
        NOW - 15,
        NOW,
        sandbox_ready=False,
    )
    assert status["phase"] == "Succeeded"
    assert status["conditions"] == [
        cond("PodReadyToStartContainers", "False", T_NOW),
        cond("Initialized", "True", T_NOW, "PodCompleted"),
        cond("Ready", "False", T_NOW, "PodCompleted"),
        cond("ContainersReady", "False", T_NOW, "PodCompleted"),
        cond("PodScheduled", "True", T_SCHED),
    ]
    assert status["containerStatuses"][0]["state"] == {
        "terminated": {
            "exitCode": 0,
            "reason": "Completed",
            "startedAt": "2023-11-14T22:13:10Z",
            "finishedAt": "2023-11-14T22:13:19Z",
            "containerID": CID,
        }
    }
    assert status["containerStatuses"][0]["started"] is False


PHASES = [
    ("Never, exit 0", "Never", terminated(0), "Succeeded"),
    ("Never, exit 1", "Never", terminated(1), "Failed"),
    ("OnFailure, exit 0", "OnFailure", terminated(0), "Succeeded"),
    ("OnFailure, exit 1: restarting", "OnFailure", terminated(1), "Running"),
    ("Always, exit 0: restarting", "Always", terminated(0), "Running"),
    ("waiting for its first start", "Always", ContainerFacts("random-generator"), "Pending"),
    (
        "config error before the first start",
        "Always",
        ContainerFacts("random-generator", reason="CreateContainerConfigError"),
        "Pending",
    ),
]


@pytest.mark.parametrize("policy,facts,phase", [c[1:] for c in PHASES], ids=[c[0] for c in PHASES])
def test_phase(policy, facts, phase):
    assert render(pod(policy), [facts])["phase"] == phase


def test_failed_phase_reasons():
    status = render(pod("Never"), [terminated(2)])
    assert status["conditions"][3] == cond("ContainersReady", "False", T_NOW, "PodFailed")
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"


def test_two_containers_one_running_one_waiting_is_pending_and_sorted_by_name():
    containers = [{"name": "web", "image": "nginx"}, {"name": "sidecar", "image": "envoy"}]
    web = ContainerFacts("web", "nginx", state="running", started_at=NOW, ready=True, started=True)
    status = render(pod(containers=containers), [web])
    assert status["phase"] == "Pending"
    assert [s["name"] for s in status["containerStatuses"]] == ["sidecar", "web"]
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert status["conditions"][3]["message"] == "containers with unready status: [sidecar]"


def test_unready_containers_listed_in_spec_order():
    containers = [{"name": "web", "image": "nginx"}, {"name": "api", "image": "api"}]
    facts = [
        ContainerFacts("web", state="running", started=True),
        ContainerFacts("api", state="running", started=True),
    ]
    status = render(pod(containers=containers), facts)
    assert status["conditions"][2]["message"] == "containers with unready status: [web api]"


def test_transition_times_are_kept_while_the_status_holds():
    first = render(pod(), [running(ready=False)])
    later = render_status(
        pod(status=first), [running(ready=True)], "10.244.1.5", "172.18.0.3", NOW - 15, NOW + 30
    )
    times = {c["type"]: c["lastTransitionTime"] for c in later["conditions"]}
    assert times == {
        "PodReadyToStartContainers": T_NOW,
        "Initialized": T_NOW,
        "Ready": "2023-11-14T22:13:50Z",
        "ContainersReady": "2023-11-14T22:13:50Z",
        "PodScheduled": T_SCHED,
    }
    assert later["startTime"] == T_START


def test_nothing_changed_returns_the_same_dict():
    first = render(pod(), [running(ready=True)])
    the_pod = pod(status=first)
    again = render_status(
        the_pod, [running(ready=True)], "10.244.1.5", "172.18.0.3", NOW + 99, NOW + 60
    )
    assert again is the_pod["status"]
    assert not status_changed(first, copy.deepcopy(first))


STATUS_CHANGES = [
    ("same", lambda s: None, False),
    ("condition time only", lambda s: s["conditions"][2].update(lastTransitionTime="x"), False),
    ("condition status", lambda s: s["conditions"][2].update(status="False"), True),
    ("condition message", lambda s: s["conditions"][2].update(message="m"), True),
    ("restart count", lambda s: s["containerStatuses"][0].update(restartCount=1), True),
    ("pod IP", lambda s: s.update(podIP="10.244.1.6"), True),
    ("empty lastState omitted", lambda s: s["containerStatuses"][0].pop("lastState"), False),
    ("non-kubelet condition ignored", lambda s: s["conditions"].append({"type": "x"}), False),
]


@pytest.mark.parametrize(
    "change,expected", [c[1:] for c in STATUS_CHANGES], ids=[c[0] for c in STATUS_CHANGES]
)
def test_status_changed(change, expected):
    old = render(pod(), [running(ready=True)])
    new = copy.deepcopy(old)
    change(new)
    assert status_changed(old, new) is expected


def test_terminal_phase_never_goes_back():
    done = render(pod("Never"), [terminated(0)])
    status = render(pod("Never", status=done), [ContainerFacts("random-generator")])
    assert status["phase"] == "Succeeded"


def test_other_conditions_are_kept_first_and_readiness_gates_count():
    gated = pod(readinessGates=[{"conditionType": "example.com/lb-ready"}])
    gated["status"]["conditions"].insert(
        0, {"type": "example.com/lb-ready", "status": "False", "lastTransitionTime": T_SCHED}
    )
    status = render(gated, [running(ready=True)])
    assert status["conditions"][0]["type"] == "example.com/lb-ready"
    assert status["conditions"][3] == cond(
        "Ready",
        "False",
        T_NOW,
        "ReadinessGatesNotReady",
        'the status of pod readiness gate "example.com/lb-ready" is not "True", but False',
    )
    assert status["conditions"][4] == cond("ContainersReady", "True", T_NOW)


def test_missing_readiness_gate_condition():
    gated = pod(readinessGates=[{"conditionType": "example.com/lb-ready"}])
    status = render(gated, [running(ready=True)])
    assert status["conditions"][2]["message"] == (
        'corresponding condition of pod readiness gate "example.com/lb-ready" does not exist.'
    )


def test_phase_reason_and_message_kept_while_the_phase_holds():
    the_pod = pod()
    the_pod["status"].update(reason="Because", message="reasons")
    status = render(the_pod, [ContainerFacts("random-generator")])
    assert (status["phase"], status["reason"], status["message"]) == (
        "Pending",
        "Because",
        "reasons",
    )


def test_host_network_pods_report_the_node_ip():
    status = render(pod(hostNetwork=True), [running(ready=True)], pod_ip="")
    assert status["podIP"] == "172.18.0.3"
    assert status["podIPs"] == [{"ip": "172.18.0.3"}]


# --- QoS ----------------------------------------------------------------------------------------

QOS = [
    ("no resources", [{}], "BestEffort"),
    ("zero requests do not count", [{"requests": {"cpu": "0"}}], "BestEffort"),
    ("requests only", [{"requests": {"cpu": "100m"}}], "Burstable"),
    (
        "limits equal requests for cpu and memory",
        [
            {
                "limits": {"cpu": "1", "memory": "128Mi"},
                "requests": {"cpu": "1000m", "memory": "134217728"},
            }
        ],
        "Guaranteed",
    ),
    (
        "limits without memory",
        [{"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}],
        "Burstable",
    ),
    (
        "requests below limits",
        [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}],
        "Burstable",
    ),
    (
        "one guaranteed container and one without resources",
        [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, {}],
        "Burstable",
    ),
    (
        "other resources are ignored",
        [{"limits": {"ephemeral-storage": "1Gi"}, "requests": {"ephemeral-storage": "1Gi"}}],
        "BestEffort",
    ),
    (
        "exponent and decimal suffixes",
        [{"limits": {"cpu": "2", "memory": "1e9"}, "requests": {"cpu": 2, "memory": "1G"}}],
        "Guaranteed",
    ),
]


@pytest.mark.parametrize("resources,expected", [c[1:] for c in QOS], ids=[c[0] for c in QOS])
def test_qos_class(resources, expected):
    containers = [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]
    assert pod_qos_class(pod(containers=containers)) == expected
