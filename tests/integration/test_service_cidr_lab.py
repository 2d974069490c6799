"""A topology's service_cidr, end to end (root): a lab whose services live in 10.96.0.0/24
allocates ClusterIPs there and nowhere else, keeps `kubernetes` at its first address and
kube-dns at 10.96.0.10, and its Services answer by name and address."""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab_kit import Lab
from lab_kit.lab.errors import LabError
from lab_kit.lab.topologies import TOPOLOGY_DIR

pytestmark = pytest.mark.root
SERVICE_CIDR = "10.96.0.0/24"


@pytest.fixture(scope="module")
def small_range_lab() -> Iterator[Lab]:
    d = tempfile.mkdtemp(prefix="lk-", dir="/tmp")
    old = os.environ.get("LABKIT_RUN_DIR")
    os.environ["LABKIT_RUN_DIR"] = d
    topology = Path(d).with_suffix(".toml")
    default = (TOPOLOGY_DIR / "default.toml").read_text()
    topology.write_text(
        default.replace('service_cidr = "10.96.0.0/12"', f'service_cidr = "{SERVICE_CIDR}"')
    )
    lab = None
    try:
        lab = Lab.up(str(topology))
        yield lab
    finally:
        if lab is not None:
            lab.down()
        shutil.rmtree(d, ignore_errors=True)
        topology.unlink(missing_ok=True)
        if old is None:
            os.environ.pop("LABKIT_RUN_DIR", None)
        else:
            os.environ["LABKIT_RUN_DIR"] = old


def test_a_range_the_lab_cannot_serve_is_refused_before_anything_starts(tmp_path):
    """First, while no lab of this module runs: a bad topology fails before anything starts."""
    topology = tmp_path / "t.toml"
    topology.write_text('[cluster]\nservice_cidr = "10.100.0.0/16"\n[[nodes]]\n')
    with pytest.raises(LabError, match=r"cluster.service_cidr: .*must contain 10\.96\.0\.10"):
        Lab.up(str(topology))


def test_cluster_ips_come_from_the_topologys_range(small_range_lab):
    lab = small_range_lab
    assert lab.get("services", "kubernetes")["spec"]["clusterIP"] == "10.96.0.1"
    assert lab.get("services", "kube-dns", "kube-system")["spec"]["clusterIP"] == "10.96.0.10"
    lab.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                            "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                        }
                    ]
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "c"},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}
                    ]
                },
            },
        ],
        wait=True,
    )
    ip = lab.get("services", "web")["spec"]["clusterIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(SERVICE_CIDR)
    by_name = lab.exec("c", "curl", "-sS", "-m", "5", "http://web/hostname")
    by_ip = lab.exec("c", "curl", "-sS", "-m", "5", f"http://{ip}/hostname")
    assert by_name.stdout.strip() == by_ip.stdout.strip() == "web"


def test_an_address_outside_the_range_is_refused(small_range_lab):
    outside = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "outside"},
        "spec": {"clusterIP": "10.96.1.5", "ports": [{"port": 80}]},
    }
    with pytest.raises(LabError, match=r"The range of valid IPs is 10\.96\.0\.0/24"):
        small_range_lab.apply(outside)
