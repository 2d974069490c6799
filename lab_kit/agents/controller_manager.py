"""kube-controller-manager (and kube-scheduler) for the lab: one process running every
pure controller of `lab_kit.controllers` over informer caches.

    watch Namespaces, Nodes, Pods, Services, Endpoints, EndpointSlices, ReplicaSets, Deployments
    -> snapshot of the caches -> controllers.manager.reconcile_all(snapshot, now)
    -> send each Create / Update / Delete to the API server (a 409 just means "recompute")
    -> report the resourceVersion the caches had reached (for `apply --wait`)

Unlike the real manager, every controller recomputes from the whole snapshot on every
change (level-triggered, no work queues): simple to read, and fast enough for a lab.

Run: python -m lab_kit.agents.controller_manager --socket PATH [--ready-fd N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time

from lab_kit.adapters.apiclient import AsyncApiClient
from lab_kit.agents.informer import Informer
from lab_kit.controllers.manager import reconcile_all
from lab_kit.controllers.state import Action, Delete, Snapshot
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import KINDS, by_kind_name

log = logging.getLogger("controller-manager")
# Every served kind: the garbage collector must see all owners, and namespace deletion all
# contents, or it would read "not in my snapshot" as "gone".
WATCHED = tuple(k.kind for k in KINDS)
RESYNC_S = 5.0  # re-run controllers this often even without events (grace periods, deadlines)
AGENT_NAME = "controller-manager"


class ControllerManager:
    def __init__(self, client: AsyncApiClient):
        self.client = client
        self.changed = asyncio.Event()
        self.informers = [Informer(client, by_kind_name(k), self.changed.set) for k in WATCHED]
        self._by_kind = {inf.kind.kind: inf for inf in self.informers}

    def snapshot(self) -> Snapshot:
        return Snapshot.of(o for inf in self.informers for o in inf.items())

    async def run(self, ready_fd: int | None = None) -> None:
        tasks = [asyncio.create_task(inf.run()) for inf in self.informers]
        await asyncio.gather(*(inf.synced.wait() for inf in self.informers))
        if ready_fd is not None:
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
        try:
            while True:
                try:
                    await asyncio.wait_for(self.changed.wait(), RESYNC_S)
                except asyncio.TimeoutError:
                    pass
                self.changed.clear()
                await self.sync_once()
        finally:
            for t in tasks:
                t.cancel()

    async def sync_once(self) -> int:
        """One round: reconcile the caches, send the actions, report what was applied."""
        seen = min(inf.seen_rv for inf in self.informers)
        actions = reconcile_all(self.snapshot(), time.time())
        for action in actions:
            try:
                answer = await self.client.perform(action)
                self._remember(action, answer)
            except ApiError as e:
                # Conflicts and vanished objects are normal races: the next round recomputes.
                level = logging.DEBUG if e.code in (404, 409) else logging.WARNING
                log.log(level, "%s: %s", type(action).__name__, e)
        if not actions:
            await self.client.report_applied(AGENT_NAME, seen)
        return len(actions)

    def _remember(self, action: Action, answer: dict) -> None:
        """Write-through: the next round must see this round's writes (see Informer)."""
        if not isinstance(answer, dict) or "metadata" not in answer:
            return
        informer = self._by_kind.get(answer.get("kind", ""))
        if informer is None:
            return
        md = answer["metadata"]
        still_there = md.get("deletionTimestamp") and md.get("deletionGracePeriodSeconds", 1) != 0
        informer.remember_write(answer, deleted=isinstance(action, Delete) and not still_there)


async def main_async(socket_path: str, ready_fd: int | None) -> None:
    client = AsyncApiClient(socket_path)
    manager = ControllerManager(client)
    task = asyncio.create_task(manager.run(ready_fd))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    task.cancel()
    await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="lab_kit.agents.controller_manager",
        description="The lab's kube-controller-manager and scheduler.",
    )
    parser.add_argument("--socket", required=True, help="the API server's Unix socket")
    parser.add_argument("--ready-fd", type=int, help="write 'ready' to this fd once caches synced")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(main_async(args.socket, args.ready_fd))


if __name__ == "__main__":
    main()
