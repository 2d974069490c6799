"""Lab 01's named checks over data (the consumer's calls, the registry's listing and events):
each passes on what a working lab shows and fails, saying what it saw, on what a broken one
would."""

from __future__ import annotations

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab01 import (
    PRODUCERS,
    check_all_answer,
    check_cancelled,
    check_dropped,
    check_killed,
    check_registered,
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
