"""The in-process API: the real Registry behind the clients' own transports, so agents,
Lab and CLI are tested without a socket, a second process or root."""

from __future__ import annotations

import asyncio

import pytest

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name

SERVICE = by_kind_name("Service")


def svc(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": 80}]}}  # fmt: skip


def test_the_sync_client_gets_the_real_apis_answers_and_errors():
    client = InProcessApi().client()
    created = client.create(svc("web"))
    assert created["spec"]["clusterIP"] == "10.104.187.49"  # the seeded allocator's first
    with pytest.raises(ApiError) as refused:
        client.create(svc("web"))
    assert refused.value.code == 409 and refused.value.reason == "AlreadyExists"
    events = list(client.watch(SERVICE, rv=0))  # a sync watch: what is there, then the end
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert client.converged(timeout_s=5)["converged"]  # no agent reported: nobody is behind


def test_an_async_watch_streams_live_events_and_converged_waits_for_reports():
    async def scenario():
        api = InProcessApi()
        client = api.async_client()
        seen: list[str] = []

        async def watch() -> None:
            async for event in client.watch(SERVICE, rv=api.registry.store.rv):
                seen.append(event["object"]["metadata"].get("name", event["type"]))
                if "late" in seen:
                    return

        watching = asyncio.create_task(watch())
        await asyncio.sleep(0)
        await client.create(svc("late"))
        await asyncio.wait_for(watching, 5)
        assert seen == ["late"]
        await client.report_applied("kube-proxy/node1", 1)
        from lab_kit.adapters.apiclient import Call

        waiting = asyncio.create_task(
            client.call(Call("GET", "/lab/v1/converged", {"timeoutSeconds": "5"}))
        )
        for _ in range(50):  # let the request reach its wait (yields, not a sleep)
            await asyncio.sleep(0)
        assert not waiting.done()  # kube-proxy/node1 is behind
        await client.report_applied("kube-proxy/node1", api.registry.store.rv)
        assert (await asyncio.wait_for(waiting, 5))["converged"]
        assert api.agents["kube-proxy/node1"]["appliedResourceVersion"] == api.registry.store.rv
        await client.close()

    asyncio.run(scenario())
