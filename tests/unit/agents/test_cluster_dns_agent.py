"""The cluster DNS agent on the runner, against the real API in-process, on virtual time:
a Service created through the API answers (over UDP) once the server reports the store's
version, which is what `labkit apply --wait` waits for; headless endpoints; NXDOMAIN vs
NODATA; an edited Corefile in the ConfigMap takes effect and a broken one is ignored; a
version that moved without any object of its kinds is reported without a rebuild; the
server in a pod says goodbye when it stops. Issue 12's reload cases: an edit to `pods
verified` watches Pods and answers for the ones that exist; edits CoreDNS refuses are
logged in its words while the running Corefile serves on; edits of the reverse zones and
`fallthrough` change the answers; without `reload` edits are not read; a Corefile
CoreDNS refuses at start ends the process with its message. Its upstream is the world-dns agent, on
127.0.0.1 too. No root, no sleeps, no port 53."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.clock import FakeClock
from lab_kit.adapters.dns_listener import ask
from lab_kit.agents.cluster_dns import ClusterDns
from lab_kit.agents.runner import Context, Runner
from lab_kit.agents.world_dns import WorldDns
from lab_kit.controllers.state import Update
from lab_kit.model.kinds import by_kind_name
from lab_kit.render.dns.corefile import KUBEADM_COREFILE
from lab_kit.render.dns.world import WorldZone

POD = "kube-system/coredns-a"
AGENT = "coredns/coredns-a"
NOT_MOUNTED = "/nonexistent/etc/coredns/Corefile"  # no volume: the ConfigMap is read


def corefile(upstream_port: int, ttl: int = 30, pods: str = "insecure") -> str:
    """kubeadm's Corefile, forwarding to the test's world resolver instead of resolv.conf."""
    return (
        KUBEADM_COREFILE.replace("/etc/resolv.conf", f"127.0.0.1:{upstream_port}")
        .replace("ttl 30", f"ttl {ttl}")
        .replace("pods insecure", f"pods {pods}")
    )


def configmap(text: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "data": {"Corefile": text},
    }


def service(name: str, cluster_ip: str | None = None) -> dict:
    spec: dict = {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}  # fmt: skip
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}  # fmt: skip


def endpoint_slice(service_name: str, ips: list[str]) -> dict:
    """As the EndpointSlice controller writes it for ready pods."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-abcde",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


@dataclass
class Lab:
    """The API, the world resolver and the cluster DNS server, each on its runner."""

    api: InProcessApi
    clock: FakeClock
    dns: ClusterDns
    runner: Runner

    @property
    def port(self) -> int:
        assert self.dns.listener is not None
        return self.dns.listener.port

    async def query(self, name: str, qtype: str = "A") -> DNSRecord:
        """One query over UDP through the server's real listener."""
        data = bytes(DNSRecord.question(name, qtype).pack())
        out = await ask(("127.0.0.1", self.port), data, tcp=False, timeout_s=5)
        assert out is not None, f"no answer to {name} {qtype}"
        return DNSRecord.parse(out)

    async def applied(self) -> dict:
        """What `labkit apply --wait` waits for: this server reports the store's newest
        version (yielding to the event loop until it does; virtual time does not move)."""
        for _ in range(50):
            report = self.api.agents.get(AGENT, {})
            if report.get("appliedResourceVersion") == self.api.registry.store.rv:
                return report
            await self.clock.settle()
        raise AssertionError(f"never reported {self.api.registry.store.rv}: {report}")

    async def write(self, obj: dict) -> dict:
        client = self.dns.ctx.client
        return await client.create(obj)


