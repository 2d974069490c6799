"""Lab 01's named checks over data (the consumer's calls, the registry's listing and events):
each passes on what a working lab shows and fails, saying what it saw, on what a broken one
would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab01 import (
    PRODUCERS,
    check_all_answer,
    check_cancelled,
    check_dropped,
    check_evicted_later,
    check_k8s_watch,
    check_killed,
    check_new_instance,
    check_registered,
    check_registry_down,
    check_self_preservation,
)

NAMES = {f"10.244.1.{i}": name for i, name in enumerate(PRODUCERS, start=2)} | {
    "10.244.2.9": "consumer"
}
ADDRESSES = [f"{ip}:8080" for ip, name in NAMES.items() if name != "consumer"]
E = "10.244.3.7:8080"


def call(t: float, instance: str, ok: bool = True, retried_from: str = "", error: str = "") -> dict:
    return {"t": t, "instance": instance, "ok": ok, "retried_from": retried_from, "error": error}


class FakeRegistry:
    def __init__(
        self, listed: dict[str, str], events: list[dict] | None = None, dashboard: str = ""
    ):
        self.listed, self.recorded, self.page = listed, events or [], dashboard

    def instances(self) -> dict[str, str]:
        return self.listed

    def events(self, since: float = 0) -> list[dict]:
        return [e for e in self.recorded if e["t"] >= since]

    def dashboard(self) -> str:
        return self.page


class FakeConsumer:
    def __init__(self, instances: list[str]):
        self.instances = instances

    def cache(self) -> dict:
        return {"instances": self.instances}


class FakeLab:
    """Just what the checks read: logs, pods, one printenv."""

    def __init__(self, logs: str = "", pods: list[dict] | None = None, host: str = "10.96.0.1"):
        self.log, self.pods, self.host = logs, pods or [], host

    def logs(self, pod: str) -> str:
        return self.log

    def get(self, kind: str, name: str | None = None, selector: str | None = None) -> list[dict]:
        return self.pods

    def exec(self, pod: str, *argv: str) -> SimpleNamespace:
        return SimpleNamespace(returncode=0, stdout=self.host + "\n")


def request(src: str, line: str) -> SimpleNamespace:
    return SimpleNamespace(src=src, request_line=f"{line} HTTP/1.1")


def test_registered_and_cached():
    reg = FakeRegistry(dict.fromkeys(ADDRESSES, "UP"))
    assert check_registered(reg, FakeConsumer(ADDRESSES), NAMES)["producer-a"] == "10.244.1.2"
    with pytest.raises(CheckFailed, match="the same 4"):
        check_registered(reg, FakeConsumer(ADDRESSES[:3]), NAMES)
    with pytest.raises(CheckFailed, match="all UP"):
        check_registered(
            FakeRegistry({**reg.listed, ADDRESSES[0]: "DOWN"}), FakeConsumer(ADDRESSES), NAMES
        )


def test_all_answer():
    calls = [call(i, ADDRESSES[i % 4]) for i in range(40)]
    check_all_answer(calls, NAMES)
    with pytest.raises(CheckFailed, match="all 4 producers"):
        check_all_answer([call(i, ADDRESSES[i % 3]) for i in range(40)], NAMES)


def test_new_instance_called_only_after_the_fetch():
    e_ip = E.split(":")[0]
    ips = {name: ip for ip, name in NAMES.items()}
    requests = [
        request(e_ip, "POST /eureka/apps/RANDOM-GENERATOR"),
        request(e_ip, f"PUT /eureka/apps/RANDOM-GENERATOR/{e_ip}:random-generator:8080"),
        request(ips["consumer"], "GET /eureka/apps"),
    ]
    calls = [call(1, ADDRESSES[0]), call(3, E)]
    check_new_instance(requests, E, ips, calls, fetched=2.5, registered=2)
    with pytest.raises(CheckFailed, match="POST"):
        check_new_instance(requests[1:], E, ips, calls, fetched=2.5, registered=2)
    with pytest.raises(CheckFailed, match="PUT"):
        check_new_instance(requests[::2], E, ips, calls, fetched=2.5, registered=2)
    with pytest.raises(CheckFailed, match="GET /eureka/apps"):
        check_new_instance(requests[:2], E, ips, calls, fetched=2.5, registered=2)
    with pytest.raises(CheckFailed, match="then called"):  # called before the fetch
        check_new_instance(requests, E, ips, calls, fetched=3.5, registered=2)
    with pytest.raises(CheckFailed, match="then called"):  # fetched before it registered
        check_new_instance(requests, E, ips, calls, fetched=2.5, registered=3.5)


def test_killed_instance_listed_two_leases_and_retried_around():
    calls = [
        call(1, E, ok=False, error="connection refused"),
        call(1.1, ADDRESSES[0], retried_from=E),
    ]
    check_killed(calls, E, killed=0, evicted=10.5, forgotten=11)
    with pytest.raises(CheckFailed, match="more than one lease"):
        check_killed(calls, E, killed=0, evicted=4, forgotten=5)
    with pytest.raises(CheckFailed, match="retried on another instance"):
        check_killed(calls[:1], E, killed=0, evicted=10.5, forgotten=11)


def test_cancelled_at_once():
    d = ADDRESSES[3]
    events = [
        {"t": 101, "event": "cancelled", "instanceId": d.replace(":8080", ":random-generator:8080")}
    ]
    check_cancelled(FakeRegistry({}, events), 100, 101, d, 10.3)
    with pytest.raises(CheckFailed, match="within 3 s"):
        check_cancelled(FakeRegistry({}, events), 100, 109, d, 10.3)


def test_self_preservation_keeps_the_dead():
    dead = ADDRESSES[1:3]
    banner = "EMERGENCY! EUREKA MAY BE INCORRECTLY CLAIMING INSTANCES ARE UP WHEN THEY'RE NOT."
    held = {"t": 20, "detail": "renews 4 <= threshold 7"}
    check_self_preservation(
        FakeRegistry(dict.fromkeys(ADDRESSES, "UP"), [], banner), dead, held, 10, 9
    )
    with pytest.raises(CheckFailed, match="EMERGENCY"):
        check_self_preservation(FakeRegistry(dict.fromkeys(ADDRESSES, "UP")), dead, held, 10, 9)
    evicted = [{"t": 15, "event": "evicted", "instanceId": "x"}]
    with pytest.raises(CheckFailed, match="nothing evicted"):
        check_self_preservation(
            FakeRegistry(dict.fromkeys(ADDRESSES, "UP"), evicted, banner), dead, held, 10, 9
        )


def test_evicted_once_heartbeats_recover():
    dead = ADDRESSES[1:3]
    events = [
        {"t": 30, "event": "evicted", "instanceId": x.replace(":8080", ":random-generator:8080")}
        for x in reversed(dead)
    ]
    calls = [call(12, x, ok=False, error="connection refused") for x in dead]
    calls += [call(13, ADDRESSES[0], ok=False, error="timed out")]  # a busy one may time out
    check_evicted_later(FakeRegistry({}, events), 9, dead, calls, 20)
    with pytest.raises(CheckFailed, match="the dead evicted"):
        check_evicted_later(FakeRegistry({}, events[:1]), 9, dead, calls, 20)
    with pytest.raises(CheckFailed, match="refused by the dead only"):
        check_evicted_later(FakeRegistry({}, events), 9, dead, calls[:1], 20)


def test_registry_down_served_from_the_cache():
    events = [{"t": 5, "event": "renewed-unknown"}, {"t": 6, "event": "registered"}]
    lab = FakeLab(logs="Re-registering apps/RANDOM-GENERATOR/10.244.1.2:random-generator:8080")
    calls = [call(1, ADDRESSES[0]), call(2, ADDRESSES[1]), call(5, ADDRESSES[2], ok=False)]
    check_registry_down(lab, FakeRegistry({}, events), calls, down=1, back=3)
    with pytest.raises(CheckFailed, match="all answered"):
        check_registry_down(lab, FakeRegistry({}, events), calls, down=1, back=6)
    with pytest.raises(CheckFailed, match="all answered"):  # no call while down
        check_registry_down(lab, FakeRegistry({}, events), calls, down=3, back=4)
    with pytest.raises(CheckFailed, match="a 404 renewal"):
        check_registry_down(lab, FakeRegistry({}, events[1:]), calls, down=1, back=3)
    with pytest.raises(CheckFailed, match="re-registering"):
        check_registry_down(FakeLab(), FakeRegistry({}, events), calls, down=1, back=3)


def test_k8s_watch_lists_the_ready_pods():
    pods = [{"status": {"podIP": x.split(":")[0]}} for x in ADDRESSES[:3]]
    check_k8s_watch(FakeLab(pods=pods), FakeConsumer(ADDRESSES[2::-1]))
    with pytest.raises(CheckFailed, match="the ready pods"):
        check_k8s_watch(FakeLab(pods=pods), FakeConsumer(ADDRESSES[:2]))
    with pytest.raises(CheckFailed, match="KUBERNETES_SERVICE_HOST"):
        check_k8s_watch(FakeLab(pods=pods, host="10.96.0.10"), FakeConsumer(ADDRESSES[:3]))


def test_dropped_from_the_watch():
    target = "10.244.1.5"
    calls = [call(1, f"{target}:8080"), call(3, ADDRESSES[0]), call(4, ADDRESSES[1])]
    check_dropped(calls, since=0, dropped=2, target_ip=target)
    with pytest.raises(CheckFailed, match=f"none to {target}"):
        check_dropped([*calls, call(5, f"{target}:8080")], since=0, dropped=2, target_ip=target)
    with pytest.raises(CheckFailed, match="no call failed"):
        check_dropped(
            [*calls, call(5, ADDRESSES[0], ok=False)], since=0, dropped=2, target_ip=target
        )
