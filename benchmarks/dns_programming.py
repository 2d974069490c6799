"""Benchmark: DNS programming latency — a Service created until the cluster DNS answers its
name with its ClusterIP — measured from a node, per coredns pod and through kube-dns.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/dns_programming.py
        [--services 100] [--changes 50] [--interval-ms 1] [--deadline-s 10] [--no-realtime]
        [--markdown]                       (about 25 s with the defaults)

Brings up the default lab, creates --services background Services in the namespace
`dnsbench` in one `lab.apply` (so the zone the server rebuilds is not trivial), then creates
--changes probe Services one at a time (selector-less, with an explicit ClusterIP so the
expected answer is known beforehand). For each, a poller in a node's network namespace
(the node with no coredns pod; this same file run with `--poll` by the venv's Python,
under `timeout`) queries the probe's FQDN (type A, over UDP) every --interval-ms against
three targets at once:

  pod A, pod B   each coredns pod's IP directly, one socket each: the server's own delay
                 (its watch of the API server, the zone rebuild, the swap of the answer cache)
  kube-dns       the ClusterIP 10.96.0.10, a fresh socket (so a new conntrack entry and a
                 random pod) per query, as a pod's resolver asks: kube-proxy's DNAT on the path

The poller says when its first query for the name is out (the answer is NXDOMAIN then);
the script then takes the time (`time.time()`) right before the `lab.apply` that creates
the Service, and the poller stamps (`time.time()`, same machine clock) the first reply
carrying the ClusterIP from each target. Latency = that stamp minus the creation time: it
includes the API server's write, its watch event to the coredns pods, their zone rebuild and
up to one poll interval. Also printed: how long `lab.apply` itself took (the API round trip).
After each probe, `lab.wait()` lets every agent (kube-proxy syncs the new Service on all three
nodes, the coredns pods report the version they serve) settle before the next one.

--changes probes are made in each of two modes, alternating (normal, real-time, normal, ...):
the coredns pods' processes at their normal scheduling, then at SCHED_FIFO 50 (`chrt`) for
the real-time probes: the difference is the time the server spent waiting for a CPU while
the other agents (three kube-proxies, the API server's watchers) handled the same Service.
Every poll loop is bounded (--deadline-s per name, and `timeout` around the whole poller).
Percentiles are nearest-rank: p99 of 50 is the maximum.
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

NAMESPACE = "dnsbench"
DOMAIN = "cluster.local"
KUBE_DNS = "10.96.0.10"
TARGETS = ("pod A", "pod B", "kube-dns")
MODES = ("normal", "realtime")  # the coredns pods' scheduling: SCHED_OTHER or SCHED_FIFO


def background(i: int) -> dict:
    return service(f"bg-{i:04d}", f"10.100.{i // 250}.{i % 250 + 1}")


def probe(j: int) -> tuple[dict, str]:
    ip = f"10.104.{j // 250}.{j % 250 + 1}"
    return service(f"probe-{j:04d}", ip), ip


def service(name: str, ip: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }


def fqdn(name: str) -> str:
    return f"{name}.{NAMESPACE}.svc.{DOMAIN}"


# --- the poller (runs in a node's network namespace) ----------------------------------------
def query(qid: int, name: str) -> bytes:
    """A DNS query for `name` type A class IN, recursion desired, no EDNS."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)


def answers(reply: bytes, packed_ip: bytes) -> bool:
    """A NOERROR reply with an answer whose data is the expected address (each probe's
    ClusterIP is unique, so a reply carrying it is a reply about that probe)."""
    if len(reply) < 12 or reply[3] & 0x0F or struct.unpack("!H", reply[6:8])[0] == 0:
        return False
    return packed_ip in reply[12:]


