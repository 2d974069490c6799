"""Regression tests for fidelity fails of the API server's write path (issue 12): random
ClusterIPs after a refused write, Secret stringData, IPv6 and dual-stack requests on a
single-stack IPv4 cluster, the service CIDR, and the warnings kube-apiserver sends."""

from __future__ import annotations

import ipaddress

import pytest

from lab_kit.api.registry import Registry
from lab_kit.model.errors import ApiError


@pytest.fixture
def reg() -> Registry:
    r = Registry(clock=lambda: 1_700_000_000.0)
    r.bootstrap()
    return r


def svc(name: str, **spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


REFUSED = svc("bad", ports=[{"port": 80}, {"port": 81}])  # two ports, no names: a 422


def refuse(reg: Registry, dry_run: bool = False) -> None:
    with pytest.raises(ApiError):
        reg.apply([svc("fine"), REFUSED], dry_run=dry_run)


# --- random ClusterIPs after a refusal -----------------------------------------------------------


@pytest.mark.parametrize(
    "interrupt",
    [
        lambda r: refuse(r),
        lambda r: r.apply([svc("tried")], dry_run=True),
        lambda r: r.create(svc("tried"), dry_run=True),
        lambda r: pytest.raises(ApiError, r.create, svc("x", clusterIP="10.96.0.1")),
    ],
    ids=["refused apply", "dry-run apply", "dry-run create", "refused create"],
)
def test_cluster_ips_stay_random_after_a_refused_or_dry_run_write(interrupt):
    """Before: every refusal reset the allocators' generators, so each later Service got
    the neighbour of an address already taken (10.104.187.49, .50, .51, ...)."""
    plain, interrupted = Registry(seed=0), Registry(seed=0)
    plain.bootstrap()
    interrupted.bootstrap()
    got, expected = [], []
    for i in range(6):
        interrupt(interrupted)
        got.append(interrupted.create(svc(f"s{i}"))["spec"]["clusterIP"])
        expected.append(plain.create(svc(f"s{i}"))["spec"]["clusterIP"])
    assert got == expected  # as if the interrupted writes had never been tried
    numbers = sorted(int(ipaddress.ip_address(ip)) for ip in got)
    assert all(b - a > 1 for a, b in zip(numbers, numbers[1:], strict=False))  # not neighbours


def test_node_ports_stay_random_after_a_refusal():
    plain, interrupted = Registry(seed=0), Registry(seed=0)
    plain.bootstrap()
    interrupted.bootstrap()
    for i in range(4):
        refuse(interrupted)
        a = interrupted.create(svc(f"n{i}", type="NodePort"))["spec"]["ports"][0]["nodePort"]
        b = plain.create(svc(f"n{i}", type="NodePort"))["spec"]["ports"][0]["nodePort"]
        assert a == b


def test_a_refused_batch_still_gives_back_what_it_allocated(reg):
    refuse(reg)
    assert reg.store.get("Service", "default", "fine") is None
    taken = reg.create(svc("fine"))["spec"]["clusterIP"]
    assert reg.addresses.ips.is_allocated(taken)
