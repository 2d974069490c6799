"""Benchmark: the cluster from outside — NodePort and LoadBalancer against direct, LB
programming latency, and failover when a node drops.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/outside.py [--rounds 3]
        [--duration-s 3] [--connections 48] [--probes 20] [--markdown]

Brings up the default lab, runs three parts from the outside `client` host (192.0.2.10),
then takes the lab down. Every loop is bounded in count and in time.

1. Requests/s and p50/p99 with `wrk` (the apt package, `timeout`-wrapped) run in the
   client's network namespace, against one agnhost `netexec` pod on node2 (GET /hostname):
     direct            the pod's IP. The client has no route to pod IPs (gw, the router,
                       knows only the node network and the outside ranges), so for this part
                       only the script adds one route in gw's namespace, node2's pod CIDR via
                       node2, as a VPC-native cloud routes pod ranges; it is removed after.
                       Same server, same number of hops as a NodePort on node2.
     NodePort node2    node2:nodePort (externalTrafficPolicy Cluster): DNAT + SNAT, same node
     NodePort node1    node1:nodePort: DNAT + SNAT and a hop on to node2
     LB, Cluster       the LoadBalancer address: gw -> cloud-lb (Maglev, VIP pass-through)
                       -> any of the three nodes -> node2's pod; replies skip cloud-lb
     LB, Local         a second Service, externalTrafficPolicy Local: only node2 passes its
                       health check, so cloud-lb sends every flow there; no SNAT
   in two modes: keep-alive (wrk's default) and a new connection per request
   (`Connection: close`; the client's namespace gets net.ipv4.tcp_tw_reuse=1, its own
   sysctl, not the machine's). Targets rotate within a round, the order reversed every
   other round; figures are medians over rounds, the ratio is against direct.
2. LB programming latency: --probes LoadBalancer Services (alternately Cluster and Local,
   selecting the same pod) created one at a time, each asking for a free pool address with
   `spec.loadBalancerIP` so that the client can knock before the address exists. A poller
   (python3 in the client's namespace) tries a new connection every 20 ms (20 ms connect
   timeout; a SYN to an address not yet programmed is dropped by cloud-lb's blackhole) and
   stamps its first HTTP answer (`time.time()`, the machine's clock); the script stamps
   just before `lab.apply`. Nearest-rank percentiles.
3. Failover: three pods (one per node) behind a LoadBalancer Service, per policy (Local,
   then Cluster). The client loops GET /hostname to the LB address, a new connection per
   request, 0.5 s timeout, while node2 is dropped (`Lab.disconnect_node`) and connected
   again. Printed: failures and their span after the drop, when cloud-lb took node2 out of
   rotation (its cloud-lb.json, polled every 0.2 s), and after reconnecting, when node2 was
   back in rotation and its pod answered again — beside cloud-lb's health-check settings
   (lab_kit/render/cloud_lb.py). Under Cluster the other nodes go on sending a third of
   their flows to node2's pod until its endpoint is removed, which waits for the node
   monitor grace period (50 s): that phase stays disconnected until the pod is NotReady
   and a few seconds more (at most --max-down-s).
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from clusterip_rps import cpu_times, parse_wrk, process_ticks, server_pid  # noqa: E402

from lab_kit import Lab  # noqa: E402
from lab_kit.adapters.rundir import RunDir  # noqa: E402
from lab_kit.render import cloud_lb as lb  # noqa: E402

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
CLIENT = "client"
POOL = ipaddress.ip_network("198.51.100.32/27")  # the default topology's LB pool


# --- objects ---------------------------------------------------------------------------------
def web_pod(name: str, node: str, labels: dict) -> dict:
    container = {
        "name": "server",
        "image": AGNHOST,
        "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/hostname", "port": 8080}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": [container]},
    }


def lb_service(name: str, selector: dict, policy: str, address: str = "") -> dict:
    spec = {
        "type": "LoadBalancer",
        "selector": selector,
        "ports": [{"port": 80, "targetPort": 8080}],
        "externalTrafficPolicy": policy,
    }
    if address:
        spec["loadBalancerIP"] = address
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def lb_address(lab: Lab, name: str, timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = lab.get("services", name).get("status") or {}
        ingress = (status.get("loadBalancer") or {}).get("ingress") or [{}]
        if ingress[0].get("ip"):
            return ingress[0]["ip"]
        time.sleep(0.1)
    raise RuntimeError(f"{name} got no load balancer address in {timeout_s:g} s")


def wait_for(what: str, check, timeout_s: float) -> float:
    """Poll `check` every 0.2 s; the time.time() it first held (raises after timeout_s)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.2)
    return time.time()


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))]


