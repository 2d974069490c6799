"""`labkit ingress explain|draw` and `Lab.ingress_explain`, against the in-process API: the
answer comes from the objects the API holds (the same model the controller renders)."""

from __future__ import annotations

import pytest

from lab_kit.lab import ingress_view
from lab_kit.lab.errors import LabError


def seed(api) -> None:
    r = api.registry
    r.create({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
              "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}})  # fmt: skip
    r.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})  # fmt: skip
    r.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "web-abc", "namespace": "default",
                           "labels": {"kubernetes.io/service-name": "web"}},
              "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
              "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True},
                             "nodeName": "node1",
                             "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}}]})  # fmt: skip
    r.create({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "metadata": {"name": "site", "namespace": "default"},
              "spec": {"ingressClassName": "nginx", "rules": [{"host": "foo.bar.com", "http": {"paths": [
                  {"path": "/app", "pathType": "Prefix",
                   "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}})  # fmt: skip


def test_explain_names_the_rule_the_service_and_the_pod(api):
    seed(api)
    served = ingress_view.explain(api.client(), "http://foo.bar.com/app/x")
    assert served.status == 200 and served.pods == ["web-1"]
    assert served.decision.ingress == "default/site" and served.decision.path == "/app"
    text = str(served)
    assert "web:http" in text and "why:" in text
    missed = ingress_view.explain(api.client(), "http://198.51.100.32/app", host="other.example")
    assert missed.status == 404 and missed.pods == []


def test_explain_refuses_other_schemes(api):
    with pytest.raises(LabError, match="only http:// and https://"):
        ingress_view.explain(api.client(), "ftp://foo.bar.com/")


def test_cli_explain_and_draw(labkit, api):
    seed(api)
    result = labkit("ingress", "explain", "http://198.51.100.32/app", "-H", "foo.bar.com")
    assert result.code == 0, result.err
    assert result.out.startswith("GET http://198.51.100.32/app  (Host: foo.bar.com)  ->  200")
    assert "web-1" in result.out
    drawn = labkit("ingress", "draw")
    assert drawn.code == 0 and "default/site" in drawn.out and "web-1" in drawn.out
    bad = labkit("ingress", "explain", "http://x/", "--cookie", "novalue")
    assert bad.code == 1 and "NAME=VALUE" in bad.err


def test_conf_needs_a_controller(labkit, api):
    result = labkit("ingress", "conf")
    assert result.code == 1 and "labkit addons enable ingress" in result.err