@asynccontextmanager
async def lab(
    monkeypatch: pytest.MonkeyPatch, pods: str = "insecure", in_pod: bool = True
) -> AsyncIterator[Lab]:
    clock = FakeClock()
    api = InProcessApi(clock=clock.time)
    world = WorldDns(Context(api.async_client(), clock), WorldZone.default(), 0, "127.0.0.1")
    world_runner = Runner(world)
    await world_runner.start()
    assert world.listener is not None
    api.registry.create(configmap(corefile(world.listener.port, pods=pods)))
    if in_pod:
        monkeypatch.setenv("LABKIT_POD", POD)  # as the kubelet sets it for this image
    else:
        monkeypatch.delenv("LABKIT_POD", raising=False)
    ctx = Context(api.async_client(), clock)
    dns = await ClusterDns.create(ctx, argparse.Namespace(conf=NOT_MOUNTED))
    dns.host, dns.any_port = "127.0.0.1", True  # loopback, free ports: no root needed
    runner = Runner(dns)
    task = asyncio.create_task(runner.run())
    await clock.settle()
    try:
        yield Lab(api, clock, dns, runner)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.shutdown()
        await world_runner.shutdown()
        await ctx.client.close()


def addresses(reply: DNSRecord) -> list[str]:
    return [str(r.rdata) for r in reply.rr]


def test_a_service_created_through_the_api_answers_over_udp_once_reported(monkeypatch):
    async def scenario():
        async with lab(monkeypatch) as t:
            before = await t.query("web.default.svc.cluster.local")
            created = await t.write(service("web"))
            report = await t.applied()
            reply = await t.query("web.default.svc.cluster.local")
            assert before.header.rcode == RCODE.NXDOMAIN
            assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
            assert addresses(reply) == [created["spec"]["clusterIP"]]  # the API's allocation
            assert [r.ttl for r in reply.rr] == [30]  # kubeadm's ttl 30
            assert report["pod"] == POD  # convergence stops counting it once the pod is gone
            outside = await t.query("example.com")  # forwarded to the world-dns agent
            assert addresses(outside) == ["203.0.113.10"] and outside.header.ra == 1

    asyncio.run(scenario())


def test_a_headless_service_answers_with_its_ready_endpoints(monkeypatch):
    async def scenario():
        async with lab(monkeypatch) as t:
            await t.write(service("db", cluster_ip="None"))
            await t.write(endpoint_slice("db", ["10.244.1.5", "10.244.2.7"]))
            await t.applied()
            reply = await t.query("db.default.svc.cluster.local")
            srv = await t.query("_http._tcp.db.default.svc.cluster.local", "SRV")
            assert sorted(addresses(reply)) == ["10.244.1.5", "10.244.2.7"]
            assert sorted(str(r.rdata.target) for r in srv.rr) == [
                "10-244-1-5.db.default.svc.cluster.local.",
                "10-244-2-7.db.default.svc.cluster.local.",
            ]

    asyncio.run(scenario())


def test_nxdomain_versus_nodata(monkeypatch):
    async def scenario():
        async with lab(monkeypatch) as t:
            await t.write(service("web"))
            await t.applied()
            missing = await t.query("nope.default.svc.cluster.local")
            nodata = await t.query("web.default.svc.cluster.local", "AAAA")
            for reply in (missing, nodata):
                assert [r.rtype for r in reply.auth] == [QTYPE.SOA]
            assert missing.header.rcode == RCODE.NXDOMAIN and not missing.rr
            assert nodata.header.rcode == RCODE.NOERROR and not nodata.rr

    asyncio.run(scenario())


async def edit_corefile(t: Lab, edit) -> None:
    client = t.dns.ctx.client
    cm = await client.get(by_kind_name("ConfigMap"), "coredns", "kube-system")
    cm["data"]["Corefile"] = edit(cm["data"]["Corefile"])
    await client.perform(Update(cm))
    await t.applied()


def test_an_edited_corefile_takes_effect_and_a_broken_one_is_ignored(monkeypatch, caplog):
    async def scenario():
        async with lab(monkeypatch) as t:
            await t.write(service("web"))
            await t.applied()
            builds = t.dns.zone_builds
            await edit_corefile(t, lambda text: text.replace("ttl 30", "ttl 7"))
            assert [r.ttl for r in (await t.query("web.default.svc.cluster.local")).rr] == [7]
            assert t.dns.zone_builds == builds + 1  # rebuilt with the new ttl
            with caplog.at_level(logging.INFO, logger="coredns"):
                await edit_corefile(t, lambda text: text.replace("pods insecure", "pods maybe"))
            assert "[ERROR] Restart failed" in caplog.text and "pods: maybe" in caplog.text
            await t.write(service("late"))  # the old Corefile keeps running, and serving
            await t.applied()
            late = await t.query("late.default.svc.cluster.local")
            assert late.header.rcode == RCODE.NOERROR and [r.ttl for r in late.rr] == [7]

    asyncio.run(scenario())


