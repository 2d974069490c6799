"""`labkit` as a user types it: up, apply, get, describe, delete, status, down."""

import json
import os
import subprocess
import sys
import time

import pytest
import yaml


@pytest.fixture
def labkit(run_dir):
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir)}

    def run(*args, check=True, stdin=None):
        r = subprocess.run(
            [sys.executable, "-m", "lab_kit", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            input=stdin,
        )
        if check and r.returncode != 0:
            raise AssertionError(
                f"labkit {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
            )
        return r

    yield run
    run("down", check=False)


def test_session_with_the_books_manifests(labkit, book, run_dir):
    up = labkit("up", "--control-plane-only")
    assert "Lab ready" in up.stdout
    second = labkit("up", "--control-plane-only", check=False)
    assert second.returncode == 1 and "a lab is already running" in second.stderr

    applied = labkit("apply", "-f", str(book / "deployment.yml"), "-f", str(book / "service.yml"))
    assert applied.stdout.splitlines() == [
        "deployment.apps/random-generator created",
        "service/random-generator created",
    ]
    # No nodes: nothing can become Ready, so wait for the controllers instead of --wait.
    deadline = time.monotonic() + 30
    while len(labkit("get", "pods").stdout.splitlines()) < 5 and time.monotonic() < deadline:
        labkit("status")  # each status round-trip is the bounded poll interval
    pods = labkit("get", "pods").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods) == 5 and all(line.split()[1:3] == ["0/1", "Pending"] for line in pods[1:])

    svc = json.loads(labkit("get", "svc", "random-generator", "-o", "json").stdout)
    assert svc["spec"]["ports"] == [{"port": 8080, "protocol": "TCP", "targetPort": 8080}]
    row = labkit("get", "svc").stdout.splitlines()
    assert row[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert any(r.split()[:2] == ["random-generator", "ClusterIP"] and "8080/TCP" in r for r in row)

    described = labkit("describe", "svc", "random-generator").stdout
    assert f"IP:               {svc['spec']['clusterIP']}" in described
    assert "TargetPort:       8080/TCP" in described

    wide = labkit("get", "deploy", "-o", "wide").stdout
    assert "k8spatterns/random-generator:1.0" in wide and "app=random-generator" in wide

    status = labkit("status")
    assert "apiserver" in status.stdout and "controller-manager" in status.stdout

    assert (
        labkit("delete", "-f", str(book / "service.yml")).stdout.strip()
        == 'service "random-generator" deleted'
    )
    by_label = labkit("delete", "pods", "-l", "app=random-generator").stdout.splitlines()
    assert len(by_label) == 4 and all(line.endswith('" deleted') for line in by_label)
    assert (
        labkit("delete", "pods", "-l", "app=nothing").stdout.strip()
        == "No resources found in default namespace."
    )
    missing = labkit("get", "svc", "random-generator", check=False)
    assert missing.returncode == 1
    assert (
        missing.stderr.strip()
        == 'Error from server (NotFound): services "random-generator" not found'
    )

    labkit("down")
    assert not run_dir.exists()
    assert labkit("status", check=False).returncode == 1


def test_v1beta1_ingress_is_refused_with_kubectls_words(labkit, book):
    labkit("up", "--control-plane-only")
    r = labkit(
        "apply", "-f", str(book.parent / "book-refused" / "ingress-with-dispatch.yml"), check=False
    )
    assert r.returncode == 1
    assert 'no matches for kind "Ingress" in version "extensions/v1beta1"' in r.stderr
    assert "ingress-with-dispatch.yml" in r.stderr


def test_apply_from_stdin_and_dry_run(labkit):
    labkit("up", "--control-plane-only")
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    assert (
        labkit("apply", "-f", "-", "--dry-run=server", stdin=cm).stdout.strip()
        == "configmap/c created (server dry run)"
    )
    assert labkit("get", "cm", "c", check=False).returncode != 0  # a dry run stores nothing
    assert labkit("apply", "-f", "-", stdin=cm).stdout.strip() == "configmap/c created"


def test_commands_without_a_lab_say_so(labkit):
    r = labkit("get", "pods", check=False)
    assert r.returncode == 1 and "no lab is running" in r.stderr and "labkit up" in r.stderr


BROKEN = """apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  containers: [{name: app, image: registry.invalid/nothing:1, command: [/nothing]}]
"""


@pytest.mark.root
def test_a_session_waits_for_what_each_apply_changed_and_logs_no_traceback(labkit, book, run_dir):
    labkit("up")
    rolled = labkit("apply", "-f", str(book / "deployment.yml"), "--wait").stdout.splitlines()
    assert rolled[0] == "deployment.apps/random-generator created"
    assert rolled[-1] == 'deployment "random-generator" successfully rolled out'
    pods = json.loads(labkit("get", "pods", "-l", "app=random-generator", "-o", "json").stdout)
    assert len(pods["items"]) == 4 and all(
        {"type": "Ready", "status": "True"}
        in [{k: c[k] for k in ("type", "status")} for c in p["status"]["conditions"]]
        for p in pods["items"]
    )

    t0 = time.monotonic()
    broken = labkit("apply", "-f", "-", "--wait", stdin=BROKEN, check=False)
    assert broken.returncode == 1 and broken.stdout.startswith("pod/broken created\n")
    assert 'error: pod "broken" will not become Ready: container "app" is waiting: ' in (
        broken.stderr
    )
    assert time.monotonic() - t0 < 30  # named at once, not after the 60 s timeout

    t0 = time.monotonic()  # a never-ready pod in the namespace holds up no later apply
    svc = labkit("apply", "-f", str(book / "service.yml"), "--wait")
    assert svc.stdout == "service/random-generator created\n" and time.monotonic() - t0 < 20

    changed = (book / "deployment.yml").read_text().replace("replicas: 4", "replicas: 2")
    scaled = labkit("apply", "-f", "-", "--wait", stdin=changed).stdout.splitlines()
    assert scaled[0] == "deployment.apps/random-generator configured"
    assert scaled[-1] == 'deployment "random-generator" successfully rolled out'

    # kubectl's argument orders
    dns = labkit("get", "svc", "-n", "kube-system", "kube-dns").stdout.splitlines()
    assert dns[1].split()[:2] == ["kube-dns", "ClusterIP"]
    assert labkit("get", "-n", "kube-system", "svc", "kube-dns", "-o", "name").stdout == (
        "service/kube-dns\n"
    )
    assert labkit("-n", "kube-system", "get", "-oname", "svc/kube-dns").stdout == (
        "service/kube-dns\n"
    )
    described = labkit("describe", "-n", "kube-system", "svc", "kube-dns").stdout
    assert described.startswith("Name:") and "kube-dns" in described
    one = yaml.safe_load(labkit("get", "svc", "-o", "yaml", "random-generator").stdout)
    assert one["kind"] == "Service"
    listed = json.loads(labkit("get", "pods", "-l", "app=random-generator", "-o", "json").stdout)
    name = next(
        p["metadata"]["name"] for p in listed["items"] if "deletionTimestamp" not in p["metadata"]
    )
    assert labkit("exec", f"pod/{name}", "--", "echo", "hi").stdout == "hi\n"
    labkit("logs", f"pod/{name}")

    # every log the lab wrote (agents' and containers'), read before down removes them
    logs = {str(p.relative_to(run_dir)): p.read_text(errors="replace") for p in
            run_dir.rglob("*.log")}  # fmt: skip
    assert any(name.startswith("logs/apiserver") for name in logs)
    assert [name for name, text in logs.items() if "Traceback" in text] == []
    labkit("down")
