"""Lab 00's exercises: scaling the book's Deployment, a deleted pod replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab


def _scaled_to_six(lab: Lab) -> str:
    d = lab.get("deployments", "random-generator")
    wanted = d["spec"].get("replicas")
    if wanted != 6:
        raise NotYet(
            f"spec.replicas is {wanted}: try `!labkit scale deployment/random-generator --replicas=6`"
        )

    def pods() -> list[dict]:
        return [p for p in lab.get("pods", selector="app=random-generator") if ready(p)]

    if not settled(lab, lambda: len(pods()) == 6):
        raise NotYet(
            f"{len(pods())} of 6 pods are Ready: give the kubelets a moment, then check again"
        )
    per_node: dict[str, int] = {}
    for p in pods():
        per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
    return f"6 Ready pods, per node: {dict(sorted(per_node.items()))} (the scheduler spreads them)"


def _replaced(lab: Lab) -> str:
    pods = lab.get("pods", selector="app=random-generator")
    wanted = lab.get("deployments", "random-generator")["spec"]["replicas"]
    ages = sorted(p["metadata"]["creationTimestamp"] for p in pods)
    if len(set(ages)) < 2:
        raise NotYet(
            "every pod is as old as the Deployment: delete one with `!labkit delete pod NAME`"
        )
    if not settled(
        lab,
        lambda: sum(ready(p) for p in lab.get("pods", selector="app=random-generator")) == wanted,
    ):
        raise NotYet("the replacement is not Ready yet: check again in a moment")
    return f"back to {wanted} Ready pods: the ReplicaSet made a new one for the deleted one"


EXERCISES = {
    "00.1": Exercise("Six replicas, two per node", _scaled_to_six),
    "00.2": Exercise("A deleted pod comes back", _replaced),
}
