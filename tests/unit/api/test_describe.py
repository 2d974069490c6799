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


def test_a_load_balancer_service_shows_its_ingress_with_ip_mode_and_kubectls_events_table():
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "loadBalancerIP": "198.51.100.40", "healthCheckNodePort": 31000,
                 "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.40", "ipMode": "VIP"}]}},
    }  # fmt: skip
    t0 = 1_700_000_000.0
    events = [
        {"type": "Warning", "reason": "SyncLoadBalancerFailed", "message": "Error syncing load balancer: x",
         "source": {"component": "service-controller"}, "count": 3,
         "firstTimestamp": "2023-11-14T22:13:20Z", "lastTimestamp": "2023-11-14T22:13:40Z"},
        {"type": "Normal", "reason": "EnsuringLoadBalancer", "message": "Ensuring load balancer",
         "source": {"component": "service-controller"}, "count": 1,
         "firstTimestamp": "2023-11-14T22:13:20Z", "lastTimestamp": "2023-11-14T22:13:20Z"},
    ]  # fmt: skip
    text = describe(svc, events=events, now=t0 + 50)
    lines = text.splitlines()
    assert "LoadBalancer Ingress:  198.51.100.40 (VIP)" in lines
    assert "Desired LoadBalancer IP:  198.51.100.40" in lines
    assert "HealthCheck NodePort:  31000" in lines
    assert lines[-5:-3] == [
        "Events:",
        "  Type     Reason                  Age                From                Message",
    ]
    assert lines[-3:] == [
        "  ----     ------                  ----               ----                -------",
        "  Normal   EnsuringLoadBalancer    50s                service-controller  Ensuring load balancer",
        "  Warning  SyncLoadBalancerFailed  30s (x3 over 50s)  service-controller  Error syncing load balancer: x",
    ]
    assert describe(svc).splitlines()[-1] == "Events:           <none>"


def test_describe_ingress_lists_address_class_tls_and_rules():
    ing = {
        "kind": "Ingress",
        "metadata": {"name": "site", "namespace": "default"},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["a.com"], "secretName": "a-tls"}],
            "rules": [{"host": "a.com", "http": {"paths": [{"path": "/api", "pathType": "Prefix",
                       "backend": {"service": {"name": "api", "port": {"name": "http"}}}}]}}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.32"}]}},
    }  # fmt: skip
    text = describe(ing)
    assert "Address:          198.51.100.32" in text
    assert "Ingress Class:    nginx" in text and "Default backend:  <default>" in text
    assert "  a-tls terminates a.com" in text
    assert "              /api   api:http" in text
