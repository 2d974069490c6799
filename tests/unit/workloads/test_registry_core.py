"""The Eureka registry's logic on virtual time: REST answers, leases and the 2x quirk,
eviction's limit, self-preservation, the status override and the response cache."""

from __future__ import annotations

import random

import pytest

from lab_kit.workloads.registry_client import instance_info, up_instances
from lab_kit.workloads.registry_core import Config, Registry

APP = "RANDOM-GENERATOR"


def info(n: int, duration: int = 90) -> dict:
    return instance_info("random-generator", f"10.244.1.{n}", 8080, 30, duration)


def iid(n: int) -> str:
    return f"10.244.1.{n}:random-generator:8080"


def registry(**config: object) -> Registry:
    return Registry(Config(**config), rng=random.Random(1), started=0.0)


def test_register_answers_204_and_validates_as_eureka():
    r = registry()
    assert r.register("random-generator", info(1), 0) == (204, "")  # the path's app, any case
    missing = info(2)
    del missing["instance"]["ipAddr"]
    assert r.register(APP, missing, 0) == (400, "Missing ipAddr")
    other = info(3)
    assert r.register("OTHER", other, 0)[0] == 400  # app != the path's app
    no_dci = info(4)
    no_dci["instance"]["dataCenterInfo"] = {"@class": "x"}
    assert r.register(APP, no_dci, 0)[0] == 400
    assert r.register(APP, "not json object", 0)[0] == 400
    assert list(r.apps[APP]) == [iid(1)]


def test_renew_and_cancel_of_unknown_instances_are_404():
    r = registry()
    assert r.renew(APP, iid(9), 1) == 404 and r.cancel(APP, iid(9), 1) == 404
    r.register(APP, info(1), 0)
    assert r.renew(APP, iid(1), 1) == 200 and r.cancel(APP, iid(1), 2) == 200
    assert r.renew(APP, iid(1), 3) == 404  # the client must register again
    assert [e.event for e in r.events] == [
        "renewed-unknown",
        "registered",
        "cancelled",
        "renewed-unknown",
    ]


@pytest.mark.parametrize("quirk, listed_for", [(True, 180), (False, 90)])
def test_a_silent_death_expires_after_two_leases_with_the_quirk(quirk, listed_for):
    r = registry(self_preservation=False, lease_quirk=quirk)
    r.register(APP, info(1), 0)
    r.renew(APP, iid(1), 30)  # the last heartbeat
    lease = r.apps[APP][iid(1)]
    assert not lease.expired(30 + listed_for) and lease.expired(30 + listed_for + 0.1)


def test_a_lease_never_renewed_expires_after_one_duration_even_with_the_quirk():
    r = registry()
    r.register(APP, info(1), 0)
    assert not r.apps[APP][iid(1)].expired(90) and r.apps[APP][iid(1)].expired(90.1)


def test_eviction_takes_at_most_size_minus_85_percent_per_run():
    r = registry(self_preservation=False)
    for n in range(10):
        r.register(APP, info(n), 0)
    gone = r.evict(1000)  # all 10 expired
    assert len(gone) == 10 - int(10 * 0.85) == 2
    assert r.size() == 8 and len(r.evict(1001)) == 8 - int(8 * 0.85)


def heartbeats(r: Registry, alive: range, start: float, end: float) -> None:
    t = start
    while t < end:
        t += 30
        for n in alive:
            r.renew(APP, iid(n), t)
        r.tick(t)


def test_self_preservation_arithmetic_with_spring_clouds_opening_count():
    r = registry()
    for n in range(10):
        r.register(APP, info(n), 0)
    assert r.expected == 11  # Spring Cloud opens with 1, each register adds 1
    assert r.threshold == int(11 * (60 / 30) * 0.85) == 18
    heartbeats(r, range(10), 0, 120)  # a full minute of 20 renews
    assert r.renews_last == 20 and r.lease_expiration_enabled()
    heartbeats(r, range(9), 120, 240)  # one died: 18 renews, not above 18
    assert r.renews_last == 18 and not r.lease_expiration_enabled()
    assert r.evict(1000) == [] and r.protecting  # expired leases are kept
    assert [e.event for e in r.events][-1] == "self-preservation"


def test_without_the_extra_client_one_death_in_ten_is_evicted_and_two_are_kept():
    r = registry(initial_expected=0)  # the reference's arithmetic: 10 instances -> 17
    for n in range(10):
        r.register(APP, info(n), 0)
    assert r.expected == 0  # registrations move it only while it is above 0
    r.expected = 10
    assert r.threshold == 17
    heartbeats(r, range(9), 0, 120)
    assert r.renews_last == 18 and r.lease_expiration_enabled()
    heartbeats(r, range(8), 120, 240)
    assert r.renews_last == 16 and not r.lease_expiration_enabled()


def test_the_switch_turns_self_preservation_off():
    r = registry(self_preservation=False)
    r.register(APP, info(1), 0)
    assert r.lease_expiration_enabled() and r.evict(1000) == [iid(1)]


def test_the_recount_lowers_the_expectation_only_if_most_clients_remain():
    r = registry(threshold_update_interval=900)
    for n in range(10):
        r.register(APP, info(n), 0)
    r.cancel(APP, iid(0), 1)  # a cancel lowers it by one: 11 -> 10
    assert r.expected == 10
    r.tick(901)
    assert r.expected == 9  # 9 registered > 0.85 * 10: recounted to the registry's size
    r.expected = 20  # as if many had gone without a word
    r.tick(1802)
    assert r.expected == 20  # 9 is not above 0.85 * 20: a mass disappearance keeps it


def test_status_override_hides_an_instance_from_up_only_clients():
    r = registry()
    for n in (1, 2):
        r.register(APP, info(n), 0)
    assert r.set_status(APP, iid(1), "OUT_OF_SERVICE", 1) == 200
    assert r.set_status(APP, iid(9), "OUT_OF_SERVICE", 1) == 404
    apps = r.applications(100)
    assert up_instances(apps, APP) == ["10.244.1.2:8080"]
    assert r.find(iid(1))["status"] == "OUT_OF_SERVICE"
    r.set_status(APP, iid(1), "", 200)
    assert up_instances(r.applications(300), APP) == ["10.244.1.1:8080", "10.244.1.2:8080"]


def test_get_apps_lags_by_the_response_cache_interval():
    r = registry(response_cache_update=30)
    r.register(APP, info(1), 0)
    assert len(up_instances(r.applications(0), APP)) == 1
    r.register(APP, info(2), 1)
    assert len(up_instances(r.applications(29), APP)) == 1  # the read-only cache
    assert len(up_instances(r.applications(30), APP)) == 2
    assert r.applications(30)["applications"]["apps__hashcode"] == "UP_2_"
    off = registry(use_response_cache=False)
    off.register(APP, info(1), 0)
    off.applications(0)
    off.register(APP, info(2), 1)
    assert len(up_instances(off.applications(1), APP)) == 2


def test_instance_json_carries_eureka_lease_info():
    r = registry()
    r.register(APP, info(1), 10)
    inst = r.application(APP)["instance"][0]
    assert inst["app"] == APP and inst["status"] == "UP" and inst["overriddenStatus"] == "UNKNOWN"
    assert inst["leaseInfo"]["registrationTimestamp"] == 10_000
    assert inst["leaseInfo"]["durationInSecs"] == 90
    assert r.application("NOPE") is None and r.find("nope") is None
