"""Integration fixtures: `cluster` is one full lab (network, nodes, agents) per test module,
in a private run dir; tests give themselves namespaces so they do not see each other."""

from __future__ import annotations

import os
import tempfile

import pytest

from lab_kit import Lab


@pytest.fixture(scope="module")
def cluster():
    d = tempfile.mkdtemp(prefix="lk-", dir="/tmp")
    old = os.environ.get("LABKIT_RUN_DIR")
    os.environ["LABKIT_RUN_DIR"] = d
    lab = Lab.up()
    try:
        yield lab
    finally:
        lab.down()
        if old is None:
            os.environ.pop("LABKIT_RUN_DIR", None)
        else:
            os.environ["LABKIT_RUN_DIR"] = old
