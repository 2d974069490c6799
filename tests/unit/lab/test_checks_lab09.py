"""Lab 09's named checks over data (a mirrored slice, curl answers, packets, conntrack, the
API server's refusal, the slices by Service): each passes on what a working lab shows and
fails, saying what it saw, on what a broken one would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab09 import (
    MIRRORING,
    SPECIAL_ERRORS,
    check_both_rewrites_on_the_wire,
    check_conntrack_both_rewrites,
    check_mirrored_slice,
    check_no_pod_endpoints,
    check_source_is_node1,
    check_special_addresses_refused,
)
from lab_kit.lab.packets import PacketRow, PacketTable
from lab_kit.lab.proxy_view import ConntrackEntry

TOOLBOX, CLUSTER_IP = "10.244.1.5", "10.96.0.30"


class FakeLab:
    """`get(kind)` answers with the objects given for that kind."""

    def __init__(self, **objects: list[dict]):
        self.objects = objects

    def get(self, kind: str, *args, **kwargs) -> list[dict]:
        return self.objects[kind]


def mirrored(address: str = "203.0.113.10", managed_by: str = MIRRORING) -> dict:
    return {
        "metadata": {
            "name": "outside-abcde",
            "labels": {
                "kubernetes.io/service-name": "outside",
                "endpointslice.kubernetes.io/managed-by": managed_by,
            },  # fmt: skip
            "ownerReferences": [{"kind": "Endpoints", "name": "outside", "controller": True}],
        },
        "endpoints": [{"addresses": [address]}],
        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
    }


def test_the_mirrored_slice_is_the_endpoints_as_written(capsys):
    check_mirrored_slice([mirrored()])
    assert "outside-abcde mirrors Endpoints outside: 203.0.113.10:8080" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="one EndpointSlice for outside; saw 0"):
        check_mirrored_slice([])
    with pytest.raises(CheckFailed, match="managed-by endpointslicemirroring-controller"):
        check_mirrored_slice([mirrored(managed_by="endpointslice-controller.k8s.io")])
    with pytest.raises(CheckFailed, match=r"the one address 203.0.113.10; saw \[\['10.0.0.9'\]\]"):
        check_mirrored_slice([mirrored("10.0.0.9")])


def curl(stdout: str, returncode: int = 0) -> SimpleNamespace:
    return SimpleNamespace(stdout=stdout, returncode=returncode)


def test_the_outside_host_sees_node1():
    check_source_is_node1(curl("internet\n"), curl("172.18.0.2:41234"), "internet", TOOLBOX)
    with pytest.raises(
        CheckFailed, match=r"the outside host saw node1 \(172.18.0.2\); saw '10.244.1.5'"
    ):
        check_source_is_node1(curl("internet\n"), curl(f"{TOOLBOX}:41234"), "internet", TOOLBOX)
    with pytest.raises(CheckFailed, match="curl /hostname succeeds; saw 7"):
        check_source_is_node1(curl("", 7), curl("172.18.0.2:41234"), "internet", TOOLBOX)


def syn(src: str, dst: str, dport: int, sport: int = 41234) -> PacketRow:
    return PacketRow(0.0, src, sport, dst, dport, "TCP", 74, "S")


def test_both_rewrites_on_the_wire():
    at_pod = PacketTable([syn(TOOLBOX, CLUSTER_IP, 80, sport=50000)])
    at_internet = PacketTable([syn("172.18.0.2", "203.0.113.10", 8080)])
    assert check_both_rewrites_on_the_wire(at_pod, at_internet, TOOLBOX, CLUSTER_IP).sport == 50000
    unmasqueraded = PacketTable([syn(TOOLBOX, "203.0.113.10", 8080)])
    with pytest.raises(CheckFailed, match="the outside host's SYN from node1"):
        check_both_rewrites_on_the_wire(at_pod, unmasqueraded, TOOLBOX, CLUSTER_IP)
    with pytest.raises(CheckFailed, match=r"one SYN at each end; saw \(2, 1\)"):
        check_both_rewrites_on_the_wire(PacketTable(at_pod * 2), at_internet, TOOLBOX, CLUSTER_IP)


def entry(reply_dst: str) -> ConntrackEntry:
    return ConntrackEntry(
        "tcp",
        {"src": TOOLBOX, "dst": CLUSTER_IP, "sport": 50000, "dport": 80},
        {"src": "203.0.113.10", "dst": reply_dst, "sport": 8080, "dport": 50000},
    )


def test_conntrack_holds_both_rewrites():
    check_conntrack_both_rewrites([entry("172.18.0.2")], TOOLBOX, CLUSTER_IP)
    with pytest.raises(CheckFailed, match="reply: 203.0.113.10:8080 -> node1"):
        check_conntrack_both_rewrites([entry(TOOLBOX)], TOOLBOX, CLUSTER_IP)
    with pytest.raises(CheckFailed, match="one conntrack entry; saw 0"):
        check_conntrack_both_rewrites([], TOOLBOX, CLUSTER_IP)


def endpoints(*names: str) -> list[dict]:
    return [{"metadata": {"name": n}} for n in names]


def test_special_addresses_are_refused_and_nothing_stored():
    error = 'Endpoints "special" is invalid: [' + ", ".join(SPECIAL_ERRORS) + "]"
    check_special_addresses_refused(FakeLab(endpoints=endpoints("kubernetes", "outside")), error)
    with pytest.raises(CheckFailed, match="may not be unspecified"):
        check_special_addresses_refused(FakeLab(endpoints=endpoints("kubernetes", "outside")),
                                        error.replace("may not be unspecified", "ok"))  # fmt: skip
    with pytest.raises(CheckFailed, match='"special" not stored'):
        lab = FakeLab(endpoints=endpoints("kubernetes", "outside", "special"))
        check_special_addresses_refused(lab, error)


def slice_of(service: str, address: str, **extra) -> dict:
    return {"metadata": {"labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": [address], **extra}]}  # fmt: skip


def test_no_endpoint_is_a_pod(capsys):
    slices = [slice_of("kubernetes", "172.18.0.2"), slice_of("outside", "203.0.113.10"),
              slice_of("via-vip", CLUSTER_IP), slice_of("outside-slice", "203.0.113.10")]  # fmt: skip
    check_no_pod_endpoints(FakeLab(endpointslices=slices), CLUSTER_IP)
    assert "'via-vip': '10.96.0.30'" in capsys.readouterr().out
    slices[1] = slice_of("outside", "203.0.113.10", nodeName="node2")
    with pytest.raises(CheckFailed, match="no endpoint with a targetRef or a nodeName"):
        check_no_pod_endpoints(FakeLab(endpointslices=slices), CLUSTER_IP)
    with pytest.raises(CheckFailed, match="the slices"):
        check_no_pod_endpoints(FakeLab(endpointslices=slices[:3]), CLUSTER_IP)
