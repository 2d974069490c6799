"""Benchmark: requests per second and latency through a ClusterIP versus straight to the
pod IPs, side by side in one run.

    sudo .venv/bin/python benchmarks/clusterip_rps.py [--server agnhost|random-generator]
        [--rounds 3] [--duration-s 3] [--connections 48] [--modes keep-alive,close] [--markdown]

Brings up the default lab, a client pod (`toolbox` on node1, labs/manifests/toolbox.yml) and
three backends, one per node (agnhost `netexec` answering /hostname by default; or the
book's random-generator answering /), then runs `wrk` (apt package `wrk`, wrapped in
`timeout`) INSIDE the client pod. Two comparisons, each with identical client load:

  one backend   Service `bench-one` (one endpoint, the pod on node2) against that pod's IP:
                one wrk, --connections connections. Only the path differs: kube-proxy's DNAT
                (and conntrack) or none.
  all backends  Service `bench-all` (three endpoints) against the three pod IPs: three wrk
                processes at once, each with a third of the connections, all three aimed at
                the ClusterIP, or each at a different pod IP. Direct is round-robin by
                construction; the ClusterIP spreads connections at random (per connection).

and each in two modes: keep-alive (wrk's default: a connection is DNATed once, then every
request rides its conntrack entry) and a new connection per request (`Connection: close`,
so every request goes through kube-proxy's rules and creates a conntrack entry; each such
run uses a fresh client pod `loadgen-N` with `net.ipv4.tcp_tw_reuse=1`, see `compare`).
Targets alternate ABBA within the rounds (ClusterIP, direct, direct, ClusterIP, ...), so
slow drift of the machine hits both sides alike. Figures are the median over rounds; for
three concurrent wrk processes, req/s is their sum, p50 their mean and p99 their maximum.
Also printed: how busy the machine's CPUs were and the kernel CPU time per request
(/proc/stat), which tell whether the servers or the machine were the limit.
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lab_kit import Lab  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLBOX = os.path.join(HERE, "..", "labs", "manifests", "toolbox.yml")
BACKENDS = {"be-1": "node1", "be-2": "node2", "be-3": "node3"}
ONE = "be-2"  # the single backend: on another node than the client, as most traffic is

SERVERS = {
    # image, args, the path to ask for
    "agnhost": ("registry.k8s.io/e2e-test-images/agnhost:2.53", ["netexec", "--http-port=8080"], "/hostname"),
    "random-generator": ("k8spatterns/random-generator:1.0", [], "/"),
}  # fmt: skip


def backend_pod(name: str, node: str, server: str) -> dict:
    image, args, path = SERVERS[server]
    container = {
        "name": "server",
        "image": image,
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": path, "port": 8080}, "periodSeconds": 1},
    }
    if args:
        container["args"] = args
    labels = {"bench": "be", **({"one": "yes"} if name == ONE else {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": [container]},
    }


def bench_service(name: str, selector: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]},
    }


# --- wrk -----------------------------------------------------------------------------------------
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(out: str) -> dict:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    return {
        "rps": float(rps.group(1)),
        "p50": seconds(lat["50"]),
        "p99": seconds(lat["99"]),
        "requests": int(requests.group(1)),
        "errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "non2xx": int(bad.group(1)) if bad else 0,
    }


def loadgen_pod(name: str) -> dict:
    """A client pod like the toolbox (node1, this machine's tools), for one run only.
    Privileged, as on a real cluster: /proc/sys is read-only in other containers, and the
    load generator sets net.ipv4.tcp_tw_reuse (its own network namespace's) below."""
    container = {"name": "toolbox", "image": "busybox", "command": ["sleep", "infinity"],
                 "securityContext": {"privileged": True}}  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "loadgen"}},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": "node1"}, "containers": [container]},
    }


