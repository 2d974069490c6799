"""The lab facade's tests: the real API in-process, a private run dir in tmp_path (hosts and
pod sandboxes written as the network agent and the kubelet write them), no root."""

from __future__ import annotations

import pytest
from lab_fixtures import make_run_dir

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.rundir import RunDir
from lab_kit.lab.lab import Lab


@pytest.fixture
def api() -> InProcessApi:
    return InProcessApi()


@pytest.fixture
def client(api: InProcessApi):
    c = api.client()
    yield c
    c.close()


@pytest.fixture
def lab(client: ApiClient) -> Lab:
    return Lab(client)


@pytest.fixture
def rundir(tmp_path, monkeypatch) -> RunDir:
    """LABKIT_RUN_DIR for this test, made as `labkit up` makes it (no processes)."""
    return make_run_dir(tmp_path, monkeypatch)
