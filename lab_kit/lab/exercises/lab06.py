"""Lab 06's exercises: the pod a client sticks to is deleted; affinity switched off again."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled
from lab_kit.lab.random_generator import replica_ids, who_answered

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

SELECTOR = "app=random-generator"


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _url(lab: Lab) -> str:
    return f"http://{lab.get('services', 'random-generator')['spec']['clusterIP']}/"


def _ready_pods(lab: Lab) -> list[dict]:
    return [p for p in lab.get("pods", selector=SELECTOR) if ready(p)]


def _replacements(lab: Lab) -> list[str]:
    """Pods made well after the lab's originals (which started together)."""
    created = {p["metadata"]["name"]: _time(p["metadata"]["creationTimestamp"])
               for p in lab.get("pods", selector=SELECTOR)}  # fmt: skip
    first = min(created.values(), default=None)
    return [name for name, t in created.items() if first and (t - first).total_seconds() > 5]


def _sticky_deleted(lab: Lab) -> str:
    if not settled(lab, lambda: bool(_replacements(lab)), timeout_s=10):
        raise NotYet(
            "every random-generator pod is an original: delete the one the toolbox sticks to "
            "(`labkit delete pod NAME`)"
        )
    newer = _replacements(lab)
    if not settled(lab, lambda: len(_ready_pods(lab)) == 4, timeout_s=60):
        raise NotYet("the ReplicaSet's replacement is not Ready yet: check again in a moment")
    answers = who_answered(lab.requests("toolbox", _url(lab), 20), replica_ids(lab, "toolbox"))
    counts = Counter(answers)
    if "ERR" in counts or "?" in counts:
        raise NotYet(f"some requests failed or reached an unknown pod: {dict(counts)}")
    if len(counts) != 1:
        raise NotYet(
            f"20 requests reached {len(counts)} pods: is sessionAffinity still ClientIP? {dict(counts)}"
        )
    (pod,) = counts
    return (f"replacement {', '.join(newer)} runs; the toolbox now sticks to {pod} "
            "(a fresh draw, then remembered again)")  # fmt: skip


def _back_to_none(lab: Lab) -> str:
    affinity = lab.get("services", "random-generator")["spec"].get("sessionAffinity")
    if affinity != "None":
        raise NotYet(f"sessionAffinity is {affinity}: apply `manifests/clusterip-service.yml`")

    def no_recent() -> bool:
        return "-m recent" not in lab.service_rules("random-generator", node="node1")

    if not settled(lab, no_recent):
        raise NotYet("node1's rules still have `-m recent` rules: kube-proxy has not synced yet")
    answers = who_answered(lab.requests("toolbox", _url(lab), 40), replica_ids(lab, "toolbox"))
    counts = Counter(answers)
    if "ERR" in counts or len(counts) < 3:
        # Binomial(40, 1/4) per pod: two pods or fewer answering all 40 has odds below 1e-10.
        raise NotYet(f"40 requests from the toolbox reached {dict(counts)}: expected 3 or 4 pods")
    return (f"no `-m recent` rules on node1; 40 requests from the toolbox spread over "
            f"{len(counts)} pods {sorted(counts.values())}")  # fmt: skip


EXERCISES = {
    "06.1": Exercise("The sticky pod deleted", _sticky_deleted),
    "06.2": Exercise("Affinity off again", _back_to_none),
}
