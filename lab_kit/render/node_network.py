"""A node's own network set-up: routes to the other nodes' pods and the masquerade rules.

Routes: each node owns one pod CIDR; every node reaches another node's pods through that
node's address (what kindnet's routes or a cloud's route table do). Anything else leaves
through the lab's router (`172.18.0.1`, kind's gateway address).

Masquerade: pod traffic to the outside world leaves with the node's address, as
`ip-masq-agent` (k8s.io/ip-masq-agent) arranges on many clusters; traffic to pods and to
other nodes keeps the pod's address. Same chain name, same comments, so `iptables-save`
on a lab node reads like a real one.

    *nat
    :IP-MASQ-AGENT - [0:0]
    -A POSTROUTING -m comment --comment "ip-masq-agent: ensure nat POSTROUTING ..." ...
"""

from __future__ import annotations

from lab_kit.model.topology import ClusterSpec, NodeSpec

MASQ_CHAIN = "IP-MASQ-AGENT"


def node_routes(spec: ClusterSpec, node: NodeSpec) -> list[tuple[str, str]]:
    """(destination, via) for `node`: other nodes' pod CIDRs, then the default route."""
    routes = [(other.pod_cidr, other.ip) for other in spec.nodes if other.name != node.name]
    routes.append(("default", spec.gateway_ip))
    return routes


def render_masquerade(spec: ClusterSpec) -> str:
    """iptables-restore input (for --noflush) for a node's nat table."""
    c = "ip-masq-agent: "
    lines = [
        "*nat",
        f":{MASQ_CHAIN} - [0:0]",
        f'-A POSTROUTING -m comment --comment "{c}ensure nat POSTROUTING directs all non-LOCAL '
        f'destination traffic to our custom {MASQ_CHAIN} chain" -m addrtype ! --dst-type LOCAL '
        f"-j {MASQ_CHAIN}",
    ]
    for cidr in (spec.pod_cidr, spec.node_network):
        lines.append(
            f'-A {MASQ_CHAIN} -d {cidr} -m comment --comment "{c}local traffic is not subject '
            f'to MASQUERADE" -j RETURN'
        )
    lines.append(
        f'-A {MASQ_CHAIN} -m comment --comment "{c}outbound traffic is subject to MASQUERADE '
        f'(must be last in chain)" -j MASQUERADE'
    )
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"
