"""The network around the cluster, as text: the router's NodePort firewall and the commands
that take a node off the network and bring it back. No I/O: `lab_kit/lab/outside.py` runs
them in the router's and the nodes' namespaces.

The firewall plays a cloud's VPC firewall for the chapter's point that a NodePort must be
opened to be reached (`gcloud compute firewall-rules create --allow tcp:30080`): when on,
packets from the outside hosts to the nodes' NodePort range (the API server's
--service-node-port-range, 30000-32767) are dropped — a timeout, as a cloud's firewall
drops — unless a rule allows their port. It lives in the lab's router `gw`, in its own
chain of the filter table, reached from FORWARD for packets going from the outside network
(gw-eth1) to the cluster network (gw-eth0):

    FORWARD -i gw-eth1 -o gw-eth0 -j LAB-FIREWALL
    LAB-FIREWALL: the cloud load balancer's own address    RETURN   (see below)
                  each allowed port                        ACCEPT
                  tcp, udp to 30000:32767                  DROP

Only the NodePort range is closed, not everything a real default-deny would close: the
lab is about Services. The `cloud-lb` host's address passes: a cloud's service controller
opens the paths of the load balancers it makes and of their health checks itself
(GCE's k8s-fw-* and health-check rules), so a LoadBalancer Service works with the
firewall on, as it does in the cloud.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab_kit.model.constants import NODE_PORT_RANGE

FIREWALL_CHAIN = "LAB-FIREWALL"
PROTOCOLS = ("tcp", "udp", "sctp")
ROUTER = "gw"
ROUTER_CLUSTER_IF = "gw-eth0"  # the router's first link is to the cluster switch
ROUTER_OUTSIDE_IF = "gw-eth1"


def cluster_interface(host: str) -> str:
    """A node's (or the router's) link to the cluster network: Mininet names a host's
    first link <host>-eth0, and the network agent links every node to the cluster switch
    first (`lab_kit/adapters/mininet_net.py`)."""
    return f"{host}-eth0"


# --- firewall rules ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class PortRule:
    """An opened port or port range, spelled as gcloud spells it: `tcp:30080`."""

    protocol: str
    first: int
    last: int

    def __str__(self) -> str:
        ports = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        return f"{self.protocol}:{ports}"

    def dport(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}:{self.last}"


PORT_SPELLINGS = "PORT, PORT/PROTO, PROTO:PORT, or a range FIRST-LAST (e.g. 30080/tcp)"


def parse_port(text: str) -> PortRule:
    """`30080`, `30080/tcp`, `30053/udp`, `tcp:30080`, `30000-30100/tcp` -> PortRule;
    ValueError with what is accepted otherwise. TCP unless said."""
    m = re.fullmatch(r"(?:([a-z]+):)?(\d+)(?:-(\d+))?(?:/([a-z]+))?", text.strip().lower())
    if not m or (m.group(1) and m.group(4)):
        raise ValueError(f'invalid port "{text}": give {PORT_SPELLINGS}')
    protocol = m.group(1) or m.group(4) or "tcp"
    if protocol not in PROTOCOLS:
        raise ValueError(f'invalid protocol "{protocol}": one of {", ".join(PROTOCOLS)}')
    first = int(m.group(2))
    last = int(m.group(3) or first)
    if not 1 <= first <= last <= 65535:
        raise ValueError(f'invalid port range "{text}": ports are 1-65535, first <= last')
    return PortRule(protocol, first, last)


@dataclass(frozen=True)
class FirewallState:
    """What the firewall should be: on or off (off by default), and the ports allowed."""

    enabled: bool = False
    allowed: tuple[PortRule, ...] = field(default_factory=tuple)

    def allow(self, rule: PortRule) -> FirewallState:
        return FirewallState(self.enabled, tuple(sorted({*self.allowed, rule})))

    def deny(self, rule: PortRule) -> FirewallState:
        return FirewallState(self.enabled, tuple(r for r in self.allowed if r != rule))

    def to_json(self) -> dict:
        return {"enabled": self.enabled, "allowed": [str(r) for r in self.allowed]}

    @classmethod
    def from_json(cls, data: dict) -> FirewallState:
        rules = tuple(sorted(parse_port(t) for t in data.get("allowed") or []))
        return cls(bool(data.get("enabled")), rules)


def jump_rule() -> list[str]:
    """The FORWARD rule that sends outside -> cluster packets through the firewall (the
    words after `-A FORWARD`, `-C FORWARD` or `-D FORWARD`)."""
    return [
        "-i", ROUTER_OUTSIDE_IF, "-o", ROUTER_CLUSTER_IF,
        "-m", "comment", "--comment", "lab_kit: the cloud firewall in front of the nodes",
        "-j", FIREWALL_CHAIN,
    ]  # fmt: skip


def firewall_restore(state: FirewallState, passes: list[str]) -> str:
    """`iptables-restore --noflush` input for gw's filter table: the firewall chain, whole
    (declaring it flushes it). Off: the chain empty. `passes`: addresses never filtered
    (the cloud load balancer's)."""
    lines = ["*filter", f":{FIREWALL_CHAIN} - [0:0]"]
    if state.enabled:
        for ip in passes:
            lines.append(
                f"-A {FIREWALL_CHAIN} -s {ip}/32 -m comment --comment "
                '"the cloud load balancer and its health checks" -j RETURN'
            )
        for rule in state.allowed:
            lines.append(
                f"-A {FIREWALL_CHAIN} -p {rule.protocol} -m {rule.protocol} "
                f'--dport {rule.dport()} -m comment --comment "allow {rule}" -j ACCEPT'
            )
        low, high = NODE_PORT_RANGE
        for protocol in PROTOCOLS:
            lines.append(
                f"-A {FIREWALL_CHAIN} -p {protocol} -m {protocol} --dport {low}:{high} "
                '-m comment --comment "the NodePort range is closed" -j DROP'
            )
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def describe_firewall(state: FirewallState) -> str:
    """The firewall in a user's words (`labkit firewall list`)."""
    low, high = NODE_PORT_RANGE
    head = (
        f"Firewall on: outside hosts cannot reach the nodes' ports {low}-{high}, except:"
        if state.enabled
        else "Firewall off: nothing filtered (rules below apply once it is on)"
    )
    rules = [f"  allow {r}" for r in state.allowed] or ["  (no port allowed)"]
    return "\n".join([head, *rules])


# --- a node off the network -------------------------------------------------------------------


def pin_neighbour(ip: str, mac: str, device: str) -> list[str]:
    """Where a peer keeps sending frames for a disconnected node, as a cloud network keeps
    routing to a VM that is gone: a permanent neighbour entry, so the peer never asks
    ARP, never gives up on the address and never answers "host unreachable" — the
    packets simply get no answer (a timeout)."""
    return ["ip", "neigh", "replace", ip, "lladdr", mac, "dev", device, "nud", "permanent"]


def unpin_neighbour(ip: str, device: str) -> list[str]:
    return ["ip", "neigh", "del", ip, "dev", device]


def link(device: str, up: bool) -> list[str]:
    return ["ip", "link", "set", "dev", device, "up" if up else "down"]


def node_route_commands(routes: list[tuple[str, str]]) -> list[list[str]]:
    """The node's routes again after its link came back (a link going down takes the
    IPv4 routes through it along): other nodes' pod CIDRs, then the default route."""
    return [["ip", "route", "replace", dst, "via", via] for dst, via in routes]
