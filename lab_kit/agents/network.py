"""The lab's physical network, held for the lab's lifetime.

Mininet's host shells live only as long as the process that built them, so this small
process builds the network (`adapters.mininet_net`), publishes what it made in
`<run dir>/network.json` (each host's shell PID, so anyone can enter its namespaces), says
"ready", and waits. On SIGTERM it stops Mininet, which removes the bridges and veths.

Not an `Agent` (it watches nothing and Mininet wants threads, not asyncio), but it uses the
runner's ready pipe.

Run: python -m lab_kit.agents network --run-dir DIR --topology-file F [--ready-fd N]
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from lab_kit.adapters import mininet_net
from lab_kit.adapters.processes import signal_ready
from lab_kit.adapters.rundir import RunDir
from lab_kit.model.topology import parse_topology

log = logging.getLogger("network")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="network", description="The lab's Mininet network.")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--topology-file", required=True, help="a topology TOML file")
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with open(args.topology_file) as f:
        spec = parse_topology(f.read(), args.topology_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lab = mininet_net.build(spec)
    try:
        RunDir(args.run_dir).write_network(lab.describe())
        for w in lab.warnings:
            log.warning("%s", w)
        log.info("network up: %d nodes, %d outside hosts", len(spec.nodes), len(spec.hosts))
        signal_ready(args.ready_fd)
        stop.wait()
    finally:
        mininet_net.stop(lab)
        log.info("network stopped")


if __name__ == "__main__":
    main()
