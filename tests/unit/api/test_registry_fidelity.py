"""Regression tests for fidelity fails of the API server's write path (issue 12): random
ClusterIPs after a refused write, Secret stringData, IPv6 and dual-stack requests on a
single-stack IPv4 cluster, the service CIDR, and the warnings kube-apiserver sends."""

from __future__ import annotations

import ipaddress

import pytest

from lab_kit.agents import apiserver
from lab_kit.api.registry import LAST_APPLIED, Registry
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import lookup
from lab_kit.node import envvars
from lab_kit.render.proxy_endpoints import service_ports
from lab_kit.render.proxy_rules import render


@pytest.fixture
def reg() -> Registry:
    r = Registry(clock=lambda: 1_700_000_000.0)
    r.bootstrap()
    return r


def svc(name: str, **spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


REFUSED = svc("bad", ports=[{"port": 80}, {"port": 81}])  # two ports, no names: a 422


def refuse(reg: Registry, dry_run: bool = False) -> None:
    with pytest.raises(ApiError):
        reg.apply([svc("fine"), REFUSED], dry_run=dry_run)


# --- random ClusterIPs after a refusal -----------------------------------------------------------


@pytest.mark.parametrize(
    "interrupt",
    [
        lambda r: refuse(r),
        lambda r: r.apply([svc("tried")], dry_run=True),
        lambda r: r.create(svc("tried"), dry_run=True),
        lambda r: pytest.raises(ApiError, r.create, svc("x", clusterIP="10.96.0.1")),
    ],
    ids=["refused apply", "dry-run apply", "dry-run create", "refused create"],
)
def test_cluster_ips_stay_random_after_a_refused_or_dry_run_write(interrupt):
    """Before: every refusal reset the allocators' generators, so each later Service got
    the neighbour of an address already taken (10.104.187.49, .50, .51, ...)."""
    plain, interrupted = Registry(seed=0), Registry(seed=0)
    plain.bootstrap()
    interrupted.bootstrap()
    got, expected = [], []
    for i in range(6):
        interrupt(interrupted)
        got.append(interrupted.create(svc(f"s{i}"))["spec"]["clusterIP"])
        expected.append(plain.create(svc(f"s{i}"))["spec"]["clusterIP"])
    assert got == expected  # as if the interrupted writes had never been tried
    numbers = sorted(int(ipaddress.ip_address(ip)) for ip in got)
    assert all(b - a > 1 for a, b in zip(numbers, numbers[1:], strict=False))  # not neighbours


def test_node_ports_stay_random_after_a_refusal():
    plain, interrupted = Registry(seed=0), Registry(seed=0)
    plain.bootstrap()
    interrupted.bootstrap()
    for i in range(4):
        refuse(interrupted)
        a = interrupted.create(svc(f"n{i}", type="NodePort"))["spec"]["ports"][0]["nodePort"]
        b = plain.create(svc(f"n{i}", type="NodePort"))["spec"]["ports"][0]["nodePort"]
        assert a == b


def test_a_refused_batch_still_gives_back_what_it_allocated(reg):
    refuse(reg)
    assert reg.store.get("Service", "default", "fine") is None
    taken = reg.create(svc("fine"))["spec"]["clusterIP"]
    assert reg.addresses.ips.is_allocated(taken)


# --- Secret stringData ---------------------------------------------------------------------------


def secret(name: str = "creds", **fields: object) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}


def test_string_data_is_merged_into_data_and_never_stored(reg):
    """Convert_v1_Secret_To_core_Secret: "StringData overwrites Data", base64 in `data`."""
    stored = reg.create(
        secret(data={"user": "YWRtaW4=", "token": "b2xk"}, stringData={"token": "s3cr3t ✓"})
    )
    assert "stringData" not in stored
    assert stored["data"] == {"user": "YWRtaW4=", "token": "czNjcjN0IOKckw=="}
    assert reg.get(lookup("secrets"), "default", "creds") == stored


def test_a_pod_reads_a_string_data_value_through_its_secret(reg):
    """Before, the kubelet found no key in `data` and the pod stayed in
    CreateContainerConfigError."""
    stored = reg.create(secret(stringData={"password": "hunter2"}))
    container = {"name": "c", "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {
        "name": "creds", "key": "password"}}}]}  # fmt: skip
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {}, "status": {}}
    env = envvars.kubelet_env(container, pod, {}, {}, {("default", "creds"): stored})
    assert env["PW"] == "hunter2"


