"""kubelet for the lab: one process per node, inside the node's namespaces.

    watch Pods bound to this node (fieldSelector spec.nodeName=<node>), and the Services,
    ConfigMaps and Secrets that containers' environments are built from
    -> start(): register the Node (create it, or update its status if it exists)
    -> sync(): a pod worker per Pod (`lab_kit.agents.pod_worker`), handed each new version:
       an IP from the node's pod CIDR (hostNetwork: the node's own), resolv.conf and
       /etc/hosts, a sandbox, containers, probes, lifecycle hooks; status written back; a
       deletionTimestamp stops it (preStop hook, SIGTERM, the rest of the grace, SIGKILL)
    -> report once every worker has written its news (`labkit apply --wait`)
    every 10 s, beside the loop: post the Node's status (the heartbeat the node lifecycle
    controller watches), then have every worker write its pod's status again if the API's
    differs (the status manager's sync: a pod marked not Ready while the node was away)

The decisions (environment, DNS files, probe thresholds, status) are pure functions in
`lab_kit.node`; the side effects go through two seams the kubelet hands its workers, the
sandbox (`lab_kit.adapters.sandbox`) and the prober (`lab_kit.adapters.prober`), and time
comes from the runner's clock. The loop around `sync` is the agent runner's
(`lab_kit/agents/runner.py`). Unlike the real kubelet there are no periodic pod syncs,
no eviction and no volumes beyond the pod's own files, and the heartbeat is the Node's
status every nodeStatusUpdateFrequency (10 s), as before Kubernetes v1.14, since the lab
serves no Lease objects. The kubelet's API client goes through a gate
(`lab_kit.adapters.partition`) that `labkit node disconnect` closes: a partitioned node's
kubelet loses the API as it would over a real network.

Run (inside the node's namespaces; `labkit up` does it):
    python -m lab_kit.agents kubelet --node node1 --socket PATH --run-dir DIR --topology-file F
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import platform

from lab_kit.adapters.partition import PartitionedApiClient
from lab_kit.adapters.prober import NetworkProber, Prober
from lab_kit.adapters.rundir import RunDir
from lab_kit.adapters.sandbox import NamespaceSandbox, Sandbox
from lab_kit.agents import images
from lab_kit.agents.pod_worker import PodWorker
from lab_kit.agents.runner import Agent, Context, Watch, add_node_arguments, load_topology
from lab_kit.controllers.events import EventRecorder
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.meta import rfc3339
from lab_kit.model.topology import ClusterSpec, NodeSpec

log = logging.getLogger("kubelet")
KUBELET_VERSION = "v1.33.0-lab_kit"
NODE_STATUS_UPDATE_FREQUENCY_S = 10.0  # KubeletConfiguration nodeStatusUpdateFrequency


class IPAM:
    """The host-local IPAM plugin in miniature: addresses from the node's pod CIDR (.1 is
    the node's own gateway address on every pod veth), handed out round-robin from the one
    after the last reserved — so a replaced pod gets a new IP, as on a real node — and the
    same sequence every run, so addresses are recognisable."""

    def __init__(self, cidr: str):
        net = ipaddress.ip_network(cidr)
        self.gateway = str(net.network_address + 1)
        self._free = [str(a) for a in list(net.hosts())[1:]]
        self._used: set[str] = set()
        self._last = -1  # index of the last reserved address (host-local's last_reserved_ip)

    def allocate(self) -> str:
        n = len(self._free)
        for step in range(1, n + 1):
            i = (self._last + step) % n
            if self._free[i] not in self._used:
                self._used.add(self._free[i])
                self._last = i
                return self._free[i]
        raise RuntimeError("the node's pod CIDR is full")

    def release(self, ip: str) -> None:
        self._used.discard(ip)


class Kubelet(Agent):
    """The node agent that runs the node's pods (one `PodWorker` each)."""

    # What every kubelet watches; __init__ adds its own node's Pods. (Declared on the class
    # too: the runner opens the API socket for agents whose class watches something.)
    watches = {
        "services": Watch("Service"),
        "config_maps": Watch("ConfigMap"),
        "secrets": Watch("Secret"),
    }

    def __init__(
        self,
        ctx: Context,
        node: NodeSpec,
        spec: ClusterSpec,
        run_dir: RunDir,
        sandbox: Sandbox | None = None,
        prober: Prober | None = None,
    ):
        super().__init__(ctx)
        self.node, self.spec, self.run_dir = node, spec, run_dir
        # Before the runner's informers take the client: they must go through the gate too.
        ctx.client = PartitionedApiClient(ctx.client, lambda: run_dir.partitioned(node.name))
        self.sandbox: Sandbox = sandbox or NamespaceSandbox(
            images.installation(), ctx.client.socket_path or "", run_dir.zygote_socket
        )
        self.prober: Prober = prober or NetworkProber()
        self.report_as = f"kubelet/{node.name}"
        self.watches = {
            "pods": Watch("Pod", field_selector=f"spec.nodeName={node.name}"),
            **Kubelet.watches,
        }
        self.ipam = IPAM(node.pod_cidr)
        self.workers: dict[str, PodWorker] = {}
        self.done: set[str] = set()  # UIDs whose worker finished (their Pod may linger)
        self._heartbeat: asyncio.Task | None = None
        self.recorder = EventRecorder("kubelet", host=node.name)
        self._events: set[asyncio.Task] = set()  # writes in flight (a reference keeps them)

    def event(self, pod: dict, type_: str, reason: str, message: str, container: str = "") -> None:
        """Record an Event about `pod` (or one of its containers), best effort and in the
        background, as client-go's broadcaster sends them: never in the pod's way."""
        field_path = f"spec.containers{{{container}}}" if container else ""
        action = self.recorder.record(
            pod, type_, reason, message, self.ctx.clock.time(), field_path
        )
        task = asyncio.create_task(self._send_event(action))
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    async def _send_event(self, action) -> None:
        try:
            await self.ctx.client.perform(action)
        except Exception as e:  # dropped, as the broadcaster drops what it cannot write
            log.debug("event not written: %r", e)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_node_arguments(parser)

    @classmethod
    def create(cls, ctx: Context, options: argparse.Namespace) -> Kubelet:
        spec = load_topology(options.topology_file)
        return cls(ctx, spec.node(options.node), spec, RunDir(options.run_dir))

    # --- node registration -------------------------------------------------------------------
    def node_object(self) -> dict:
        """The Node this kubelet registers: labels, conditions, addresses, capacity."""
        n = self.node
        now = rfc3339(self.ctx.clock.time())
        labels = {
            "kubernetes.io/hostname": n.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            **n.labels,
        }
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        pressure = [
            {
                "type": t,
                "status": "False",
                "reason": f"KubeletHas{r}",
                "message": m,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
            for t, r, m in (
                ("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory available"),
                ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"),
            )
        ]
        capacity = {
            "cpu": str(os.cpu_count() or 1),
            "memory": "8Gi",
            "pods": "110",
            "ephemeral-storage": "10Gi",
        }
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": n.name, "labels": labels},
            "spec": {"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr]},
            "status": {
                "conditions": [*pressure, ready],
                "addresses": [
                    {"type": "InternalIP", "address": n.ip},
                    {"type": "Hostname", "address": n.name},
                ],
                "capacity": capacity,
                "allocatable": capacity,
                "nodeInfo": {
                    "kubeletVersion": KUBELET_VERSION,
                    "kubeProxyVersion": KUBELET_VERSION,
                    "containerRuntimeVersion": "lab_kit://0.1.0",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                    "kernelVersion": platform.release(),
                    "osImage": _os_image(),
                    "machineID": "",
                    "systemUUID": "",
                    "bootID": "",
                },
            },
        }

    async def start(self) -> None:
        """Register the Node: create it, or (a restarted kubelet) update its status."""
        node = self.node_object()
        client = self.ctx.client
        try:
            await client.create(node)
        except ApiError as e:
            if e.code != 409:
                raise
            current = await client.get(by_kind_name("Node"), self.node.name)
            await client.update_status({**current, "status": node["status"]})
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._heartbeats())

    # --- heartbeats ----------------------------------------------------------------------------
    async def _heartbeats(self) -> None:
        """syncNodeStatus on its own timer, whatever the sync loop is doing; a failure (the
        API away, the node disconnected) is tried again at the next tick."""
        while True:
            await self.ctx.clock.sleep(NODE_STATUS_UPDATE_FREQUENCY_S)
            try:
                await self.post_node_status()
            except Exception as e:
                log.warning("Error updating node status, will retry: %s", e)
                continue
            for worker in self.workers.values():
                worker.dirty.set()  # written only if the API's status differs

    async def post_node_status(self) -> None:
        """The Node's status, heartbeat times now; a condition whose status is unchanged
        keeps its lastTransitionTime (one the controller set Unknown gets a new one)."""
        client = self.ctx.client
        current = await client.get(by_kind_name("Node"), self.node.name)
        status = self.node_object()["status"]
        before = {c.get("type"): c for c in meta.status(current).get("conditions") or []}
        for cond in status["conditions"]:
            old = before.get(cond["type"])
            if old and old.get("status") == cond["status"] and old.get("lastTransitionTime"):
                cond["lastTransitionTime"] = old["lastTransitionTime"]
        await client.update_status({**current, "status": status})

    # --- the loop ------------------------------------------------------------------------------
    async def sync(self) -> dict | None:
        """Start workers for new pods, hand every worker its pod's newest version, drop
        finished ones; report only once every worker has settled (its status written)."""
        current = {meta.uid(p): p for p in self.ctx.items("pods")}
        for uid, pod in current.items():
            worker = self.workers.get(uid)
            if worker is None:
                if uid in self.done:  # deleted by its worker; the watch will catch up
                    continue
                worker = self.workers[uid] = PodWorker(self, pod)
                worker.start()
            worker.update(pod)
        for uid, worker in list(self.workers.items()):
            if uid not in current:
                worker.vanished()
            if worker.finished:
                del self.workers[uid]
                self.done.add(uid)
        self.done &= current.keys()
        if all(w.settled for w in self.workers.values()):
            return {"node": self.node.name}
        return None

    def node_resolv_conf(self) -> str:
        """The node's resolv.conf as kubelet's --resolv-conf would give it (dnsPolicy Default):
        the lab's own upstream on the "internet" host, never this machine's resolvers."""
        upstream = self.spec.host_role("internet")
        return f"nameserver {upstream.ip}\n" if upstream else ""

    def node_hosts_file(self) -> str:
        """The node's /etc/hosts, which hostNetwork pods get (under the kubelet's header).
        The lab's nodes have none of their own (they see the machine's, which is not the
        lab's business), so this is the one a kind node gets from its container runtime:
        localhost, the IPv6 names, and the node's address and name."""
        return (
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\n"
            "ff02::1\tip6-allnodes\n"
            "ff02::2\tip6-allrouters\n"
            f"{self.node.ip}\t{self.node.name}\n"
        )

    async def stop(self) -> None:
        """`labkit down`: stop every pod at once (no API writes: the lab is going away)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        await asyncio.gather(*(w.kill_now() for w in self.workers.values()), return_exceptions=True)


def _os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
