"""Benchmark: the cluster DNS server's queries/s while a rolling update changes the zone.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/dns_rolling.py [--services 1000]
        [--replicas 8] [--rounds 3] [--duration-s 6] [--markdown]      (about 1 min)

Every Service or EndpointSlice change rebuilds the zone. A server that empties its answer
caches on each rebuild answers every name afresh after each of a rolling update's many
EndpointSlice changes; one that keeps the answers the change cannot touch (ours, since
issue 18: `ClusterZone.changes_since`) stays on its cache. This measures both states of
one server:

  quiet    dnsperf (pinned, as in dns_qps.py: the coredns server on CPU 1, dnsperf on CPU 0)
           replays the FQDNs of --services selector-less Services in `dnsbench` (type A,
           in order, repeated) against one coredns pod's IP for --duration-s seconds;
  rolling  the same run while the Deployment `roller` (--replicas pause pods behind the
           Service `roller` in `default`: names the queries never ask) is restarted
           (`kubectl rollout restart`: a new template annotation), which replaces every pod
           and changes its EndpointSlice dozens of times during the run.

Per run: queries/s, the server's cache hits as a share of its requests (its own
`coredns_cache_hits_total` and `coredns_dns_requests_total` on :9153, read from the
client node before and after), and how many syncs the client node's kube-proxy made
meanwhile (each follows one or more EndpointSlice changes: the rolling update's pace). Medians over --rounds. The lab is taken down at the end.
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from dns_qps import NAMESPACE, SERVER_CPU, dnsperf, namespace, schedule, service  # noqa: E402

from lab_kit import Lab  # noqa: E402
from lab_kit.lab import lifecycle  # noqa: E402

ALL_CPUS = "0-1"


def roller(replicas: int, generation: int) -> list[dict]:
    labels = {"app": "roller"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "roller", "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"kubectl.kubernetes.io/restartedAt": str(generation)},
                    },
                    "spec": {
                        "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "roller", "namespace": "default"},
            "spec": {"selector": labels, "ports": [{"port": 80}]},
        },
    ]


def counters(lab: Lab, client: str, ip: str) -> tuple[float, float]:
    """(cache hits, requests) the server has counted so far."""
    text = lab.host(client, "curl", "-s", "-m", "5", f"http://{ip}:9153/metrics").stdout
    hits = sum(
        float(v) for v in re.findall(r"^coredns_cache_hits_total\{[^}]*\} (\S+)", text, re.M)
    )
    asked = sum(float(v) for v in re.findall(r"^coredns_dns_requests_total\{[^}]*\} (\S+)", text, re.M))  # fmt: skip
    return hits, asked


SYNCS = "kubeproxy_sync_proxy_rules_duration_seconds_count"


def run(lab: Lab, client: str, ip: str, pid: int, queries: str, args, roll: int | None) -> dict:
    """One pinned dnsperf run; with `roll`, a rolling restart started as it begins."""
    before, syncs = counters(lab, client, ip), lab.proxy_metrics(client).get(SYNCS, 0.0)
    worker = None
    if roll is not None:
        apply = lambda: lab.apply(roller(args.replicas, roll), wait=True, timeout_s=60)  # noqa: E731
        worker = threading.Thread(target=apply, daemon=True)
    schedule(pid, cpus=SERVER_CPU)
    try:
        if worker is not None:
            worker.start()
        result = dnsperf(lab, client, ip, pid, queries, args, None, pin=True)
    finally:
        schedule(pid, cpus=ALL_CPUS)
    if worker is not None:
        worker.join(60)
    after = counters(lab, client, ip)
    asked = max(1.0, after[1] - before[1])
    return {
        "qps": result["qps"],
        "hits": (after[0] - before[0]) / asked,
        "syncs": lab.proxy_metrics(client).get(SYNCS, 0.0) - syncs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration-s", type=float, default=6.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    args.clients, args.outstanding = 1, 100  # as dns_qps.py's throughput runs
    print(f"cluster DNS during a rolling update, {os.cpu_count()} cores: {args.services} "
          f"Services asked, {args.replicas} pods rolled", flush=True)  # fmt: skip
    lab = Lab.up()
    queries = os.path.join(lifecycle.run_dir(), "dnsbench-rolling.txt")
    rows: dict[str, list[dict]] = {"quiet": [], "rolling": []}
    try:
        lab.apply([namespace()] + [service(i) for i in range(args.services)], wait=True)
        lab.apply(roller(args.replicas, 0), wait=True, timeout_s=120)
        names = [f"{s['metadata']['name']}.{NAMESPACE}.svc.cluster.local"
                 for s in lab.get("services", namespace=NAMESPACE)]  # fmt: skip
        with open(queries, "w") as f:
            f.writelines(f"{name} A\n" for name in names)
        dns = sorted(lab.get("pods", namespace="kube-system", selector="k8s-app=kube-dns"),
                     key=lambda p: p["spec"]["nodeName"])[0]  # fmt: skip
        busy = {p["spec"]["nodeName"] for p in lab.get("pods", namespace="kube-system")}
        client = (
            next(n for n in ("node3", "node2", "node1") if n not in busy)
            if len(busy) < 3
            else "node3"
        )
        ip = dns["status"]["podIP"]
        pid = lab.sandbox(dns["metadata"]["name"], "kube-system")["containers"]["coredns"]["pid"][
            "pid"
        ]
        for k in range(args.rounds):
            rows["quiet"].append(run(lab, client, ip, pid, queries, args, None))
            rows["rolling"].append(run(lab, client, ip, pid, queries, args, k + 1))
            print(f"  round {k + 1}: quiet {rows['quiet'][-1]}, rolling {rows['rolling'][-1]}",
                  flush=True)  # fmt: skip
    finally:
        if os.path.exists(queries):
            os.remove(queries)
        lab.down()
    for name, runs in rows.items():
        qps = statistics.median(r["qps"] for r in runs)
        hits = statistics.median(r["hits"] for r in runs)
        syncs = statistics.median(r["syncs"] for r in runs)
        extra = f", {syncs:.0f} kube-proxy syncs on {client} meanwhile" if name == "rolling" else ""
        print(f"{name:<8} {qps:9,.0f} q/s, cache hits {hits:.1%} of requests{extra}")
    if args.markdown:
        print("| run | queries/s | cache hits | kube-proxy syncs during the run (zone changes) |")
        print("| --- | --- | --- | --- |")
        for name, runs in rows.items():
            print(f"| {name} | {statistics.median(r['qps'] for r in runs):,.0f} "
                  f"| {statistics.median(r['hits'] for r in runs):.1%} "
                  f"| {statistics.median(r['syncs'] for r in runs):.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
