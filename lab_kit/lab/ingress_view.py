"""Seeing the ingress: for one request, which rule, which Service, which pods, and why; the
whole routing as a graph; the nginx.conf the controller runs.

All of it comes from `lab_kit.render.ingress` — the same pure model the controller
(lab_kit/agents/ingress_nginx.py) renders nginx.conf from — built here from the objects
the API holds now, with the settings of the addon's ConfigMap. So what `explain` says is
what the data plane was built from (a moment after a change, once the controller synced).

    explain(client, "https://foo.bar.com/app")   -> Explanation (prints as a short report)
    draw(client)                                 -> Ingress -> rule -> Service -> pods
    nginx_conf(client)                           -> the controller pod's /etc/nginx/nginx.conf
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import graphviz

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.lab import access
from lab_kit.lab.errors import LabError
from lab_kit.model import meta
from lab_kit.model.kinds import by_kind_name
from lab_kit.render import ingress

NAMESPACE = "ingress-nginx"  # the addon's (lab_kit/lab/addons/ingress-nginx.yaml)
CONFIGMAP = "ingress-nginx-controller"
CONTROLLER_LABEL = "app.kubernetes.io/component=controller"
FONT = {"fontname": "Helvetica", "fontsize": "11"}


def model(client: ApiClient) -> ingress.Config:
    """The routing model from the API's objects now (as the controller builds it)."""

    def items(kind: str, namespace: str | None = None) -> list[dict]:
        return list(client.list(by_kind_name(kind), namespace)["items"])

    data: dict[str, str] = {}
    for cm in items("ConfigMap", NAMESPACE):
        if meta.name(cm) == CONFIGMAP:
            data = cm.get("data") or {}
    return ingress.build(
        ingresses=items("Ingress"),
        ingress_classes=items("IngressClass"),
        services=items("Service"),
        endpoint_slices=items("EndpointSlice"),
        secrets=items("Secret"),
        settings=ingress.settings_from_configmap(data, ingress.Settings()),
    )


@dataclass(frozen=True)
class Explanation:
    """One request and what the controller does with it."""

    method_url: str
    decision: ingress.Decision

    @property
    def status(self) -> int:
        return self.decision.status

    @property
    def pods(self) -> list[str]:
        return [e.pod or f"{e.ip}:{e.port}" for e in self.decision.endpoints]

    def __str__(self) -> str:
        d = self.decision
        lines = [f"{self.method_url}  ->  {d.status}"]
        rows = [
            ("server", d.server), ("ingress", d.ingress),
            ("rule", f"host {d.rule_host or '*'}, path {d.path} ({d.path_type})" if d.path else ""),
            ("nginx", f"location {d.location}" if d.location else ""),
            ("service", f"{d.service}:{d.port}" if d.service else ""),
            ("pods", ", ".join(self.pods)), ("redirect", d.redirect),
            ("certificate", d.certificate), ("pod sees", d.upstream_uri),
            ("HSTS", d.hsts), ("Set-Cookie", d.set_cookie),
        ]  # fmt: skip
        lines += [f"  {k:<12}{v}" for k, v in rows if v]
        lines += ["  why:"] + [f"    - {w}" for w in d.why]
        return "\n".join(lines)

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        p.text(str(self))  # type: ignore[attr-defined]


def explain(
    client: ApiClient,
    url: str,
    *,
    host: str | None = None,
    sni: str | None = None,
    cookies: dict[str, str] | None = None,
) -> Explanation:
    """What the ingress does with `url` (the Host header is the URL's host unless `host`
    is given, as `curl -H 'Host: ...'`; `sni` defaults to the URL's host, as curl sends it)."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https"):
        raise LabError(f"{url}: only http:// and https:// URLs go through an Ingress")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    name = parts.hostname or ""
    decision = ingress.route(
        model(client), host=host or name, path=target, scheme=parts.scheme,
        sni=sni if sni is not None else name, cookies=cookies,
    )  # fmt: skip
    shown = url + (f"  (Host: {host})" if host else "")
    return Explanation(f"GET {shown}", decision)


def controller_pod(client: ApiClient) -> str:
    """The running controller pod's name (a LabError when the addon is not enabled)."""
    pods = client.list(by_kind_name("Pod"), NAMESPACE, label_selector=CONTROLLER_LABEL)["items"]
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    if not running:
        raise LabError("no ingress controller runs: `labkit addons enable ingress` first")
    return meta.name(running[0])


