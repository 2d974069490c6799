"""The kubelet on the runner, against the real API in-process, on virtual time, with a fake
sandbox and prober: no root, no namespaces, no sleeps.

What a learner would see on a node: the Node registers; a Pod bound here gets an address
from the node's pod CIDR, its resolv.conf and /etc/hosts, its containers with their
environment, and a Running/Ready status; probes move Ready and restart containers with
CrashLoopBackOff; deletion is SIGTERM, the grace period, SIGKILL, and the Pod gone
(lifecycle hooks and the rest of termination: test_kubelet_termination.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.clock import FakeClock
from lab_kit.adapters.prober import FakeProber
from lab_kit.adapters.rundir import RunDir
from lab_kit.adapters.sandbox import FakeProcess, FakeSandbox
from lab_kit.agents.kubelet import IPAM, Kubelet
from lab_kit.agents.runner import Context, Runner
from lab_kit.model import meta
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.topology import parse_topology
from lab_kit.node import containers

TOPOLOGY = """
name = "unit"

[[nodes]]
name = "node1"
ip = "172.18.0.2"
pod_cidr = "10.244.1.0/24"
labels = { "topology.kubernetes.io/zone" = "zone-a" }

[[nodes]]
name = "node2"
ip = "172.18.0.3"
pod_cidr = "10.244.2.0/24"

[[hosts]]
name = "internet"
ip = "203.0.113.10"
role = "internet"
"""
POD = by_kind_name("Pod")
SHELL = "busybox"


class Node:
    """node1's kubelet driven by a Runner; the test holds the clock, the API and the fakes."""

    def __init__(self, run_dir: Path):
        self.clock = FakeClock()
        self.api = InProcessApi(clock=self.clock.time)
        self.sandbox = FakeSandbox()
        self.prober = FakeProber()
        self.run_dir = RunDir(str(run_dir))
        spec = parse_topology(TOPOLOGY)
        ctx = Context(self.api.async_client(), self.clock)
        self.kubelet = Kubelet(
            ctx, spec.node("node1"), spec, self.run_dir, self.sandbox, self.prober
        )
        self.runner = Runner(self.kubelet)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.runner.run())
        await self.settle()

    async def settle(self) -> None:
        for _ in range(5):  # an API round trip takes many loop turns; writes chain
            await self.clock.settle()

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await self.settle()

    async def close(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.kubelet.stop()

    # --- the API side ---------------------------------------------------------------------------
    def create(self, obj: dict) -> dict:
        return self.api.registry.create(obj)

    def pod(self, name: str) -> dict:
        return self.api.registry.get(POD, "default", name)

    def pods(self) -> list[str]:
        return [meta.name(p) for p in self.api.registry.list(POD, "default")]

    def status(self, name: str) -> dict:
        return meta.status(self.pod(name))

    def container(self, name: str) -> dict:
        return self.status(name)["containerStatuses"][0]

    def condition(self, name: str, kind: str) -> str:
        return next(c["status"] for c in self.status(name)["conditions"] if c["type"] == kind)

    def delete(self, name: str, grace_period_s: int | None = None) -> None:
        self.api.registry.delete(POD, "default", name, grace_period_s=grace_period_s)

    # --- the node side --------------------------------------------------------------------------
    def process(self, pod: str) -> FakeProcess:
        """The newest container process started for `pod` (found by its log path)."""
        return [p for p in self.sandbox.processes if f"_{pod}_" in p.log_path][-1]

    def pod_dir(self, name: str) -> str:
        return self.run_dir.pod_dir("default", name, meta.uid(self.pod(name)))


def scenario(tmp_path: Path, body: Callable[[Node], Awaitable[None]]) -> None:
    async def run() -> None:
        node = Node(tmp_path)
        await node.start()
        try:
            await body(node)
        finally:
            await node.close()

    asyncio.run(run())


def pod(name: str, node: str = "node1", **container: object) -> dict:
    spec: dict = {"name": "c", "image": SHELL, "command": ["sleep", "infinity"], **container}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"nodeName": node, "containers": [spec]},
    }


