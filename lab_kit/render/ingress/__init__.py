"""The ingress controller's pure core: ingress-nginx's routing, rendered for stock nginx.

    classes.py      Settings (flags + ConfigMap), settings_from_configmap; serves(): ours?
    annotations.py  the nginx.ingress.kubernetes.io/* annotations lab_kit reads, validated
    certs.py        kubernetes.io/tls Secrets: key pair checks, which hosts a certificate covers
    backends.py     Service + port -> upstream `<namespace>-<service>-<port>` of ready endpoints
    build.py        build(): Ingresses merged per host into servers and nginx locations, TLS
    model.py        the frozen routing model: Config, Server, Location, Upstream, TlsChoice
    match.py        Ingress spec matching, and nginx's server/location selection
    route.py        route(): one request -> Decision (status, rule, Service, pods, why)
    nginx_conf.py   render_nginx(): Config -> nginx.conf + certificate files

The controller agent around it is a loop of:

    config = build(ingresses=..., ingress_classes=..., services=..., endpoint_slices=...,
                   secrets=..., settings=settings)
    rendered = render_nginx(config, prefix=run_dir)
    write rendered.files and rendered.conf; `nginx -t`, then reload if the text changed
    publish the controller's address in status.loadBalancer of each config.served Ingress

Facts and their sources: ../shared/reference/dns-ingress-registries.md, section 3, and
kubernetes/ingress-nginx (controller.go, location.go, nginx.tmpl, lua_ingress.lua).
"""

from lab_kit.render.ingress.annotations import Annotations, Cookie
from lab_kit.render.ingress.build import build
from lab_kit.render.ingress.classes import Settings, serves, settings_from_configmap
from lab_kit.render.ingress.model import (
    CATCH_ALL,
    DEFAULT_BACKEND,
    DEFAULT_CERTIFICATE,
    Config,
    Endpoint,
    Location,
    NginxLocation,
    Server,
    TlsChoice,
    Upstream,
)
from lab_kit.render.ingress.nginx_conf import CHECKSUM_PLACEHOLDER, Rendered, render_nginx
from lab_kit.render.ingress.route import Decision, route

__all__ = [
    "CATCH_ALL",
    "CHECKSUM_PLACEHOLDER",
    "DEFAULT_BACKEND",
    "DEFAULT_CERTIFICATE",
    "Annotations",
    "Config",
    "Cookie",
    "Decision",
    "Endpoint",
    "Location",
    "NginxLocation",
    "Rendered",
    "Server",
    "Settings",
    "TlsChoice",
    "Upstream",
    "build",
    "render_nginx",
    "route",
    "serves",
    "settings_from_configmap",
]
