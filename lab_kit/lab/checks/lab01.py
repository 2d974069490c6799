"""Lab 01's checks: producers registered and cached, round-robin over all, a new instance
called only after the consumer's fetch, a killed one listed for two leases and retried
around, a graceful cancel at once, self-preservation holding expired leases, the consumer
living on its cache while the registry is down, and the same consumer watching
EndpointSlices through the in-cluster API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.lab.registry_lab import answered_by, failed

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.registry_lab import Consumer, Registry

PRODUCERS = ("producer-a", "producer-b", "producer-c", "producer-d")
APP = "/eureka/apps/RANDOM-GENERATOR"


def instance_id(address: str) -> str:
    """Eureka's instanceId of `ip:8080`, as the producers register it."""
    return address.replace(":8080", ":random-generator:8080")


def check_registered(reg: Registry, con: Consumer, names: dict[str, str]) -> dict[str, str]:
    """The four producers registered themselves UP, and the consumer's cache lists the same
    four. Returns pod name -> IP."""
    ips = {name: ip for ip, name in names.items()}
    listed = reg.instances()
    expect(
        set(listed) == {f"{ips[p]}:8080" for p in PRODUCERS},
        "the 4 producers listed",
        sorted(listed),
    )
    expect(set(listed.values()) == {"UP"}, "all UP", set(listed.values()))
    cached = sorted(con.cache()["instances"])
    expect(cached == sorted(listed), "the consumer's cache lists the same 4", cached)
    passed("4 producers registered themselves; the consumer's cache lists the same 4")
    return ips


def check_all_answer(recent: list[dict], names: dict[str, str]) -> None:
    """40 calls, none failed, answered by all four producers."""
    expect(len(recent) == 40 and not failed(recent), "40 calls, all answered", len(failed(recent)))
    by = answered_by(recent, names)
    expect(by == set(PRODUCERS), "answered by all 4 producers", sorted(by))
    passed(f"{len(recent)} calls, all answered, by all 4 producers")


def check_new_instance(requests, e: str, ips: dict[str, str], calls: list[dict], fetched: float,
                       registered: float) -> None:  # fmt: skip
    """producer-e registered (POST) and heartbeats (PUT), the consumer fetched (GET), and its
    first call to producer-e came after that fetch, which followed the registration."""
    e_ip = e.split(":")[0]
    lines = [(r.src, r.request_line.split(" HTTP")[0]) for r in requests]
    expect((e_ip, f"POST {APP}") in lines, "producer-e's POST (register)", lines)
    expect(
        (e_ip, f"PUT {APP}/{e_ip}:random-generator:8080") in lines,
        "producer-e's PUT (renew)",
        lines,
    )
    expect(any(src == ips["consumer"] and line == "GET /eureka/apps" for src, line in lines),
           "the consumer's GET /eureka/apps", lines)  # fmt: skip
    first_call = min(c["t"] for c in calls if c["instance"] == e)
    expect(first_call >= fetched - 0.01 and fetched > registered - 0.5,
           "registered, fetched, then called", (registered, fetched, first_call))  # fmt: skip
    passed(f"registered, then {fetched - registered:.1f} s until the consumer's fetch; "
           "its first call to producer-e came after it")  # fmt: skip


def check_killed(
    calls: list[dict], e: str, killed: float, evicted: float, forgotten: float
) -> None:
    """Only producer-e's calls failed, each retried on another instance, until the consumer's
    fetch after the eviction; it stayed listed more than one lease (the 2 x quirk)."""
    errors = failed(calls)
    expect(errors and {c["instance"] for c in errors} == {e}, f"failed calls, all to {e}",
           {c["instance"] for c in errors})  # fmt: skip
    retried = {c["retried_from"] for c in calls if c["ok"]}
    expect(e in retried, "failed attempts retried on another instance", retried)
    expect(evicted - killed > 5, "listed more than one lease (5 s) after kill -9", evicted - killed)
    last = max(c["t"] for c in errors)
    expect(last < forgotten + 1, "no failure after the consumer's next fetch", last - forgotten)
    passed(f"listed {evicted - killed:.1f} s after kill -9 (lease 5 s, counted twice); "
           f"{len(errors)} failed attempts, each retried on another instance")  # fmt: skip