def service(name: str, cluster_ip: str, port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterIP": cluster_ip, "selector": {"app": name}, "ports": [{"port": port}]},
    }


def exec_probe(command: list[str], **fields: int) -> dict:
    return {"exec": {"command": command}, "periodSeconds": 10, **fields}


# --- the Node ---------------------------------------------------------------------------------


def test_the_node_registers_with_labels_conditions_and_addresses(tmp_path):
    async def body(node: Node) -> None:
        registered = node.api.registry.get(by_kind_name("Node"), "", "node1")
        labels = meta.labels(registered)
        assert labels["kubernetes.io/hostname"] == "node1"
        assert labels["kubernetes.io/os"] == "linux"
        assert labels["topology.kubernetes.io/zone"] == "zone-a"  # the topology's own
        assert registered["spec"]["podCIDR"] == "10.244.1.0/24"
        conditions = {c["type"]: c for c in registered["status"]["conditions"]}
        assert conditions["Ready"]["status"] == "True"
        assert conditions["Ready"]["reason"] == "KubeletReady"
        assert {conditions[t]["status"] for t in ("MemoryPressure", "DiskPressure")} == {"False"}
        assert conditions["Ready"]["lastHeartbeatTime"] == meta.rfc3339(node.clock.time())
        assert registered["status"]["addresses"] == [
            {"type": "InternalIP", "address": "172.18.0.2"},
            {"type": "Hostname", "address": "node1"},
        ]
        assert node.api.agents["kubelet/node1"]["node"] == "node1"

    scenario(tmp_path, body)


