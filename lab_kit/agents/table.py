"""Every agent of the lab, one entry each: its name, its code, where it runs.

    python -m lab_kit.agents NAME [OPTIONS]      runs AGENTS[NAME] (`--help` for its options)

`labkit up` reads this table to start the lab (`lab_kit/lab/lifecycle.py`): the
zygote first (the fork server every later agent comes from), then the supervisor, the control plane in order, then the network, then on every node each
`node` agent (all at once), then each `host:<role>` agent on the outside host with that
role. `pod` agents are not started by `up`: they are what a built-in image runs
(`lab_kit/agents/images.py`), so the kubelet starts them in a pod, as a cluster runs CoreDNS.

Each entry also says what happens when its process dies: `restart` is the supervisor's
policy for it (`lab_kit/agents/supervisor.py`, as systemd's `Restart=always` for a kubelet),
and `when_down` is what `labkit status` tells a user that its absence means.

Adding an agent: write its logic as an `Agent` subclass (`lab_kit/agents/runner.py`: it
declares what it watches and writes `sync()`), then add one entry here. The loaders
import the agent's module only when that agent runs: a pod (CoreDNS, exec'd by a kubelet)
pays for its own imports and no one else's, and the zygote, which loads every other
agent's module once, shares them with all the agents it forks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # the runner (and httpx) load only in processes that run an Agent
    from lab_kit.agents.runner import Agent

# What a loader returns: an Agent subclass (run by the runner), or, for the processes the
# runner does not fit (the API server itself, the network that holds Mininet), a main(argv).
Program: TypeAlias = "type[Agent] | Callable[[list[str]], None]"


@dataclass(frozen=True)
class AgentEntry:
    name: str  # the process name: `python -m lab_kit.agents NAME`, logs/NAME[-node].log
    load: Callable[[], Program]
    where: str  # "zygote" | "supervisor" | "control-plane" | "network" | "node" | "host:<role>" | "pod"
    summary: str
    # "Always": the supervisor restarts it when it dies; "Never": not restarted (the network:
    # its router and outside hosts die with it; the supervisor: nobody watches the watcher).
    restart: str = "Always"
    when_down: str = ""  # what its absence means ("{node}": the node or host it runs on)

    def program(self) -> Program:
        return self.load()


def _zygote() -> Program:
    from lab_kit.agents import zygote

    return zygote.main


def _supervisor() -> Program:
    from lab_kit.agents import supervisor

    return supervisor.main


def _apiserver() -> Program:
    from lab_kit.agents import apiserver

    return apiserver.main


def _controller_manager() -> Program:
    from lab_kit.agents.controller_manager import ControllerManager

    return ControllerManager


def _cloud_controller_manager() -> Program:
    from lab_kit.agents.cloud_controller import CloudControllerManager

    return CloudControllerManager


def _network() -> Program:
    from lab_kit.agents import network

    return network.main


def _kubelet() -> Program:
    from lab_kit.agents.kubelet import Kubelet

    return Kubelet


def _kube_proxy() -> Program:
    from lab_kit.agents.kube_proxy import KubeProxy

    return KubeProxy


def _world_dns() -> Program:
    from lab_kit.agents.world_dns import WorldDns

    return WorldDns


def _cloud_lb() -> Program:
    from lab_kit.agents.cloud_lb import CloudLb

    return CloudLb


def _coredns() -> Program:
    from lab_kit.agents.cluster_dns import ClusterDns

    return ClusterDns


def _ingress_nginx() -> Program:
    from lab_kit.agents.ingress_nginx import IngressNginxController

    return IngressNginxController


def _knative_activator() -> Program:
    from lab_kit.agents.knative_activator import Activator

    return Activator


def _knative_autoscaler() -> Program:
    from lab_kit.agents.knative_autoscaler import Autoscaler

    return Autoscaler


def _knative_gateway() -> Program:
    from lab_kit.agents.knative_gateway import Gateway

    return Gateway


AGENTS: dict[str, AgentEntry] = {
    e.name: e
    for e in (
        AgentEntry(
            "zygote",
            _zygote,
            "zygote",
            "forks the other agents from one warm process (shared memory, fast starts)",
            restart="Never",
            when_down="agents (re)start by exec: slower, and each with its own memory",
        ),
        AgentEntry(
            "supervisor",
            _supervisor,
            "supervisor",
            "restarts the lab's agents when they die",
            restart="Never",
            when_down="agents that die are no longer restarted",
        ),
        AgentEntry(
            "apiserver",
            _apiserver,
            "control-plane",
            "the API server (REST + watch)",
            when_down="nothing can be read or changed (the agents wait for it)",
        ),
        AgentEntry(
            "controller-manager",
            _controller_manager,
            "control-plane",
            "every controller and the scheduler",
            when_down="pods are not scheduled; Deployments, ReplicaSets and EndpointSlices "
            "are not reconciled",
        ),
        AgentEntry(
            "cloud-controller-manager",
            _cloud_controller_manager,
            "control-plane",
            "the cloud's service controller: LoadBalancer addresses from the pool",
            when_down="LoadBalancer Services get no address, keep theirs when deleted",
        ),
        AgentEntry(
            "network",
            _network,
            "network",
            "holds the Mininet network",
            restart="Never",
            when_down="the router and the outside hosts are gone (their namespaces died with "
            "it): `labkit down`, then `labkit up`",
        ),
        AgentEntry(
            "kubelet",
            _kubelet,
            "node",
            "runs the node's pods",
            when_down="pods on {node} are not started, stopped or probed",
        ),
        AgentEntry(
            "kube-proxy",
            _kube_proxy,
            "node",
            "writes the node's Service rules",
            when_down="Service changes do not reach {node}",
        ),
        AgentEntry(
            "world-dns",
            _world_dns,
            "host:internet",
            "the outside world's resolver",
            when_down="names outside the cluster do not resolve",
        ),
        AgentEntry(
            "cloud-lb",
            _cloud_lb,
            "host:cloud-lb",
            "the cloud load balancer's data plane for LoadBalancer addresses",
            when_down="LoadBalancer addresses keep their last rules, unhealthy nodes included",
        ),
        AgentEntry("coredns", _coredns, "pod", "cluster DNS, run by the coredns image"),
        AgentEntry(
            "nginx-ingress-controller",
            _ingress_nginx,
            "pod",
            "ingress-nginx's controller (Ingresses -> nginx), run by its image",
        ),
        AgentEntry(
            "activator",
            _knative_activator,
            "pod",
            "Knative's activator: holds requests for Revisions without a pod",
        ),
        AgentEntry(
            "autoscaler",
            _knative_autoscaler,
            "pod",
            "Knative's KPA: pods per Revision, activator in or out of the path",
        ),
        AgentEntry(
            "knative-gateway",
            _knative_gateway,
            "pod",
            "Knative's ingress: Routes -> Revisions by host, split by percent",
        ),
    )
}


def entry_of(process: str) -> AgentEntry | None:
    """The entry a running process belongs to: "kube-proxy/node2" -> AGENTS["kube-proxy"]."""
    return AGENTS.get(process.partition("/")[0])


def when_down(process: str) -> str:
    """ "kube-proxy/node2 is not running: Service changes do not reach node2"."""
    entry = entry_of(process)
    meaning = entry.when_down if entry else ""
    node = process.partition("/")[2]
    return f"{process} is not running" + (f": {meaning.format(node=node)}" if meaning else "")


def command(name: str, *args: str) -> list[str]:
    """The command line that runs agent `name` (this Python, this lab_kit)."""
    if name not in AGENTS:
        raise KeyError(f"no agent {name!r} (agents: {', '.join(AGENTS)})")
    return [sys.executable, "-m", "lab_kit.agents", name, *args]


def main(argv: list[str]) -> int:
    """`python -m lab_kit.agents NAME [OPTIONS]`."""
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in AGENTS:
        out = sys.stdout if argv[:1] in (["-h"], ["--help"]) else sys.stderr
        if argv and argv[0] not in ("-h", "--help"):
            print(f"unknown agent {argv[0]!r}", file=out)
        print("usage: python -m lab_kit.agents NAME [OPTIONS]\n\nagents:", file=out)
        for e in AGENTS.values():
            print(f"  {e.name:<20} {e.summary} (runs: {e.where})", file=out)
        return 0 if out is sys.stdout else 2
    entry = AGENTS[argv[0]]
    program = entry.program()
    if isinstance(program, type):  # an Agent: the runner is its process
        from lab_kit.agents import runner

        runner.run(program, argv[1:], prog=entry.name, description=entry.summary)
    else:
        program(argv[1:])
    return 0
