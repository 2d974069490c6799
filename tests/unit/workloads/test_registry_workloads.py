"""springcloud/eureka, the random-generator registering in it and lab-kit/discovery-client
using it, as processes on 127.0.0.1 (no root, no lab): the REST surface, registration,
heartbeats, graceful cancel vs kill -9, re-registration after a registry restart, and the
consumer's round robin, retry, refresh and kept cache."""

from __future__ import annotations

import json
import signal

from workload_procs import free_port, get, wait_until

FAST = {
    "EUREKA_SERVER_EVICTIONINTERVALTIMERINMS": "200",
    "EUREKA_SERVER_EXPECTEDCLIENTRENEWALINTERVALSECONDS": "1",
    "EUREKA_SERVER_RESPONSECACHEUPDATEINTERVALMS": "100",
    "EUREKA_SERVER_ENABLESELFPRESERVATION": "false",
}


def eureka(spawn, port: int, **env: str):
    proc = spawn(
        {"image": "springcloud/eureka", "args": [f"--server.port={port}"]}, {**FAST, **env}
    )
    proc.wait_port(port)
    return proc


def producer(spawn, registry_port: int, port: int, renew: str = "1", duration: str = "2"):
    proc = spawn(
        {"image": "k8spatterns/random-generator:1.0", "args": [f"--server.port={port}"]},
        {"EUREKA_CLIENT_SERVICEURL_DEFAULTZONE": f"http://127.0.0.1:{registry_port}/eureka/",
         "EUREKA_INSTANCE_LEASERENEWALINTERVALINSECONDS": renew,
         "EUREKA_INSTANCE_LEASEEXPIRATIONDURATIONINSECONDS": duration,
         "POD_IP": "127.0.0.1", "READY_FILE": "ready", "SPRING_APPLICATION_NAME": "random-generator"},
    )  # fmt: skip
    proc.wait_port(port)
    return proc


def apps(port: int) -> dict[str, str]:
    status, _, body, _ = get(port, "/eureka/apps", headers={"Accept": "application/json"})
    assert status == 200
    found = json.loads(body)["applications"]["application"]
    return {i["instanceId"]: i["status"] for a in found for i in a["instance"]}


def events(port: int) -> list[str]:
    return [e["event"] for e in json.loads(get(port, "/lab/events")[2])]


def test_the_rest_surface(spawn):
    port = free_port()
    eureka(spawn, port)
    assert get(port, "/actuator/health")[:1] == (200,)
    assert get(port, "/eureka/apps/NOPE")[0] == 404
    assert get(port, "/eureka/instances/nope")[0] == 404
    assert get(port, "/eureka/apps/X/y", "PUT")[0] == 404  # renew of the unknown
    assert "Instances currently registered with Eureka" in get(port, "/")[2]
    assert json.loads(get(port, "/eureka/apps")[2])["applications"]["application"] == []


def test_a_producer_registers_heartbeats_and_cancels_on_sigterm(spawn):
    port, app_port = free_port(), free_port()
    server = eureka(spawn, port)
    proc = producer(spawn, port, app_port)
    me = f"127.0.0.1:random-generator:{app_port}"
    wait_until(lambda: apps(port) == {me: "UP"}, "the registration")
    status, _, body, _ = get(port, f"/eureka/apps/RANDOM-GENERATOR/{me}")
    assert status == 200 and json.loads(body)["instance"]["leaseInfo"]["durationInSecs"] == 2
    assert get(port, "/eureka/apps/RANDOM-GENERATOR/" + me + "/status?value=OUT_OF_SERVICE",
               "PUT")[0] == 200  # fmt: skip
    wait_until(lambda: apps(port) == {me: "OUT_OF_SERVICE"}, "the override")
    assert get(port, f"/eureka/apps/RANDOM-GENERATOR/{me}/status", "DELETE")[0] == 200
    proc.signal(signal.SIGTERM)
    assert proc.exit_code() == 143
    wait_until(lambda: apps(port) == {}, "the cancel")
    assert events(port)[-1] == "cancelled"
    assert "deregister  status: 200" in proc.stdout.read_text()
    server.wait_logged("Cancelled instance RANDOM-GENERATOR/" + me, "stdout")


