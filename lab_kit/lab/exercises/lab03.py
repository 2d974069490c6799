"""Lab 03's exercises: a rollout that refreshes the snapshot, a Service named like a program's variable."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.controllers.deployment import deployment_complete
from lab_kit.lab.exercises._base import Exercise, NotYet, ready, settled

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab


def _running(lab: Lab) -> list[dict]:
    """The Deployment's pods that are not being deleted."""
    return [p for p in lab.get("pods", selector="app=random-generator")
            if not p["metadata"].get("deletionTimestamp")]  # fmt: skip


def _steady(lab: Lab) -> bool:
    """The Deployment rolled out: every replica updated and Ready, no pod on its way out."""
    d = lab.get("deployments", "random-generator")
    pods = lab.get("pods", selector="app=random-generator")
    return (deployment_complete(d, d.get("status") or {})
            and len(pods) == d["spec"].get("replicas")
            and all(ready(p) and not p["metadata"].get("deletionTimestamp") for p in pods))  # fmt: skip


def _printenv(lab: Lab, pod: str, name: str) -> str:
    done = lab.exec(pod, "printenv", name)
    return done.stdout.strip() if done.returncode == 0 else ""


def _rolled(lab: Lab) -> str:
    cluster_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
    if not settled(lab, lambda: _steady(lab), 60):
        raise NotYet("the Deployment is still rolling out: check again when its pods are Ready")
    held = {p["metadata"]["name"]: _printenv(lab, p["metadata"]["name"], "RANDOM_GENERATOR_SERVICE_HOST")
            for p in _running(lab)}  # fmt: skip
    stale = {name: value or "(none)" for name, value in held.items() if value != cluster_ip}
    if stale:
        raise NotYet(
            f"the Service is at {cluster_ip}, but {stale}: these containers started before it; "
            "start them all again with `!labkit rollout restart deployment/random-generator`"
        )
    toolbox = _printenv(lab, "toolbox", "RANDOM_GENERATOR_SERVICE_HOST") or "(none)"
    return (f"all {len(held)} pods hold RANDOM_GENERATOR_SERVICE_HOST={cluster_ip}; the toolbox, "
            f"not part of the Deployment, still holds {toolbox}")  # fmt: skip


def _redis(lab: Lab) -> str:
    found = [s for s in lab.get("services") if s["metadata"]["name"] == "redis"]
    if not found:
        raise NotYet(
            "there is no Service `redis`: `!labkit expose deployment random-generator "
            "--name=redis --port=6379 --target-port=8080`"
        )
    spec = found[0]["spec"]
    address, port = spec["clusterIP"], spec["ports"][0]["port"]
    if not settled(lab, lambda: _steady(lab), 60):
        raise NotYet("the Deployment's pods are still starting: check again in a moment")
    held = {p["metadata"]["name"]: _printenv(lab, p["metadata"]["name"], "REDIS_PORT")
            for p in _running(lab)}  # fmt: skip
    having = sorted(name for name, value in held.items() if value)
    if not having:
        raise NotYet(
            f"none of the {len(held)} random-generator pods has REDIS_PORT: they started before "
            "the Service; delete one and read the environment of its replacement"
        )
    pod = having[0]
    wanted = {"REDIS_PORT": f"tcp://{address}:{port}", "REDIS_SERVICE_PORT": str(port),
              "REDIS_SERVICE_HOST": address}  # fmt: skip
    seen = {name: _printenv(lab, pod, name) for name in wanted}
    if seen != wanted:
        raise NotYet(f"{pod} holds {seen}, the Service says {wanted}: has it been recreated?")
    return (f"{pod}: REDIS_PORT={wanted['REDIS_PORT']}, a URL where a Redis client expects a "
            f"number; {len(held) - len(having)} of {len(held)} pods, older than the Service, "
            "have no REDIS_*")  # fmt: skip


EXERCISES = {
    "03.1": Exercise("Every pod up to date", _rolled),
    "03.2": Exercise("A Service called redis", _redis),
}
