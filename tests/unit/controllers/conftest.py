"""Fixtures for controller tests: the real API registry driven by cluster_driver.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from cluster_driver import ClusterDriver


@pytest.fixture
def cluster() -> Callable[..., ClusterDriver]:
    """A factory: cluster(objects, auto_ready=True) -> ClusterDriver."""

    def make(objects: Iterable[dict] = (), **kwargs: Any) -> ClusterDriver:
        return ClusterDriver(objects, **kwargs)

    return make
