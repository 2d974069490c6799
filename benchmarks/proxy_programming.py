"""Benchmark: network programming latency — a Service or endpoint change until its rules
are live on every node — with 10, 100 and 1,000 Services in the cluster.

    sudo .venv/bin/python benchmarks/proxy_programming.py [--services 10,100,1000]
        [--changes 50] [--budget-s 40] [--markdown]

Brings up the default lab (3 nodes), then for each size N:
  1. creates background Services up to N in ONE `lab.apply` (selector-less Services with
     hand-made EndpointSlices, 2-4 endpoints each: kube-proxy programs them exactly as it
     programs a Deployment's, and no pods are needed) and waits for the lab (`lab.wait()`);
  2. makes up to --changes changes one at a time (fewer once --budget-s is spent),
     alternately a NEW Service + EndpointSlice and an EndpointSlice of a background Service
     whose endpoint is replaced; latency = from the start of `lab.apply` until the API
     server's converged endpoint (`lab.wait()`) answers that every agent, so every node's
     kube-proxy, has applied the new resourceVersion. That includes the HTTP round trips
     and the other agents; kube-proxy reports the version its sync *started* from, so the
     rules are in the kernel at that moment;
  3. checks for the first and last change that the rule really is in `iptables-save` on
     all three nodes (the ClusterIP, or the new endpoint's DNAT);
  4. reads kube-proxy's own sync histogram (`kubeproxy_sync_proxy_rules_duration_seconds`,
     sum/count over the phase, per node) and the agents' last `syncSeconds`;
  5. deletes the probe Services, so the next size starts from exactly its background.
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lab_kit import Lab  # noqa: E402

NODES = ("node1", "node2", "node3")
LABEL = "lkbench"  # lkbench=background | probe
SYNC = "kubeproxy_sync_proxy_rules_duration_seconds"


def service(name: str, ip: str, role: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {LABEL: role}},
        "spec": {
            "clusterIP": ip,  # explicit, so the rule can be found without asking
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
        },  # no selector: the EndpointSlice below is the Service's only endpoints
    }


def endpoint_slice(name: str, role: str, ips: list[str]) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-bench",
            "labels": {
                LABEL: role,
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": "benchmark.lab-kit",  # user-made
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": True},
                "nodeName": f"node{int(ip.split('.')[2])}",
            }
            for ip in ips
        ],
    }


def background(i: int, generation: int = 0) -> list[dict]:
    """Background Service i: 2-4 endpoints; `generation` replaces the first endpoint."""
    name = f"bg-{i}"
    ips = [f"10.244.{1 + j % 3}.{(i * 4 + j) % 200 + 2}" for j in range(2 + i % 3)]
    if generation:
        ips[0] = f"10.244.{1 + (i + generation) % 3}.{220 + generation % 30}"
    ip = f"10.100.{i // 250}.{i % 250 + 1}"
    return [service(name, ip, "background"), endpoint_slice(name, "background", ips)]


def probe(n: int, j: int) -> tuple[list[dict], str]:
    name = f"probe-{n}-{j}"
    ip = f"10.104.{j // 250}.{j % 250 + 1}"
    rule = f"-d {ip}/32"  # as iptables-save prints the ClusterIP match
    return [service(name, ip, "probe"), endpoint_slice(name, "probe", ["10.244.2.250"])], rule


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of fewer than 100 samples is the maximum)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def sync_totals(lab: Lab) -> dict[str, tuple[float, float]]:
    out = {}
    for node in NODES:
        m = lab.proxy_metrics(node)
        out[node] = (m.get(f"{SYNC}_sum", 0.0), m.get(f"{SYNC}_count", 0.0))
    return out


def rule_live(lab: Lab, needle: str) -> bool:
    return all(lab.iptables(node, "nat", grep=needle).strip() for node in NODES)


def phase(lab: Lab, n: int, have: int, changes: int, budget_s: float) -> dict:
    # 1. Background Services up to n, in one batch.
    batch = [obj for i in range(have, n) for obj in background(i)]
    t0 = time.monotonic()
    if batch:
        lab.apply(batch, timeout_s=120)
    lab.wait(timeout_s=120)
    bulk = time.monotonic() - t0
    before = sync_totals(lab)

    # 2. One change at a time.
    latencies: dict[str, list[float]] = {"new Service": [], "endpoint change": []}
    checked = []
    deadline = time.monotonic() + budget_s
    for j in range(changes):
        if j and time.monotonic() > deadline:
            break
        if j % 2 == 0:
            objs, needle = probe(n, j)
            kind = "new Service"
        else:
            i = (j * 7919) % n  # spread over the background Services
            objs = background(i, generation=j)[1:]  # only the EndpointSlice changes
            needle = f"--to-destination {objs[0]['endpoints'][0]['addresses'][0]}:8080"
            kind = "endpoint change"
        start = time.monotonic()
        lab.apply(objs)
        lab.wait(timeout_s=60)
        latencies[kind].append(time.monotonic() - start)
        # 3. The rule really is in the kernel on every node (first and last change).
        if j in (0, 1, changes - 1) or time.monotonic() > deadline:
            checked.append(rule_live(lab, needle))
    after = sync_totals(lab)
    agents = {
        a["name"]: a
        for a in lab.status().get("agents", {}).get("items", [])
        if a["name"].startswith("kube-proxy/")
    }

    # 5. Remove the probes: the next size starts from its background only.
    lab.delete("services", selector=f"{LABEL}=probe")
    lab.delete("endpointslices", selector=f"{LABEL}=probe")
    lab.wait(timeout_s=120)

    every = latencies["new Service"] + latencies["endpoint change"]
    syncs = {
        node: (after[node][0] - before[node][0]) / max(1.0, after[node][1] - before[node][1])
        for node in NODES
    }
    return {
        "services": n,
        "bulk": bulk,
        "changes": len(every),
        "p50": percentile(every, 50),
        "p99": percentile(every, 99),
        "max": max(every),
        "p50 new": statistics.median(latencies["new Service"]),
        "p50 endpoints": statistics.median(latencies["endpoint change"] or [float("nan")]),
        "mean sync": statistics.mean(syncs.values()),
        "syncs": {k: after[k][1] - before[k][1] for k in NODES},
        "syncSeconds": {k.split("/")[1]: a.get("syncSeconds") for k, a in agents.items()},
        "nat rules": {k.split("/")[1]: a.get("natRules") for k, a in agents.items()},
        "checked": checked,
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", default="10,100,1000",
                        type=lambda s: sorted(int(x) for x in s.split(",")))  # fmt: skip
    parser.add_argument("--changes", type=int, default=50, help="changes per size, at most")
    parser.add_argument("--budget-s", type=float, default=40.0,
                        help="stop making changes at a size after this many seconds")  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    print(f"lab_kit network programming benchmark on {os.cpu_count()} cores", flush=True)
    t0 = time.monotonic()
    lab = Lab.up()
    print(f"lab up in {time.monotonic() - t0:.2f} s", flush=True)
    rows, have = [], 0
    try:
        system = len(lab.get("services", all_namespaces=True))
        for n in args.services:
            row = phase(lab, n, have, args.changes, args.budget_s)
            have = n
            rows.append(row)
            print(
                f"{n:>5} Services (+{system} system): bulk apply+converge {row['bulk']:.2f} s; "
                f"{row['changes']} changes: p50 {ms(row['p50'])}, p99 {ms(row['p99'])}, "
                f"max {ms(row['max'])} (new Service p50 {ms(row['p50 new'])}, endpoint change "
                f"p50 {ms(row['p50 endpoints'])}); kube-proxy mean sync {ms(row['mean sync'])} "
                f"(syncs per node {row['syncs']}); last syncSeconds {row['syncSeconds']}; "
                f"nat rules {row['nat rules']}; rules found on all nodes: {row['checked']}",
                flush=True,
            )
    finally:
        lab.down()
    if args.markdown:
        print("| Services | changes | p50 | p99 | max | p50 new Service | p50 endpoint change "
              "| kube-proxy sync (mean) | bulk apply + converge |")  # fmt: skip
        print("|" + " --- |" * 9)
        for r in rows:
            print(f"| {r['services']} | {r['changes']} | {ms(r['p50'])} | **{ms(r['p99'])}** "
                  f"| {ms(r['max'])} | {ms(r['p50 new'])} | {ms(r['p50 endpoints'])} "
                  f"| {ms(r['mean sync'])} | {r['bulk']:.2f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