def test_a_restarted_kubelet_updates_the_status_of_its_existing_node(tmp_path):
    async def run() -> None:
        node = Node(tmp_path)
        node.create(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "node1", "labels": {"kept": "yes"}},
                "status": {"conditions": [{"type": "Ready", "status": "False"}]},
            }
        )
        await node.start()
        registered = node.api.registry.get(by_kind_name("Node"), "", "node1")
        ready = [c for c in registered["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True"
        assert registered["status"]["addresses"][0]["address"] == "172.18.0.2"
        assert meta.labels(registered) == {"kept": "yes"}  # only the status is the kubelet's
        await node.close()

    asyncio.run(run())


def test_create_reads_the_topology_and_the_run_dir_from_the_command_line(tmp_path):
    topology = tmp_path / "topology.toml"
    topology.write_text(TOPOLOGY)
    parser = argparse.ArgumentParser()
    Kubelet.add_arguments(parser)
    options = parser.parse_args(
        ["--node", "node2", "--topology-file", str(topology), "--run-dir", str(tmp_path)]
    )
    kubelet = Kubelet.create(Context(InProcessApi().async_client(), FakeClock()), options)
    assert isinstance(kubelet, Kubelet)
    assert (kubelet.node.name, kubelet.ipam.gateway) == ("node2", "10.244.2.1")
    assert kubelet.run_dir.path == str(tmp_path)
    assert kubelet.report_as == "kubelet/node2"
    assert kubelet.watches["pods"].field_selector == "spec.nodeName=node2"


# --- a Pod's life -----------------------------------------------------------------------------


def test_a_pod_gets_an_address_its_files_its_containers_and_turns_running_and_ready(tmp_path):
    async def body(node: Node) -> None:
        node.create(service("web", "10.96.0.50", 80))  # older than the pod: in its env
        env = [
            {"name": "TARGET", "value": "$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)"},
            {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ]
        node.create(pod("client", env=env))
        await node.settle()

        status = node.status("client")
        assert (status["podIP"], status["hostIP"]) == ("10.244.1.2", "172.18.0.2")
        assert status["phase"] == "Running"
        assert node.condition("client", "Ready") == "True"
        assert "running" in node.container("client")["state"]

        create = next(c for c in node.sandbox.calls if c[0] == "create")
        assert create[1] == "client"  # the pod's hostname
        config = node.process("client").config
        targets = [target for _, target in config.files]
        assert targets == ["/etc/resolv.conf", "/etc/hosts", "/etc/hostname"]
        plug = next(c for c in node.sandbox.calls if c[0] == "plug")
        assert plug[3:] == ("10.244.1.2", "10.244.1.1")

        files = Path(node.pod_dir("client"))
        assert (files / "resolv.conf").read_text() == (
            "search default.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\n"
            "options ndots:5\n"
        )
        assert "10.244.1.2\tclient\n" in (files / "hosts").read_text()
        assert (files / "hostname").read_text() == "client\n"
        assert files.stat().st_mode & 0o777 == 0o700  # the pod's records: root only

        process = node.process("client")
        assert process.argv == ["sleep", "infinity"]
        assert process.env["TARGET"] == "10.96.0.50:80"  # $(VAR) from the service variables
        assert process.env["MY_IP"] == "10.244.1.2"
        assert process.env["HOSTNAME"] == "client"
        assert process.log_path == str(files / "c" / "0.log")

    scenario(tmp_path, body)


def test_the_service_account_volume_is_filled_and_mounted_read_only(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("client"))
        quiet = pod("quiet")
        quiet["spec"]["automountServiceAccountToken"] = False
        node.create(quiet)
        await node.settle()
        (mount,) = node.process("client").config.mounts
        directory, target, readonly = mount
        assert (target, readonly) == ("/var/run/secrets/kubernetes.io/serviceaccount", True)
        files = Path(directory)
        assert sorted(p.name for p in files.iterdir()) == ["ca.crt", "namespace", "token"]
        assert (files / "namespace").read_text() == "default"
        assert (files / "ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
        registry = node.api.registry
        claims = registry.token_issuer.verify((files / "token").read_text(), node.clock.time())
        assert claims["kubernetes.io"]["pod"]["name"] == "client"
        assert node.process("quiet").config.mounts == []

    scenario(tmp_path, body)


def test_var_references_in_command_and_args_are_expanded_by_the_kubelet(tmp_path):
    async def body(node: Node) -> None:
        node.create(service("web", "10.96.0.50", 80))
        env = [{"name": "GREETING", "value": "hi"}]
        args = ["-c", "echo $(GREETING) $(WEB_SERVICE_HOST) $(PATH) $(NOPE) $$(GREETING)"]
        node.create(pod("client", env=env, command=["sh"], args=args))
        await node.settle()
        # ExpandContainerCommandAndArgs: kubelet's variables only (not the runtime's PATH);
        # an unknown reference stays as written, `$$` escapes
        assert node.process("client").argv == [
            "sh", "-c", "echo hi 10.96.0.50 $(PATH) $(NOPE) $(GREETING)",
        ]  # fmt: skip
        assert node.pod("client")["spec"]["containers"][0]["args"] == args  # spec untouched

    scenario(tmp_path, body)


def test_sandbox_json_keeps_the_record_labkit_exec_and_clean_read(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("web"))
        await node.settle()
        with open(os.path.join(node.pod_dir("web"), "sandbox.json")) as f:
            record = json.load(f)
        assert set(record) == {"uid", "name", "namespace", "pod_ip", "node", "pause", "containers"}
        assert (record["name"], record["pod_ip"], record["node"]) == ("web", "10.244.1.2", "node1")
        assert record["pause"] == {"pid": min(node.sandbox.pauses), "start_ticks": 4242}
        container = record["containers"]["c"]
        assert set(container) == {"pid", "env", "capabilities", "log"}
        assert "NET_ADMIN" not in container["capabilities"] and "KILL" in container["capabilities"]
        assert container["pid"]["pid"] == node.process("web").pid
        assert container["env"]["HOSTNAME"] == "web"
        assert node.run_dir.sandbox_file(meta.uid(node.pod("web"))) is not None
        path = Path(node.pod_dir("web")) / "sandbox.json"
        assert path.stat().st_mode & 0o777 == 0o600  # environments hold Secret values

    scenario(tmp_path, body)


def test_addresses_go_round_robin_and_a_replaced_pod_gets_a_new_one(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("a"))
        node.create(pod("b"))
        await node.settle()
        assert [node.status(n)["podIP"] for n in ("a", "b")] == ["10.244.1.2", "10.244.1.3"]
        node.delete("a")
        await node.settle()
        assert node.pods() == ["b"]
        node.create(pod("a"))
        await node.settle()
        assert node.status("a")["podIP"] == "10.244.1.4"  # not .2 again

    scenario(tmp_path, body)


def test_a_pod_bound_to_another_node_is_not_this_kubelets(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("elsewhere", node="node2"))
        await node.settle()
        assert node.sandbox.calls == []
        assert "podIP" not in node.status("elsewhere")
        assert node.status("elsewhere")["phase"] == "Pending"
        assert node.kubelet.workers == {}

    scenario(tmp_path, body)


def test_the_kubelet_reports_only_once_its_workers_have_written_their_status(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.network_ready.clear()  # the pod's set-up hangs in its CNI ADD
        node.create(pod("slow"))
        await node.settle()
        syncs = node.runner.syncs
        assert node.kubelet.workers  # the kubelet has seen the pod ...
        report = node.api.agents["kubelet/node1"]["appliedResourceVersion"]
        assert report < node.api.registry.store.rv  # ... but does not claim it is done
        node.sandbox.network_ready.set()
        await node.settle()
        assert node.status("slow")["podIP"] == "10.244.1.2"
        assert node.runner.syncs > syncs
        report = node.api.agents["kubelet/node1"]["appliedResourceVersion"]
        assert report == node.api.registry.store.rv

    scenario(tmp_path, body)


# --- containers that fail ----------------------------------------------------------------------


def test_a_sandbox_that_cannot_be_built_is_a_pod_error_not_a_crash(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.network_error = RuntimeError("configuring the pod's eth0 failed")
        node.create(pod("unlucky"))
        await node.settle()
        waiting = node.container("unlucky")["state"]["waiting"]
        assert waiting["reason"] == "CreateContainerError"
        assert waiting["message"] == (
            "failed to create pod sandbox: configuring the pod's eth0 failed"
        )
        assert node.sandbox.processes == []
        node.sandbox.network_error = None
        node.create(pod("lucky"))  # the kubelet itself carries on
        await node.settle()
        assert node.status("lucky")["phase"] == "Running"

    scenario(tmp_path, body)


def test_an_image_that_runs_an_agent_gets_the_api_socket_and_its_pod_name(tmp_path):
    async def body(node: Node) -> None:
        dns = pod("coredns-1", image="registry.k8s.io/coredns/coredns:v1.12.0", command=[])
        dns["spec"]["containers"][0]["args"] = ["-conf", "/etc/coredns/Corefile"]
        node.create(dns)
        await node.settle()
        process = node.process("coredns-1")
        assert process.argv[1:] == [
            "-m", "lab_kit.agents", "coredns", "-conf", "/etc/coredns/Corefile"
        ]  # fmt: skip
        assert process.env["LABKIT_POD"] == "default/coredns-1"
        assert "LABKIT_APISERVER" in process.env

    scenario(tmp_path, body)


def test_an_unknown_image_waits_with_err_image_pull(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("nope", image="example.com/not-built-in:1", command=[]))
        await node.settle()
        waiting = node.container("nope")["state"]["waiting"]
        assert waiting["reason"] == "ErrImagePull"
        assert "example.com/not-built-in:1" in waiting["message"]
        assert node.sandbox.processes == []

    scenario(tmp_path, body)


def test_a_command_that_cannot_start_is_a_run_container_error(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.missing.add("no-such-tool")
        node.create(pod("broken", command=["no-such-tool"]))
        await node.settle()
        waiting = node.container("broken")["state"]["waiting"]
        assert waiting["reason"] in ("RunContainerError", "CrashLoopBackOff")
        assert node.sandbox.processes == []

    scenario(tmp_path, body)


def test_a_missing_config_map_is_retried_until_it_exists(tmp_path):
    async def body(node: Node) -> None:
        ref = {"configMapKeyRef": {"name": "settings", "key": "mode"}}
        node.create(pod("configured", env=[{"name": "MODE", "valueFrom": ref}]))
        await node.settle()
        waiting = node.container("configured")["state"]["waiting"]
        assert waiting["reason"] == "CreateContainerConfigError"
        assert 'configmap "settings" not found' in waiting["message"]
        node.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "default"},
                "data": {"mode": "fast"},
            }
        )
        await node.advance(4)
        assert node.sandbox.processes == []  # the retry comes 5 s after the failure
        await node.advance(1)
        assert node.process("configured").env["MODE"] == "fast"
        assert "running" in node.container("configured")["state"]

    scenario(tmp_path, body)


def test_a_container_that_exits_is_restarted_with_crash_loop_back_off(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("crashy"))
        await node.settle()
        node.process("crashy").exit(1)
        await node.settle()
        assert node.container("crashy")["restartCount"] == 1  # the first restart is at once
        last = node.container("crashy")["lastState"]["terminated"]
        assert (last["exitCode"], last["reason"]) == (1, "Error")
        node.process("crashy").exit(2)
        await node.settle()
        waiting = node.container("crashy")["state"]["waiting"]
        assert waiting["reason"] == "CrashLoopBackOff"
        assert waiting["message"].startswith("back-off 10s restarting failed container=c pod=")
        await node.advance(10)
        assert node.container("crashy")["restartCount"] == 2
        assert len(node.sandbox.processes) == 3
        assert node.process("crashy").log_path.endswith("/c/2.log")  # one log per run

    scenario(tmp_path, body)


def test_restart_policy_never_leaves_a_completed_container_alone(tmp_path):
    async def body(node: Node) -> None:
        job = pod("job", command=["true"])
        job["spec"]["restartPolicy"] = "Never"
        node.create(job)
        await node.settle()
        node.process("job").exit(0)
        await node.settle()
        assert node.status("job")["phase"] == "Succeeded"
        assert node.container("job")["state"]["terminated"]["reason"] == "Completed"
        await node.advance(300)
        assert len(node.sandbox.processes) == 1

    scenario(tmp_path, body)


# --- probes -------------------------------------------------------------------------------------


def test_readiness_failing_failure_threshold_times_turns_the_pod_not_ready_and_back(tmp_path):
    async def body(node: Node) -> None:
        check = ["cat", "/opt/ready"]
        node.create(pod("web", readinessProbe=exec_probe(check, failureThreshold=3)))
        await node.settle()
        assert node.condition("web", "Ready") == "True"  # the first run, at once, passed
        node.sandbox.exec_results[tuple(check)] = False
        await node.advance(10)
        await node.advance(10)
        assert node.condition("web", "Ready") == "True"  # two failures: below the threshold
        await node.advance(10)
        assert node.condition("web", "Ready") == "False"
        assert node.condition("web", "ContainersReady") == "False"
        assert node.status("web")["phase"] == "Running"  # not ready is not restarted
        node.sandbox.exec_results[tuple(check)] = True
        await node.advance(10)
        assert node.condition("web", "Ready") == "True"
        execs = [c for c in node.sandbox.calls if c[0] == "exec"]
        assert len(execs) == 5 and execs[0][2] == check

    scenario(tmp_path, body)


def test_http_and_tcp_probes_go_to_the_pod_address_through_the_prober(tmp_path):
    async def body(node: Node) -> None:
        web = pod(
            "web",
            ports=[{"name": "http", "containerPort": 8080}],
            readinessProbe={"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
            livenessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 5},
        )
        url = "http://10.244.1.2:8080/healthz"
        node.prober.http[url] = 503
        node.create(web)
        await node.settle()
        assert node.condition("web", "Ready") == "False"
        http = next(c for c in node.prober.calls if c[0] == "http")
        assert http[1] == url and http[2]["User-Agent"] == "kube-probe/1.33"
        assert ("tcp", "10.244.1.2", 8080) in node.prober.calls
        node.prober.http[url] = 200
        await node.advance(5)
        assert node.condition("web", "Ready") == "True"

    scenario(tmp_path, body)


def test_a_liveness_failure_kills_and_restarts_the_container_with_back_off(tmp_path):
    async def body(node: Node) -> None:
        check = ["cat", "/tmp/healthy"]
        probe = exec_probe(check, periodSeconds=5, failureThreshold=2)
        node.create(pod("sick", livenessProbe=probe))
        await node.settle()
        first = node.process("sick")
        node.sandbox.exec_results[tuple(check)] = False
        await node.advance(5)
        assert first.signals == []  # one failure: below the threshold
        await node.advance(5)
        assert first.signals == [signal.SIGTERM]
        status = node.container("sick")
        assert status["restartCount"] == 1
        assert status["lastState"]["terminated"]["exitCode"] == 128 + signal.SIGTERM
        second = node.process("sick")
        assert second is not first and second.returncode is None
        await node.advance(5)  # the new container's probe failed at once, and now again
        assert second.signals == [signal.SIGTERM]
        waiting = node.container("sick")["state"]["waiting"]
        assert waiting["reason"] == "CrashLoopBackOff"
        assert waiting["message"].startswith("back-off 10s restarting failed container=c")
        node.sandbox.exec_results[tuple(check)] = True
        await node.advance(9)
        assert node.container("sick")["restartCount"] == 1
        await node.advance(1)
        assert node.container("sick")["restartCount"] == 2
        assert node.process("sick").returncode is None
        assert "running" in node.container("sick")["state"]

    scenario(tmp_path, body)


def test_a_probe_that_cannot_be_made_changes_nothing(tmp_path):
    async def body(node: Node) -> None:
        probe = {"httpGet": {"port": "no-such-port"}, "periodSeconds": 5}
        node.create(pod("typo", readinessProbe=probe))
        await node.settle()
        await node.advance(20)
        assert node.condition("typo", "Ready") == "False"  # the initial result, kept
        assert node.prober.calls == []
        assert node.container("typo")["restartCount"] == 0

    scenario(tmp_path, body)


def test_liveness_and_readiness_wait_for_the_startup_probe(tmp_path):
    async def body(node: Node) -> None:
        startup = ["test", "-f", "/tmp/started"]
        node.sandbox.exec_results[tuple(startup)] = False
        node.create(
            pod(
                "slow",
                startupProbe=exec_probe(startup, failureThreshold=30),
                readinessProbe=exec_probe(["true"]),
            )
        )
        await node.settle()
        assert node.container("slow")["started"] is False
        assert [c[2] for c in node.sandbox.calls if c[0] == "exec"] == [startup]
        await node.advance(5)
        assert node.condition("slow", "Ready") == "False"  # readiness waits, unprobed
        node.sandbox.exec_results[tuple(startup)] = True
        await node.advance(5)
        assert node.container("slow")["started"] is True
        await node.advance(0.2)  # liveness and readiness look every 0.2 s for the start
        assert node.condition("slow", "Ready") == "True"
        assert [c[2] for c in node.sandbox.calls if c[0] == "exec"][-1] == ["true"]

    scenario(tmp_path, body)


# --- deletion -----------------------------------------------------------------------------------


def test_deletion_is_sigterm_the_grace_period_sigkill_then_the_pod_is_gone(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True  # a server that does not stop on SIGTERM
        node.create(pod("stubborn"))
        await node.settle()
        process, pod_dir = node.process("stubborn"), node.pod_dir("stubborn")
        uid = meta.uid(node.pod("stubborn"))
        node.delete("stubborn", grace_period_s=30)
        await node.settle()
        assert process.signals == [signal.SIGTERM]
        await node.advance(29)
        assert process.signals == [signal.SIGTERM]  # the grace period has not passed
        assert node.pods() == ["stubborn"]
        await node.advance(2)
        assert process.signals == [signal.SIGTERM, signal.SIGKILL]
        assert node.pods() == []
        assert node.sandbox.pauses == set()  # the sandbox is removed ...
        assert ("unplug", uid) in node.sandbox.calls  # ... its veth too
        assert not os.path.exists(pod_dir)
        assert node.kubelet.workers == {}
        assert node.kubelet.ipam.allocate() == "10.244.1.3"  # .2 was freed; round-robin on

    scenario(tmp_path, body)


def test_a_container_that_stops_on_sigterm_is_deleted_without_waiting(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("polite"))
        await node.settle()
        node.delete("polite", grace_period_s=30)
        await node.settle()
        assert node.process("polite").signals == [signal.SIGTERM]
        assert node.pods() == []
        report = node.api.agents["kubelet/node1"]["appliedResourceVersion"]
        assert report == node.api.registry.store.rv

    scenario(tmp_path, body)


def test_stop_kills_every_pod_at_once_without_writing_to_the_api(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("a"))
        node.create(pod("b"))
        await node.settle()
        rv = node.api.registry.store.rv
        await node.kubelet.stop()
        assert all(p.signals == [signal.SIGKILL] for p in node.sandbox.processes)
        assert node.sandbox.pauses == set()
        assert node.api.registry.store.rv == rv
        assert node.pods() == ["a", "b"]

    scenario(tmp_path, body)


def test_a_force_deleted_pod_still_gets_sigterm_and_two_seconds_before_sigkill(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True
        node.create(pod("gone"))
        await node.settle()
        process = node.process("gone")
        rv = node.api.registry.store.rv
        node.delete("gone", grace_period_s=0)  # removed from the API without the kubelet
        await node.settle()
        assert process.signals == [signal.SIGTERM]  # "a small grace period" (1 s, then 2 s)
        await node.advance(2)
        assert process.signals == [signal.SIGTERM, signal.SIGKILL]
        assert node.sandbox.pauses == set()
        assert node.kubelet.workers == {}
        events = node.api.registry.store.list("Event")
        killing = [e for e in events if e["reason"] == "Killing"]
        assert [e["message"] for e in killing] == ["Stopping container c"]
        # the delete, and the kubelet's Killing event: no status written after it
        assert node.api.registry.store.rv == rv + 2

    scenario(tmp_path, body)


# --- IPAM (host-local in miniature) -------------------------------------------------------------


def test_ipam_hands_out_addresses_round_robin_after_the_gateway():
    ipam = IPAM("10.244.1.0/24")
    assert ipam.gateway == "10.244.1.1"
    assert [ipam.allocate() for _ in range(3)] == ["10.244.1.2", "10.244.1.3", "10.244.1.4"]
    ipam.release("10.244.1.2")
    assert ipam.allocate() == "10.244.1.5"  # a released address waits its turn


def test_ipam_wraps_around_to_released_addresses_and_says_when_the_cidr_is_full():
    ipam = IPAM("10.244.1.0/29")  # hosts .1-.6; .1 is the gateway
    assert [ipam.allocate() for _ in range(5)] == [f"10.244.1.{i}" for i in range(2, 7)]
    with pytest.raises(RuntimeError, match="pod CIDR is full"):
        ipam.allocate()
    ipam.release("10.244.1.3")
    assert ipam.allocate() == "10.244.1.3"


def test_each_container_gets_the_isolation_its_security_context_asks_for(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("plain"))
        net_admin = pod("admin", securityContext={"capabilities": {"add": ["NET_ADMIN"],
                                                                    "drop": ["KILL"]}})  # fmt: skip
        node.create(net_admin)
        node.create(pod("root", securityContext={"privileged": True}))
        shared = pod("shared")
        shared["spec"]["shareProcessNamespace"] = True
        node.create(shared)
        await node.settle()

        def caps(name: str) -> set[str]:
            config = node.process(name).config
            return {containers.ALL_CAPABILITIES[n] for n in config.capabilities}

        plain = node.process("plain").config
        assert caps("plain") == set(containers.DEFAULT_CAPABILITIES)
        assert "/proc/sysrq-trigger" in plain.readonly and "/proc/kcore" in plain.masked
        assert not plain.privileged and not plain.share_pid and not plain.api_access
        assert plain.layer_dir == str(Path(node.pod_dir("plain")) / "c" / "layer")
        assert caps("admin") == set(containers.DEFAULT_CAPABILITIES) - {"KILL"} | {"NET_ADMIN"}
        privileged = node.process("root").config
        assert caps("root") == set(containers.ALL_CAPABILITIES) and privileged.privileged
        assert privileged.masked == () and privileged.readonly == ()
        assert node.process("shared").config.share_pid

    scenario(tmp_path, body)


def test_an_image_that_uses_the_api_finds_it_at_one_declared_path(tmp_path):
    async def body(node: Node) -> None:
        dns = pod("dns", image="registry.k8s.io/coredns/coredns:v1.11.3",
                  args=["-conf", "/etc/coredns/Corefile"])  # fmt: skip
        del dns["spec"]["containers"][0]["command"]
        node.create(dns)
        await node.settle()
        config = node.process("dns").config
        assert config.api_access
        assert config.env["LABKIT_APISERVER"] == "/run/labkit/apiserver.sock"
        assert config.env["LABKIT_POD"] == "default/dns"
        assert node.process("dns").argv[1:4] == ["-m", "lab_kit.agents", "coredns"]

    scenario(tmp_path, body)


# --- Events: what `describe pod` and `get events` show ----------------------------------------


def _events(node: Node, pod_name: str) -> list[tuple[str, str, str, int]]:
    """(type, reason, message, count) of the kubelet's Events about a pod, in order written."""
    found = [e for e in node.api.registry.store.list("Event")
             if e["involvedObject"]["name"] == pod_name and e["source"]["component"] == "kubelet"]  # fmt: skip
    found.sort(key=lambda e: e["metadata"]["name"])
    return [(e["type"], e["reason"], e["message"], e["count"]) for e in found]


def test_a_started_container_gets_pulled_created_started_events(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("a"))
        await node.settle()
        assert _events(node, "a") == [
            ("Normal", "Pulled", f'Container image "{SHELL}" already present on machine', 1),
            ("Normal", "Created", "Created container: c", 1),
            ("Normal", "Started", "Started container c", 1),
        ]
        event = node.api.registry.store.list("Event")[0]
        assert event["involvedObject"]["fieldPath"] == "spec.containers{c}"
        assert event["source"] == {"component": "kubelet", "host": "node1"}

    scenario(tmp_path, body)


def test_an_unknown_image_and_a_failing_probe_are_warnings(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("nope", image="example.com/not-built-in:1", command=[]))
        url = "http://10.244.1.3:8080/healthz"
        node.prober.http[url] = 503
        node.create(pod("web", ports=[{"containerPort": 8080}],
                        readinessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}))  # fmt: skip
        await node.settle()
        await node.advance(10)
        failed = _events(node, "nope")
        assert failed[0][:2] == ("Warning", "Failed")
        assert failed[0][2].startswith('Failed to pull image "example.com/not-built-in:1": ')
        assert failed[1] == ("Warning", "Failed", "Error: ErrImagePull", 1)
        unhealthy = [e for e in _events(node, "web") if e[1] == "Unhealthy"]
        assert len(unhealthy) == 1 and unhealthy[0][:3] == (
            "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")  # fmt: skip
        assert unhealthy[0][3] >= 2  # one Event, counted again at each failed run

    scenario(tmp_path, body)