def poll(names_ips: list[tuple[str, str]], pods: list[str], interval_s: float,
         deadline_s: float) -> None:  # fmt: skip
    """For each (name, ip) in turn: query every interval_s until each target answered with
    ip (or deadline_s passed); print `polling NAME` once the first queries are out, then
    `done NAME STAMP STAMP STAMP QUERIES` (time.time() of the first correct reply per
    target, `nan` if none)."""
    direct = []
    for ip in pods:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((ip, 53))
        direct.append(s)
    qid = 0
    for name, ip in names_ips:
        packed = socket.inet_aton(ip)
        first: list[float | None] = [None] * (len(pods) + 1)
        fresh: dict[socket.socket, float] = {}  # kube-dns: one socket per query, and when
        sent, announced = 0, False
        end = time.monotonic() + deadline_s
        next_send = time.monotonic()
        while None in first and time.monotonic() < end:
            now = time.monotonic()
            if now >= next_send:
                for k, s in enumerate(direct):
                    if first[k] is None:
                        qid = (qid + 1) & 0xFFFF
                        s.send(query(qid, name))
                        sent += 1
                if first[-1] is None:
                    qid = (qid + 1) & 0xFFFF
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.sendto(query(qid, name), (KUBE_DNS, 53))
                    fresh[s] = now
                    sent += 1
                next_send = max(next_send + interval_s, now)
                if not announced:
                    print(f"polling {name}", flush=True)
                    announced = True
            for s in [s for s, at in fresh.items() if now - at > 0.5]:  # unanswered: give up
                del fresh[s]
                s.close()
            readable, _, _ = select.select(direct + list(fresh), [], [],
                                           max(0.0, next_send - time.monotonic()))  # fmt: skip
            stamp = time.time()
            for s in readable:
                try:
                    reply = s.recv(4096)
                except OSError:  # e.g. ICMP unreachable from a previous send
                    continue
                k = direct.index(s) if s in direct else len(pods)
                if k == len(pods):
                    del fresh[s]
                    s.close()
                if first[k] is None and answers(reply, packed):
                    first[k] = stamp
        for s in fresh:
            s.close()
        stamps = " ".join("nan" if t is None else f"{t:.6f}" for t in first)
        print(f"done {name} {stamps} {sent}", flush=True)


# --- the benchmark -------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of fewer than 100 samples is the maximum)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


