"""Pods are isolated the way a container runtime isolates them (root): a root filesystem,
a PID namespace and a capability set of their own; nothing of the machine, the lab's
checkout, run directory or API reachable; everything a pod started ends with it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import lab_kit
from lab_kit.adapters.rundir import RunDir
from lab_kit.node.containers import ALL_CAPABILITIES, DEFAULT_CAPABILITIES

pytestmark = pytest.mark.root
CHECKOUT = Path(lab_kit.__file__).resolve().parents[1]


def sleeper(name, ns, **spec):
    container = {"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"nodeName": "node1", "terminationGracePeriodSeconds": 1,
                 "containers": [container], **spec},
    }  # fmt: skip


def sh(cluster, pod, ns, script, container=None):
    return cluster.exec(pod, "sh", "-c", script, namespace=ns, container=container)


def capabilities(status: str) -> set[str]:
    """The names in a /proc/<pid>/status's bounding set."""
    line = next(x for x in status.splitlines() if x.startswith("CapBnd:"))
    mask = int(line.split()[1], 16)
    return {name for i, name in enumerate(ALL_CAPABILITIES) if mask >> i & 1}


def bounding_set(cluster, pod, ns) -> set[str]:
    return capabilities(sh(cluster, pod, ns, "cat /proc/self/status").stdout)


def test_a_pod_sees_its_own_root_not_the_machines_secrets_lab_or_api(cluster, ns):
    cluster.apply(sleeper("box", ns), wait=True, timeout_s=30)
    run_dir = RunDir().path
    assert sh(cluster, "box", ns, "ls -A /root").stdout == ""
    assert sh(cluster, "box", ns, f"ls -A {CHECKOUT}").stdout.split() == ["lab_kit"]
    assert sh(cluster, "box", ns, f"ls -A {CHECKOUT}/lab_kit").stdout.split() == ["workloads"]
    assert sh(cluster, "box", ns, "wc -c < /etc/shadow").stdout.strip() == "0"
    assert sh(cluster, "box", ns, f"test -e {run_dir}").returncode == 1  # nor the API socket
    assert "apiserver.sock" not in sh(cluster, "box", ns, "ls -R /run /tmp").stdout
    # writes go to the pod's own layer, never to the machine
    probe = "/etc/lab-kit-isolation-probe"
    assert sh(cluster, "box", ns, f"echo pod > {probe} && cat {probe}").stdout == "pod\n"
    assert not os.path.exists(probe)


def test_one_pods_tmp_is_not_anothers_nor_the_machines(cluster, ns):
    cluster.apply([sleeper("a", ns), sleeper("b", ns)], wait=True, timeout_s=30)
    assert sh(cluster, "a", ns, "touch /tmp/only-in-a").returncode == 0
    assert sh(cluster, "b", ns, "test -e /tmp/only-in-a").returncode == 1
    assert not os.path.exists("/tmp/only-in-a")


def test_a_container_is_pid_1_of_its_own_and_sees_no_host_process(cluster, ns):
    cluster.apply(sleeper("procs", ns), wait=True, timeout_s=30)
    ps = sh(cluster, "procs", ns, "ps -eo pid,args").stdout
    assert ps.splitlines()[1].split(None, 1) == ["1", "sleep infinity"]
    assert "apiserver" not in ps and "kubelet" not in ps
    apiserver = next(p for p in cluster.status()["processes"] if p["name"] == "apiserver")
    assert sh(cluster, "procs", ns, f"kill -0 {apiserver['pid']}").returncode != 0
    # its /proc is its own: PID 1's network namespace is the pod's, not the machine's
    assert sh(cluster, "procs", ns, "readlink /proc/1/ns/net /proc/self/ns/net | uniq | wc -l"
              ).stdout.strip() == "1"  # fmt: skip


def test_what_a_pod_started_ends_with_it(cluster, ns):
    cluster.apply(sleeper("daemons", ns), wait=True, timeout_s=30)
    sh(cluster, "daemons", ns, "setsid sleep 1000 > /dev/null 2>&1 < /dev/null &")
    cluster.exec("daemons", "sh", "-c", "nohup sleep 1001 > /dev/null 2>&1 &", namespace=ns)
    pid = cluster.sandbox("daemons", ns)["containers"]["c"]["pid"]["pid"]
    pid_ns = os.readlink(f"/proc/{pid}/ns/pid")
    members = [p for p in os.listdir("/proc") if p.isdigit() and _pid_ns(p) == pid_ns]
    assert len(members) >= 3  # sleep infinity, and the two it did not start itself
    cluster.delete("pod", "daemons", ns)
    pods, deadline = cluster_kind("pods"), time.monotonic() + 30
    while True:  # until the kubelet has stopped it and deleted the Pod for good
        listing = cluster.client.list(pods, ns)
        if not [p for p in listing["items"] if p["metadata"]["name"] == "daemons"]:
            break
        assert time.monotonic() < deadline, "the pod was never deleted"
        cluster.client.watch_change(pods, 5, rv=int(listing["metadata"]["resourceVersion"]))
    assert [p for p in members if os.path.exists(f"/proc/{p}") and _pid_ns(p) == pid_ns] == []


