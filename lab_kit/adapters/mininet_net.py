"""ClusterSpec -> a Mininet network: the only module that imports Mininet.

    client  cloud-lb  internet          (documentation ranges, one /24 each)
        \\      |      /
         [ lk-s2 ] ---- gw ---- [ lk-s1 ] ---- node1 node2 node3   (172.18.0.0/16)

Nodes and outside hosts are Mininet hosts (their own network and mount namespaces, held
by a Mininet shell); the switches are Linux bridges, so the root namespace gets only the
bridges and their ports — no address, no route, no rule. `gw` is the router between the
cluster and the outside world (kind's 172.18.0.1). Link shaping (bw, delay, loss) uses
Mininet's TCLink; delay and loss need netem, and where the kernel lacks it they are
dropped with a warning rather than failing the lab.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

from mininet.link import TCLink
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge

from lab_kit.model.topology import DOCUMENTATION_RANGES, ClusterSpec, LinkShape
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


def build(spec: ClusterSpec) -> LabNetwork:
    setLogLevel("error")
    net = Mininet(
        switch=LinuxBridge, controller=None, build=False, autoSetMacs=False, autoStaticArp=False
    )
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


def _configure(lab: LabNetwork) -> None:
    spec = lab.spec
    gw = lab.host(ROUTER)
    run(gw, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    for net in DOCUMENTATION_RANGES:
        run(
            gw,
            [
                "ip",
                "addr",
                "add",
                f"{net.network_address + 1}/{net.prefixlen}",
                "dev",
                f"{ROUTER}-eth1",
            ],
        )
    masq = render_masquerade(spec)
    for n in spec.nodes:
        host = lab.host(n.name)
        run(host, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        for dst, via in node_routes(spec, n):
            if dst != "default":
                run(host, ["ip", "route", "replace", dst, "via", via])
        run(host, ["iptables-restore", "--noflush"], stdin=masq)


def stop(lab: LabNetwork) -> None:
    lab.net.stop()