def test_a_killed_producer_is_evicted_after_its_lease(spawn):
    port, app_port = free_port(), free_port()
    eureka(spawn, port)
    proc = producer(spawn, port, app_port)
    wait_until(lambda: len(apps(port)) == 1, "the registration")
    proc.signal(signal.SIGKILL)
    wait_until(lambda: apps(port) == {}, "the eviction", timeout=10)
    assert "evicted" in events(port) and "cancelled" not in events(port)


def test_after_a_registry_restart_the_heartbeat_404_makes_it_register_again(spawn):
    port, app_port = free_port(), free_port()
    first = eureka(spawn, port)
    proc = producer(spawn, port, app_port)
    wait_until(lambda: len(apps(port)) == 1, "the registration")
    first.signal(signal.SIGKILL)
    first.exit_code()
    wait_until(
        lambda: "was unable to send heartbeat" in proc.stdout.read_text(), "a failed heartbeat"
    )
    eureka(spawn, port)  # a new registry: it knows nobody
    wait_until(lambda: len(apps(port)) == 1, "the registration again", timeout=10)
    assert events(port)[:2] == ["renewed-unknown", "registered"]
    assert "Re-registering apps/RANDOM-GENERATOR" in proc.stdout.read_text()


def consumer(spawn, registry_port: int, admin: int, fetch: str = "1"):
    proc = spawn({"image": "lab-kit/discovery-client",
                  "args": ["--registry=eureka", f"--admin-port={admin}", "--interval-ms=50"]},
                 {"EUREKA_CLIENT_SERVICEURL_DEFAULTZONE": f"http://127.0.0.1:{registry_port}/eureka",
                  "EUREKA_CLIENT_REGISTRYFETCHINTERVALSECONDS": fetch})  # fmt: skip
    proc.wait_port(admin)
    return proc


def admin(port: int, path: str, method: str = "GET"):
    return json.loads(get(port, path, method)[2])


def test_the_consumer_round_robins_retries_and_keeps_its_cache(spawn):
    port, a, b, adm = free_port(), free_port(), free_port(), free_port()
    registry = eureka(spawn, port)
    producer(spawn, port, a)
    dying = producer(spawn, port, b, duration="30")  # a long lease: listed well after death
    wait_until(lambda: len(apps(port)) == 2, "two registrations")
    consumer(spawn, port, adm, fetch="600")  # one fetch, then only on request
    wait_until(lambda: len(admin(adm, "/cache")["instances"]) == 2, "the first fetch")
    start = admin(adm, "/calls")[-1]["seq"]  # calls before the first fetch found nobody
    seen = wait_until(lambda: (c := admin(adm, f"/calls?since={start}"))[9:] and c, "ten calls")
    assert {c["instance"] for c in seen[:10]} == {f"127.0.0.1:{a}", f"127.0.0.1:{b}"}
    assert all(c["ok"] and c["status"] == 200 for c in seen)
    dying.signal(signal.SIGKILL)
    dying.exit_code()
    mark = seen[-1]["seq"]
    retried = wait_until(lambda: [c for c in admin(adm, f"/calls?since={mark}") if c["retried_from"]],
                         "a retry on the next instance")  # fmt: skip
    assert retried[0]["retried_from"] == f"127.0.0.1:{b}" and retried[0]["ok"]
    registry.signal(signal.SIGKILL)
    registry.exit_code()
    admin(adm, "/refresh", "POST")
    wait_until(lambda: admin(adm, "/cache")["last_error"], "the failed fetch")
    assert len(admin(adm, "/cache")["instances"]) == 2  # the last copy is kept