def _pid_ns(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def cluster_kind(name):
    from lab_kit.lab.objects import resolve_kind

    return resolve_kind(name)


def own_bounding_set() -> set[str]:
    return capabilities(Path("/proc/self/status").read_text())


def test_capabilities_are_containerds_defaults_and_the_pod_can_change_them(cluster, ns):
    admin = sleeper("admin", ns, container={"securityContext": {"capabilities": {
        "add": ["NET_ADMIN"], "drop": ["KILL"]}}})  # fmt: skip
    root = sleeper("root", ns, container={"securityContext": {"privileged": True}})
    cluster.apply([sleeper("plain", ns), admin, root], wait=True, timeout_s=30)
    assert bounding_set(cluster, "plain", ns) == set(DEFAULT_CAPABILITIES)
    assert bounding_set(cluster, "admin", ns) == set(DEFAULT_CAPABILITIES) - {"KILL"} | {
        "NET_ADMIN"
    }
    assert bounding_set(cluster, "root", ns) == own_bounding_set()  # all root has here
    assert sh(cluster, "plain", ns, "mount -t tmpfs x /mnt").returncode != 0  # no SYS_ADMIN
    assert sh(cluster, "plain", ns, "ip link set lo mtu 65000").returncode != 0
    assert sh(cluster, "admin", ns, "ip link set lo mtu 65000").returncode == 0
    # the machine's kernel settings and magic keys are read-only
    assert "Read-only" in sh(cluster, "plain", ns, "echo 1 > /proc/sys/vm/drop_caches").stderr
    assert sh(cluster, "plain", ns, "echo h > /proc/sysrq-trigger").returncode != 0


def test_share_process_namespace_puts_the_pause_process_first(cluster, ns):
    pod = sleeper("shared", ns, shareProcessNamespace=True)
    pod["spec"]["containers"].append({"name": "side", "image": "busybox",
                                      "command": ["sleep", "12345"]})  # fmt: skip
    cluster.apply(pod, wait=True, timeout_s=30)
    ps = sh(cluster, "shared", ns, "ps -eo pid,args").stdout
    first = ps.splitlines()[1].split(None, 1)
    assert first[0] == "1" and "catatonit" in first[1]
    assert "sleep 12345" in ps and "sleep infinity" in ps
    # ... while each container keeps its own root
    assert sh(cluster, "shared", ns, "touch /only-in-c").returncode == 0
    assert sh(cluster, "shared", ns, "test -e /only-in-c", container="side").returncode == 1


def status_field(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/status") as f:
        return next(line.split(":", 1)[1].strip() for line in f if line.startswith(name + ":"))


def parent_of(pid: int) -> int:
    return int(status_field(pid, "PPid"))


def test_a_built_in_image_is_forked_and_is_what_exec_would_make(cluster, ns):
    """agnhost (a built-in program) comes from the lab's zygote, not a fresh interpreter:
    forked by a launcher the zygote forked, yet PID 1 of its own PID namespace in the
    pod's network, UTS and IPC namespaces, in a root of its own, with the capability sets
    exec would have left it, its command line in `ps`, and its exit code reported."""
    pod = sleeper("forked", ns, container={
        "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
        "args": ["netexec", "--http-port=8080"],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}})  # fmt: skip
    del pod["spec"]["containers"][0]["command"]  # the image's own program
    cluster.apply(pod, wait=True, timeout_s=30)
    record = cluster.sandbox("forked", ns)
    pid, pause = record["containers"]["c"]["pid"]["pid"], record["pause"]["pid"]
    zygote = next(p["pid"] for p in cluster.status()["processes"] if p["name"] == "zygote")
    assert parent_of(parent_of(pid)) == zygote
    assert status_field(pid, "NSpid").split()[-1] == "1"
    for kind in ("net", "uts", "ipc"):
        assert os.readlink(f"/proc/{pid}/ns/{kind}") == os.readlink(f"/proc/{pause}/ns/{kind}")
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink(f"/proc/{pause}/ns/mnt")
    bounding = status_field(pid, "CapBnd")
    assert status_field(pid, "CapEff") == status_field(pid, "CapPrm") == bounding
    assert int(status_field(pid, "CapInh"), 16) == 0
    assert capabilities(f"CapBnd:\t{bounding}") == set(DEFAULT_CAPABILITIES)
    ps = sh(cluster, "forked", ns, "ps -eo pid,args").stdout.splitlines()
    pid_1, args = ps[1].split(None, 1)
    assert pid_1 == "1" and args.endswith("/agnhost.py netexec --http-port=8080"), ps
    assert sh(cluster, "forked", ns, f"test -e {CHECKOUT}/pyproject.toml").returncode == 1
    os.kill(pid, signal.SIGKILL)

    def last_exit_code():
        statuses = cluster.get("pod", "forked", ns)["status"].get("containerStatuses") or [{}]
        return ((statuses[0].get("lastState") or {}).get("terminated") or {}).get("exitCode")

    deadline = time.monotonic() + 30
    while last_exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert last_exit_code() == 137  # 128 + SIGKILL, as the runtime reports it
