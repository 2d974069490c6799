"""Lab 05's named checks over data (a refusal, the Service, its slice, kube-proxy's rules, the
toolbox's environment, answers, slices): each passes on what a working lab shows and fails,
saying what it saw, on what a broken one would."""

from __future__ import annotations

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab05 import (
    HTTP_CHAIN,
    HTTPS_CHAIN,
    check_env_per_port,
    check_named_ports,
    check_picture,
    check_slice_ports,
    check_three_pods_answer,
    check_two_chains,
    check_unnamed_refused,
)
from lab_kit.lab.proxy_view import RulesText

CLUSTER_IP = "10.96.0.40"
WEB_IPS = ["10.244.1.3", "10.244.2.3"]


class FakeLab:
    """`get(kind[, name])`: the objects given for that kind, or the one of that name."""

    def __init__(self, **objects: list[dict]):
        self.objects = objects

    def get(self, kind: str, name: str | None = None, **kwargs):
        found = self.objects[kind]
        return next(o for o in found if o["metadata"]["name"] == name) if name else found


def service(ports: list[tuple[str, int, str]]) -> dict:
    return {"metadata": {"name": "web"}, "spec": {"clusterIP": CLUSTER_IP, "ports": [
        {"name": n, "port": p, "targetPort": t} for n, p, t in ports]}}  # fmt: skip


def pod(i: int, ip: str) -> dict:
    return {"metadata": {"name": f"web-{i}"}, "status": {"podIP": ip}}


def test_unnamed_ports_refused_and_nothing_stored():
    refused = ('The Service "web-unnamed" is invalid: \n* spec.ports[0].name: Required value\n'
               "* spec.ports[1].name: Required value")  # fmt: skip
    kubernetes = {"metadata": {"name": "kubernetes"}}
    check_unnamed_refused(FakeLab(services=[kubernetes]), refused)
    with pytest.raises(CheckFailed, match="nothing stored"):
        check_unnamed_refused(FakeLab(services=[kubernetes, service([])]), refused)
    with pytest.raises(CheckFailed, match=r"spec.ports\[1\].name is required"):
        check_unnamed_refused(FakeLab(services=[kubernetes]), refused.split("\n* spec.ports[1]")[0])


def test_named_ports():
    good = [("http", 80, "http"), ("https", 443, "https")]
    assert check_named_ports(FakeLab(services=[service(good)])) == CLUSTER_IP
    with pytest.raises(CheckFailed, match="http 80"):
        check_named_ports(
            FakeLab(services=[service([("http", 80, 8080), ("https", 443, "https")])])
        )


def test_slice_ports_resolved_per_pod():
    lab = FakeLab(pods=[pod(0, WEB_IPS[0]), pod(1, WEB_IPS[1])])
    ports = [{"name": "https", "port": 8443, "protocol": "TCP"},
             {"name": "http", "port": 8080, "protocol": "TCP"}]  # fmt: skip
    good = {"ports": ports, "endpoints": [{"addresses": [ip]} for ip in WEB_IPS]}
    assert check_slice_ports(lab, good) == (["web-0", "web-1"], WEB_IPS)
    with pytest.raises(CheckFailed, match="ports http = 8080"):
        check_slice_ports(lab, {**good, "ports": ports[:1]})
    with pytest.raises(CheckFailed, match="one endpoint per web pod"):
        check_slice_ports(lab, {**good, "endpoints": good["endpoints"][:1]})


def rules(dnat_8443: bool = True) -> RulesText:
    lines = [
        f'-A KUBE-SERVICES -d {CLUSTER_IP}/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j {HTTP_CHAIN}',
        f'-A KUBE-SERVICES -d {CLUSTER_IP}/32 -p tcp -m comment --comment "default/web:https cluster IP" -m tcp --dport 443 -j {HTTPS_CHAIN}',
    ]  # fmt: skip
    for i, ip in enumerate(WEB_IPS):
        lines.append(
            f'-A {HTTP_CHAIN} -m comment --comment "default/web:http -> {ip}:8080" -j KUBE-SEP-H{i}'
        )
        lines.append(f"-A KUBE-SEP-H{i} -p tcp -m tcp -j DNAT --to-destination {ip}:8080")
        if dnat_8443:
            lines.append(f"-A KUBE-SEP-S{i} -p tcp -m tcp -j DNAT --to-destination {ip}:8443")
    return RulesText("\n".join(lines))


def test_two_chains_one_per_port():
    assert check_two_chains(rules(), WEB_IPS) == (HTTP_CHAIN, HTTPS_CHAIN)
    with pytest.raises(CheckFailed, match="a DNAT per pod and port"):
        check_two_chains(rules(dnat_8443=False), WEB_IPS)
    without_443 = RulesText("\n".join(r for r in rules().lines if "--dport 443" not in r))
    with pytest.raises(CheckFailed, match=":443"):
        check_two_chains(without_443, WEB_IPS)


ENV = f"""WEB_SERVICE_HOST={CLUSTER_IP}
WEB_SERVICE_PORT=80
WEB_SERVICE_PORT_HTTP=80
WEB_SERVICE_PORT_HTTPS=443
WEB_PORT=tcp://{CLUSTER_IP}:80
WEB_PORT_80_TCP=tcp://{CLUSTER_IP}:80
WEB_PORT_443_TCP=tcp://{CLUSTER_IP}:443
WEB_PORT_443_TCP_PORT=443"""


def test_env_per_named_port():
    check_env_per_port(ENV, CLUSTER_IP)
    with pytest.raises(CheckFailed, match="_HTTPS 443"):
        check_env_per_port(ENV.replace("WEB_SERVICE_PORT_HTTPS=443\n", ""), CLUSTER_IP)
    with pytest.raises(CheckFailed, match="WEB_PORT_443_TCP"):
        check_env_per_port(
            ENV.replace("WEB_PORT_443_TCP_PORT=443", "WEB_PORT_443_TCP_PORT=80"), CLUSTER_IP
        )


def test_three_pods_answer_about_equally():
    pods = ["web-0", "web-1", "web-alt-0"]
    check_three_pods_answer(pods * 40, pods)
    with pytest.raises(CheckFailed, match="answers from"):
        check_three_pods_answer(pods[:2] * 60, pods)
    with pytest.raises(CheckFailed, match="each pod between"):
        check_three_pods_answer(["web-0"] * 100 + ["web-1"] * 10 + ["web-alt-0"] * 10, pods)


def test_picture_two_slices_three_endpoints():
    check_picture([{"endpoints": [1, 2]}, {"endpoints": [3]}])
    with pytest.raises(CheckFailed, match="2 slices, 3 endpoints"):
        check_picture([{"endpoints": [1, 2, 3]}])
