"""Fixtures for controller tests: the in-memory API server of fake_apiserver.py."""

from __future__ import annotations

import pytest
from fake_apiserver import FakeAPIServer


@pytest.fixture
def apiserver():
    """A factory: apiserver(objects, auto_ready=True) -> FakeAPIServer."""

    def make(objects=(), **kwargs) -> FakeAPIServer:
        return FakeAPIServer(list(objects), **kwargs)

    return make
