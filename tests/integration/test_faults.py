"""The lab survives faults as a cluster does (root): a 60 s freeze of the API server, and a
kill -9 of each agent kind, one at a time. After each, nothing more is done by hand: the
lab must converge again on its own — a new Deployment's pods Ready, its Service's rules on
every node, its name answered by cluster DNS and its pods answering through the ClusterIP
— and `labkit status` must have told the truth meanwhile. Every wait is on a condition,
with a deadline; the only sleep is the freeze itself. One lab serves the module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lab_kit.adapters.processes import ProcessRecord, is_alive
from lab_kit.adapters.rundir import RunDir
from lab_kit.lab import lifecycle

pytestmark = pytest.mark.root
NODES = ("node1", "node2", "node3")
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
FREEZE_S = 60


def until(what, predicate, timeout_s=60.0, every_s=0.1):
    """Poll `predicate` (iptables on the nodes and process tables have no watch)."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every_s)
    return value


def recorded(name: str) -> ProcessRecord:
    """The process the lab runs under `name` now (state.json: restarts replace records)."""
    with open(RunDir().state_file) as f:
        for p in json.load(f)["processes"]:
            if p["name"] == name:
                return ProcessRecord.from_dict(p)
    raise AssertionError(f"no {name} in state.json")


def labkit_status() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab_kit.cli.main", "status"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def web(name: str, ns: str) -> list[dict]:
    labels = {"app": name}
    container = {"name": "web", "image": AGNHOST, "args": ["netexec", "--http-port=8080"],
                 "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}  # fmt: skip
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
         "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def toolbox_ns(cluster):
    ns = "faults"
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "toolbox", "namespace": ns},
                   "spec": {"containers": [{"name": "t", "image": "busybox",
                                            "command": ["sleep", "infinity"]}]}}, wait=True)  # fmt: skip
    return ns


def converges(lab, ns: str, name: str) -> None:
    """Something new, end to end: pods Ready, rules on every node, a DNS answer, served."""
    lab.apply(web(name, ns))
    lab.wait_ready(timeout_s=90, namespace=ns)
    ip = lab.get("service", name, namespace=ns)["spec"]["clusterIP"]
    for node in NODES:
        until(f"{name}'s rules on {node}", lambda n=node: lab.iptables(n, "nat", grep=ip).strip())
    fqdn = f"{name}.{ns}.svc.cluster.local"
    dig = ["dig", "+short", "+time=1", "+tries=1", fqdn]
    until(
        f"a DNS answer for {fqdn}",
        lambda: lab.exec("toolbox", *dig, namespace=ns).stdout.split() == [ip],
    )
    until(f"{name} answering at {ip}", lambda: lab.requests("toolbox", f"http://{ip}/hostname", 3,
                                                              namespace=ns, timeout_s=1)[0] != "ERR")  # fmt: skip


def restarted(name: str, restarts: int) -> ProcessRecord:
    """Wait for the supervisor to have started `name` again; its new record."""

    def done():
        info = next(p for p in lifecycle.status()["processes"] if p["name"] == name)
        return info["alive"] and info["restarts"] >= restarts

    until(f"{name} restarted", done, timeout_s=30)
    return recorded(name)