def test_changed_ports_are_warned_about_and_wait_for_a_restart(monkeypatch, caplog):
    async def scenario():
        async with lab(monkeypatch) as t:
            port = t.port
            with caplog.at_level(logging.INFO, logger="coredns"):
                await edit_corefile(t, lambda text: text.replace(".:53", ".:1053"))
            assert "ports changed" in caplog.text and "Reloading" in caplog.text
            assert t.port == port  # still where it listened
            reply = await t.query("kubernetes.default.svc.cluster.local")
            assert addresses(reply) == ["10.96.0.1"]

    asyncio.run(scenario())


def test_a_version_without_changes_of_its_kinds_is_reported_without_a_rebuild(monkeypatch):
    async def scenario():
        async with lab(monkeypatch) as t:
            await t.applied()
            builds, rv = t.dns.zone_builds, t.api.registry.store.rv
            other = configmap("not a Corefile")
            other["metadata"]["name"] = "other"
            t.api.registry.create(other)  # no informer of the server lists it
            report = await t.applied()  # BOOKMARKs: still "applied", as `apply --wait` needs
            assert report["appliedResourceVersion"] > rv
            assert t.dns.zone_builds == builds

    asyncio.run(scenario())


def test_a_server_in_a_pod_says_goodbye_when_it_stops(monkeypatch):
    async def scenario():
        async with lab(monkeypatch) as t:
            await t.applied()
            assert t.dns.goodbye_on_exit and t.dns.report_as == AGENT
        assert AGENT not in t.api.agents  # it left convergence: no one waits for it now

    asyncio.run(scenario())


def test_outside_a_pod_the_server_does_not_report(monkeypatch):
    async def scenario():
        async with lab(monkeypatch, in_pod=False) as t:
            await t.write(service("web"))
            for _ in range(3):
                await t.clock.settle()
            reply = await t.query("web.default.svc.cluster.local")
            assert reply.header.rcode == RCODE.NOERROR
            assert t.dns.report_as == "" and t.api.agents == {}

    asyncio.run(scenario())


def test_health_ready_and_metrics_answer_over_http(monkeypatch):
    async def scenario():
        async with lab(monkeypatch) as t:
            await t.applied()
            await t.query("kubernetes.default.svc.cluster.local")
            ports = [runner.addresses[0][1] for runner in t.dns.http]
            async with httpx.AsyncClient() as http:
                health, ready, metrics = [
                    await http.get(f"http://127.0.0.1:{port}{path}")
                    for port, path in zip(ports, ("/health", "/ready", "/metrics"), strict=True)
                ]
            assert (health.text, ready.status_code) == ("OK", 200)
            assert 'coredns_dns_requests_total{family="1",proto="udp"' in metrics.text

    asyncio.run(scenario())


