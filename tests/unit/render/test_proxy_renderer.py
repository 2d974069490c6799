"""`proxy_rules.Renderer`, the agent's render with memory: after every kind of change its
output is exactly a fresh `render`'s, and only the service ports whose inputs changed are
written again."""

from __future__ import annotations

from lab_kit.render import proxy_rules as pr

NODE, CIDR, NODE_IP = "node1", "10.244.0.0/16", "172.18.0.2"


def service(name: str, ip: str, **spec) -> dict:
    status = spec.pop("status", {})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": "default", "name": name},
        "spec": {
            "clusterIP": ip,
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", **spec.pop("port", {})}],
            **spec,
        },
        "status": status,
    }


def endpoints(name: str, *ips: str, ready: bool = True) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": "default",
            "name": f"{name}-x",
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": ready},
                "nodeName": f"node{ip.split('.')[2]}",
            }
            for ip in ips
        ],
    }


SERVICES = {
    "web": service("web", "10.96.0.20"),
    "sticky": service("sticky", "10.96.0.21", sessionAffinity="ClientIP"),
    "np": service(
        "np", "10.96.0.22", type="NodePort", externalTrafficPolicy="Local", port={"nodePort": 30080}
    ),
    "lb": service(
        "lb",
        "10.96.0.23",
        type="LoadBalancer",
        loadBalancerSourceRanges=["192.0.2.0/24"],
        port={"nodePort": 30081},
        status={"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}},
    ),
}
SLICES = {
    "web": endpoints("web", "10.244.1.2", "10.244.2.2"),
    "sticky": endpoints("sticky", "10.244.1.3"),
    "np": endpoints("np", "10.244.2.4", "10.244.3.4"),
    "lb": endpoints("lb", "10.244.1.5"),
}


def check(renderer: pr.Renderer, services: dict, slices: dict, rendered: int) -> None:
    """The renderer's rules are a fresh render's, and it wrote `rendered` ports anew."""
    got = renderer.render(list(services.values()), list(slices.values()))
    fresh = pr.render(list(services.values()), list(slices.values()), NODE, CIDR, False, NODE_IP)
    assert got.text() == fresh.text()
    assert got.services == fresh.services and got.endpoint_count == fresh.endpoint_count
    assert got.chain_rules() == fresh.chain_rules()
    assert renderer.rendered == rendered


def test_only_the_changed_ports_are_written_and_the_result_is_a_fresh_render():
    r = pr.Renderer(NODE, CIDR, False, NODE_IP)
    services, slices = dict(SERVICES), dict(SLICES)
    check(r, services, slices, rendered=4)  # the first sync writes everything
    check(r, services, slices, rendered=0)  # nothing changed: everything reused
    slices["web"] = endpoints("web", "10.244.1.2", "10.244.2.2", "10.244.3.2")
    check(r, services, slices, rendered=1)  # an endpoint added
    slices["np"] = endpoints("np", "10.244.2.4", "10.244.3.4", ready=False)
    check(r, services, slices, rendered=1)  # no endpoint ready any more: REJECT
    services["sticky"] = service("sticky", "10.96.0.21")
    check(r, services, slices, rendered=1)  # affinity switched off
    services["new"], slices["new"] = service("new", "10.96.0.24"), endpoints("new", "10.244.3.9")
    check(r, services, slices, rendered=1)  # a new Service between the others
    del services["web"]
    check(r, services, slices, rendered=0)  # a Service gone: its slice alone writes nothing
    services["web"] = SERVICES["web"]
    check(r, services, slices, rendered=1)  # back: written again, not taken from a stale cache
    services["lb"] = service(
        "lb",
        "10.96.0.23",
        type="LoadBalancer",
        port={"nodePort": 30081},
        status={"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}},
    )
    check(r, services, slices, rendered=1)  # source ranges dropped: no KUBE-FW any more


def test_crossing_the_large_cluster_threshold_rewrites_every_port():
    """Beyond 1,000 endpoints kube-proxy drops per-endpoint comments everywhere."""
    r = pr.Renderer(NODE, CIDR, False, NODE_IP)
    many = [f"10.244.{1 + i // 250}.{i % 250 + 1}" for i in range(pr.LARGE_CLUSTER_ENDPOINTS)]
    services = {"big": service("big", "10.96.1.1"), "web": SERVICES["web"]}
    slices = {"big": endpoints("big", *many[:-1]), "web": endpoints("web", "10.244.9.9")}
    check(r, services, slices, rendered=2)
    slices["web"] = endpoints("web", "10.244.9.9", "10.244.9.10")  # 1,001 endpoints in all
    check(r, services, slices, rendered=2)
    assert (
        "-> 10.244.1.1:8080" not in r.render(list(services.values()), list(slices.values())).text()
    )


def versioned(obj: dict, rv: int) -> dict:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}}


def test_parsed_objects_are_reused_per_version_and_equal_a_fresh_parse():
    from lab_kit.render.proxy_endpoints import Parsed, endpoints_by_port, service_ports

    parsed = Parsed()
    services = [versioned(s, i) for i, s in enumerate(SERVICES.values(), 1)]
    slices = [versioned(s, i) for i, s in enumerate(SLICES.values(), 10)]
    ports = parsed.service_ports(services)
    assert ports == [p for s in services for p in service_ports(s)]
    eps = parsed.endpoints_by_port(slices)
    assert eps == endpoints_by_port(slices)
    # Nothing written: the very same parsed objects come back.
    again = parsed.endpoints_by_port(slices)
    assert all(again[k] is eps[k] for k in eps)
    assert all(a is b for a, b in zip(parsed.service_ports(services), ports, strict=True))
    # One slice written (a new version with other content): only its Service is parsed again.
    slices[0] = versioned(endpoints("web", "10.244.3.7"), 99)
    changed = parsed.endpoints_by_port(slices)
    assert changed == endpoints_by_port(slices)
    assert [e.ip for e in changed[("default", "web", "http", "tcp")]] == ["10.244.3.7"]
    assert changed[("default", "np", "http", "tcp")] is eps[("default", "np", "http", "tcp")]
    # A second slice for the same Service joins its group: merged as endpoints_by_port does.
    extra = versioned(
        {
            **endpoints("web", "10.244.1.9"),
            "metadata": {
                "namespace": "default",
                "name": "web-y",
                "labels": {"kubernetes.io/service-name": "web"},
            },
        },
        100,
    )
    assert parsed.endpoints_by_port([*slices, extra]) == endpoints_by_port([*slices, extra])
    # A Service gone and a changed one: the list follows, the gone one is forgotten.
    services = [versioned(service("web", "10.96.0.20", sessionAffinity="ClientIP"), 50)]
    assert parsed.service_ports(services) == service_ports(services[0])
