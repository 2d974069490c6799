"""The kube-proxy agent on the runner, against the real API in-process, on virtual time,
with a fake iptables and a fake conntrack: the first sync is full (jump rules, stale chains
deleted); a new Service is a partial sync of its own chains, reported at the API's
version; a removed Service's chains are flushed and deleted; a vanished canary forces a
full resync at the next periodic check; the min sync period holds; a failed restore is
retried, full, after a back-off; UDP endpoint changes clear conntrack flows; headless and
opted-out Services never reach the informers; /healthz follows the Node's eligibility and a
change left unsynced, /livez only the latter; health check node ports count this node's
ready endpoints; every health answer has Go's headers on the wire."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.clock import FakeClock
from lab_kit.adapters.conntrack import FakeConntrack
from lab_kit.adapters.iptables import FakeIptables
from lab_kit.agents.kube_proxy import KubeProxy
from lab_kit.agents.runner import Context, Runner, common_parser
from lab_kit.lab.topologies import TOPOLOGY_DIR
from lab_kit.model.kinds import by_kind_name
from lab_kit.render.proxy_rules import CANARY, NAT_CHAINS, sep_chain, svc_chain

NODE, NODE_IP, CLUSTER_CIDR = "node1", "172.18.0.2", "10.244.0.0/16"
WITH_CANARY = f"*filter\n:{CANARY} - [0:0]\nCOMMIT\n"


def service(name: str, ip: str, proto: str = "TCP", port: int = 80, **metadata: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": "default", "name": name, **metadata},
        "spec": {"clusterIP": ip, "ports": [{"name": "p", "port": port, "protocol": proto}]},
    }


def endpoint_slice(name: str, ips: list[str], proto: str = "TCP", **labels: str) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": "default",
            "name": f"{name}-x",
            "labels": {"kubernetes.io/service-name": name, **labels},
        },
        "addressType": "IPv4",
        "ports": [{"name": "p", "port": 8080, "protocol": proto}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
    }


def chains_of(name: str, *ips: str, proto: str = "tcp") -> set[str]:
    """A ClusterIP Service's own nat chains: KUBE-SVC and one KUBE-SEP per endpoint."""
    key = f"default/{name}:p"
    return {svc_chain(key, proto), *(sep_chain(key, proto, f"{ip}:8080") for ip in ips)}


def declared(text: str, table: str = "nat") -> set[str]:
    section = text.split(f"*{table}\n")[1].split("COMMIT")[0]
    return {line[1:].split()[0] for line in section.splitlines() if line.startswith(":")}


def deleted(text: str) -> set[str]:
    return {line.split()[1] for line in text.splitlines() if line.startswith("-X ")}


@dataclass
class Node:
    """One kube-proxy on its runner, with everything it touches inspectable."""

    clock: FakeClock
    api: InProcessApi
    client: ApiClient
    iptables: FakeIptables
    conntrack: FakeConntrack
    proxy: KubeProxy
    runner: Runner

    @property
    def report(self) -> dict:
        return self.api.agents[f"kube-proxy/{NODE}"]

    @property
    def rv(self) -> int:
        return self.api.registry.store.rv

    def restores_since(self, count: int) -> list[str]:
        return self.iptables.restored[count:]


Scenario = Callable[[Node], Awaitable[None]]


def run(scenario: Scenario, objects: tuple[dict, ...] = (), saved: str = WITH_CANARY,
        **options: float) -> None:  # fmt: skip
    """Seed the API with `objects`, start kube-proxy (first sync done), run `scenario`."""

    async def main() -> None:
        clock = FakeClock()
        api = InProcessApi(clock=clock.time)
        client = api.client()
        if objects:
            client.apply(list(objects))
        iptables, conntrack = FakeIptables(saved), FakeConntrack()
        ctx = Context(api.async_client(), clock)
        proxy = KubeProxy(ctx, NODE, NODE_IP, CLUSTER_CIDR, iptables=iptables,
                          conntrack=conntrack, serve_http=False, render_in_thread=False,
                          **options)  # fmt: skip
        runner = Runner(proxy)
        task = asyncio.create_task(runner.run())
        await clock.settle()
        try:
            await scenario(Node(clock, api, client, iptables, conntrack, proxy, runner))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


WEB = (service("web", "10.96.0.20"), endpoint_slice("web", ["10.244.1.2"]))
API = (service("api", "10.96.0.21"), endpoint_slice("api", ["10.244.2.2"]))