def test_string_data_apply_is_unchanged_the_second_time_and_keeps_kubectls_annotation(reg):
    doc = secret(stringData={"a": "1"})
    assert [a for a, _ in reg.apply([doc])] == ["created"]
    ((action, stored),) = reg.apply([doc])
    assert action == "unchanged" and stored["data"] == {"a": "MQ=="}
    assert '"stringData": {"a": "1"}' in stored["metadata"]["annotations"][LAST_APPLIED]
    ((action, stored),) = reg.apply([secret(stringData={"a": "2"})])
    assert action == "configured" and stored["data"] == {"a": "Mg=="}


def test_string_data_is_validated_as_data_and_frozen_by_immutable(reg):
    with pytest.raises(ApiError) as e:
        reg.create(secret(stringData={"a/b": "x"}))
    assert 'data[a/b]: Invalid value: "a/b"' in e.value.message
    reg.create(secret("frozen", stringData={"a": "1"}, immutable=True))
    with pytest.raises(ApiError) as e:
        reg.update(secret("frozen", stringData={"a": "2"}, immutable=True))
    assert "data: Forbidden: field is immutable when `immutable` is set" in e.value.message


# --- IPv6 and dual-stack on a single-stack IPv4 cluster ------------------------------------------

NOT_DUAL = "this cluster is not configured for dual-stack services"


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            {"clusterIP": "fd00::10"},
            'spec.clusterIPs[0]: Invalid value: []string{"fd00::10"}: IPv6 is not configured on this cluster',
        ),
        (
            {"ipFamilies": ["IPv6"]},
            'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
        ),
        (
            {"ipFamilyPolicy": "RequireDualStack"},
            f'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": {NOT_DUAL}',
        ),
        (
            {"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]},
            f'[spec.ipFamilyPolicy: Invalid value: "RequireDualStack": {NOT_DUAL}, '
            'spec.ipFamilies[1]: Invalid value: "IPv6": not configured on this cluster]',
        ),
        (
            {"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4", "IPv6"]},
            'spec.ipFamilies[1]: Invalid value: "IPv6": not configured on this cluster',
        ),
        (
            {
                "ipFamilyPolicy": "RequireDualStack",
                "clusterIP": "10.96.5.5",
                "clusterIPs": ["10.96.5.5", "fd00::5"],
            },
            'spec.clusterIPs[1]: Invalid value: []string{"10.96.5.5", "fd00::5"}: '
            "IPv6 is not configured on this cluster",
        ),  # fmt: skip
        (
            {"ipFamilies": ["IPv4", "IPv6"]},
            'spec.ipFamilyPolicy: Invalid value: "SingleStack": must be '
            "'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
        ),
        (
            {"clusterIP": "None", "selector": {"app": "x"}, "ipFamilies": ["IPv6"]},
            'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
        ),
    ],
)
def test_ipv6_and_dual_stack_requests_are_refused_in_kube_apiservers_words(reg, spec, message):
    """initIPFamilyFields (pkg/registry/core/service/storage/alloc.go) on a cluster with one
    IPv4 --service-cluster-ip-range. Before, these were stored half-done (ipFamilies
    ["IPv6"] with an IPv4 clusterIP; RequireDualStack with one family; a second clusterIP
    silently dropped)."""
    rv = reg.store.rv
    with pytest.raises(ApiError) as e:
        reg.create(svc("v6", **spec))
    assert e.value.code == 422 and e.value.reason == "Invalid"
    assert e.value.message == f'Service "v6" is invalid: {message}'
    assert reg.store.rv == rv


@pytest.mark.parametrize(
    "spec, families, policy",
    [
        ({"ipFamilyPolicy": "PreferDualStack"}, ["IPv4"], "PreferDualStack"),
        (
            {"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4"]},
            ["IPv4"],
            "PreferDualStack",
        ),
        ({"clusterIP": "None", "selector": None}, ["IPv4", "IPv6"], "RequireDualStack"),
        (
            {"clusterIP": "None", "selector": None, "ipFamilies": ["IPv6"]},
            ["IPv6", "IPv4"],
            "RequireDualStack",
        ),
        ({"ipFamilies": ["IPv4"]}, ["IPv4"], "SingleStack"),
    ],  # fmt: skip
)
def test_what_a_single_stack_cluster_accepts(reg, spec, families, policy):
    """PreferDualStack falls back to the one family; a headless Service without selector
    may name both (its endpoints come from elsewhere)."""
    stored = reg.create(svc("ok", **spec))["spec"]
    assert (stored["ipFamilies"], stored["ipFamilyPolicy"]) == (families, policy)


