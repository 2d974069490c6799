"""The cloud load balancer as a learner sees it: per LB address its Service, mode, ports,
health check and each node's health and place in the rotation (`labkit lb`,
`Lab.load_balancer()`), and a packet's path client -> LB -> node -> pod with the address
rewrites at each hop (`Lab.draw_load_balancer(address)`).

    ADDRESS         SERVICE      MODE  POLICY  PORTS   CHECK            NODES
    198.51.100.32   default/web  VIP   Local   80/TCP  :31877/          node1 ✓ 200, node2 ✓ 200, node3 ✗ 503

It reads what the cloud-lb agent writes in the run dir (cloud-lb.json, refreshed every
health-check round); nothing here asks the LB host itself.
"""

from __future__ import annotations

from typing import Any

import graphviz

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.rundir import RunDir
from lab_kit.api.printers import format_table
from lab_kit.lab import objects
from lab_kit.lab.graphs import packet_path_graph

COLUMNS = ["ADDRESS", "SERVICE", "MODE", "POLICY", "PORTS", "CHECK", "NODES"]
CLIENT_IP = "192.0.2.10"  # the topology's outside client


class LoadBalancerView(list):
    """The rows of cloud-lb.json's addresses (dicts), printed as a table."""

    def __init__(self, record: dict):
        super().__init__(record.get("addresses") or [])
        self.record = record

    def __str__(self) -> str:
        return lb_text(self.record)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def address(self, address: str) -> dict:
        return next((a for a in self if a["address"] == address), {})

    def in_rotation(self, address: str) -> list[str]:
        return [n["name"] for n in self.address(address).get("nodes", []) if n["inRotation"]]


def load_balancer(rd: RunDir | None = None) -> LoadBalancerView:
    return LoadBalancerView((rd or RunDir()).cloud_lb())


def lb_text(record: dict) -> str:
    """The table, under a line saying how the LB checks nodes."""
    if not record:
        return "No load balancer view yet (is the lab up, with a cloud-lb host?)"
    s = record.get("settings") or {}
    head = (f"cloud-lb (leg {record.get('legAddress', '?')} on the node network): checks every "
            f"{s.get('intervalS')} s, timeout {s.get('timeoutS')} s, in after "
            f"{s.get('healthyThreshold')} pass, out after {s.get('unhealthyThreshold')} "
            f"failures (within {s.get('leavesRotationWithinS')} s)")  # fmt: skip
    rows = [_row(a) for a in record.get("addresses") or []]
    if not rows:
        return head + "\nNo LoadBalancer address yet."
    return head + "\n" + format_table([COLUMNS, *rows])


def _row(a: dict) -> list[str]:
    ports = ",".join(f"{p['port']}/{p['protocol'].upper()}" for p in a.get("ports") or [])
    check = f":{a['healthCheck']['port']}{a['healthCheck']['path']}"
    nodes = (
        ", ".join(
            f"{n['name']} {'✓' if n['inRotation'] else '✗'} {n['last'] or n['state']}"
            for n in a.get("nodes") or []
        )
        or "(no node)"
    )
    if a.get("failOpen"):
        nodes += " (none passes: all get traffic)"
    return [a["address"], a["service"], a["mode"], a["externalTrafficPolicy"], ports, check,
            nodes]  # fmt: skip


# --- the path of one request ------------------------------------------------------------------
def path_hops(entry: dict, node: dict, pod_ip: str, target_port: int, leg: str,
              client_ip: str = CLIENT_IP) -> list[dict]:  # fmt: skip
    """client -> cloud-lb -> node -> pod, each hop's addresses as the packet has them."""
    port = entry["ports"][0]
    lb_dst, client = f"{entry['address']}:{port['port']}", f"{client_ip}:p"
    proxy = entry["mode"] == "Proxy"
    at_node = ({"src": f"{leg}:q", "dst": f"{node['ip']}:{port['nodePort']}"} if proxy
               else {"src": client, "dst": lb_dst})  # fmt: skip
    local = entry["externalTrafficPolicy"] == "Local"
    src_at_pod = at_node["src"] if local else f"{node['ip']}:r"
    how = ("DNAT to a NodePort, SNAT to the LB's leg" if proxy
           else "nothing rewritten: routed to the node")  # fmt: skip
    kube_proxy = "KUBE-EXT -> KUBE-SVL (local pods), no SNAT" if local else "KUBE-EXT: SNAT"
    return [
        {"where": "client", "src": client, "dst": lb_dst},
        {"where": "leaving cloud-lb", **at_node, "note": how},
        {"where": f"{node['name']} (kube-proxy)", **at_node, "note": kube_proxy},
        {"where": "pod", "src": src_at_pod, "dst": f"{pod_ip}:{target_port}",
         "note": "DNAT to the pod"},
    ]  # fmt: skip


def path_graph(entry: dict, node: dict, pod_ip: str, target_port: int,
               leg: str) -> graphviz.Digraph:  # fmt: skip
    hops = path_hops(entry, node, pod_ip, target_port, leg)
    g = packet_path_graph(hops)
    g.attr(label=f"{entry['service']} at {entry['address']} ({entry['mode']}, "
                 f"externalTrafficPolicy {entry['externalTrafficPolicy']})")  # fmt: skip
    if entry["mode"] == "Proxy":
        g.edge(f"hop{len(hops) - 1}", "hop1", label="reply: back through cloud-lb",
               style="dashed", constraint="false")  # fmt: skip
    else:
        g.edge(f"hop{len(hops) - 1}", "hop0", label="reply: node -> gw -> client\n"
               "(direct server return: not through cloud-lb)", style="dashed",
               constraint="false")  # fmt: skip
    return g


def draw_path(client: ApiClient, address: str, rd: RunDir | None = None) -> graphviz.Digraph:
    """The path of a request to `address` through its first node in rotation and a pod
    that node would send it to."""
    view = load_balancer(rd)
    entry = view.address(address)
    if not entry:
        raise LookupError(f"the load balancer serves no address {address}")
    names = view.in_rotation(address) or [n["name"] for n in entry["nodes"]]
    node = next(n for n in entry["nodes"] if n["name"] == names[0])
    pod_ip, port = _endpoint(client, entry, node["name"])
    return path_graph(entry, node, pod_ip, port, view.record.get("legAddress", "cloud-lb"))


def _endpoint(client: ApiClient, entry: dict, node: str) -> tuple[str, int]:
    """A ready endpoint of the Service (on `node` if it has one there) and its port."""
    namespace, name = entry["service"].split("/", 1)
    slices = objects.get(client, "endpointslices", namespace=namespace,
                         selector=f"kubernetes.io/service-name={name}")  # fmt: skip
    found: list[tuple[bool, str, int]] = []
    for es in slices:
        port = ((es.get("ports") or [{}])[0]).get("port") or 0
        for ep in es.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is not False and ep.get("addresses"):
                found.append((ep.get("nodeName") != node, ep["addresses"][0], port))
    if not found:
        return "(no endpoint)", 0
    _, ip, port = sorted(found)[0]
    return ip, port