def test_a_60s_freeze_of_the_api_server_kills_nothing_and_the_lab_converges(cluster, toolbox_ns):
    api = recorded("apiserver")
    before = {p["name"]: p["pid"] for p in lifecycle.status()["processes"]}
    os.kill(api.pid, signal.SIGSTOP)  # the lab's own API server, by its recorded PID
    try:
        status = labkit_status()
        assert status.returncode == 1
        assert f"the API server is not answering (apiserver pid {api.pid} is alive" in status.stdout
        got = subprocess.run([sys.executable, "-m", "lab_kit.cli.main", "get", "pods"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert got.returncode == 1 and "frozen?" in got.stderr
        time.sleep(FREEZE_S)  # the fault itself: every watch silent, every call hanging
    finally:
        os.kill(api.pid, signal.SIGCONT)
    after = lifecycle.status()["processes"]
    assert all(p["alive"] for p in after), [p["name"] for p in after if not p["alive"]]
    assert {p["name"]: p["pid"] for p in after} == before  # none died, none was restarted
    converges(cluster, toolbox_ns, "after-freeze")
    assert labkit_status().returncode == 0


@pytest.mark.parametrize(
    "name", ["controller-manager", "kube-proxy/node2", "kubelet/node1", "world-dns/internet"]
)
def test_a_killed_agent_is_restarted_and_the_lab_converges(cluster, toolbox_ns, name):
    victim = recorded(name)
    os.kill(victim.pid, signal.SIGKILL)
    until(f"{name} seen dead", lambda: not is_alive(victim), timeout_s=5)
    new = restarted(name, 1)
    assert new.pid != victim.pid and new.argv == victim.argv
    tag = name.replace("/", "-")
    converges(cluster, toolbox_ns, f"after-{tag}")
    if name.startswith("world-dns"):
        dig = ["dig", "+short", "+time=1", "+tries=1", "example.com"]
        until("a world name", lambda: cluster.exec("toolbox", *dig, namespace=toolbox_ns).stdout.split()
              == ["203.0.113.10"])  # fmt: skip
    status = labkit_status()
    assert status.returncode == 0, status.stdout
    line = next(row for row in status.stdout.splitlines() if row.startswith(name + " "))
    assert line.split()[1:4] == [str(new.pid), "Running", "1"], line


def test_a_killed_cluster_dns_container_is_restarted_by_its_kubelet(cluster, toolbox_ns):
    pods = cluster.get("pods", namespace="kube-system", selector="k8s-app=kube-dns")
    name = pods[0]["metadata"]["name"]
    pid = cluster.sandbox(name, "kube-system")["containers"]["coredns"]["pid"]["pid"]
    os.kill(pid, signal.SIGKILL)

    def restarted_container():
        pod = cluster.get("pod", name, namespace="kube-system")
        return pod["status"]["containerStatuses"][0]["restartCount"] >= 1

    until("the coredns container restarted", restarted_container)
    converges(cluster, toolbox_ns, "after-coredns")


def test_a_killed_api_server_is_named_then_restarted_with_every_object(cluster, toolbox_ns):
    """Held dead for a moment (its supervisor paused) so that what commands say can be read;
    then restarted by the supervisor, it has every object back (same names, same UIDs)."""
    supervisor, api = recorded("supervisor"), recorded("apiserver")
    pods = {(p["metadata"]["name"], p["metadata"]["uid"])
            for p in cluster.get("pods", namespace=toolbox_ns)}  # fmt: skip
    os.kill(supervisor.pid, signal.SIGSTOP)
    try:
        os.kill(api.pid, signal.SIGKILL)
        until("the API server gone", lambda: not is_alive(api), timeout_s=5)
        status = labkit_status()
        assert status.returncode == 1
        assert "apiserver is not running: nothing can be read or changed" in status.stdout
        got = subprocess.run([sys.executable, "-m", "lab_kit.cli.main", "get", "pods"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert got.returncode == 1
        assert got.stderr.startswith(f"error: the API server is not running (pid {api.pid} exited)")
        others = [p for p in lifecycle.status()["processes"] if p["name"] != "apiserver"]
        assert all(p["alive"] for p in others)  # every agent waits for it, none exits
    finally:
        os.kill(supervisor.pid, signal.SIGCONT)
    new = restarted("apiserver", 1)
    assert new.pid != api.pid and new.argv == api.argv
    until("the API server answering", lambda: labkit_status().returncode == 0, timeout_s=30)
    again = {(p["metadata"]["name"], p["metadata"]["uid"])
             for p in cluster.get("pods", namespace=toolbox_ns)}  # fmt: skip
    assert again == pods  # read back from the run dir's etcd/, not made anew
    converges(cluster, toolbox_ns, "after-apiserver")
    # the agents report to the new API server what they applied: `apply --wait` works again
    cluster.apply(web("waited-for", toolbox_ns), wait=True, timeout_s=90)
    assert cluster.get(
        "endpointslices", namespace=toolbox_ns, selector="kubernetes.io/service-name=waited-for"
    )
    status = labkit_status()
    assert status.returncode == 0, status.stdout
