"""ClusterSpec -> a Mininet network: the only module that imports Mininet.

    client  internet  cloud-lb ──────────┐  (its leg on the node network)
        \\      |      /                   |
         [ lk-s2 ] ---- gw ---- [ lk-s1 ] ---- node1 node2 node3   (172.18.0.0/16)
    (documentation ranges, one /24 each)

Nodes and outside hosts are Mininet hosts (their own network and mount namespaces, held
by a Mininet shell); the switches are Linux bridges, so the root namespace gets only the
bridges and their ports — no address, no route, no rule: `LabBridge` turns IPv6 off on
each of them before it comes up (else the kernel gives every one an fe80:: address and
routes), and Mininet's one-time `fixLimits()` — which raises the machine's own socket
buffer, neighbour table and pty sysctls for good — is never run. `gw` is the router
between the cluster and the outside world (kind's 172.18.0.1); it and the nodes forward
inside their own namespaces, and it drops what it has no route for without an ICMP word
(a blackhole default route in its namespace), as a real network does. The cloud-lb
host also has a leg on the node network (a cloud's load balancer lives in the VPC: see
lab_kit/render/cloud_lb.py), and `gw` routes the topology's LB pool to it. Link shaping
(bw, delay, loss) uses Mininet's TCLink; delay and loss need netem, and where the kernel
lacks it they are dropped with a warning rather than failing the lab.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from mininet.link import Intf, TCLink
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge

from lab_kit.model.topology import DOCUMENTATION_RANGES, ClusterSpec, LinkShape
from lab_kit.render import cloud_lb
from lab_kit.render.node_network import node_routes, render_masquerade

CLUSTER_SWITCH, OUTSIDE_SWITCH, ROUTER = "lk-s1", "lk-s2", "gw"


@dataclass
class LabNetwork:
    spec: ClusterSpec
    net: Mininet
    warnings: list[str] = field(default_factory=list)

    def host(self, name: str):
        return self.net.get(name)

    def describe(self) -> dict:
        """What the network is, for network.json: host shells' PIDs, roles, addresses."""
        hosts = {}
        for n in self.spec.nodes:
            hosts[n.name] = {
                "pid": self.host(n.name).pid,
                "role": "node",
                "ip": n.ip,
                "pod_cidr": n.pod_cidr,
            }
        for h in self.spec.hosts:
            hosts[h.name] = {"pid": self.host(h.name).pid, "role": h.role, "ip": h.ip}
        hosts[ROUTER] = {"pid": self.host(ROUTER).pid, "role": "router", "ip": self.spec.gateway_ip}
        root_links = [CLUSTER_SWITCH, OUTSIDE_SWITCH] + [
            i.name for sw in self.net.switches for i in sw.intfList() if i.name != "lo"
        ]
        return {"hosts": hosts, "root_links": sorted(set(root_links)), "warnings": self.warnings}


PROC_SYS = "/proc/sys"


def disable_ipv6(link: str, proc_sys: str = PROC_SYS) -> bool:
    """Turn IPv6 off on one root-namespace link of the lab while it is still down, so it
    never gets a link-local address or the fe80::/64 and multicast routes that come with
    one. False when this kernel has no IPv6 (nothing to turn off)."""
    path = os.path.join(proc_sys, "net", "ipv6", "conf", link, "disable_ipv6")
    if not os.path.exists(path):
        return False
    with open(path, "w") as f:
        f.write("1")
    return True


class LabBridge(LinuxBridge):
    """Mininet's Linux bridge, with IPv6 off on the bridge and on its ports before they
    come up (Mininet's own brings them up at once). Its ports are the root-namespace ends of
    the veths, created down by the host that owns the other end; `addIntf` runs before
    Mininet sets one up, and `start` creates the bridge, turns IPv6 off, adds the ports and
    only then sets it up. No spanning tree (the topology has no loops)."""

    def addIntf(self, intf: Intf, port: int | None = None, **kwargs: object) -> None:
        if intf.name.startswith(f"{self.name}-"):  # a port; never the switch's "lo"
            disable_ipv6(intf.name)
        super().addIntf(intf, port=port, **kwargs)

    def start(self, _controllers: list[object]) -> None:
        self.cmd("ip", "link", "del", self.name)  # as LinuxBridge does: a leftover of ours
        self.cmd("ip", "link", "add", "name", self.name, "type", "bridge")
        disable_ipv6(self.name)
        for intf in self.intfList():
            if intf.name.startswith(f"{self.name}-"):
                self.cmd("ip", "link", "set", intf.name, "master", self.name)
        self.cmd("ip", "link", "set", self.name, "up")


def run(host, argv: list[str], stdin: str | None = None) -> str:
    """Run argv inside a Mininet host (its namespaces), no shell; raise on failure."""
    proc = host.popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(stdin)
    if proc.returncode != 0:
        raise RuntimeError(f"{host.name}: {' '.join(argv)} failed: {err.strip()}")
    return out