def test_pods_verified_watches_pods_and_answers_only_for_pods_that_exist(monkeypatch):
    async def scenario():
        async with lab(monkeypatch, pods="verified") as t:
            assert "Pod" in t.dns.watches
            name = "10-244-1-5.default.pod.cluster.local"
            before = await t.query(name)
            pod = await t.write(
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
                 "spec": {"containers": [{"name": "web", "image": "busybox"}]}}
            )  # fmt: skip
            pod["status"] = {"phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}]}  # fmt: skip
            await t.dns.ctx.client.update_status(pod)  # what the kubelet reports
            await t.applied()
            after = await t.query(name)
            assert before.header.rcode == RCODE.NXDOMAIN  # no pod has that address yet
            assert after.header.rcode == RCODE.NOERROR and addresses(after) == ["10.244.1.5"]

    asyncio.run(scenario())


def test_create_reads_a_mounted_corefile_or_the_configmap(tmp_path: Path, monkeypatch):
    async def scenario():
        api = InProcessApi()
        api.registry.create(configmap(corefile(9, ttl=11)))
        monkeypatch.setenv("LABKIT_POD", POD)
        mounted = tmp_path / "Corefile"
        mounted.write_text(corefile(9, ttl=22, pods="verified"))
        ctx = Context(api.async_client())
        from_file = await ClusterDns.create(ctx, argparse.Namespace(conf=str(mounted)))
        from_api = await ClusterDns.create(ctx, argparse.Namespace(conf=NOT_MOUNTED))
        await ctx.client.close()
        assert from_file.server.config.ttl == 22 and from_api.server.config.ttl == 11
        assert set(from_file.watches) == {"Service", "EndpointSlice", "Namespace", "Pod"}
        assert set(from_api.watches) == {"Service", "EndpointSlice", "Namespace", "ConfigMap"}
        watch = from_api.watches["ConfigMap"]  # the `reload` plugin: only that ConfigMap
        assert (watch.namespace, watch.field_selector) == ("kube-system", "metadata.name=coredns")
        assert from_api.report_as == from_file.report_as == AGENT
        assert from_api.server.upstreams == [("127.0.0.1", 9)]

    asyncio.run(scenario())


async def running_pod(t: Lab, name: str, ip: str) -> dict:
    """A pod as the kubelet reports it once it runs."""
    pod = await t.write(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
         "spec": {"containers": [{"name": "web", "image": "busybox"}]}}
    )  # fmt: skip
    pod["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
    return await t.dns.ctx.client.update_status(pod)


def test_a_reload_to_pods_verified_answers_for_the_pods_that_exist(monkeypatch, caplog):
    """Regression (issue 12): after an edit to `pods verified` the server had no watch on
    Pods, so every existing pod's name was NXDOMAIN. CoreDNS's reload starts a new
    instance, whose `pods verified` starts a pod informer (controller.go initPodCache)."""

    async def scenario():
        async with lab(monkeypatch) as t:
            assert "Pod" not in t.dns.watches  # kubeadm's `pods insecure` watches no Pods
            await running_pod(t, "web", "10.244.1.5")
            await t.applied()
            with caplog.at_level(logging.INFO, logger="coredns"):
                await edit_corefile(t, lambda text: text.replace("pods insecure", "pods verified"))
            existing = await t.query("10-244-1-5.default.pod.cluster.local")
            missing = await t.query("10-244-1-6.default.pod.cluster.local")
            other_ns = await t.query("10-244-1-5.kube-system.pod.cluster.local")
            assert existing.header.rcode == RCODE.NOERROR and addresses(existing) == ["10.244.1.5"]
            assert missing.header.rcode == other_ns.header.rcode == RCODE.NXDOMAIN
            await running_pod(t, "late", "10.244.2.9")  # the new watch follows new pods
            await t.applied()
            assert addresses(await t.query("10-244-2-9.default.pod.cluster.local")) == [
                "10.244.2.9"
            ]
            assert "[INFO] Reloading complete" in caplog.text
            await edit_corefile(t, lambda text: text.replace("pods verified", "pods disabled"))
            disabled = await t.query("10-244-1-5.default.pod.cluster.local")
            assert disabled.header.rcode == RCODE.NXDOMAIN

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("edit", "lines"),
    [
        (
            lambda text: text.replace("ttl 30", "ttl 7\n       podz insecure"),
            [
                "[INFO] Reloading",
                f"[ERROR] Restart failed: plugin/kubernetes: {NOT_MOUNTED}:11 - Error during"
                " parsing: unknown property 'podz'",
                "[ERROR] plugin/reload: Corefile changed but reload failed: starting with"
                f" listener file descriptors: plugin/kubernetes: {NOT_MOUNTED}:11 - Error"
                " during parsing: unknown property 'podz'",
            ],
        ),
        (
            lambda text: text.replace("loadbalance", "loadbalance\n    rewritten"),
            [
                f"[ERROR] Restart failed: {NOT_MOUNTED}:23 - Error during parsing: Unknown directive 'rewritten'"
            ],  # fmt: skip
        ),
        (
            lambda text: re.sub(r"forward \. \S+", "forward . /nonexistent/resolv.conf", text),
            [
                '[ERROR] Restart failed: plugin/forward: not an IP address or file: "/nonexistent/resolv.conf"'
            ],  # fmt: skip
        ),
        (
            lambda text: text.replace("ttl 30", "ttl 7").replace("loadbalance", "loadbalance }"),
            [
                f"[WARNING] plugin/reload: Corefile parse failed: {NOT_MOUNTED}:22 - Error during"
                " parsing: Unexpected '}' because no matching opening brace"
            ],
        ),
    ],
)
def test_a_corefile_coredns_refuses_is_logged_in_its_words_and_the_old_one_serves_on(
    monkeypatch, caplog, edit, lines
):
    """Regression (issue 12): unknown options and plugins were accepted silently. CoreDNS's
    reload refuses them (caddy's Restart, plugin/reload), and the running one serves on."""

    async def scenario():
        async with lab(monkeypatch) as t:
            await t.write(service("web"))
            await t.applied()
            with caplog.at_level(logging.INFO, logger="coredns"):
                await edit_corefile(t, edit)
            for line in lines:
                assert line in caplog.text
            assert "Reloading complete" not in caplog.text
            reply = await t.query("web.default.svc.cluster.local")
            assert [r.ttl for r in reply.rr] == [30]  # not the edit's 7
            assert t.dns.server.config.ttl == 30

    asyncio.run(scenario())


