"""The lab's upstream resolver: the whole "internet" DNS, on the internet host (203.0.113.10).

Cluster DNS forwards every name outside cluster.local here (kubeadm's `forward .
/etc/resolv.conf`, and the coredns pods' resolv.conf is the node's, which names this host).
It answers from `lab_kit/render/dns/world.zone` and never asks anyone else: no lab query
reaches this machine's real resolvers. `labkit up` starts it; `labkit down` stops it.

Run (inside the internet host's network namespace):
    python -m lab_kit.agents.world_dns [--zone-file F] [--port 53]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from lab_kit.adapters.dns_listener import DnsListener
from lab_kit.render.dns.world import WORLD_ZONE, WorldZone


async def main_async(args) -> None:
    with open(args.zone_file) as f:
        world = WorldZone(f.read())

    def handle(data: bytes, reply, _tcp: bool) -> None:
        out = world.answer(data)
        if out is not None:
            reply(out)

    listener = DnsListener(handle, port=args.port)
    await listener.start()
    logging.info("serving %d names from %s on :%d", len(world.records), args.zone_file,
                 listener.port)  # fmt: skip
    if args.ready_fd is not None:
        os.write(args.ready_fd, b"ready\n")
        os.close(args.ready_fd)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    listener.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="lab_kit.agents.world_dns", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--zone-file", default=str(WORLD_ZONE))
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s world-dns %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
