"""Lab 13's checks: a LoadBalancer of another class left `<pending>`, the book's Service given
an address by the lab's cloud, the load balancer spreading over every node and never seeing a
reply, health checks choosing the nodes under `Local`, a node failing over, what the pod sees
in `VIP` and `Proxy` mode, and a second Service costing a second load balancer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.render import cloud_lb

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.lb_view import LoadBalancerView
    from lab_kit.lab.packets import PacketRow, PacketTable

CLIENT_IP = "192.0.2.10"
FIRST, SECOND = "198.51.100.32", "198.51.100.33"  # the pool 198.51.100.32/27, in order
NODES = ["node1", "node2", "node3"]


def events_of(lab: Lab, service: str) -> str:
    """The Events part of `describe service`."""
    described = lab.describe("services", service)
    expect("Events:" in described, f"an Events section in describe {service}")
    return described.split("Events:")[1]


def check_left_pending(lab: Lab, service: str = "random-generator-internal") -> None:
    """A Service naming another loadBalancerClass gets no address (EXTERNAL-IP <pending>) and
    no event: nobody implements that class."""
    other = lab.get("services", service)
    cls = other["spec"].get("loadBalancerClass")
    expect(cls == "example.com/internal-lb", "loadBalancerClass example.com/internal-lb", cls)
    status = other.get("status", {}).get("loadBalancer", {})
    expect(status == {}, "no address in status.loadBalancer", status)
    expect("<pending>" in str(lab.get("services")), "EXTERNAL-IP <pending> in the list")
    events = events_of(lab, service)
    expect("LoadBalancer" not in events, "no load balancer event", events.strip())
    passed(f"{service}: EXTERNAL-IP <pending>, no event")


def check_address_given(lab: Lab, service: str = "random-generator") -> str:
    """The lab's cloud controller gave the book's Service the pool's first address (VIP mode),
    added its cleanup finalizer and recorded Ensuring/EnsuredLoadBalancer; the policy is the
    default Cluster. Returns the address."""
    svc = lab.get("services", service)
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress")
    want = [{"ip": FIRST, "ipMode": "VIP"}]
    expect(ingress == want, f"status.loadBalancer.ingress {want}", ingress)
    address = ingress[0]["ip"]
    finalizers = svc["metadata"].get("finalizers") or []
    expect("service.kubernetes.io/load-balancer-cleanup" in finalizers,
           "the finalizer service.kubernetes.io/load-balancer-cleanup", finalizers)  # fmt: skip
    policy = svc["spec"]["externalTrafficPolicy"]
    expect(policy == "Cluster", "externalTrafficPolicy Cluster (the default)", policy)
    events = events_of(lab, service)
    expect("EnsuringLoadBalancer" in events and "EnsuredLoadBalancer" in events,
           "the events EnsuringLoadBalancer and EnsuredLoadBalancer", events.strip())  # fmt: skip
    expect(address in str(lab.get("services")), f"EXTERNAL-IP {address} in the list")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    passed(f"{service}: EXTERNAL-IP {address}, node port {node_port}")
    return address


def check_all_pods_answer(answers: list[str], ids: dict[str, str]) -> None:
    """Every request through the load balancer answered, and every pod answered some."""
    expect("ERR" not in answers, "every request answered", answers.count("ERR"))
    pods = set(answers)
    expect(pods == set(ids.values()), f"all {len(ids)} pods answer", sorted(pods))
    counts = {pod: answers.count(pod) for pod in sorted(pods)}
    passed(f"{len(answers)} answers: {counts}")


def check_lb_entry(lb: LoadBalancerView, address: str) -> None:
    """The load balancer knows the address as the book's Service in VIP mode under Cluster,
    checks kube-proxy's :10256/healthz on each node, and has all three nodes in rotation."""
    entry = lb.address(address)
    expect(entry, f"an entry for {address}", [a.get("address") for a in lb])
    what = (entry["service"], entry["mode"], entry["externalTrafficPolicy"])
    expect(what == ("default/random-generator", "VIP", "Cluster"),
           "default/random-generator, VIP, Cluster", what)  # fmt: skip
    want = (cloud_lb.KUBE_PROXY_HEALTHZ_PORT, "/healthz")
    check = (entry["healthCheck"]["port"], entry["healthCheck"]["path"])
    expect(check == want, f"health check :{want[0]}{want[1]}", check)
    rotation = lb.in_rotation(address)
    expect(rotation == NODES, f"in rotation: {', '.join(NODES)}", rotation)
    passed(f"{address}: checks :{check[0]}{check[1]}, in rotation: {', '.join(rotation)}")


def check_one_way_through_lb(rows: PacketTable, address: str) -> None:
    """On the load balancer's node-side leg: 5 connections, every packet from the client to
    address:8080, no reply (replies go from the node straight back to the client)."""
    expect(len(rows.syns()) == 5, "5 SYNs", len(rows.syns()))
    flows = {(r.src, r.dst, r.dport) for r in rows}
    expect(flows == {(CLIENT_IP, address, 8080)}, f"only {CLIENT_IP} -> {address}:8080", flows)
    replies = rows.filter(src=address)
    expect(not replies, "no reply through cloud-lb", len(replies))
    passed(f"{len(rows)} packets, all {CLIENT_IP} -> {address}:8080; no reply through cloud-lb")


