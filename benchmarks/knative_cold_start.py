"""Benchmark: Knative cold start — a request to a Revision at zero pods, until its answer.

    sudo flock /tmp/labkit.lock .venv/bin/python benchmarks/knative_cold_start.py [--rounds 10] [--warm 50]

Brings up the default lab with the `ingress` and `knative` addons, applies lab 16's short
config-autoscaler (6 s stable window, 6 s grace period, 1 s tick) and Knative's Hello World
(`labs/manifests/knative/hello.yml`), then for each round waits until the Revision has
scaled to zero (bounded: 60 s) and times one request from the outside `client` through the
ingress (curl's time_total: connect, the activator holding the request while a pod starts
and turns ready, the answer). For comparison, `--warm` requests to the same URL while a pod
is up (the activator still in the path, as Knative's default target-burst-capacity keeps it
for one pod). Prints p50/p99/min/max; results go in docs/performance.md by hand. Every loop
is bounded in count and time; the lab is taken down at the end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from outside import pct  # noqa: E402

from lab_kit import Lab  # noqa: E402
from lab_kit.lab import knative_lab  # noqa: E402

MANIFESTS = os.path.join(os.path.dirname(__file__), "..", "labs", "manifests", "knative")
HOST = "hello.default.example.com"


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{name:<10} n={len(ms):<3} p50 {pct(ms, 50):7.0f} ms   p99 {pct(ms, 99):7.0f} ms   "
            f"min {min(ms):6.0f} ms   max {max(ms):6.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=10, help="cold starts to time (each waits ~13 s for zero)"
    )
    parser.add_argument(
        "--warm", type=int, default=50, help="requests with a pod up, for comparison"
    )
    args = parser.parse_args()
    t0 = time.monotonic()
    lab = Lab.up(addons=["ingress", "knative"])
    try:
        print(f"lab up with ingress and knative in {time.monotonic() - t0:.1f} s")
        lab.apply(os.path.join(MANIFESTS, "config-autoscaler.yml"), wait=True)
        lab.apply(os.path.join(MANIFESTS, "hello.yml"), wait=True)
        knative_lab.wait_ready(lab, "hello")
        address = knative_lab.ingress_address(lab)
        cold: list[float] = []
        for n in range(args.rounds):
            idle = knative_lab.wait_pods(lab, "hello-00001", 0, timeout_s=60)
            (answer,) = knative_lab.call(address, HOST)
            if answer.status != 200:
                raise SystemExit(f"round {n + 1}: status {answer.status}: {answer.body!r}")
            cold.append(answer.seconds)
            print(
                f"round {n + 1}: zero after {idle:.1f} s idle; cold request {answer.seconds * 1000:.0f} ms",
                flush=True,
            )
        warm = knative_lab.call(address, HOST, count=args.warm)
        if set(warm.statuses()) != {200}:
            raise SystemExit(f"warm requests failed: {warm.statuses()}")
        print()
        print(summary("cold", cold))
        print(summary("warm", warm.seconds()))
    finally:
        lab.down()


if __name__ == "__main__":
    main()