def ms(s: float) -> str:
    return f"{s * 1000:.1f} ms"


# --- part 1: requests/s ----------------------------------------------------------------------
def wrk(lab: Lab, url: str, args: argparse.Namespace, close: bool, server: int) -> dict:
    header = ["-H", "Connection: close"] if close else []
    limit = str(int(args.duration_s + 10))  # wrk can hang when SYNs are dropped: bounded
    argv = ["timeout", limit, "wrk", "-t1", f"-c{args.connections}", f"-d{args.duration_s:g}s",
            "--latency", "--timeout", "2s", *header, url]  # fmt: skip
    busy0, served0, t0 = cpu_times(), process_ticks(server), time.monotonic()
    out = lab.host(CLIENT, *argv)
    busy1, served1, t1 = cpu_times(), process_ticks(server), time.monotonic()
    r = parse_wrk(out.stdout + out.stderr)
    r["errors"] += r.pop("non2xx")
    r["cpu"] = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    r["server"] = (served1 - served0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)
    return r


def throughput(lab: Lab, targets: dict[str, str], args: argparse.Namespace, close: bool,
               server: int) -> dict[str, dict]:  # fmt: skip
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    order = list(targets)
    for k in range(args.rounds):
        for name in order if k % 2 == 0 else order[::-1]:
            runs[name].append(wrk(lab, targets[name], args, close, server))
    out = {}
    for name, rs in runs.items():
        out[name] = {key: statistics.median(r[key] for r in rs)
                     for key in ("rps", "p50", "p99", "cpu", "server")}  # fmt: skip
        out[name]["errors"] = sum(r["errors"] for r in rs)
        out[name]["requests"] = sum(r["requests"] for r in rs)
        out[name]["rounds"] = [round(r["rps"]) for r in rs]
    for name in out:
        out[name]["ratio"] = out[name]["rps"] / out["direct"]["rps"]
    return out


