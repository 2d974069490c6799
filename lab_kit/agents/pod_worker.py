"""One Pod on one node, from sandbox to deletion (the kubelet's pod worker).

    _setup:      IP, resolv.conf + /etc/hosts, pause process (namespaces), veth to the node
    _container:  resolve image -> start in the pod's namespaces -> wait -> restart policy
    _probe:      every periodSeconds run the check; thresholds decide ready / live / started
    _publish:    render the Pod status from what is known; write it when it changed
    terminate:   SIGTERM, grace period, SIGKILL, remove the sandbox, delete the Pod (grace 0)

Unlike the real kubelet there is no container runtime: a container is a process group
started inside the pod's namespaces, its image resolved to a built-in workload or to the
machine's tools (`lab_kit.agents.images`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx

from lab_kit.adapters import sandbox
from lab_kit.adapters.processes import start_ticks
from lab_kit.model import constants as C
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name
from lab_kit.node import dnsconfig, envvars, probes
from lab_kit.node.podstatus import ContainerFacts, render_status, status_changed, timestamp
from lab_kit.agents import images

log = logging.getLogger("kubelet")


class ContainerRun:
    def __init__(self, spec: dict):
        self.spec = spec
        self.name = spec["name"]
        self.facts = ContainerFacts(
            name=self.name, image=spec.get("image", ""), state="waiting", reason="ContainerCreating"
        )
        self.proc: asyncio.subprocess.Process | None = None
        self.env: dict[str, str] = {}
        self.probe_tasks: list[asyncio.Task] = []


class PodWorker:
    def __init__(self, kubelet, pod: dict):
        self.kubelet, self.pod = kubelet, pod
        self.uid = meta.uid(pod)
        self.pod_ip = ""
        self.pause: subprocess.Popen | None = None
        self.containers = [ContainerRun(c) for c in meta.spec(pod).get("containers") or []]
        self.dir = os.path.join(
            kubelet.run_dir, "pods", f"{meta.namespace(pod)}_{meta.name(pod)}_{self.uid}"
        )
        self.start_time = time.time()
        self.dirty = asyncio.Event()
        self.terminating = False
        self.finished = False
        self._publishing = False
        self._tasks: list[asyncio.Task] = []

    @property
    def settled(self) -> bool:
        return not self.dirty.is_set() and not self._publishing

    # --- driven by the kubelet --------------------------------------------------------------------
    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run()))

    def update(self, pod: dict) -> None:
        self.pod = pod
        if meta.is_deleting(pod) and not self.terminating:
            self.terminating = True
            self._tasks.append(asyncio.create_task(self.terminate()))

    def vanished(self) -> None:
        """The Pod was removed from the API without us (force delete): just stop."""
        if not self.finished:
            self.terminating = True
            self._tasks.append(asyncio.create_task(self._vanish()))

    async def _vanish(self) -> None:
        await self.kill_now()

    # --- set-up ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self._setup()
        except Exception as e:  # a sandbox that can't be built is a pod event, not a crash
            log.exception("pod %s: sandbox failed", meta.name(self.pod))
            for c in self.containers:
                c.facts.reason, c.facts.message = (
                    "CreateContainerError",
                    f"failed to create pod sandbox: {e}",
                )
            self.dirty.set()
        else:
            for c in self.containers:
                self._tasks.append(asyncio.create_task(self._container(c)))
        await self._publish_loop()

    async def _setup(self) -> None:
        self.pod_ip = self.kubelet.ipam.allocate()
        os.makedirs(os.path.join(self.dir, "opt"), exist_ok=True)
        hostname = dnsconfig.kernel_hostname(self.pod, C.CLUSTER_DOMAIN)
        resolv, hosts = os.path.join(self.dir, "resolv.conf"), os.path.join(self.dir, "hosts")
        with open(resolv, "w") as f:
            f.write(
                dnsconfig.resolv_conf(
                    self.pod, [C.CLUSTER_DNS_IP], C.CLUSTER_DOMAIN, self.kubelet.node_resolv_conf()
                )
            )
        with open(hosts, "w") as f:
            f.write(dnsconfig.hosts_file(self.pod, self.pod_ip, C.CLUSTER_DOMAIN))
        mounts = [(resolv, "/etc/resolv.conf"), (hosts, "/etc/hosts")]
        # A private /opt for each pod (the book's readiness file lives there), unless the
        # kit itself is installed under /opt: containers must still reach its Python.
        # (No private /tmp for the same reason: a clone under /tmp would vanish.)
        if not any(p.startswith("/opt/") for p in (sys.executable, os.path.abspath(__file__))):
            mounts.append((os.path.join(self.dir, "opt"), "/opt"))
        self.pause = sandbox.create_sandbox(hostname, mounts)
        self._save_state()
        await sandbox.plug_pod(self.pause.pid, self.uid, self.pod_ip, self.kubelet.ipam.gateway)
        self.dirty.set()

    def _save_state(self) -> None:
        """What `labkit exec` and `labkit clean` need: PIDs (with start times) and env."""
        state = {
            "uid": self.uid,
            "name": meta.name(self.pod),
            "namespace": meta.namespace(self.pod),
            "pod_ip": self.pod_ip,
            "node": self.kubelet.node.name,
            "pause": _pid_record(self.pause.pid) if self.pause else None,
            "containers": {
                c.name: {
                    "pid": _pid_record(c.proc.pid) if c.proc else None,
                    "env": c.env,
                    "log": self._log_path(c),
                }
                for c in self.containers
            },
        }
        tmp = os.path.join(self.dir, "sandbox.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, os.path.join(self.dir, "sandbox.json"))

    def _log_path(self, c: ContainerRun) -> str:
        return os.path.join(self.dir, c.name, f"{c.facts.restart_count}.log")

    # --- containers -------------------------------------------------------------------------------
    async def _container(self, c: ContainerRun) -> None:
        program = images.resolve(c.spec)
        if isinstance(program, images.Unknown):
            c.facts.reason, c.facts.message = program.reason, program.message
            self.dirty.set()
            return
        while not self.terminating:
            try:
                c.env = envvars.container_env(
                    c.spec,
                    self._pod_with_ips(),
                    self._service_env(),
                    self._objects("config_maps"),
                    self._objects("secrets"),
                )
            except envvars.CreateContainerConfigError as e:
                c.facts.reason, c.facts.message = "CreateContainerConfigError", str(e)
                self.dirty.set()
                await asyncio.sleep(5)  # kubelet retries on its next sync of the pod
                continue
            code = await self._run_once(c, program)
            if self.terminating or not probes.should_restart(
                meta.spec(self.pod).get("restartPolicy", "Always"), code
            ):
                return
            delay = probes.crash_loop_backoff_s(c.facts.restart_count)
            if delay > 0:
                c.facts.state, c.facts.reason = "waiting", "CrashLoopBackOff"
                c.facts.message = probes.crash_loop_message(self.pod, c.name, delay)
                self.dirty.set()
                await asyncio.sleep(delay)  # the back-off itself (a timer, as in kubelet)
            c.facts.restart_count += 1
            c.facts.last_state = getattr(
                self, "_pending_last_state", None
            )  # the run that just ended

    async def _run_once(self, c: ContainerRun, program) -> int:
        os.makedirs(os.path.dirname(self._log_path(c)), exist_ok=True)
        env = {**program.env_extra, **c.env}  # the container's env wins over the image's
        if program.api_access:  # the lab's stand-in for in-cluster config (see cluster_dns.py)
            env["LABKIT_APISERVER"] = self.kubelet.client.socket_path or ""
            env["LABKIT_POD"] = f"{meta.namespace(self.pod)}/{meta.name(self.pod)}"
        try:
            with open(self._log_path(c), "ab") as logf:
                c.proc = await asyncio.create_subprocess_exec(
                    *program.argv,
                    preexec_fn=sandbox.joiner(self.pause.pid),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except (FileNotFoundError, PermissionError) as e:
            c.facts.state, c.facts.reason = "waiting", "RunContainerError"
            c.facts.message = (
                f'failed to create containerd task: exec: "{program.argv[0]}": '
                f"{'executable file not found in $PATH' if isinstance(e, FileNotFoundError) else e}"
            )
            self.dirty.set()
            return 128
        c.facts.state, c.facts.reason, c.facts.message = "running", "", ""
        c.facts.started_at, c.facts.container_id = time.time(), f"lab_kit://{c.proc.pid}"
        c.facts.ready = "readinessProbe" not in c.spec
        c.facts.started = "startupProbe" not in c.spec
        self._save_state()
        self.dirty.set()
        c.probe_tasks = [
            asyncio.create_task(self._probe(c, kind))
            for kind in ("startup", "liveness", "readiness")
            if f"{kind}Probe" in c.spec
        ]
        code = await c.proc.wait()
        if code < 0:  # killed by signal N: runtimes report 128+N
            code = 128 - code
        for t in c.probe_tasks:
            t.cancel()
        last = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": timestamp(c.facts.started_at),
                "finishedAt": timestamp(time.time()),
                "containerID": c.facts.container_id,
            }
        }
        c.facts.state, c.facts.exit_code, c.facts.finished_at = "terminated", code, time.time()
        c.facts.reason = "Completed" if code == 0 else "Error"
        c.facts.ready = False
        self.dirty.set()
        self._pending_last_state = last
        return code

    # --- probes -------------------------------------------------------------------------------------
    async def _probe(self, c: ContainerRun, kind: str) -> None:
        probe = c.spec[f"{kind}Probe"]
        tracker = probes.ProbeTracker(kind, probe, c.facts.started_at or time.time())
        while True:
            if kind != "startup" and not c.facts.started:
                await asyncio.sleep(0.2)  # liveness/readiness begin once the startup probe passed
                continue
            wait = tracker.seconds_until_due(time.time())
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                ok = await self._check(c, probe, tracker.timeout_s)
                result = tracker.record(ok, time.time())
            except probes.ProbeError:
                result = tracker.record_error(time.time())
            if kind == "readiness":
                self._set(c, ready=result == "Success")
            elif kind == "startup" and result == "Success":
                self._set(c, started=True)
                return
            elif result == "Failure" and c.proc is not None:
                log.info(
                    "%s/%s: %s probe failed, killing the container",
                    meta.name(self.pod),
                    c.name,
                    kind,
                )
                sandbox.kill_tree(c.proc.pid, signal.SIGTERM)
                return

    def _set(self, c: ContainerRun, **changes) -> None:
        for k, v in changes.items():
            if getattr(c.facts, k) != v:
                setattr(c.facts, k, v)
                self.dirty.set()

    async def _check(self, c: ContainerRun, probe: dict, timeout_s: float) -> bool:
        kind, params = probes.handler_of(probe, c.spec, self.pod_ip)
        try:
            if kind == "httpGet":
                async with httpx.AsyncClient(timeout=timeout_s, verify=False) as http:
                    r = await http.get(params["url"], headers=params["headers"])
                return probes.http_success(r.status_code)
            if kind == "tcpSocket":
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(params["host"], params["port"]), timeout_s
                )
                writer.close()
                return True
            if kind == "exec":
                proc = await asyncio.create_subprocess_exec(
                    *params["command"],
                    preexec_fn=sandbox.joiner(self.pause.pid),
                    env=c.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    return await asyncio.wait_for(proc.wait(), timeout_s) == 0
                except asyncio.TimeoutError:
                    sandbox.kill_tree(proc.pid)
                    return False
        except (OSError, httpx.HTTPError, asyncio.TimeoutError):
            return False
        return False

    # --- status -----------------------------------------------------------------------------------
    async def _publish_loop(self) -> None:
        while not self.finished:
            await self.dirty.wait()
            self._publishing = True
            self.dirty.clear()
            try:
                await self._publish()
            except ApiError as e:
                if e.code == 404:
                    return
                log.warning("pod %s: status update failed: %s", meta.name(self.pod), e)
            finally:
                self._publishing = False
                self.kubelet.changed.set()  # let the kubelet report progress

    async def _publish(self) -> None:
        if self.terminating and self.finished:
            return
        status = render_status(
            self.pod,
            [c.facts for c in self.containers],
            self.pod_ip,
            self.kubelet.node.ip,
            self.start_time,
            time.time(),
        )
        if status_changed(meta.status(self.pod), status):
            updated = await self.kubelet.client.update_status({**self.pod, "status": status})
            self.pod = updated

    # --- stopping ---------------------------------------------------------------------------------
    async def terminate(self) -> None:
        """Graceful deletion: SIGTERM, up to the grace period, SIGKILL, then delete the Pod."""
        grace = meta.metadata(self.pod).get("deletionGracePeriodSeconds", 30)
        running = [c.proc for c in self.containers if c.proc and c.proc.returncode is None]
        for proc in running:
            sandbox.kill_tree(proc.pid, signal.SIGTERM)
        if running:
            done, pending = await asyncio.wait(
                [asyncio.create_task(p.wait()) for p in running], timeout=grace
            )
            for proc in running:
                if proc.returncode is None:
                    sandbox.kill_tree(proc.pid, signal.SIGKILL)
        await self._teardown()
        try:
            await self.kubelet.client.delete(
                by_kind_name("Pod"),
                meta.name(self.pod),
                meta.namespace(self.pod),
                grace_period_s=0,
                uid=self.uid,
            )
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("pod %s: final delete failed: %s", meta.name(self.pod), e)
        self.finished = True
        self.dirty.set()
        self.kubelet.changed.set()

    async def kill_now(self) -> None:
        for c in self.containers:
            if c.proc and c.proc.returncode is None:
                sandbox.kill_tree(c.proc.pid, signal.SIGKILL)
        await self._teardown()
        self.finished = True
        self.dirty.set()

    async def _teardown(self) -> None:
        for t in self._tasks:
            if t is not asyncio.current_task():
                t.cancel()
        if self.pause is not None:
            self.pause.kill()
            self.pause.wait()
        try:
            await sandbox.unplug_pod(self.uid)
        except Exception:  # the netns going away may have taken the veth already
            pass
        if self.pod_ip:
            self.kubelet.ipam.release(self.pod_ip)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- inputs -------------------------------------------------------------------------------------
    def _pod_with_ips(self) -> dict:
        pod = meta.deep_copy(self.pod)
        pod.setdefault("status", {}).update(
            podIP=self.pod_ip, podIPs=[{"ip": self.pod_ip}], hostIP=self.kubelet.node.ip
        )
        return pod

    def _service_env(self) -> dict[str, str]:
        return envvars.service_env(self.kubelet.services_for_env(), self.pod)

    def _objects(self, which: str) -> dict:
        informer = getattr(self.kubelet, which)
        return {(meta.namespace(o), meta.name(o)): o for o in informer.items()}


def _pid_record(pid: int) -> dict:
    return {"pid": pid, "start_ticks": start_ticks(pid) or 0}
