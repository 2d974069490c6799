"""Waiting without sleeping (lab_kit.lab.waiting), on the real API in-process: a stepping
clock makes every deadline arrive in a bounded number of rounds; what the controllers and
kubelets would write while `apply --wait` waits is written by the test, one step per round
(in place of the watch the wait blocks on)."""

from __future__ import annotations

import pytest
from lab_fixtures import Steps, pod, ready_status, seed_pod

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.lab import access, objects, waiting
from lab_kit.lab.access import Completed
from lab_kit.lab.errors import LabError
from lab_kit.model import meta

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "main", "image": "busybox"}]}},
    },
}  # fmt: skip


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


# --- apply --wait ----------------------------------------------------------------------------


def apply(client: ApiClient, obj: dict) -> list[dict]:
    """What `apply` says it created or changed (what `--wait` waits for)."""
    return objects.apply(client, obj).changed


def stuck(reason: str, message: str = "") -> dict:
    return {"phase": "Pending", "containerStatuses": [{"name": "main", "ready": False, "state": {
        "waiting": {"reason": reason, "message": message}}}]}  # fmt: skip


class Rollout:
    """The Deployment's controllers and kubelets, by hand: its ReplicaSet, pods and status."""

    def __init__(self, api: InProcessApi, deployment: dict):
        self.api, self.d = api, api.registry.store.get("Deployment", "default", "web")
        template = meta.deep_copy(meta.spec(self.d)["template"])
        template["metadata"]["labels"]["pod-template-hash"] = "abc"
        self.rs = api.registry.create({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-abc", "namespace": "default", "labels": {"app": "web"},
                         "ownerReferences": [meta.owner_reference(self.d)]},
            "spec": {"replicas": 2, "selector": {"matchLabels": template["metadata"]["labels"]},
                     "template": template},
        })  # fmt: skip

    def pod(self, name: str, status: dict) -> None:
        obj = pod(name, labels={"app": "web", "pod-template-hash": "abc"})
        obj["metadata"]["ownerReferences"] = [meta.owner_reference(self.rs)]
        existing = self.api.registry.store.get("Pod", "default", name)
        if existing is None:
            seed_pod(self.api, obj, status=status)
        else:
            self.api.registry.update({**existing, "status": status}, subresource="status")

    def status(self, updated: int, available: int, replicas: int = 2) -> None:
        d = self.api.registry.store.get("Deployment", "default", "web")
        status = {"observedGeneration": meta.metadata(d)["generation"], "replicas": replicas,
                  "updatedReplicas": updated, "availableReplicas": available}  # fmt: skip
        self.api.registry.update({**d, "status": status}, subresource="status")


def steps(monkeypatch, client: ApiClient, *changes) -> list[str]:
    """Each round the wait blocks on a watch, the next change happens instead; the calls
    the wait made ("converged", "list Pod", "watch") in order."""
    calls: list[str] = []
    todo = list(changes)
    real_converged, real_list = client.converged, client.list

    def watch_change(kind, timeout_s, rv=None) -> None:
        calls.append("watch")
        if todo:
            todo.pop(0)()

    def converged(timeout_s=10, agents=None) -> dict:
        calls.append("converged")
        return real_converged(timeout_s, agents)

    def listing(kind, *args, **kwargs) -> dict:
        calls.append(f"list {kind.kind}")
        return real_list(kind, *args, **kwargs)

    monkeypatch.setattr(client, "watch_change", watch_change)
    monkeypatch.setattr(client, "converged", converged)
    monkeypatch.setattr(client, "list", listing)
    return calls


def test_apply_wait_ignores_pods_the_apply_did_not_touch(client, api):
    seed_pod(api, pod("never-ready"), status={"phase": "Running"})  # there before, not Ready
    seed_pod(api, pod("pulling"), status=stuck("ErrImagePull"))  # nor will it ever be
    changed = apply(client, pod("new"))
    client.apply([pod("never-ready")])  # unchanged: the next apply of it waits for nothing
    api.registry.bind("default", "new", "node1")
    seed_ready = api.registry.store.get("Pod", "default", "new")
    api.registry.update({**seed_ready, "status": ready_status()}, subresource="status")
    clock = Steps()
    assert waiting.wait_applied(client, changed, 60, now=clock) == ["pod/new condition met"]
    assert clock.reads <= 4  # no rounds, no timeout
    assert objects.apply(client, pod("never-ready")).changed == []
    assert waiting.wait_applied(client, [], 60, now=clock) == []