def test_first_sync_is_full_inserts_the_jumps_and_deletes_stale_chains():
    saved = WITH_CANARY + (
        "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]\n"
        ":KUBE-SEP-OLDOLDOLDOLDOLDO - [0:0]\n:SOMEONE-ELSES - [0:0]\nCOMMIT\n"
    )

    async def scenario(n: Node) -> None:
        jumps, main = n.iptables.restored[:2]
        assert "-I PREROUTING 1" in jumps and f":{CANARY} - [0:0]" in jumps
        assert chains_of("web", "10.244.1.2") <= declared(main)
        assert deleted(main) == {"KUBE-SVC-OLDOLDOLDOLDOLDO", "KUBE-SEP-OLDOLDOLDOLDOLDO"}
        report = n.report
        assert report["full"] is True and report["node"] == NODE
        assert report["appliedResourceVersion"] == n.rv
        assert report["natRules"] == main.split("*nat")[1].count("\n-A ")
        assert report["filterRules"] == main.split("*nat")[0].count("\n-A ")
        assert report["syncSeconds"] == 0.0  # virtual time: rendering took no time at all

    run(scenario, WEB, saved)


def test_a_new_service_is_a_partial_sync_of_its_own_chains():
    async def scenario(n: Node) -> None:
        before = len(n.iptables.restored)
        n.client.apply(list(API))
        await n.clock.settle()
        partials = n.restores_since(before)
        assert partials and all("-I PREROUTING" not in text for text in partials)
        written = set().union(*(declared(text) for text in partials)) - set(NAT_CHAINS)
        assert written == chains_of("api", "10.244.2.2")  # web's chains: untouched
        assert n.report["full"] is False and n.report["appliedResourceVersion"] == n.rv
        assert n.report["portsRendered"] == 1  # web's rules were reused, not written again

    run(scenario, WEB)


def test_a_new_endpoint_rewrites_its_service_chain_and_adds_one_sep():
    async def scenario(n: Node) -> None:
        before = len(n.iptables.restored)
        n.client.apply([endpoint_slice("web", ["10.244.1.2", "10.244.1.3"])])
        await n.clock.settle()
        written = set().union(*(declared(t) for t in n.restores_since(before))) - set(NAT_CHAINS)
        assert written == {svc_chain("default/web:p", "tcp"), *chains_of("web", "10.244.1.3")}

    run(scenario, WEB + API)


def test_a_removed_service_has_its_chains_flushed_and_deleted_once():
    async def scenario(n: Node) -> None:
        before = len(n.iptables.restored)
        n.client.delete(by_kind_name("Service"), "web", "default")
        await n.clock.settle()
        texts = n.restores_since(before)
        gone = chains_of("web", "10.244.1.2")
        assert [deleted(t) for t in texts if deleted(t)] == [gone]  # once, not every sync
        removal = next(t for t in texts if deleted(t))
        assert gone <= declared(removal)  # declared (flushed) in the same restore, then -X
        assert n.report["appliedResourceVersion"] == n.rv

    run(scenario, WEB + API)


def test_a_vanished_canary_makes_the_next_periodic_check_resync_fully():
    async def scenario(n: Node) -> None:
        before, syncs = len(n.iptables.restored), n.runner.syncs
        await n.clock.advance(29.9)
        assert n.runner.syncs == syncs  # nothing changed, the sync period has not passed
        await n.clock.advance(0.2)
        assert n.runner.syncs == syncs + 1 and n.report["full"] is False  # canary there
        n.iptables.saved = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"  # someone flushed it all
        await n.clock.advance(30)
        jumps, main = n.restores_since(before + 1)
        assert f":{CANARY} - [0:0]" in jumps and chains_of("web", "10.244.1.2") <= declared(main)
        assert n.report["full"] is True

    run(scenario, WEB)


def test_min_sync_period_holds_on_virtual_time():
    async def scenario(n: Node) -> None:
        before = len(n.iptables.restored)
        n.client.apply(list(API))
        await n.clock.settle()
        assert n.restores_since(before) == []  # the first sync was less than 1 s ago
        await n.clock.advance(0.9)
        assert n.restores_since(before) == []
        await n.clock.advance(0.2)
        assert svc_chain("default/api:p", "tcp") in n.iptables.restored[before]

    run(scenario, WEB, min_sync_period_s=1.0)


