"""The cloud-lb agent on the runner, against the real API in-process, on virtual time,
with a fake `nft` and fake health checks: an address is programmed once its nodes have
been asked; a node failing its check leaves the ruleset after UNHEALTHY_THRESHOLD rounds
and comes back on its first pass; the view is published; the command line `labkit up`
gives it finds the topology and the run dir."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.clock import FakeClock
from lab_kit.adapters.nftables import FakeNftables
from lab_kit.adapters.prober import FakeProber, HttpResult
from lab_kit.adapters.rundir import RunDir
from lab_kit.agents.cloud_lb import USER_AGENT, CloudLb
from lab_kit.agents.runner import Context, Runner, common_parser
from lab_kit.render import cloud_lb as lb

NODES = lb.lb_nodes([("node1", "172.18.0.2"), ("node2", "172.18.0.3")])
ADDRESS = "198.51.100.40"


def node(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def lb_service(policy: str = "Local") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 8080}],
            "externalTrafficPolicy": policy,
        },
    }


def with_ingress(api: InProcessApi, mode: str = "VIP") -> dict:
    svc = api.registry.store.get("Service", "default", "web")
    assert svc is not None
    body = {**svc, "status": {"loadBalancer": {"ingress": [{"ip": ADDRESS, "ipMode": mode}]}}}
    return api.registry.update(body, subresource="status")


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.api = InProcessApi(clock=self.clock.time)
        self.nft = FakeNftables()
        self.prober = FakeProber()
        self.views: list[dict] = []
        self.agent = CloudLb(Context(self.api.async_client(), self.clock), NODES, "cloud-lb-eth1",
                             "172.18.255.254", nft=self.nft, prober=self.prober,
                             publish=self.views.append)  # fmt: skip
        self.runner = Runner(self.agent)

    def marks(self) -> set[str]:
        """The marks the live VIP rule hands out (which nodes get new flows)."""
        line = next(x for x in self.nft.applied[-1].splitlines() if "meta mark set jhash" in x)
        return {s.split(" : ")[1] for s in line.split("map { ")[1].rstrip(" }").split(", ")}

    async def rounds(self, n: int) -> None:
        for _ in range(n):
            await self.clock.advance(lb.CHECK_INTERVAL_S)
            await self.clock.settle()


def test_an_address_is_programmed_after_its_nodes_were_asked_and_reported():
    async def scenario():
        h = Harness()
        for n in ("node1", "node2"):
            h.api.registry.create(node(n))
        h.api.registry.create(lb_service())
        with_ingress(h.api)
        hc = h.api.registry.store.get("Service", "default", "web")["spec"]["healthCheckNodePort"]
        h.prober.http[f"http://172.18.0.3:{hc}/"] = 503  # node2 has no local endpoint
        task = asyncio.create_task(h.runner.run())
        await h.clock.settle()
        asked = [c[1] for c in h.prober.calls]
        assert asked == [f"http://172.18.0.2:{hc}/", f"http://172.18.0.3:{hc}/"]
        assert h.prober.calls[0][2] == {"User-Agent": USER_AGENT}
        assert h.marks() == {"0x1"}  # node2 never passed: out from the start
        assert f"ip daddr {ADDRESS} tcp dport 80 jump vip-{ADDRESS}-tcp-80" in h.nft.applied[-1]
        report = h.api.agents["cloud-lb"]
        assert (report["addresses"], report["backends"]) == (1, 1)
        entry = h.views[-1]["addresses"][0]
        assert [(n["name"], n["state"], n["last"]) for n in entry["nodes"]] == [
            ("node1", "Healthy", "200"), ("node2", "Unhealthy", "503"),
        ]  # fmt: skip
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await h.runner.shutdown()

    asyncio.run(scenario())


def test_a_failing_node_leaves_after_three_rounds_and_returns_after_one():
    async def scenario():
        h = Harness()
        for n in ("node1", "node2"):
            h.api.registry.create(node(n))
        h.api.registry.create(lb_service("Cluster"))
        with_ingress(h.api)
        task = asyncio.create_task(h.runner.run())
        await h.clock.settle()
        assert h.marks() == {"0x1", "0x2"}
        assert {c[1] for c in h.prober.calls} == {
            "http://172.18.0.2:10256/healthz", "http://172.18.0.3:10256/healthz",
        }  # fmt: skip
        h.prober.http["http://172.18.0.3:10256/healthz"] = None  # kube-proxy gone
        await h.rounds(lb.UNHEALTHY_THRESHOLD - 1)
        assert h.marks() == {"0x1", "0x2"}  # two failures: still in
        await h.rounds(1)
        assert h.marks() == {"0x1"}
        assert h.views[-1]["addresses"][0]["nodes"][1]["last"] == "no answer"
        h.prober.http.pop("http://172.18.0.3:10256/healthz")
        await h.rounds(lb.HEALTHY_THRESHOLD)
        assert h.marks() == {"0x1", "0x2"}
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await h.runner.shutdown()
        assert h.agent._checker is not None and h.agent._checker.done()

    asyncio.run(scenario())


def test_an_unchanged_ruleset_is_not_applied_again_and_a_refused_one_is_retried():
    async def scenario():
        h = Harness()
        h.api.registry.create(node("node1"))
        h.nft.fail_next = True
        task = asyncio.create_task(h.runner.run())
        await h.clock.settle()
        await h.clock.advance(1.0)  # the runner's back-off after the refused ruleset
        await h.clock.settle()
        assert len(h.nft.applied) == 1 and "jump" not in h.nft.applied[0]
        h.api.registry.create(node("node2"))  # a change, but not to the ruleset
        await h.clock.settle()
        assert len(h.nft.applied) == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await h.runner.shutdown()

    asyncio.run(scenario())


def test_labkit_up_s_command_line_finds_the_topology_and_the_run_dir(tmp_path: Path):
    topology = Path(__file__).parents[3] / "lab_kit" / "topologies" / "default.toml"
    rd = RunDir(str(tmp_path))
    (tmp_path / "topology.toml").write_text(topology.read_text())
    parser = common_parser("cloud-lb", "")
    CloudLb.add_arguments(parser)
    options = parser.parse_args(["--socket", "/nonexistent", "--run-dir", rd.path])
    api = InProcessApi()
    agent = CloudLb.create(Context(api.async_client(), FakeClock()), options)
    assert isinstance(agent, CloudLb)
    assert (agent.leg, agent.leg_ip) == ("cloud-lb-eth1", "172.18.255.254")
    assert [(n.name, n.ip, n.mark) for n in agent.nodes] == [
        ("node1", "172.18.0.2", 1), ("node2", "172.18.0.3", 2), ("node3", "172.18.0.4", 3),
    ]  # fmt: skip
    agent.publish({"addresses": []})
    assert rd.cloud_lb() == {"addresses": []}


class SilentNode(FakeProber):
    """node2 never answers: each of its checks takes the whole timeout, on the clock."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock, self.silent = clock, False

    async def http_get(self, url: str, headers: dict[str, str], timeout_s: float, *,
                       follow_non_local_redirects: bool = False) -> HttpResult:  # fmt: skip
        if self.silent and "172.18.0.3" in url:
            self.calls.append(("http", url, headers))
            await self.clock.sleep(timeout_s)
            return HttpResult(None, error=f'Get "{url}": context deadline exceeded')
        return await super().http_get(url, headers, timeout_s)


def test_a_silent_node_leaves_within_the_stated_time_as_rounds_start_every_interval():
    async def scenario():
        h = Harness()
        h.prober = h.agent.prober = SilentNode(h.clock)
        for n in ("node1", "node2"):
            h.api.registry.create(node(n))
        h.api.registry.create(lb_service("Cluster"))
        with_ingress(h.api)
        task = asyncio.create_task(h.runner.run())
        await h.clock.settle()
        assert h.marks() == {"0x1", "0x2"}
        h.prober.silent = True
        await h.clock.advance(lb.LEAVES_ROTATION_WITHIN_S)
        await h.clock.settle()
        assert h.marks() == {"0x1"}  # out in time although each check waited its timeout
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await h.runner.shutdown()

    asyncio.run(scenario())
