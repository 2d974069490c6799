"""Lab 10's exercises: six pods behind both Services; a not-ready pod published anyway."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled

if TYPE_CHECKING:
    from lab_kit.lab.dns_view import DigResult
    from lab_kit.lab.lab import Lab

HEADLESS = "random-generator-headless.default.svc.cluster.local"
CLUSTERIP = "random-generator.default.svc.cluster.local"
PETS = "pets.default.svc.cluster.local"
PET2 = "pet-2.pets.default.svc.cluster.local"


def _six(lab: Lab) -> str:
    replicas = lab.get("deployments", "random-generator")["spec"].get("replicas")
    if replicas != 6:
        raise NotYet(f"the Deployment wants {replicas} replicas: scale it to 6")
    seen: dict[str, DigResult] = {}

    def caught_up() -> bool:
        pods = sorted(p["status"]["podIP"] for p in
                      lab.get("pods", selector="app=random-generator") if ready(p))  # fmt: skip
        seen["dig"] = lab.dig("toolbox", HEADLESS)
        return len(pods) == 6 and sorted(seen["dig"].addresses) == pods

    if not settled(lab, caught_up, timeout_s=60):
        raise NotYet(f"{HEADLESS} answers {seen['dig'].addresses}, not the 6 Ready pods yet")
    virtual = lab.dig("toolbox", CLUSTERIP).addresses
    cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
    if virtual != [cluster_ip]:
        raise NotYet(f"{CLUSTERIP} answers {virtual}, expected only the ClusterIP {cluster_ip}")
    return (f"the headless name answers 6 A records (the pods); the ClusterIP name still one, "
            f"{cluster_ip}")  # fmt: skip


def _published(lab: Lab) -> str:
    spec = lab.get("services", "pets")["spec"]
    if not spec.get("publishNotReadyAddresses"):
        raise NotYet("Service pets does not set `publishNotReadyAddresses: true` yet")
    pet2 = lab.get("pods", "pet-2")
    if ready(pet2):
        raise NotYet("pet-2 is Ready: this exercise is about a pod that is not")
    ip = pet2["status"]["podIP"]
    seen: dict[str, DigResult] = {}

    def published() -> bool:
        seen["pet"], seen["pets"] = lab.dig("toolbox", PET2), lab.dig("toolbox", PETS)
        return seen["pet"].addresses == [ip] and ip in seen["pets"].addresses

    if not settled(lab, published):
        raise NotYet(
            f"{PET2} answers {seen['pet'].status} {seen['pet'].addresses} and {PETS} "
            f"{seen['pets'].addresses}: wait a moment"
        )
    return (f"pet-2 is still not Ready, yet {PET2} -> {ip} and {PETS} lists it "
            "(its endpoint now says ready: true)")  # fmt: skip


EXERCISES = {
    "10.1": Exercise("Six pods, two names", _six),
    "10.2": Exercise("Publish the not-ready", _published),
}
