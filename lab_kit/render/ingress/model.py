"""The routing model: what ingress-nginx's `getConfiguration` computes (ingress.Configuration:
Servers with Locations, Backends with Endpoints), as frozen values.

    Config
      servers      one Server per host, sorted by name, plus the catch-all "_"
        tls            which certificate the host's handshake gets, and why
        locations      the Ingress paths merged into this host (ingress, path, backend)
        nginx          the nginx `location` blocks those paths become, in config order
      upstreams    `<namespace>-<service>-<port>` with the ready endpoints (pod, node)
      problems     what was ignored or fell back, one sentence each (logs, explain)

`route()` and `render_nginx()` both read `Server.nginx`, so what the explainer says and what
nginx does come from the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab_kit.render.ingress.annotations import Annotations, Cookie
from lab_kit.render.ingress.classes import Settings

CATCH_ALL = "_"
DEFAULT_CERTIFICATE = "default (self-signed)"
DEFAULT_BACKEND = "upstream-default-backend"  # ingress-nginx's name: the built-in 404


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    pod: str = ""  # targetRef.name when it is a Pod
    node: str = ""  # the EndpointSlice endpoint's nodeName

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Upstream:
    """One Service port as a load-balancing group (ingress.Backend)."""

    name: str  # <namespace>-<service>-<port number or name>
    namespace: str
    service: str
    port: str  # as the Ingress wrote it: a number or a port name
    endpoints: tuple[Endpoint, ...] = ()
    problem: str = ""  # why there are no endpoints, when there are none
    affinity: Cookie | None = None


@dataclass(frozen=True)
class Location:
    """One Ingress path on one host (ingress.Location), or a host's default location."""

    ingress: str  # "namespace/name"; "" for the built-in default backend
    host: str  # the rule's host as written ("" = any host)
    path: str  # as written ("/" for the default location)
    path_type: str  # as written: Exact, Prefix or ImplementationSpecific
    upstream: str  # an Upstream name, or DEFAULT_BACKEND (404)
    annotations: Annotations
    service: str = ""  # the backend Service ("" for the built-in default backend)
    port: str = ""  # its port as written: a number or a name
    is_default: bool = False  # a host's fallback `/` (no rule path of the host matched)
    replaceable: bool = False  # ingress-nginx's IsDefBackend: a rule path `/` may take its place

    @property
    def matches_as(self) -> str:
        """ingress-nginx reads ImplementationSpecific as Prefix (k8s.SetDefaultNGINXPathType)."""
        return "Exact" if self.path_type == "Exact" else "Prefix"


@dataclass(frozen=True)
class NginxLocation:
    """An nginx `location` block: its modifier ("=", "" for a prefix, "~*"), its path."""

    modifier: str
    path: str
    location: Location

    @property
    def text(self) -> str:
        return (
            f"{self.modifier} {self.path}".strip()
            if self.modifier != "~*"
            else f'~* "^{self.path}"'
        )


@dataclass(frozen=True)
class TlsChoice:
    """The certificate a host's TLS handshake gets. `secret` "" = the default certificate."""

    secret: str  # "namespace/name" or ""
    reason: str
    pem: bytes = b""

    @property
    def certificate(self) -> str:
        return self.secret or DEFAULT_CERTIFICATE


@dataclass(frozen=True)
class Server:
    host: str  # as in the rules; CATCH_ALL for the default server
    locations: tuple[Location, ...]
    nginx: tuple[NginxLocation, ...]
    tls: TlsChoice | None = None  # None: no Ingress asks TLS for this host
    regex: bool = False  # use-regex or rewrite-target on some path: every location is ~*


@dataclass(frozen=True)
class Config:
    servers: tuple[Server, ...]
    upstreams: tuple[Upstream, ...]
    settings: Settings
    default_certificate: tuple[str, str]
    served: tuple[str, ...] = ()  # "namespace/name" of each Ingress this controller serves
    ignored: tuple[tuple[str, str], ...] = ()  # ("namespace/name", why) of the others
    problems: tuple[str, ...] = ()

    def server(self, host: str) -> Server:
        return next(s for s in self.servers if s.host == host)

    def upstream(self, name: str) -> Upstream | None:
        return next((u for u in self.upstreams if u.name == name), None)

    @property
    def default_backend(self) -> Location:
        """The catch-all's `/`: an Ingress's spec.defaultBackend, or the built-in 404."""
        return self.server(CATCH_ALL).locations[0]
