"""Backends: Service port by number or name, ready endpoints only, and the 503 cases
(ingress-nginx test/e2e/servicebackend)."""

from __future__ import annotations

from ingress_objects import backed, config, endpoint_slice, ingress, path, rule, service

from lab_kit.render.ingress import Endpoint, route


def _web(port: int | str = 80) -> dict:
    return ingress("web", rule("web.example", path("/", "Prefix", "web", port)))


def test_ready_endpoints_with_pod_and_node() -> None:
    slice_ = endpoint_slice("web", "10.244.2.5", "10.244.1.5", "10.244.1.6")
    slice_["endpoints"][2]["conditions"] = {"ready": False}
    slice_["endpoints"][1]["conditions"] = {}  # absent: ready, as ingress-nginx reads it
    c = config(_web(), service("web"), slice_)
    decision = route(c, host="web.example", path="/")
    assert decision.status == 200 and decision.upstream == "default-web-80"
    assert decision.endpoints == (
        Endpoint("10.244.1.5", 8080, "web-1", "node2"),
        Endpoint("10.244.2.5", 8080, "web-0", "node1"),
    )


def test_port_by_name_reaches_the_slice_port_of_that_name() -> None:
    svc = service("web", (80, "web-http", "http"), (9090, 9090, "metrics"))
    slice_ = endpoint_slice("web", "10.244.1.5", port=8080, port_name="http")
    slice_["ports"].append({"name": "metrics", "port": 9090, "protocol": "TCP"})
    c = config(_web("http"), svc, slice_)
    decision = route(c, host="web.example", path="/")
    assert decision.upstream == "default-web-http"
    assert [e.port for e in decision.endpoints] == [8080]


def test_the_503_cases() -> None:
    cases = {
        "not found": [_web()],
        "has no port 81": [_web(81), *backed("web")],
        "is ExternalName: not supported by lab_kit": [_web(), service("web", type_="ExternalName")],
        "has no ready endpoints": [
            _web(),
            service("web"),
            endpoint_slice("web", "10.244.1.5", ready=False),
        ],
        "has no ready endpoints ": [_web(), service("web")],
    }
    for why, objects in cases.items():
        c = config(*objects)
        decision = route(c, host="web.example", path="/")
        assert decision.status == 503, why
        assert decision.endpoints == ()
        assert why.strip() in decision.why[-1]
        assert any(why.strip() in p for p in c.problems)


def test_slices_of_other_services_and_namespaces_are_not_mixed_in() -> None:
    other = endpoint_slice("web", "10.244.9.9", ns="other")
    c = config(
        _web(),
        service("web"),
        endpoint_slice("web", "10.244.1.5"),
        other,
        endpoint_slice("api", "10.244.8.8"),
    )
    assert [e.ip for e in route(c, host="web.example", path="/").endpoints] == ["10.244.1.5"]
