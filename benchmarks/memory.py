"""Benchmark: the memory a whole lab takes, per process kind, beside raw Mininet.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/memory.py [--markdown] [--ten]

Memory is proportional set size (PSS, `/proc/<pid>/smaps_rollup`): each page shared by n
processes counts 1/n in each, so the figures add up to what the lab really costs the
machine (RSS would count the shared Python interpreter and libraries once per process).
Measured for
  1. the default lab (3 nodes, outside hosts, default addons) with the book's Deployment
     (`labs/manifests/book/deployment.yml`, 4 pods) rolled out;
  2. with --ten: 10 nodes and a 100-replica Deployment (`benchmarks/cluster_up.py`'s);
  3. raw Mininet with the same namespaces (a child process holding the network, and its
     host shells) — the floor any Mininet lab pays.
The lab's processes are the ones `labkit up` recorded and all their descendants (pods are
the kubelets' children, Mininet's host shells the network agent's); each is counted under
one kind: the agent's name without its node, a pod's container by its command, Mininet's
shells, the sandboxes' pause processes. The lab is taken down before the script exits.
Results go in docs/performance.md by hand; no test asserts on figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from cluster_up import DEPLOYMENT, ten_node_topology  # noqa: E402

from lab_kit import Lab  # noqa: E402
from lab_kit.adapters.records import argv_of  # noqa: E402

BOOK = os.path.join(os.path.dirname(__file__), "..", "labs", "manifests", "book", "deployment.yml")


# --- reading /proc -------------------------------------------------------------------------------
def pss_kib(pid: int) -> int:
    """The process's PSS in KiB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def children() -> dict[int, list[int]]:
    """ppid -> its children, for every process on the machine."""
    out: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces
        out[ppid].append(int(entry))
    return out


def tree(roots: list[int]) -> list[int]:
    kids, seen, todo = children(), set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo += kids.get(pid, [])
    return sorted(seen)


# --- naming what runs ---------------------------------------------------------------------------
def kind_of(argv: list[str], recorded: str = "") -> str:
    """One label per kind of process, e.g. "kubelet", "pod: coredns", "Mininet host shell"."""
    if recorded:
        return recorded.partition("/")[0]  # "kube-proxy/node2" -> "kube-proxy"
    if not argv:
        return "(gone)"
    base = os.path.basename(argv[0])
    if base in ("bash", "sh") and "--norc" in argv:
        return "Mininet host shell"
    if not base.startswith("python"):  # unshare, nsenter, catatonit: the sandboxes' helpers
        return f"pod: {base}" if base != "mnexec" else "Mininet mnexec"
    if "-m" in argv:  # python -m lab_kit.agents coredns | lab_kit.workloads ...
        i = argv.index("-m")
        rest = [a for a in argv[i + 1 : i + 3] if not a.startswith("-")]
        return "pod: " + " ".join(rest).replace("lab_kit.", "")
    script = next((a for a in argv[1:] if a.endswith(".py")), base)
    return f"pod: {os.path.basename(script)}"


def measure(roots: dict[int, str]) -> dict[str, list[int]]:
    """kind -> the PSS (KiB) of each of its processes, over `roots` and their descendants."""
    kinds: dict[str, list[int]] = defaultdict(list)
    for pid in tree(list(roots)):
        kib = pss_kib(pid)
        if kib:
            kinds[kind_of(argv_of(pid), roots.get(pid, ""))].append(kib)
    return dict(kinds)


def lab_memory(topology: str | None, manifest: str) -> dict[str, list[int]]:
    lab = Lab.up(topology)
    try:
        lab.apply(manifest, wait=True, timeout_s=300)
        lab.wait(timeout_s=60)
        recorded = {p["pid"]: p["name"] for p in lab.status()["processes"] if p["alive"]}
        return measure(recorded)
    finally:
        lab.down()


RAW_CHILD = """
import sys
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
setLogLevel("error")
nodes, hosts = int(sys.argv[1]), int(sys.argv[2])
net = Mininet(switch=LinuxBridge, controller=None, build=False, autoSetMacs=False)
s1 = net.addSwitch("lk-s1")
for i in range(1, nodes + 1):
    net.addLink(net.addHost(f"node{i}", ip=f"172.18.0.{i + 1}/16"), s1)
for j in range(hosts):
    net.addLink(net.addHost(f"h{j}", ip=f"10.250.0.{j + 2}/16"), s1)
net.build()
net.start()
print("ready", flush=True)
sys.stdin.readline()
net.stop()
"""


def raw_mininet_memory(nodes: int, hosts: int) -> dict[str, list[int]]:
    """Mininet alone, same namespaces: a Python process holding the network, one shell each."""
    child = subprocess.Popen([sys.executable, "-c", RAW_CHILD, str(nodes), str(hosts)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("raw Mininet did not come up")
        kinds = measure({child.pid: "Mininet (Python, holding the network)"})
        return kinds
    finally:
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=60)


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def report(title: str, kinds: dict[str, list[int]], markdown: bool) -> float:
    total = sum(sum(v) for v in kinds.values())
    count = sum(len(v) for v in kinds.values())
    print(f"\n{title}: {mib(total)} MiB PSS in {count} processes")
    rows = sorted(kinds.items(), key=lambda kv: -sum(kv[1]))
    if markdown:
        print(
            "\n| process kind | processes | PSS each (MiB) | PSS total (MiB) |\n| --- | --- | --- | --- |"
        )
        for kind, values in rows:
            each = f"{mib(min(values))}-{mib(max(values))}" if len(values) > 1 else mib(values[0])
            print(f"| {kind} | {len(values)} | {each} | {mib(sum(values))} |")
        print(f"| **total** | {count} | | **{mib(total)}** |")
    else:
        for kind, values in rows:
            print(f"  {kind:<40} {len(values):>3} x {mib(sum(values) / len(values)):>6} MiB"
                  f" = {mib(sum(values)):>7} MiB")  # fmt: skip
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--ten", action="store_true", help="also 10 nodes + 100 pods")
    args = parser.parse_args()
    print(f"lab_kit memory benchmark on {os.cpu_count()} cores", flush=True)
    with open(BOOK) as f:
        book = f.read()
    report("default lab + the book's Deployment (4 pods)", lab_memory(None, book), args.markdown)
    report("raw Mininet, 3 nodes + 4 hosts", raw_mininet_memory(3, 4), args.markdown)
    if args.ten:
        ten = ten_node_topology()
        try:
            report("10 nodes + 100 pods", lab_memory(ten, DEPLOYMENT), args.markdown)
        finally:
            os.unlink(ten)
        report("raw Mininet, 10 nodes + 100 hosts", raw_mininet_memory(10, 100), args.markdown)


if __name__ == "__main__":
    main()
