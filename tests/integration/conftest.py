"""Integration fixtures: `cluster` is one full lab (network, nodes, agents) per test module,
in a private run dir; tests give themselves namespaces so they do not see each other."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile

import pytest

from lab_kit import Lab


@pytest.fixture(scope="module")
def cluster():
    d = tempfile.mkdtemp(prefix="lk-", dir="/tmp")
    old = os.environ.get("LABKIT_RUN_DIR")
    os.environ["LABKIT_RUN_DIR"] = d
    lab = None
    try:
        lab = Lab.up()  # a failed up() has already removed what it made
        yield lab
    finally:
        if lab is not None:
            lab.down()
        shutil.rmtree(d, ignore_errors=True)  # down() removes it only if a lab was recorded
        if old is None:
            os.environ.pop("LABKIT_RUN_DIR", None)
        else:
            os.environ["LABKIT_RUN_DIR"] = old


_namespaces = itertools.count()


@pytest.fixture
def ns(cluster, request):
    """A fresh namespace per test (named after its module: test_kube_proxy -> kube-proxy-3),
    so the tests sharing a module's cluster do not see each other's objects."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"{re.sub('[^a-z0-9]+', '-', module.lower())}-{next(_namespaces)}"
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name