def new_mininet() -> Mininet:
    """An empty Mininet whose switches are `LabBridge`s, made without touching the machine.

    Mininet's constructor runs `Mininet.init()` once per process, and that calls
    `fixLimits()`: it raises this machine's net.core.rmem_max/wmem_max, tcp_rmem/wmem,
    netdev_max_backlog, neighbour gc_thresh*, route.max_size, fs.file-max and
    kernel.pty.max, and never puts them back. A lab of a few hosts needs none of them, so
    Mininet is told its initialisation is done (the network agent runs as root already)."""
    Mininet.inited = True
    return Mininet(
        switch=LabBridge, controller=None, build=False, autoSetMacs=False, autoStaticArp=False
    )


def build(spec: ClusterSpec) -> LabNetwork:
    setLogLevel("error")
    net = new_mininet()
    lab = LabNetwork(spec, net)
    try:
        _add_all(lab)
        net.build()
        net.start()
        _configure(lab)
    except BaseException:
        net.stop()
        raise
    return lab


def _add_all(lab: LabNetwork) -> None:
    spec, net = lab.spec, lab.net
    s1 = net.addSwitch(CLUSTER_SWITCH)
    s2 = net.addSwitch(OUTSIDE_SWITCH)
    gw = net.addHost(ROUTER, ip=f"{spec.gateway_ip}/{spec.node_prefix}")
    net.addLink(gw, s1)
    net.addLink(gw, s2)
    for n in spec.nodes:
        host = net.addHost(
            n.name, ip=f"{n.ip}/{spec.node_prefix}", defaultRoute=f"via {spec.gateway_ip}"
        )
        net.addLink(host, s1, **_shape(lab, n.name, n.link))
    for h in spec.hosts:
        host = net.addHost(h.name, ip=f"{h.ip}/24", defaultRoute=f"via {h.gateway}")
        net.addLink(host, s2, **_shape(lab, h.name, h.link))
        if h.role == "cloud-lb":  # a cloud's load balancer lives in the VPC: a leg there
            net.addLink(host, s1, intfName1=cloud_lb.leg_interface(h.name))


def _shape(lab: LabNetwork, name: str, link: LinkShape) -> dict:
    """addLink keywords: a plain veth, or a TCLink when the topology shapes this link."""
    netem = netem_available() if link.needs_netem else False
    if link.needs_netem and not netem:
        lab.warnings.append(
            f"{name}: link delay/loss ignored: this kernel has no netem qdisc "
            "(bandwidth limits still apply)"
        )
    params = link.tclink_params(netem)
    return {"cls": TCLink, **params} if params else {}


_NETEM: bool | None = None


def netem_available() -> bool:
    """Does this kernel have the netem qdisc? Asked once, in a throwaway namespace."""
    global _NETEM
    if _NETEM is None:
        r = subprocess.run(
            [
                "unshare",
                "--net",
                "tc",
                "qdisc",
                "add",
                "dev",
                "lo",
                "root",
                "netem",
                "delay",
                "1ms",
            ],
            capture_output=True,
        )
        _NETEM = r.returncode == 0
    return _NETEM


def router_setup() -> list[list[str]]:
    """What `gw` runs, in its own namespaces: forwarding; its address on each outside
    range (the hosts' `.1`); and a blackhole default route, so a packet for an address no
    one has (a ClusterIP that no rule rewrote, a wrong Service port, a pod address from
    outside) is dropped without a word, as on a real network, where it leaves towards
    the internet and vanishes. Without it the kernel answers at once with ICMP "network
    unreachable"; a blackhole route sends no ICMP (unlike `unreachable` and `prohibit`)."""
    argv = [["sysctl", "-qw", "net.ipv4.ip_forward=1"]]
    for net in DOCUMENTATION_RANGES:
        address = f"{net.network_address + 1}/{net.prefixlen}"
        argv.append(["ip", "addr", "add", address, "dev", f"{ROUTER}-eth1"])
    argv.append(["ip", "route", "add", "blackhole", "default"])
    return argv


def _configure(lab: LabNetwork) -> None:
    spec = lab.spec
    gw = lab.host(ROUTER)
    for argv in router_setup():
        run(gw, argv)
    masq = render_masquerade(spec)
    for n in spec.nodes:
        host = lab.host(n.name)
        run(host, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        for dst, via in node_routes(spec, n):
            if dst != "default":
                run(host, ["ip", "route", "replace", dst, "via", via])
        run(host, ["iptables-restore", "--noflush"], stdin=masq)
    _configure_cloud_lb(lab)


def _configure_cloud_lb(lab: LabNetwork) -> None:
    """The load balancer's plumbing (its rules are the cloud-lb agent's): its leg on the
    node network, a routing table per node, and the router's route for the pool."""
    spec = lab.spec
    host = spec.host_role("cloud-lb")
    if host is None:
        return
    nodes = cloud_lb.lb_nodes((n.name, n.ip) for n in spec.nodes)
    leg = cloud_lb.leg_interface(host.name)
    address = cloud_lb.leg_address(spec.node_network, [n.ip for n in spec.nodes])
    pool = spec.load_balancer_pool
    for argv in cloud_lb.host_plan(leg, address, spec.node_prefix, pool, nodes):
        if pool or "blackhole" not in argv:
            run(lab.host(host.name), argv)
    if pool:
        plan = cloud_lb.router_plan(pool, host.ip, f"{ROUTER}-eth1", f"{ROUTER}-eth0")
        for argv in plan:
            run(lab.host(ROUTER), argv)


def stop(lab: LabNetwork) -> None:
    lab.net.stop()
