"""The ingress controller agent on the runner, against the real API in-process, on virtual
time, with a fake nginx: what it renders and reloads, the status it publishes (only on the
Ingresses it serves), a refused configuration keeping the last good one, and ConfigMap
settings reaching the rendered configuration."""

from __future__ import annotations

import argparse
import asyncio
import copy

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.clock import FakeClock
from lab_kit.adapters.nginx import FakeNginx
from lab_kit.agents.ingress_nginx import IngressNginxController
from lab_kit.agents.runner import Context, Runner


def options(**extra: object) -> argparse.Namespace:
    base = dict(publish_service="ingress-nginx/ingress-nginx-controller", ingress_class="nginx",
                controller_class="k8s.io/ingress-nginx", watch_ingress_without_class=True,
                configmap="ingress-nginx/ingress-nginx-controller", election_id="",
                default_ssl_certificate="", healthz_port=0, http_port=80, https_port=443,
                nginx_prefix="/etc/nginx")  # fmt: skip
    return argparse.Namespace(**{**base, **extra})


def seed(api: InProcessApi) -> None:
    r = api.registry
    r.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ingress-nginx"}})
    r.create({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
              "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}})  # fmt: skip
    r.create({"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
              "data": {}})  # fmt: skip
    svc = r.create({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
                    "spec": {"type": "LoadBalancer", "selector": {"app": "c"},
                             "ports": [{"name": "http", "port": 80}]}})  # fmt: skip
    svc = copy.deepcopy(svc)
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.32", "ipMode": "VIP"}]}}
    r.update(svc, subresource="status")
    r.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})  # fmt: skip


def an_ingress(name: str, host: str, class_name: str | None = "nginx") -> dict:
    spec: dict = {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                  "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}  # fmt: skip
    if class_name is not None:
        spec["ingressClassName"] = class_name
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}  # fmt: skip


async def started(api: InProcessApi, clock: FakeClock, nginx: FakeNginx, **extra: object):
    agent = IngressNginxController(Context(api.async_client(), clock), options(**extra), nginx)
    task = asyncio.create_task(Runner(agent).run())
    await clock.settle()
    return agent, task


async def a_controller():
    """The seeded API, the clock, a fake nginx and the running controller's task."""
    clock, nginx = FakeClock(), FakeNginx()
    api = InProcessApi(clock=clock.time)
    seed(api)
    _agent, task = await started(api, clock, nginx)
    return api, clock, nginx, task


async def stopped(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def address(api: InProcessApi, name: str) -> list:
    ing = api.registry.store.get("Ingress", "default", name)
    return (ing.get("status") or {}).get("loadBalancer", {}).get("ingress") or []


def test_served_ingresses_are_rendered_and_get_the_address_others_are_left_alone():
    async def scenario():
        api, clock, nginx, task = await a_controller()
        api.registry.create(an_ingress("mine", "foo.example.com"))
        api.registry.create(an_ingress("theirs", "bar.example.com", class_name="other"))
        await clock.advance(1)
        conf = nginx.applied[-1][0]
        assert "foo.example.com" in conf and "bar.example.com" not in conf
        assert address(api, "mine") == [{"ip": "198.51.100.32"}]
        assert address(api, "theirs") == []
        await stopped(task)

    asyncio.run(scenario())


def test_a_refused_configuration_keeps_the_last_good_one_and_is_not_reported():
    async def scenario():
        api, clock, nginx, task = await a_controller()
        good = len(nginx.applied)
        nginx.refuse_next = 'nginx: [emerg] unknown directive "bogus"'
        api.registry.create(an_ingress("mine", "foo.example.com"))
        await clock.advance(1)
        assert len(nginx.applied) == good  # refused: nothing new applied
        api.registry.create(an_ingress("later", "baz.example.com"))
        await clock.advance(1)
        assert "baz.example.com" in nginx.applied[-1][0]  # the next change goes through
        await stopped(task)

    asyncio.run(scenario())


def test_an_unchanged_model_does_not_reload():
    async def scenario():
        api, clock, nginx, task = await a_controller()
        api.registry.create(an_ingress("mine", "foo.example.com"))
        await clock.advance(1)
        count = len(nginx.applied)
        api.registry.create({"apiVersion": "v1", "kind": "Service",  # no Ingress names it
                             "metadata": {"name": "unrelated", "namespace": "default"},
                             "spec": {"ports": [{"port": 81}]}})  # fmt: skip
        await clock.advance(1)
        assert len(nginx.applied) == count
        await stopped(task)

    asyncio.run(scenario())


def test_each_change_of_a_served_ingress_is_scheduled_for_sync_as_an_event():
    async def scenario():
        api, clock, _nginx, task = await a_controller()
        api.registry.create(an_ingress("mine", "foo.example.com"))
        api.registry.create(an_ingress("theirs", "bar.example.com", class_name="other"))
        await clock.advance(1)
        events = api.registry.store.list("Event", "default")
        assert [(e["involvedObject"]["name"], e["reason"], e["message"]) for e in events] == [
            ("mine", "Sync", "Scheduled for sync")
        ]
        (event,) = events  # created, then its status written: counted, as `(x2)` in describe
        assert event["count"] == 2 and event["source"] == {"component": "nginx-ingress-controller"}
        await clock.advance(5)  # nothing changed: no further event
        assert api.registry.store.list("Event", "default")[0]["count"] == 2
        await stopped(task)

    asyncio.run(scenario())
