"""Benchmark: one kube-proxy sync versus the number of Services, without a lab.

    sudo .venv/bin/python benchmarks/proxy_sync.py [--services 10,100,1000,2000,5000]
        [--runs 3] [--budget-s 6] [--markdown] [--plot docs/img/proxy_sync.png]

For K Services (each one TCP port, 2-4 endpoints spread over three nodes, as seen from
node1) it times what the kube-proxy agent (`lab_kit/agents/kube_proxy.py`) does per sync:
  render        `proxy_rules.render`: Services + EndpointSlices -> the node's nat/filter text
  chain_rules   `ProxyRules.chain_rules()`: what the agent keeps to diff the next sync against
  full restore  the full sync's `iptables-restore --noflush` into empty tables (after the
                jump rules), i.e. the agent's first sync on a fresh node
  partial text  `proxy_sync.partial_restore` after one Service gained an endpoint
  partial restore  that partial text applied with `iptables-restore --noflush`
and sums them into what one partial sync costs the agent (render + partial text + restore +
chain_rules). The "indexed" columns compute the same chain_rules and partial text with one
pass over the lines (helpers in this file, checked equal to lab_kit's results; not lab_kit's
code): they show how much of the cost is lookups — `Table.rules()` scanning every line once
per chain, and the stale-chain test against a list — rather than the work itself.

The restores run in a scratch network namespace, `lkbench-<pid>`, which the script creates
and deletes itself: it re-runs itself inside it with `ip netns exec`, and the inner run
refuses to start if it finds itself in the machine's own namespace. No lab is needed; run
it while none is up (`flock /tmp/labkit.lock ...`), as a lab's agents would share the cores.
Each figure is the median
of up to --runs repetitions, fewer when one repetition takes longer than --budget-s.
Results go in docs/performance.md by hand; no test asserts on timings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lab_kit.adapters.iptables import Iptables  # noqa: E402
from lab_kit.render import proxy_rules, proxy_sync  # noqa: E402

NODE, CLUSTER_CIDR = "node1", "10.244.0.0/16"


# --- the objects -------------------------------------------------------------------------------
def service(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": "bench", "name": f"svc-{i}"},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": f"10.96.{16 + i // 250}.{i % 250 + 1}",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
        },
    }


def endpoint_slice(i: int, extra: int = 0) -> dict:
    count = 2 + i % 3 + extra  # 2, 3 or 4 endpoints (one more for the changed service)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": "bench",
            "name": f"svc-{i}-x",
            "labels": {"kubernetes.io/service-name": f"svc-{i}"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [f"10.244.{1 + j % 3}.{(i * 4 + j) % 250 + 2}"],
                "conditions": {"ready": True},
                "nodeName": f"node{1 + j % 3}",
            }
            for j in range(count)
        ],
    }


def indexed_chain_rules(rules: proxy_rules.ProxyRules) -> dict[tuple[str, str], list[str]]:
    """What `ProxyRules.chain_rules()` returns, in one pass over the lines (what-if only)."""
    out: dict[tuple[str, str], list[str]] = {}
    for table in (rules.filter, rules.nat):
        for c in table.chains:
            out[(table.name, c)] = []
        for c, line in table.lines:
            out[(table.name, c)].append(line)
    return out


def indexed_partial_text(written: dict, rules: proxy_rules.ProxyRules) -> str:
    """`proxy_sync.partial_restore` with the chains' rules looked up in one pass (what-if,
    and to undo a change quickly; checked against lab_kit's own text at small sizes)."""
    now = indexed_chain_rules(rules)
    changed = {
        c for c in rules.nat.chains
        if c in proxy_rules.NAT_CHAINS or written.get(("nat", c)) != now[("nat", c)]
    }  # fmt: skip
    declared = set(rules.nat.chains)
    stale = tuple(c for t, c in written if t == "nat" and c not in declared)
    return rules.filter.text() + rules.nat.text(only=changed, delete=stale)


# --- timing ------------------------------------------------------------------------------------
def timed(fn, runs: int, budget_s: float, before=None):
    """Median wall time of `fn()` over up to `runs` repetitions (fewer past the budget);
    `before()` runs untimed ahead of each. Returns (median seconds, last result)."""
    times, result, spent = [], None, 0.0
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if spent > budget_s:
            break
    return statistics.median(times), result


def restore(text: str) -> None:
    asyncio.run(Iptables().restore(text))  # the agent's own adapter: iptables-restore --noflush


def save() -> str:
    return asyncio.run(Iptables().save())


def clean_tables() -> None:
    subprocess.run(["nft", "flush", "ruleset"], check=True)


