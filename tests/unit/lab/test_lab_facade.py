"""`Lab`, the notebooks' handle, on the real API in-process: the calls notebooks make, and
what they get back (the same types as before the facade was split into topic modules)."""

from __future__ import annotations

import os

import pytest
from lab_fixtures import pod, ready_status, seed_pod, write_hosts

from lab_kit.adapters.processes import ProcessRecord
from lab_kit.lab.errors import LabError
from lab_kit.lab.lab import CaptureGroup, Lab, LabCapture, Listing, read_documents, resolve_kind

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: k8spatterns/random-generator:1.0}]}
"""


def test_what_notebooks_import_from_lab_kit_lab_lab_is_still_there():
    assert resolve_kind("svc").kind == "Service" and Listing("Pod", []) == []
    assert read_documents({"apiVersion": "v1", "kind": "Namespace"})[0].total == 1
    assert issubclass(CaptureGroup, dict) and hasattr(LabCapture, "packets")


def test_a_notebooks_session_on_objects(lab):
    assert lab.apply(DEPLOYMENT) == ["deployment.apps/web created"]
    deployments = lab.get("deployments")
    assert isinstance(deployments, Listing) and "web" in str(deployments)
    assert lab.get("deploy", "web")["spec"]["replicas"] == 2
    assert "Replicas:" in lab.describe("deploy", "web")
    assert lab.refusal(DEPLOYMENT.replace("replicas: 2", "replicas: -1"), dry_run=True).startswith(
        "Error from server (Invalid)"
    )
    assert lab.delete("deployments", "web") == ['deployment.apps "web" deleted']
    assert str(lab.get("deployments")) == "No resources found."


def test_apply_and_wait_waits_for_what_it_created_or_changed(lab, api):
    seed_pod(api, pod("before"), status={"phase": "Pending"})  # untouched: not counted
    assert lab.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
                     wait=True, timeout_s=0) == ["configmap/c created"]  # fmt: skip
    lonely = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lonely"},
              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip
    with pytest.raises(LabError, match=r'waiting for pod "lonely" to be Ready \(Pending\)'):
        lab.apply(lonely, wait=True, timeout_s=0)
    assert lab.apply(lonely, wait=True, timeout_s=0) == ["pod/lonely unchanged"]  # nothing new
    lab.wait()  # no agent is behind


def test_waiting_for_pods(lab, api):
    seed_pod(api, pod("up"), status=ready_status())
    lab.wait_ready(timeout_s=0, namespace="default")
    seed_pod(api, pod("job"), status={"phase": "Failed", "containerStatuses": [
        {"name": "main", "state": {"terminated": {"exitCode": 2}}}]})  # fmt: skip
    assert lab.wait_pod_finished("job") == 2


def test_deleting_by_selector_and_by_file(lab, tmp_path):
    f = tmp_path / "deploy.yml"
    f.write_text(DEPLOYMENT)
    lab.apply(str(f))
    assert lab.delete(filename=str(f)) == ['deployment.apps "web" deleted']
    lab.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "y"}}}
    )
    assert lab.delete("cm", selector="x=y") == ['configmap "c" deleted']
    assert lab.delete("cm", selector="x=y") == ["No resources found in default namespace."]


def test_pictures_of_the_running_lab(lab, api, rundir):
    write_hosts(rundir, {
        "node1": {"pid": 1, "role": "node", "ip": "172.18.0.2"},
        "gw": {"pid": 2, "role": "router", "ip": "172.18.0.1"},
        "client": {"pid": 3, "role": "client", "ip": "192.0.2.10"},
    })  # fmt: skip
    seed_pod(api, pod("web-1", labels={"app": "web"}), status=ready_status())
    topology = lab.draw().source
    assert "node1" in topology and "client" in topology and "web-1" in topology
    assert "gw" not in topology  # the router is the switch's business, not a host to draw
    lab.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})  # fmt: skip
    assert "web" in lab.draw_services().source


def test_without_a_lab(client, rundir):
    with pytest.raises(LabError, match=r"no lab is running \(no API server at .*apiserver.sock\)"):
        Lab.connect()
    assert Lab(client).status() == {"running": False, "run_dir": rundir.path}
    with pytest.raises(LabError, match=r'no addon "nope" \(addons: coredns'):
        Lab.up(addons=["nope"])
    with pytest.raises(LabError, match='no topology "nowhere"'):
        Lab.up("nowhere")
    assert not os.path.exists(rundir.state_file)  # refused before anything was made
    Lab(client).stop_on_host(ProcessRecord("gone", 2**22 + 1, 1, []))  # nothing to stop: fine


def test_a_lab_in_a_with_block_is_brought_down_and_disconnected(api, rundir):
    with Lab(api.client()) as lab:
        lab.get("pods")
    assert lab.client.http.is_closed
