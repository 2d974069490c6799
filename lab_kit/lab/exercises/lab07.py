"""Lab 07's exercises: one pod of three left Ready, then none."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled
from lab_kit.lab.random_generator import replica_ids, who_answered
from lab_kit.render.proxy_rules import svc_chain

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

SELECTOR = "app=random-generator"
CHAIN = svc_chain("default/random-generator", "tcp")
HINT = "POST /toggle-ready to a pod (as the button does) takes it out"


def _pods(lab: Lab) -> list[dict]:
    return list(lab.get("pods", selector=SELECTOR))


def _ready_endpoints(lab: Lab) -> list[str]:
    slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
    return sorted(e["addresses"][0] for s in slices for e in s.get("endpoints") or []
                  if (e.get("conditions") or {}).get("ready"))  # fmt: skip


def _jumps(lab: Lab) -> list[str]:
    rules = lab.service_rules("random-generator", node="node1").rules(CHAIN)
    return [r for r in rules if "-j KUBE-SEP-" in r]


def _one_left(lab: Lab) -> str:
    pods = _pods(lab)
    still = [p for p in pods if ready(p)]
    if len(still) != 1:
        raise NotYet(f"{len(still)} of {len(pods)} pods are Ready; leave exactly one: {HINT}")
    (left,) = still
    ip = left["status"]["podIP"]
    if not settled(lab, lambda: _ready_endpoints(lab) == [ip] and len(_jumps(lab)) == 1):
        raise NotYet(f"node1's {CHAIN} still has {len(_jumps(lab))} endpoint rules: wait a moment")
    (jump,) = _jumps(lab)
    if "statistic" in jump:
        raise NotYet(f"the only endpoint rule still draws a random number: {jump}")
    url = f"http://{lab.get('services', 'random-generator')['spec']['clusterIP']}/"
    counts = Counter(who_answered(lab.requests("toolbox", url, 20), replica_ids(lab, "toolbox")))
    if set(counts) != {left["metadata"]["name"]}:
        raise NotYet(f"20 requests were answered by {dict(counts)}, not only by the Ready pod")
    return (f"{left['metadata']['name']} is the only Ready pod: {CHAIN} has one rule, with no "
            "`statistic` (a probability of 1 needs no draw), and it answered all 20 requests")  # fmt: skip


def _none_left(lab: Lab) -> str:
    pods = _pods(lab)
    still = [p["metadata"]["name"] for p in pods if ready(p)]
    if still:
        raise NotYet(f"{', '.join(still)} still Ready: {HINT}")
    if not settled(lab, lambda: not _ready_endpoints(lab) and not _jumps(lab)):
        raise NotYet("kube-proxy still has endpoint rules for the Service: wait a moment")
    slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
    listed = sum(len(s.get("endpoints") or []) for s in slices)
    if listed != len(pods):
        raise NotYet(f"the slices list {listed} endpoints for {len(pods)} pods")
    url = f"http://{lab.get('services', 'random-generator')['spec']['clusterIP']}/"
    refused = lab.exec("toolbox", "curl", "-sS", "-m", "3", url)
    if refused.returncode != 7:  # curl: couldn't connect (kube-proxy's REJECT)
        raise NotYet(
            f"curl {url} exited {refused.returncode} ({refused.stderr.strip()!r}); expected 7, "
            "connection refused"
        )
    return (f"no pod Ready: the slice still lists all {listed} (ready: false), {CHAIN} has no "
            "endpoint rules, and the ClusterIP refuses the connection at once")  # fmt: skip


EXERCISES = {
    "07.1": Exercise("One pod left", _one_left),
    "07.2": Exercise("Nobody ready", _none_left),
}
