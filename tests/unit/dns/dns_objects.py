"""Builders for the API objects cluster DNS reads, shaped as the API server stores them
(defaulted Services, EndpointSlices as the EndpointSlice controller writes them, Pods
with status). Run this file to print how long building a 1,000-Service zone takes."""

from __future__ import annotations

import itertools

from dnslib import EDNS0, QTYPE, DNSRecord

from lab_kit.render.dns import Answer, ClusterZone, answer

_rv = itertools.count(100)


def _meta(name: str, ns: str | None, labels: dict | None = None) -> dict:
    md = {"name": name, "uid": f"uid-{ns}-{name}", "resourceVersion": str(next(_rv))}
    if ns is not None:
        md["namespace"] = ns
    if labels:
        md["labels"] = dict(labels)
    return md


def port(name: str, number: int, protocol: str = "TCP", target: int | None = None) -> dict:
    p = {"port": number, "protocol": protocol, "targetPort": target or number}
    if name:
        p["name"] = name
    return p


def service(
    name: str,
    ns: str = "default",
    cluster_ip: str = "10.96.0.20",
    ports: list[dict] | None = None,
    selector: dict | None = None,
    type_: str = "ClusterIP",
    publish_not_ready: bool = False,
) -> dict:
    """A ClusterIP (or NodePort / LoadBalancer) Service; cluster_ip="None" is headless."""
    spec: dict = {
        "type": type_,
        "selector": selector if selector is not None else {"app": name},
        "ports": ports if ports is not None else [port("http", 80, target=8080)],
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
    }
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, ns),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def headless(name: str, ns: str = "default", ports: list[dict] | None = None, **kw) -> dict:
    return service(name, ns, cluster_ip="None", ports=ports, **kw)


def external(name: str, external_name: str, ns: str = "default") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, ns),
        "spec": {"type": "ExternalName", "externalName": external_name, "sessionAffinity": "None"},
        "status": {"loadBalancer": {}},
    }


def endpoint(
    ip: str,
    hostname: str | None = None,
    ready: bool | None = True,
    pod: str | None = None,
    node: str = "node1",
) -> dict:
    """One slice endpoint; ready=None leaves the condition unset (counts as ready)."""
    conditions: dict = {"serving": ready is not False, "terminating": False}
    if ready is not None:
        conditions["ready"] = ready
    ep: dict = {"addresses": [ip], "conditions": conditions, "nodeName": node}
    if hostname:
        ep["hostname"] = hostname
    ep["targetRef"] = {
        "kind": "Pod",
        "namespace": "default",
        "name": pod or f"pod-{ip.replace('.', '-')}",
        "uid": f"uid-{ip}",
    }
    return ep


def endpoint_slice(
    service_name: str,
    endpoints: list[dict],
    ports: list[dict] | None = None,
    ns: str = "default",
    name: str | None = None,
    address_type: str = "IPv4",
) -> dict:
    """A slice as the EndpointSlice controller writes it (ports carry the Service's names)."""
    for ep in endpoints:
        if "targetRef" in ep:
            ep["targetRef"]["namespace"] = ns
    labels = {
        "kubernetes.io/service-name": service_name,
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": _meta(name or f"{service_name}-abc12", ns, labels),
        "addressType": address_type,
        "endpoints": endpoints,
        "ports": ports
        if ports is not None
        else [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def slice_port(name: str, number: int, protocol: str = "TCP") -> dict:
    return {"name": name, "port": number, "protocol": protocol}


def pod(name: str, ip: str | None, ns: str = "default") -> dict:
    status: dict = {"phase": "Running" if ip else "Pending"}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(name, ns, {"app": name}),
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}], "nodeName": "node1"},
        "status": status,
    }


def namespace(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(name, None),
        "spec": {"finalizers": ["kubernetes"]},
    }


def query(name: str, qtype: str = "A", edns: int | None = None, do: bool = False) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    if edns is not None:
        q.add_ar(EDNS0(udp_len=edns, flags="do" if do else ""))
    return q