def check_vip_path(lab: Lab, address: str) -> None:
    """The drawn path: from the client's port to address:8080, SNAT on the node (KUBE-EXT),
    and the reply by direct server return."""
    path = lab.draw_load_balancer(address).source
    for want in (f"src {CLIENT_IP}:p", f"dst {address}:8080", "KUBE-EXT: SNAT",
                 "direct server return"):  # fmt: skip
        expect(want in path, f"{want!r} in the drawn path")
    passed("client -> cloud-lb -> node (SNAT) -> pod; replies straight back from the node")


def check_local_rotation(lb: LoadBalancerView, address: str, pods: list[dict],
                         with_pod: list[str], checks: dict, health_port: int) -> None:  # fmt: skip
    """Two pods on two nodes; each node's healthCheckNodePort answers 200 with its count of
    local endpoints where there is a pod, 503 (0) where there is none; the load balancer
    checks that port and keeps only the nodes with a pod in rotation."""
    expect(len(pods) == 2 and len(with_pod) == 2, "2 pods on 2 nodes", with_pod)
    for name, out in checks.items():
        local = sum(p["spec"]["nodeName"] == name for p in pods)
        code = " 200" if local else " 503"
        expect(out.stdout.endswith(code), f"{name} ({local} local) answers{code}", out.stdout)
        expect(f'"localEndpoints": {local}' in out.stdout, f'{name}: "localEndpoints": {local}',
               out.stdout)  # fmt: skip
    check = lb.address(address).get("healthCheck")
    expect(check == {"port": health_port, "path": "/"},
           f"the LB checks the healthCheckNodePort :{health_port}/", check)  # fmt: skip
    rotation = lb.in_rotation(address)
    expect(rotation == with_pod, f"in rotation: {with_pod}", rotation)
    passed(f"in rotation: {with_pod} - the nodes with a pod; the others answer 503 and get nothing")


def check_failover(samples: list[tuple[float, str]], labels: dict[str, str], victim: str,
                   cut: float, out: float, back: float) -> None:  # fmt: skip
    """The node left the rotation within the LB's promise (+ 1 s); requests failed, only
    between the cut and just after it left; its pod answered nothing while it was away and
    answered again once it was back. Times in seconds since the first answer."""
    victims = [label for label in labels.values() if label.endswith(f"@ {victim}")]
    expect(victims, f"a pod on {victim}", sorted(labels.values()))
    victim_pod = victims[0]
    # the LB's promise, + 1 s for disconnect_node itself and the LB's view to show it
    limit = cloud_lb.LEAVES_ROTATION_WITHIN_S + 1
    expect(out - cut <= limit, f"out of rotation within {limit:g} s", round(out - cut, 2))
    errors = [t for t, who in samples if who == "ERR"]
    expect(errors, "some requests lost during the failover")
    late = [round(t, 2) for t in errors if not cut - 0.5 < t < out + 1]
    expect(not late, f"lost only between {cut - 0.5:.1f} s and {out + 1:.1f} s", late)
    away = [round(t, 2) for t, who in samples if who == victim_pod and cut + 1 < t < back - 1]
    expect(not away, f"nothing from {victim_pod} while {victim} was away", away)
    again = [t for t, who in samples if who == victim_pod and t > back + 1]
    expect(again, f"{victim_pod} answers again after {victim} is back")
    passed(f"{len(samples)} requests; {len(errors)} failed, all in the {out - cut:.1f} s before "
           f"{victim} left the rotation; {victim} answered again {back - cut:.1f} s after it went")  # fmt: skip


def check_pods_see_the_client(syns: list[PacketRow], count: int = 10) -> None:
    """VIP + Local: every connection reached a pod from the client's own address."""
    sources = {s.src for s in syns}
    expect(len(syns) == count, f"{count} connections at the pods", len(syns))
    expect(sources == {CLIENT_IP}, f"every SYN from the client {CLIENT_IP}", sources)
    passed(f"VIP + Local: every pod saw {CLIENT_IP}, the client itself")


def check_proxy_mode(lab: Lab, address: str, syns: list[PacketRow], leg: str,
                     count: int = 10) -> None:  # fmt: skip
    """Proxy mode: the same address, ipMode Proxy; every connection reached a pod from the load
    balancer's leg (the client is gone); the drawing says Proxy; and node1 has no rule for
    the LB address (the LB connects to the node port itself)."""
    ingress = lab.get("services", "random-generator")["status"]["loadBalancer"]["ingress"]
    want = [{"ip": address, "ipMode": "Proxy"}]
    expect(ingress == want, f"status.loadBalancer.ingress {want}", ingress)
    sources = {s.src for s in syns}
    expect(len(syns) == count, f"{count} connections at the pods", len(syns))
    expect(sources == {leg}, f"every SYN from the load balancer's leg {leg}", sources)
    expect("Proxy" in lab.draw_load_balancer(address).source, "the drawn path in Proxy mode")
    rules = str(lab.iptables("node1", "nat", grep=address))
    expect(address not in rules, f"no nat rule for {address} on node1", rules)
    passed(f"Proxy + Local: every pod saw {leg}, the load balancer's leg; the client is gone")


def check_second_load_balancer(lab: Lab, second: str, address: str, answered: list[str],
                               requests: int = 3) -> None:  # fmt: skip
    """A second LoadBalancer Service got the pool's next address and a load balancer of its
    own, and it answers (not all of its `requests` failed)."""
    expect(second == SECOND and second != address, f"the next address {SECOND}", second)
    count = len(lab.load_balancer())
    expect(count == 2, "two load balancer addresses", count)
    expect(answered != ["ERR"] * requests, f"an answer through {second}", answered)
    passed(f"two Services, two load balancers: {address} and {second} (the pool holds 32)")
