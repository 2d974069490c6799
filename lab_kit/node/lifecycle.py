"""Stopping a container as the kubelet does: grace periods and lifecycle hooks.

Mirrors `kubernetes/kubernetes`:
- `pkg/kubelet/pod_workers.go` calculateEffectiveGracePeriod: the grace period a pod
  gets when it starts terminating (the API's deletionGracePeriodSeconds, else the pod's
  terminationGracePeriodSeconds; never under 1 s, so even a force-deleted pod gets one);
- `pkg/kubelet/kuberuntime/kuberuntime_container.go` killContainer, executePreStopHook and
  setTerminationGracePeriod: the preStop hook runs first, for at most the grace period;
  the whole seconds it took are taken off, and the rest — at least
  minimumGracePeriodInSeconds (2 s) — is StopContainer's timeout (SIGTERM, then SIGKILL
  when it runs out). A liveness or startup probe's own terminationGracePeriodSeconds
  applies when that probe is why the container is killed;
- `pkg/kubelet/lifecycle/handlers.go` Run: the hook handlers (exec in the container,
  httpGet with NewRequestForHTTPGetAction and User-Agent kube-lifecycle/<version>, sleep:
  the PodLifecycleSleepAction) and the words of a failed hook.

    effective = pod_grace_period_s(pod)            # when the deletion is seen
    hook ran for t s (at most `effective`)        # run_hook in the agent, on its clock
    stop_timeout_s(effective, t)                   # SIGTERM, then SIGKILL this much later

Pure: the pod worker (`lab_kit/agents/pod_worker.py`) runs the hooks through its sandbox
and prober and keeps the time. Left out: termination ordering of restartable init
containers (sidecars), the HTTPS-to-HTTP fallback of httpGet hooks, and events (the lab
has none: a failed hook is a line in the kubelet's log).
"""

from __future__ import annotations

import json

from lab_kit.model import meta
from lab_kit.node import probes

MINIMUM_GRACE_PERIOD_S = 2  # kuberuntime minimumGracePeriodInSeconds
LIFECYCLE_USER_AGENT = "kube-lifecycle/1.33"  # kube-<fragment>/<major>.<minor>
HOOKS = ("postStart", "preStop")


class HookError(Exception):
    """A lifecycle hook that cannot run (no handler the kubelet knows, a bad port)."""


def pod_grace_period_s(pod: dict, override_s: int | None = None) -> int:
    """calculateEffectiveGracePeriod for a pod starting to terminate: the API's
    deletionGracePeriodSeconds (the "bedrock truth"), or `override_s` if shorter (a pod the
    kubelet saw vanish: 0), else the pod's terminationGracePeriodSeconds; at least 1."""
    grace, overridden = 0, False
    deletion = meta.metadata(pod).get("deletionGracePeriodSeconds")
    if deletion is not None:
        grace, overridden = int(deletion), True
    if override_s is not None and (grace == 0 or override_s < grace):
        grace, overridden = override_s, True
    spec_grace = meta.spec(pod).get("terminationGracePeriodSeconds")
    if not overridden and grace == 0 and spec_grace is not None:
        grace = int(spec_grace)
    return max(grace, 1)


def kill_grace_period_s(pod: dict, container: dict, reason: str = "") -> int:
    """setTerminationGracePeriod: the grace period for killing one container. `reason`
    "liveness" or "startup" (that probe failed) takes the probe's own
    terminationGracePeriodSeconds when it sets one."""
    deletion = meta.metadata(pod).get("deletionGracePeriodSeconds")
    if deletion is not None:
        return int(deletion)
    spec_grace = meta.spec(pod).get("terminationGracePeriodSeconds")
    if spec_grace is None:
        return MINIMUM_GRACE_PERIOD_S
    probe = container.get(f"{reason}Probe") if reason in ("liveness", "startup") else None
    if isinstance(probe, dict) and probe.get("terminationGracePeriodSeconds") is not None:
        return int(probe["terminationGracePeriodSeconds"])
    return int(spec_grace)


def runs_pre_stop(container: dict, grace_s: int) -> bool:
    """killContainer runs the preStop hook only if there is one and time for it."""
    return hook_of(container, "preStop") is not None and grace_s > 0


def stop_timeout_s(grace_s: int, hook_s: float = 0.0) -> int:
    """StopContainer's timeout after a preStop hook that took `hook_s` seconds: the grace
    period less the whole seconds the hook took (executePreStopHook truncates), never
    under 2 s ("always give containers a minimal shutdown window")."""
    return max(grace_s - int(hook_s), MINIMUM_GRACE_PERIOD_S)


def hook_of(container: dict, hook: str) -> dict | None:
    """The container's `lifecycle.postStart` or `lifecycle.preStop` handler, if any."""
    lifecycle = container.get("lifecycle")
    handler = lifecycle.get(hook) if isinstance(lifecycle, dict) else None
    return handler if isinstance(handler, dict) else None


def handler_of(handler: dict, container: dict, pod_ip: str) -> tuple[str, dict]:
    """(kind, params) of a lifecycle handler, as handlers.go Run dispatches it:

    - "exec": {command}, run in the container (RunInContainer);
    - "httpGet": probes.http_get_params with User-Agent kube-lifecycle/<version>; the host
      defaults to the pod's IP; any answer at all is success (no status check);
    - "sleep": {seconds}.
    tcpSocket is accepted by the API but run by no kubelet: HookError, as for nothing."""
    if handler.get("exec") is not None:
        return "exec", {"command": list(handler["exec"].get("command") or [])}
    if handler.get("httpGet") is not None:
        try:
            params = probes.http_get_params(
                handler["httpGet"], container, pod_ip, LIFECYCLE_USER_AGENT
            )
        except probes.ProbeError as e:
            raise HookError(str(e)) from e
        return "httpGet", params
    if handler.get("sleep") is not None:
        return "sleep", {"seconds": int(handler["sleep"].get("seconds") or 0)}
    raise HookError(f"invalid handler: {json.dumps(handler, sort_keys=True)}")


def format_pod(pod: dict) -> str:
    """format.Pod: `name_namespace(uid)`."""
    return f"{meta.name(pod)}_{meta.namespace(pod)}({meta.uid(pod)})"


def _go_list(words: list[str]) -> str:
    return "[" + " ".join(words) + "]"  # fmt's %v of a []string


def hook_failure(handler: dict, container: dict, pod: dict, error: str, output: str = "") -> str:
    """handlers.go Run: the message of a hook that failed, per handler kind."""
    where = f'for Container "{container.get("name", "")}" in Pod "{format_pod(pod)}"'
    if handler.get("exec") is not None:
        command = _go_list(list(handler["exec"].get("command") or []))
        return (
            f"Exec lifecycle hook ({command}) {where} failed - error: {error}, "
            f"message: {json.dumps(output)}"
        )
    if handler.get("httpGet") is not None:
        path = handler["httpGet"].get("path") or ""
        return f"HTTP lifecycle hook ({path}) {where} failed - error: {error}"
    if handler.get("sleep") is not None:
        seconds = handler["sleep"].get("seconds")
        return f"Sleep lifecycle hook ({seconds}) {where} failed - error: {error}"
    return f"Cannot run handler: {error}"


def exec_error(command: list[str], exit_code: int | None, output: str) -> str:
    """The CRI client's ExecSync error for a command that did not exit 0."""
    if exit_code is None:
        return f"command '{' '.join(command)}' timed out"
    return f"command '{' '.join(command)}' exited with {exit_code}: {output}"
