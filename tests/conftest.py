"""Test rings: unit tests need nothing; `root` tests need root and run in private state.

A `root` test is skipped (with the reason) when not run as root. The `lab` fixture starts
a control plane in a private run dir, so tests never touch a lab a user has running.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "labs" / "manifests" / "book"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(
        reason="needs root (network namespaces); run the README's test command as root"
    )
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def book() -> Path:
    """The Kubernetes Patterns book's Service Discovery manifests (they must work unchanged)."""
    return BOOK


@pytest.fixture
def run_dir(tmp_path, monkeypatch) -> Path:
    """A private LABKIT_RUN_DIR for this test (short path: Unix socket names are limited)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="lk-", dir="/tmp"))
    monkeypatch.setenv("LABKIT_RUN_DIR", str(d))
    yield d
    from lab_kit.lab import lifecycle

    lifecycle.down(progress=lambda *_: None)
    shutil.rmtree(d, ignore_errors=True)  # down() removes it only if a lab was recorded


@pytest.fixture
def lab(run_dir):
    """A running control plane (API server + controller-manager, no nodes) in a private run dir."""
    from lab_kit import Lab

    lab = Lab.up(control_plane_only=True)
    yield lab
    lab.down()
