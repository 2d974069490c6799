"""`labkit scale`, `label` and `annotate` against the real API in-process, with kubectl's
words for what changed, what did not, and what is refused."""

from __future__ import annotations

import json
import time

import pytest

from lab_kit.api.describe import describe
from lab_kit.cli.main import main
from lab_kit.controllers.events import EventRecorder

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx}]
"""
POD = """apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels: {app: web}
spec:
  containers: [{name: c, image: nginx}]
"""


@pytest.fixture
def objects(labkit, tmp_path):
    path = tmp_path / "objs.yml"
    path.write_text(DEPLOYMENT + "---\n" + POD)
    assert labkit("apply", "-f", str(path)).code == 0
    return labkit


def test_scale_sets_replicas_with_kubectls_words(objects):
    r = objects("scale", "deployment/web", "--replicas=1")
    assert (r.code, r.out) == (0, "deployment.apps/web scaled\n")
    r = objects("scale", "deploy", "web", "--replicas", "0")
    assert r.out == "deployment.apps/web scaled\n"
    assert json.loads(objects("get", "deploy", "web", "-o", "json").out)["spec"]["replicas"] == 0


def test_scale_refuses_what_has_no_scale_and_needs_replicas(objects):
    r = objects("scale", "pod/solo", "--replicas=2")
    assert r.code == 1 and "the server could not find the requested resource" in r.err
    with pytest.raises(SystemExit) as exit_:
        objects("scale", "deployment/web")
    assert exit_.value.code == 2  # argparse: the required --replicas is missing


def test_label_adds_refuses_to_overwrite_then_overwrites_and_removes(objects):
    assert objects("label", "pod", "solo", "tier=front").out == "pod/solo labeled\n"
    r = objects("label", "pod/solo", "app=other")
    assert (r.code, r.err) == (
        1,
        "error: 'app' already has a value (web), and --overwrite is false\n",
    )
    assert objects("label", "pod/solo", "app=other", "--overwrite").out == "pod/solo labeled\n"
    assert objects("label", "pod/solo", "tier-").out == "pod/solo unlabeled\n"
    assert objects("label", "pod/solo", "app=other").out == "pod/solo not labeled\n"
    r = objects("get", "pods", "solo", "-o", "jsonpath={.metadata.labels}")
    assert r.out == '{"app":"other"}'


def test_label_by_selector_and_annotate(objects):
    r = objects("label", "pods", "-l", "app=web", "version=v1")
    assert r.out == "pod/solo labeled\n"
    r = objects("annotate", "deployment/web", "kubernetes.io/change-cause=scaled for the lab")
    assert r.out == "deployment.apps/web annotated\n"
    r = objects("get", "deploy", "web", "-o", "json")
    assert (
        json.loads(r.out)["metadata"]["annotations"]["kubernetes.io/change-cause"]
        == "scaled for the lab"
    )
    r = objects("annotate", "deployment", "web", "kubernetes.io/change-cause-")
    assert r.out == "deployment.apps/web annotated\n"  # a prefixed key is removed too
    r = objects("get", "deploy", "web", "-o", "jsonpath={.metadata.annotations}")
    assert "change-cause" not in r.out


def test_label_needs_a_change_and_an_object(objects):
    assert objects("label", "pod", "solo").err == "error: at least one label update is required\n"
    assert objects("label", "tier=front").err.startswith(
        "error: one or more resources must be specified"
    )


def test_custom_columns_as_kubectl_prints_them(objects):
    r = objects(
        "get",
        "pods",
        "-o",
        "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app,IP:.status.podIP",
    )
    assert r.out.splitlines() == ["NAME   APP   IP", "solo   web   <none>"]
    r = objects(
        "get",
        "deploy",
        "web",
        "-o",
        "custom-columns=IMAGES:{.spec.template.spec.containers[*].image}",
    )
    assert r.out == "IMAGES\nnginx\n"
    r = objects("get", "pods", "-o", "custom-columns=NAME")
    assert (r.code, r.err) == (
        1,
        "error: unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>\n",
    )


def test_get_events_prints_kubectls_event_table(labkit, api):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "solo", "namespace": "default", "uid": "u1"},
    }
    event = EventRecorder("kubelet").record(
        pod, "Warning", "Unhealthy", "Readiness probe failed: ", time.time()
    )
    api.client().perform(event)
    r = labkit("get", "events")
    header, row = r.out.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert row.split()[1:] == ["Warning", "Unhealthy", "pod/solo", "Readiness", "probe", "failed:"]


def test_describe_pod_shows_state_last_state_and_probes():
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "node1", "containers": [{
            "name": "web", "image": "nginx", "ports": [{"containerPort": 80}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 2},
            "livenessProbe": {"exec": {"command": ["cat", "/tmp/ok"]}}}]},
        "status": {"phase": "Running", "podIP": "10.244.1.5", "containerStatuses": [{
            "name": "web", "ready": False, "restartCount": 1, "containerID": "lab_kit://42",
            "state": {"running": {"startedAt": "2026-12-03T07:00:00Z"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "Error",
                                         "startedAt": "2026-12-03T06:59:00Z",
                                         "finishedAt": "2026-12-03T06:59:59Z"}}}]},
    }  # fmt: skip
    text = describe(pod)
    for line in (
        "    Container ID:   lab_kit://42",
        "    State:          Running",
        "      Started:      Thu, 03 Dec 2026 07:00:00 +0000",
        "    Last State:     Terminated",
        "      Reason:       Error",
        "      Exit Code:    137",
        "    Ready:          False",
        "    Restart Count:  1",
        "    Liveness:       exec [cat /tmp/ok] delay=0s timeout=1s period=10s #success=1 #failure=3",
        "    Readiness:      http-get http://:80/ready delay=0s timeout=1s period=2s #success=1 #failure=3",
    ):
        assert line in text.splitlines(), line
    waiting = {
        **pod,
        "status": {
            "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ErrImagePull"}}}]
        },
    }
    assert "    State:          Waiting\n      Reason:       ErrImagePull" in describe(waiting)


class WatchingClient:
    """The two calls `get -w` makes: a list, then a watch from its resourceVersion."""

    def __init__(self, items: list[dict], events: list[dict]):
        self.items, self.events, self.asked = items, events, {}

    def list(self, kind, namespace=None, label_selector=""):
        return {"items": self.items, "metadata": {"resourceVersion": "41"}}

    def watch(
        self, kind, namespace=None, rv=0, timeout_s=None, label_selector="", field_selector=""
    ):
        self.asked = {"rv": rv, "timeout_s": timeout_s, "namespace": namespace}
        yield from self.events

    def close(self):
        pass


def test_get_watch_prints_the_list_then_a_row_per_change(capsys):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo", "namespace": "default"},
           "status": {"phase": "Pending"}}  # fmt: skip
    running = {**pod, "status": {"phase": "Running"}}
    other = {**pod, "metadata": {"name": "other", "namespace": "default"}}
    client = WatchingClient([pod], [{"type": "BOOKMARK", "object": {}}, {"type": "MODIFIED", "object": running},
                                    {"type": "ADDED", "object": other}])  # fmt: skip
    code = main(["get", "pods", "solo", "-w", "--request-timeout", "2s"], connect=lambda: client)
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and client.asked == {"rv": 41, "timeout_s": 2, "namespace": "default"}
    assert [line.split()[:3] for line in lines] == [
        ["NAME", "READY", "STATUS"], ["solo", "0/0", "Pending"], ["solo", "0/0", "Running"]]  # fmt: skip


def test_rollout_restart_stamps_the_template_and_undo_takes_the_previous_one(objects, api):
    r = objects("rollout", "restart", "deployment/web")
    assert (r.code, r.out) == (0, "deployment.apps/web restarted\n")
    d = json.loads(objects("get", "deploy", "web", "-o", "json").out)
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    r = objects("rollout", "undo", "deployment/web")
    assert r.code == 1 and r.err == 'error: no rollout history found for deployment "web"\n'
    client, owner = api.client(), meta_ref(d)
    for revision, image in ((1, "nginx:1.24"), (2, "nginx")):  # what the controller would have made
        client.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": f"web-{revision}", "namespace": "default", "ownerReferences": [owner],
            "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web", "pod-template-hash": str(revision)}},
                     "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": str(revision)}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}})  # fmt: skip
    r = objects("rollout", "undo", "deploy", "web")
    assert r.out == "deployment.apps/web rolled back\n"
    d = json.loads(objects("get", "deploy", "web", "-o", "json").out)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.24"
    assert d["spec"]["template"]["metadata"]["labels"] == {"app": "web"}


def meta_ref(obj: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True}  # fmt: skip


def test_wait_for_delete_and_for_a_pod_that_cannot_become_ready(objects, api):
    r = objects("wait", "--for=delete", "pod/gone", "--timeout=1s")
    assert (r.code, r.out) == (0, "pod/gone condition met\n")
    r = objects("wait", "--for=condition=Ready", "pod/solo", "--timeout=1s")
    assert r.code == 1 and "timed out" in r.err  # no kubelet here: it never gets Ready
    r = objects("wait", "--for=jsonpath={.x}", "pod/solo")
    assert r.code == 1 and "labkit waits for condition=Ready" in r.err


@pytest.mark.parametrize(
    "verb", ["up", "down", "status", "trace", "get", "scale", "rollout", "wait", "logs"]
)
def test_every_command_has_examples_and_its_own_usage_on_a_bad_flag(verb, capsys):
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    assert "example" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        main([verb, "--no-such-flag"])
    assert bad.value.code == 2 and f"usage: labkit {verb}" in capsys.readouterr().err


def test_apply_with_a_namespace_puts_objects_there_and_refuses_another(labkit, tmp_path):
    path = tmp_path / "pod.yml"
    path.write_text(POD)
    ns = tmp_path / "ns.yml"
    ns.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
    assert labkit("apply", "-f", str(ns)).code == 0
    r = labkit("apply", "-n", "team", "-f", str(path))
    assert (r.code, r.out) == (0, "pod/solo created\n")
    assert labkit("get", "pods", "-n", "team", "-o", "name").out == "pod/solo\n"
    path.write_text(POD.replace("name: solo", "name: solo\n  namespace: default"))
    r = labkit("apply", "-n", "team", "-f", str(path))
    assert r.code == 1 and r.err.startswith(
        'error: the namespace from the provided object "default" does not match'
    )


def test_expose_makes_a_service_over_the_deployments_pods(objects, labkit):
    r = objects("expose", "deployment", "web", "--port=80", "--target-port=8080")
    assert (r.code, r.out) == (0, "service/web exposed\n")
    svc = json.loads(labkit("get", "svc", "web", "-o", "json").out)
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 8080}
    assert svc["spec"]["clusterIP"].startswith("10.")
    r = objects("expose", "deploy/web", "--type=NodePort", "--name=web-np")
    assert r.code == 1 and "couldn't find port via --port flag or introspection" in r.err
    r = objects("expose", "pod/solo", "--port=80", "--type=NodePort", "--name=solo-np")
    assert r.out == "service/solo-np exposed\n"
    assert (
        30000
        <= json.loads(labkit("get", "svc", "solo-np", "-o", "json").out)["spec"]["ports"][0][
            "nodePort"
        ]
        <= 32767
    )


def test_the_books_folder_applies_as_a_whole_and_its_refused_manifest_lives_apart(labkit):
    r = labkit("apply", "-f", "labs/manifests/book/")
    assert r.code == 0 and r.out.splitlines()[:3] == [
        "deployment.apps/random-generator created",
        "ingress.networking.k8s.io/random-generator created",
        "service/random-generator created",
    ]
    r = labkit("apply", "-f", "labs/manifests/book-refused/ingress-with-dispatch.yml")
    assert r.code == 1 and 'no matches for kind "Ingress" in version "extensions/v1beta1"' in r.err