def nginx_conf(client: ApiClient) -> str:
    """The nginx.conf the controller's nginx runs now (read in its container)."""
    done = access.exec_in_pod(client, controller_pod(client), ["cat", "/etc/nginx/nginx.conf"],
                              NAMESPACE, None)  # fmt: skip
    if done.returncode != 0:
        raise LabError(f"could not read the controller's nginx.conf: {done.stderr.strip()}")
    return done.stdout


def draw(client: ApiClient, config: ingress.Config | None = None) -> graphviz.Digraph:
    """Each served Ingress -> its rules (host, path) -> Services -> ready pods."""
    config = config or model(client)
    g = graphviz.Digraph("ingress", graph_attr={"rankdir": "LR", **FONT}, node_attr=FONT,
                         edge_attr=FONT)  # fmt: skip
    g.node("controller", "ingress-nginx\n(one address)", shape="box3d", style="filled",
           fillcolor="lightblue")  # fmt: skip
    upstreams = {u.name: u for u in config.upstreams}
    drawn: set[str] = set()
    for server in config.servers:
        for loc in server.locations:
            if not loc.ingress or loc.is_default and server.host != ingress.CATCH_ALL:
                continue
            _rule(g, server, loc, upstreams.get(loc.upstream), drawn)
    return g


def _rule(g: graphviz.Digraph, server: ingress.Server, loc: ingress.Location,
          upstream: ingress.Upstream | None, drawn: set[str]) -> None:  # fmt: skip
    ing_id = f"ing/{loc.ingress}"
    g.node(ing_id, f"Ingress\n{loc.ingress}", shape="note", style="filled", fillcolor="lightyellow")
    host = "any host" if server.host == ingress.CATCH_ALL else server.host
    what = "defaultBackend" if loc.is_default else f"{loc.path} ({loc.path_type})"
    rule_id = f"rule/{server.host}/{loc.ingress}/{loc.path}/{loc.path_type}/{loc.is_default}"
    tls = " (TLS)" if server.tls is not None else ""
    g.node(rule_id, f"{host}{tls}\n{what}", shape="box", style="rounded")
    g.edge("controller", rule_id, style="invis")
    g.edge(ing_id, rule_id)
    if not loc.service:
        return
    svc_id = f"svc/{upstream.namespace if upstream else ''}/{loc.service}"
    g.node(svc_id, f"Service\n{loc.service}", shape="box", style="filled",
           fillcolor="lightgoldenrod1")  # fmt: skip
    g.edge(rule_id, svc_id, label=f"port {loc.port}")  # rules may name one port two ways
    if svc_id in drawn:  # a Service several rules use: its pods once
        return
    drawn.add(svc_id)
    if upstream is None or not upstream.endpoints:
        problem = upstream.problem if upstream else "no Service"
        g.node(f"{svc_id}/none", f"503\n{problem}", shape="plaintext", fontcolor="red")
        g.edge(svc_id, f"{svc_id}/none", color="red")
        return
    for e in upstream.endpoints:
        pod_id = f"pod/{upstream.namespace}/{e.pod or e.ip}"
        g.node(pod_id, f"{e.pod or 'endpoint'}\n{e.ip}:{e.port}\n{e.node}", shape="ellipse",
               style="filled", fillcolor="palegreen")  # fmt: skip
        g.edge(svc_id, pod_id)