def test_an_update_asking_for_dual_stack_is_refused_and_leaves_the_service(reg):
    before = reg.create(svc("web"))
    with pytest.raises(ApiError, match=NOT_DUAL):
        reg.update(svc("web", ipFamilyPolicy="RequireDualStack"))
    with pytest.raises(ApiError, match=r'spec.ipFamilies\[1\]: Invalid value: "IPv6"'):
        reg.apply([svc("web", ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv4", "IPv6"])])
    assert reg.get(lookup("services"), "default", "web") == before


def test_an_ipv6_external_ip_is_accepted_and_kube_proxy_ignores_it(reg):
    """No family check on externalIPs upstream; an IPv4 kube-proxy ignores the other
    family's addresses and ranges (serviceport.go). Before, the lab's wrote
    `-d 2001:db8::1` into iptables-restore, which refuses the whole node's rules."""
    stored = reg.create(
        svc("ext", type="LoadBalancer", externalIPs=["2001:db8::1", "192.0.2.50"],
            loadBalancerSourceRanges=["2001:db8::/64", "192.0.2.0/24"])
    )  # fmt: skip
    assert stored["spec"]["externalIPs"] == ["2001:db8::1", "192.0.2.50"]
    stored["status"] = {
        "loadBalancer": {"ingress": [{"ip": "2001:db8::9"}, {"ip": "198.51.100.9"}]}
    }
    (port,) = service_ports(stored)
    assert port.external_ips == ("192.0.2.50",) and port.load_balancer_ips == ("198.51.100.9",)
    assert port.source_ranges == ("192.0.2.0/24",)
    text = render([stored], [], "node1").text()
    assert "2001:db8" not in text and "-d 192.0.2.50 --dport 80 -j REJECT" in text


# --- the service CIDR ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cidr, kubernetes_ip", [("10.96.0.0/12", "10.96.0.1"), ("10.96.0.8/29", "10.96.0.9")]
)
def test_the_kubernetes_service_takes_the_first_address_of_the_service_cidr(cidr, kubernetes_ip):
    r = Registry(service_cidr=cidr)
    r.bootstrap()
    assert r.get(lookup("services"), "default", "kubernetes")["spec"]["clusterIP"] == kubernetes_ip


def test_cluster_ips_come_from_the_service_cidr_and_nowhere_else():
    r = Registry(service_cidr="10.96.0.0/24")
    r.bootstrap()
    ips = [r.create(svc(f"s{i}"))["spec"]["clusterIP"] for i in range(20)]
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/24") for ip in ips)
    with pytest.raises(ApiError) as e:
        r.create(svc("out", clusterIP="10.96.1.5"))
    assert e.value.message == (
        'Service "out" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.1.5"}: '
        "failed to allocate IP 10.96.1.5: provided IP is not in the valid range. "
        "The range of valid IPs is 10.96.0.0/24"
    )


def test_the_api_server_takes_the_range_from_its_flag(monkeypatch):
    taken: list[tuple] = []

    async def serve(*args: object, **options: object) -> None:
        taken.append(args)

    monkeypatch.setattr(apiserver, "serve", serve)
    monkeypatch.setattr(apiserver, "setup_logging", lambda *a: None)
    apiserver.main(["--socket", "/tmp/x.sock", "--service-cluster-ip-range", "10.96.0.0/16"])
    apiserver.main(["--socket", "/tmp/x.sock"])
    assert [args[-1] for args in taken] == ["10.96.0.0/16", "10.96.0.0/12"]


def test_the_api_server_refuses_a_range_kube_apiserver_refuses(capsys):
    with pytest.raises(SystemExit) as e:
        apiserver.main(["--socket", "/tmp/x.sock", "--service-cluster-ip-range", "10.0.0.0/8"])
    assert e.value.code == 2
    assert (
        "--service-cluster-ip-range 10.0.0.0/8: specified --service-cluster-ip-range is too "
        "large; for 32-bit addresses, the mask must be >= 12" in capsys.readouterr().err
    )