def part_throughput(lab: Lab, args: argparse.Namespace, nodes: dict, lbs: dict) -> list:
    pod_ip = lab.get("pods", "web-one")["status"]["podIP"]
    np = lab.get("services", "one-cluster")["spec"]["ports"][0]["nodePort"]
    targets = {
        "direct": f"http://{pod_ip}:8080/hostname",
        "NodePort node2": f"http://{nodes['node2']['ip']}:{np}/hostname",
        "NodePort node1": f"http://{nodes['node1']['ip']}:{np}/hostname",
        "LB, Cluster": f"http://{lbs['one-cluster']}/hostname",
        "LB, Local": f"http://{lbs['one-local']}/hostname",
    }
    route = [nodes["node2"]["podCIDR"], "via", nodes["node2"]["ip"]]
    lab.host("gw", "ip", "route", "add", *route)  # the VPC-native route, gw's namespace only
    lab.host(CLIENT, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1")  # the client's namespace
    rows = []
    try:
        for name, url in targets.items():
            out = lab.host(CLIENT, "curl", "-s", "-m", "2", url)
            if out.stdout.strip() != "web-one":
                raise RuntimeError(f"{name} {url}: {out}")
        server = server_pid(lab, "web-one")
        for close in (False, True):
            res = throughput(lab, targets, args, close, server)
            rows.append((close, res))
            print_throughput(close, res)
    finally:
        lab.host("gw", "ip", "route", "del", *route)
    return rows


def print_throughput(close: bool, res: dict) -> None:
    mode = "new connection per request" if close else "keep-alive"
    for name, r in res.items():
        print(f"{mode:<27} {name:<15} {r['rps']:7.0f} req/s ratio {r['ratio']:.2f} "
              f"p50 {ms(r['p50'])} p99 {ms(r['p99'])} CPU {r['cpu']:.0%} server "
              f"{r['server']:.2f} cores errors {r['errors']} of {r['requests']} "
              f"rounds {r['rounds']}", flush=True)  # fmt: skip


# --- part 2: LB programming ------------------------------------------------------------------
# Knocks every 20 ms (a new connection, 20 ms connect timeout) until an HTTP answer; prints
# "ready" after its first failed knock, then the time of the first answer. Bounded by time.
POLLER = r"""
import socket, sys, time
addr, limit = sys.argv[1], float(sys.argv[2])
end, said = time.time() + limit, False
while time.time() < end:
    start = time.time()
    try:
        s = socket.create_connection((addr, 80), timeout=0.02)
        s.settimeout(1)
        s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
        if s.recv(64).startswith(b"HTTP/1.1 200"):
            print(f"{time.time():.6f}", flush=True)
            break
    except OSError:  # a dropped SYN times out after 20 ms; anything quicker waits it out
        time.sleep(max(0.0, start + 0.02 - time.time()))
    if not said:
        print("ready", flush=True)
        said = True
"""


def probe(lab: Lab, name: str, policy: str, address: str, limit_s: float) -> dict:
    argv = RunDir().host_argv(CLIENT, ["timeout", str(int(limit_s + 5)), "python3", "-c",
                                       POLLER, address, str(limit_s)])  # fmt: skip
    poller = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        if poller.stdout is None or poller.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the poller for {address} did not start")
        t0 = time.time()
        lab.apply(lb_service(name, {"one": "yes"}, policy, address))
        applied = time.time() - t0
        line = poller.stdout.readline().strip()
    finally:
        poller.wait(timeout=limit_s + 10)
    lab.wait()
    return {"policy": policy, "apply": applied, "first": float(line) - t0 if line else None}


def part_programming(lab: Lab, args: argparse.Namespace) -> list[dict]:
    used = {a["address"] for a in lab.load_balancer()}
    free = [str(a) for a in reversed(list(POOL)[1:-1]) if str(a) not in used]
    results = []
    for i in range(args.probes):
        policy = ("Cluster", "Local")[i % 2]
        r = probe(lab, f"probe-{i}", policy, free[i], args.probe_limit_s)
        results.append(r)
        first = "no answer" if r["first"] is None else ms(r["first"])
        print(f"probe-{i:<3} {policy:<8} {free[i]:<15} first answer {first} "
              f"(lab.apply returned after {ms(r['apply'])})", flush=True)  # fmt: skip
    return results


def summarize_programming(results: list[dict]) -> list[dict]:
    rows = []
    for policy in ("Cluster", "Local", "both"):
        rs = [r for r in results if policy in (r["policy"], "both")]
        got = [r["first"] for r in rs if r["first"] is not None]
        rows.append({"policy": policy, "n": len(rs), "answered": len(got),
                     "p50": pct(got, 50) if got else float("nan"),
                     "p99": pct(got, 99) if got else float("nan"),
                     "apply_p50": pct([r["apply"] for r in rs], 50)})  # fmt: skip
    return rows


# --- part 3: failover -------------------------------------------------------------------------
LOOP = r"""
import http.client, socket, sys, time
host, limit, count, timeout = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
end = time.time() + limit
for _ in range(count):
    if time.time() > end:
        break
    t = time.time()
    c = http.client.HTTPConnection(host, timeout=timeout)
    try:
        c.request("GET", "/hostname")
        answer = c.getresponse().read().decode() or "EMPTY"
    except socket.timeout:
        answer = "ERR timeout"
    except ConnectionRefusedError:
        answer = "ERR refused"
    except (ConnectionResetError, http.client.RemoteDisconnected):
        answer = "ERR reset"
    except OSError as e:
        answer = f"ERR {type(e).__name__}"
    finally:
        c.close()
    print(f"{t:.3f} {answer}", flush=True)
"""
TIMEOUT_S = 0.5


class ClientLoop:
    """LOOP in the client's namespace, its lines (flushed each) into a file of ours; ended
    by its own limits or by `stop()` (SIGTERM to the process we started)."""

    def __init__(self, address: str, seconds: float):
        self.out = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop)
        argv = ["timeout", str(int(seconds + 10)), "python3", "-c", LOOP, address,
                str(seconds), "200000", str(TIMEOUT_S)]  # fmt: skip
        self.proc = subprocess.Popen(RunDir().host_argv(CLIENT, argv), stdout=self.out)

    def stop(self) -> list[tuple[float, str]]:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.out.seek(0)
        lines = [line.split(" ", 1) for line in self.out.read().splitlines() if " " in line]
        self.out.close()
        return [(float(t), a) for t, a in lines]


