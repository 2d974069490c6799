"""Waiting for the lab, never sleeping blind: each wait names what it waits for and says
what was still missing when it gives up.

    converged          every agent has applied the store's newest version (the API's
                       /lab/v1/converged, fed by the agents' reports)
    wait_ready         ... and every Pod (of some namespaces) is Ready (`kubectl wait`)
    wait_applied       `apply --wait`: what the apply created or changed rolled out (its
                       pods Ready, or a pod that will not be, named at once), the data
                       plane converged
    wait_pod_finished  a pod's container ran to its end: its exit code
    wait_listening     something listens on a host's TCP port

Between checks the waits block on a watch of Pods (any change wakes them) rather than
polling; only `wait_listening` polls, since a socket table has no event to wait on.
`now` (and `sleep`) are parameters so that unit tests run the timeouts on virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.api import printers
from lab_kit.lab import access, rollout
from lab_kit.lab.errors import LabError
from lab_kit.model import meta
from lab_kit.model.kinds import by_kind_name

Now = Callable[[], float]
Report = Callable[[str], None]
PODS, REPLICASETS = by_kind_name("Pod"), by_kind_name("ReplicaSet")
DEPLOYMENTS = by_kind_name("Deployment")
# A container waiting for one of these will not start by itself: stop waiting for its end.
STUCK = ("ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError")


def converged(client: ApiClient, timeout_s: float = 60) -> None:
    """Return when every agent has applied the latest change, or raise after timeout_s."""
    result = client.converged(timeout_s)
    if not result.get("converged"):
        behind = ", ".join(result.get("behind", []) + result.get("missing", []))
        raise LabError(
            f"timed out after {timeout_s:.0f} s waiting for the lab to converge "
            f"(still behind: {behind or 'unknown'})"
        )


def is_ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in meta.status(pod).get("conditions") or []
    )


def not_ready(pods: list[dict], namespaces: list[str] | None = None) -> list[dict]:
    """The pods (of `namespaces`, or all) a `wait_ready` still waits for: Pods that finished
    or are being deleted don't count."""
    return [
        p
        for p in pods
        if (namespaces is None or meta.namespace(p) in namespaces)
        and not is_ready(p)
        and not meta.is_deleting(p)
        and meta.status(p).get("phase") not in ("Succeeded", "Failed")
    ]


def wait_ready(
    client: ApiClient,
    timeout_s: float = 60,
    namespace: str | None = None,
    namespaces: list[str] | None = None,
    *,
    now: Now = time.monotonic,
) -> None:
    """Return when every agent has applied the latest change and every Pod (in the given
    namespaces, or all) is Ready; Pods that finished or are being deleted don't count."""
    wanted = namespaces or ([namespace] if namespace else None)
    deadline = now() + timeout_s
    while True:
        converged(client, max(1.0, deadline - now()))
        waiting = not_ready(client.list(PODS)["items"], wanted)
        if not waiting:
            return
        if now() >= deadline:
            raise LabError(
                f"timed out after {timeout_s:.0f} s waiting for pods to be Ready: "
                + "; ".join(
                    f"{meta.namespace(p)}/{meta.name(p)}: {printers.pod_status_text(p)}"
                    for p in waiting
                )
            )
        client.watch_change(PODS, max(0.1, deadline - now()))


