"""`labkit lb [ADDRESS]`: the cloud load balancer's view from a terminal — each LB address,
its Service and mode, and each node's health and place in the rotation (what it reads:
lab_kit/lab/lb_view.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from lab_kit.lab import lb_view
from lab_kit.lab.errors import LabError

HELP = """The cloud-lb host's view of the LoadBalancer addresses it serves: for each, the
Service, ipMode (VIP: pass-through; Proxy: the LB rewrites both addresses), the
externalTrafficPolicy, the health check it asks every node (the Service's
healthCheckNodePort under Local, kube-proxy's :10256/healthz under Cluster), and each node
with ✓ (in the rotation) or ✗ and its last answer.

examples:
  labkit lb
  labkit lb 198.51.100.32"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lb", help="the cloud load balancer: addresses, nodes, health",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("address", nargs="?", help="only this LB address")


def cmd_lb(args: argparse.Namespace) -> int:
    view = lb_view.load_balancer()
    if args.address:
        if not view.address(args.address):
            raise LabError(f"the load balancer serves no address {args.address}")
        view.record = {**view.record, "addresses": [view.address(args.address)]}
    print(lb_view.lb_text(view.record))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"lb": cmd_lb}
