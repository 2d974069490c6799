"""One Pod on one node, from sandbox to deletion (the kubelet's pod worker).

    _setup:      IP, resolv.conf + /etc/hosts + /etc/hostname, pause process, veth to the node
                 (hostNetwork: the node's network and IP, no veth, no address of its own)
    _container:  resolve image -> its isolation (lab_kit.node.containers) -> start it in the
                 pod's network with a root, PID namespace and capabilities of its own
                 -> postStart hook -> wait -> restart policy
    _probe:      every periodSeconds run the check; thresholds decide ready / live / started
    _publish:    render the Pod status from what is known; write it when it changed
    terminate:   per running container, as killContainer: the preStop hook (within the
                 grace period), SIGTERM, SIGKILL once the rest of it (at least 2 s) is
                 gone; then remove the sandbox and delete the Pod (grace 0)

Unlike the real kubelet there is no container runtime and no image: a container's root
is the machine's, read-only under a writable layer of its own, and its image is resolved to
a built-in workload or to the machine's tools (`lab_kit.agents.images`). Every side effect goes through the kubelet's
seams — the sandbox (`lab_kit.adapters.sandbox`: namespaces, veths, processes, exec
probes and hooks) and the prober (`lab_kit.adapters.prober`: HTTP and TCP probes, httpGet
hooks; `lab_kit.agents.hooks` runs the hooks) — and all time (probe periods, back-off,
grace periods, sleep hooks, timestamps) comes from the kubelet's clock, so
tests run a pod's whole life on virtual time. The files a pod gets (resolv.conf, hosts,
hostname, container logs and layers, sandbox.json — readable by root only, as it holds the
containers' environments, Secret values included) live in its directory,
`RunDir.pod_dir(...)`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
from typing import TYPE_CHECKING, Any

from lab_kit.adapters.apiclient import Call
from lab_kit.adapters.rootfs import API_SOCKET
from lab_kit.adapters.rundir import SANDBOX_RECORD
from lab_kit.adapters.sandbox import ContainerConfig, ContainerProcess
from lab_kit.agents import images
from lab_kit.agents.hooks import HandlerRunner
from lab_kit.api import serviceaccounts
from lab_kit.controllers.events import NORMAL, WARNING
from lab_kit.model import constants as C
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name
from lab_kit.node import containers, dnsconfig, envvars, lifecycle, probes
from lab_kit.node.podstatus import ContainerFacts, render_status, status_changed, timestamp

if TYPE_CHECKING:
    from lab_kit.agents.kubelet import Kubelet

log = logging.getLogger("kubelet")
CONFIG_RETRY_S = 5.0  # a missing ConfigMap/Secret is retried on the kubelet's next pod sync
STATUS_RETRY_S = 1.0  # a status write the API did not answer is tried again after this
VOLUME_RETRY_S = 0.2  # a volume whose contents the API cannot give yet is tried again
STARTUP_POLL_S = 0.2  # liveness/readiness look this often whether the startup probe passed


class ContainerRun:
    """One container of the pod: its spec, what is known about it, its current process."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.name: str = spec["name"]
        self.facts = ContainerFacts(
            name=self.name, image=spec.get("image", ""), state="waiting", reason="ContainerCreating"
        )
        self.proc: ContainerProcess | None = None
        self.env: dict[str, str] = {}
        self.probe_tasks: dict[str, asyncio.Task] = {}  # by kind: startup, liveness, readiness
        self.last_run: dict | None = None  # the API's lastState of the run that just ended


