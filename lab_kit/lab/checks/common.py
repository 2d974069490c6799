"""Checks more than one lab makes: requests spread over a Service's pods, a Service's
endpoints being exactly its Ready pods."""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab


def check_spread(answered_by: list[str], pods: int) -> dict[str, int]:
    """Every request answered, by each of `pods` pods about equally: each count within six
    standard deviations of Binomial(n, 1/pods)'s mean (practically certain unless the
    choice is not uniform)."""
    counts = Counter(answered_by)
    expect("ERR" not in counts, "every request answered", counts.get("ERR"))
    expect(len(counts) == pods, f"answers from {pods} pods", sorted(counts))
    n, p = len(answered_by), 1 / pods
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    low, high = mean - 6 * sd, mean + 6 * sd
    expect(all(low < c < high for c in counts.values()),
           f"each pod between {low:.0f} and {high:.0f} of {n}", dict(counts))  # fmt: skip
    passed(f"{n} requests over {pods} pods: {dict(sorted(counts.items()))}")
    return dict(counts)


def endpoint_addresses(lab: Lab, service: str, namespace: str = "default") -> list[str]:
    slices = lab.get("endpointslices", namespace=namespace,
                     selector=f"kubernetes.io/service-name={service}")  # fmt: skip
    return sorted(e["addresses"][0] for s in slices for e in s.get("endpoints") or [])


def check_endpoints_are_the_pods(lab: Lab, service: str, selector: str, pods: int,
                                 port: int) -> list[str]:  # fmt: skip
    """The Service's EndpointSlices list exactly the pods its selector matches, on the
    target port."""
    slices = lab.get("endpointslices", selector=f"kubernetes.io/service-name={service}")
    endpoints = endpoint_addresses(lab, service)
    pod_ips = sorted(p["status"]["podIP"] for p in lab.get("pods", selector=selector))
    expect(len(pod_ips) == pods, f"{pods} pods match {selector}", pod_ips)
    expect(endpoints == pod_ips, "one endpoint per pod", endpoints)
    ports = {p["port"] for s in slices for p in s.get("ports") or []}
    expect(ports == {port}, f"the target port {port}", ports)
    passed(f"{len(endpoints)} endpoints: {', '.join(endpoints)}")
    return endpoints
