"""The controller-manager agent on the runner, against the real API in-process, on virtual
time: a Deployment becomes a ReplicaSet and bound Pods; a quiet round is reported (what
`apply --wait` waits for); the 5 s resync runs controllers with no event at all."""

from __future__ import annotations

import asyncio

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.clock import FakeClock
from lab_kit.agents.controller_manager import ControllerManager
from lab_kit.agents.runner import Context, Runner


def node(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "busybox"}]},
            },
        },
    }


async def started(api: InProcessApi, clock: FakeClock) -> tuple[Runner, asyncio.Task]:
    runner = Runner(ControllerManager(Context(api.async_client(), clock)))
    task = asyncio.create_task(runner.run())
    await clock.settle()
    return runner, task


def test_a_deployment_becomes_bound_pods_and_a_quiet_round_is_reported():
    async def scenario():
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        for n in ("node1", "node2"):
            api.registry.create(node(n))
        runner, task = await started(api, clock)
        api.registry.create(deployment("web", 3))
        await clock.settle()
        pods = api.registry.store.list("Pod", "default")
        assert len(pods) == 3
        assert {p["spec"].get("nodeName") for p in pods} == {"node1", "node2"}
        assert len(api.registry.store.list("ReplicaSet", "default")) == 1
        report = api.agents["controller-manager"]
        assert report["appliedResourceVersion"] == api.registry.store.rv
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


def test_resync_runs_the_controllers_without_any_event():
    async def scenario():
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        runner, task = await started(api, clock)
        before = runner.syncs
        await clock.advance(4.9)
        assert runner.syncs == before  # nothing changed, the period has not passed
        await clock.advance(0.2)
        assert runner.syncs == before + 1  # RESYNC: a controller's deadline may have come
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
