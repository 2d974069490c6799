"""Benchmark: queries per second and latency of the cluster DNS server for cluster names,
side by side with dnsmasq answering the same records, in one run.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/dns_qps.py [--services 100]
        [--rounds 3] [--duration-s 5] [--clients 1] [--outstanding 100] [--rate 10000]
        [--no-pin] [--markdown]            (about 2 min 15 s with the defaults)

Brings up the default lab and creates --services Services in the namespace `dnsbench` in
one `lab.apply` (selector-less: a ClusterIP Service is answered with its ClusterIP whether
or not it has endpoints). Then it starts dnsmasq (apt package `dnsmasq-base`) as the pod
`dnsmasq` on the same node as one of the `coredns` pods, with one `--host-record` per
Service (the same names and addresses, TTL 30 like the Corefile's), `--no-resolv` and no
`--server` (it never forwards), no hosts file, no pid file, and logs on stderr only.
Both servers are checked to give the same answers before anything is timed.

dnsperf 2.10 (apt package `dnsperf`, wrapped in `timeout`, bounded by -l) runs in the
network namespace of a node with no coredns pod (usually node3; `lab.host`), against each
server's POD IP directly: not through the ClusterIP 10.96.0.10, so kube-proxy's DNAT and
the spread over the two coredns replicas are out of the comparison. The query file (every Service's FQDN,
type A; in the lab's run dir, which nodes see) is replayed in order, so after the first
pass every question is a repeat: our server answers those from its wire-bytes cache (one
dict lookup), dnsmasq from its host records. Four measurements per server and round:

  throughput  dnsperf with --clients sockets and --outstanding queries in flight, no rate
              limit, for --duration-s seconds: queries/s completed. Unless --no-pin, the
              server process (all its threads) is pinned to CPU 1 and dnsperf to CPU 0
              (`taskset`), so each server gets exactly one core and dnsperf never steals it;
              the rest of the lab (API server, agents, the other coredns pod) is not pinned.
  latency     dnsperf -Q --rate (10,000 q/s by default) with -v, which prints each reply's
              latency: p50 and p99 (nearest rank) over every query of the run. Not pinned:
              a pinned server cannot flee to the other core when a lab agent wakes on its
              own, which only adds scheduling delay to the tail.
  real-time   the same, with the server's threads at SCHED_FIFO 50 (`chrt`) for that run
              only: what is left of the tail when no other process can delay the server.
  new         throughput as above, but every name is new: pod names
              `a-b-c-d.dnsbench.pod.cluster.local` for random addresses (kubeadm's
              `pods insecure` answers A a.b.c.d for any of them; dnsmasq answers the whole
              domain by an `--address` rule), a fresh file per round, so our server finds
              none in either answer cache and takes its full path (parse, answer from the
              zone, pack). The first questions after every zone change (the caches start
              empty) pay this. (The same names in other letter case, or with a new EDNS
              cookie each time, are answered from the second cache, by normalised question.)

Targets alternate ABBA within the rounds (ours, dnsmasq, dnsmasq, ours, ...); figures are
medians over rounds. Also printed, per run: the server process's CPU use (in cores, user +
system from /proc/PID/stat, and its user-space part; system time includes the kernel's
work in the server's context: a reply's sendto() carries it through the pod's veth, the
node's netfilter hooks and the switch up to dnsperf's socket), the share of the run its
threads were runnable but waiting for a CPU (/proc/PID/task/*/schedstat) and how busy the
whole machine was (/proc/stat).
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lab_kit import Lab  # noqa: E402
from lab_kit.lab import lifecycle  # noqa: E402

NAMESPACE = "dnsbench"
DOMAIN = "cluster.local"
TTL = 30  # the Corefile's `ttl 30`
SERVER_CPU, CLIENT_CPU, ALL_CPUS = "1", "0", "0-1"
DISTINCT_PER_S = 200_000  # distinct questions per second of a run: more than either answers


def namespace() -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}


def service(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc-{i:04d}", "namespace": NAMESPACE},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},  # no selector
    }


def dnsmasq_pod(node: str, records: dict[str, str]) -> dict:
    """dnsmasq answering `records` (FQDN -> address) and nothing else: no upstream, no
    /etc/hosts, no pid file (it would land in the machine's /run), no query log."""
    command = [
        "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
        "--log-facility=-", "--pid-file=", "--port=53", f"--local-ttl={TTL}",
        "--address=/pod.cluster.local/10.244.0.1",  # "every name new": a rule for any pod name
        *(f"--host-record={name},{ip}" for name, ip in records.items()),
    ]  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "dnsmasq", "namespace": NAMESPACE, "labels": {"bench": "dnsmasq"}},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "containers": [
                {
                    "name": "dnsmasq",
                    "image": "busybox",
                    "command": command,
                    "readinessProbe": {"tcpSocket": {"port": 53}, "periodSeconds": 1},
                }
            ],
        },
    }


