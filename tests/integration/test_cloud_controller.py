"""The cloud controller on a real lab (root): the book's LoadBalancer Service gets an address
from the topology's pool within a second or two and says so in `describe`'s Events; a
Service of another class is left alone; a spent pool leaves a Service <pending> with
SyncLoadBalancerFailed; a delete waits for the controller, which releases the address for
the next retry; `-o jsonpath` prints the address and the nodePort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab_kit import Lab
from lab_kit.lab.topologies import TOPOLOGY_DIR

pytestmark = pytest.mark.root
POOL = "198.51.100.32/31"  # two addresses: the third LoadBalancer Service finds none


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    d = tempfile.mkdtemp(prefix="lk-", dir="/tmp")
    old = os.environ.get("LABKIT_RUN_DIR")
    os.environ["LABKIT_RUN_DIR"] = d
    topology = Path(d).with_suffix(".toml")
    default = (TOPOLOGY_DIR / "default.toml").read_text()
    assert 'pool = "198.51.100.32/27"' in default
    topology.write_text(default.replace('pool = "198.51.100.32/27"', f'pool = "{POOL}"'))
    started = None
    try:
        started = Lab.up(str(topology))
        yield started
    finally:
        if started is not None:
            started.down()
        shutil.rmtree(d, ignore_errors=True)
        topology.unlink(missing_ok=True)
        if old is None:
            os.environ.pop("LABKIT_RUN_DIR", None)
        else:
            os.environ["LABKIT_RUN_DIR"] = old


def labkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lab_kit", *args],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def until(predicate: Callable[[], bool], what: str, timeout_s: float) -> float:
    """Until `predicate()` holds (each try is an API round trip); the seconds it took."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout_s, f"timed out waiting for {what}"
    return time.monotonic() - start


def external_ip(name: str) -> str:
    row = labkit("get", "svc", name).stdout.splitlines()[1].split()
    return row[3]


def lb_service(name: str, **spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": name},
            "ports": [{"port": 80}],
            **spec,
        },
    }


def test_the_books_load_balancer_service_gets_an_address_and_says_so(lab, book):
    assert labkit("apply", "-f", str(book / "service-with-loadbalancer.yml")).returncode == 0
    took = until(lambda: external_ip("random-generator") != "<pending>", "an EXTERNAL-IP", 5)
    assert took < 2.0
    assert external_ip("random-generator") == "198.51.100.32"
    ip = labkit(
        "get", "svc", "random-generator", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"
    )
    assert (ip.returncode, ip.stdout) == (0, "198.51.100.32")
    port = labkit("get", "svc", "random-generator", "-o", "jsonpath={.spec.ports[0].nodePort}")
    assert 30000 <= int(port.stdout) <= 32767
    described = labkit("describe", "svc", "random-generator").stdout
    assert "LoadBalancer Ingress:  198.51.100.32 (VIP)" in described.splitlines()
    events = [line.split()[:2] for line in described.split("Events:")[1].splitlines()[3:]]
    assert events == [["Normal", "EnsuringLoadBalancer"], ["Normal", "EnsuredLoadBalancer"]]
    svc = lab.get("svc", "random-generator")
    assert svc["metadata"]["finalizers"] == ["service.kubernetes.io/load-balancer-cleanup"]


def test_another_class_is_left_alone_and_a_spent_pool_says_why(lab):
    lab.apply(lb_service("classy", loadBalancerClass="example.com/other-lb"))
    lab.apply(lb_service("second"))
    until(lambda: external_ip("second") == "198.51.100.33", "the pool's second address", 5)
    lab.apply(lb_service("third"))
    until(
        lambda: "SyncLoadBalancerFailed" in labkit("describe", "svc", "third").stdout,
        "SyncLoadBalancerFailed on the third",
        5,
    )
    described = labkit("describe", "svc", "third").stdout
    assert "Error syncing load balancer: failed to ensure load balancer: no address left in " \
        "the pool 198.51.100.32/31: all 2 are in use" in described  # fmt: skip
    assert external_ip("third") == "<pending>"
    assert external_ip("classy") == "<pending>"
    classy = labkit("describe", "svc", "classy").stdout
    assert classy.split("Events:")[1].strip() == "<none>"  # the lab's cloud said nothing
    assert "finalizers" not in lab.get("svc", "classy")["metadata"]

    # the delete waits for the controller (its finalizer), which frees the address; the
    # pending Service gets it at its next retry (5 s after its first failure, as upstream)
    assert labkit("delete", "svc", "random-generator").returncode == 0
    until(
        lambda: labkit("get", "svc", "random-generator").returncode != 0,
        "the deleted Service gone",
        5,
    )
    until(lambda: external_ip("third") == "198.51.100.32", "the freed address for third", 15)
    for name in ("classy", "second", "third"):
        lab.delete("svc", name)
