"""The cloud load balancer's data plane, on the `cloud-lb` host (the agent table's
`cloud-lb`, host:cloud-lb): what a cloud programs for a LoadBalancer Service's address.

    watch Services and Nodes -> each status.loadBalancer.ingress IP, its nodes (the service
      controller's node predicates) and their health checks (lab_kit/render/cloud_lb.py)
    -> a new health check is asked at once; the rest every CHECK_INTERVAL_S, in the
       background (`GET` node:healthCheckNodePort/ under Local, node:10256/healthz else)
    -> the whole `table ip cloud-lb` in one `nft -f` -> report (`labkit apply --wait`)
    -> the LB's view in the run dir (cloud-lb.json: `labkit lb`, `Lab.load_balancer()`)

How a packet for a LB address gets to a node (the plumbing is the network's:
lab_kit/adapters/mininet_net.py builds it with the topology):

    client ──► gw ── route: LB pool via 198.51.100.10 ──► cloud-lb (eth0, outside)
                                                            │ nft: 5-tuple hash -> a slot of
                                                            │ the address's Maglev table ->
                                                            │ packet mark N; ip rule fwmark N
                                                            │ -> table 100+N: via nodeN
    client ◄── gw ◄── node (kube-proxy: LB IP -> pod) ◄─────┘ cloud-lb-eth1 (node network)
      VIP: the packet keeps dst = LB address and src = client; the reply skips cloud-lb
      Proxy: cloud-lb DNATs to node:nodePort and SNATs to its own leg; replies come back

What a cloud does that this one does not: its LB API is not between the controller and
it (the node list comes from the API server's Nodes, with the controller's predicates),
and Proxy mode is address rewriting (full NAT), not a second TCP connection.

Run (inside the cloud-lb host's network namespace; `labkit up` does):
    python -m lab_kit.agents cloud-lb --socket PATH --run-dir DIR
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable

from lab_kit.adapters.nftables import Nftables, NftablesInterface
from lab_kit.adapters.prober import NetworkProber, Prober
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.runner import Agent, Context, Watch, load_topology
from lab_kit.render import cloud_lb as lb

log = logging.getLogger("cloud-lb")
USER_AGENT = "GoogleHC/1.0"  # what GCP's health checkers send


class CloudLb(Agent):
    watches = {"services": Watch("Service"), "nodes": Watch("Node")}

    def __init__(
        self,
        ctx: Context,
        nodes: list[lb.LbNode],
        leg: str,
        leg_ip: str,
        *,
        nft: NftablesInterface | None = None,
        prober: Prober | None = None,
        publish: Callable[[dict], None] = lambda _view: None,
    ):
        """`nodes`: the topology's, with their marks; `leg`: the interface on the node
        network (and `leg_ip` its address); `publish`: where the LB's view goes."""
        super().__init__(ctx)
        self.report_as = "cloud-lb"
        self.nodes, self.leg, self.leg_ip = nodes, leg, leg_ip
        self.nft: NftablesInterface = nft or Nftables()
        self.prober: Prober = prober or NetworkProber()
        self.publish = publish
        self.health: dict[lb.Target, lb.Health] = {}
        self.frontends: list[lb.Frontend] = []
        self.applied = ""  # the ruleset now live
        self._round = asyncio.Lock()  # one round of checks at a time
        self._checker: asyncio.Task | None = None

    @classmethod
    def create(cls, ctx: Context, options: argparse.Namespace) -> CloudLb:
        rd = RunDir(options.run_dir)
        spec = load_topology(rd.topology_file)
        host = spec.host_role("cloud-lb")
        if host is None:
            raise SystemExit(f"{rd.topology_file}: no host with role cloud-lb")
        nodes = lb.lb_nodes((n.name, n.ip) for n in spec.nodes)
        leg_ip = lb.leg_address(spec.node_network, [n.ip for n in spec.nodes])
        return cls(ctx, nodes, lb.leg_interface(host.name), leg_ip, publish=rd.write_cloud_lb)

    async def start(self) -> None:
        self._checker = asyncio.create_task(self.check_forever())

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            await asyncio.gather(self._checker, return_exceptions=True)

    async def sync(self) -> dict | None:
        """Frontends from the caches; new health checks asked before a flow is sent
        anywhere; the ruleset replaced when it changed; the view published."""
        services, node_objects = self.ctx.items("services"), self.ctx.items("nodes")
        self.frontends = lb.frontends(services, node_objects, self.nodes)
        wanted = lb.targets(self.frontends, self.nodes)
        self.health = {t: h for t, h in self.health.items() if t in wanted}
        await self.check([t for t in wanted if t not in self.health])
        plan = lb.balance(self.frontends, self.nodes, self.health)
        text = lb.render_ruleset(plan, self.leg)
        if text != self.applied:
            await self.nft.apply(text)  # NftablesError: the runner retries with a back-off
            self.applied = text
            log.info("programmed %s", _summary(plan) or "no addresses")
        self.publish(lb.view(plan, self.nodes, self.leg_ip))
        return {"addresses": len(plan), "backends": sum(len(b.backends) for b in plan)}

    async def check(self, targets: list[lb.Target]) -> bool:
        """One round of health checks, all at once; True if a node entered or left."""
        if not targets:
            return False
        async with self._round:
            answers = await asyncio.gather(*(self._ask(t) for t in targets))
            now, moved = self.ctx.clock.time(), False
            for t, (passed, answer) in zip(targets, answers, strict=True):
                before = self.health.get(t, lb.Health())
                after = self.health[t] = lb.observe(before, passed, now, answer)
                if after.state != before.state:
                    moved = True
                    log.info("%s %s: %s (%s)", t.node, t.url, after.state, answer)
            return moved

    async def _ask(self, t: lb.Target) -> tuple[bool, str]:
        headers = {"User-Agent": USER_AGENT}
        result = await self.prober.http_get(t.url, headers, lb.CHECK_TIMEOUT_S)
        if result.status is not None:
            return result.status == 200, str(result.status)
        return False, "timeout" if "deadline" in result.error else "no answer"

    async def check_forever(self) -> None:
        """Every CHECK_INTERVAL_S, every node's checks; a node entering or leaving the
        rotation asks for a sync (a new ruleset); the view is refreshed every round."""
        clock = self.ctx.clock
        next_round = clock.monotonic()
        while True:
            # Start to start, as clouds count their check interval: a round that waited out
            # a dead node's timeout does not push the next one a whole interval further.
            next_round = max(next_round + lb.CHECK_INTERVAL_S, clock.monotonic())
            await clock.sleep(next_round - clock.monotonic())
            try:
                wanted = list(self.health)
                if await self.check(wanted):
                    self.ctx.changed()
                else:
                    plan = lb.balance(self.frontends, self.nodes, self.health)
                    self.publish(lb.view(plan, self.nodes, self.leg_ip))
            except Exception:  # a bug in one round must not end the checks
                log.exception("health check round failed")


def _summary(plan: list[lb.Balanced]) -> str:
    return "; ".join(
        f"{b.frontend.address} ({b.frontend.mode}) -> "
        + (", ".join(n.name for n in b.backends) or "none")
        + (" (fail open)" if b.fail_open else "")
        for b in plan
    )