def one_size(k: int, runs: int, budget_s: float) -> dict:
    services = [service(i) for i in range(k)]
    slices = [endpoint_slice(i) for i in range(k)]
    changed = list(slices)
    changed[k // 2] = endpoint_slice(k // 2, extra=1)

    t_render, rules = timed(
        lambda: proxy_rules.render(services, slices, NODE, CLUSTER_CIDR), runs, budget_s
    )
    t_chain, written = timed(rules.chain_rules, runs, budget_s)
    t_indexed, fast = timed(lambda: indexed_chain_rules(rules), runs, budget_s)
    assert fast == written

    def fresh_node():
        clean_tables()
        saved = save()
        restore(proxy_rules.jump_rules_missing(saved))
        fresh_node.text = proxy_sync.full_restore(rules, save())

    t_full, _ = timed(lambda: restore(fresh_node.text), runs, budget_s, before=fresh_node)

    # A partial sync: the tables hold `rules`; one Service gains an endpoint.
    rules2 = proxy_rules.render(services, changed, NODE, CLUSTER_CIDR)
    t_ptext, ptext = timed(lambda: proxy_sync.partial_restore(rules2, written), runs, budget_s)
    t_iptext, iptext = timed(lambda: indexed_partial_text(fast, rules2), runs, budget_s)
    assert iptext == ptext
    back = indexed_partial_text(indexed_chain_rules(rules2), rules)
    assert k > 100 or back == proxy_sync.partial_restore(rules, rules2.chain_rules())
    # Each timed run applies the change on top of the original rules (`back` undoes it).
    t_partial, _ = timed(lambda: restore(ptext), runs, budget_s, before=lambda: restore(back))
    nat_rules = sum(1 for line in save().splitlines() if line.startswith("-A KUBE-"))
    return {
        "services": k,
        "nat lines": len(rules.nat.lines),
        "rules in kernel": nat_rules,
        "render": t_render,
        "chain_rules": t_chain,
        "full restore": t_full,
        "partial text": t_ptext,
        "partial restore": t_partial,
        "partial lines": ptext.count("\n"),
        "partial sync": t_render + t_ptext + t_partial + t_chain,
        "chain_rules indexed": t_indexed,
        "partial text indexed": t_iptext,
        "partial sync indexed": t_render + t_iptext + t_partial + t_indexed,
    }


COLUMNS = [
    ("services", "{:d}"),
    ("nat lines", "{:d}"),
    ("render", "ms"),
    ("chain_rules", "ms"),
    ("full restore", "ms"),
    ("partial text", "ms"),
    ("partial restore", "ms"),
    ("partial lines", "{:d}"),
    ("partial sync", "ms"),
    ("chain_rules indexed", "ms"),
    ("partial text indexed", "ms"),
    ("partial sync indexed", "ms"),
]


def cell(row: dict, key: str, fmt: str) -> str:
    value = row[key]
    if fmt == "ms":
        return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"
    return fmt.format(value)


def print_table(rows: list[dict], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(k for k, _ in COLUMNS) + " |")
        print("|" + " --- |" * len(COLUMNS))
        for r in rows:
            print("| " + " | ".join(cell(r, k, f) for k, f in COLUMNS) + " |")
        return
    widths = [max(len(k), 10) for k, _ in COLUMNS]
    print("  ".join(k.rjust(w) for (k, _), w in zip(COLUMNS, widths, strict=True)))
    for r in rows:
        print("  ".join(cell(r, k, f).rjust(w) for (k, f), w in zip(COLUMNS, widths, strict=True)))


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["services"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, style in [
        ("partial sync", "o-"),
        ("render", "s--"),
        ("chain_rules", "^--"),
        ("partial text", "v--"),
        ("full restore", "d-"),
        ("partial restore", "x-"),
        ("partial sync indexed", ".:"),
    ]:
        ax.plot(ks, [max(r[key], 1e-4) for r in rows], style, label=key)
    ax.axhline(0.1, color="grey", lw=0.8)
    ax.text(ks[0], 0.11, "100 ms", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Services (2-4 endpoints each)")
    ax.set_ylabel("seconds (median)")
    ax.set_title("lab_kit kube-proxy: one sync on one node, by step")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


# --- the scratch namespace ---------------------------------------------------------------------
def in_callers_netns() -> bool:
    """True unless this process runs in another network namespace than the one the outer
    run started in (passed down as LKBENCH_OUTER_NETNS)."""
    outer = os.environ.get("LKBENCH_OUTER_NETNS", "")
    return not outer or os.readlink("/proc/self/ns/net") == outer


def inner(args) -> None:
    if in_callers_netns():
        sys.exit("proxy_sync: refusing to touch iptables in the machine's own namespace")
    clean_tables()
    rows = []
    for k in args.services:
        t0 = time.monotonic()
        rows.append(one_size(k, args.runs, args.budget_s))
        print(f"  {k} services measured in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    print_table(rows, args.markdown)
    if args.plot:
        plot(rows, args.plot)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", default="10,100,1000,2000,5000",
                        type=lambda s: [int(x) for x in s.split(",")])  # fmt: skip
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=6.0,
                        help="stop repeating a step once its runs took this long")  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--plot", default="", help="write a PNG (matplotlib) here")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args)
        return
    print(f"lab_kit kube-proxy sync benchmark on {os.cpu_count()} cores "
          f"(iptables: {subprocess.run(['iptables', '--version'], capture_output=True, text=True).stdout.strip()})")  # fmt: skip
    sys.stdout.flush()
    os.environ["LKBENCH_OUTER_NETNS"] = os.readlink("/proc/self/ns/net")
    ns = f"lkbench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        argv = [sys.executable, os.path.abspath(__file__), "--inner", *sys.argv[1:]]
        rc = subprocess.run(["ip", "netns", "exec", ns, *argv]).returncode
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
