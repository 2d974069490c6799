"""Outside the cluster: a node taken off the network and brought back, and the router's
NodePort firewall (`labkit node disconnect|connect`, `labkit firewall ...`, and `Lab`).

A node disconnected is a network partition, as a node sees it when its cable, its
switch port or its VM's network goes:

1. Its kubelet loses the API server. The lab's agents reach the API over a Unix socket,
   which no network link carries, so the kubelet is told: a flag in the run dir
   (`RunDir.partition_flag`) closes the gate its API client goes through
   (`lab_kit/adapters/partition.py`): every request fails as one to an unreachable
   server, watches end. Chosen over hiding the socket in the node's mount namespace,
   which would stop new connections only: the kubelet's open watch and keep-alive
   connections would go on talking. kube-proxy keeps its rules, as it does on a real
   partitioned node (it has nothing new to hear).
2. Its link to the cluster network goes down (`ip link set node2-eth0 down` in the node's
   namespace). Packets to its address then get no answer: a timeout, not a refusal. So
   that the router and the other nodes do not give up on the address after a failed ARP
   and answer "host unreachable" themselves (what a Linux bridge network does, and a
   cloud network never does), each keeps a permanent neighbour entry for it while it is
   away: their packets go out and vanish.
3. Then Kubernetes does what it does: the kubelet's heartbeats stop, and after
   --node-monitor-grace-period (50 s) the node lifecycle controller marks the Node
   Unknown (NotReady) and its pods not Ready; their endpoints leave every Service.

`connect` reverses each step: the link up, the node's routes back (a link going down
takes its IPv4 routes along), the neighbour entries forgotten, the flag gone; within a
heartbeat (10 s) the Node is Ready and its kubelet writes its pods' readiness back.

The firewall (rules rendered in `lab_kit/render/outside.py`) lives in the router `gw`'s
own namespace, never in the machine's; its wanted state is kept in the run dir
(`firewall.json`), so `labkit firewall list` needs no root and `allow` while off is
remembered for when it is on.
"""

from __future__ import annotations

import json
import os

from lab_kit.adapters.apiclient import ApiClient, Call
from lab_kit.adapters.host_commands import HostCommandError, HostCommands, NamespaceCommands
from lab_kit.adapters.rundir import RunDir
from lab_kit.lab.errors import LabError
from lab_kit.model.topology import parse_topology
from lab_kit.render import outside
from lab_kit.render.node_network import node_routes
from lab_kit.render.outside import ROUTER, FirewallState, cluster_interface


