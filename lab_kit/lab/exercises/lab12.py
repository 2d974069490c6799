"""Lab 12's exercises: a NodePort the API server picks, Local with nodes that drop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

NODE_IPS = {"node1": "172.18.0.2", "node2": "172.18.0.3", "node3": "172.18.0.4"}
BOOK_PORT = 32766


def _from_client(lab: Lab, url: str, timeout_s: int = 1) -> int:
    """curl's exit code for one request from the outside client (0 answered, 28 timed out)."""
    return lab.host("client", "curl", "-s", "-o", "/dev/null", "-m", str(timeout_s), url).returncode


def _picked_port(lab: Lab) -> str:
    others = [s for s in lab.get("services")
              if s["spec"].get("type") == "NodePort" and s["metadata"]["name"] != "random-generator"
              and (s["spec"].get("selector") or {}).get("app") == "random-generator"]  # fmt: skip
    if not others:
        raise NotYet(
            "no second NodePort Service in front of the random-generator pods: "
            "`!labkit expose deployment random-generator --type=NodePort --name=rg-nodeport`"
        )
    svc = others[0]
    name, port = svc["metadata"]["name"], svc["spec"]["ports"][0]
    node_port = port.get("nodePort")
    if not node_port or not 30000 <= node_port <= 32767 or node_port == BOOK_PORT:
        raise NotYet(f"{name}'s nodePort is {node_port}: leave it out and the API server picks one")
    codes: dict[str, int] = {}

    def everywhere() -> bool:
        codes.update({n: _from_client(lab, f"http://{ip}:{node_port}/", 2) for n, ip in NODE_IPS.items()})  # fmt: skip
        return all(c == 0 for c in codes.values())

    if not settled(lab, everywhere):
        raise NotYet(
            f"curl from the client to each node's :{node_port} exits {codes} (0 = answered): "
            f"does {name} target the pods' port 8080? Is the firewall on (`lab.firewall('off')`)?"
        )
    return (f"{name}: the API server picked nodePort {node_port}; the client got an answer "
            "from all three nodes on it")  # fmt: skip


def _local_drops(lab: Lab) -> str:
    svc = lab.get("services", "random-generator")["spec"]
    if svc.get("externalTrafficPolicy") != "Local":
        raise NotYet(
            f"externalTrafficPolicy is {svc.get('externalTrafficPolicy')}: "
            "apply manifests/nodeport-local.yml"
        )
    wanted = lab.get("deployments", "random-generator")["spec"].get("replicas")
    if wanted != 2:
        raise NotYet(
            f"the Deployment wants {wanted} replicas: "
            "`!labkit scale deployment/random-generator --replicas=2`"
        )
    seen: dict[str, object] = {}

    def pods_settled() -> bool:
        pods = lab.get("pods", selector="app=random-generator")
        live = [p for p in pods if ready(p) and not p["metadata"].get("deletionTimestamp")]
        seen["homes"] = sorted({p["spec"]["nodeName"] for p in live})
        return len(pods) == 2 and len(live) == 2

    if not settled(lab, pods_settled, 60):
        raise NotYet("the Deployment is still scaling to 2 ready pods: check again in a moment")
    homes: list[str] = seen["homes"]  # type: ignore[assignment]
    codes: dict[str, int] = {}

    def only_homes_answer() -> bool:
        codes.update({n: _from_client(lab, f"http://{ip}:{BOOK_PORT}/") for n, ip in NODE_IPS.items()})  # fmt: skip
        return all((codes[n] == 0) == (n in homes) for n in NODE_IPS)

    if not settled(lab, only_homes_answer):
        raise NotYet(
            f"pods on {homes}, but curl to each node's :{BOOK_PORT} exits {codes} "
            "(0 answered, 28 timed out): kube-proxy may still be catching up; check again"
        )
    podless = sorted(set(NODE_IPS) - set(homes))
    dropped = ", ".join(f"{n} (curl exit {codes[n]})" for n in podless) or "none"
    return (f"pods on {', '.join(homes)}: those nodes answered; the ones without a pod "
            f"dropped the SYN: {dropped}")  # fmt: skip


EXERCISES = {
    "12.1": Exercise("A NodePort the API server picks", _picked_port),
    "12.2": Exercise("Local: which nodes answer?", _local_drops),
}
