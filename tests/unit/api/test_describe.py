"""`kubectl describe` text for the kinds labs describe."""

from __future__ import annotations

from lab_kit.api.describe import describe


def test_an_externalname_service_has_no_ip_families_or_traffic_policies():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "namespace": "default"},
           "spec": {"type": "ExternalName", "externalName": "www.example.com", "sessionAffinity": "None"}}  # fmt: skip
    text = describe(svc)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "IP Families: <none>" in lines and "External Name: www.example.com" in lines
    assert "Policy" not in text
