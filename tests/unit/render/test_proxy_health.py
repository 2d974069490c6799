"""kube-proxy's health answers against pkg/proxy/healthcheck: the proxier's health timeout
on virtual instants, /healthz's node eligibility, /livez, the service health check's body
byte for byte, and which Services get a health check port with what count."""

from __future__ import annotations

import json

import pytest

from lab_kit.render import proxy_health as ph

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def at(seconds: float) -> ph.Instant:
    """An instant `seconds` after the process started."""
    return ph.Instant(T0 + seconds, seconds)


@pytest.mark.parametrize(
    "instant,text",
    [
        (None, "0001-01-01 00:00:00 +0000 UTC"),
        (ph.Instant(T0, 0.000000001), "2023-11-14 22:13:20 +0000 UTC m=+0.000000001"),
        (ph.Instant(T0 + 0.25, 1038.045839588), "2023-11-14 22:13:20.25 +0000 UTC m=+1038.045839588"),
        (ph.Instant(T0 + 59.125, 61.5), "2023-11-14 22:14:19.125 +0000 UTC m=+61.500000000"),
    ],
)  # fmt: skip
def test_times_print_as_go_prints_time_now(instant, text):
    assert ph.go_time(instant) == text


def test_healthy_while_starting_and_answers_with_the_current_time():
    health = ph.ProxierHealth(health_timeout_s=60)
    answer = health.healthz(at(5))
    now = ph.go_time(at(5))
    assert answer == ph.Answer(
        200, f'{{"lastUpdated": "{now}","currentTime": "{now}", "nodeEligible": true}}'
    )
    assert answer.headers == (
        ("Content-Type", "application/json"),
        ("X-Content-Type-Options", "nosniff"),
    )
    assert health.livez(at(5)) == ph.Answer(
        200, f'{{"lastUpdated": "{now}","currentTime": "{now}"}}'
    )


def test_a_queued_update_not_synced_within_the_timeout_is_unhealthy():
    health = ph.ProxierHealth(health_timeout_s=60)
    health.updated(at(10))
    health.queued_update(at(20))
    health.queued_update(at(50))  # only the oldest pending one counts
    assert health.is_healthy(at(79.9))
    assert not health.is_healthy(at(80))
    answer = health.healthz(at(80))
    # Unhealthy: lastUpdated is the last successful sync, not now.
    assert answer.status == 503
    assert json.loads(answer.body) == {
        "lastUpdated": ph.go_time(at(10)),
        "currentTime": ph.go_time(at(80)),
        "nodeEligible": True,
    }
    assert health.livez(at(80)).status == 503
    health.updated(at(81))
    assert health.healthz(at(81)).status == 200


def test_never_synced_and_late_prints_the_zero_time():
    health = ph.ProxierHealth(health_timeout_s=60)
    health.queued_update(at(0))
    assert json.loads(health.livez(at(60)).body)["lastUpdated"] == "0001-01-01 00:00:00 +0000 UTC"


def test_no_changes_stay_healthy_however_long_ago_the_last_sync():
    health = ph.ProxierHealth(health_timeout_s=60)
    health.updated(at(0))
    assert health.healthz(at(3600)).status == 200


@pytest.mark.parametrize(
    "node,eligible",
    [
        ({"metadata": {"name": "node1"}, "spec": {}}, True),
        ({"metadata": {"name": "node1"}, "spec": {"taints": [
            {"key": "ToBeDeletedByClusterAutoscaler", "value": "1700000000", "effect": "NoSchedule"}]}}, False),
        ({"metadata": {"name": "node1"}, "spec": {"taints": [
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]}}, True),
        ({"metadata": {"name": "node1", "deletionTimestamp": "2023-11-14T22:13:20Z"}}, False),
    ],
)  # fmt: skip
def test_healthz_follows_node_eligibility_and_livez_ignores_it(node, eligible):
    health = ph.ProxierHealth(health_timeout_s=60)
    health.sync_node(node)
    answer = health.healthz(at(1))
    assert answer.status == (200 if eligible else 503)
    assert answer.body.endswith(f', "nodeEligible": {str(eligible).lower()}}}')
    assert health.livez(at(1)).status == 200


