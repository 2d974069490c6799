"""kube-controller-manager (and kube-scheduler) for the lab: one process running every
pure controller of `lab_kit.controllers` over informer caches.

    watch every kind (Namespaces, Nodes, Pods, Services, EndpointSlices, ReplicaSets, ...)
    -> snapshot of the caches -> controllers.manager.reconcile_all(snapshot, now)
    -> send each Create / Update / Delete to the API server (a 409 just means "recompute")
    -> once a round sends nothing: report the version the caches reached (`apply --wait`)

Unlike the real manager, every controller recomputes from the whole snapshot on every
change (level-triggered, no work queues): simple to read, and fast enough for a lab.
The loop around `sync` is the agent runner's (`lab_kit/agents/runner.py`).

Run: python -m lab_kit.agents controller-manager --socket PATH
"""

from __future__ import annotations

import logging

from lab_kit.agents.runner import Agent, Context, Watch
from lab_kit.controllers.manager import reconcile_all
from lab_kit.controllers.state import Action, Delete, Snapshot
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import KINDS, kind_key

log = logging.getLogger("controller-manager")


class ControllerManager(Agent):
    # Every served kind: the garbage collector must see all owners, and namespace deletion
    # all contents, or it would read "not in my snapshot" as "gone".
    watches = {k.key: Watch(k.key) for k in KINDS}
    resync_s = 5.0  # re-run controllers this often even without events (grace periods)

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.report_as = "controller-manager"

    def snapshot(self) -> Snapshot:
        return Snapshot.of(o for name in self.watches for o in self.ctx.items(name))

    async def sync(self) -> dict | None:
        """One round: reconcile the caches, send the actions; report only a quiet round
        (one that sent nothing), so `apply --wait` waits for the controllers' writes too."""
        actions = reconcile_all(self.snapshot(), self.ctx.clock.time())
        for action in actions:
            try:
                answer = await self.ctx.client.perform(action)
                self._remember(action, answer)
            except ApiError as e:
                # Conflicts and vanished objects are normal races: the next round recomputes.
                level = logging.DEBUG if e.code in (404, 409) else logging.WARNING
                log.log(level, "%s: %s", type(action).__name__, e)
        return None if actions else {}

    def _remember(self, action: Action, answer: dict) -> None:
        """Write-through: the next round must see this round's writes (see Informer)."""
        if not isinstance(answer, dict) or "metadata" not in answer:
            return
        informer = self.ctx.informers.get(kind_key(answer))
        if informer is None:
            return
        md = answer["metadata"]
        still_there = md.get("deletionTimestamp") and md.get("deletionGracePeriodSeconds", 1) != 0
        informer.remember_write(answer, deleted=isinstance(action, Delete) and not still_there)
