"""Benchmark: how long `labkit up` / `down` take, beside a raw Mininet network.

    sudo .venv/bin/python benchmarks/cluster_up.py [--runs 3]

Prints wall times for
  1. the default topology (3 nodes + 3 outside hosts): up (all Nodes Ready) and down;
  2. 10 nodes and a 100-replica Deployment: up, all 100 pods Ready, down;
  3. raw Mininet with the same number of namespaces (nodes + one host per pod, each pod
     host on a veth to its node, routed), built and stopped — the floor we build on.
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lab_kit import Lab  # noqa: E402


def ten_node_topology() -> str:
    lines = ['name = "bench10"']
    for i in range(1, 11):
        lines += [
            "[[nodes]]",
            f'name = "node{i}"',
            f'ip = "172.18.0.{i + 1}"',
            f'pod_cidr = "10.244.{i}.0/24"',
        ]
    lines += ["[[hosts]]", 'name = "client"', 'ip = "192.0.2.10"', 'role = "client"']
    fd, path = tempfile.mkstemp(suffix=".toml")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench}
spec:
  replicas: 100
  selector: {matchLabels: {app: bench}}
  template:
    metadata: {labels: {app: bench}}
    spec:
      containers:
      - {name: pause, image: registry.k8s.io/pause:3.10}
"""


def lab_run(topology: str | None, pods: bool) -> dict:
    t0 = time.monotonic()
    lab = Lab.up(topology)
    up = time.monotonic() - t0
    result = {"up": up}
    if pods:
        t1 = time.monotonic()
        lab.apply(DEPLOYMENT, wait=True, timeout_s=300)
        result["100 pods ready"] = time.monotonic() - t1
    t2 = time.monotonic()
    lab.down()
    result["down"] = time.monotonic() - t2
    return result


def raw_mininet(nodes: int, pods_per_node: int) -> dict:
    from mininet.log import setLogLevel
    from mininet.net import Mininet
    from mininet.nodelib import LinuxBridge

    setLogLevel("error")
    t0 = time.monotonic()
    net = Mininet(switch=LinuxBridge, controller=None, build=False, autoSetMacs=False)
    s1 = net.addSwitch("lk-s1")
    for i in range(1, nodes + 1):
        n = net.addHost(f"node{i}", ip=f"172.18.0.{i + 1}/16")
        net.addLink(n, s1)
        for j in range(pods_per_node):
            p = net.addHost(f"p{i}x{j}", ip=f"10.244.{i}.{j + 2}/24")
            net.addLink(p, n)
    net.build()
    net.start()
    up = time.monotonic() - t0
    t1 = time.monotonic()
    net.stop()
    return {"up": up, "down": time.monotonic() - t1}


def report(name: str, runs: list[dict]) -> None:
    keys = list(runs[0])
    cells = [f"{k} {statistics.median(r[k] for r in runs):.2f} s" for k in keys]
    print(f"{name:<44} " + ", ".join(cells) + f"  (median of {len(runs)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("LABKIT_RUN_DIR", tempfile.mkdtemp(prefix="lk-bench-", dir="/tmp"))
    print(f"lab_kit cluster benchmark on {os.cpu_count()} cores")
    report(
        "default topology (3 nodes, 3 outside hosts)",
        [lab_run(None, False) for _ in range(args.runs)],
    )
    ten = ten_node_topology()
    try:
        report("10 nodes + 100 pods", [lab_run(ten, True) for _ in range(args.runs)])
    finally:
        os.unlink(ten)
    report("raw Mininet, 3 nodes + 3 hosts", [raw_mininet(3, 1) for _ in range(args.runs)])
    report("raw Mininet, 10 nodes + 100 hosts", [raw_mininet(10, 10) for _ in range(args.runs)])


if __name__ == "__main__":
    main()
