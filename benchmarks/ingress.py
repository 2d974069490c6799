"""Benchmark: the ingress controller against a hand-written nginx and against the pods, and
how soon a change is served.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/ingress.py [--rounds 3]
        [--duration-s 3] [--connections 48] [--access-log on|off] [--changes 20] [--markdown]

Brings up the default lab with the `ingress` addon (ingress-nginx's shape: the controller pod
running this machine's nginx behind the LoadBalancer Service ingress-nginx-controller,
externalTrafficPolicy Local), runs two parts from the outside `client` host (192.0.2.10),
then takes the lab down. Every loop is bounded in count and in time.

1. Requests/s and p50/p99 with `wrk` (`timeout`-wrapped) in the client's network namespace.
   Backends: three pods of the `nginx` image (nginx's default page), one per node, app=web.
   Three paths, each through cloud-lb to a LoadBalancer Service with externalTrafficPolicy
   Local, so each crosses the same hops up to the first pod:
     ingress        the controller's address, Host: bench.example; an Ingress rule for that
                    host sends / to Service `web`: the controller's rendered nginx.conf
     hand-written   a pod of the `nginx` image on the controller's node, started with a
                    configuration this script writes (no ConfigMap: `sh -c` writes it in the
                    container's /tmp): the same host and route, an upstream of the same three
                    pod IPs with HTTP/1.1 keep-alive (`keepalive 320`, as the controller's),
                    the controller's worker_processes, access log on or off as the
                    controller's (--access-log; `off` sets the controller ConfigMap's
                    disable-access-log: "true")
     direct         Service `web-lb` over the three backends: no proxy in between
   in two modes: keep-alive and a new connection per request (`Connection: close`; the
   client's namespace gets net.ipv4.tcp_tw_reuse=1, its own sysctl). Targets rotate within a
   round, the order reversed every other round; medians over rounds. Printed beside: the
   ratio ingress / hand-written (goal >= 0.9), how busy the machine was, and the CPU of
   each proxy pod's processes (nginx master and workers; the controller's Python too).
2. Change -> served, from the client (a poller in its namespace: a new connection every
   5 ms, GET with the probe's Host, 0.5 s timeout; it stamps `time.time()`, the machine's
   clock, at its first wanted answer; the script stamps just before `lab.apply`):
     Ingress change   --changes times a new host rule probe-N.example added to the Ingress
                      `probes` (-> Service web); before it, the controller answers 404
                      (the default backend); wanted: 200.
     endpoint change  --changes times a running, ready agnhost pod (ep-1, ep-2 in turn)
                      gets the label the Service `ep` selects (ep-0 always has it), so the
                      EndpointSlice controller adds a ready endpoint; wanted: an answer from
                      that pod (GET /hostname, Host: ep.example). The label goes again after
                      each probe, and the next waits until every agent has settled.
   Also printed: the controller's reload times over the probes (its log line "Backend
   successfully reloaded in N ms": nginx -t, SIGHUP, until the new workers answer).
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from clusterip_rps import cpu_times, parse_wrk  # noqa: E402
from outside import pct, wait_for  # noqa: E402

from lab_kit import Lab  # noqa: E402
from lab_kit.adapters.rundir import RunDir  # noqa: E402

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
CLIENT = "client"
NS = "ingress-nginx"
CONTROLLER_SERVICE = "ingress-nginx-controller"
HOST = "bench.example"
EP_HOST = "ep.example"
NODES = ("node1", "node2", "node3")


# --- objects ---------------------------------------------------------------------------------
def pod(name: str, node: str, labels: dict, container: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": [container]},
    }


def nginx_backend(name: str, node: str) -> dict:
    container = {
        "name": "nginx",
        "image": "nginx",
        "ports": [{"containerPort": 80}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1},
    }
    return pod(name, node, {"app": "web"}, container)


def agnhost_pod(name: str, node: str, serving: bool) -> dict:
    container = {
        "name": "server",
        "image": AGNHOST,
        "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/hostname", "port": 8080}, "periodSeconds": 1},
    }
    labels = {"app": "ep", **({"ep": "serving"} if serving else {})}
    return pod(name, node, labels, container)


def service(name: str, selector: dict, target: int, lb: bool = False) -> dict:
    spec: dict = {"selector": selector, "ports": [{"port": 80, "targetPort": target}]}
    if lb:
        spec |= {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def rule(host: str, svc: str) -> dict:
    backend = {"service": {"name": svc, "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {"host": host, "http": {"paths": [path]}}


def ingress(name: str, rules: list[dict]) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {"ingressClassName": "nginx", "rules": rules},
    }


# The hand-written configuration: what one would write for the same route by hand.
HANDWRITTEN = """worker_processes {workers};
pid /tmp/hw/nginx.pid;
error_log stderr notice;
events {{
    worker_connections 1024;
}}
http {{
    client_body_temp_path /tmp/hw/client_body;
    proxy_temp_path /tmp/hw/proxy;
    fastcgi_temp_path /tmp/hw/fastcgi;
    uwsgi_temp_path /tmp/hw/uwsgi;
    scgi_temp_path /tmp/hw/scgi;
    log_format bench '$remote_addr - $remote_user [$time_local] "$request" $status '
                     '$body_bytes_sent "$http_referer" "$http_user_agent" $request_length '
                     '$request_time [$proxy_host] $upstream_addr $upstream_status '
                     '$upstream_response_time $request_id';
    access_log {access_log};
    keepalive_timeout 75s;
    upstream web {{
{servers}
        keepalive 320;
    }}
    server {{
        listen 80 default_server;
        server_name _;
        return 404;
    }}
    server {{
        listen 80;
        server_name {host};
        location / {{
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""


def handwritten_pod(node: str, backends: list[str], workers: str, access_log: bool) -> dict:
    conf = HANDWRITTEN.format(
        workers=workers,
        access_log="/dev/stdout bench" if access_log else "off",
        servers="\n".join(f"        server {ip}:80 max_fails=0;" for ip in backends),
        host=HOST,
    )
    script = (
        "mkdir -p /tmp/hw && cat > /tmp/hw/nginx.conf <<'EOF'\n" + conf + "EOF\n"
        "exec nginx -c /tmp/hw/nginx.conf -e stderr -g 'daemon off;'\n"
    )
    container = {
        "name": "nginx",
        "image": "nginx",
        "command": ["sh", "-c", script],
        "ports": [{"containerPort": 80}],
        "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1},
    }
    return pod("handwritten", node, {"app": "handwritten"}, container)


# --- helpers ---------------------------------------------------------------------------------
def controller(lab: Lab) -> dict:
    pods = [p for p in lab.get("pods", namespace=NS) if not p["metadata"].get("deletionTimestamp")]
    if len(pods) != 1:
        raise RuntimeError(f"expected one controller pod, found {len(pods)}")
    return pods[0]


def tree_pids(root: int) -> list[int]:
    """`root` and its descendants (/proc/*/stat's parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def tree_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:  # a worker gone: its ticks are lost, a small undercount
            continue
    return total


def container_pid(lab: Lab, name: str, namespace: str = "default") -> int:
    containers = lab.sandbox(name, namespace)["containers"]
    return next(iter(containers.values()))["pid"]["pid"]


def lb_address(lab: Lab, name: str, namespace: str = "default", timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = lab.get("services", name, namespace).get("status") or {}
        entries = (status.get("loadBalancer") or {}).get("ingress") or [{}]
        if entries[0].get("ip"):
            return entries[0]["ip"]
        time.sleep(0.1)
    raise RuntimeError(f"{namespace}/{name} got no load balancer address in {timeout_s:g} s")


def ms(s: float) -> str:
    return f"{s * 1000:.1f} ms"


# --- part 1: requests/s ----------------------------------------------------------------------
def wrk(lab: Lab, target: dict, args: argparse.Namespace, close: bool) -> dict:
    header = ["-H", "Connection: close"] if close else []
    host = ["-H", f"Host: {target['host']}"] if target["host"] else []
    limit = str(int(args.duration_s + 10))  # wrk can hang when SYNs are dropped: bounded
    argv = ["timeout", limit, "wrk", "-t1", f"-c{args.connections}", f"-d{args.duration_s:g}s",
            "--latency", "--timeout", "2s", *header, *host, target["url"]]  # fmt: skip
    pids = tree_pids(target["proxy"]) if target["proxy"] else []
    busy0, proxy0, t0 = cpu_times(), tree_ticks(pids), time.monotonic()
    out = lab.host(CLIENT, *argv)
    busy1, proxy1, t1 = cpu_times(), tree_ticks(pids), time.monotonic()
    r = parse_wrk(out.stdout + out.stderr)
    r["errors"] += r.pop("non2xx")
    r["cpu"] = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    r["proxy"] = (proxy1 - proxy0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)
    return r


def throughput(lab: Lab, targets: dict[str, dict], args: argparse.Namespace,
               close: bool) -> dict[str, dict]:  # fmt: skip
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    order = list(targets)
    for k in range(args.rounds):
        for name in order if k % 2 == 0 else order[::-1]:
            runs[name].append(wrk(lab, targets[name], args, close))
    out = {}
    for name, rs in runs.items():
        ordered = sorted(rs, key=lambda r: r["rps"])
        median = ordered[len(ordered) // 2]  # one run's figures, not a mix of runs
        out[name] = {k: median[k] for k in ("rps", "p50", "p99", "cpu", "proxy")}
        out[name]["errors"] = sum(r["errors"] for r in rs)
        out[name]["requests"] = sum(r["requests"] for r in rs)
        out[name]["rounds"] = [round(r["rps"]) for r in rs]
    for name in out:
        out[name]["vs_hand"] = out[name]["rps"] / out["hand-written"]["rps"]
        out[name]["vs_direct"] = out[name]["rps"] / out["direct"]["rps"]
    return out


def part_throughput(lab: Lab, args: argparse.Namespace, lbs: dict, ctl: dict) -> list:
    targets = {
        "ingress": {"url": f"http://{lbs['ingress']}/", "host": HOST,
                    "proxy": container_pid(lab, ctl["metadata"]["name"], NS)},
        "hand-written": {"url": f"http://{lbs['handwritten']}/", "host": HOST,
                         "proxy": container_pid(lab, "handwritten")},
        "direct": {"url": f"http://{lbs['web-lb']}/", "host": "", "proxy": 0},
    }  # fmt: skip
    lab.host(CLIENT, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1")  # the client's namespace
    for name, t in targets.items():
        argv = ["curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}"]
        out = lab.host(CLIENT, *argv, *(["-H", f"Host: {t['host']}"] if t["host"] else []),
                       t["url"])  # fmt: skip
        if out.stdout.strip() != "200":
            raise RuntimeError(f"{name} {t['url']}: {out}")
    rows = []
    for close in [m == "close" for m in args.modes.split(",")]:
        res = throughput(lab, targets, args, close)
        rows.append((close, res))
        print_throughput(close, res)
    return rows


def print_throughput(close: bool, res: dict) -> None:
    mode = "new connection per request" if close else "keep-alive"
    for name, r in res.items():
        print(f"{mode:<27} {name:<13} {r['rps']:7.0f} req/s, / hand-written {r['vs_hand']:.2f}, "
              f"/ direct {r['vs_direct']:.2f}, p50 {ms(r['p50'])} p99 {ms(r['p99'])}, CPU "
              f"{r['cpu']:.0%}, proxy {r['proxy']:.2f} cores, errors {r['errors']} of "
              f"{r['requests']}, rounds {r['rounds']}", flush=True)  # fmt: skip


# --- part 2: change -> served ------------------------------------------------------------------
# A new connection every 5 ms with Host: argv[2] to http://argv[1]argv[3]; prints "ready" after
# its first answer (any), then the time of the first answer that is wanted: status 200
# (argv[4] == "200") or that body. Bounded by argv[5] seconds.
POLLER = r"""
import http.client, sys, time
addr, host, path, want, limit = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
end, said = time.time() + limit, False
while time.time() < end:
    start = time.time()
    c = http.client.HTTPConnection(addr, timeout=0.5)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        body = r.read().decode(errors="replace").strip()
        if (want == "200" and r.status == 200) or (want != "200" and body == want):
            print(f"{time.time():.6f}", flush=True)
            break
        if not said:
            print("ready", r.status, " ".join(body.split())[:40], flush=True)
            said = True
    except OSError:
        pass
    finally:
        c.close()
    time.sleep(max(0.0, start + 0.005 - time.time()))
"""


def probe(lab: Lab, address: str, host: str, path: str, want: str, change: object,
          limit_s: float) -> dict:  # fmt: skip
    argv = ["timeout", str(int(limit_s + 5)), "python3", "-c", POLLER, address, host, path,
            want, str(limit_s)]  # fmt: skip
    poller = subprocess.Popen(RunDir().host_argv(CLIENT, argv), stdout=subprocess.PIPE, text=True)
    try:
        first = poller.stdout.readline().strip() if poller.stdout else ""
        if not first.startswith("ready"):
            raise RuntimeError(f"the poller for {host} did not start: {first!r}")
        t0 = time.time()
        lab.apply(change)
        applied = time.time() - t0
        line = poller.stdout.readline().strip() if poller.stdout else ""
    finally:
        poller.wait(timeout=limit_s + 10)
    return {"before": first, "apply": applied, "served": float(line) - t0 if line else None}


def reload_times(lab: Lab, ctl: str, skip: int) -> tuple[list[float], int]:
    """The controller's reload times (ms) logged after its first `skip` reload lines."""
    times = [float(x) for x in re.findall(r"successfully reloaded in ([\d.]+) ms",
                                          lab.logs(ctl, NS))]  # fmt: skip
    return times[skip:], len(times)


def part_changes(lab: Lab, args: argparse.Namespace, address: str, ctl: str) -> dict:
    out: dict[str, list] = {"ingress": [], "endpoint": []}
    _, seen = reload_times(lab, ctl, 0)
    rules: list[dict] = []
    for i in range(args.changes):
        rules = [*rules, rule(f"probe-{i}.example", "web")]
        r = probe(lab, address, f"probe-{i}.example", "/", "200", ingress("probes", rules),
                  args.probe_limit_s)  # fmt: skip
        out["ingress"].append(r)
        print(f"Ingress change {i:<3} host probe-{i}.example: served after "
              f"{'never' if r['served'] is None else ms(r['served'])} (before: {r['before']}; "
              f"lab.apply returned after {ms(r['apply'])})", flush=True)  # fmt: skip
        lab.wait()
    out["ingress_reloads"], seen = reload_times(lab, ctl, seen)
    for i in range(args.changes):
        name = f"ep-{1 + i % 2}"
        r = probe(lab, address, EP_HOST, "/hostname", name, relabelled(lab, name, True),
                  args.probe_limit_s)  # fmt: skip
        out["endpoint"].append(r)
        print(f"endpoint change {i:<3} {name} joins Service ep: served after "
              f"{'never' if r['served'] is None else ms(r['served'])} (before: {r['before']}; "
              f"lab.apply returned after {ms(r['apply'])})", flush=True)  # fmt: skip
        lab.wait()
        lab.apply(relabelled(lab, name, False))  # it leaves again: not measured
        lab.wait()
    out["all_reloads"], _ = reload_times(lab, ctl, 0)
    out["nginx_t"] = nginx_test_s(lab, ctl)
    print(f"nginx -t on the final configuration: {out['nginx_t']} s", flush=True)
    return out


def relabelled(lab: Lab, name: str, serving: bool) -> dict:
    """The running pod with or without the label Service `ep` selects. Its whole current spec
    goes with it: lab.apply of the pod's manifest alone would drop the scheduler's
    spec.nodeName (unlike kubectl apply's merge), and the kubelet would restart the pod."""
    current = lab.get("pods", name)
    labels = {k: v for k, v in current["metadata"]["labels"].items() if k != "ep"}
    labels |= {"ep": "serving"} if serving else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": current["spec"]}  # fmt: skip


def nginx_test_s(lab: Lab, ctl: str, runs: int = 5) -> list[float]:
    """Wall time of `nginx -t` on the controller's current nginx.conf, in its container."""
    argv = ["/usr/bin/time", "-f", "%e", "nginx", "-p", "/etc/nginx/", "-c",
            "/etc/nginx/nginx.conf", "-e", "stderr", "-t", "-q"]  # fmt: skip
    return [float(lab.exec(ctl, *argv, namespace=NS).stderr.split()[-1]) for _ in range(runs)]


def summary(values: list[float | None]) -> dict:
    got = [v for v in values if v is not None]
    if not got:
        return {"n": len(values), "served": 0, "p50": float("nan"), "p99": float("nan"),
                "max": float("nan")}  # fmt: skip
    return {"n": len(values), "served": len(got), "p50": pct(got, 50), "p99": pct(got, 99),
            "max": max(got)}  # fmt: skip


def print_changes(ch: dict) -> list[tuple[str, dict]]:
    rows = []
    for kind in ("ingress", "endpoint"):
        s = summary([r["served"] for r in ch[kind]])
        s["apply_p50"] = pct([r["apply"] for r in ch[kind]], 50)
        rows.append((kind, s))
        print(f"{kind} change -> served from the client: p50 {ms(s['p50'])} p99 {ms(s['p99'])} "
              f"max {ms(s['max'])} ({s['served']} of {s['n']} served)", flush=True)  # fmt: skip
    reloads = [t / 1000 for t in ch["all_reloads"]]
    if reloads:
        s = summary(list(reloads))
        rows.append(("reload", s))
        print(f"controller reloads during the probes: {len(reloads)}, p50 {ms(s['p50'])} "
              f"p99 {ms(s['p99'])} max {ms(s['max'])}", flush=True)  # fmt: skip
    return rows


# --- the run ---------------------------------------------------------------------------------
def setup(lab: Lab, args: argparse.Namespace) -> tuple[dict[str, str], dict]:
    if args.access_log == "off":
        cm = lab.get("configmaps", CONTROLLER_SERVICE, NS)
        cm["data"] = {**(cm.get("data") or {}), "disable-access-log": "true"}
        lab.apply({k: cm[k] for k in ("apiVersion", "kind", "metadata", "data")})
    backends = [nginx_backend(f"web-{i}", n) for i, n in enumerate(NODES, 1)]
    eps = [agnhost_pod("ep-0", "node1", True), agnhost_pod("ep-1", "node2", False),
           agnhost_pod("ep-2", "node3", False)]  # fmt: skip
    lab.apply(
        backends + eps + [
            service("web", {"app": "web"}, 80),
            service("web-lb", {"app": "web"}, 80, lb=True),
            service("ep", {"ep": "serving"}, 8080),
            ingress("bench", [rule(HOST, "web"), rule(EP_HOST, "ep")]),
        ],
        wait=True,
    )  # fmt: skip
    ctl = controller(lab)
    conf = lab.exec(ctl["metadata"]["name"], "cat", "/etc/nginx/nginx.conf", namespace=NS).stdout
    workers = re.search(r"^worker_processes (\S+);", conf, re.M)
    logging = "access_log /dev/stdout" in conf
    if workers is None or logging != (args.access_log == "on"):
        raise RuntimeError(f"unexpected controller configuration:\n{conf[:2000]}")
    ips = [lab.get("pods", b["metadata"]["name"])["status"]["podIP"] for b in backends]
    node = ctl["spec"]["nodeName"]
    lab.apply([handwritten_pod(node, ips, workers.group(1), args.access_log == "on"),
               service("handwritten", {"app": "handwritten"}, 80, lb=True)], wait=True)  # fmt: skip
    lbs = {"ingress": lb_address(lab, CONTROLLER_SERVICE, NS)}
    lbs |= {name: lb_address(lab, name) for name in ("handwritten", "web-lb")}
    for name, want in (("ingress", {node}), ("handwritten", {node}), ("web-lb", set(NODES))):
        wait_for(f"{name}'s rotation", lambda a=lbs[name], w=want: set(
            lab.load_balancer().in_rotation(a)) == w, 20)  # fmt: skip
    info = {"node": node, "workers": workers.group(1), "backends": ips}
    return lbs, info


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration-s", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--modes", default="keep-alive,close")
    parser.add_argument("--access-log", choices=("on", "off"), default="on",
                        help="in both proxies (ingress-nginx logs every request by default)")  # fmt: skip
    parser.add_argument("--changes", type=int, default=20, help="probes per kind of change")
    parser.add_argument("--probe-limit-s", type=float, default=10.0)
    parser.add_argument("--parts", default="rps,changes")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = parser.parse_args()
    parts = args.parts.split(",")
    print(f"lab_kit ingress benchmark on {os.cpu_count()} cores: wrk -t1 -c{args.connections}, "
          f"{args.rounds} rounds x {args.duration_s:g} s per target and mode, access log "
          f"{args.access_log} in both proxies; {args.changes} changes of each kind",
          flush=True)  # fmt: skip
    t0 = time.monotonic()
    lab = Lab.up(addons=["ingress"])
    rps: list = []
    changes: list = []
    try:
        lbs, info = setup(lab, args)
        ctl = controller(lab)
        print(f"lab ready in {time.monotonic() - t0:.1f} s: {lbs}; controller and hand-written "
              f"nginx on {info['node']}, worker_processes {info['workers']}, backends "
              f"{info['backends']}", flush=True)  # fmt: skip
        if "rps" in parts:
            rps = part_throughput(lab, args, lbs, ctl)
        if "changes" in parts:
            changes = print_changes(
                part_changes(lab, args, lbs["ingress"], ctl["metadata"]["name"])
            )
    finally:
        lab.down()
        print(f"total {time.monotonic() - t0:.0f} s")
    if args.markdown:
        print_markdown(rps, changes)


def print_markdown(rps: list, changes: list) -> None:
    if rps:
        print("\n| mode | path | req/s | **/ hand-written** | / direct | p50 / p99 | CPU busy "
              "| proxy CPU | errors |")  # fmt: skip
        print("|" + " --- |" * 9)
        for close, res in rps:
            mode = "new connection per request" if close else "keep-alive"
            for name, r in res.items():
                proxy = f"{r['proxy']:.2f} cores" if name != "direct" else "–"
                print(f"| {mode} | {name} | {r['rps']:,.0f} | **{r['vs_hand']:.2f}** | "
                      f"{r['vs_direct']:.2f} | {ms(r['p50'])} / {ms(r['p99'])} | {r['cpu']:.0%} "
                      f"| {proxy} | {r['errors']} |")  # fmt: skip
    if changes:
        print("\n| change | p50 | **p99** | max | served |")
        print("|" + " --- |" * 5)
        for kind, s in changes:
            print(f"| {kind} | {ms(s['p50'])} | **{ms(s['p99'])}** | {ms(s['max'])} | "
                  f"{s['served']} / {s['n']} |")  # fmt: skip


if __name__ == "__main__":
    main()
