"""kubectl's EXTERNAL-IP column (printers.go getServiceExternalIP and
loadBalancerStatusStringer) and the Service row around it."""

from __future__ import annotations

import pytest

from lab_kit.api.printers import service_external_ip, table


def svc(type_: str, ingress: list[dict] | None = None, **spec) -> dict:
    return {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": type_, "clusterIP": "10.96.0.20", **spec},
        "status": {"loadBalancer": {"ingress": ingress} if ingress else {}},
    }


@pytest.mark.parametrize(
    "service, text",
    [
        (svc("ClusterIP"), "<none>"),
        (svc("NodePort"), "<none>"),
        (svc("ClusterIP", externalIPs=["192.0.2.50", "192.0.2.51"]), "192.0.2.50,192.0.2.51"),
        (svc("LoadBalancer"), "<pending>"),
        (svc("LoadBalancer", [{"ip": "198.51.100.32", "ipMode": "VIP"}]), "198.51.100.32"),
        (svc("LoadBalancer", [{"hostname": "lb.example.com"}]), "lb.example.com"),
        (
            svc("LoadBalancer", [{"ip": "198.51.100.33"}, {"ip": "198.51.100.32"}]),
            "198.51.100.32...",  # sorted, then clipped to 16 characters
        ),
        (
            svc("LoadBalancer", [{"ip": "198.51.100.32"}], externalIPs=["192.0.2.50"]),
            "198.51.100.32,192.0.2.50",
        ),
        (svc("LoadBalancer", externalIPs=["192.0.2.50"]), "192.0.2.50"),
        (svc("ExternalName", externalName="example.com"), "example.com"),
        (svc("Strange"), "<unknown>"),
    ],
)
def test_external_ip_as_kubectl_prints_it(service, text):
    assert service_external_ip(service) == text


def test_wide_output_is_not_clipped():
    two = svc(
        "LoadBalancer", [{"ip": "198.51.100.33"}, {"ip": "198.51.100.32"}, {"ip": "198.51.100.32"}]
    )
    assert service_external_ip(two, wide=True) == "198.51.100.32,198.51.100.33"
    header, row = table("Service", [two], wide=True)
    assert header[:5] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"]
    assert row[3] == "198.51.100.32,198.51.100.33"


def test_ingress_hosts_column_as_kubectl_formats_it():
    from lab_kit.api.printers import _format_hosts

    rules = [{"host": h} for h in ("b.com", "a.com", "b.com", "c.com", "d.com")]
    assert _format_hosts(rules) == "b.com,a.com,b.com + 2 more..."
    assert _format_hosts([{"host": "b.com"}, {}]) == "b.com"
    assert _format_hosts([{}]) == "*" and _format_hosts([]) == "*"
