"""Lab 13's exercises: back to Cluster (every node in rotation), an address given back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, settled
from lab_kit.lab.from_outside import requests_from
from lab_kit.render import cloud_lb

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

NODES = ["node1", "node2", "node3"]
SECOND = "198.51.100.33"  # the pool's second address, random-generator-web's in the lab


def _address(svc: dict) -> str:
    ingress = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or [{}]
    return ingress[0].get("ip", "")


def _cluster_everywhere(lab: Lab) -> str:
    svc = lab.get("services", "random-generator")
    policy = svc["spec"].get("externalTrafficPolicy")
    if policy != "Cluster":
        raise NotYet(
            f"externalTrafficPolicy is {policy}: apply the book's "
            "manifests/book/service-with-loadbalancer.yml"
        )
    address = _address(svc)
    if not address:
        raise NotYet("random-generator has no load balancer address yet: check again in a moment")
    pods = lab.get("pods", selector="app=random-generator")
    homes = sorted({p["spec"]["nodeName"] for p in pods})
    seen: dict[str, object] = {}

    def all_in() -> bool:
        entry = lab.load_balancer().address(address)
        seen["entry"] = entry
        return (entry.get("externalTrafficPolicy") == "Cluster"
                and entry.get("healthCheck", {}).get("port") == cloud_lb.KUBE_PROXY_HEALTHZ_PORT
                and lab.load_balancer().in_rotation(address) == NODES)  # fmt: skip

    if not settled(lab, all_in):
        entry: dict = seen["entry"]  # type: ignore[assignment]
        raise NotYet(
            f"the load balancer checks {entry.get('healthCheck')} under "
            f"{entry.get('externalTrafficPolicy')}, rotation "
            f"{lab.load_balancer().in_rotation(address)}: check again in a moment"
        )
    port = svc["spec"]["ports"][0]["port"]
    answers = requests_from("client", f"http://{address}:{port}/", 6)
    if "ERR" in answers:
        raise NotYet(f"the client's requests to {address}:{port} got {answers}: try again")
    return (f"{len(pods)} pods (on {', '.join(homes)}), yet all three nodes are in rotation: "
            f"the LB now checks kube-proxy's :{cloud_lb.KUBE_PROXY_HEALTHZ_PORT}/healthz; "
            "6 of 6 client requests answered")  # fmt: skip


def _given_back(lab: Lab) -> str:
    def services() -> dict[str, dict]:
        return {s["metadata"]["name"]: s for s in lab.get("services")}

    web = services().get("random-generator-web")
    if web is not None and not web["metadata"].get("deletionTimestamp"):
        raise NotYet(
            f"random-generator-web still holds {_address(web)}: "
            "`!labkit delete service random-generator-web`"
        )
    if not settled(lab, lambda: "random-generator-web" not in services()):
        raise NotYet(
            "random-generator-web is being deleted, waiting for the cloud controller to "
            "remove its load balancer (its finalizer): check again in a moment"
        )
    others = [s for n, s in services().items()
              if s["spec"].get("type") == "LoadBalancer" and n != "random-generator"]  # fmt: skip
    if not others:
        raise NotYet(
            "no second LoadBalancer Service yet: `!labkit expose deployment random-generator "
            "--type=LoadBalancer --port=80 --target-port=8080 --name=rg-again`"
        )
    name = others[0]["metadata"]["name"]

    def addressed() -> bool:
        return bool(_address(lab.get("services", name)))

    if not settled(lab, addressed):
        raise NotYet(f"{name} is still <pending>: check again in a moment")
    svc = lab.get("services", name)
    address, port = _address(svc), svc["spec"]["ports"][0]["port"]
    if address != SECOND:
        raise NotYet(
            f"{name} got {address}, not {SECOND}: was {SECOND} still taken when you created it? "
            f"Delete {name} and create it again"
        )
    answers: list[str] = []

    def served() -> bool:
        entry = lab.load_balancer().address(address)
        if entry.get("service") != f"default/{name}":
            return False
        answers[:] = requests_from("client", f"http://{address}:{port}/", 3, timeout_s=1)
        return "ERR" not in answers

    if not settled(lab, served):
        raise NotYet(
            f"the load balancer's {address} serves "
            f"{lab.load_balancer().address(address).get('service')} and the client got "
            f"{answers}: check again in a moment"
        )
    return (f"random-generator-web is gone (its finalizer held it until its load balancer was "
            f"removed) and {name} got {address} back, the pool's first "
            "free address; the client's requests to it are answered")  # fmt: skip


EXERCISES = {
    "13.1": Exercise("Back to Cluster: every node in rotation", _cluster_everywhere),
    "13.2": Exercise("An address given back", _given_back),
}