def test_other_paths_get_gos_not_found():
    answer = ph.not_found()
    assert (answer.status, answer.body) == (404, "404 page not found\n")
    assert ("Content-Type", "text/plain; charset=utf-8") in answer.headers


# --- health check node ports ----------------------------------------------------------------


def test_service_health_body_is_the_dedented_go_template():
    assert ph.service_health(("default", "web"), 2, True) == ph.Answer(
        200,
        '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n'
        '\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}',
    )
    assert json.loads(ph.service_health(("default", "web"), 0, True).body) == {
        "service": {"namespace": "default", "name": "web"},
        "localEndpoints": 0,
        "serviceProxyHealthy": True,
    }


@pytest.mark.parametrize(
    "count,proxy_healthy,status", [(1, True, 200), (0, True, 503), (3, False, 503)]
)
def test_service_health_status(count, proxy_healthy, status):
    assert ph.service_health(("ns", "svc"), count, proxy_healthy).status == status


def svc(name, type_="LoadBalancer", etp="Local", hcnp=32000, **meta):
    return {
        "kind": "Service",
        "metadata": {"namespace": "default", "name": name, **meta},
        "spec": {
            "type": type_,
            "clusterIP": "10.96.0.50",
            "externalTrafficPolicy": etp,
            "healthCheckNodePort": hcnp,
            "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                      {"name": "https", "port": 443, "nodePort": 30443}],
        },
    }  # fmt: skip


def slice_(service, endpoints):
    return {
        "kind": "EndpointSlice",
        "metadata": {"namespace": "default", "name": f"{service}-x",
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}, {"name": "https", "port": 8443}],
        "endpoints": endpoints,
    }  # fmt: skip


def ep(ip, node, **conditions):
    return {"addresses": [ip], "nodeName": node, "conditions": conditions}


def test_only_load_balancers_with_local_policy_get_a_health_check_port():
    services = [
        svc("lb-local", hcnp=32001),
        svc("lb-cluster", etp="Cluster", hcnp=0),
        svc("np-local", type_="NodePort", hcnp=0),
        svc("off", hcnp=32002, labels={"service.kubernetes.io/service-proxy-name": "x"}),
    ]
    assert ph.health_check_node_ports(services) == {("default", "lb-local"): 32001}


def test_local_ready_endpoints_count_distinct_ips_on_this_node():
    slices = [
        slice_("web", [
            ep("10.244.1.2", "node1"),  # one pod, two ports: one endpoint
            ep("10.244.1.3", "node1", ready=False),  # not ready
            ep("10.244.1.4", "node1", ready=False, serving=True, terminating=True),
            ep("10.244.2.2", "node2"),
        ]),
    ]  # fmt: skip
    assert ph.local_ready_endpoints(slices, "node1") == {("default", "web"): 1}
    assert ph.local_ready_endpoints(slices, "node2") == {("default", "web"): 1}
    assert ph.local_ready_endpoints(slices, "node3") == {}


def test_service_health_state_opens_closes_and_counts():
    state = ph.ServiceHealthState()
    slices = [slice_("a", [ep("10.244.1.2", "node1")])]
    plan = state.sync([svc("a", hcnp=32001), svc("b", hcnp=32002)], slices, "node1")
    assert plan == ph.SyncPlan(close={}, open={("default", "a"): 32001, ("default", "b"): 32002})
    assert state.answer(("default", "a"), True).status == 200
    assert json.loads(state.answer(("default", "b"), True).body)["localEndpoints"] == 0
    # b moves to another port, a goes away.
    plan = state.sync([svc("b", hcnp=32003)], slices, "node1")
    assert plan == ph.SyncPlan(
        close={("default", "a"): 32001, ("default", "b"): 32002}, open={("default", "b"): 32003}
    )
    state.forget(("default", "b"))  # its port could not be opened: retried next sync
    assert state.sync([svc("b", hcnp=32003)], slices, "node1").open == {("default", "b"): 32003}
