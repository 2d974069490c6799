"""Benchmark: requests lost during rolling updates, with and without a preStop sleep.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/rollout.py [--replicas 3]
        [--rollouts 4] [--pre-stop-s 5] [--max-requests 20000] [--max-seconds 300] [--markdown]

Brings up the default lab and, for each variant in turn (its own namespace), a Deployment
`web` of --replicas agnhost netexec servers (readiness: GET /hostname every second; no
preStop hook, or `preStop: sleep: {seconds: --pre-stop-s}`), a Service `web` in front of
them and a client pod on node1. The client (lab_kit/lab/request_loop.py) sends requests one
after another, each a new connection with a 2 s timeout, to the ClusterIP, as a pod calling
a Service does, while the script makes --rollouts rolling updates (a new pod template each
time; maxSurge 25%, maxUnavailable 25%, the defaults) and waits for each to finish — every
old pod gone, not just the new ones Ready. The client stops when told to (a file in its own
/tmp), or after --max-requests, or --max-seconds: always bounded. Then the lab goes down.

Printed per variant: failed / total requests, each failure's kind (refused, the 2 s timeout,
reset) with its start relative to the nearest deletion of an old pod, and how long
after a deletion the pod's address was gone from every node's nat rules. Results go in
docs/performance.md by hand; tests/integration/test_termination.py asserts 0 lost with a
preStop sleep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from lab_kit import Lab  # noqa: E402
from lab_kit.lab import request_loop as rl  # noqa: E402

NODES = ("node1", "node2", "node3")


class Deletions:
    """When each old pod's deletion was first seen, and how long after that its address
    was gone from every node's nat rules (polled: an upper bound, to within a poll)."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.seen: dict[str, float] = {}  # pod name -> when its deletionTimestamp was seen
        self.pending: dict[str, float] = {}  # pod IP -> the same, until out of the rules
        self.to_rules_s: list[float] = []
        self.poll_s: list[float] = []  # how long one look at the three nodes' rules took

    def look(self, pods: list[dict]) -> None:
        for p in pods:
            name, ip = p["metadata"]["name"], (p.get("status") or {}).get("podIP", "")
            if name not in self.seen and p["metadata"].get("deletionTimestamp"):
                self.seen[name] = self.pending[ip] = time.time()
        if self.pending:
            start = time.time()
            nat = [str(self.lab.iptables(node, "nat")) for node in NODES]
            self.poll_s.append(time.time() - start)
            for ip, t in list(self.pending.items()):
                if not any(f"--to-destination {ip}:" in text for text in nat):
                    self.to_rules_s.append(time.time() - t)
                    del self.pending[ip]


def run_variant(lab: Lab, args: argparse.Namespace, pre_stop_s: int) -> dict:
    ns = f"rollout-{'prestop' if pre_stop_s else 'plain'}"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    web = rl.web_deployment(ns, args.replicas, 0, pre_stop_s)
    lab.apply([namespace, rl.web_service(ns), rl.client_pod(ns), web], wait=True)
    vip = lab.get("services", "web", ns)["spec"]["clusterIP"]
    t0 = time.monotonic()
    loop = rl.RequestLoop.start(lab, "client", ns, vip, args.max_requests, args.max_seconds)
    loop.wait_answered()
    deletions = Deletions(lab)
    for revision in range(1, args.rollouts + 1):
        rl.roll(lab, ns, args.replicas, revision, pre_stop_s, each=deletions.look)
    deadline = time.monotonic() + 10
    while deletions.pending and time.monotonic() < deadline:
        deletions.look([])
    answers = loop.stop()
    return summarize(ns, answers, deletions, time.monotonic() - t0)


def summarize(ns: str, answers: list[rl.Answer], deleted: Deletions, seconds: float) -> dict:
    deletions = sorted(deleted.seen.values())
    to_rules = sorted(deleted.to_rules_s) or [float("nan")]
    failures = [a for a in answers if a.failed]
    return {
        "ns": ns,
        "total": len(answers),
        "failed": len(failures),
        "codes": Counter(a.text.removeprefix("ERR ") for a in failures),
        # seconds from the nearest deletion of an old pod, as the script saw it (it sees one
        # up to a poll late, so a failure just before a deletion shows as negative)
        "after_deletion": [
            (
                round(a.t - min(deletions or [a.t], key=lambda d: abs(a.t - d)), 2),
                a.text.removeprefix("ERR "),
            )
            for a in failures
        ],  # fmt: skip
        "pods_answering": len({a.text for a in answers if not a.failed}),
        "seconds": seconds,
        "deletions": len(deletions),
        "to_rules_median": to_rules[len(to_rules) // 2],
        "to_rules_max": to_rules[-1],
        "poll_s": sum(deleted.poll_s) / max(len(deleted.poll_s), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--rollouts", type=int, default=4)
    parser.add_argument("--pre-stop-s", type=int, default=5)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--only", choices=("prestop", "plain"), help="run one variant")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    print(f"lab_kit rollout benchmark on {os.cpu_count()} cores: {args.replicas} replicas, "
          f"{args.rollouts} rolling updates per variant", flush=True)  # fmt: skip
    lab = Lab.up()
    results = []
    try:
        for name, pre_stop_s in {"prestop": args.pre_stop_s, "plain": 0}.items():
            if args.only and name != args.only:
                continue
            r = run_variant(lab, args, pre_stop_s)
            r["variant"] = f"preStop sleep {pre_stop_s} s" if pre_stop_s else "no preStop hook"
            results.append(r)
            print(f"{r['variant']:<22} failed {r['failed']} of {r['total']} requests in "
                  f"{r['seconds']:.0f} s ({r['deletions']} old pods deleted, "
                  f"{r['pods_answering']} pods answered; out of every node's rules "
                  f"{r['to_rules_median']:.2f} s after a deletion, at most "
                  f"{r['to_rules_max']:.2f} s, polled every {r['poll_s']:.2f} s); failures by kind "
                  f"{dict(r['codes'])}, seconds from a deletion {r['after_deletion']}",
                  flush=True)  # fmt: skip
    finally:
        lab.down()
    if args.markdown:
        print_table(results)


def print_table(results: list[dict]) -> None:
    print("| variant | failed / total | the failures | out of every node's rules after a "
          "deletion, median / max | duration |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(r["codes"].items())) or "–"
        print(f"| {r['variant']} | **{r['failed']}** / {r['total']:,} | {codes} "
              f"| {r['to_rules_median']:.2f} s / {r['to_rules_max']:.2f} s "
              f"| {r['seconds']:.0f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
