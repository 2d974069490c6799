"""Shared pod helpers: readiness, availability, target ports, IP families, timestamps."""

from __future__ import annotations

import pytest
from ctrl_objects import NOW, pod, service

from lab_kit.controllers import pods

FIND_PORT = [
    ("numeric targetPort is used as is", {"port": 80, "targetPort": 8080}, [], 8080),
    ("missing targetPort means port", {"port": 80}, [], 80),
    (
        "named port found",
        {"port": 80, "targetPort": "http", "protocol": "TCP"},
        [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        8080,
    ),
    (
        "named port with another protocol is not a match",
        {"port": 53, "targetPort": "dns", "protocol": "UDP"},
        [{"name": "dns", "containerPort": 53, "protocol": "TCP"}],
        None,
    ),
    (
        "container port protocol defaults to TCP",
        {"port": 80, "targetPort": "http", "protocol": "TCP"},
        [{"name": "http", "containerPort": 8081}],
        8081,
    ),
    (
        "unknown name",
        {"port": 80, "targetPort": "nope"},
        [{"name": "http", "containerPort": 8080}],
        None,
    ),
]


@pytest.mark.parametrize(
    "service_port,ports,expected", [c[1:] for c in FIND_PORT], ids=[c[0] for c in FIND_PORT]
)
def test_find_port(service_port, ports, expected):
    p = pod("p")
    p["spec"]["containers"][0]["ports"] = ports
    assert pods.find_port(p, service_port) == expected


def test_find_port_looks_at_sidecars_only():
    p = pod("p")
    p["spec"]["initContainers"] = [
        {"name": "init", "ports": [{"name": "x", "containerPort": 1, "protocol": "TCP"}]},
        {
            "name": "side",
            "restartPolicy": "Always",
            "ports": [{"name": "y", "containerPort": 2, "protocol": "TCP"}],
        },
    ]
    assert pods.find_port(p, {"port": 80, "targetPort": "x", "protocol": "TCP"}) is None
    assert pods.find_port(p, {"port": 80, "targetPort": "y", "protocol": "TCP"}) == 2


LIFECYCLE = [
    ("running and ready", pod("p", ip="10.0.0.1", ready=True), True, True, True),
    ("running, not ready", pod("p", ip="10.0.0.1", ready=False), False, True, True),
    ("pending without IP", pod("p"), False, True, False),
    ("succeeded", pod("p", ip="10.0.0.1", phase="Succeeded"), False, False, False),
    ("terminating", pod("p", ip="10.0.0.1", ready=True, deleting=True), True, False, False),
]


@pytest.mark.parametrize(
    "p,ready,active,in_endpoints", [c[1:] for c in LIFECYCLE], ids=[c[0] for c in LIFECYCLE]
)
def test_lifecycle(p, ready, active, in_endpoints):
    assert pods.is_pod_ready(p) is ready
    assert pods.is_pod_active(p) is active
    assert pods.should_pod_be_in_endpoints(p, include_terminating=False) is in_endpoints


def test_terminating_pod_in_endpoints_only_when_wanted():
    p = pod("p", ip="10.0.0.1", deleting=True)
    assert pods.should_pod_be_in_endpoints(p, include_terminating=True)


def test_available_after_min_ready_seconds():
    p = pod("p", ip="10.0.0.1", ready=True, ready_at=0)
    assert pods.is_pod_available(p, 0, NOW)
    assert not pods.is_pod_available(p, 10, NOW + 10)  # strictly more than minReadySeconds
    assert pods.is_pod_available(p, 10, NOW + 11)


def test_pod_ip_by_family():
    p = pod("p", ip="10.0.0.1")
    p["status"]["podIPs"] = [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]
    assert (pods.pod_ip(p, "IPv4"), pods.pod_ip(p, "IPv6")) == ("10.0.0.1", "fd00::1")
    only_pod_ip = pod("q", ip="10.0.0.2")
    del only_pod_ip["status"]["podIPs"]
    assert pods.pod_ip(only_pod_ip) == "10.0.0.2"


def test_hostname_rule():
    svc = service("db")
    assert pods.should_set_hostname(pod("p", hostname="db-0", subdomain="db"), svc)
    assert not pods.should_set_hostname(pod("p", hostname="db-0"), svc)
    assert not pods.should_set_hostname(pod("p", ns="other", hostname="db-0", subdomain="db"), svc)


def test_timestamps_round_trip():
    assert pods.timestamp(NOW) == "2023-11-14T22:13:20Z"
    assert pods.parse_timestamp("2023-11-14T22:13:20Z") == NOW
    assert pods.parse_timestamp("2023-11-14T22:13:20.123456789Z") == NOW
    assert pods.parse_timestamp("garbage") is None
