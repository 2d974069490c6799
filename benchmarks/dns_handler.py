"""Time `Server.handle` in-process for questions never asked before (no lab, no sockets):
10,000 distinct pod names (`a-b-c-d.dnsbench.pod.cluster.local`, kubeadm's `pods insecure`)
and 10,000 distinct Service names, plain A queries without EDNS, RD set (as dnsperf sends
them). Prints microseconds per query; results go in docs/performance.md by hand.

    .venv/bin/python benchmarks/dns_handler.py
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit" / "dns"))  # the tests' object builders
from dns_objects import namespace, query, service  # noqa: E402

from lab_kit.agents.cluster_dns import Server  # noqa: E402
from lab_kit.render.dns.corefile import KUBEADM_COREFILE, parse  # noqa: E402
from lab_kit.render.dns.zone import ClusterZone  # noqa: E402

COUNT = 10_000


def packets(names: list[str]) -> list[bytes]:
    out = []
    for i, name in enumerate(names):
        q = query(name)
        q.header.id = i & 0xFFFF
        out.append(bytes(q.pack()))
    return out


def per_query_us(server: Server, datagrams: list[bytes]) -> float:
    sink: list[bytes] = []
    start = time.perf_counter()
    for data in datagrams:
        server.handle(data, sink.append, False)
    elapsed = time.perf_counter() - start
    assert len(sink) == len(datagrams)
    return elapsed / len(datagrams) * 1e6


def main() -> None:
    rng = random.Random(1)
    services = [
        service(f"svc{i}", "dnsbench", cluster_ip=f"10.96.{1 + i // 250}.{1 + i % 250}")
        for i in range(COUNT)
    ]
    zone = ClusterZone.build(services, [], [], [namespace("dnsbench")], ttl=30)
    pods = {".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(COUNT * 2)}
    pod_names = [f"{ip.replace('.', '-')}.dnsbench.pod.cluster.local" for ip in sorted(pods)]
    svc_names = [f"svc{i}.dnsbench.svc.cluster.local" for i in range(COUNT)]
    rng.shuffle(svc_names)
    for label, names in (("pod names", pod_names[:COUNT]), ("service names", svc_names)):
        best = []
        for _ in range(3):
            server = Server(parse(KUBEADM_COREFILE), [])
            server.set_zone(zone)
            best.append(per_query_us(server, packets(names)))
        print(f"{label:14} new: {min(best):6.2f} us/query (best of 3: "
              f"{', '.join(f'{b:.2f}' for b in best)})")  # fmt: skip
        repeat = packets(names)
        print(f"{label:14} repeated: {per_query_us(server, repeat):6.2f} us/query")


if __name__ == "__main__":
    main()
