"""Clients of the lab's API server over its Unix socket (or TCP): one sync, one async.

The sync `ApiClient` serves the CLI and notebooks; the async `AsyncApiClient` serves the
agents (controller-manager, kubelet, kube-proxy, DNS). Both build the same requests (see
`_Calls`), raise `ApiError` with the server's `Status`, and stream watches as one JSON
event per line, as client-go's watch decoder reads them. Each keeps the warnings of its
last answer in `warnings` (the `Warning: 299` headers, as client-go hands them to its
WarningHandler); `labkit apply` prints them as kubectl does.
"""

from __future__ import annotations

import builtins
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from lab_kit.api.warning import parse_warning_headers
from lab_kit.controllers.state import Action, Create, Delete, Update
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import Kind, by_kind_name, kind_of

BASE = "http://apiserver"  # the host part is ignored on a Unix socket


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict | None = None
    body: Any = None


class _Calls:
    """Pure request builders shared by both clients."""

    @staticmethod
    def list(
        kind: Kind, namespace: str | None, label_selector: str = "", field_selector: str = ""
    ) -> Call:
        params = {
            k: v
            for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector))
            if v
        }
        return Call("GET", kind.collection_path(namespace), params)

    @staticmethod
    def watch(
        kind: Kind,
        namespace: str | None,
        rv: int,
        label_selector: str = "",
        field_selector: str = "",
        timeout_s: int | None = None,
    ) -> Call:
        call = _Calls.list(kind, namespace, label_selector, field_selector)
        params = {
            **(call.params or {}),
            "watch": "1",
            "allowWatchBookmarks": "true",
            "resourceVersion": str(rv),
        }
        if timeout_s:
            params["timeoutSeconds"] = str(timeout_s)
        return Call("GET", call.path, params)

    @staticmethod
    def action(action: Action) -> Call:
        if isinstance(action, Create):
            kind = kind_of(action.obj)
            return Call("POST", kind.collection_path(meta.namespace(action.obj)), None, action.obj)
        if isinstance(action, Update):
            kind, obj = kind_of(action.obj), action.obj
            path = kind.object_path(meta.name(obj), meta.namespace(obj))
            if action.subresource == "binding":
                body = {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": meta.name(obj)},
                    "target": {"kind": "Node", "name": meta.spec(obj).get("nodeName", "")},
                }
                return Call("POST", path + "/binding", None, body)
            return Call(
                "PUT", path + (f"/{action.subresource}" if action.subresource else ""), None, obj
            )
        if isinstance(action, Delete):
            kind = by_kind_name(action.kind)
            options = {"preconditions": {"uid": action.uid}} if action.uid else None
            return Call("DELETE", kind.object_path(action.name, action.namespace), None, options)
        raise TypeError(action)


def _warnings(response: httpx.Response) -> list[str]:
    """The texts of the response's `299` warnings (the only code kubectl prints)."""
    found = parse_warning_headers(response.headers.get_list("Warning"))
    return [text for code, _agent, text in found if code == 299]


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        status = response.json()
    except ValueError:
        raise ApiError(response.status_code, "InternalError", response.text) from None
    raise ApiError.from_status(status)


