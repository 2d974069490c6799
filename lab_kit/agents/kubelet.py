"""kubelet for the lab: one process per node, inside the node's namespaces.

    watch Pods bound to this node (fieldSelector spec.nodeName=<node>), and the Services,
    ConfigMaps and Secrets that containers' environments are built from
    -> for each new Pod: an IP from the node's pod CIDR, resolv.conf and /etc/hosts,
       a sandbox (pause process in fresh namespaces), a veth to the node, then containers
    -> probes (startup, liveness, readiness) feed the Pod's status, written back to the API
    -> a Pod with a deletionTimestamp is stopped (SIGTERM, grace period, SIGKILL), its
       sandbox removed, and the Pod deleted for good

The decisions (environment, DNS files, probe thresholds, status) are pure functions in
`lab_kit.node`; this module runs processes and talks to the API. `PodWorker` lives in
`lab_kit.agents.pod_worker`.

Run (inside the node's namespaces):
    python -m lab_kit.agents.kubelet --node node1 --socket PATH --run-dir DIR --topology-file F
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import platform
import signal
import time

from lab_kit.adapters.apiclient import AsyncApiClient
from lab_kit.agents.informer import Informer
from lab_kit.agents.pod_worker import PodWorker
from lab_kit.api.strategies import rfc3339
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.topology import ClusterSpec, NodeSpec, parse_topology

log = logging.getLogger("kubelet")
KUBELET_VERSION = "v1.33.0-lab_kit"


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


class Kubelet:
    def __init__(self, node: NodeSpec, spec: ClusterSpec, client: AsyncApiClient, run_dir: str):
        self.node, self.spec, self.client, self.run_dir = node, spec, client, run_dir
        self.name = f"kubelet/{node.name}"
        self.ipam = IPAM(node.pod_cidr)
        self.changed = asyncio.Event()
        self.pods = Informer(
            client,
            by_kind_name("Pod"),
            self.changed.set,
            field_selector=f"spec.nodeName={node.name}",
        )
        self.services = Informer(client, by_kind_name("Service"), self.changed.set)
        self.config_maps = Informer(client, by_kind_name("ConfigMap"), self.changed.set)
        self.secrets = Informer(client, by_kind_name("Secret"), self.changed.set)
        self.informers = [self.pods, self.services, self.config_maps, self.secrets]
        self.workers: dict[str, PodWorker] = {}

    # --- node registration -------------------------------------------------------------------
    def node_object(self) -> dict:
        n = self.node
        now = rfc3339(time.time())
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

    async def register(self) -> None:
        node = self.node_object()
        try:
            await self.client.create(node)
        except ApiError as e:
            if e.code != 409:
                raise
            current = await self.client.get(by_kind_name("Node"), self.node.name)
            await self.client.update_status({**current, "status": node["status"]})

    # --- the loop ------------------------------------------------------------------------------
    async def run(self, ready_fd: int | None) -> None:
        tasks = [asyncio.create_task(inf.run()) for inf in self.informers]
        await asyncio.gather(*(inf.synced.wait() for inf in self.informers))
        await self.register()
        if ready_fd is not None:
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
        try:
            while True:
                await self.changed.wait()
                self.changed.clear()
                await self.sync()
        finally:
            for t in tasks:
                t.cancel()

    async def sync(self) -> None:
        """Start workers for new pods, hand every worker its pod's newest version."""
        seen = min(inf.seen_rv for inf in self.informers)
        current = {meta.uid(p): p for p in self.pods.items()}
        for uid, pod in current.items():
            worker = self.workers.get(uid)
            if worker is None:
                worker = self.workers[uid] = PodWorker(self, pod)
                worker.start()
            worker.update(pod)
        for uid, worker in list(self.workers.items()):
            if uid not in current:
                worker.vanished()
            if worker.finished:
                del self.workers[uid]
        if all(w.settled for w in self.workers.values()):
            await self.client.report_applied(self.name, seen, {"node": self.node.name})

    def services_for_env(self) -> list[dict]:
        return self.services.items()

    def node_resolv_conf(self) -> str:
        """The node's resolv.conf as kubelet's --resolv-conf would give it (dnsPolicy Default):
        the lab's own upstream on the "internet" host, never this machine's resolvers."""
        upstream = self.spec.host_role("internet")
        return f"nameserver {upstream.ip}\n" if upstream else ""

    async def shutdown(self) -> None:
        """`labkit down`: stop every pod at once (no API writes: the lab is going away)."""
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


async def main_async(args) -> None:
    with open(args.topology_file) as f:
        spec = parse_topology(f.read(), args.topology_file)
    client = AsyncApiClient(args.socket)
    kubelet = Kubelet(spec.node(args.node), spec, client, args.run_dir)
    task = asyncio.create_task(kubelet.run(args.ready_fd))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(
            sig, lambda sig=sig: (log.info("stopping on %s", signal.Signals(sig).name), stop.set())
        )
    done, _ = await asyncio.wait(
        [task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if task in done:
        log.error("kubelet loop ended: %r", task.exception())
        task.result()  # surface a crash (it is logged and the process exits non-zero)
    task.cancel()
    await kubelet.shutdown()
    await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="lab_kit.agents.kubelet", description="The lab's kubelet."
    )
    parser.add_argument("--node", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--topology-file", required=True)
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s kubelet/{args.node} %(levelname)s %(message)s"
    )
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
