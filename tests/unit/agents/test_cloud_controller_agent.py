"""The cloud-controller-manager agent on the runner, against the real API in-process, on
virtual time: a LoadBalancer Service gets its finalizer, an address from the pool and its
Events; a delete waits for the controller, which releases the address; a spent pool
leaves a Service pending until a retry finds an address freed; the agent reports quiet
rounds; the pool comes from the run dir's topology."""

from __future__ import annotations

import argparse
import asyncio

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.clock import FakeClock
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.cloud_controller import CloudControllerManager
from lab_kit.agents.runner import Context, Runner
from lab_kit.controllers.service_lb import FINALIZER
from lab_kit.lab.topologies import load_topology
from lab_kit.model.kinds import lookup

SERVICES = lookup("services")


def lb(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]},
    }


def node(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


async def started(api: InProcessApi, clock: FakeClock, pool: str) -> asyncio.Task:
    agent = CloudControllerManager(Context(api.async_client(), clock), pool)
    task = asyncio.create_task(Runner(agent).run())
    await clock.settle()
    return task


def ingress_ip(api: InProcessApi, name: str) -> str | None:
    svc = api.registry.store.get("Service", "default", name)
    ingress = (svc["status"].get("loadBalancer") or {}).get("ingress") or [{}]
    return ingress[0].get("ip")


def reasons(api: InProcessApi, name: str) -> list[str]:
    evs = [
        e
        for e in api.registry.store.list("Event", "default")
        if e["involvedObject"]["name"] == name
    ]
    return [e["reason"] for e in sorted(evs, key=lambda e: e["metadata"]["name"])]


async def stopped(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_an_address_the_finalizer_and_events_then_delete_releases():
    async def scenario():
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        api.registry.create(node("node1"))
        task = await started(api, clock, "198.51.100.32/31")
        api.registry.create(lb("web"))
        await clock.settle()
        svc = api.registry.store.get("Service", "default", "web")
        assert svc["metadata"]["finalizers"] == [FINALIZER]
        assert svc["status"]["loadBalancer"] == {
            "ingress": [{"ip": "198.51.100.32", "ipMode": "VIP"}]
        }
        assert reasons(api, "web") == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]
        assert api.agents["cloud-controller-manager"]["appliedResourceVersion"] > 0
        api.registry.delete(SERVICES, "default", "web")
        await clock.settle()
        assert api.registry.store.get("Service", "default", "web") is None
        assert reasons(api, "web")[-2:] == ["DeletingLoadBalancer", "DeletedLoadBalancer"]
        api.registry.create(lb("next"))
        await clock.settle()
        assert ingress_ip(api, "next") == "198.51.100.32"  # the address came back
        await stopped(task)

    asyncio.run(scenario())


def test_a_spent_pool_leaves_a_service_pending_until_a_retry_finds_an_address():
    async def scenario():
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        task = await started(api, clock, "198.51.100.32/32")  # one address
        api.registry.create(lb("first"))
        await clock.settle()
        api.registry.create(lb("second"))
        await clock.settle()
        assert ingress_ip(api, "first") == "198.51.100.32" and ingress_ip(api, "second") is None
        failed = [
            e
            for e in api.registry.store.list("Event", "default")
            if e["reason"] == "SyncLoadBalancerFailed"
        ]
        assert len(failed) == 1 and failed[0]["type"] == "Warning"
        assert "no address left in the pool 198.51.100.32/32" in failed[0]["message"]
        api.registry.delete(SERVICES, "default", "first")
        await clock.settle()
        assert ingress_ip(api, "second") is None  # upstream waits for the retry
        await clock.advance(5.0)
        assert ingress_ip(api, "second") == "198.51.100.32"
        await stopped(task)

    asyncio.run(scenario())


def test_the_pool_comes_from_the_run_dirs_topology(tmp_path):
    rd = RunDir(str(tmp_path))
    spec = load_topology()
    with open(spec.source) as src, open(rd.topology_file, "w") as dst:
        dst.write(src.read())
    api = InProcessApi()
    options = argparse.Namespace(pool=None, run_dir=str(tmp_path))
    agent = CloudControllerManager.create(Context(api.async_client()), options)
    assert isinstance(agent, CloudControllerManager)
    assert str(agent.controller.cloud.pool) == "198.51.100.32/27"