def test_a_failed_restore_is_counted_and_retried_as_a_full_sync_after_a_back_off():
    async def scenario(n: Node) -> None:
        before = len(n.iptables.restored)
        reported = n.report["appliedResourceVersion"]
        n.iptables.fail_next = True
        n.client.apply(list(API))
        await n.clock.settle()
        assert n.proxy.metrics.failures._value.get() == 1
        assert n.restores_since(before) == []  # refused, and not retried yet
        assert n.report["appliedResourceVersion"] == reported  # what failed is not reported
        await n.clock.advance(1.0)
        jumps, main = n.restores_since(before)[:2]
        assert "-I PREROUTING 1" in jumps  # the retry re-ensures the jumps: a full sync
        assert chains_of("web", "10.244.1.2") | chains_of("api", "10.244.2.2") <= declared(main)
        assert n.report["full"] is True and n.report["appliedResourceVersion"] == n.rv

    run(scenario, WEB)


def test_udp_endpoint_changes_clear_conntrack_flows():
    dns = service("dns", "10.96.0.10", proto="UDP", port=53)

    async def scenario(n: Node) -> None:
        assert n.conntrack.deleted == []
        n.client.apply([endpoint_slice("dns", ["10.244.1.5", "10.244.2.5"], "UDP")])
        await n.clock.settle()  # none -> some: flows that met the REJECT go
        assert n.conntrack.deleted == [("-D", "-p", "udp", "--orig-dst", "10.96.0.10")]
        n.client.apply([endpoint_slice("dns", ["10.244.2.5"], "UDP")])
        await n.clock.settle()  # one endpoint left: its flows go
        assert n.conntrack.deleted[1:] == [
            ("-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--reply-src", "10.244.1.5")
        ]

    run(scenario, (dns, endpoint_slice("dns", [], "UDP")))


def test_tcp_endpoint_changes_leave_conntrack_alone():
    async def scenario(n: Node) -> None:
        n.client.apply([endpoint_slice("web", ["10.244.1.3"])])
        await n.clock.settle()
        assert n.conntrack.deleted == []

    run(scenario, WEB)


def test_headless_and_opted_out_services_stay_out_of_the_informers():
    opted = {"service.kubernetes.io/service-proxy-name": "other-proxy"}
    objects = (
        service("other", "10.96.0.30", labels=opted),
        endpoint_slice("other", ["10.244.1.7"], **opted),
        service("headless", "None"),
        endpoint_slice("headless", ["10.244.1.8"], **{"service.kubernetes.io/headless": ""}),
    )

    async def scenario(n: Node) -> None:
        names = {o["metadata"]["name"] for o in n.proxy.ctx.items("services")}
        assert "other" not in names and "headless" in names  # headless: skipped at render
        assert n.proxy.ctx.items("slices") == []
        text = "".join(n.iptables.restored)
        assert "default/other" not in text and "default/headless" not in text
        assert "10.244.1.7" not in text and "10.244.1.8" not in text

    run(scenario, objects)


def test_health_and_metrics_pages():
    async def scenario(n: Node) -> None:
        health = await n.proxy.healthz(make_mocked_request("GET", "/healthz"))
        assert health.status == 200
        metrics = await n.proxy.metrics_page(make_mocked_request("GET", "/metrics"))
        assert b"kubeproxy_sync_full_proxy_rules_duration_seconds_count 1.0" in metrics.body
        n.iptables.broken = True  # from now on every restore is refused
        n.client.apply(list(API))
        await n.clock.advance(59)
        health = await n.proxy.healthz(make_mocked_request("GET", "/healthz"))
        assert health.status == 200  # the last good sync is less than two periods old
        await n.clock.advance(2)
        assert n.proxy.metrics.failures._value.get() > 1  # retried every second, in vain
        health = await n.proxy.healthz(make_mocked_request("GET", "/healthz"))
        assert health.status == 503  # nothing synced for two sync periods

    run(scenario, WEB)


def test_create_reads_the_node_ip_and_cluster_cidr_from_the_topology():
    parser = common_parser("kube-proxy", "")
    KubeProxy.add_arguments(parser)
    options: argparse.Namespace = parser.parse_args(
        ["--node", "node2", "--topology-file", str(TOPOLOGY_DIR / "default.toml"),
         "--min-sync-period", "1", "--sync-period", "10"]
    )  # fmt: skip
    proxy = KubeProxy.create(Context(InProcessApi().async_client()), options)
    assert isinstance(proxy, KubeProxy)
    assert (proxy.node, proxy.node_ip, proxy.cluster_cidr) == ("node2", "172.18.0.3", CLUSTER_CIDR)
    assert (proxy.min_sync_period_s, proxy.resync_s) == (1.0, 10.0)
    assert proxy.report_as == "kube-proxy/node2"


