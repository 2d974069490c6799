"""`labkit` as a user types it: up, apply, get, describe, delete, status, down."""

import json
import os
import subprocess
import sys
import time

import pytest


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
    r = labkit("apply", "-f", str(book / "ingress-with-dispatch.yml"), check=False)
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
    assert "No resources found" in labkit("get", "cm").stderr
    assert labkit("apply", "-f", "-", stdin=cm).stdout.strip() == "configmap/c created"


def test_commands_without_a_lab_say_so(labkit):
    r = labkit("get", "pods", check=False)
    assert r.returncode == 1 and "no lab is running" in r.stderr and "labkit up" in r.stderr