class Outside:
    """The network around the running lab's nodes (one run dir, one way to run commands)."""

    def __init__(self, run_dir: RunDir | None = None, commands: HostCommands | None = None):
        self.rd = run_dir or RunDir()
        self.commands: HostCommands = commands or NamespaceCommands(self.rd)

    # --- nodes ----------------------------------------------------------------------------------
    def nodes(self) -> dict[str, dict]:
        hosts = self.rd.hosts()
        if not hosts:
            raise LabError(f"no lab is running (no network record in {self.rd.path})")
        return {name: h for name, h in hosts.items() if h.get("role") == "node"}

    def _node(self, name: str) -> dict:
        nodes = self.nodes()
        if name not in nodes:
            raise LabError(f'no node "{name}" in this lab (nodes: {", ".join(sorted(nodes))})')
        return nodes[name]

    def disconnected(self) -> list[str]:
        return self.rd.partitioned_nodes()

    def disconnect_node(self, name: str, api: ApiClient | None = None) -> str:
        """Take `name` off the network (see the module's docstring); what was done."""
        ip = self._node(name)["ip"]
        if self.rd.partitioned(name):
            return f"{name} is already disconnected"
        device = cluster_interface(name)
        mac = self._mac(name, device)
        flag = self.rd.partition_flag(name)
        os.makedirs(os.path.dirname(flag), exist_ok=True)
        with open(flag, "w") as f:
            f.write(f"{ip}\n")
        for peer in self._peers(name):
            self.commands.run(peer, outside.pin_neighbour(ip, mac, cluster_interface(peer)))
        self.commands.run(name, outside.link(device, up=False))
        _forget(api, f"kubelet/{name}")
        return (
            f"{name} disconnected: its link is down ({ip} answers nothing) and its kubelet "
            "cannot reach the API server; the Node turns NotReady after the node monitor "
            f"grace period (50 s). `labkit node connect {name}` brings it back."
        )

    def connect_node(self, name: str) -> str:
        """Bring `name` back: every step of `disconnect_node` undone."""
        ip = self._node(name)["ip"]
        if not self.rd.partitioned(name):
            return f"{name} is connected (nothing to do)"
        device = cluster_interface(name)
        self.commands.run(name, outside.link(device, up=True))
        for argv in outside.node_route_commands(self._routes(name)):
            self.commands.run(name, argv)
        for peer in self._peers(name):
            self.commands.run(
                peer, outside.unpin_neighbour(ip, cluster_interface(peer)), check=False
            )
        os.remove(self.rd.partition_flag(name))
        return (
            f"{name} connected: its link is up and its kubelet reaches the API server "
            "again; the Node is Ready at its next heartbeat (within 10 s)."
        )

    def _peers(self, name: str) -> list[str]:
        """Who shares the cluster network with the node: the router and the other nodes."""
        return [ROUTER, *sorted(n for n in self.nodes() if n != name)]

    def _mac(self, node: str, device: str) -> str:
        out = self.commands.run(node, ["ip", "-j", "link", "show", "dev", device])
        try:
            return json.loads(out)[0]["address"]
        except (ValueError, LookupError, TypeError) as e:
            raise LabError(f"{node}: cannot read the address of {device}: {out!r}") from e

    def _routes(self, name: str) -> list[tuple[str, str]]:
        with open(self.rd.topology_file) as f:
            spec = parse_topology(f.read(), self.rd.topology_file)
        return node_routes(spec, spec.node(name))

    # --- the firewall ---------------------------------------------------------------------------
    def firewall(self) -> FirewallState:
        try:
            with open(self.rd.firewall_file) as f:
                return FirewallState.from_json(json.load(f))
        except (OSError, ValueError):
            return FirewallState()

    def firewall_on(self) -> FirewallState:
        return self._set_firewall(FirewallState(True, self.firewall().allowed))

    def firewall_off(self) -> FirewallState:
        return self._set_firewall(FirewallState(False, self.firewall().allowed))

    def firewall_allow(self, port: str) -> FirewallState:
        return self._set_firewall(self.firewall().allow(_port(port)))

    def firewall_deny(self, port: str) -> FirewallState:
        return self._set_firewall(self.firewall().deny(_port(port)))

    def _set_firewall(self, state: FirewallState) -> FirewallState:
        before = self.firewall()
        if state.enabled:
            self._install(state)
        elif before.enabled:
            self._remove()
        with open(self.rd.firewall_file, "w") as f:
            json.dump(state.to_json(), f)
        return state

    def _install(self, state: FirewallState) -> None:
        passes = [h["ip"] for h in self.rd.hosts().values() if h.get("role") == "cloud-lb"]
        restore = outside.firewall_restore(state, passes)
        self.commands.run(ROUTER, ["iptables-restore", "--noflush"], stdin=restore)
        try:
            self.commands.run(ROUTER, ["iptables", "-C", "FORWARD", *outside.jump_rule()])
        except HostCommandError:  # not there yet
            self.commands.run(ROUTER, ["iptables", "-I", "FORWARD", "1", *outside.jump_rule()])

    def _remove(self) -> None:
        """The router as it was: no jump, no chain."""
        self.commands.run(ROUTER, ["iptables", "-D", "FORWARD", *outside.jump_rule()], check=False)
        for flag in ("-F", "-X"):
            self.commands.run(ROUTER, ["iptables", flag, outside.FIREWALL_CHAIN], check=False)


def _port(text: str) -> outside.PortRule:
    try:
        return outside.parse_port(text)
    except ValueError as e:
        raise LabError(str(e)) from e


def _forget(api: ApiClient | None, agent: str) -> None:
    """A partitioned kubelet cannot report: take it out of what `apply --wait` waits for
    (its first report after `connect` puts it back)."""
    if api is None:
        return
    try:
        api.call(Call("DELETE", f"/lab/v1/agents/{agent}"))
    except Exception:  # the API server away: nothing waits for anyone then
        pass
