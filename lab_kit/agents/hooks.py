"""Lifecycle hooks, run the way the kubelet's handler runner runs them.

Mirrors `kubernetes/kubernetes` `pkg/kubelet/lifecycle/handlers.go` (handlerRunner.Run,
runSleepHandler, runHTTPHandler):

    exec     RunInContainer: the command inside the container (the sandbox's ExecSync,
             the same path exec probes and `labkit exec` take); it fails on a non-zero exit
    httpGet  a GET from the node to the pod's IP (or `host`), through the kubelet's prober
             seam; any answer succeeds, only no answer fails; redirects are followed to any
             host (the hook's client is Go's default)
    sleep    PodLifecycleSleepAction: `sleep.seconds` on the kubelet's clock

`run` returns "" or the failure message in handlers.go's words; what to do with a failure
is the caller's (the pod worker logs a failed preStop hook and goes on stopping the
container; a failed postStart hook gets the container killed). The decisions (handler
kind, URL, headers, messages) are pure, in `lab_kit.node.lifecycle`.
"""

from __future__ import annotations

from lab_kit.adapters.clock import Clock
from lab_kit.adapters.prober import Prober
from lab_kit.adapters.sandbox import Sandbox
from lab_kit.node import containers, lifecycle

# Neither ExecSync nor the hook's HTTP client has a deadline of its own in the kubelet;
# the caller stops waiting (preStop: at the grace period). This only bounds what is left
# behind when nobody waits any more.
HOOK_DEADLINE_S = 3600.0


class HandlerRunner:
    """Runs one lifecycle handler of one container (exec, httpGet or sleep)."""

    def __init__(self, sandbox: Sandbox, prober: Prober, clock: Clock):
        self.sandbox, self.prober, self.clock = sandbox, prober, clock

    async def run(
        self, pod: dict, container: dict, handler: dict, *,
        pid: int, env: dict[str, str], pod_ip: str,
    ) -> str:  # fmt: skip
        """Run `handler` for `container` (its process `pid`, environment `env`); "" when
        it succeeded, else the message handlers.go's Run returns."""
        try:
            return await self._run(pod, container, handler, pid, env, pod_ip)
        except (lifecycle.HookError, OSError) as e:  # cannot run it, or exec itself failed
            return lifecycle.hook_failure(handler, container, pod, str(e))

    async def _run(
        self, pod: dict, container: dict, handler: dict, pid: int, env: dict[str, str],
        pod_ip: str,
    ) -> str:  # fmt: skip
        kind, params = lifecycle.handler_of(handler, container, pod_ip)
        if kind == "sleep":
            await self.clock.sleep(params["seconds"])
            return ""
        if kind == "exec":
            caps = list(containers.capabilities(container))
            command = params["command"]
            result = await self.sandbox.exec_sync(pid, caps, command, env, HOOK_DEADLINE_S)
            if result.exit_code == 0:
                return ""
            error = lifecycle.exec_error(command, result.exit_code, result.output)
            return lifecycle.hook_failure(handler, container, pod, error, result.output)
        answer = await self.prober.http_get(
            params["url"], params["headers"], HOOK_DEADLINE_S, follow_non_local_redirects=True
        )
        if answer.status is not None:
            return ""
        return lifecycle.hook_failure(handler, container, pod, answer.error)
