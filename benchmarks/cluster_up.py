"""Benchmark: how long `labkit up` / `down` take, beside a raw Mininet network.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/cluster_up.py [--runs 3]
        [--default-only] [--busy] [--steps]

Prints wall times (median and p90 over --runs) for
  1. the default topology (3 nodes + 3 outside hosts): up (all Nodes Ready, cluster DNS
     ready) and down; --steps also prints the median time of each step `labkit up`
     reports (each agent ready, the node agents, each addon after its apply);
  2. 10 nodes and a 100-replica Deployment: up, all 100 pods Ready, down;
  3. raw Mininet with the same number of namespaces (nodes + one host per pod, each pod
     host on a veth to its node, routed), built and stopped — the floor we build on.
--busy keeps one core busy during every run (a child process spinning, bounded by the
script's own run and stopped by its PID), as another job on a workshop VM would.
--default-only skips 2. and 3.
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

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


STEP = re.compile(r"^\s+(.+?)\s+ready (?:in )?([\d.]+) s")


def lab_run(topology: str | None, pods: bool, steps: dict | None = None) -> dict:
    out = io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stdout(out):
        lab = Lab.up(topology, quiet=False)
    up = time.monotonic() - t0
    for line in out.getvalue().splitlines():  # "  apiserver   ready in 0.41 s (pid ..)"
        m = STEP.match(line)
        if m and steps is not None:
            steps[m.group(1).strip()].append(float(m.group(2)))
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


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(values)
    return ordered[max(1, -(-len(ordered) * 90 // 100)) - 1]


def report(name: str, runs: list[dict]) -> None:
    keys = list(runs[0])
    cells = [
        f"{k} {statistics.median(r[k] for r in runs):.2f} s (p90 {p90([r[k] for r in runs]):.2f})"
        for k in keys
    ]
    print(f"{name:<44} " + ", ".join(cells) + f"  (median of {len(runs)})", flush=True)


@contextlib.contextmanager
def busy_core(on: bool):
    """One core kept busy by a child that spins for at most an hour; stopped by its PID."""
    if not on:
        yield
        return
    spin = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        yield
    finally:
        child.kill()
        child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--default-only", action="store_true", help="only the default topology")
    parser.add_argument("--busy", action="store_true", help="keep one core busy meanwhile")
    parser.add_argument("--steps", action="store_true", help="median time of each step of up")
    args = parser.parse_args()
    os.environ.setdefault("LABKIT_RUN_DIR", tempfile.mkdtemp(prefix="lk-bench-", dir="/tmp"))
    busy = " with one core kept busy" if args.busy else ""
    print(f"lab_kit cluster benchmark on {os.cpu_count()} cores{busy}", flush=True)
    steps: dict[str, list[float]] = defaultdict(list)
    with busy_core(args.busy):
        runs = [lab_run(None, False, steps) for _ in range(args.runs)]
    report("default topology (3 nodes, 3 outside hosts)", runs)
    if args.steps:
        for step, values in steps.items():
            print(f"  {step:<42} {statistics.median(values):.2f} s (p90 {p90(values):.2f})")
    if args.default_only:
        return
    ten = ten_node_topology()
    try:
        report("10 nodes + 100 pods", [lab_run(ten, True) for _ in range(args.runs)])
    finally:
        os.unlink(ten)
    report("raw Mininet, 3 nodes + 3 hosts", [raw_mininet(3, 1) for _ in range(args.runs)])
    report("raw Mininet, 10 nodes + 100 hosts", [raw_mininet(10, 10) for _ in range(args.runs)])


if __name__ == "__main__":
    main()
