"""Lab 03's named checks over data (pods' environments, the Services, command results): each
passes on what a working lab shows and fails, saying what it saw, on what a broken one would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab03 import (
    check_no_links,
    check_only_kubernetes,
    check_recreated,
    check_started_before,
    check_toolbox_env,
)

CLUSTER_IP = "10.96.0.60"
K8S_ENV = """KUBERNETES_SERVICE_HOST=10.96.0.1
KUBERNETES_SERVICE_PORT=443
KUBERNETES_SERVICE_PORT_HTTPS=443
KUBERNETES_PORT=tcp://10.96.0.1:443
KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443
KUBERNETES_PORT_443_TCP_PROTO=tcp
KUBERNETES_PORT_443_TCP_PORT=443
KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1
HOME=/root"""
K8S_VARS = sorted(line.split("=")[0] for line in K8S_ENV.splitlines() if line.startswith("KUBE"))
OURS = f"""RANDOM_GENERATOR_SERVICE_HOST={CLUSTER_IP}
RANDOM_GENERATOR_SERVICE_PORT=80
RANDOM_GENERATOR_PORT=tcp://{CLUSTER_IP}:80
RANDOM_GENERATOR_PORT_80_TCP=tcp://{CLUSTER_IP}:80
RANDOM_GENERATOR_PORT_80_TCP_PROTO=tcp
RANDOM_GENERATOR_PORT_80_TCP_PORT=80
RANDOM_GENERATOR_PORT_80_TCP_ADDR={CLUSTER_IP}"""


def run(returncode: int = 0, stdout: str = "", stderr: str = "") -> SimpleNamespace:
    return SimpleNamespace(returncode=returncode, stdout=stdout, stderr=stderr)


class FakeLab:
    """Services kubernetes and random-generator, pod no-links, `exec` answering `env` with
    the environment given per pod, and node1's nat rules."""

    def __init__(self, envs: dict[str, str] | None = None, links: bool = False, nat: str = ""):
        self.envs, self.links, self.nat = envs or {}, links, nat

    def get(self, kind: str, name: str | None = None, **kwargs) -> dict:
        if kind == "pods":
            return {"spec": {"enableServiceLinks": self.links}}
        if name == "kubernetes":
            return {"spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443}]}}
        return {"spec": {"clusterIP": CLUSTER_IP, "ports": [{"port": 80, "targetPort": 8080}]}}

    def exec(self, pod: str, *argv: str) -> SimpleNamespace:
        return run(stdout=self.envs.get(pod, K8S_ENV))

    def iptables(self, node: str, table: str) -> str:
        return self.nat


def test_only_kubernetes_before_the_service():
    assert check_only_kubernetes(FakeLab(), K8S_ENV) == K8S_VARS
    with pytest.raises(CheckFailed, match="no RANDOM_GENERATOR_"):
        check_only_kubernetes(FakeLab(), K8S_ENV + "\n" + OURS)
    with pytest.raises(CheckFailed, match="KUBERNETES_SERVICE_PORT_HTTPS"):
        check_only_kubernetes(FakeLab(), K8S_ENV.replace("KUBERNETES_SERVICE_PORT_HTTPS=443\n", ""))


def test_toolbox_env_holds_the_service_address_and_port():
    assert check_toolbox_env(FakeLab(), K8S_ENV + "\n" + OURS, K8S_VARS) == CLUSTER_IP
    with pytest.raises(CheckFailed, match="seven variables"):
        check_toolbox_env(
            FakeLab(),
            K8S_ENV + "\n" + OURS.replace("SERVICE_PORT=80", "SERVICE_PORT=8080"),
            K8S_VARS,
        )
    with pytest.raises(CheckFailed, match="KUBERNETES_"):
        check_toolbox_env(FakeLab(), OURS, K8S_VARS)


def test_pods_started_before_lack_the_variables():
    check_started_before(FakeLab(), run(3), run(1), ["early-0", "early-1"])
    with pytest.raises(CheckFailed, match="no early pod"):
        check_started_before(FakeLab({"early-1": OURS}), run(3), run(1), ["early-0", "early-1"])
    with pytest.raises(CheckFailed, match="curl exit 3"):
        check_started_before(FakeLab(), run(0), run(1), ["early-0"])


def test_no_links():
    check_no_links(FakeLab(links=False), K8S_ENV, K8S_VARS)
    with pytest.raises(CheckFailed, match="enableServiceLinks: false"):
        check_no_links(FakeLab(links=True), K8S_ENV, K8S_VARS)
    with pytest.raises(CheckFailed, match="no RANDOM_GENERATOR_"):
        check_no_links(FakeLab(), K8S_ENV + "\n" + OURS, K8S_VARS)


def test_recreated_service_leaves_the_old_address():
    new_ip = "10.96.0.61"
    check_recreated(
        FakeLab(nat=f"-A KUBE-SERVICES -d {new_ip}/32"), new_ip, run(stdout=CLUSTER_IP), CLUSTER_IP
    )
    with pytest.raises(CheckFailed, match="no rule on node1"):
        check_recreated(
            FakeLab(nat=f"-d {CLUSTER_IP}/32"), new_ip, run(stdout=CLUSTER_IP), CLUSTER_IP
        )
    with pytest.raises(CheckFailed, match="a new ClusterIP"):
        check_recreated(FakeLab(), CLUSTER_IP, run(stdout=CLUSTER_IP), CLUSTER_IP)
