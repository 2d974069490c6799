"""The kubelet's heartbeat and its partition gate, on virtual time: the Node's status every
10 s; a node disconnected (its flag in the run dir) posts nothing and hears nothing, so the
node lifecycle controller's grace period runs out; once back, the heartbeat says Ready and
the status manager writes back the pod readiness the controller took away."""

from __future__ import annotations

import copy
import os

from test_kubelet import Node, pod, scenario

from lab_kit.adapters.partition import UNREACHABLE
from lab_kit.agents.kubelet import NODE_STATUS_UPDATE_FREQUENCY_S
from lab_kit.controllers import node_lifecycle
from lab_kit.controllers.state import Snapshot
from lab_kit.model import meta
from lab_kit.model.kinds import by_kind_name

NODE = by_kind_name("Node")


def ready(node: Node) -> dict:
    registered = node.api.registry.get(NODE, "", "node1")
    return next(c for c in registered["status"]["conditions"] if c["type"] == "Ready")


def disconnect(node: Node) -> None:
    flag = node.run_dir.partition_flag("node1")
    os.makedirs(os.path.dirname(flag), exist_ok=True)
    open(flag, "w").close()


def connect(node: Node) -> None:
    os.remove(node.run_dir.partition_flag("node1"))


def run_node_lifecycle(node: Node) -> None:
    """One round of the node lifecycle controller over the store (the controller-manager's
    part, done here by hand: this test drives only the kubelet)."""
    store = node.api.registry.store
    state = Snapshot.of([*store.list("Node"), *store.list("Pod", "default")])
    for action in node_lifecycle.reconcile(state, node.clock.time()):
        obj = copy.deepcopy(action.obj)
        node.api.registry.update(obj, subresource="status")


def test_the_node_status_is_posted_every_ten_seconds_keeping_its_transition_time(tmp_path):
    async def body(node: Node) -> None:
        first = ready(node)
        await node.advance(NODE_STATUS_UPDATE_FREQUENCY_S)
        later = ready(node)
        assert later["lastHeartbeatTime"] == meta.rfc3339(node.clock.time())
        assert later["lastHeartbeatTime"] != first["lastHeartbeatTime"]
        assert later["lastTransitionTime"] == first["lastTransitionTime"]

    scenario(tmp_path, body)


def test_a_disconnected_kubelet_posts_nothing_and_its_node_goes_unknown(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("web"))
        await node.advance(1)
        assert node.condition("web", "Ready") == "True"
        disconnect(node)
        silent_since = ready(node)["lastHeartbeatTime"]
        await node.advance(node_lifecycle.NODE_MONITOR_GRACE_PERIOD_S + 1)
        assert ready(node)["lastHeartbeatTime"] == silent_since  # no heartbeat got through
        run_node_lifecycle(node)
        assert ready(node)["status"] == "Unknown"
        assert node.condition("web", "Ready") == "False"
        await node.advance(NODE_STATUS_UPDATE_FREQUENCY_S)  # still cut off: stays so
        assert node.condition("web", "Ready") == "False"

    scenario(tmp_path, body)


def test_a_reconnected_kubelet_makes_its_node_and_its_pods_ready_again(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("web"))
        await node.advance(1)
        disconnect(node)
        await node.advance(node_lifecycle.NODE_MONITOR_GRACE_PERIOD_S + 1)
        run_node_lifecycle(node)
        assert node.condition("web", "Ready") == "False"
        connect(node)
        await node.advance(NODE_STATUS_UPDATE_FREQUENCY_S)
        await node.advance(1)
        assert ready(node)["status"] == "True"
        assert ready(node)["reason"] == "KubeletReady"
        assert node.condition("web", "Ready") == "True"

    scenario(tmp_path, body)


def test_a_disconnected_kubelet_does_not_hear_of_new_pods(tmp_path):
    async def body(node: Node) -> None:
        disconnect(node)
        await node.advance(20)  # its watches end at their next line; lists fail
        node.create(pod("late"))
        await node.advance(5)
        assert "phase" not in node.status("late") or node.status("late")["phase"] == "Pending"
        assert not node.sandbox.processes
        connect(node)
        await node.advance(5)  # the informers list again
        assert node.sandbox.processes

    scenario(tmp_path, body)


def test_the_gate_fails_requests_as_an_unreachable_server(tmp_path):
    async def body(node: Node) -> None:
        disconnect(node)
        try:
            await node.kubelet.ctx.client.get(NODE, "node1")
        except Exception as e:
            assert UNREACHABLE in str(e)
            assert getattr(e, "code", None) == 503
        else:
            raise AssertionError("a disconnected kubelet reached the API")

    scenario(tmp_path, body)


def test_a_status_write_lost_in_transit_is_written_again_and_the_kubelet_reports(tmp_path):
    """A write that times out (the API server frozen) must not end the pod's status writer:
    the status stays to write, and the kubelet reports again once it is written."""
    import httpx

    async def body(node: Node) -> None:
        client = node.kubelet.ctx.client
        real, failures = client.update_status, []

        async def flaky(obj: dict) -> dict:
            if not failures:
                failures.append(obj)
                raise httpx.ReadTimeout("")
            return await real(obj)

        client.update_status = flaky
        node.create(pod("web"))
        await node.advance(1)
        assert failures  # the first write was lost
        await node.advance(2)
        assert node.condition("web", "Ready") == "True"
        assert all(w.settled for w in node.kubelet.workers.values())

    scenario(tmp_path, body)
