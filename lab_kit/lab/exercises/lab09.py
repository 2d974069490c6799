"""Lab 09's exercises: a hand-made endpoint marked not ready; a manual endpoint on another port."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, settled

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

OUTSIDE = "203.0.113.10"


def _cluster_ip(lab: Lab, service: str) -> str:
    return lab.get("services", service)["spec"]["clusterIP"]


def _not_ready(lab: Lab) -> str:
    slices = lab.get("endpointslices", selector="kubernetes.io/service-name=outside-slice")
    conditions = [e.get("conditions") or {} for s in slices for e in s.get("endpoints") or []]
    if not conditions or any(c.get("ready") is not False for c in conditions):
        raise NotYet(
            f"the endpoints of outside-slice have conditions {conditions}: set `ready: false` "
            "under the endpoint in a copy of manifests/manual-endpointslice.yml and apply it"
        )

    def rejected() -> bool:
        rules = lab.service_rules("outside-slice", node="node1")
        return "has no endpoints" in rules and f"--to-destination {OUTSIDE}" not in rules

    if not settled(lab, rejected):
        raise NotYet("node1 still DNATs outside-slice to the outside host: wait a moment")
    ip = _cluster_ip(lab, "outside-slice")
    curl = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{ip}/hostname")
    if curl.returncode != 7:
        raise NotYet(f"curl exited {curl.returncode}; expected 7 (refused by the node's REJECT)")
    return ("the endpoint is listed with ready: false; kube-proxy dropped its DNAT and REJECTs "
            f"at the node: {ip} is refused before any packet leaves the cluster")  # fmt: skip


def _other_port(lab: Lab) -> str:
    endpoints = lab.get("endpoints", "outside")
    ports = [p["port"] for s in endpoints.get("subsets") or [] for p in s.get("ports") or []]
    if ports != [9090]:
        raise NotYet(f"Endpoints outside has ports {ports}: change it to 9090")
    if not settled(lab, lambda: f"--to-destination {OUTSIDE}:9090" in
                   lab.service_rules("outside", node="node1")):  # fmt: skip
        raise NotYet(f"node1 does not DNAT to {OUTSIDE}:9090 yet: wait a moment")
    target = lab.get("services", "outside")["spec"]["ports"][0]["targetPort"]
    ip = _cluster_ip(lab, "outside")
    curl = lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{ip}/hostname")
    if curl.returncode != 0:
        raise NotYet(
            f"curl http://{ip}/hostname exited {curl.returncode} ({curl.stderr.strip()!r}): is a "
            "server listening on internet:9090 (`lab.start_on_host(...)`)?"
        )
    return (f"DNAT to {OUTSIDE}:9090 and an answer from it; the Service's targetPort "
            f"({target}) played no part: a manual endpoint's port is the destination")  # fmt: skip


EXERCISES = {
    "09.1": Exercise("Do the health check's job", _not_ready),
    "09.2": Exercise("The outside server moves to 9090", _other_port),
}