def wait_applied(
    client: ApiClient,
    changed: list[dict],
    timeout_s: float = 60,
    *,
    now: Now = time.monotonic,
    report: Report | None = None,
) -> list[str]:
    """`apply --wait`: wait until every agent has applied the change, then until each Pod,
    Deployment and ReplicaSet in `changed` (what the apply created or configured) has its
    pods Ready or has one that will not become Ready, then until the data plane has caught
    up with those pods. Returns kubectl's final lines ("deployment "web" successfully
    rolled out"); `report` sees each new "Waiting for ..." line as it comes. A LabError
    names every workload that will not become Ready (at once) or is still waiting (at the
    timeout). Pods this apply did not touch play no part."""
    wanted = rollout.targets(changed)
    if not wanted:  # a Service, a ConfigMap ...: the data plane is all there is to wait for
        converged(client, timeout_s)
        return []
    deadline = now() + timeout_s
    shown: set[str] = set()
    while True:
        converged(client, max(1.0, deadline - now()))
        world, rv = _observe(client, wanted)
        states = [rollout.observe(world, t) for t in wanted]
        _report_new(states, shown, report)
        if all(s.settled for s in states):
            converged(client, max(1.0, deadline - now()))  # endpoints of pods now Ready
            return _settled(states)
        if now() >= deadline:
            raise _timed_out(states, timeout_s)
        client.watch_change(PODS, max(0.1, deadline - now()), rv)


def _observe(client: ApiClient, wanted: list[rollout.Target]) -> tuple[rollout.World, int]:
    """The pods (and, if a workload is waited for, replicasets and deployments) now, and
    the version of the pod list (a watch from it misses no change)."""
    pods = client.list(PODS)
    world = rollout.World(pods["items"])
    if any(t.kind != "Pod" for t in wanted):
        world.replicasets = client.list(REPLICASETS)["items"]
        world.deployments = client.list(DEPLOYMENTS)["items"]
    return world, int(pods["metadata"]["resourceVersion"])


def _report_new(states: list[rollout.State], shown: set[str], report: Report | None) -> None:
    """Each "Waiting for ..." line once, as `kubectl rollout status` prints them."""
    for s in states:
        if s.waiting_for and s.message not in shown and report is not None:
            shown.add(s.message)
            report(s.message)


def _settled(states: list[rollout.State]) -> list[str]:
    """The final lines, or a LabError naming every workload that will not become Ready."""
    failed = [s.message for s in states if s.failure]
    if failed:
        raise LabError("\n".join(failed))
    return [s.line for s in states]


def _timed_out(states: list[rollout.State], timeout_s: float) -> LabError:
    late = "; ".join(s.waiting_for for s in states if not s.settled)
    failed = [s.message for s in states if s.failure]
    return LabError("\n".join([f"timed out after {timeout_s:.0f} s waiting for {late}", *failed]))


def exit_code(pod: dict) -> int | None:
    """The exit code of the pod's (first) container once it has run to its end, else None;
    a LabError if it is stuck waiting for something that will not come by itself."""
    for cs in meta.status(pod).get("containerStatuses") or []:
        state, last = cs.get("state") or {}, cs.get("lastState") or {}
        ended = state.get("terminated") or last.get("terminated")
        if ended:
            return int(ended.get("exitCode", 0))
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in STUCK:
            raise LabError(
                f"pod {meta.name(pod)}: {waiting['reason']}: {waiting.get('message', '')}"
            )
    return None


def wait_pod_finished(
    client: ApiClient,
    name: str,
    namespace: str = "default",
    timeout_s: float = 60,
    *,
    now: Now = time.monotonic,
) -> int:
    """Wait for a pod's (first) container to run to its end; return its exit code."""
    deadline = now() + timeout_s
    while True:
        pod = client.get(PODS, name, namespace)
        code = exit_code(pod)
        if code is not None:
            return code
        left = deadline - now()
        if left <= 0:
            raise LabError(
                f"timed out after {timeout_s:.0f} s waiting for pod {name} to finish "
                f"({printers.pod_status_text(pod)})"
            )
        client.watch_change(PODS, left)


def wait_listening(
    host: str,
    port: int,
    timeout_s: float = 10,
    *,
    now: Now = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once something on `host` listens on TCP `port`."""
    deadline = now() + timeout_s
    while True:
        out = access.run_on_host(host, ["ss", "-Hltn", f"sport = :{port}"])
        if out.stdout.strip():
            return
        if now() > deadline:
            raise LabError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")
        sleep(0.05)  # polling a socket table: there is no event to wait on
