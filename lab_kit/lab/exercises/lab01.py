"""Lab 01's exercises: an instance taken out of service in Eureka, new pods found by the watch."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from lab_kit.lab.errors import LabError
from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled
from lab_kit.lab.registry_lab import Consumer, Registry, pod_names

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab


def _quietly(condition: Callable[[], bool]) -> Callable[[], bool]:
    """A condition that counts a pod not answering (yet) as False."""

    def safe() -> bool:
        try:
            return condition()
        except LabError:
            return False

    return safe


def _last_renewal(reg: Registry, inst: str) -> int:
    """The lease's lastRenewalTimestamp (ms) of the instance `ip:port`, 0 if not listed."""
    for app in reg.apps()["applications"]["application"]:
        for i in app["instance"]:
            if f"{i['ipAddr']}:{i['port']['$']}" == inst:
                return int(i["leaseInfo"]["lastRenewalTimestamp"])
    return 0


def _out_of_service(lab: Lab) -> str:
    reg, con = Registry(lab), Consumer(lab, "consumer")
    seen: dict[str, dict[str, str]] = {}

    def overridden() -> bool:  # GET /apps lags by the response cache's interval (1 s here)
        seen["listed"] = reg.instances()
        return "OUT_OF_SERVICE" in seen["listed"].values()

    try:
        settled(lab, overridden, 5)
    except LabError as e:
        raise NotYet(f"the registry did not answer ({e}): is the eureka pod running?") from e
    listed = seen["listed"]
    out = [inst for inst, status in listed.items() if status == "OUT_OF_SERVICE"]
    if not out:
        raise NotYet(
            f"the registry lists {len(listed)} instances, all {sorted(set(listed.values()))}: "
            "PUT .../eureka/apps/RANDOM-GENERATOR/{instanceId}/status?value=OUT_OF_SERVICE "
            "with curl in the registry's pod (`reg.pod`)"
        )
    inst = out[0]
    name = pod_names(lab).get(inst.rpartition(":")[0], inst)
    renewed_at = _last_renewal(reg, inst)
    if not settled(lab, _quietly(lambda: inst not in con.cache()["instances"]), 15):
        raise NotYet(
            f"{inst} is still in the consumer's cache: its next fetch (every 5 s) drops it"
        )
    dropped = time.time() + 0.5  # a call already under way when the cache changed may finish
    if not settled(lab, _quietly(lambda: len(con.calls(since=dropped)) >= 10), 15):
        raise NotYet("the consumer made no calls since its fetch: is the consumer pod running?")
    calls = con.calls(since=dropped)
    if any(c["instance"] == inst for c in calls):
        raise NotYet(f"the consumer still calls {inst}: check again after its next fetch")
    if reg.instances().get(inst) != "OUT_OF_SERVICE":
        raise NotYet(f"{inst} is no longer listed OUT_OF_SERVICE: set the status again")
    if not settled(lab, _quietly(lambda: _last_renewal(reg, inst) > renewed_at), 10):
        raise NotYet(f"no heartbeat from {inst} for a while: is {name} still running?")
    phase = lab.get("pods", name)["status"].get("phase") if name != inst else "?"
    return (f"{name} ({inst}) is {phase} and still heartbeating, listed OUT_OF_SERVICE; the "
            f"consumer left it out at its next fetch: its last {len(calls)} calls went elsewhere")  # fmt: skip


def _scaled_watch(lab: Lab) -> str:
    wanted = lab.get("deployments", "random-generator")["spec"].get("replicas")
    if wanted != 5:
        raise NotYet(
            f"spec.replicas is {wanted}: `!labkit scale deployment/random-generator --replicas=5`"
        )
    k8s = Consumer(lab, "k8s-consumer")

    def pods() -> list[dict]:
        return [p for p in lab.get("pods", selector="app=random-generator")
                if not p["metadata"].get("deletionTimestamp")]  # fmt: skip

    def ready_instances() -> set[str]:
        return {f"{p['status']['podIP']}:8080" for p in pods() if ready(p)}

    def caught_up() -> bool:
        current = sorted(pods(), key=lambda p: p["metadata"]["creationTimestamp"])
        return (len(current) == 5 and all(ready(p) for p in current[-2:])
                and set(k8s.cache()["instances"]) == ready_instances())  # fmt: skip

    if not settled(lab, _quietly(caught_up), 30):
        raise NotYet(
            f"the watch lists {len(k8s.cache()['instances'])}, {len(ready_instances())} pods are "
            "Ready: the new pods are still starting, check again in a moment"
        )
    listed = set(k8s.cache()["instances"])
    since = time.time()

    def all_called() -> bool:
        return listed <= {c["instance"] for c in k8s.calls(since=since) if c["ok"]}

    if not settled(lab, _quietly(all_called), 15):
        raise NotYet("the k8s-consumer has not called every listed pod yet: check again")
    return (f"5 pods, {len(listed)} Ready: the watch lists exactly those {len(listed)} and the "
            "consumer called each; the new pods registered nothing, their readiness was enough")  # fmt: skip


EXERCISES = {
    "01.1": Exercise("Out of service, still running", _out_of_service),
    "01.2": Exercise("Scaled, and found by the watch", _scaled_watch),
}