def pod_ready(lab: Lab, name: str) -> bool:
    conditions = (lab.get("pods", name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def failover(lab: Lab, policy: str, address: str, args: argparse.Namespace) -> dict:
    lead, after = 3.0, 12.0
    if policy == "Local":
        down = args.local_down_s
    else:
        down = args.max_down_s
    loop = ClientLoop(address, lead + down + after + 120)
    try:
        return phases(lab, policy, address, loop, lead, down, after)
    finally:
        if loop.proc.poll() is None:  # an error on the way: end the loop all the same
            loop.stop()


def phases(lab: Lab, policy: str, address: str, loop: ClientLoop, lead: float, down: float,
           after: float) -> dict:  # fmt: skip
    time.sleep(lead)
    t_drop = time.time()
    lab.disconnect_node("node2")
    try:
        out_at = wait_for(
            "node2 out", lambda: "node2" not in lab.load_balancer().in_rotation(address), 15
        )
        if policy == "Cluster":  # until node2's pod is NotReady (its endpoint removed), + 5 s
            not_ready = wait_for("web-2 NotReady", lambda: not pod_ready(lab, "web-2"), down)
            ip = lab.get("pods", "web-2")["status"]["podIP"]
            unruled = wait_for(
                "web-2 out of node1's rules",
                lambda: not str(lab.iptables("node1", "nat", grep=ip)).strip(),
                15,
            )
            time.sleep(5)
        else:
            not_ready = unruled = None
            time.sleep(max(0.0, t_drop + down - time.time()))
    finally:
        t_back = time.time()
        lab.connect_node("node2")
    in_at = wait_for("node2 back", lambda: "node2" in lab.load_balancer().in_rotation(address), 90)
    ready_at = wait_for("web-2 Ready", lambda: pod_ready(lab, "web-2"), 90)
    time.sleep(after)
    stop_at = time.time()
    answers = [(t, a) for t, a in loop.stop() if t < stop_at]
    return analyze(policy, answers, t_drop, t_back, (out_at, not_ready, unruled, in_at, ready_at))


def analyze(policy: str, answers: list[tuple[float, str]], t_drop: float, t_back: float,
            stamps: tuple) -> dict:  # fmt: skip
    out_at, not_ready, unruled, in_at, ready_at = stamps
    down = [(t, a) for t, a in answers if t_drop <= t < t_back]
    back = [(t, a) for t, a in answers if t >= t_back]
    fails = [t for t, a in down if a.startswith("ERR")]
    first_web2 = next((t for t, a in back if a == "web-2"), None)
    return {
        "policy": policy,
        "before": sum(1 for t, a in answers if t < t_drop and a.startswith("ERR")),
        "down_total": len(down), "down_failed": len(fails),
        "kinds": Counter(a.removeprefix("ERR ") for _, a in down if a.startswith("ERR")),
        "first_fail": fails[0] - t_drop if fails else None,
        "last_fail": fails[-1] - t_drop if fails else None,
        "out_at": out_at - t_drop,
        "not_ready": not_ready - t_drop if not_ready else None,
        "unruled": unruled - t_drop if unruled else None,
        # failures by the second after the drop in which they started
        "per_s": dict(sorted(Counter(int(t - t_drop) for t in fails).items())),
        "down_s": t_back - t_drop,
        "back_total": len(back), "back_failed": sum(1 for _, a in back if a.startswith("ERR")),
        "in_at": in_at - t_back, "ready_at": ready_at - t_back,
        "first_web2": first_web2 - t_back if first_web2 else None,
        "pods": Counter(a for _, a in answers if not a.startswith("ERR")),
    }  # fmt: skip


def print_failover(r: dict) -> None:
    def s(x):
        return "–" if x is None else f"{x:.2f} s"

    print(f"failover {r['policy']:<8} node2 dropped {r['down_s']:.1f} s: failed "
          f"{r['down_failed']} of {r['down_total']} ({dict(r['kinds'])}), first {s(r['first_fail'])} "
          f"last {s(r['last_fail'])} after the drop; node2 out of rotation at {s(r['out_at'])}, "
          f"web-2 NotReady at {s(r['not_ready'])}, out of node1's rules at "
          f"{s(r['unruled'])}; failures per second after the drop {r['per_s']}; reconnected: node2 in rotation after "
          f"{s(r['in_at'])}, web-2 Ready after {s(r['ready_at'])}, first answer from web-2 "
          f"after {s(r['first_web2'])}, failed {r['back_failed']} of {r['back_total']}; "
          f"failures before the drop {r['before']}; answers by pod {dict(r['pods'])}",
          flush=True)  # fmt: skip


# --- the run ---------------------------------------------------------------------------------
def node_info(lab: Lab) -> dict:
    nodes = {}
    for n in lab.get("nodes"):
        ip = next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
        nodes[n["metadata"]["name"]] = {"ip": ip, "podCIDR": n["spec"]["podCIDR"]}
    return nodes


def setup(lab: Lab) -> dict[str, str]:
    """The pods and the four Services; each Service's LB address."""
    pods = [web_pod("web-one", "node2", {"one": "yes"})]
    pods += [web_pod(f"web-{i}", f"node{i}", {"app": "web"}) for i in (1, 2, 3)]
    services = [
        lb_service("one-cluster", {"one": "yes"}, "Cluster"),
        lb_service("one-local", {"one": "yes"}, "Local"),
        lb_service("fo-local", {"app": "web"}, "Local"),
        lb_service("fo-cluster", {"app": "web"}, "Cluster"),
    ]
    lab.apply(pods + services, wait=True)
    lbs = {s["metadata"]["name"]: lb_address(lab, s["metadata"]["name"]) for s in services}
    for name, address in lbs.items():  # every node that should be in rotation is
        want = {"one-local": {"node2"}}.get(name, {"node1", "node2", "node3"})
        wait_for(f"{name}'s rotation", lambda a=address, w=want: set(
            lab.load_balancer().in_rotation(a)) == w, 20)  # fmt: skip
    return lbs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration-s", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--probes", type=int, default=20, help="LB Services for part 2")
    parser.add_argument("--probe-limit-s", type=float, default=10.0)
    parser.add_argument("--local-down-s", type=float, default=15.0)
    parser.add_argument("--max-down-s", type=float, default=90.0, help="Cluster phase, at most")
    parser.add_argument("--parts", default="rps,programming,failover")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = parser.parse_args()
    parts = args.parts.split(",")
    print(f"lab_kit outside benchmark on {os.cpu_count()} cores: wrk -t1 -c{args.connections}, "
          f"{args.rounds} rounds x {args.duration_s:g} s per target and mode; {args.probes} "
          f"LB probes; health checks every {lb.CHECK_INTERVAL_S:g} s, timeout "
          f"{lb.CHECK_TIMEOUT_S:g} s, in after {lb.HEALTHY_THRESHOLD}, out after "
          f"{lb.UNHEALTHY_THRESHOLD}", flush=True)  # fmt: skip
    t0 = time.monotonic()
    lab = Lab.up()
    rps, programming, failovers = [], [], []
    try:
        lbs = setup(lab)
        nodes = node_info(lab)
        print(f"lab and Services ready in {time.monotonic() - t0:.1f} s: {lbs}", flush=True)
        if "rps" in parts:
            rps = part_throughput(lab, args, nodes, lbs)
        if "programming" in parts:
            programming = summarize_programming(part_programming(lab, args))
            for r in programming:
                print(f"LB programming {r['policy']:<8} p50 {ms(r['p50'])} p99 {ms(r['p99'])} "
                      f"({r['answered']} of {r['n']} answered)", flush=True)  # fmt: skip
        if "failover" in parts:
            for policy in ("Local", "Cluster"):
                failovers.append(failover(lab, policy, lbs[f"fo-{policy.lower()}"], args))
                print_failover(failovers[-1])
    finally:
        lab.down()
        print(f"total {time.monotonic() - t0:.0f} s")
    if args.markdown:
        print_markdown(rps, programming, failovers)


def print_markdown(rps: list, programming: list[dict], failovers: list[dict]) -> None:
    if rps:
        print("\n| mode | path | req/s | **/ direct** | p50 / p99 | CPU busy | server | errors |")
        print("|" + " --- |" * 8)
        for close, res in rps:
            mode = "new connection per request" if close else "keep-alive"
            for name, r in res.items():
                print(f"| {mode} | {name} | {r['rps']:,.0f} | **{r['ratio']:.2f}** | "
                      f"{ms(r['p50'])} / {ms(r['p99'])} | {r['cpu']:.0%} | "
                      f"{r['server']:.2f} cores | {r['errors']} |")  # fmt: skip
    if programming:
        print("\n| Services | created -> first answer p50 | **p99** | answered | apply p50 |")
        print("|" + " --- |" * 5)
        for r in programming:
            print(f"| {r['policy']} ({r['n']}) | {ms(r['p50'])} | **{ms(r['p99'])}** | "
                  f"{r['answered']} / {r['n']} | {ms(r['apply_p50'])} |")  # fmt: skip
    if failovers:

        def s(x):
            return "–" if x is None else f"{x:.1f} s"

        print(
            "\n| policy | node2 down | failed / total | failures from / to | out of rotation "
            "| pod NotReady / out of rules | back: in rotation / first answer from its pod | failed after |"
        )
        print("|" + " --- |" * 8)
        for r in failovers:
            print(f"| {r['policy']} | {r['down_s']:.1f} s | **{r['down_failed']}** / "
                  f"{r['down_total']} | {s(r['first_fail'])} / {s(r['last_fail'])} | "
                  f"{s(r['out_at'])} | {s(r['not_ready'])} / {s(r['unruled'])} | {s(r['in_at'])} / "
                  f"{s(r['first_web2'])} | {r['back_failed']} / {r['back_total']} |")  # fmt: skip


if __name__ == "__main__":
    main()
