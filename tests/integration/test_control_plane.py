"""The control plane end to end: the book's manifests, all-or-nothing apply, controllers."""

import pytest

from lab_kit import LabError


def test_book_deployment_and_service_give_4_pending_pods_and_a_cluster_ip(lab, book):
    assert lab.apply(str(book / "deployment.yml")) == ["deployment.apps/random-generator created"]
    assert lab.apply(str(book / "service.yml")) == ["service/random-generator created"]
    lab.wait(30)
    pods = lab.get("pods", selector="app=random-generator")
    assert len(pods) == 4
    assert {p["status"]["phase"] for p in pods} == {"Pending"}
    assert all(not p["spec"].get("nodeName") for p in pods)
    assert all(p["metadata"]["name"].startswith("random-generator-") for p in pods)
    reasons = {c.get("reason") for p in pods for c in p["status"].get("conditions", [])}
    assert "Unschedulable" in reasons
    svc = lab.get("svc", "random-generator")
    a, b, _, _ = map(int, svc["spec"]["clusterIP"].split("."))
    assert a == 10 and 96 <= b < 112
    # No node, no ready pod: the Service has no endpoints yet.
    slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
    assert [s.get("endpoints") or [] for s in slices] == [[]]


def test_pods_are_scheduled_once_a_ready_node_exists(lab, book):
    lab.apply(str(book / "deployment.yml"))
    lab.wait(30)
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    lab.client.create(node)
    lab.wait(30)
    assert {p["spec"].get("nodeName") for p in lab.get("pods")} == {"node1"}


def test_apply_is_all_or_nothing_and_names_file_document_field(lab, tmp_path):
    f = tmp_path / "app.yml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: two-ports}\n"
        "spec:\n  selector: {app: x}\n  ports:\n  - port: 80\n  - port: 443\n"
    )
    with pytest.raises(LabError) as e:
        lab.apply(str(f))
    msg = str(e.value)
    assert f'"{f}", document 2 of 2' in msg
    assert 'Service "two-ports" is invalid' in msg and "spec.ports[1].name: Required value" in msg
    assert [c["metadata"]["name"] for c in lab.get("configmaps")] == ["kube-root-ca.crt"]


def test_scale_down_and_delete_cascade(lab, book):
    lab.apply(str(book / "deployment.yml"))
    lab.wait(30)
    two = (book / "deployment.yml").read_text().replace("replicas: 4", "replicas: 2")
    assert lab.apply(two) == ["deployment.apps/random-generator configured"]
    lab.wait(30)
    assert len(lab.get("pods")) == 2
    assert lab.apply(two) == ["deployment.apps/random-generator unchanged"]
    lab.delete("deployment", "random-generator")
    lab.wait(30)
    assert list(lab.get("replicasets")) == [] and list(lab.get("pods")) == []


def test_cluster_ip_clash_is_refused(lab):
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "dns-impostor"},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 53}]},
    }
    with pytest.raises(LabError) as e:
        lab.apply(svc)
    assert "failed to allocate IP 10.96.0.1: provided IP is already allocated" in str(e.value)