# --- measuring ---------------------------------------------------------------------------------
def process_ticks(pid: int) -> tuple[int, int]:
    """(user, system) clock ticks a process (all its threads) has used (/proc/PID/stat).
    System time includes the kernel's work done in the process's context: for a reply,
    sendto() carries the packet through the veth, the node's netfilter hooks and routing
    and the switch, up to the client's socket."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def run_delay(pid: int) -> int:
    """Nanoseconds the process's threads have spent runnable but waiting for a CPU
    (/proc/PID/task/*/schedstat, second field)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[1])
    return total


def cpu_times() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return total - values[3] - values[4], total


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def field(out: str, label: str) -> float:
    m = re.search(rf"{label}:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"dnsperf printed no {label!r}:\n{out[-2000:]}")
    return float(m.group(1))


def dnsperf(lab: Lab, node: str, server_ip: str, server_pid: int, queries: str, args,
            rate: int | None, pin: bool = False) -> dict:  # fmt: skip
    """One bounded dnsperf run from `node` against `server_ip`; with `rate`, at that many
    queries/s and with every reply's latency (-v); `pin`: dnsperf on CLIENT_CPU only."""
    argv = ["timeout", str(int(args.duration_s + 15))]
    if pin:
        argv += ["taskset", "-c", CLIENT_CPU]
    argv += ["dnsperf", "-s", server_ip, "-d", queries, "-l", f"{args.duration_s:g}", "-t", "1"]
    if rate:
        argv += ["-Q", str(rate), "-v"]
    else:
        argv += ["-c", str(args.clients), "-q", str(args.outstanding)]
    tick = os.sysconf("SC_CLK_TCK")
    busy0, served0, waited0 = cpu_times(), process_ticks(server_pid), run_delay(server_pid)
    t0 = time.monotonic()
    r = lab.host(node, *argv)
    t1 = time.monotonic()
    busy1, served1, waited1 = cpu_times(), process_ticks(server_pid), run_delay(server_pid)
    if r.returncode != 0:
        raise RuntimeError(f"dnsperf failed ({r.returncode}): {r.stdout[-2000:]}{r.stderr}")
    completed = int(field(r.stdout, "Queries completed"))
    run = {
        "qps": field(r.stdout, "Queries per second"),
        "sent": int(field(r.stdout, "Queries sent")),
        "completed": completed,
        "lost": int(field(r.stdout, "Queries lost")),
        "avg": field(r.stdout, r"Average Latency \(s\)"),
        "server": (sum(served1) - sum(served0)) / tick / (t1 - t0),  # cores
        "user": (served1[0] - served0[0]) / tick / (t1 - t0),  # of which in user space
        "cpu": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        "waited": (waited1 - waited0) / 1e9 / (t1 - t0),  # share of the run
    }
    if rate:
        # "> NOERROR svc-0001.dnsbench.svc.cluster.local A 0.000123", one line per reply
        lat = [float(x) for x in re.findall(r"^> \S+ \S+ \S+ ([\d.]+)$", r.stdout, re.M)]
        if len(lat) < completed * 0.99:
            raise RuntimeError(f"dnsperf -v gave {len(lat)} latencies for {completed} replies")
        bad = len(re.findall(r"^> (?!NOERROR)", r.stdout, re.M))
        run |= {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "bad": bad}
    else:
        noerror = re.search(r"Response codes:.*?NOERROR (\d+)", r.stdout)
        run["bad"] = completed - (int(noerror.group(1)) if noerror else 0)
    return run


MEASUREMENTS = ("max", "rate", "rt", "miss")


def distinct_queries(path: str, count: int, seed: int) -> None:
    """`count` questions for pod names of random addresses (a-b-c-d.<ns>.pod.cluster.local):
    never asked before, so none is in any cache."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(count):
            ip = "-".join(str(rng.randrange(1, 255)) for _ in range(4))
            f.write(f"{ip}.{NAMESPACE}.pod.cluster.local A\n")


def compare(lab: Lab, node: str, targets: dict[str, tuple[str, int]], queries: str,
            distinct: str, args):  # fmt: skip
    """ABBA over the rounds; for each target in turn: throughput (pinned unless --no-pin),
    latency at --rate (not pinned), latency at --rate with the server at real-time priority,
    throughput when every name is new (pinned; a fresh file per round)."""
    names = list(targets)
    runs: dict[str, dict[str, list[dict]]] = {n: {m: [] for m in MEASUREMENTS} for n in names}
    count = int(DISTINCT_PER_S * args.duration_s)
    for k in range(args.rounds):
        distinct_queries(distinct, count, seed=k)
        for name in names if k % 2 == 0 else names[::-1]:
            ip, pid = targets[name]
            if args.pin:
                schedule(pid, cpus=SERVER_CPU)
            top = dnsperf(lab, node, ip, pid, queries, args, None, pin=args.pin)
            schedule(pid, cpus=ALL_CPUS)
            fixed = dnsperf(lab, node, ip, pid, queries, args, args.rate)
            schedule(pid, realtime=True)
            try:
                rt = dnsperf(lab, node, ip, pid, queries, args, args.rate)
            finally:
                schedule(pid, realtime=False)
            if args.pin:
                schedule(pid, cpus=SERVER_CPU)
            miss = dnsperf(lab, node, ip, pid, distinct, args, None, pin=args.pin)
            schedule(pid, cpus=ALL_CPUS)
            if name == "ours" and miss["sent"] > count:  # dnsmasq has no cache to hit
                print(f"  warning: {name} went through the {count:,} distinct questions more "
                      f"than once ({miss['sent']:,} sent): later ones were repeats")  # fmt: skip
            for label, run in (("throughput", top), ("every name new", miss)):
                if args.pin and run["waited"] > 0.05:
                    print(f"  warning: {name}, {label}: the pinned server waited for its CPU "
                          f"{run['waited']:.0%} of the run: something else ran there")  # fmt: skip
            for m, run in zip(MEASUREMENTS, (top, fixed, rt, miss), strict=True):
                runs[name][m].append(run)
            print(f"  round {k + 1} {name:<8} {top['qps']:9,.0f} q/s (server {top['server']:.2f}"
                  f" cores, {top['user']:.2f} in user space, waited {top['waited']:.1%}; machine "
                  f"{top['cpu']:.0%} busy) | at "
                  f"{args.rate:,} q/s: p50 {ms(fixed['p50'])} p99 {ms(fixed['p99'])} (server "
                  f"{fixed['server']:.2f} cores, {fixed['user']:.2f} user, waited for a CPU "
                  f"{fixed['waited']:.1%} of the time; machine {fixed['cpu']:.0%}) | real-time: "
                  f"p50 {ms(rt['p50'])} p99 {ms(rt['p99'])} (waited {rt['waited']:.1%}; machine "
                  f"{rt['cpu']:.0%}) | every name new: {miss['qps']:,.0f} q/s (server "
                  f"{miss['server']:.2f} cores, {miss['user']:.2f} user)", flush=True)  # fmt: skip
    result = {}
    for name, r in runs.items():
        med = {}
        for m in MEASUREMENTS:
            keys = ("qps", "server", "user", "cpu", "waited")
            keys += ("p50", "p99") if m in ("rate", "rt") else ()
            med |= {f"{m}_{k}": statistics.median(x[k] for x in r[m]) for k in keys}
        every = [x for m in MEASUREMENTS for x in r[m]]
        med["lost"] = sum(x["lost"] for x in every)
        med["bad"] = sum(x["bad"] for x in every)
        med["queries"] = sum(x["completed"] for x in every)
        med["rounds"] = [round(x["qps"]) for x in r["max"]]
        med["miss_rounds"] = [round(x["qps"]) for x in r["miss"]]
        med["p99s"] = [ms(x["p99"]) for x in r["rate"]]
        med["rt_p99s"] = [ms(x["p99"]) for x in r["rt"]]
        result[name] = med
    return result


def ms(s: float) -> str:
    return f"{s * 1000:.2f} ms"


def schedule(pid: int, cpus: str | None = None, realtime: bool | None = None) -> None:
    """Set the CPUs (taskset) or the scheduling class (chrt: SCHED_FIFO 50, or back to
    SCHED_OTHER) of every thread of `pid` (-a: all its tasks)."""
    if cpus is not None:
        argv = ["taskset", "-a", "-p", "-c", cpus, str(pid)]
    else:
        argv = ["chrt", "-a", "-p"] + (["-f", "50"] if realtime else ["-o", "0"]) + [str(pid)]
    subprocess.run(argv, check=True, capture_output=True, timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration-s", type=float, default=5.0, help="seconds per dnsperf run")
    parser.add_argument("--clients", type=int, default=1, help="dnsperf -c (throughput runs)")
    parser.add_argument("--outstanding", type=int, default=100, help="dnsperf -q (throughput)")
    parser.add_argument("--rate", type=int, default=10_000, help="q/s of the latency runs")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="throughput runs: do not pin the server and dnsperf to separate "
                             "CPUs (latency runs are never pinned)")  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    print(f"lab_kit cluster DNS vs dnsmasq on {os.cpu_count()} cores: {args.services} Services, "
          f"{args.rounds} rounds x {args.duration_s:g} s per target and measurement, dnsperf "
          f"-c {args.clients} -q {args.outstanding} / -Q {args.rate}, "
          f"throughput runs {'pinned' if args.pin else 'not pinned'}", flush=True)  # fmt: skip
    t0 = time.monotonic()
    lab = Lab.up()
    queries = os.path.join(lifecycle.run_dir(), "dnsbench-queries.txt")
    distinct = os.path.join(lifecycle.run_dir(), "dnsbench-distinct.txt")
    try:
        lab.apply([namespace()] + [service(i) for i in range(args.services)], wait=True)
        records = {
            f"{s['metadata']['name']}.{NAMESPACE}.svc.{DOMAIN}": s["spec"]["clusterIP"]
            for s in lab.get("services", namespace=NAMESPACE)
        }
        assert len(records) == args.services, len(records)
        dns_pods = sorted(lab.get("pods", namespace="kube-system", selector="k8s-app=kube-dns"),
                          key=lambda p: p["spec"]["nodeName"])  # fmt: skip
        ours = dns_pods[0]
        node = ours["spec"]["nodeName"]
        busy_nodes = {p["spec"]["nodeName"] for p in dns_pods}
        client = next(n for n in ("node1", "node2", "node3") if n not in busy_nodes)
        lab.apply(dnsmasq_pod(node, records), wait=True)
        mine = lab.get("pods", "dnsmasq", namespace=NAMESPACE)
        targets = {
            "ours": (ours["status"]["podIP"],
                     lab.sandbox(ours["metadata"]["name"], "kube-system")["containers"]["coredns"]["pid"]["pid"]),
            "dnsmasq": (mine["status"]["podIP"],
                        lab.sandbox("dnsmasq", NAMESPACE)["containers"]["dnsmasq"]["pid"]["pid"]),
        }  # fmt: skip
        names = list(records)
        for name in (names[0], names[len(names) // 2], names[-1]):
            for target, (ip, _pid) in targets.items():
                got = lab.host(client, "dig", "+time=2", "+tries=3", "+short", f"@{ip}", name)
                assert got.stdout.split() == [records[name]], (target, name, got.stdout)
        with open(queries, "w") as f:
            f.writelines(f"{name} A\n" for name in names)
        print(f"lab, {args.services} Services and dnsmasq ready in {time.monotonic() - t0:.1f} s;"
              f" ours {ours['metadata']['name']} {targets['ours'][0]} (pid {targets['ours'][1]})"
              f" and dnsmasq {targets['dnsmasq'][0]} (pid {targets['dnsmasq'][1]}) on {node}; "
              f"dnsperf on {client}", flush=True)  # fmt: skip
        result = compare(lab, client, targets, queries, distinct, args)
    finally:
        for path in (queries, distinct):
            if os.path.exists(path):
                os.remove(path)
        t1 = time.monotonic()
        lab.down()
        print(f"lab down in {time.monotonic() - t1:.1f} s; whole run {time.monotonic() - t0:.0f} s")
    ours, theirs = result["ours"], result["dnsmasq"]
    ratio = ours["max_qps"] / theirs["max_qps"]
    miss_ratio = ours["miss_qps"] / theirs["miss_qps"]
    for name, r in result.items():
        us = r["max_server"] / r["max_qps"] * 1e6
        user_us = r["max_user"] / r["max_qps"] * 1e6
        print(f"{name:<8} {r['max_qps']:9,.0f} q/s (rounds {r['rounds']}): server "
              f"{r['max_server']:.2f} cores = {us:.1f} µs/query, {user_us:.1f} of it in user "
              f"space, waited for a CPU {r['max_waited']:.1%} of the time; machine "
              f"{r['max_cpu']:.0%} busy")  # fmt: skip
        print(f"{'':<8} at {args.rate:,} q/s: p50 {ms(r['rate_p50'])} p99 {ms(r['rate_p99'])} "
              f"(rounds {r['p99s']}); server {r['rate_server']:.2f} cores "
              f"({r['rate_user']:.2f} user), waited for a CPU {r['rate_waited']:.1%} of the "
              f"time; machine {r['rate_cpu']:.0%} busy")  # fmt: skip
        print(f"{'':<8} real-time priority: p50 {ms(r['rt_p50'])} p99 {ms(r['rt_p99'])} (rounds "
              f"{r['rt_p99s']}), waited {r['rt_waited']:.1%}")  # fmt: skip
        miss_us = r["miss_server"] / r["miss_qps"] * 1e6
        print(f"{'':<8} every name new: {r['miss_qps']:,.0f} q/s (rounds "
              f"{r['miss_rounds']}): server {r['miss_server']:.2f} cores = {miss_us:.1f} "
              f"µs/query, {r['miss_user'] / r['miss_qps'] * 1e6:.1f} in user space")  # fmt: skip
        print(f"{'':<8} lost {r['lost']}, not NOERROR {r['bad']} of {r['queries']:,} queries")
    print(f"ratio ours / dnsmasq: {ratio:.2f} (repeated questions), {miss_ratio:.2f} (every "
          f"name new)")  # fmt: skip
    if args.markdown:
        k = f"{args.rate // 1000}k q/s"
        print(f"| server | queries/s | **ours / dnsmasq** | server CPU (user space) "
              f"| p50 / **p99** at {k} | server CPU at {k} | p50 / p99 at {k}, server "
              f"real-time | queries/s, every name new | ours / dnsmasq | lost |")  # fmt: skip
        print("|" + " --- |" * 10)
        for name, label in (("ours", "lab_kit cluster_dns"), ("dnsmasq", "dnsmasq 2.90")):
            r = result[name]
            share = f"**{ratio:.2f}**" if name == "ours" else "–"
            miss_share = f"{miss_ratio:.2f}" if name == "ours" else "–"
            print(f"| {label} | {r['max_qps']:,.0f} | {share} | {r['max_server']:.2f} cores "
                  f"({r['max_user']:.2f}) | {ms(r['rate_p50'])} / **{ms(r['rate_p99'])}** "
                  f"| {r['rate_server']:.2f} cores | {ms(r['rt_p50'])} / {ms(r['rt_p99'])} "
                  f"| {r['miss_qps']:,.0f} | {miss_share} | {r['lost']} of "
                  f"{r['queries']:,} |")  # fmt: skip


if __name__ == "__main__":
    main()