def many_services(count: int) -> tuple[list[dict], list[dict], list[dict]]:
    """`count` Services across 10 namespaces, each with a slice of 3 endpoints and 3 pods."""
    services, slices, pods = [], [], []
    for i in range(count):
        ns, name = f"ns{i % 10}", f"svc{i}"
        b, c = divmod(i, 250)
        services.append(service(name, ns, cluster_ip=f"10.96.{b + 1}.{c + 1}"))
        ips = [f"10.244.{j}.{i % 250 + 1}" for j in range(1, 4)]
        slices.append(endpoint_slice(name, [endpoint(ip) for ip in ips], ns=ns))
        pods.extend(pod(f"{name}-{j}", ip, ns) for j, ip in enumerate(ips))
    return services, slices, pods


# --- CoreDNS's unit-test fixture (handler_test.go, namespace `testns`, IPv4 parts) ---

HTTP = [port("http", 80)]
HTTP_EP = [slice_port("http", 80)]


def coredns_fixture() -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    ns = "testns"
    services = [
        service("svc1", ns, "10.0.0.1", HTTP),
        service("svcempty", ns, "10.0.0.1", HTTP),
        headless("hdls1", ns, HTTP),
        headless("hdlsprtls", ns, ports=[]),
        external("external", "ext.interwebs.test", ns),
        external("external-to-service", "svc1.testns.svc.cluster.local.", ns),
        # Extras beyond CoreDNS's fixture:
        external("extip", "1.2.3.4", ns),
        headless("unready", ns, HTTP),
        headless("multi", ns, [port("http", 80), port("metrics", 9153), port("", 7000)]),
        service(
            "twoports", ns, "10.0.0.9", [port("http", 80), port("dns", 53, "UDP"), port("", 9090)]
        ),
    ]
    slices = [
        endpoint_slice("svc1", [endpoint("172.0.0.1", "ep1a")], HTTP_EP, ns),
        endpoint_slice("svcempty", [], HTTP_EP, ns),
        endpoint_slice(
            "hdls1",
            [
                endpoint("172.0.0.2"),
                endpoint("172.0.0.3"),
                endpoint("172.0.0.4", "dup-name"),
                endpoint("172.0.0.5", "dup-name"),
            ],
            HTTP_EP,
            ns,
        ),
        endpoint_slice("hdls1", [endpoint("5678:abcd::1")], HTTP_EP, ns, "hdls1-v6", "IPv6"),
        endpoint_slice("hdlsprtls", [endpoint("172.0.0.20")], [], ns),
        endpoint_slice("unready", [endpoint("172.0.0.30", ready=False)], HTTP_EP, ns),
        endpoint_slice(
            "multi",
            [
                endpoint("172.0.1.1", "m-0"),
                endpoint("172.0.1.2", "m-1"),
                endpoint("172.0.1.3", ready=None),
            ],
            [slice_port("http", 80), slice_port("metrics", 9153), slice_port("", 7000)],
            ns,
        ),
    ]
    pods = [pod("web-1", "10.244.1.5", ns), pod("pending", None, ns)]
    return services, slices, pods, [namespace(ns), namespace("podns")]


def ask(zone: ClusterZone, name: str, qtype: str = "A", **kw) -> Answer:
    q = DNSRecord.question(name, qtype)
    for key, value in kw.items():
        setattr(q.header, key, value)
    return answer(zone, q.pack())


def lines(records) -> list[str]:
    """RRs as `name ttl TYPE data`, the form CoreDNS's test tables use."""
    return [
        f"{rr.rname} {rr.ttl} {QTYPE[rr.rtype]} {rr.rdata.toZone()}"
        for rr in records
        if rr.rtype != QTYPE.OPT
    ]


if __name__ == "__main__":
    import time

    objects = many_services(1000)
    start = time.perf_counter()
    zone = ClusterZone.build(*objects)
    built = time.perf_counter() - start
    print(f"build: 1000 Services, 1000 slices, 3000 pods in {built * 1000:.1f} ms")
    start = time.perf_counter()
    listing = zone.records()
    print(f"records(): {len(listing)} lines in {(time.perf_counter() - start) * 1000:.1f} ms")
