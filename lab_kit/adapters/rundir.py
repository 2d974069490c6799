"""The run directory: where a running lab keeps everything it made, in one layout.

    /run/labkit/                 (LABKIT_RUN_DIR overrides it; tests use a private one)
      state.json                 processes `up` started (PID + start time), enabled addons,
                                 the phase, restarts (lab_kit/adapters/records.py: LabState)
      state.lock                 taken while state.json is read and rewritten
      api/apiserver.sock         the API server's Unix socket, alone in its directory: pods
                                 that use the API get the directory (a bind of the socket
                                 itself would keep the old one when the API server restarts)
      topology.toml              the running lab's copy of its topology
      network.json               the network agent's record: each host's shell PID, links
      cloud-lb.json              the cloud load balancer's view: addresses, nodes, health
      logs/<agent>.log           one log per agent process (kubelet-node1.log, ...)
      pods/<ns>_<name>_<uid>/    one per pod: sandbox.json, resolv.conf, hosts, opt/, logs
      captures/*.pcap            packet captures
      etcd/                      the API server's objects on disk (snapshot.json, wal.jsonl)
      partitioned/<node>         present while `labkit node disconnect` holds the node off
                                 the network: its kubelet treats the API as unreachable
      firewall.json              the router's NodePort firewall: on/off and the open ports
      pki/ca.crt, pki/ca.key     the lab's CA (lab_kit/adapters/pki.py), made on first use:
                                 outside hosts share the machine's files, so
                                 `curl --cacert <run dir>/pki/ca.crt` trusts what it issued
                                 (pki/lock: taken while it is made)

Only this module knows the layout: the lifecycle, the agents (the kubelet's pod
directories, the network's record) and the notebook facade all ask it. Entering a host's
namespaces goes through here too (`host_argv`), since the PIDs to enter live here.
"""

from __future__ import annotations

import glob
import json
import os
import shutil

DEFAULT_RUN_DIR = "/run/labkit"
SANDBOX_RECORD = "sandbox.json"  # in each pod directory: what `labkit exec` and `clean` read


class NoSuchHost(LookupError):
    """A node or outside host the running lab does not have (the message says which exist)."""


