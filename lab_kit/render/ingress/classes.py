"""Which Ingresses this controller serves: ingress-nginx's class rules, and its settings.

Mirrors ingress-nginx's `store.GetIngressClass` (internal/ingress/controller/store/store.go):

1. `spec.ingressClassName` set: served only if it names an IngressClass whose
   `spec.controller` is ours (`k8s.io/ingress-nginx`); a missing class is not ours.
2. else the legacy annotation `kubernetes.io/ingress.class`: served if it equals our class
   name (the controller's `--ingress-class`, "nginx").
3. else (no class at all): served when `--watch-ingress-without-class` is on, as minikube's
   addon starts the controller.

`Settings` holds the controller's flags and the ConfigMap keys lab_kit reads, with
ingress-nginx's defaults (docs/user-guide/nginx-configuration/configmap.md). Left out: the
hundreds of other ConfigMap keys, `--ingress-class-by-name`, IngressClass parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lab_kit.model import meta

CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass(frozen=True)
class Settings:
    """The controller's flags + ConfigMap (ingress-nginx defaults)."""

    class_name: str = "nginx"
    controller: str = "k8s.io/ingress-nginx"
    watch_without_class: bool = True  # minikube's addon: --watch-ingress-without-class=true
    ssl_redirect: bool = True
    force_ssl_redirect: bool = False
    http_redirect_code: int = 308
    hsts: bool = True
    hsts_max_age: int = 31536000
    hsts_include_subdomains: bool = True
    hsts_preload: bool = False
    http_port: int = 80
    https_port: int = 443
    listen_address: str = ""  # "" = every address; tests bind 127.0.0.1
    worker_processes: int = 1
    access_log: bool = True  # to stdout, like ingress-nginx (the container's log)
    # ConfigMap proxy-* defaults that the rendered locations use.
    proxy_connect_timeout_s: int = 5
    proxy_read_timeout_s: int = 60
    proxy_send_timeout_s: int = 60
    proxy_next_upstream_tries: int = 3
    upstream_keepalive_connections: int = 320

    def hsts_value(self) -> str:
        """The Strict-Transport-Security value, as lua_ingress.lua builds it."""
        value = f"max-age={self.hsts_max_age}"
        if self.hsts_include_subdomains:
            value += "; includeSubDomains"
        if self.hsts_preload:
            value += "; preload"
        return value


def serves(ingress: dict, classes: list[dict], settings: Settings) -> tuple[bool, str]:
    """Whether this controller serves the Ingress, and why (for explain)."""
    class_name = meta.spec(ingress).get("ingressClassName")
    if class_name:
        for ingress_class in classes:
            if meta.name(ingress_class) != class_name:
                continue
            controller = meta.spec(ingress_class).get("controller", "")
            if controller == settings.controller:
                return (
                    True,
                    f"spec.ingressClassName {class_name!r} is an IngressClass of {controller}",
                )
            return (
                False,
                f"IngressClass {class_name!r} belongs to controller {controller!r}, not ours",
            )
        return False, f"spec.ingressClassName {class_name!r} names no IngressClass"
    annotated = meta.annotations(ingress).get(CLASS_ANNOTATION)
    if annotated is not None:
        if annotated == settings.class_name:
            return True, f"annotation {CLASS_ANNOTATION}={annotated!r} is our class"
        return False, f"annotation {CLASS_ANNOTATION}={annotated!r} is another class"
    if settings.watch_without_class:
        return True, "no class; the controller watches Ingresses without a class"
    return False, "no class, and the controller only serves Ingresses of its class"


_BOOLEAN_KEYS = {
    "ssl-redirect": "ssl_redirect",
    "force-ssl-redirect": "force_ssl_redirect",
    "hsts": "hsts",
    "hsts-include-subdomains": "hsts_include_subdomains",
    "hsts-preload": "hsts_preload",
}
_INTEGER_KEYS = {
    "hsts-max-age": "hsts_max_age",
    "worker-processes": "worker_processes",
    "proxy-connect-timeout": "proxy_connect_timeout_s",
    "proxy-read-timeout": "proxy_read_timeout_s",
    "proxy-send-timeout": "proxy_send_timeout_s",
    "proxy-next-upstream-tries": "proxy_next_upstream_tries",
    "upstream-keepalive-connections": "upstream_keepalive_connections",
}


def settings_from_configmap(data: dict[str, str], base: Settings) -> Settings:
    """`base` (the flags) with the controller ConfigMap's keys lab_kit reads; a value that does
    not parse is ignored, keeping the default (ingress-nginx logs it and does the same)."""
    changes: dict[str, object] = {}
    for key, field_name in _BOOLEAN_KEYS.items():
        value = (data.get(key) or "").strip().lower()
        if value in ("true", "false"):
            changes[field_name] = value == "true"
    for key, field_name in _INTEGER_KEYS.items():
        value = (data.get(key) or "").strip()
        if value.isdigit() and int(value) > 0:
            changes[field_name] = int(value)
    code = (data.get("http-redirect-code") or "").strip()
    if code in ("301", "302", "307", "308"):
        changes["http_redirect_code"] = int(code)
    if (data.get("disable-access-log") or "").strip().lower() == "true":
        changes["access_log"] = False
    return replace(base, **changes)  # type: ignore[arg-type]
