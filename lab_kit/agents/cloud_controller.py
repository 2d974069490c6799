"""cloud-controller-manager for the lab: its service controller over the lab's cloud.

    watch Services and Nodes
    -> controllers.service_lb.ServiceController.sync(services, nodes, now): per Service due,
       the writes in order (finalizer, status) and its Events
    -> send them; a refused write: retried (409 at once, else 5 s doubling to 300 s)
    -> a timer wakes the loop when the next retry is due

The cloud is `service_lb.Cloud`, in this process: a pool of addresses from the topology
(the `cloud-lb` host's `pool`), one load balancer per Service. Its data plane is another
agent's (`cloud-lb`, on the cloud-lb host), which reads what it needs from the API as a
cloud's load balancer is programmed from the provider: each Service's
`status.loadBalancer.ingress` (address, ipMode), its ports' nodePorts,
`healthCheckNodePort` and `externalTrafficPolicy`, and the Nodes. Left out: the node
(providerID, addresses) and route controllers, leader election, and the cloud's own
delay (a real one takes tens of seconds to make a load balancer; this one is immediate).

Run: python -m lab_kit.agents cloud-controller-manager --socket PATH [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.runner import Agent, Context, Watch, load_topology
from lab_kit.controllers.service_lb import Cloud, ServiceController, Work
from lab_kit.model.errors import ApiError

log = logging.getLogger("cloud-controller-manager")


class CloudControllerManager(Agent):
    watches = {"services": Watch("Service"), "nodes": Watch("Node")}

    def __init__(self, ctx: Context, pool: str = ""):
        super().__init__(ctx)
        self.report_as = "cloud-controller-manager"
        self.controller = ServiceController(Cloud(pool))
        self._timer: asyncio.Future | None = None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--pool", help="the LoadBalancer address pool, a CIDR (default: the topology's)"
        )

    @classmethod
    def create(cls, ctx: Context, options: argparse.Namespace) -> Agent:
        pool = options.pool
        if pool is None:
            topology = RunDir(options.run_dir).topology_file
            pool = load_topology(topology).load_balancer_pool if os.path.exists(topology) else ""
        if not pool:
            log.warning("no LoadBalancer address pool: LoadBalancer Services stay <pending>")
        return cls(ctx, pool)

    async def sync(self) -> dict | None:
        """One round; reported only when it wrote no Service (its own writes come back as
        changes, and the round that sees them is the quiet one)."""
        now = self.ctx.clock.time()
        services, nodes = self.ctx.items("services"), self.ctx.items("nodes")
        wrote = False
        for work in self.controller.sync(services, nodes, now):
            wrote = await self._send(work, now) or wrote
        self._arm_retry(now)
        return None if wrote else {}

    async def _send(self, work: Work, now: float) -> bool:
        """Send one Service's writes in order; stop at the first required one refused."""
        wrote = False
        for action, required in work.actions:
            try:
                await self.ctx.client.perform(action)
            except Exception as e:
                if not required:  # an Event: best effort, as client-go's broadcaster
                    log.debug("event for %s not written: %r", work.key, e)
                    continue
                self._refused(work.key, e, now)
                return wrote
            wrote = wrote or required
        return wrote

    def _refused(self, key: str, error: Exception, now: float) -> None:
        if isinstance(error, ApiError) and error.code == 404:
            return  # the Service is gone (its finalizer was just removed): nothing to do
        if isinstance(error, ApiError) and error.code == 409:
            self.controller.conflicted(key, now)  # written from an old version: again
            return
        self.controller.failed(key, now)
        log.warning("syncing service %s failed (retrying with back-off): %r", key, error)

    def _arm_retry(self, now: float) -> None:
        """workqueue.AddAfter: wake the loop when the next retry is due."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        at = self.controller.next_retry()
        if at is not None:
            self._timer = asyncio.ensure_future(self._wake_after(max(0.0, at - now)))

    async def _wake_after(self, delay_s: float) -> None:
        await self.ctx.clock.sleep(delay_s)
        self.ctx.changed()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
