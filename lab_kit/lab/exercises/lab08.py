"""Lab 08's exercises: three endpoints and their probabilities; a named port and its chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled
from lab_kit.render.proxy_rules import svc_chain

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

SELECTOR = "app=random-generator"
UNNAMED = svc_chain("default/random-generator", "tcp")
NAMED = svc_chain("default/random-generator:http", "tcp")


def _jumps(lab: Lab, chain: str) -> list[str]:
    return [r for r in lab.iptables("node1", "nat").rules(chain) if "-j KUBE-SEP-" in r]


def _three(lab: Lab) -> str:
    replicas = lab.get("deployments", "random-generator")["spec"].get("replicas")
    if replicas != 3:
        raise NotYet(f"the Deployment wants {replicas} replicas: scale it to 3")
    chain = svc_chain(_chain_key(lab), "tcp")

    def caught_up() -> bool:
        pods = [p for p in lab.get("pods", selector=SELECTOR) if ready(p)]
        return len(pods) == 3 and len(_jumps(lab, chain)) == 3

    if not settled(lab, caught_up, timeout_s=60):
        raise NotYet(
            f"{chain} on node1 has {len(_jumps(lab, chain))} endpoint rules: wait a moment"
        )
    jumps = _jumps(lab, chain)
    # 1/3 and 1/2 as iptables-save prints them back (the kernel keeps a 32-bit fraction)
    wanted = ["--probability 0.33333333349", "--probability 0.50000000000", None]
    for rule, want in zip(jumps, wanted, strict=True):
        if want is None and "statistic" in rule or want is not None and want not in rule:
            raise NotYet(f"expected {want or 'no statistic'} in: {rule}")
    spec = lab.get("services", "random-generator")["spec"]
    toolbox = lab.get("pods", "toolbox")["status"]["podIP"]
    outcomes = lab.outcomes("node1", toolbox, spec["clusterIP"], spec["ports"][0]["port"])
    shares = sorted(o.fraction for o in outcomes)
    if shares != ["1/3"] * 3:
        raise NotYet(f"the tracer finds shares {shares}, not 1/3 each")
    return (f"{chain}: --probability 0.33333333349, then 0.50000000000, then always; "
            "each pod 1/3 overall")  # fmt: skip


def _chain_key(lab: Lab) -> str:
    name = lab.get("services", "random-generator")["spec"]["ports"][0].get("name")
    return f"default/random-generator:{name}" if name else "default/random-generator"


def _named(lab: Lab) -> str:
    ports = lab.get("services", "random-generator")["spec"]["ports"]
    if [p.get("name") for p in ports] != ["http"]:
        raise NotYet(
            f"the Service's port names are {[p.get('name') for p in ports]}: name it `http`"
        )

    def renamed() -> bool:
        services = "\n".join(lab.iptables("node1", "nat").rules("KUBE-SERVICES"))
        return f"-j {NAMED}" in services and f"-j {UNNAMED}" not in services

    if not settled(lab, renamed):
        raise NotYet(f"node1's KUBE-SERVICES does not jump to {NAMED} (only) yet: wait a moment")
    cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
    code = lab.exec("toolbox", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3",
                    f"http://{cluster_ip}/").stdout  # fmt: skip
    if code != "200":
        raise NotYet(f"the ClusterIP answered {code!r}: are the pods Ready (exercise 08.1)?")
    return (f"a new chain: {UNNAMED} (from 'default/random-generator') is gone, {NAMED} (from "
            "'default/random-generator:http') took its place; the ClusterIP still answers 200")  # fmt: skip


EXERCISES = {
    "08.1": Exercise("Three endpoints", _three),
    "08.2": Exercise("A name for the port", _named),
}