# The API's Unix socket speaks plain HTTP, but an httpx transport builds a TLS context all
# the same, by default loading every CA certificate of certifi: ~10 MiB per process, the
# largest single cost of an agent. This one context, never used for TLS, loads none and is
# made once (in the zygote, so all agents share it).
UDS_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class ApiClient:
    """The sync client (CLI, notebooks). `transport`: another way to reach the API (the
    in-process one of `lab_kit.adapters.api_inprocess` in tests) instead of the socket."""

    def __init__(self, socket_path: str | None = None, timeout_s: float = 30,
                 transport: httpx.BaseTransport | None = None):  # fmt: skip
        self.socket_path = socket_path
        uds = httpx.HTTPTransport(uds=socket_path, verify=UDS_TLS) if socket_path else None
        self.http = httpx.Client(transport=transport or uds, base_url=BASE, timeout=timeout_s)
        self.warnings: list[str] = []  # of the last answer

    def close(self) -> None:
        self.http.close()

    def call(self, call: Call) -> Any:
        response = self.http.request(
            call.method,
            call.path,
            params=call.params,
            content=None if call.body is None else json.dumps(call.body),
        )
        self.warnings = _warnings(response)
        _raise_for(response)
        return response.json()

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> dict:
        return self.call(Call("GET", kind.object_path(name, namespace)))

    def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> dict:
        return self.call(_Calls.list(kind, namespace, label_selector, field_selector))

    def create(self, obj: dict, namespace: str | None = None) -> dict:
        kind = kind_of(obj)
        return self.call(
            Call("POST", kind.collection_path(namespace or meta.namespace(obj)), None, obj)
        )

    def perform(self, action: Action) -> Any:
        return self.call(_Calls.action(action))

    def delete(
        self, kind: Kind, name: str, namespace: str | None = None, grace_period_s: int | None = None
    ) -> dict:
        params = None if grace_period_s is None else {"gracePeriodSeconds": str(grace_period_s)}
        return self.call(Call("DELETE", kind.object_path(name, namespace), params))

    def apply(self, items: builtins.list[dict], dry_run: bool = False) -> dict:
        return self.call(Call("POST", "/lab/v1/apply", None, {"items": items, "dryRun": dry_run}))

    def agents(self) -> dict:
        return self.call(Call("GET", "/lab/v1/agents"))

    def converged(self, timeout_s: float = 10, agents: builtins.list[str] | None = None) -> dict:
        params = {"timeoutSeconds": str(timeout_s), "agents": ",".join(agents or [])}
        response = self.http.get("/lab/v1/converged", params=params, timeout=timeout_s + 5)
        _raise_for(response)
        return response.json()

    def watch_change(self, kind: Kind, timeout_s: float, rv: int | None = None) -> None:
        """Block until any object of `kind` changes after version `rv` (default: now), or
        timeout_s passes. Pass the version of the list you checked, so no change is missed."""
        if rv is None:
            rv = int(self.list(kind)["metadata"]["resourceVersion"])
        try:
            for event in self.watch(kind, rv=rv, timeout_s=max(1, int(timeout_s))):
                if event.get("type") != "BOOKMARK":
                    return
        except httpx.HTTPError:
            return

    def healthy(self, timeout_s: float = 2) -> bool:
        try:
            return self.http.get("/readyz", timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def watch(
        self,
        kind: Kind,
        namespace: str | None = None,
        rv: int = 0,
        timeout_s: int | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Iterator[dict]:
        call = _Calls.watch(kind, namespace, rv, label_selector, field_selector, timeout_s)
        with self.http.stream("GET", call.path, params=call.params, timeout=None) as response:
            _raise_for(response)
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)


class AsyncApiClient:
    """The async client (agents). `transport` as for `ApiClient`."""

    def __init__(self, socket_path: str | None = None, timeout_s: float = 30,
                 transport: httpx.AsyncBaseTransport | None = None):  # fmt: skip
        self.socket_path = socket_path
        uds = httpx.AsyncHTTPTransport(uds=socket_path, verify=UDS_TLS) if socket_path else None
        self.http = httpx.AsyncClient(transport=transport or uds, base_url=BASE, timeout=timeout_s)
        self.warnings: list[str] = []  # of the last answer

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, call: Call) -> Any:
        response = await self.http.request(
            call.method,
            call.path,
            params=call.params,
            content=None if call.body is None else json.dumps(call.body),
        )
        if response.status_code >= 400:
            await response.aread()
        self.warnings = _warnings(response)
        _raise_for(response)
        return response.json()

    async def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> dict:
        return await self.call(_Calls.list(kind, namespace, label_selector, field_selector))

    async def perform(self, action: Action) -> Any:
        return await self.call(_Calls.action(action))

    async def create(self, obj: dict) -> dict:
        return await self.perform(Create(obj))

    async def get(self, kind: Kind, name: str, namespace: str | None = None) -> dict:
        return await self.call(Call("GET", kind.object_path(name, namespace)))

    async def update_status(self, obj: dict) -> dict:
        """PUT .../status without a resourceVersion: the kubelet owns pod status."""
        body = {
            **obj,
            "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"},
        }
        return await self.perform(Update(body, subresource="status"))

    async def delete(
        self,
        kind: Kind,
        name: str,
        namespace: str | None = None,
        grace_period_s: int | None = None,
        uid: str = "",
    ) -> dict:
        params = None if grace_period_s is None else {"gracePeriodSeconds": str(grace_period_s)}
        body = {"preconditions": {"uid": uid}} if uid else None
        return await self.call(Call("DELETE", kind.object_path(name, namespace), params, body))

    async def report_applied(self, agent: str, rv: int, info: dict | None = None) -> None:
        await self.call(
            Call(
                "POST", f"/lab/v1/agents/{agent}", None, {"resourceVersion": rv, "info": info or {}}
            )
        )

    async def forget_agent(self, agent: str) -> None:
        """An agent that stops for good leaves convergence (`labkit apply --wait`)."""
        await self.call(Call("DELETE", f"/lab/v1/agents/{agent}", None, None))

    async def watch(
        self,
        kind: Kind,
        namespace: str | None = None,
        rv: int = 0,
        label_selector: str = "",
        field_selector: str = "",
    ) -> AsyncIterator[dict]:
        call = _Calls.watch(kind, namespace, rv, label_selector, field_selector)
        async with self.http.stream("GET", call.path, params=call.params, timeout=None) as response:
            if response.status_code >= 400:
                await response.aread()
            _raise_for(response)
            async for line in response.aiter_lines():
                if line:
                    yield json.loads(line)
