"""The world's resolver as a runner agent: its command line (what `labkit up` gives it:
nothing, so the lab's zone on port 53), and on 127.0.0.1 with a free port its answers
over UDP and TCP from the zone file it was given; it watches nothing, reports nothing,
and its listener closes when it stops. No root, no port 53."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dnslib import RCODE, DNSRecord

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.clock import FakeClock
from lab_kit.adapters.dns_listener import ask
from lab_kit.agents.runner import Context, Runner, common_parser
from lab_kit.agents.world_dns import WorldDns
from lab_kit.render.dns.world import WORLD_ZONE

ZONE = """\
$ORIGIN .
$TTL 300
.              IN SOA   ns.internet. hostmaster.internet. 1 7200 1800 86400 300
shop.test.     IN A     192.0.2.55
www.shop.test. IN CNAME shop.test.
"""


def options(*argv: str):
    parser = common_parser("world-dns", "the outside world's resolver")
    WorldDns.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_with_no_options_it_serves_the_labs_world_on_port_53():
    defaults = options()  # `labkit up` starts it with no options (agents/table.py)
    assert (defaults.zone_file, defaults.port) == (str(WORLD_ZONE), 53)


async def query(port: int, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord | None:
    data = bytes(DNSRecord.question(name, qtype).pack())
    out = await ask(("127.0.0.1", port), data, tcp, timeout_s=5)
    return None if out is None else DNSRecord.parse(out)


def test_it_answers_from_its_zone_file_over_udp_and_tcp_and_stops_listening(tmp_path: Path):
    zone = tmp_path / "world.zone"
    zone.write_text(ZONE)

    async def scenario():
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        world = WorldDns.create(
            Context(api.async_client(), clock), options("--zone-file", str(zone), "--port", "0")
        )
        world.host = "127.0.0.1"
        runner = Runner(world)
        await runner.start()  # no informers: straight to start() and the first sync
        assert world.listener is not None and runner.syncs == 1
        port = world.listener.port
        udp = await query(port, "www.shop.test")
        tcp = await query(port, "shop.test", tcp=True)
        missing = await query(port, "example.com")  # the lab's world, not this zone
        await runner.close()
        await runner.shutdown()
        after = await query(port, "shop.test")
        assert udp is not None and [str(r.rdata) for r in udp.rr] == ["shop.test.", "192.0.2.55"]
        assert udp.header.ra == 1 and udp.header.aa == 0  # as a recursive resolver relays it
        assert tcp is not None and [str(r.rdata) for r in tcp.rr] == ["192.0.2.55"]
        assert missing is not None and missing.header.rcode == RCODE.NXDOMAIN
        assert after is None  # the listener closed with the agent
        assert world.watches == {} and api.agents == {}  # nothing watched, nothing reported

    asyncio.run(scenario())