class PodWorker:
    def __init__(self, kubelet: Kubelet, pod: dict):
        self.kubelet, self.pod = kubelet, pod
        self.clock, self.sandbox = kubelet.ctx.clock, kubelet.sandbox
        self.uid = meta.uid(pod)
        self.host_network = bool(meta.spec(pod).get("hostNetwork"))
        self.hooks = HandlerRunner(kubelet.sandbox, kubelet.prober, self.clock)
        self.pod_ip = ""
        self.pause_pid: int | None = None
        self.files: list[tuple[str, str]] = []  # the pod's files every container gets
        self.volumes: dict[str, str] = {}  # volume name -> the directory the kubelet filled
        self.containers = [ContainerRun(c) for c in meta.spec(pod).get("containers") or []]
        self.dir = kubelet.run_dir.pod_dir(meta.namespace(pod), meta.name(pod), self.uid)
        self.start_time = self.clock.time()
        self.dirty = asyncio.Event()
        self.terminating = False
        self.gone = False  # removed from the API (force-deleted): nothing to write any more
        self.finished = False
        self._torn_down = False
        self._publishing = False
        self._tasks: list[asyncio.Task] = []
        self._terminating: asyncio.Task | None = None

    @property
    def settled(self) -> bool:
        """No status change waiting to be written (what `apply --wait` waits for)."""
        return self.gone or (not self.dirty.is_set() and not self._publishing)

    # --- driven by the kubelet --------------------------------------------------------------------
    def start(self) -> None:
        self.dirty.set()  # the Pod's first status is news: unsettled until it is written
        self._tasks.append(asyncio.create_task(self._run()))

    def update(self, pod: dict) -> None:
        self.pod = pod
        if meta.is_deleting(pod) and not self.terminating:
            self.terminating = True
            self._terminating = asyncio.create_task(self.terminate())
            self._tasks.append(self._terminating)

    def vanished(self) -> None:
        """The Pod was removed from the API without us (a force delete, grace 0). As the
        kubelet does, it still gets a short grace: 1 s for preStop, SIGTERM, 2 s, SIGKILL
        (pod_workers' "no matter what, we always supply a grace period of 1"). A graceful
        termination already under way starts over with that shorter grace, unless its
        containers are already stopped (then it was our own final delete)."""
        if self.finished or self.gone:
            return
        self.gone = True
        if self._torn_down:
            return
        if self._terminating is not None:
            self._terminating.cancel()
        self.terminating = True
        self._terminating = asyncio.create_task(self.terminate(override_s=0, delete_pod=False))
        self._tasks.append(self._terminating)

    # --- set-up ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self._setup()
        except Exception as e:  # a sandbox that can't be built is a pod event, not a crash
            log.exception("pod %s: sandbox failed", meta.name(self.pod))
            for c in self.containers:
                c.facts.reason = "CreateContainerError"
                c.facts.message = f"failed to create pod sandbox: {e}"
            self.dirty.set()
        else:
            for c in self.containers:
                self._tasks.append(asyncio.create_task(self._container(c)))
        await self._publish_loop()

    async def _setup(self) -> None:
        """RunPodSandbox and CNI ADD. A hostNetwork pod is in the node's network: the
        node's address is its podIP, no IPAM address, no veth (no CNI call at all)."""
        node = self.kubelet.node
        self.pod_ip = node.ip if self.host_network else self.kubelet.ipam.allocate()
        hostname = dnsconfig.kernel_hostname(self.pod, C.CLUSTER_DOMAIN, node.name)
        self.files = self._write_pod_files(hostname)
        self.volumes = await self._fill_volumes()
        self.pause_pid = self.sandbox.create(hostname, host_network=self.host_network)
        self._save_state()
        if not self.host_network:
            gateway = self.kubelet.ipam.gateway
            await self.sandbox.plug(self.pause_pid, self.uid, self.pod_ip, gateway)
        self.dirty.set()

    def _write_pod_files(self, hostname: str) -> list[tuple[str, str]]:
        """resolv.conf, hosts and hostname in the pod directory (a directory only root can
        enter); the files every container gets at those paths, as kubelet mounts them."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        contents = {
            "resolv.conf": dnsconfig.resolv_conf(
                self.pod, [C.CLUSTER_DNS_IP], C.CLUSTER_DOMAIN, self.kubelet.node_resolv_conf()
            ),
            "hosts": dnsconfig.hosts_file(
                self.pod, self.pod_ip, C.CLUSTER_DOMAIN, node_hosts=self.kubelet.node_hosts_file()
            ),
            "hostname": hostname + "\n",
        }
        for name, text in contents.items():
            with open(self._file(name), "w") as f:
                f.write(text)
        return [(self._file(name), f"/etc/{name}") for name in contents]

    async def _fill_volumes(self) -> dict[str, str]:
        """The service-account volume (kube-api-access-*): token, ca.crt and namespace in
        the pod's directory, as the kubelet's projected volume plugin writes them. Until
        the API can give them (its token issuer still starting) the pod waits, in
        ContainerCreating, as a pod whose volume cannot be mounted does."""
        name = serviceaccounts.api_access_volume(self.pod)
        if name is None:
            return {}
        while not self.terminating:
            try:
                contents = await self._service_account_files()
                break
            except Exception as e:  # the API's refusal, or no answer (transport error)
                log.info("pod %s: MountVolume.SetUp failed for volume %s: %s",
                         meta.name(self.pod), name, e)  # fmt: skip
                await self.clock.sleep(VOLUME_RETRY_S)
        else:
            return {}
        directory = self._file("volumes", "kubernetes.io~projected", name)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        for file, text in contents.items():
            with open(os.path.join(directory, file), "w") as f:
                f.write(text)
            os.chmod(os.path.join(directory, file), 0o644)  # the volume's defaultMode
        return {name: directory}

    async def _service_account_files(self) -> dict[str, str]:
        client, ns = self.kubelet.ctx.client, meta.namespace(self.pod)
        sa = serviceaccounts.service_account_name(self.pod)
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "expirationSeconds": serviceaccounts.TOKEN_EXPIRATION_S,
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                   "name": meta.name(self.pod), "uid": self.uid},
            },
        }  # fmt: skip
        path = by_kind_name("ServiceAccount").object_path(sa, ns) + "/token"
        token = await client.call(Call("POST", path, None, request))
        ca = await client.get(by_kind_name("ConfigMap"), serviceaccounts.ROOT_CA_CONFIGMAP, ns)
        return {
            "token": token["status"]["token"],
            "ca.crt": (ca.get("data") or {}).get("ca.crt", ""),
            "namespace": ns,
        }

    def _mounts(self, c: ContainerRun) -> list[tuple[str, str, bool]]:
        return [
            (self.volumes[m["name"]], m["mountPath"], bool(m.get("readOnly")))
            for m in c.spec.get("volumeMounts") or []
            if m.get("name") in self.volumes and m.get("mountPath")
        ]

    def _file(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def _save_state(self) -> None:
        """What `labkit exec` and `labkit clean` need: PIDs (with start times) and env."""
        state = {
            "uid": self.uid,
            "name": meta.name(self.pod),
            "namespace": meta.namespace(self.pod),
            "pod_ip": self.pod_ip,
            "node": self.kubelet.node.name,
            "pause": self._pid_record(self.pause_pid),
            "containers": {
                c.name: {
                    "pid": self._pid_record(c.proc.pid if c.proc else None),
                    "env": c.env,
                    "capabilities": list(containers.capabilities(c.spec)),
                    "log": self._log_path(c),
                }
                for c in self.containers
            },
        }
        tmp = self._file(SANDBOX_RECORD + ".tmp")
        # Readable by root only: the environments hold Secret values (secretKeyRef, envFrom).
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(state, f)
        os.replace(tmp, self._file(SANDBOX_RECORD))

    def _pid_record(self, pid: int | None) -> dict | None:
        return None if pid is None else {"pid": pid, "start_ticks": self.sandbox.start_ticks(pid)}

    def _log_path(self, c: ContainerRun) -> str:
        return self._file(c.name, f"{c.facts.restart_count}.log")

    # --- containers -------------------------------------------------------------------------------
    async def _container(self, c: ContainerRun) -> None:
        program = images.resolve(c.spec)
        if isinstance(program, images.Unknown):
            c.facts.reason, c.facts.message = program.reason, program.message
            if program.reason == images.ERR_IMAGE_PULL:
                self._event(WARNING, "Failed", f'Failed to pull image "{c.spec.get("image", "")}": '
                            f"{program.message}", c)  # fmt: skip
                self._event(WARNING, "Failed", f"Error: {program.reason}", c)
            else:
                self._event(WARNING, "Failed", f"Error: {program.message}", c)
            self.dirty.set()
            return
        while not self.terminating:
            try:
                c.env, spec = self._container_env(c)
            except envvars.CreateContainerConfigError as e:
                c.facts.reason, c.facts.message = "CreateContainerConfigError", str(e)
                self._event(WARNING, "Failed", f"Error: {e}", c)
                self.dirty.set()
                await self.clock.sleep(CONFIG_RETRY_S)
                continue
            expanded = images.resolve(spec)  # the same program, its words expanded
            code = await self._run_once(
                c, expanded if isinstance(expanded, images.Program) else program
            )
            restart_policy = meta.spec(self.pod).get("restartPolicy", "Always")
            if self.terminating or not probes.should_restart(restart_policy, code):
                return
            delay = probes.crash_loop_backoff_s(c.facts.restart_count)
            if delay > 0:
                md = self.pod["metadata"]
                self._event(WARNING, "BackOff", f"Back-off restarting failed container {c.name} in pod "
                            f"{md['name']}_{md.get('namespace', 'default')}({md.get('uid', '')})", c)  # fmt: skip
                c.facts.state, c.facts.reason = "waiting", "CrashLoopBackOff"
                c.facts.message = probes.crash_loop_message(self.pod, c.name, delay)
                self.dirty.set()
                await self.clock.sleep(delay)  # the back-off itself (a timer, as in kubelet)
            c.facts.restart_count += 1
            c.facts.last_state = c.last_run

    async def _run_once(self, c: ContainerRun, program: images.Program) -> int:
        """Start the container, probe it while it runs; its exit code (128+N for signal N)."""
        if not await self._launch(c, program):
            return 128
        assert c.proc is not None
        if lifecycle.hook_of(c.spec, "postStart") is not None and not await self._post_start(c):
            # FailedPostStartHook: killContainer (preStop included), then as any exit
            await self._kill(c, lifecycle.kill_grace_period_s(self.pod, c.spec))
        else:
            c.probe_tasks = {
                kind: asyncio.create_task(self._probe(c, kind))
                for kind in ("startup", "liveness", "readiness")
                if f"{kind}Probe" in c.spec
            }
        code = await c.proc.wait()
        if code < 0:  # killed by signal N: runtimes report 128+N
            code = 128 - code
        for t in c.probe_tasks.values():
            t.cancel()
        finished_at = self.clock.time()
        c.last_run = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": timestamp(c.facts.started_at),
                "finishedAt": timestamp(finished_at),
                "containerID": c.facts.container_id,
            }
        }
        c.facts.state, c.facts.exit_code, c.facts.finished_at = "terminated", code, finished_at
        c.facts.reason = "Completed" if code == 0 else "Error"
        c.facts.ready = False
        self.dirty.set()
        return code

    async def _launch(self, c: ContainerRun, program: images.Program) -> bool:
        """Start the container's process; False (RunContainerError) if exec failed."""
        assert self.pause_pid is not None
        os.makedirs(os.path.dirname(self._log_path(c)), exist_ok=True)
        # no image to pull: the machine's own files are every image's (a container runtime's
        # words for an image it has)
        self._event(
            NORMAL,
            "Pulled",
            f'Container image "{c.spec.get("image", "")}" already present on machine',
            c,
        )
        try:
            c.proc = await self.sandbox.start(self.pause_pid, self._config(c, program))
        except (FileNotFoundError, PermissionError) as e:
            c.facts.state, c.facts.reason = "waiting", "RunContainerError"
            c.facts.message = (
                f'failed to create containerd task: exec: "{program.argv[0]}": '
                f"{'executable file not found in $PATH' if isinstance(e, FileNotFoundError) else e}"
            )
            self._event(WARNING, "Failed", f"Error: {c.facts.message}", c)
            self.dirty.set()
            return False
        self._event(NORMAL, "Created", f"Created container: {c.name}", c)
        self._event(NORMAL, "Started", f"Started container {c.name}", c)
        c.facts.started_at, c.facts.container_id = self.clock.time(), f"lab_kit://{c.proc.pid}"
        self._save_state()
        if lifecycle.hook_of(c.spec, "postStart") is None:
            self._running(c)
        return True

    def _running(self, c: ContainerRun) -> None:
        """The status says running (after the postStart hook, if there is one)."""
        c.facts.state, c.facts.reason, c.facts.message = "running", "", ""
        c.facts.ready = "readinessProbe" not in c.spec
        c.facts.started = "startupProbe" not in c.spec
        self.dirty.set()

    async def _post_start(self, c: ContainerRun) -> bool:
        """startContainer's step 4: the postStart hook, right after the container started
        (not before its entrypoint: they run side by side). The status stays
        ContainerCreating until it returns, as Kubernetes documents."""
        assert c.proc is not None
        handler = lifecycle.hook_of(c.spec, "postStart") or {}
        error = await self.hooks.run(
            self.pod, c.spec, handler, pid=c.proc.pid, env=c.env, pod_ip=self.pod_ip
        )
        if error and not self.terminating:
            log.warning("%s: PostStartHook failed: %s", self._name(c), error)
            return False
        self._running(c)
        return True

    def _event(self, type_: str, reason: str, message: str, c: ContainerRun) -> None:
        self.kubelet.event(self.pod, type_, reason, message, c.name)

    def _name(self, c: ContainerRun) -> str:
        return f"{meta.namespace(self.pod)}/{meta.name(self.pod)}/{c.name}"

    def _config(self, c: ContainerRun, program: images.Program) -> ContainerConfig:
        """What the runtime needs to create the container: command, files, isolation."""
        env = {**program.env_extra, **c.env}  # the container's env wins over the image's
        if program.api_access:  # the lab's stand-in for in-cluster config (see cluster_dns.py)
            env["LABKIT_APISERVER"] = API_SOCKET
            env["LABKIT_POD"] = f"{meta.namespace(self.pod)}/{meta.name(self.pod)}"
        proc = containers.proc_plan(c.spec)
        return ContainerConfig(
            name=c.name, argv=program.argv, env=env, log_path=self._log_path(c),
            layer_dir=self._file(c.name, "layer"), files=self.files,
            capabilities=tuple(containers.ALL_CAPABILITIES.index(n)
                               for n in containers.capabilities(c.spec)),
            masked=proc.masked, readonly=proc.readonly,
            privileged=containers.privileged(c.spec),
            share_pid=containers.shares_process_namespace(self.pod),
            api_access=program.api_access, working_dir=c.spec.get("workingDir") or "",
            mounts=self._mounts(c),
        )  # fmt: skip

    # --- probes -------------------------------------------------------------------------------------
    async def _probe(self, c: ContainerRun, kind: str) -> None:
        """worker.go doProbe on a loop. Once the Pod is being deleted, liveness and startup
        stop (their result set to Success "to ensure quiet shutdown"); readiness goes on,
        so the endpoint's `serving` follows it while the container stops."""
        probe = c.spec[f"{kind}Probe"]
        tracker = probes.ProbeTracker(kind, probe, c.facts.started_at or self.clock.time())
        while not (self.terminating and kind != "readiness"):
            if kind != "startup" and not c.facts.started:
                await self.clock.sleep(STARTUP_POLL_S)  # the others begin once it passed
                continue
            wait = tracker.seconds_until_due(self.clock.time())
            if wait > 0:
                await self.clock.sleep(wait)
                if self.terminating and kind != "readiness":
                    return  # the Pod started terminating meanwhile
            try:
                ok, output = await self._check(c, probe, tracker.timeout_s, kind)
                result = tracker.record(ok, self.clock.time())
                if not ok:  # every failed run, as the prober records it (the recorder counts)
                    self._event(
                        WARNING, "Unhealthy", f"{kind.capitalize()} probe failed: {output}", c
                    )
            except probes.ProbeError:
                result = tracker.record_error(self.clock.time())
            if kind == "readiness":
                self._set(c, ready=result == "Success")
            elif kind == "startup" and result == "Success":
                self._set(c, started=True)
                return
            elif result == "Failure" and c.proc is not None and not self.terminating:
                # "Container c failed liveness probe, will be restarted": killContainer with
                # that probe's grace period (preStop first, as for any kill).
                log.info("%s: %s probe failed, killing the container", self._name(c), kind)
                message = f"Container {c.name} failed {kind} probe, will be restarted"
                await self._kill(c, lifecycle.kill_grace_period_s(self.pod, c.spec, kind), message)
                return

    def _set(
        self, c: ContainerRun, *, ready: bool | None = None, started: bool | None = None
    ) -> None:
        if ready is not None and c.facts.ready != ready:
            c.facts.ready = ready
            self.dirty.set()
        if started is not None and c.facts.started != started:
            c.facts.started = started
            self.dirty.set()

    async def _check(
        self, c: ContainerRun, probe: dict, timeout_s: float, probe_kind: str
    ) -> tuple[bool, str]:
        """One probe run: passed, and the prober's output for the Unhealthy event (raises
        ProbeError when it cannot be made: bad port, no handler)."""
        kind, params = probes.handler_of(probe, c.spec, self.pod_ip)
        if kind == "httpGet":
            answer = await self.kubelet.prober.http_get(params["url"], params["headers"], timeout_s)
            result, output = probes.http_result(answer.status, answer.body, answer.error)
            if result == "Warning":  # the kubelet's ProbeWarning event
                log.warning("%s: %s", self._name(c), probes.probe_warning(probe_kind, output))
                self._event(WARNING, "ProbeWarning", probes.probe_warning(probe_kind, output), c)
            return result != "Failure", output
        if kind == "tcpSocket":
            ok = await self.kubelet.prober.tcp_open(params["host"], params["port"], timeout_s)
            return (
                ok,
                ""
                if ok
                else f"dial tcp {params['host']}:{params['port']}: connect: connection refused",
            )
        if kind == "exec" and c.proc is not None:
            caps = list(containers.capabilities(c.spec))
            ok = await self.sandbox.exec_probe(
                c.proc.pid, caps, params["command"], c.env, timeout_s
            )
            return ok, ""  # the command's own output is not kept by the lab's prober
        return False, "grpc probes are not run by lab_kit's kubelet"

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
            except Exception as e:  # the API unreachable or frozen (a timeout): write it later
                log.warning("pod %s: status update failed, will retry: %r", meta.name(self.pod), e)
                self.dirty.set()  # the status manager keeps the status until it is written
                await self.clock.sleep(STATUS_RETRY_S)
            finally:
                self._publishing = False
                self.kubelet.ctx.changed()  # let the kubelet report progress

    async def _publish(self) -> None:
        if self.terminating and self.finished:
            return
        status = render_status(
            self.pod,
            [c.facts for c in self.containers],
            self.pod_ip,
            self.kubelet.node.ip,
            self.start_time,
            self.clock.time(),
        )
        if status_changed(meta.status(self.pod), status):
            updated = await self.kubelet.ctx.client.update_status({**self.pod, "status": status})
            self.pod = updated

    # --- stopping ---------------------------------------------------------------------------------
    async def terminate(self, override_s: int | None = None, delete_pod: bool = True) -> None:
        """SyncTerminatingPod: stop every running container at once, each as killContainer
        does (`_kill`), with the pod's effective grace period (pod_workers'
        calculateEffectiveGracePeriod); then remove the sandbox and delete the Pod."""
        grace_s = lifecycle.pod_grace_period_s(self.pod, override_s)
        for c in self.containers:  # a liveness kill under way gives way to this one
            for kind in ("liveness", "startup"):
                if kind in c.probe_tasks:
                    c.probe_tasks[kind].cancel()
        running = [c for c in self.containers if c.proc and c.proc.returncode is None]
        if running:
            log.info("%s: terminating with a grace period of %ds",
                     meta.name(self.pod), grace_s)  # fmt: skip
        await asyncio.gather(*(self._kill(c, grace_s) for c in running))
        await self._teardown()
        if delete_pod:
            await self._delete_pod()
        self.finished = True
        self.dirty.set()
        self.kubelet.ctx.changed()

    async def _kill(self, c: ContainerRun, grace_s: int, message: str = "") -> None:
        """killContainer: the preStop hook if there is one (for at most `grace_s`), then
        StopContainer with the rest of the grace period (at least 2 s): SIGTERM to the
        container's process — PID 1 of its namespace, so it ends only if it handles
        SIGTERM — and SIGKILL if it is still running when that time is up."""
        proc = c.proc
        if proc is None or proc.returncode is not None:
            return
        self._event(NORMAL, "Killing", message or f"Stopping container {c.name}", c)
        hook_s = (
            await self._pre_stop(c, grace_s) if lifecycle.runs_pre_stop(c.spec, grace_s) else 0.0
        )
        timeout_s = lifecycle.stop_timeout_s(grace_s, hook_s)
        log.info("%s: stopping the container with a grace period of %ds", self._name(c), timeout_s)
        self.sandbox.kill(proc.pid, signal.SIGTERM)
        await self._wait_for_exit([proc], timeout_s)
        if proc.returncode is None:
            log.info("%s: still running after %ds: SIGKILL", self._name(c), timeout_s)
            self.sandbox.kill(proc.pid, signal.SIGKILL)

    async def _pre_stop(self, c: ContainerRun, grace_s: int) -> float:
        """executePreStopHook: run the hook, wait for it at most `grace_s` on the clock;
        returns the seconds it took. A hook that fails is logged, and stopping goes on."""
        assert c.proc is not None
        handler = lifecycle.hook_of(c.spec, "preStop") or {}
        started = self.clock.monotonic()
        log.info("%s: running the preStop hook", self._name(c))
        hook = asyncio.ensure_future(
            self.hooks.run(self.pod, c.spec, handler, pid=c.proc.pid, env=c.env, pod_ip=self.pod_ip)
        )
        timer = asyncio.ensure_future(self.clock.sleep(grace_s))
        try:
            await asyncio.wait({hook, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not hook.done():  # the kubelet stops waiting; what the hook started ends
                hook.cancel()  # with the container
                log.info("%s: PreStop hook not completed in grace period %ds",
                         self._name(c), grace_s)  # fmt: skip
        if hook.done() and not hook.cancelled() and hook.result():
            log.warning("%s: PreStop hook failed: %s", self._name(c), hook.result())
        return self.clock.monotonic() - started

    async def _delete_pod(self) -> None:
        """The status manager's final delete (grace 0, this Pod's UID only)."""
        try:
            await self.kubelet.ctx.client.delete(
                by_kind_name("Pod"),
                meta.name(self.pod),
                meta.namespace(self.pod),
                grace_period_s=0,
                uid=self.uid,
            )
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("pod %s: final delete failed: %s", meta.name(self.pod), e)

    async def _wait_for_exit(self, procs: list[ContainerProcess], timeout_s: float) -> None:
        """Until every process has exited, or `timeout_s` on the clock has passed."""
        exits: asyncio.Future[Any] = asyncio.gather(*(p.wait() for p in procs))
        timer: asyncio.Future[Any] = asyncio.ensure_future(self.clock.sleep(timeout_s))
        try:
            await asyncio.wait({exits, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (exits, timer):
                waiting.cancel()

    async def kill_now(self) -> None:
        """`labkit down` (the node itself going away): SIGKILL at once, no API writes."""
        for c in self.containers:
            if c.proc and c.proc.returncode is None:
                self.sandbox.kill(c.proc.pid, signal.SIGKILL)
        await self._teardown()
        self.finished = True
        self.dirty.set()
        self.kubelet.ctx.changed()  # the kubelet drops this worker and reports again

    async def _teardown(self) -> None:
        for t in self._tasks:
            if t is not asyncio.current_task():
                t.cancel()
        if self._torn_down:  # a force delete while terminating: the address is freed once
            return
        self._torn_down = True
        if self.pause_pid is not None:
            self.sandbox.remove(self.pause_pid)
        if not self.host_network:  # CNI DEL; a hostNetwork pod's address is the node's
            try:
                await self.sandbox.unplug(self.uid)
            except Exception:  # the netns going away may have taken the veth already
                pass
            if self.pod_ip:
                self.kubelet.ipam.release(self.pod_ip)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- inputs -------------------------------------------------------------------------------------
    def _container_env(self, c: ContainerRun) -> tuple[dict[str, str], dict]:
        """The container's environment, and its spec with `$(VAR)` expanded in command and
        args against the kubelet's variables, as the kubelet makes both at each start
        (raises CreateContainerConfigError)."""
        pod = self._pod_with_ips()
        kubelet_vars = envvars.kubelet_env(
            c.spec,
            pod,
            envvars.service_env(self.kubelet.ctx.items("services"), self.pod),
            self._objects("config_maps"),
            self._objects("secrets"),
        )
        hostname = dnsconfig.kernel_hostname(self.pod, C.CLUSTER_DOMAIN, self.kubelet.node.name)
        env = envvars.runtime_env(kubelet_vars, pod, hostname)
        return env, envvars.expand_command(c.spec, kubelet_vars)

    def _pod_with_ips(self) -> dict:
        pod = meta.deep_copy(self.pod)
        pod.setdefault("status", {}).update(
            podIP=self.pod_ip, podIPs=[{"ip": self.pod_ip}], hostIP=self.kubelet.node.ip
        )
        return pod

    def _objects(self, informer: str) -> dict[tuple[str, str], dict]:
        return {(meta.namespace(o), meta.name(o)): o for o in self.kubelet.ctx.items(informer)}
