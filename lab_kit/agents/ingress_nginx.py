"""The ingress controller: ingress-nginx's controller loop around real nginx.

    list + watch Ingresses, IngressClasses, Services, EndpointSlices, Secrets, its ConfigMap
    each sync: Settings from the ConfigMap; render.ingress.build(objects) -> the routing model
               render_nginx(model) -> nginx.conf + certificates
               changed? write, `nginx -t`, reload (adapters/nginx.py), wait until live
               each Ingress it serves: status.loadBalancer.ingress = its Service's address
    :10254 /healthz (once nginx serves), as the controller's probes expect

What it serves, and how, is decided by the pure model (`lab_kit/render/ingress/`): the
same code `labkit ingress explain` and `Lab.ingress_explain()` run, so what a learner is
told about a request is what the data plane was built from.

Deviations from ingress-nginx, on purpose: every change (an endpoint too) reloads nginx
(ingress-nginx changes endpoints through Lua without a reload; a reload here takes 0.1-0.5 s,
docs/performance.md, and drops nothing in flight: nginx's old workers finish their requests); no
leader election (one replica); no admission webhook; the API is reached over the lab's
Unix socket (LABKIT_APISERVER) rather than the `kubernetes` Service. Flags it does not
know are refused at start, like the real binary's.

Run (what the image registry.k8s.io/ingress-nginx/controller runs in a lab pod):
    python -m lab_kit.agents nginx-ingress-controller --publish-service=NS/NAME ...
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import signal

from aiohttp import web

from lab_kit.adapters import pki
from lab_kit.adapters.nginx import Nginx, NginxInterface
from lab_kit.agents.runner import Agent, Context, Watch
from lab_kit.controllers.events import NORMAL, EventRecorder
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.render import ingress
from lab_kit.render.ingress import Settings

log = logging.getLogger("ingress-nginx")
VERSION = "v1.11.3"  # the controller release lab_kit's addon names
HEALTHZ_PORT = 10254
DEFAULT_CERT = ("ssl/default-fake-certificate.crt", "ssl/default-fake-certificate.key")


def _bool(text: str) -> bool:
    """Go's strconv.ParseBool, as the real binary's flags take booleans."""
    if text.lower() in ("1", "t", "true"):
        return True
    if text.lower() in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


class IngressNginxController(Agent):
    goodbye_on_exit = True  # a stopped controller must not hold `apply --wait` up
    min_sync_period_s = 0.05  # events in one burst are one reload

    def __init__(self, ctx: Context, options: argparse.Namespace, nginx: NginxInterface,
                 pod: str = "") -> None:  # fmt: skip
        super().__init__(ctx)
        self.options, self.nginx, self.pod = options, nginx, pod
        self.report_as = f"ingress-nginx/{pod.partition('/')[2]}" if pod else ""
        self.configmap = tuple((options.configmap or "/").split("/", 1))
        self.watches = {
            "Ingress": Watch("Ingress"),
            "IngressClass": Watch("IngressClass"),
            "Service": Watch("Service"),
            "EndpointSlice": Watch("EndpointSlice"),
            "Secret": Watch("Secret"),
        }
        if options.configmap:
            self.watches["ConfigMap"] = Watch("ConfigMap", namespace=self.configmap[0])
        self.checksum = self.refused = ""
        # ingress-nginx's store records "Scheduled for sync" on every add or change of an
        # Ingress it serves (its own status write included: the familiar "(x2)")
        self.recorder = EventRecorder("nginx-ingress-controller")
        self.scheduled: dict[str, str] = {}  # uid -> the resourceVersion an event was for
        self.serving = False
        self.http: web.AppRunner | None = None
        self.exit_watch: asyncio.Task | None = None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add = parser.add_argument
        add(
            "--publish-service", default="", help="NS/NAME: the Service whose address Ingresses get"
        )
        add("--ingress-class", default="nginx", help="the IngressClass name this controller serves")
        add("--controller-class", default="k8s.io/ingress-nginx", help="spec.controller it claims")
        add("--watch-ingress-without-class", type=_bool, default=False,
            help="also serve Ingresses without any class")  # fmt: skip
        add("--configmap", default="", help="NS/NAME of the ConfigMap with nginx settings")
        add("--election-id", default="", help="accepted and ignored (no leader election)")
        add("--default-ssl-certificate", default="", help="NS/NAME of a TLS Secret")
        add("--healthz-port", type=int, default=HEALTHZ_PORT)
        add("--http-port", type=int, default=80)
        add("--https-port", type=int, default=443)
        add("--nginx-prefix", default="/etc/nginx", help="where nginx.conf and certificates go")

    @classmethod
    def create(cls, ctx: Context, options: argparse.Namespace) -> Agent:
        pod = os.environ.get("LABKIT_POD", "")
        return cls(ctx, options, Nginx(options.nginx_prefix), pod=pod)

    # --- the loop --------------------------------------------------------------------------
    async def start(self) -> None:
        print("-------------------------------------------------------------------------------")
        print(f"NGINX Ingress controller\n  Release:       {VERSION} (lab_kit)")
        print("-------------------------------------------------------------------------------",
              flush=True)  # fmt: skip
        self.default_cert = pki.self_signed_pem(
            "Kubernetes Ingress Controller Fake Certificate", organization="Acme Co"
        )
        self.http = await serve_healthz(self, self.options.healthz_port)

    async def sync(self) -> dict | None:
        await self.schedule_events()
        model = self.model()
        rendered = ingress.render_nginx(model, prefix=self.options.nginx_prefix)
        files = {**rendered.files, DEFAULT_CERT[0]: self.default_cert[0],
                 DEFAULT_CERT[1]: self.default_cert[1]}  # fmt: skip
        checksum = _checksum(rendered.conf, files)
        if checksum == self.refused:  # `nginx -t` refuses the same input the same way
            return None
        if checksum != self.checksum:
            conf = rendered.conf.replace(ingress.CHECKSUM_PLACEHOLDER, checksum)
            started = self.ctx.clock.monotonic()
            error = await self.nginx.apply(conf, files, checksum)
            if error is not None:  # keep serving the last good configuration
                log.error("Unexpected failure reloading the backend:\n%s", error)
                self.refused = checksum
                return None
            # The time is lab_kit's addition (nginx -t, SIGHUP, new workers answering).
            took_ms = (self.ctx.clock.monotonic() - started) * 1000
            log.info("Backend successfully reloaded in %.1f ms", took_ms)
            self.checksum = checksum
            self._watch_exit()
        self.serving = True
        await self.publish_status()
        return {"pod": self.pod} if self.pod else None

    def model(self) -> ingress.Config:
        return ingress.build(
            ingresses=self.ctx.items("Ingress"),
            ingress_classes=self.ctx.items("IngressClass"),
            services=self.ctx.items("Service"),
            endpoint_slices=self.ctx.items("EndpointSlice"),
            secrets=self.ctx.items("Secret"),
            settings=self.settings(),
            default_certificate=DEFAULT_CERT,
        )

    def settings(self) -> Settings:
        data: dict[str, str] = {}
        if "ConfigMap" in self.watches:
            for cm in self.ctx.items("ConfigMap"):
                if meta.name(cm) == self.configmap[1]:
                    data = cm.get("data") or {}
        o = self.options
        return ingress.settings_from_configmap(
            data,
            Settings(class_name=o.ingress_class, controller=o.controller_class,
                     watch_without_class=o.watch_ingress_without_class,
                     http_port=o.http_port, https_port=o.https_port),
        )  # fmt: skip

    async def schedule_events(self) -> None:
        classes, settings = self.ctx.items("IngressClass"), self.settings()
        seen: dict[str, str] = {}
        for ing in self.ctx.items("Ingress"):
            if not ingress.serves(ing, classes, settings)[0]:
                continue
            uid, version = meta.uid(ing), meta.metadata(ing).get("resourceVersion", "")
            seen[uid] = version
            if self.scheduled.get(uid) == version:
                continue
            action = self.recorder.record(ing, NORMAL, "Sync", "Scheduled for sync",
                                          self.ctx.clock.time())  # fmt: skip
            try:
                await self.ctx.client.perform(action)
            except ApiError as e:  # dropped, as client-go's broadcaster drops it
                log.debug("event not written: %r", e)
        self.scheduled = seen

    # --- status --------------------------------------------------------------------------
    def published_address(self) -> list[dict]:
        """The `ingress` entries of the publish Service's status (ip or hostname only)."""
        ns, _, name = self.options.publish_service.partition("/")
        for svc in self.ctx.items("Service"):
            if meta.namespace(svc) == ns and meta.name(svc) == name:
                entries = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
                return [{k: e[k] for k in ("ip", "hostname") if e.get(k)} for e in entries]
        return []

    async def publish_status(self) -> None:
        """Every served Ingress gets the address; others are left alone, status too."""
        address = self.published_address()
        classes = self.ctx.items("IngressClass")
        settings = self.settings()
        for ing in self.ctx.items("Ingress"):
            if not ingress.serves(ing, classes, settings)[0]:
                continue
            current = (ing.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
            if current == address:
                continue
            wanted = {**ing, "status": {"loadBalancer": {"ingress": address} if address else {}}}
            try:
                await self.ctx.client.update_status(wanted)
                log.info("updating Ingress status %s/%s: %s", meta.namespace(ing),
                         meta.name(ing), [a.get("ip") or a.get("hostname") for a in address])  # fmt: skip
            except ApiError as e:  # 409: the informer brings the newer one, next sync retries
                log.info("status of %s/%s not updated: %s", meta.namespace(ing), meta.name(ing), e)

    # --- the process ---------------------------------------------------------------------
    def _watch_exit(self) -> None:
        """nginx dying ends the controller, so the kubelet restarts the container."""
        if self.exit_watch is None:
            self.exit_watch = asyncio.ensure_future(self._on_nginx_exit())

    async def _on_nginx_exit(self) -> None:
        status = await self.nginx.wait_exit()
        if self.serving:
            log.error("nginx exited (status %s): stopping the controller", status)
            os.kill(os.getpid(), signal.SIGTERM)

    async def stop(self) -> None:
        self.serving = False
        await self.nginx.stop()
        if self.exit_watch is not None:
            self.exit_watch.cancel()
        if self.http is not None:
            await self.http.cleanup()


def _checksum(conf: str, files: dict[str, bytes]) -> str:
    h = hashlib.sha256(conf.encode())
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name])
    return h.hexdigest()[:16]


async def serve_healthz(controller: IngressNginxController, port: int) -> web.AppRunner:
    """/healthz: 200 once nginx serves the first configuration (the probes' endpoint)."""

    async def healthz(_request: web.Request) -> web.Response:
        if controller.serving and controller.nginx.running:
            return web.Response(text="ok")
        return web.Response(status=500, text="nginx is not running")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    return runner
