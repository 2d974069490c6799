"""A node agent's API client that loses the API server while its node is partitioned.

In a real cluster the kubelet reaches kube-apiserver over TCP through the node's network
link, so a node cut off from the network loses the API with it: requests time out, open
watches go silent and are given up. The lab's agents reach the API server over a Unix
socket instead, which no network link carries, so taking a node's link down
(`labkit node disconnect`, `lab_kit/lab/outside.py`) would leave its kubelet talking.

This client gives the kubelet the partition back: while `cut()` says so (a flag file in
the run dir, `RunDir.partition_flag`), every request fails as a request to an unreachable
server fails, and a watch ends at its next line (the API server sends a bookmark on a quiet
watch at least every 15 s, and at once after any write this watch filters out). When the
flag goes, the next request goes through: informers list again, the kubelet heartbeats
again, as a kubelet does once its network is back.

What differs: a real partitioned request hangs until its timeout (client-go's dial timeout,
30 s); here it fails at once, so the kubelet's retries simply run on their back-off.
The failure is an `ApiError` 503 (what `runner.api_unavailable` takes for "the API
server is away") rather than a transport error, so every caller that survives an API
outage survives a partition the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from lab_kit.adapters.apiclient import AsyncApiClient, Call
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import Kind

UNREACHABLE = "dial tcp: i/o timeout: this node is disconnected from the network"


def unreachable() -> ApiError:
    return ApiError(503, "ServiceUnavailable", UNREACHABLE)


class PartitionedApiClient(AsyncApiClient):
    """`inner`'s connection to the API server, through a gate `cut()` can close."""

    def __init__(self, inner: AsyncApiClient, cut: Callable[[], bool]):
        # The inner client's HTTP client (Unix socket, or the in-process transport in tests)
        # is reused as it is: only `call` and `watch` are gated, and every request goes
        # through one of the two.
        self.socket_path, self.http, self.warnings = inner.socket_path, inner.http, []
        self.cut = cut

    async def call(self, call: Call) -> Any:
        if self.cut():
            raise unreachable()
        return await super().call(call)

    async def watch(
        self,
        kind: Kind,
        namespace: str | None = None,
        rv: int = 0,
        label_selector: str = "",
        field_selector: str = "",
    ) -> AsyncIterator[dict]:
        if self.cut():
            raise unreachable()
        events = super().watch(kind, namespace, rv, label_selector, field_selector)
        async for event in events:
            if self.cut():  # the line never arrived: the connection went with the link
                raise unreachable()
            yield event