# --- health: /healthz, /livez and the health check node ports --------------------------------
NODE_OBJ = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}
TO_BE_DELETED = {"key": "ToBeDeletedByClusterAutoscaler", "value": "1", "effect": "NoSchedule"}


def lb_local(name: str, ip: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": "default", "name": name},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "clusterIP": ip,
                 "ports": [{"name": "p", "port": 80, "protocol": "TCP"}]},
    }  # fmt: skip


def on_node(slice_: dict, node: str, ready: bool = True) -> dict:
    for e in slice_["endpoints"]:
        e["nodeName"], e["conditions"] = node, {"ready": ready}
    return slice_


async def body(response) -> dict:
    return json.loads(response.body)


def test_healthz_follows_this_nodes_eligibility_and_livez_does_not():
    async def scenario(n: Node) -> None:
        assert n.proxy.watches["node"].field_selector == f"metadata.name={NODE}"
        health = await n.proxy.healthz(make_mocked_request("GET", "/healthz"))
        assert health.status == 200 and (await body(health))["nodeEligible"] is True
        n.client.apply([{**NODE_OBJ, "spec": {"taints": [TO_BE_DELETED]}}])
        await n.clock.settle()
        health = await n.proxy.healthz(make_mocked_request("GET", "/healthz"))
        assert health.status == 503 and (await body(health))["nodeEligible"] is False
        live = await n.proxy.livez(make_mocked_request("GET", "/livez"))
        assert live.status == 200 and "nodeEligible" not in await body(live)

    run(scenario, (*WEB, NODE_OBJ))


def test_failing_periodic_syncs_without_changes_stay_healthy():
    async def scenario(n: Node) -> None:
        n.iptables.broken = True
        await n.clock.advance(200)  # periodic syncs fail, but no update is waiting
        assert n.proxy.metrics.failures._value.get() >= 1
        assert (await n.proxy.healthz(make_mocked_request("GET", "/healthz"))).status == 200

    run(scenario, WEB)


def test_health_check_node_port_counts_this_nodes_ready_endpoints():
    async def scenario(n: Node) -> None:
        svc = n.client.get(by_kind_name("Service"), "lb", "default")
        port = svc["spec"]["healthCheckNodePort"]
        assert n.proxy.service_health.ports == {("default", "lb"): port}
        assert b'"localEndpoints": 2' in health_body(n)  # two pods here, one elsewhere
        n.client.apply([on_node(endpoint_slice("lb", ["10.244.1.2"]), NODE, ready=False)])
        await n.clock.settle()
        assert n.proxy.service_health.answer(("default", "lb"), True).status == 503
        n.client.delete(by_kind_name("Service"), "lb", "default")
        await n.clock.settle()
        assert n.proxy.service_health.ports == {}

    def health_body(n: Node) -> bytes:
        return n.proxy.service_health.answer(("default", "lb"), True).body.encode()

    slices = (
        on_node(endpoint_slice("lb", ["10.244.1.2", "10.244.1.3"]), NODE),
        {**on_node(endpoint_slice("lb", ["10.244.2.2"]), "node2"),
         "metadata": {"namespace": "default", "name": "lb-y",
                      "labels": {"kubernetes.io/service-name": "lb"}}},
    )  # fmt: skip
    run(scenario, (lb_local("lb", "10.96.0.30"), *slices))


def test_answers_on_the_wire_carry_gos_headers_only():
    async def scenario(n: Node) -> None:
        apps = {
            "/healthz": n.proxy.health_app(),
            "/nothing": n.proxy.health_app(),
            "/any/path": n.proxy.health_check_app(("default", "lb")),
        }
        for path, app in apps.items():
            async with TestClient(TestServer(app)) as http:
                response = await http.get(path)
                text = await response.text()
                assert "Server" not in response.headers
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                if path == "/nothing":
                    assert (response.status, text) == (404, "404 page not found\n")
                    continue
                assert response.headers["Content-Type"] == "application/json"
                assert response.status == (200 if path == "/healthz" else 503)
                assert json.loads(text)

    run(scenario, (lb_local("lb", "10.96.0.30"), endpoint_slice("lb", ["10.244.2.2"])))