class RunDir:
    def __init__(self, path: str | None = None):
        self.path = path or os.environ.get("LABKIT_RUN_DIR", DEFAULT_RUN_DIR)

    def __repr__(self) -> str:
        return f"RunDir({self.path!r})"

    def _join(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    @property
    def state_file(self) -> str:
        return self._join("state.json")

    @property
    def state_lock(self) -> str:
        return self._join("state.lock")

    @property
    def socket(self) -> str:
        return self._join("api", "apiserver.sock")

    @property
    def zygote_socket(self) -> str:
        """Where the agents' fork server listens (`lab_kit/agents/zygote.py`)."""
        return self._join("zygote.sock")

    def exit_note(self, pid: int) -> str:
        """How a process the zygote forked ended ("was killed by SIGKILL"), once it has."""
        return self._join("exits", str(pid))

    @property
    def topology_file(self) -> str:
        return self._join("topology.toml")

    @property
    def network_file(self) -> str:
        return self._join("network.json")

    @property
    def logs(self) -> str:
        return self._join("logs")

    def log(self, process: str) -> str:
        """The log of one process: "kubelet/node1" -> logs/kubelet-node1.log."""
        return self._join("logs", process.replace("/", "-") + ".log")

    @property
    def pods(self) -> str:
        return self._join("pods")

    def pod_dir(self, namespace: str, name: str, uid: str) -> str:
        return self._join("pods", f"{namespace}_{name}_{uid}")

    def sandbox_files(self) -> list[str]:
        """Every pod's sandbox.json (the kubelet's record of its processes)."""
        return glob.glob(self._join("pods", "*", SANDBOX_RECORD))

    def sandbox_file(self, uid: str) -> str | None:
        matches = glob.glob(self._join("pods", f"*_{uid}", SANDBOX_RECORD))
        return matches[0] if matches else None

    @property
    def captures(self) -> str:
        return self._join("captures")

    @property
    def etcd(self) -> str:
        """Where the API server keeps its objects (lab_kit/adapters/store_file.py)."""
        return self._join("etcd")

    # --- a node off the network, the router's firewall (lab_kit/lab/outside.py) ------------
    def partition_flag(self, node: str) -> str:
        """The file whose presence cuts `node`'s kubelet off from the API server."""
        return self._join("partitioned", node)

    def partitioned(self, node: str) -> bool:
        return os.path.exists(self.partition_flag(node))

    def partitioned_nodes(self) -> list[str]:
        try:
            return sorted(os.listdir(self._join("partitioned")))
        except OSError:
            return []

    @property
    def firewall_file(self) -> str:
        return self._join("firewall.json")

    # --- the lab's CA (lab_kit/adapters/pki.py) -------------------------------------------------
    @property
    def ca_cert(self) -> str:
        return self._join("pki", "ca.crt")

    @property
    def ca_key(self) -> str:
        return self._join("pki", "ca.key")

    @property
    def apiserver_cert(self) -> str:
        """The API server's serving certificate (kubeadm's apiserver.crt), from the lab CA."""
        return self._join("pki", "apiserver.crt")

    @property
    def apiserver_key(self) -> str:
        return self._join("pki", "apiserver.key")

    @property
    def service_account_key(self) -> str:
        """The key service-account tokens are signed with (kubeadm's sa.key)."""
        return self._join("pki", "sa.key")

    def names_this(self, argv: list[str]) -> bool:
        """Does a command line name this run dir (the directory itself or a path in it)?
        How `labkit clean` recognises the lab's processes when state.json is gone."""
        root = self.path.rstrip("/") or "/"
        return any(a == root or a.startswith(root + "/") for a in argv)

    def make(self) -> None:
        """Create the directory and its logs/ (for `up`). A new lab starts from an empty
        cluster: objects a lab before it left in etcd/ are removed (only an API server
        restarted within the same lab reads them back)."""
        os.makedirs(self.logs, exist_ok=True)
        shutil.rmtree(self.etcd, ignore_errors=True)

    # --- the network's record ---------------------------------------------------------------
    def network(self) -> dict:
        """network.json: each Mininet host's shell PID, role and address ({} if none)."""
        try:
            with open(self.network_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def write_network(self, record: dict) -> None:
        tmp = self.network_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, self.network_file)

    # --- the cloud load balancer's view (lab_kit/agents/cloud_lb.py writes it) ----------------
    @property
    def cloud_lb_file(self) -> str:
        return self._join("cloud-lb.json")

    def cloud_lb(self) -> dict:
        """cloud-lb.json: per LB address its nodes and their health ({} if none yet)."""
        try:
            with open(self.cloud_lb_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def write_cloud_lb(self, record: dict) -> None:
        tmp = self.cloud_lb_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, self.cloud_lb_file)

    def hosts(self) -> dict[str, dict]:
        return self.network().get("hosts", {})

    def host_pid(self, name: str) -> int:
        hosts = self.hosts()
        if name not in hosts:
            known = ", ".join(sorted(hosts)) or "none: is the lab up?"
            raise NoSuchHost(f'no host "{name}" in this lab (hosts: {known})')
        return int(hosts[name]["pid"])

    def host_argv(self, host: str, argv: list[str], mount: bool = True) -> list[str]:
        """`argv` run inside a node's or outside host's namespaces (network, and mount so
        that /proc/net and the node's /run are its own)."""
        pid = self.host_pid(host)
        enter = [f"--net=/proc/{pid}/ns/net"] + ([f"--mount=/proc/{pid}/ns/mnt"] if mount else [])
        return ["nsenter", *enter, *argv]
