"""kubectl habits a learner brings, on a real lab: events in describe and get events,
describe's container State, scale / rollout status / restart, wait, logs --tail, label
(a pod leaves a Service's endpoints), the book's `exec ... -- ash`."""

from __future__ import annotations

import subprocess
import sys

BOOK_DEPLOYMENT = "labs/manifests/book/deployment.yml"


def labkit(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "lab_kit", *args], capture_output=True, text=True, timeout=120
    )
    if check and r.returncode != 0:
        raise AssertionError(f"labkit {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def test_events_state_and_the_workload_verbs(cluster, ns):
    labkit("apply", "-n", ns, "-f", BOOK_DEPLOYMENT, "--wait")
    pods = labkit("get", "pods", "-n", ns, "-o", "name").stdout.split()
    pod = pods[0].split("/")[1]
    described = labkit("describe", "pod", pod, "-n", ns).stdout
    assert "    State:          Running" in described
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert f"  Normal  {reason}" in described, described
    assert f"Successfully assigned {ns}/{pod} to node" in described
    assert "  Type    Reason     Age   From               Message" in described

    assert labkit("scale", "-n", ns, "deployment/random-generator", "--replicas=2").stdout == (
        "deployment.apps/random-generator scaled\n")  # fmt: skip
    status = labkit(
        "rollout", "status", "-n", ns, "deployment/random-generator", "--timeout=60s"
    ).stdout
    assert status.splitlines()[-1] == 'deployment "random-generator" successfully rolled out'
    assert len(labkit("get", "pods", "-n", ns, "-o", "name").stdout.split()) == 2
    labkit("rollout", "restart", "-n", ns, "deployment/random-generator")
    labkit("rollout", "status", "-n", ns, "deployment/random-generator", "--timeout=60s")
    assert len(labkit("get", "rs", "-n", ns, "-o", "name").stdout.split()) == 2  # a new ReplicaSet

    (first, *_rest) = labkit("get", "pods", "-n", ns, "-o", "name").stdout.split()
    name = first.split("/")[1]
    assert labkit("wait", "-n", ns, "--for=condition=Ready", first, "--timeout=30s").stdout == (
        f"pod/{name} condition met\n")  # fmt: skip
    assert len(labkit("logs", "-n", ns, name, "--tail", "1").stdout.splitlines()) <= 1
    shell = labkit("exec", "-n", ns, name, "--", "ash", "-c", "echo from-the-books-shell")
    assert shell.stdout == "from-the-books-shell\n"


def test_an_unknown_image_shows_in_events_and_ends_a_wait_at_once(cluster, ns):
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: typo}\n"
           "spec: {containers: [{name: c, image: k8spatterns/random-generatr:1.0}]}\n")  # fmt: skip
    subprocess.run([sys.executable, "-m", "lab_kit", "apply", "-n", ns, "-f", "-"], input=pod,
                   text=True, check=True, capture_output=True, timeout=60)  # fmt: skip
    waited = labkit(
        "wait", "-n", ns, "--for=condition=Ready", "pod/typo", "--timeout=30s", check=False
    )
    assert waited.returncode == 1 and "ErrImagePull" in waited.stderr
    events = labkit("get", "events", "-n", ns).stdout
    assert (
        "pod/typo" in events and 'Failed to pull image "k8spatterns/random-generatr:1.0"' in events
    )
    assert "Error: ErrImagePull" in events
    assert "      Reason:       ErrImagePull" in labkit("describe", "pod", "typo", "-n", ns).stdout
