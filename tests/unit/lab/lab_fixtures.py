"""Objects and run-dir records for the lab facade's tests: pods seeded in the real Registry
(scheduled, with a status), and the files the network agent and the kubelet write."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.rundir import RunDir
from lab_kit.model import meta

TRACE_FIXTURES = Path(__file__).resolve().parents[1] / "trace" / "fixtures"


def make_run_dir(tmp_path: Path, monkeypatch) -> RunDir:
    rd = RunDir(str(tmp_path / "run"))
    rd.make()
    monkeypatch.setenv("LABKIT_RUN_DIR", rd.path)
    return rd


def write_hosts(rd: RunDir, hosts: dict[str, dict]) -> None:
    """network.json as the network agent writes it (host -> pid, role, ip)."""
    rd.write_network({"hosts": hosts})


def pod(name: str, namespace: str = "default", containers: tuple[str, ...] = ("main",),
        labels: dict | None = None) -> dict:  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
    }


def seed_pod(api: InProcessApi, obj: dict, node: str | None = "node1",
             status: dict | None = None) -> dict:  # fmt: skip
    """Create the pod in the Registry, bind it to `node`, and set its status."""
    created = api.registry.create(obj)
    if node is None:
        return created
    bound = api.registry.bind(meta.namespace(obj), meta.name(obj), node)
    if status is None:
        return bound
    return api.registry.update({**bound, "status": status}, subresource="status")


def ready_status(ip: str = "10.244.1.5") -> dict:
    return {
        "phase": "Running",
        "podIP": ip,
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "main", "ready": True, "state": {"running": {}}}],
    }


def write_sandbox(rd: RunDir, obj: dict, pause_pid: int = 4242,
                  logs: dict[str, list[str]] | None = None) -> dict:  # fmt: skip
    """sandbox.json as the kubelet's pod worker writes it, and each container's log files
    (`logs`: container -> the text of run 0, 1, ...)."""
    directory = rd.pod_dir(meta.namespace(obj), meta.name(obj), meta.uid(obj))
    containers = {}
    for c in meta.spec(obj)["containers"]:
        runs = (logs or {}).get(c["name"], [])
        os.makedirs(os.path.join(directory, c["name"]), exist_ok=True)
        for i, text in enumerate(runs):
            Path(directory, c["name"], f"{i}.log").write_text(text)
        containers[c["name"]] = {
            "pid": {"pid": pause_pid + 1 + len(containers), "start_ticks": 1},
            "env": {"PATH": "/usr/bin:/bin", "POD": meta.name(obj)},
            "capabilities": ["CHOWN", "KILL"],
            "log": os.path.join(directory, c["name"], f"{max(len(runs) - 1, 0)}.log"),
        }
    state = {
        "uid": meta.uid(obj),
        "name": meta.name(obj),
        "namespace": meta.namespace(obj),
        "pause": {"pid": pause_pid, "start_ticks": 1},
        "containers": containers,
    }
    Path(directory, "sandbox.json").write_text(json.dumps(state))
    return state


class Steps:
    """A monotonic clock that moves `step_s` every time it is read: a wait's deadline
    arrives after a bounded number of rounds, with no sleeping."""

    def __init__(self, step_s: float = 1.0):
        self.now, self.step_s, self.reads = 0.0, step_s, 0

    def __call__(self) -> float:
        self.now += self.step_s
        self.reads += 1
        return self.now


class FakePods:
    """Stands in for entering a container (`access.exec_argv` builds an nsenter command,
    which needs root): the command runs here instead, with the container's environment, or
    prints the canned output given for its program (`outputs`: argv[0] -> stdout).
    `calls`: (container pid, argv, capabilities)."""

    def __init__(self, outputs: dict[str, str] | None = None):
        self.outputs = outputs or {}
        self.calls: list[tuple[int, list[str], list[str]]] = []

    def exec_argv(self, pid: int, capabilities: list[str], argv: list[str]) -> list[str]:
        self.calls.append((pid, argv, capabilities))
        if argv[0] in self.outputs:
            return ["printf", "%s", self.outputs[argv[0]]]
        return argv

    def command_exists(self, argv0: str, env: dict[str, str]) -> bool:
        import shutil

        return argv0 in self.outputs or shutil.which(argv0, path=env.get("PATH")) is not None

    def install(self, monkeypatch) -> FakePods:
        """Put it in place of `access.exec_argv` and `access.command_exists`."""
        from lab_kit.lab import access

        monkeypatch.setattr(access, "exec_argv", self.exec_argv)
        monkeypatch.setattr(access, "command_exists", self.command_exists)
        return self


def ready_slice(service: str, namespace: str, ip: str = "10.244.1.2") -> dict:
    """An EndpointSlice with one ready endpoint for `service`, as the controller writes it
    once a kubelet says the pod is Ready (what an addon's readiness waits for)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-x", "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
    }  # fmt: skip
