"""The lab's API server inside the caller's own process: the fake of the API-client seam.

    AsyncApiClient / ApiClient --httpx transport--> ApiHandler --> the real pure Registry

Tests (and dry runs) get the real API — schema, defaults, validation, allocation, watch
with bookmarks, convergence reports — with no socket, no root and no second process:

    api = InProcessApi()                 # a bootstrapped Registry (namespaces, `kubernetes`)
    client = api.async_client()          # what agents take; `api.client()` for Lab and CLI
    api.registry.create({...})           # or seed the store directly

The async transport streams watches live (the same loop as the real server,
`lab_kit.adapters.api_serving`). The sync transport cannot wait for anyone else in its
own thread: a sync watch returns what is already there and ends, and `converged`
answers at once.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx

from lab_kit.adapters import pki
from lab_kit.adapters.api_serving import WatchFeed, converged, encode
from lab_kit.adapters.apiclient import ApiClient, AsyncApiClient
from lab_kit.api.authn import TokenIssuer
from lab_kit.api.handler import ApiHandler, ConvergedWait, Reply, WatchStream
from lab_kit.api.registry import Registry

JSON = {"Content-Type": "application/json"}


class InProcessApi:
    def __init__(self, registry: Registry | None = None, clock: Callable[[], float] = time.time):
        if registry is None:
            registry = Registry(clock=clock)
            registry.bootstrap()
            _credentials(registry)
        self.registry = registry
        self.handler = ApiHandler(registry)

    @property
    def agents(self) -> dict[str, dict]:
        """What each agent last reported (name -> report)."""
        return self.handler.agents.applied

    def async_client(self) -> AsyncApiClient:
        return AsyncApiClient(transport=_AsyncTransport(self.handler))

    def client(self) -> ApiClient:
        return ApiClient(transport=_SyncTransport(self.handler))


def _reply(answer: Reply) -> httpx.Response:
    warnings = [("Warning", value) for value in answer.warnings]
    if isinstance(answer.body, str):
        return httpx.Response(answer.status, text=answer.body, headers=warnings)
    headers = [*JSON.items(), *warnings]
    return httpx.Response(answer.status, headers=headers, content=json.dumps(answer.body).encode())


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, handler: ApiHandler):
        self.handler = handler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        answer = self.handler.handle(
            request.method, request.url.path, dict(request.url.params), body
        )
        if isinstance(answer, WatchStream):
            return httpx.Response(
                200, headers=JSON, stream=_FeedStream(WatchFeed(self.handler, answer))
            )
        if isinstance(answer, ConvergedWait):
            return _reply(Reply(200, await converged(self.handler, answer)))
        return _reply(answer)


class _FeedStream(httpx.AsyncByteStream):
    def __init__(self, feed: WatchFeed):
        self.feed = feed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for line in self.feed.lines():
            yield line

    async def aclose(self) -> None:
        self.feed.close()


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, handler: ApiHandler):
        self.handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        answer = self.handler.handle(
            request.method, request.url.path, dict(request.url.params), body
        )
        if isinstance(answer, WatchStream):
            return httpx.Response(200, headers=JSON, stream=_Lines(answer))
        if isinstance(answer, ConvergedWait):
            return _reply(Reply(200, self.handler.convergence(answer.agents)))
        return _reply(answer)


class _Lines(httpx.SyncByteStream):
    """A sync watch: what is there now (backlog and a bookmark), then the end."""

    def __init__(self, watch: WatchStream):
        self.watch = watch

    def __iter__(self) -> Iterator[bytes]:
        for payload in [*self.watch.start(), *self.watch.idle()]:
            yield encode(payload)


@functools.cache
def _test_keys() -> tuple[bytes, str]:
    """One service-account key and CA per test process (RSA keys take ~50 ms to make)."""
    key = pki.new_key_pem()
    return key, pki.make_ca("lab_kit test CA").cert_pem.decode()


def _credentials(registry: Registry) -> None:
    """What the API server's secure port sets up (`agents/apiserver_secure.py`): tokens are
    signed and `kube-root-ca.crt` is published, so the kubelet can fill pods' volumes."""
    key, ca_pem = _test_keys()
    registry.token_issuer = TokenIssuer(key)
    registry.publish_root_ca(ca_pem)
