"""Nothing an API outage does ends an agent (virtual time, the real API in-process behind a
transport that can be cut): a registration that fails is tried again, a sync whose API
calls fail is tried again after a back-off that doubles, the controller-manager catches up
once the API is back, and a watch that goes silent (a frozen server) is given up and
listed again."""

from __future__ import annotations

import asyncio

import httpx

from lab_kit.adapters.api_inprocess import InProcessApi, _AsyncTransport
from lab_kit.adapters.apiclient import AsyncApiClient
from lab_kit.adapters.clock import FakeClock
from lab_kit.agents.controller_manager import ControllerManager
from lab_kit.agents.informer import Informer
from lab_kit.agents.runner import RETRY_INITIAL_S, Agent, Context, Runner, Watch, api_unavailable
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name


class Outage(httpx.AsyncBaseTransport):
    """The in-process API, refusing new requests while `down` (a server that went away).
    Watches already open keep streaming, as they would from a server that restarts its
    listener only."""

    def __init__(self, api: InProcessApi, methods: tuple[str, ...] = ("GET", "POST", "PUT")):
        self.inner = _AsyncTransport(api.handler)
        self.down = False
        self.methods = methods  # what is refused while down
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method in self.methods:
            self.refused += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await self.inner.handle_async_request(request)


def node(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip


class Registering(Agent):
    """Registers a Node in start(), as a kubelet does; counts its syncs."""

    watches = {"nodes": Watch("Node")}

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.report_as = "registering"

    async def start(self) -> None:
        await self.ctx.client.create(node("node1"))

    async def sync(self) -> dict | None:
        return {}


def test_a_registration_the_api_cannot_take_is_tried_again_until_it_can():
    async def scenario() -> None:
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        outage = Outage(api, methods=("POST",))  # lists get through, the registration not
        outage.down = True
        runner = Runner(Registering(Context(AsyncApiClient(transport=outage), clock)))
        task = asyncio.create_task(runner.start())
        await clock.settle()
        assert runner.failures == 1 and not task.done()
        await clock.advance(5)  # 0.2 + 0.4 + 0.8 + 1.6 s: four more attempts, all refused
        assert runner.failures == 5 and not task.done()
        outage.down = False
        await clock.advance(3.2)  # the next attempt gets through
        assert task.done() and task.exception() is None
        assert api.registry.store.get("Node", "", "node1") is not None
        assert runner.syncs == 1 and api.agents["registering"]
        await runner.close()

    asyncio.run(scenario())


def test_a_sync_whose_api_calls_fail_backs_off_and_the_controllers_catch_up():
    async def scenario() -> None:
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        api.registry.create(node("node1"))
        outage = Outage(api)
        runner = Runner(ControllerManager(Context(AsyncApiClient(transport=outage), clock)))
        task = asyncio.create_task(runner.run())
        await clock.settle()
        outage.down = True  # the watches stay open: they see the Deployment arrive
        api.registry.create(
            {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "web", "namespace": "default"},
             "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
        )  # fmt: skip
        await clock.settle()
        assert runner.failures == 1 and not api.registry.store.list("ReplicaSet", "default")
        refused = outage.refused
        await clock.advance(RETRY_INITIAL_S)  # one retry, refused again
        assert runner.failures == 2 and outage.refused > refused
        await clock.advance(2 * RETRY_INITIAL_S - 0.01)  # the back-off doubled: not yet
        assert runner.failures == 2
        outage.down = False
        await clock.advance(0.01)
        await clock.advance(0)
        assert len(api.registry.store.list("Pod", "default")) == 2  # caught up on its own
        assert not task.done()  # and still running
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


class SilentWatch:
    """Lists one version, then watches forever without a line (a frozen server)."""

    def __init__(self) -> None:
        self.lists = 0

    async def list(self, *args: object) -> dict:
        self.lists += 1
        return {"metadata": {"resourceVersion": str(self.lists)}, "items": []}

    async def watch(self, *args: object):
        await asyncio.Event().wait()
        yield {}  # pragma: no cover


def test_a_silent_watch_is_given_up_and_listed_again():
    async def scenario() -> None:
        clock = FakeClock()
        client = SilentWatch()
        informer = Informer(client, by_kind_name("Pod"), lambda: None, clock=clock, silence_s=45)  # type: ignore[arg-type]
        task = asyncio.create_task(informer.run())
        await clock.settle()
        assert client.lists == 1
        await clock.advance(44.9)
        assert client.lists == 1  # quiet, not yet broken
        await clock.advance(0.1 + 0.05)  # silent for 45 s: given up; listed after back-off
        assert client.lists == 2 and informer.seen_rv == 2
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


class Bookmarks:
    """Lists version 5, then sends bookmarks as told (`queue`)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict] = asyncio.Queue()

    async def list(self, *args: object) -> dict:
        return {"metadata": {"resourceVersion": "5"}, "items": []}

    async def watch(self, *args: object):
        while True:
            yield await self.queue.get()


def bookmark(rv: int) -> dict:
    return {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": str(rv)}}}


def test_a_bookmark_keeps_a_watch_alive_and_wakes_the_agent_only_for_a_newer_version():
    async def scenario() -> None:
        clock = FakeClock()
        client = Bookmarks()
        woken: list[int] = []
        informer = Informer(client, by_kind_name("Pod"), lambda: woken.append(1), clock=clock,
                            silence_s=45)  # type: ignore[arg-type]  # fmt: skip
        task = asyncio.create_task(informer.run())
        await clock.settle()
        assert len(woken) == 1  # the list
        for _ in range(3):  # a heartbeat every 30 s: never silent for 45
            await clock.advance(30)
            client.queue.put_nowait(bookmark(5))
            await clock.settle()
        assert len(woken) == 1 and informer.seen_rv == 5
        client.queue.put_nowait(bookmark(9))
        await clock.settle()
        assert len(woken) == 2 and informer.seen_rv == 9
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


def test_what_counts_as_the_api_being_away():
    request = httpx.Request("GET", "http://apiserver/")
    assert api_unavailable(httpx.ConnectError("refused", request=request))
    assert api_unavailable(httpx.ReadTimeout("frozen", request=request))
    assert api_unavailable(ApiError(503, "ServiceUnavailable", "x"))
    assert api_unavailable(ApiError(429, "TooManyRequests", "x"))
    assert not api_unavailable(ApiError(422, "Invalid", "x"))
    assert not api_unavailable(FileNotFoundError("topology.toml"))