def test_apply_wait_reports_each_new_waiting_line_and_ends_with_the_data_plane(
    client, api, monkeypatch
):
    changed = apply(client, DEPLOYMENT)
    rollout = Rollout(api, DEPLOYMENT)
    calls = steps(
        monkeypatch,
        client,
        lambda: rollout.pod("web-abc-1", {"phase": "Pending"}),  # nothing to say: same line
        lambda: (rollout.pod("web-abc-2", {"phase": "Pending"}), rollout.status(2, 0)),
        lambda: (rollout.pod("web-abc-1", ready_status()), rollout.status(2, 1)),
        lambda: (rollout.pod("web-abc-2", ready_status()), rollout.status(2, 2)),
    )
    seen: list[str] = []
    lines = waiting.wait_applied(client, changed, 60, now=Steps(), report=seen.append)
    assert seen == [
        'Waiting for deployment "web" spec update to be observed...',
        'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are available...',
        'Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...',
    ]
    assert lines == ['deployment "web" successfully rolled out']
    assert calls.count("watch") == 4
    assert calls[-1] == "converged" and "list Pod" in calls[-5:]  # the data plane, after


def test_a_pod_that_will_not_become_ready_ends_the_wait_at_once(client, api):
    changed = apply(client, DEPLOYMENT) + apply(client, pod("solo"))
    rollout = Rollout(api, DEPLOYMENT)
    rollout.status(2, 1)
    rollout.pod("web-abc-1", ready_status())
    rollout.pod("web-abc-2", stuck("ErrImagePull", 'image "busybox" is not in the lab'))
    seed = api.registry.store.get("Pod", "default", "solo")
    api.registry.update({**seed, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity"}]}},
        subresource="status")  # fmt: skip
    clock = Steps()
    with pytest.raises(LabError) as failed:
        waiting.wait_applied(client, changed, 60, now=clock)
    assert str(failed.value).splitlines() == [
        'error: deployment "web" will not become Ready: pod "web-abc-2": container "main" is '
        'waiting: ErrImagePull: image "busybox" is not in the lab',
        'error: pod "solo" will not become Ready: it cannot be scheduled: 0/3 nodes are '
        "available: 3 node(s) didn't match Pod's node affinity",
    ]
    assert clock.reads <= 4  # at once: never the timeout


def test_apply_wait_names_what_is_still_waiting_at_its_timeout(client, api, monkeypatch):
    changed = apply(client, DEPLOYMENT) + apply(client, pod("broken"))
    rollout = Rollout(api, DEPLOYMENT)
    rollout.status(2, 1)
    seed = api.registry.store.get("Pod", "default", "broken")
    api.registry.update({**seed, "status": {"phase": "Failed", "reason": "Evicted",
                                            "message": "low on memory"}}, subresource="status")  # fmt: skip
    calls = steps(monkeypatch, client)
    with pytest.raises(LabError) as late:
        waiting.wait_applied(client, changed, 5, now=Steps())
    assert str(late.value).splitlines() == [
        'timed out after 5 s waiting for deployment "web" rollout to finish: 1 of 2 updated '
        "replicas are available",
        'error: pod "broken" will not become Ready: it failed (Evicted: low on memory)',
    ]
    assert 1 <= calls.count("watch") <= 5


def test_apply_wait_waits_for_every_agent_first(client, api):
    changed = apply(client, pod("p"))
    api.handler.agents.report("kubelet/node1", 1, {})  # an agent behind the store
    with pytest.raises(LabError, match=r"waiting for the lab to converge .*kubelet/node1"):
        waiting.wait_applied(client, changed, 5, now=Steps())
    with pytest.raises(LabError, match=r"converge .*kubelet/node1"):  # a Service: that alone
        waiting.wait_applied(client, [], 5, now=Steps())