def test_edits_of_reverse_zones_and_fallthrough_change_the_answers(monkeypatch):
    """Regression (issue 12): the reverse zones and `fallthrough` of the Corefile were
    ignored. Without `fallthrough`, an unknown address is NXDOMAIN here (authoritative, the
    reverse zone's SOA); without the reverse zones, PTR questions go to `forward` even for
    ClusterIPs (the lab's internet knows none of them)."""

    async def scenario():
        async with lab(monkeypatch) as t:
            created = await t.write(service("web"))
            await t.applied()
            ip = created["spec"]["clusterIP"]
            ptr = ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
            unknown = await t.query("99.99.96.10.in-addr.arpa", "PTR")
            assert unknown.header.rcode == RCODE.NXDOMAIN and unknown.header.ra == 1  # forwarded
            await edit_corefile(t, lambda text: text.replace("fallthrough in-addr.arpa ip6.arpa\n", ""))  # fmt: skip
            here = await t.query("99.99.96.10.in-addr.arpa", "PTR")
            assert (here.header.rcode, here.header.aa, here.header.ra) == (RCODE.NXDOMAIN, 1, 0)
            assert str(here.auth[0].rname) == "in-addr.arpa."
            assert [str(r.rdata) for r in (await t.query(ptr, "PTR")).rr] == [
                "web.default.svc.cluster.local."
            ]
            await edit_corefile(t, lambda text: text.replace(" in-addr.arpa ip6.arpa {", " {"))
            gone = await t.query(ptr, "PTR")
            assert (gone.header.rcode, gone.header.aa, gone.rr) == (RCODE.NXDOMAIN, 0, [])

    asyncio.run(scenario())


def test_without_the_reload_plugin_edits_are_not_looked_at(monkeypatch, caplog):
    async def scenario():
        async with lab(monkeypatch) as t:
            await edit_corefile(t, lambda text: text.replace("    reload\n", ""))
            assert not t.dns.server.config.reload
            with caplog.at_level(logging.INFO, logger="coredns"):
                await edit_corefile(t, lambda text: text.replace("ttl 30", "ttl 7"))
            assert t.dns.server.config.ttl == 30 and "Reloading" not in caplog.text

    asyncio.run(scenario())


def test_a_corefile_coredns_refuses_at_start_ends_the_process_with_its_message(monkeypatch):
    """CoreDNS's log.Fatal: the message on stderr, exit status 1 (the pod crash-loops)."""

    async def scenario():
        api = InProcessApi()
        bad = corefile(9).replace("pods insecure", "pods insecure\n       podz")
        api.registry.create(configmap(bad))
        ctx = Context(api.async_client())
        try:
            with pytest.raises(SystemExit) as ended:
                await ClusterDns.create(ctx, argparse.Namespace(conf=NOT_MOUNTED))
        finally:
            await ctx.client.close()
        assert str(ended.value.code) == (
            f"plugin/kubernetes: {NOT_MOUNTED}:9 - Error during parsing: unknown property 'podz'"
        )

    asyncio.run(scenario())
