"""The kube-proxy agent's sync logic with a fake iptables and fake informers: full sync
first (jump rules, stale chains deleted), partial syncs after (only changed service chains,
removed chains flushed and deleted), a vanished canary forces a full resync, a failed
restore is retried as a full sync."""

from __future__ import annotations

import asyncio

from lab_kit.adapters.iptables import FakeIptables
from lab_kit.agents.kube_proxy import KubeProxy
from lab_kit.render.proxy_rules import sep_chain, svc_chain


class FakeInformer:
    def __init__(self, items):
        self._items, self.seen_rv = items, 7

    def items(self):
        return list(self._items)


class FakeClient:
    def __init__(self):
        self.reports = []

    async def report_applied(self, agent, rv, info=None):
        self.reports.append((agent, rv, info))


def service(name, ip):
    return {"metadata": {"namespace": "default", "name": name},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "ports": [{"port": 80, "protocol": "TCP"}]}}  # fmt: skip


def slice_(name, ips):
    return {"metadata": {"namespace": "default", "name": f"{name}-x", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}  # fmt: skip


def make(services, slices, saved=""):
    proxy = KubeProxy.__new__(KubeProxy)  # no informers/HTTP: drive sync() directly
    proxy.node, proxy.node_ip, proxy.cluster_cidr = "node1", "172.18.0.2", "10.244.0.0/16"
    proxy.client, proxy.iptables = FakeClient(), FakeIptables(saved)
    proxy.min_sync_period_s, proxy.sync_period_s, proxy.name = 0.0, 30.0, "kube-proxy/node1"
    proxy.changed = asyncio.Event()
    proxy.services, proxy.slices = FakeInformer(services), FakeInformer(slices)
    from lab_kit.agents.kube_proxy import Metrics

    proxy.metrics, proxy.written, proxy.udp_endpoints, proxy.triggers = Metrics(), None, {}, {}
    proxy.last_ok = proxy.last_sync_start = 0.0
    return proxy


def run(coro):
    return asyncio.run(coro)


def test_first_sync_is_full_and_deletes_stale_chains():
    saved = "*nat\n:KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"
    proxy = make([service("web", "10.96.0.20")], [slice_("web", ["10.244.1.2"])], saved)
    run(proxy.sync())
    jumps, main = proxy.iptables.restored
    assert "-I PREROUTING 1" in jumps and ":KUBE-PROXY-CANARY - [0:0]" in jumps
    assert f":{svc_chain('default/web', 'tcp')} - [0:0]" in main
    assert "-X KUBE-SVC-OLDOLDOLDOLDOLDO" in main
    assert (
        proxy.client.reports[0][:2] == ("kube-proxy/node1", 7)
        and proxy.client.reports[0][2]["full"]
    )


def test_partial_sync_writes_only_what_changed():
    web, api = service("web", "10.96.0.20"), service("api", "10.96.0.21")
    proxy = make([web, api], [slice_("web", ["10.244.1.2"]), slice_("api", ["10.244.2.2"])])
    run(proxy.sync())
    proxy.slices._items = [
        slice_("web", ["10.244.1.2", "10.244.1.3"]),
        slice_("api", ["10.244.2.2"]),
    ]
    run(proxy.sync())
    partial = proxy.iptables.restored[-1]
    assert f":{svc_chain('default/web', 'tcp')} - [0:0]" in partial  # rewritten: a new endpoint
    assert f":{sep_chain('default/web', 'tcp', '10.244.1.3:8080')} - [0:0]" in partial
    assert svc_chain("default/api", "tcp") not in partial.split("-A KUBE-SERVICES")[0]  # untouched
    assert ":KUBE-SERVICES - [0:0]" in partial  # top-level chains: always
    proxy.services._items, proxy.slices._items = [api], [slice_("api", ["10.244.2.2"])]
    run(proxy.sync())
    gone = proxy.iptables.restored[-1]
    assert f"-X {svc_chain('default/web', 'tcp')}" in gone
    assert f"-X {sep_chain('default/web', 'tcp', '10.244.1.2:8080')}" in gone


def test_lost_canary_forces_full_resync():
    proxy = make([service("web", "10.96.0.20")], [slice_("web", ["10.244.1.2"])])
    run(proxy.sync())
    proxy.iptables.saved = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"  # someone flushed everything
    assert not run(proxy.canary_present())
    proxy.iptables.saved = "*filter\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n"
    assert run(proxy.canary_present())


def test_failed_restore_retries_as_full_sync():
    proxy = make([service("web", "10.96.0.20")], [slice_("web", ["10.244.1.2"])])
    run(proxy.sync())
    proxy.iptables.fail_next = True
    run(proxy.sync())
    assert proxy.written is None and proxy.changed.is_set()
    assert proxy.metrics.failures._value.get() == 1
    run(proxy.sync())
    assert "-I PREROUTING 1" in proxy.iptables.restored[-2]  # the retry re-ensures the jumps


def test_udp_endpoint_leaving_clears_its_conntrack_flows(monkeypatch):
    calls = []

    async def fake_conntrack(*args):
        calls.append(args)

    monkeypatch.setattr("lab_kit.agents.kube_proxy._conntrack", fake_conntrack)
    dns = service("dns", "10.96.0.10")
    dns["spec"]["ports"] = [{"name": "dns", "port": 53, "protocol": "UDP"}]

    def dns_slice(ips):
        s = slice_("dns", ips)
        s["ports"] = [{"name": "dns", "port": 53, "protocol": "UDP"}]
        return s

    proxy = make([dns], [dns_slice([])])
    run(proxy.sync())
    proxy.slices._items = [dns_slice(["10.244.1.5", "10.244.2.5"])]
    run(proxy.sync())  # none -> some: flows that met the REJECT go
    proxy.slices._items = [dns_slice(["10.244.2.5"])]
    run(proxy.sync())  # one endpoint left: its flows go
    assert calls == [
        ("-D", "-p", "udp", "--orig-dst", "10.96.0.10"),
        ("-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--reply-src", "10.244.1.5"),
    ]
