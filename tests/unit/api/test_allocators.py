"""ClusterIP and NodePort allocation: ranges, static/dynamic bands, the API's messages."""

import random

import pytest

from lab_kit.api.allocators import ClusterIPAllocator, NodePortAllocator, RangeFull


def test_dynamic_cluster_ips_come_from_the_upper_band_of_a_slash_12():
    ips = ClusterIPAllocator("10.96.0.0/12", random.Random(1))
    for _ in range(200):
        ip = ips.allocate_next()
        a, b, c, _d = map(int, ip.split("."))
        # offset 256 for a /12: the static band is 10.96.0.1 - 10.96.1.0
        assert (a, b) >= (10, 96) and (b, c) >= (96, 1) and b < 112


def test_requested_cluster_ip_errors_are_the_apis():
    ips = ClusterIPAllocator("10.96.0.0/12", random.Random(1))
    assert ips.allocate("10.96.0.10") is None
    taken = ips.allocate("10.96.0.10")
    assert str(taken) == (
        'spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: '
        "provided IP is already allocated"
    )
    outside = ips.allocate("10.0.0.5")
    assert str(outside) == (
        'spec.clusterIPs: Invalid value: []string{"10.0.0.5"}: failed to allocate IP 10.0.0.5: '
        "provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12"
    )


def test_network_and_broadcast_addresses_are_never_allocated():
    ips = ClusterIPAllocator("10.0.0.0/29", random.Random(1))  # 6 usable
    got = {ips.allocate_next() for _ in range(6)}
    assert got == {f"10.0.0.{i}" for i in range(1, 7)}
    with pytest.raises(RangeFull):
        ips.allocate_next()
    assert ips.allocate("10.0.0.0") is not None


def test_dynamic_falls_back_to_the_static_band_when_the_upper_is_full():
    ips = ClusterIPAllocator("10.0.0.0/27", random.Random(2))  # 30 usable, offset 16
    first = [ips.allocate_next() for _ in range(14)]
    assert all(int(ip.rsplit(".", 1)[1]) > 16 for ip in first)
    assert int(ips.allocate_next().rsplit(".", 1)[1]) <= 16


def test_release_makes_an_ip_available_again():
    ips = ClusterIPAllocator("10.96.0.0/12", random.Random(1))
    assert ips.allocate("10.96.0.20") is None
    ips.release("10.96.0.20")
    assert ips.allocate("10.96.0.20") is None


def test_node_ports_default_range_and_dynamic_band():
    ports = NodePortAllocator(30000, 32767, random.Random(3))
    assert all(30086 <= ports.allocate_next() <= 32767 for _ in range(100))
    assert ports.allocate(32766, "spec.ports[0].nodePort") is None
    assert str(ports.allocate(32766, "spec.ports[0].nodePort")) == (
        "spec.ports[0].nodePort: Invalid value: 32766: provided port is already allocated"
    )
    assert str(ports.allocate(8080, "spec.ports[0].nodePort")) == (
        "spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"
    )