def check_cancelled(reg: Registry, since: float, cancelled: float, address: str,
                    evicted_after: float) -> None:  # fmt: skip
    """A graceful delete cancels the lease at once (under 3 s), that instance only."""
    expect(cancelled - since < 3, "cancelled within 3 s", cancelled - since)
    ids = [ev["instanceId"] for ev in reg.events(since=since) if ev["event"] == "cancelled"]
    expect(ids == [instance_id(address)], f"{instance_id(address)} cancelled", ids)
    passed(f"producer-d cancelled {cancelled - since:.1f} s after its delete "
           f"(producer-e took {evicted_after:.1f} s)")  # fmt: skip


def check_self_preservation(reg: Registry, dead: list[str], held: dict, killed: float,
                            since: float) -> None:  # fmt: skip
    """Expired leases kept: the dead instances still listed after a lease, the dashboard's
    EMERGENCY banner, no eviction."""
    still = reg.instances()
    expect(all(x in still for x in dead) and held["t"] - killed > 5,
           "the dead still listed, a lease after the kill", sorted(still))  # fmt: skip
    expect("EMERGENCY! EUREKA MAY BE INCORRECTLY CLAIMING INSTANCES ARE UP" in reg.dashboard(),
           "the dashboard's EMERGENCY banner")  # fmt: skip
    evicted = [ev for ev in reg.events(since=since) if ev["event"] == "evicted"]
    expect(not evicted, "nothing evicted", evicted)
    passed(f"{' and '.join(dead)} dead, still listed: {held['detail']}")


def check_evicted_later(reg: Registry, since: float, dead: list[str], calls: list[dict],
                        took: float) -> None:  # fmt: skip
    """Once heartbeats recovered the dead were evicted; they were called while listed and
    refused the connection."""
    gone = sorted(ev["instanceId"] for ev in reg.events(since=since) if ev["event"] == "evicted")
    expect(gone == sorted(instance_id(x) for x in dead), "the dead evicted", gone)
    refused = {x["instance"] for x in failed(calls) if x["error"] == "connection refused"}
    expect(refused == set(dead), "connections refused by the dead only", refused)
    passed(f"evicted once heartbeats recovered, {took:.0f} s after the kill")


def check_registry_down(
    lab: Lab, reg: Registry, calls: list[dict], down: float, back: float
) -> None:
    """While the registry was down every call was served from the cache; afterwards a renewal
    got 404 and the producers registered again."""
    while_down = [x for x in calls if down <= x["t"] <= back]
    expect(while_down and not failed(while_down), "calls while down, all answered",
           (len(while_down), len(failed(while_down))))  # fmt: skip
    events = {
        ev["event"] for ev in reg.events() if ev["event"] in ("renewed-unknown", "registered")
    }
    expect(
        events == {"renewed-unknown", "registered"}, "a 404 renewal, then a registration", events
    )
    expect(
        "Re-registering apps/RANDOM-GENERATOR" in lab.logs("producer-a"),
        "producer-a re-registering",
    )
    passed(
        f"{len(while_down)} calls answered while the registry was down; the producers registered again"
    )


def check_k8s_watch(lab: Lab, k8s: Consumer) -> None:
    """The watch through the in-cluster API lists the ready pods, reached via 10.96.0.1."""
    ready = sorted(
        f"{p['status']['podIP']}:8080" for p in lab.get("pods", selector="app=random-generator")
    )
    cached = sorted(k8s.cache()["instances"])
    expect(cached == ready, "the ready pods", cached)
    host = lab.exec("k8s-consumer", "printenv", "KUBERNETES_SERVICE_HOST").stdout.strip()
    expect(host == "10.96.0.1", "KUBERNETES_SERVICE_HOST 10.96.0.1", host)
    passed(f"the watch lists the {len(ready)} ready pods; the API reached through 10.96.0.1:443")


def check_dropped(calls: list[dict], since: float, dropped: float, target_ip: str) -> None:
    """The not-ready pod left the cache within 5 s; no call failed; none went to it after."""
    expect(dropped - since < 5, "out of the cache within 5 s", dropped - since)
    expect(not failed(calls), "no call failed", len(failed(calls)))
    after = [x for x in calls if x["t"] > dropped + 0.5]
    to_it = [x for x in after if x["instance"].startswith(target_ip + ":")]
    expect(after and not to_it, f"calls after, none to {target_ip}", (len(after), len(to_it)))
    passed(
        f"out of the consumer's cache {dropped - since:.1f} s after it turned not ready; no call failed"
    )
