"""The zone most DNS tests ask: CoreDNS's own unit-test fixture (handler_test.go, namespace
`testns`, IPv4 parts only) rebuilt from real-shaped API objects, plus a few extras."""

from __future__ import annotations

import pytest
from dns_objects import coredns_fixture

from lab_kit.render.dns import ClusterZone


@pytest.fixture
def zone() -> ClusterZone:
    """CoreDNS's fixture with its default TTL (5 s), so expectations read like its tests."""
    services, slices, pods, namespaces = coredns_fixture()
    return ClusterZone.build(services, slices, pods, namespaces, ttl=5)