class Lines:
    """The poller's output, line by line, each wait bounded: select() on the pipe itself,
    with our own buffer (a file object's buffer would hide lines from select)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.fd, self.buffer = proc, proc.stdout.fileno(), b""

    def next(self, timeout_s: float) -> str:
        end = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, end - time.monotonic()))
            chunk = os.read(self.fd, 65536) if ready else b""
            if not chunk:
                raise RuntimeError(
                    f"the poller said nothing for {timeout_s:.0f} s (exit {self.proc.poll()})"
                )
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode().strip()


def schedule(pids: list[int], realtime: bool) -> None:
    """Every thread of each process to SCHED_FIFO 50 (chrt), or back to SCHED_OTHER."""
    policy = ["-f", "50"] if realtime else ["-o", "0"]
    for pid in pids:
        subprocess.run(["chrt", "-a", "-p", *policy, str(pid)], check=True,
                       capture_output=True, timeout=10)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100, help="background Services")
    parser.add_argument("--changes", type=int, default=50,
                        help="probe Services per mode, one at a time")  # fmt: skip
    parser.add_argument("--interval-ms", type=float, default=1.0, help="poll interval")
    parser.add_argument("--deadline-s", type=float, default=10.0, help="per probe, at most")
    parser.add_argument("--no-realtime", dest="realtime", action="store_false",
                        help="skip the probes with the coredns pods at real-time priority")  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--poll", nargs="+", metavar="POD_IP", help=argparse.SUPPRESS)
    parser.add_argument("--names", nargs="+", metavar="NAME=IP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.poll:  # the poller, in a node's network namespace
        pairs = [tuple(x.split("=", 1)) for x in args.names]
        poll(pairs, args.poll, args.interval_ms / 1000, args.deadline_s)
        return

    from lab_kit import Lab
    from lab_kit.lab import access

    modes = MODES if args.realtime else MODES[:1]
    count = args.changes * len(modes)
    print(f"lab_kit DNS programming latency on {os.cpu_count()} cores: {args.services} "
          f"background Services, {args.changes} probes per mode ({', '.join(modes)}; "
          f"alternating), polled every {args.interval_ms:g} ms", flush=True)  # fmt: skip
    t0 = time.monotonic()
    lab = Lab.up()
    poller = None
    rows: list[dict] = []
    try:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        lab.apply([ns] + [background(i) for i in range(args.services)], wait=True)
        lab.wait(timeout_s=60)
        dns_pods = sorted(lab.get("pods", namespace="kube-system", selector="k8s-app=kube-dns"),
                          key=lambda p: p["spec"]["nodeName"])  # fmt: skip
        pod_ips = [p["status"]["podIP"] for p in dns_pods]
        pids = [lab.sandbox(p["metadata"]["name"], "kube-system")["containers"]["coredns"]
                ["pid"]["pid"] for p in dns_pods]  # fmt: skip
        busy = {p["spec"]["nodeName"] for p in dns_pods}
        node = next(n for n in ("node1", "node2", "node3") if n not in busy)
        probes = [probe(j) for j in range(count)]
        limit = int(count * (args.deadline_s + 2) + 30)
        argv = ["timeout", str(limit), sys.executable, "-u", os.path.abspath(__file__),
                "--interval-ms", str(args.interval_ms), "--deadline-s", str(args.deadline_s),
                "--poll", *pod_ips, "--names",
                *(f"{fqdn(svc['metadata']['name'])}={ip}" for svc, ip in probes)]  # fmt: skip
        print(f"lab and {args.services} Services ready in {time.monotonic() - t0:.1f} s; "
              f"coredns pods {pod_ips} on {sorted(busy)}; poller on {node}", flush=True)  # fmt: skip
        poller = subprocess.Popen(access.host_argv(node, argv), stdout=subprocess.PIPE)
        lines = Lines(poller)
        for j, (svc, _ip) in enumerate(probes):
            mode = modes[j % len(modes)]
            schedule(pids, realtime=mode == "realtime")
            name = fqdn(svc["metadata"]["name"])
            line = lines.next(30)
            assert line == f"polling {name}", line
            created = time.time()
            lab.apply(svc)
            applied = time.time()
            done = lines.next(args.deadline_s + 10).split()
            assert done[:2] == ["done", name], done
            stamps = [float(x) for x in done[2:5]]
            rows.append({"mode": mode, "api": applied - created, "queries": int(done[5]),
                         **{t: s - created for t, s in zip(TARGETS, stamps, strict=True)}})  # fmt: skip
            lab.wait(timeout_s=60)
        schedule(pids, realtime=False)
        poller.wait(timeout=30)
    finally:
        if poller is not None and poller.poll() is None:
            poller.kill()
            poller.wait(timeout=10)
        t1 = time.monotonic()
        lab.down()
        print(f"lab down in {time.monotonic() - t1:.1f} s; whole run {time.monotonic() - t0:.0f} s")
    report(rows, modes, args)


def report(rows: list[dict], modes: tuple[str, ...], args) -> None:
    cols = [*TARGETS, "first pod", "api"]
    for r in rows:
        r["first pod"] = min(r["pod A"], r["pod B"])
    stats: dict[tuple[str, str], dict] = {}
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        missed = {t: sum(1 for r in mine if r[t] != r[t]) for t in TARGETS}  # nan: no answer
        print(f"{mode}: {len(mine)} probes; queries per probe (all targets) median "
              f"{statistics.median(r['queries'] for r in mine):.0f}; no answer within "
              f"{args.deadline_s:g} s: {missed}")  # fmt: skip
        for t in cols:
            values = [r[t] for r in mine if r[t] == r[t]]
            s = {"p50": percentile(values, 50), "p99": percentile(values, 99),
                 "mean": statistics.mean(values), "min": min(values)}  # fmt: skip
            stats[(mode, t)] = s
            label = t if t != "api" else "lab.apply returned"
            print(f"  {label:<20} p50 {s['p50'] * 1e3:6.1f} ms  p99 {s['p99'] * 1e3:6.1f} ms  "
                  f"mean {s['mean'] * 1e3:6.1f} ms  min {s['min'] * 1e3:6.1f} ms")  # fmt: skip
    if args.markdown:
        head = " | ".join(f"{m}: p50 | {m}: **p99**" for m in modes)
        print(f"| Service created -> first correct answer from | {head} |")
        print("|" + " --- |" * (1 + 2 * len(modes)))
        labels = {"pod A": "coredns pod A, directly", "pod B": "coredns pod B, directly",
                  "first pod": "the first of the two pods",
                  "kube-dns": "kube-dns 10.96.0.10 (ClusterIP)",
                  "api": "(`lab.apply` returned: the API write)"}  # fmt: skip
        for t in cols:
            cells = " | ".join(f"{stats[(m, t)]['p50'] * 1e3:.1f} ms | "
                               f"**{stats[(m, t)]['p99'] * 1e3:.1f} ms**" for m in modes)  # fmt: skip
            print(f"| {labels[t]} | {cells} |")


if __name__ == "__main__":
    main()