def wrk_many(lab: Lab, pod: str, urls: list[str], connections: int, duration_s: float,
             close: bool, servers: list[int]) -> dict:  # fmt: skip
    """len(urls) wrk processes at once inside `pod`, each with its share of the
    connections; their results summed (req/s), averaged (p50), maximised (p99). `servers`:
    the backends' process ids, whose CPU use is measured meanwhile."""
    each = max(1, connections // len(urls))
    header = ["-H", "Connection: close"] if close else []
    limit = str(int(duration_s + 10))  # wrk can hang when SYNs are dropped: always bounded
    cmds = []
    for i, url in enumerate(urls):
        argv = ["timeout", limit, "wrk", "-t1", f"-c{each}", f"-d{duration_s:g}s", "--latency",
                "--timeout", "2s", *header, url]  # fmt: skip
        cmds.append(f"{shlex.join(argv)} 2>&1 | sed 's/^/{i}|/'")
    script = " & ".join(f"( {c} )" for c in cmds) + " & wait"
    busy0, served0, t0 = cpu_times(), [process_ticks(p) for p in servers], time.monotonic()
    out = lab.exec(pod, "sh", "-c", script).stdout
    busy1, served1, t1 = cpu_times(), [process_ticks(p) for p in servers], time.monotonic()
    tick = os.sysconf("SC_CLK_TCK")
    per = []
    for i in range(len(urls)):
        text = "\n".join(
            line.split("|", 1)[1] for line in out.splitlines() if line.startswith(f"{i}|")
        )
        per.append(parse_wrk(text))
    return {
        "rps": sum(p["rps"] for p in per),
        "p50": statistics.mean(p["p50"] for p in per),
        "p99": max(p["p99"] for p in per),
        "errors": sum(p["errors"] + p["non2xx"] for p in per),
        "requests": sum(p["requests"] for p in per),
        "split": [round(p["rps"]) for p in per],
        "cpu": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        # kernel CPU time per request, in microseconds (clock ticks are 1/CLK_TCK s)
        "kernel_us": (busy1[2] - busy0[2]) / tick * 1e6 / max(1, sum(p["requests"] for p in per)),
        # the busiest backend process, in cores (1.0: its one Python thread never rested)
        "server": max((b - a) / tick / (t1 - t0) for a, b in zip(served0, served1, strict=True)),
    }


def process_ticks(pid: int) -> int:
    """user + system clock ticks a process has used (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def server_pid(lab: Lab, pod: str) -> int:
    return lab.sandbox(pod)["containers"]["server"]["pid"]["pid"]


def cpu_times() -> tuple[int, int, int]:
    """(busy, total, kernel) clock ticks of the whole machine (all cores) from /proc/stat;
    kernel = system + irq + softirq (where DNAT, conntrack and the veths' work is done)."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, *rest = (
            int(x) for x in f.readline().split()[1:]
        )
    total = user + nice + system + idle + iowait + irq + softirq + sum(rest[:1])  # + steal
    return total - idle - iowait, total, system + irq + softirq


def compare(lab: Lab, name: str, cluster_urls, direct_urls, args, close: bool, fresh,
            servers: list[int]) -> dict:  # fmt: skip
    """Alternate ClusterIP and direct runs, ABBA (who goes first swaps every round). With a
    new connection per request each run gets a fresh client pod from `fresh`: every request
    leaves a TIME_WAIT socket in the client, and a client that already holds tens of
    thousands of them (from earlier runs) connects more slowly, the more so when they all
    point at ONE destination (the ClusterIP) rather than three pod IPs. Measured here:
    one client, three runs in a row to the ClusterIP went 9,770 -> 8,520 -> 6,040 req/s."""
    runs: dict[str, list[dict]] = {"ClusterIP": [], "direct": []}
    targets = [("ClusterIP", cluster_urls), ("direct", direct_urls)]
    for k in range(args.rounds):
        for target, urls in targets if k % 2 == 0 else targets[::-1]:
            pod = next(fresh) if close else "toolbox"
            run = wrk_many(lab, pod, urls, args.connections, args.duration_s, close, servers)
            runs[target].append(run)
    med = {
        target: {
            k: statistics.median(r[k] for r in rs)
            for k in ("rps", "p50", "p99", "cpu", "kernel_us", "server")
        }
        | {"errors": sum(r["errors"] for r in rs), "requests": sum(r["requests"] for r in rs)}
        for target, rs in runs.items()
    }
    med["ratio"] = med["ClusterIP"]["rps"] / med["direct"]["rps"]
    med["name"] = f"{name}, {'new connection per request' if close else 'keep-alive'}"
    med["rounds"] = {t: [round(r["rps"]) for r in rs] for t, rs in runs.items()}
    med["split"] = {t: rs[-1]["split"] for t, rs in runs.items()}
    return med


def ms(s: float) -> str:
    return f"{s * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=sorted(SERVERS), default="agnhost")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration-s", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=48, help="in total, per run")
    parser.add_argument("--modes", default="keep-alive,close",
                        help="keep-alive, close (a new connection per request), or both")  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    path = SERVERS[args.server][2]
    print(f"lab_kit ClusterIP vs direct benchmark on {os.cpu_count()} cores; server "
          f"{args.server}, wrk -t1 -c{args.connections} in total, {args.rounds} rounds x "
          f"{args.duration_s:g} s per target and mode", flush=True)  # fmt: skip
    t0 = time.monotonic()
    lab = Lab.up()
    rows = []
    try:
        modes = [m == "close" for m in args.modes.split(",")]
        loadgens = [f"loadgen-{i}" for i in range(4 * args.rounds if True in modes else 0)]
        lab.apply(
            [TOOLBOX]
            + [loadgen_pod(n) for n in loadgens]
            + [backend_pod(n, node, args.server) for n, node in BACKENDS.items()]
            + [
                bench_service("bench-one", {"bench": "be", "one": "yes"}),
                bench_service("bench-all", {"bench": "be"}),
            ],
            wait=True,
        )
        pods = {p["metadata"]["name"]: p["status"]["podIP"] for p in lab.get("pods")}
        svcs = {s["metadata"]["name"]: s["spec"]["clusterIP"] for s in lab.get("services")}
        shown = {n: ip for n, ip in pods.items() if not n.startswith("loadgen-")}
        print(f"lab, client ({len(loadgens)} load generators) and backends ready in "
              f"{time.monotonic() - t0:.1f} s; pods {shown}; services {svcs}", flush=True)  # fmt: skip
        one_vip, all_vip = f"http://{svcs['bench-one']}{path}", f"http://{svcs['bench-all']}{path}"
        direct = {b: f"http://{pods[b]}:8080{path}" for b in BACKENDS}
        for url in [one_vip, all_vip, *direct.values()]:
            assert "ERR" not in lab.requests("toolbox", url, count=2), url
        # With a new connection per request wrk mostly closes first, so requests leave
        # TIME_WAIT sockets in the client pod: after ~14,000 of them to one destination,
        # connect() runs out of ports and req/s collapses (620 instead of 5,800 here).
        # Let the load generators reuse them, as a load generator should (the sysctl is per
        # network namespace: it changes those pods only, not the machine).
        for pod in loadgens:
            lab.exec(pod, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1")
            reuse = lab.exec(pod, "cat", "/proc/sys/net/ipv4/tcp_tw_reuse").stdout.strip()
            assert reuse == "1", (pod, reuse)
        fresh = iter(loadgens)
        pids = {b: server_pid(lab, b) for b in BACKENDS}
        for close in modes:
            for name, vips, pod_urls, servers in (
                ("one backend", [one_vip], [direct[ONE]], [pids[ONE]]),
                ("three backends", [all_vip] * 3, list(direct.values()), list(pids.values())),
            ):
                rows.append(compare(lab, name, vips, pod_urls, args, close, fresh, servers))
                print_row(rows[-1])
        conntrack = lab.host("node1", "conntrack", "-C").stdout.strip()
        print(f"node1 conntrack entries after the run: {conntrack}")
    finally:
        t1 = time.monotonic()
        lab.down()
        print(f"lab down in {time.monotonic() - t1:.1f} s")
    if args.markdown:
        print("| comparison | ClusterIP req/s | direct req/s | **ratio** | ClusterIP p50 / p99 "
              "| direct p50 / p99 | CPU busy | busiest server | kernel µs/request | errors |")  # fmt: skip
        print("|" + " --- |" * 10)
        for r in rows:
            c, d = r["ClusterIP"], r["direct"]
            print(f"| {r['name']} | {c['rps']:.0f} | {d['rps']:.0f} | **{r['ratio']:.2f}** "
                  f"| {ms(c['p50'])} / {ms(c['p99'])} | {ms(d['p50'])} / {ms(d['p99'])} "
                  f"| {c['cpu']:.0%} / {d['cpu']:.0%} | {c['server']:.2f} / {d['server']:.2f} cores "
                  f"| {c['kernel_us']:.0f} / {d['kernel_us']:.0f} "
                  f"| {c['errors'] + d['errors']} |")  # fmt: skip


def print_row(r: dict) -> None:
    c, d = r["ClusterIP"], r["direct"]
    print(f"{r['name']:<45} ClusterIP {c['rps']:7.0f} req/s p50 {ms(c['p50'])} p99 {ms(c['p99'])}"
          f" | direct {d['rps']:7.0f} req/s p50 {ms(d['p50'])} p99 {ms(d['p99'])}"
          f" | ratio {r['ratio']:.2f}\n{'':<45} (ClusterIP / direct) CPU busy "
          f"{c['cpu']:.0%} / {d['cpu']:.0%}, busiest server {c['server']:.2f} / "
          f"{d['server']:.2f} cores, kernel µs/request {c['kernel_us']:.0f} / "
          f"{d['kernel_us']:.0f}, errors {c['errors'] + d['errors']} of "
          f"{c['requests'] + d['requests']}, req/s per round {r['rounds']}, per wrk process in the last round {r['split']}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
