"""Stopping a pod as the kubelet does, on virtual time (the kubelet on the runner, the real
API in-process, a fake sandbox and prober): no root, no sleeps.

What a learner would see: on deletion the preStop hook runs first (exec in the container,
an HTTP GET, or a sleep), then SIGTERM, then SIGKILL when the grace period — less what the
hook took, but at least 2 s — is gone; a failed hook is logged and stopping goes on; a
force-deleted pod still gets a second for its hook and two for SIGTERM; readiness goes on
while the pod stops, liveness does not. Also here: postStart, probe redirects as warnings,
and hostNetwork pods (the node's network and address).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from test_kubelet import Node, pod, scenario

from lab_kit.adapters.prober import HttpResult
from lab_kit.model import meta

STUBBORN = "a server that does not stop on SIGTERM"


def with_hooks(name: str, grace_s: int = 30, **lifecycle: dict) -> dict:
    spec = pod(name, lifecycle=lifecycle, ports=[{"name": "http", "containerPort": 8080}])
    spec["spec"]["terminationGracePeriodSeconds"] = grace_s
    return spec


def kills(node: Node, name: str) -> list[int]:
    return node.process(name).signals


def hook_and_kill_calls(node: Node) -> list[tuple]:
    return [c[:1] + c[2:] for c in node.sandbox.calls if c[0] in ("exec_sync", "kill")]


# --- preStop, each handler ----------------------------------------------------------------------


def test_a_pre_stop_sleep_comes_before_sigterm_and_counts_against_the_grace_period(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True  # STUBBORN
        node.create(with_hooks("web", 30, preStop={"sleep": {"seconds": 5}}))
        await node.settle()
        node.delete("web")  # the pod's terminationGracePeriodSeconds: 30
        await node.settle()
        assert meta.is_deleting(node.pod("web"))
        await node.advance(4.9)
        assert kills(node, "web") == []  # the hook is still sleeping
        await node.advance(0.1)
        assert kills(node, "web") == [signal.SIGTERM]
        await node.advance(24.9)
        assert kills(node, "web") == [signal.SIGTERM]  # 30 - 5 = 25 s after SIGTERM ...
        await node.advance(0.1)
        assert kills(node, "web") == [signal.SIGTERM, signal.SIGKILL]  # ... 30 s in all
        assert node.pods() == []

    scenario(tmp_path, body)


def test_a_pre_stop_exec_runs_in_the_container_and_its_time_is_taken_off(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True
        drain = ["sh", "-c", "drain"]
        gate = node.sandbox.exec_gates[tuple(drain)] = asyncio.Event()
        node.create(with_hooks("web", 30, preStop={"exec": {"command": drain}}))
        await node.settle()
        pid = node.process("web").pid
        node.delete("web")
        await node.settle()
        await node.advance(3)
        assert kills(node, "web") == []
        gate.set()  # the command ends after 3 s
        await node.settle()
        assert hook_and_kill_calls(node) == [("exec_sync", drain), ("kill", signal.SIGTERM)]
        assert node.sandbox.calls[-1][:2] == ("kill", pid)  # the container's own process
        await node.advance(26.9)
        assert kills(node, "web") == [signal.SIGTERM]
        await node.advance(0.1)  # 30 - 3 = 27 s after SIGTERM
        assert kills(node, "web") == [signal.SIGTERM, signal.SIGKILL]

    scenario(tmp_path, body)


def test_a_pre_stop_http_get_goes_through_the_prober_as_kube_lifecycle(tmp_path):
    async def body(node: Node) -> None:
        hook = {"httpGet": {"path": "/drain", "port": "http"}}
        node.create(with_hooks("web", 30, preStop=hook))
        await node.settle()
        url = "http://10.244.1.2:8080/drain"
        gate = node.prober.http_gates[url] = asyncio.Event()
        node.delete("web")
        await node.settle()
        get = next(c for c in node.prober.calls if c[0] == "http")
        assert get[1] == url and get[2]["User-Agent"] == "kube-lifecycle/1.33"
        assert kills(node, "web") == []  # waiting for the answer
        node.prober.http[url] = 500  # any answer will do: no status check for hooks
        gate.set()
        await node.settle()
        assert kills(node, "web") == [signal.SIGTERM]  # it stopped on SIGTERM ...
        assert node.pods() == []  # ... so the pod is gone at once

    scenario(tmp_path, body)


def test_a_pre_stop_longer_than_the_grace_period_is_cut_and_sigterm_still_gets_2_s(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True
        node.create(with_hooks("web", 30, preStop={"sleep": {"seconds": 25}}))
        await node.settle()
        node.delete("web", grace_period_s=10)  # the delete's grace wins over the pod's
        await node.settle()
        await node.advance(9.9)
        assert kills(node, "web") == []
        await node.advance(0.1)
        assert kills(node, "web") == [signal.SIGTERM]  # the hook had all 10 s
        await node.advance(1.9)
        assert kills(node, "web") == [signal.SIGTERM]
        await node.advance(0.1)  # minimumGracePeriodInSeconds
        assert kills(node, "web") == [signal.SIGTERM, signal.SIGKILL]

    scenario(tmp_path, body)


def test_a_failing_pre_stop_is_logged_and_termination_goes_on(tmp_path, caplog):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True
        drain = ["/bin/drain", "--now"]
        node.sandbox.exec_results[tuple(drain)] = False
        node.create(with_hooks("web", 30, preStop={"exec": {"command": drain}}))
        await node.settle()
        uid = meta.uid(node.pod("web"))
        node.delete("web")
        with caplog.at_level(logging.INFO, logger="kubelet"):
            await node.settle()
        assert kills(node, "web") == [signal.SIGTERM]  # at once: the hook took no time
        failed = [r.getMessage() for r in caplog.records if "PreStop hook failed" in r.message]
        assert failed == [
            "default/web/c: PreStop hook failed: Exec lifecycle hook ([/bin/drain --now]) "
            f'for Container "c" in Pod "web_default({uid})" failed - error: command '
            "'/bin/drain --now' exited with 1: hook failed\n, message: \"hook failed\\n\""
        ]
        await node.advance(30)
        assert kills(node, "web") == [signal.SIGTERM, signal.SIGKILL]
        assert node.pods() == []

    scenario(tmp_path, body)


def test_a_hook_the_kubelet_cannot_run_fails_without_holding_anything_up(tmp_path, caplog):
    async def body(node: Node) -> None:
        node.create(with_hooks("web", 30, preStop={"tcpSocket": {"port": 8080}}))
        await node.settle()
        node.delete("web")
        with caplog.at_level(logging.INFO, logger="kubelet"):
            await node.settle()
        assert kills(node, "web") == [signal.SIGTERM]
        assert any("Cannot run handler: invalid handler" in r.message for r in caplog.records)

    scenario(tmp_path, body)


def test_without_a_pre_stop_hook_sigterm_comes_at_once(tmp_path):
    async def body(node: Node) -> None:
        node.create(pod("web"))
        await node.settle()
        node.delete("web")
        await node.settle()
        assert kills(node, "web") == [signal.SIGTERM]
        assert [c for c in node.sandbox.calls if c[0] == "exec_sync"] == []

    scenario(tmp_path, body)


# --- grace period 0: a force delete -------------------------------------------------------------


def test_a_force_deleted_pod_gets_1_s_for_its_hook_then_2_s_after_sigterm(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True
        node.create(with_hooks("web", 30, preStop={"sleep": {"seconds": 20}}))
        await node.settle()
        rv = node.api.registry.store.rv
        node.delete("web", grace_period_s=0)  # gone from the API at once
        await node.settle()
        assert node.pods() == [] and kills(node, "web") == []
        await node.advance(1)  # calculateEffectiveGracePeriod: never less than 1 s
        assert kills(node, "web") == [signal.SIGTERM]
        await node.advance(2)
        assert kills(node, "web") == [signal.SIGTERM, signal.SIGKILL]
        assert node.sandbox.pauses == set() and node.kubelet.workers == {}
        # the delete and the kubelet's Killing event: no status write for a pod that is gone
        assert node.api.registry.store.rv == rv + 2
        assert [
            e["reason"] for e in node.api.registry.store.list("Event") if e["reason"] == "Killing"
        ] == ["Killing"]

    scenario(tmp_path, body)


def test_a_force_delete_during_a_graceful_one_shortens_it(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True
        node.create(with_hooks("web", 30, preStop={"sleep": {"seconds": 20}}))
        await node.settle()
        node.delete("web")
        await node.settle()
        await node.advance(5)
        node.delete("web", grace_period_s=0)
        await node.settle()
        await node.advance(1)
        assert kills(node, "web") == [signal.SIGTERM]
        await node.advance(2)
        assert kills(node, "web") == [signal.SIGTERM, signal.SIGKILL]
        assert node.kubelet.workers == {}

    scenario(tmp_path, body)


# --- probes while the pod stops ------------------------------------------------------------------


def test_readiness_goes_on_while_the_pod_stops_but_liveness_does_not(tmp_path):
    async def body(node: Node) -> None:
        ready, alive = ["cat", "/tmp/ready"], ["cat", "/tmp/alive"]
        web = with_hooks("web", 30, preStop={"sleep": {"seconds": 20}})
        container = web["spec"]["containers"][0]
        container["readinessProbe"] = {"exec": {"command": ready}, "periodSeconds": 1}
        container["livenessProbe"] = {"exec": {"command": alive}, "periodSeconds": 1,
                                      "failureThreshold": 1}  # fmt: skip
        node.create(web)
        await node.settle()
        await node.advance(1)
        assert node.condition("web", "Ready") == "True"
        node.delete("web")
        await node.settle()
        before = len(node.sandbox.calls)
        node.sandbox.exec_results[tuple(ready)] = False
        node.sandbox.exec_results[tuple(alive)] = False
        await node.advance(3)
        assert node.condition("web", "Ready") == "False"  # readiness still probed
        assert kills(node, "web") == []  # a failing liveness probe no longer kills
        probed = [c[2] for c in node.sandbox.calls[before:] if c[0] == "exec"]
        assert probed == [ready, ready, ready]  # and liveness is not run at all

    scenario(tmp_path, body)


def test_a_liveness_kill_runs_pre_stop_and_uses_the_probes_grace_period(tmp_path):
    async def body(node: Node) -> None:
        node.sandbox.ignore_sigterm = True
        alive = ["cat", "/tmp/alive"]
        web = with_hooks("web", 30, preStop={"sleep": {"seconds": 1}})
        web["spec"]["containers"][0]["livenessProbe"] = {
            "exec": {"command": alive}, "periodSeconds": 10, "failureThreshold": 1,
            "terminationGracePeriodSeconds": 5,
        }  # fmt: skip
        node.sandbox.exec_results[tuple(alive)] = False
        node.create(web)
        await node.settle()  # the first run failed: killContainer, preStop first
        first = node.process("web")
        assert first.signals == []
        await node.advance(1)
        assert first.signals == [signal.SIGTERM]
        await node.advance(4)  # the probe's 5 s, less the hook's 1 s
        assert first.signals == [signal.SIGTERM, signal.SIGKILL]
        assert node.container("web")["restartCount"] == 1
        assert node.pods() == ["web"]  # a restart, not a deletion

    scenario(tmp_path, body)


# --- postStart ----------------------------------------------------------------------------------


def test_a_post_start_hook_runs_after_the_start_and_holds_running_until_it_ends(tmp_path):
    async def body(node: Node) -> None:
        warm = ["sh", "-c", "warm-up"]
        gate = node.sandbox.exec_gates[tuple(warm)] = asyncio.Event()
        node.create(with_hooks("web", 30, postStart={"exec": {"command": warm}}))
        await node.settle()
        started = [c[0] for c in node.sandbox.calls if c[0] in ("start", "exec_sync")]
        assert started == ["start", "exec_sync"]
        assert node.container("web")["state"]["waiting"]["reason"] == "ContainerCreating"
        gate.set()
        await node.settle()
        assert "running" in node.container("web")["state"]
        assert node.condition("web", "Ready") == "True"

    scenario(tmp_path, body)


def test_a_failing_post_start_hook_kills_the_container_and_it_is_restarted(tmp_path, caplog):
    async def body(node: Node) -> None:
        warm = ["sh", "-c", "warm-up"]
        node.sandbox.exec_results[tuple(warm)] = False
        node.create(with_hooks("web", 30, postStart={"exec": {"command": warm}}))
        with caplog.at_level(logging.INFO, logger="kubelet"):
            await node.settle()
        first = node.sandbox.processes[0]
        assert first.signals == [signal.SIGTERM]
        assert node.container("web")["restartCount"] >= 1
        assert any("PostStartHook failed" in r.message for r in caplog.records)

    scenario(tmp_path, body)


# --- probe redirects ----------------------------------------------------------------------------


def test_a_redirect_the_prober_did_not_follow_is_success_with_a_warning(tmp_path, caplog):
    async def body(node: Node) -> None:
        probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}
        url = "http://10.244.1.2:8080/healthz"
        node.prober.http[url] = HttpResult(302, body="<a href=http://elsewhere/>Found</a>")
        node.create(pod("web", readinessProbe=probe))
        with caplog.at_level(logging.WARNING, logger="kubelet"):
            await node.settle()
        assert node.condition("web", "Ready") == "True"
        assert [r.getMessage() for r in caplog.records] == [
            "default/web/c: Readiness probe warning: Probe terminated redirects, "
            "Response body: <a href=http://elsewhere/>Found</a>"
        ]

    scenario(tmp_path, body)


def test_no_answer_at_all_is_a_probe_failure(tmp_path):
    async def body(node: Node) -> None:
        probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}
        node.prober.http["http://10.244.1.2:8080/healthz"] = None
        node.create(pod("web", readinessProbe=probe))
        await node.settle()
        assert node.condition("web", "Ready") == "False"

    scenario(tmp_path, body)


# --- hostNetwork --------------------------------------------------------------------------------


def host_network_pod(name: str, dns_policy: str = "") -> dict:
    spec = pod(name)
    spec["spec"]["hostNetwork"] = True
    if dns_policy:
        spec["spec"]["dnsPolicy"] = dns_policy
    return spec


def test_a_host_network_pod_has_the_nodes_address_and_no_veth(tmp_path):
    async def body(node: Node) -> None:
        node.create(host_network_pod("agent"))
        await node.settle()
        status = node.status("agent")
        assert (status["podIP"], status["hostIP"]) == ("172.18.0.2", "172.18.0.2")
        assert status["podIPs"] == [{"ip": "172.18.0.2"}]
        assert node.condition("agent", "Ready") == "True"
        assert [c for c in node.sandbox.calls if c[0] == "plug"] == []
        assert node.sandbox.host_network == node.sandbox.pauses  # in the node's netns
        assert node.sandbox.calls[0] == ("create", "node1")  # the node's hostname
        assert node.process("agent").env["HOSTNAME"] == "node1"
        files = Path(node.pod_dir("agent"))
        assert (files / "hostname").read_text() == "node1\n"
        hosts = (files / "hosts").read_text()
        assert hosts.startswith("# Kubernetes-managed hosts file (host network).\n")
        assert "172.18.0.2\tnode1\n" in hosts
        node.create(pod("next"))  # IPAM was not asked: the next pod gets the first address
        await node.settle()
        assert node.status("next")["podIP"] == "10.244.1.2"

    scenario(tmp_path, body)


def test_a_host_network_pod_resolves_as_the_node_unless_cluster_first_with_host_net(tmp_path):
    async def body(node: Node) -> None:
        node.create(host_network_pod("plain"))  # dnsPolicy ClusterFirst: falls back to Default
        node.create(host_network_pod("cluster", "ClusterFirstWithHostNet"))
        await node.settle()
        plain = (Path(node.pod_dir("plain")) / "resolv.conf").read_text()
        assert plain == "nameserver 203.0.113.10\n"
        cluster = (Path(node.pod_dir("cluster")) / "resolv.conf").read_text()
        assert cluster.startswith("search default.svc.cluster.local")
        assert "nameserver 10.96.0.10\n" in cluster

    scenario(tmp_path, body)


def test_deleting_a_host_network_pod_leaves_the_nodes_network_alone(tmp_path):
    async def body(node: Node) -> None:
        node.create(host_network_pod("agent"))
        await node.settle()
        uid = meta.uid(node.pod("agent"))
        node.delete("agent")
        await node.settle()
        assert node.pods() == []
        assert ("unplug", uid) not in node.sandbox.calls
        assert node.sandbox.pauses == set() and node.sandbox.host_network == set()

    scenario(tmp_path, body)
