"""build(): API objects -> Config, as ingress-nginx's `getBackendServers` / `createServers`
(internal/ingress/controller/controller.go, location.go) merge Ingresses.

1. Ingresses of our class, oldest first (`sortIngressSlice`: creationTimestamp, then on a tie
   namespace/name in DESCENDING order, as ingress-nginx sorts). An older Ingress wins every
   conflict below.
2. Servers: one per rule host; rules without a host go to the catch-all "_". Each server starts
   with a fallback `/` sending to the defaultBackend of the first Ingress naming the host, or
   to the built-in 404. The catch-all's `/` is the defaultBackend of the oldest Ingress that
   has one and no rules.
3. Locations: every path of every rule. A path already present with the same type is kept as
   the older Ingress set it (a rule `/` Prefix does replace the host's fallback);
   ImplementationSpecific is read as Prefix (ingress-nginx's SetDefaultNGINXPathType).
4. nginx locations: Exact `/p` -> `= /p`; Prefix `/p` or `/p/` -> `= /p` + `/p/` (Prefix `/` ->
   `/`), an Exact `/p` keeping the `=` location. If a path of the host uses `use-regex` or a
   `rewrite-target`, every location of the host becomes `~* "^<path>"`, longest first.
5. TLS: per host, the first Ingress with a rule for it and a `tls` section decides (the Secret
   of the entry listing the host, else one whose certificate covers it); no Secret, or one that
   is missing, malformed or does not cover the host: the default certificate.

Differs from ingress-nginx, for the spec and the conformance suite: a Prefix path's trailing
slash is dropped (ingress-nginx renders Prefix `/foo/` as `/foo/` + `= /foo/`, so `/foo`
would get nginx's 301 to `/foo/`, where conformance asks 200); an Exact `/foo/` also gets
an `= /foo` going where `/foo` goes without it (in ingress-nginx nginx answers `/foo` with a
301 to `/foo/`, where conformance asks 404); two paths that would render the
same nginx location keep the older one (ingress-nginx would fail its reload).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lab_kit.model import meta
from lab_kit.render.ingress import backends, certs
from lab_kit.render.ingress.annotations import Annotations, Cookie, Rejected
from lab_kit.render.ingress.annotations import parse as parse_annotations
from lab_kit.render.ingress.classes import Settings, serves
from lab_kit.render.ingress.match import select_location
from lab_kit.render.ingress.model import (
    CATCH_ALL,
    DEFAULT_BACKEND,
    Config,
    Location,
    NginxLocation,
    Server,
    TlsChoice,
    Upstream,
)

DEFAULT_SETTINGS = Settings()


@dataclass(frozen=True)
class _Ingress:
    obj: dict
    key: str  # namespace/name
    namespace: str
    annotations: Annotations

    @property
    def rules(self) -> list[dict]:
        return meta.spec(self.obj).get("rules") or []

    @property
    def default_backend(self) -> dict | None:
        backend = meta.spec(self.obj).get("defaultBackend") or {}
        return backend if backend.get("service") else None


def build(
    *,
    ingresses: list[dict],
    ingress_classes: list[dict],
    services: list[dict],
    endpoint_slices: list[dict],
    secrets: list[dict],
    settings: Settings = DEFAULT_SETTINGS,
    default_certificate: tuple[str, str] = ("default.crt", "default.key"),
) -> Config:
    """API objects (plain dicts as the API returns them) -> the routing model."""
    problems: list[str] = []
    served, ignored = _served(ingresses, ingress_classes, settings, problems)
    upstreams = _upstreams(served, services, endpoint_slices)
    problems += [u.problem for u in upstreams.values() if u.problem]
    hosts = _locations(served, problems)
    servers = []
    for host, locations in sorted(hosts.items()):
        tls = None if host == CATCH_ALL else _tls(host, served, secrets, problems)
        servers.append(_server(host, locations, tls, problems))
    return Config(
        servers=tuple(servers),
        upstreams=tuple(sorted(upstreams.values(), key=lambda u: u.name)),
        settings=settings,
        default_certificate=default_certificate,
        served=tuple(i.key for i in served),
        ignored=tuple(ignored),
        problems=tuple(problems),
    )


# --- 1. which Ingresses ---------------------------------------------------------------------------
def _served(
    ingresses: list[dict], classes: list[dict], settings: Settings, problems: list[str]
) -> tuple[list[_Ingress], list[tuple[str, str]]]:
    served, ignored = [], []
    for obj in ingresses:
        key = f"{meta.namespace(obj)}/{meta.name(obj)}"
        ok, why = serves(obj, classes, settings)
        if not ok:
            ignored.append((key, why))
            continue
        try:
            parsed = parse_annotations(obj, settings)
        except Rejected as err:
            why = f"{err}: ingress-nginx leaves the whole Ingress out"
            ignored.append((key, why))
            problems.append(f"Ingress {key}: {why}")
            continue
        problems += [f"Ingress {key}: {p}" for p in parsed.problems]
        served.append(_Ingress(obj, key, meta.namespace(obj), parsed))
    served.sort(key=lambda i: i.key, reverse=True)
    served.sort(key=lambda i: meta.metadata(i.obj).get("creationTimestamp") or "")
    return served, ignored


# --- upstreams ------------------------------------------------------------------------------------
def _path_backends(ingress: _Ingress) -> Iterator[dict]:
    for rule in ingress.rules:
        for path in (rule.get("http") or {}).get("paths") or []:
            backend = path.get("backend") or {}
            if backend.get("service"):
                yield backend


def _upstreams(
    served: list[_Ingress], services: list[dict], slices: list[dict]
) -> dict[str, Upstream]:
    found: dict[str, Upstream] = {}
    cookies: dict[str, Cookie] = {}
    for ingress in served:
        default = [ingress.default_backend] if ingress.default_backend else []
        for backend in [*default, *_path_backends(ingress)]:
            name = backends.upstream_name(ingress.namespace, backend)
            if name not in found:
                found[name] = backends.upstream(ingress.namespace, backend, services, slices)
        # Affinity belongs to the upstream: the last Ingress asking it sets the cookie.
        for backend in _path_backends(ingress):
            if ingress.annotations.affinity is not None:
                cookies[backends.upstream_name(ingress.namespace, backend)] = (
                    ingress.annotations.affinity
                )
    return {
        name: Upstream(
            u.name, u.namespace, u.service, u.port, u.endpoints, u.problem, cookies.get(name)
        )
        for name, u in found.items()
    }


# --- 2, 3. servers and their locations ------------------------------------------------------------
_FALLBACK = Annotations(ssl_redirect=False)  # ingress-nginx's zero-valued default location


def _locations(served: list[_Ingress], problems: list[str]) -> dict[str, list[Location]]:
    hosts: dict[str, list[Location]] = {CATCH_ALL: [_catch_all(served)]}
    for ingress in served:
        for rule in ingress.rules:
            host = rule.get("host") or CATCH_ALL
            if host not in hosts:
                hosts[host] = [_fallback(ingress, rule.get("host", ""))]
    for ingress in served:
        for rule in ingress.rules:
            for path in (rule.get("http") or {}).get("paths") or []:
                location = _location(ingress, rule.get("host", ""), path, problems)
                if location is not None:
                    _merge(hosts[rule.get("host") or CATCH_ALL], location, problems)
    return hosts


def _service(ingress: _Ingress, backend: dict | None) -> dict:
    """Location fields naming a backend, or the built-in default backend when None."""
    if backend is None:
        return {"upstream": DEFAULT_BACKEND}
    port = backend["service"].get("port") or {}
    return {
        "upstream": backends.upstream_name(ingress.namespace, backend),
        "service": backend["service"].get("name", ""),
        "port": str(port.get("number") or port.get("name", "")),
    }


def _catch_all(served: list[_Ingress]) -> Location:
    for ingress in served:
        if ingress.default_backend and not ingress.rules:
            service = _service(ingress, ingress.default_backend)
            return Location(
                ingress.key, "", "/", "Prefix", annotations=_FALLBACK, is_default=True, **service
            )
    return Location(
        "", "", "/", "Prefix", DEFAULT_BACKEND, _FALLBACK, is_default=True, replaceable=True
    )


def _fallback(ingress: _Ingress, host: str) -> Location:
    service = _service(ingress, ingress.default_backend)
    return Location(
        ingress.key,
        host,
        "/",
        "Prefix",
        annotations=ingress.annotations,
        is_default=True,
        replaceable=True,
        **service,
    )


def _location(ingress: _Ingress, host: str, path: dict, problems: list[str]) -> Location | None:
    backend = path.get("backend") or {}
    if not backend.get("service"):
        problems.append(
            f"Ingress {ingress.key}: path {path.get('path', '/')} has no Service backend, skipped"
        )
        return None
    path_type = path.get("pathType") or "Prefix"
    service = _service(ingress, backend)
    return Location(
        ingress.key,
        host,
        path.get("path") or "/",
        path_type,
        annotations=ingress.annotations,
        **service,
    )


def _merge(locations: list[Location], new: Location, problems: list[str]) -> None:
    for i, old in enumerate(locations):
        if old.path != new.path or old.matches_as != new.matches_as:
            continue
        if old.replaceable:
            locations[i] = new
        else:
            problems.append(
                f"Ingress {new.ingress}: {new.path_type} {new.path} on host {new.host or '*'}"
                f" is already served by Ingress {old.ingress} (older); ignored"
            )
        return
    locations.append(new)


# --- 4. nginx locations ---------------------------------------------------------------------------
def needs_rewrite(location: Location) -> bool:
    target = location.annotations.rewrite_target
    return bool(target) and target != location.path


def _server(
    host: str, locations: list[Location], tls: TlsChoice | None, problems: list[str]
) -> Server:
    regex = any(loc.annotations.use_regex or needs_rewrite(loc) for loc in locations)
    # ingress-nginx's order: by path descending, then (stable) by length descending.
    ordered = sorted(
        sorted(locations, key=lambda loc: loc.path, reverse=True), key=lambda loc: -len(loc.path)
    )
    if regex:
        nginx = tuple(NginxLocation("~*", loc.path, loc) for loc in ordered)
        return Server(host, tuple(locations), nginx, tls, regex=True)
    exact = {loc.path for loc in locations if loc.matches_as == "Exact"}
    seen: set[tuple[str, str]] = set()
    blocks = []
    for loc in ordered:
        for modifier, path in _plain(loc, exact):
            if (modifier, path) in seen:
                problems.append(
                    f"Ingress {loc.ingress}: {loc.path_type} {loc.path} on host {host} would repeat"
                    f" nginx location '{modifier} {path}'; the older path keeps it"
                )
                continue
            seen.add((modifier, path))
            blocks.append(NginxLocation(modifier, path, loc))
    blocks += _no_auto_redirect(blocks, seen)
    return Server(host, tuple(locations), tuple(blocks), tls)


def _no_auto_redirect(
    blocks: list[NginxLocation], seen: set[tuple[str, str]]
) -> list[NginxLocation]:
    """nginx answers `/p` with a 301 to `/p/` when a proxying location is named `/p/` and
    none is named `/p`; an Exact `/p/` would do that. An `= /p` going where `/p` already
    goes (the spec: an Exact `/p/` does not match `/p`) keeps nginx from redirecting."""
    extra = []
    for block in blocks:
        bare = block.path.rstrip("/")
        if block.modifier == "=" and bare and bare != block.path and ("=", bare) not in seen:
            chosen = select_location(blocks, bare)
            if chosen is not None:
                extra.append(NginxLocation("=", bare, chosen.location))
    return extra


def _plain(location: Location, exact_paths: set[str]) -> list[tuple[str, str]]:
    if location.matches_as == "Exact":
        return [("=", location.path)]
    base = location.path.rstrip("/")
    if not base:
        return [("", "/")]
    blocks = [("", base + "/")]
    if base not in exact_paths:
        blocks.append(("=", base))
    return blocks


# --- 5. TLS ---------------------------------------------------------------------------------------
def _tls(
    host: str, served: list[_Ingress], secrets: list[dict], problems: list[str]
) -> TlsChoice | None:
    for ingress in served:
        entries = meta.spec(ingress.obj).get("tls") or []
        if entries and any((rule.get("host") or "") == host for rule in ingress.rules):
            return _certificate(host, ingress, entries, secrets, problems)
    return None


def _certificate(
    host: str, ingress: _Ingress, entries: list[dict], secrets: list[dict], problems: list[str]
) -> TlsChoice:
    name = _listed(host, entries)
    if name is None:
        name = next(
            (e.get("secretName", "") for e in entries if _covering(host, ingress, e, secrets)), ""
        )
    if not name:
        return TlsChoice("", f"Ingress {ingress.key} has a tls section but no Secret for {host}")
    pair = _load(ingress.namespace, name, secrets)
    if isinstance(pair, certs.KeyPair) and not pair.covers(host):
        pair = f"the certificate of Secret {ingress.namespace}/{name} does not cover {host}"
    if isinstance(pair, str):
        problems.append(f"Ingress {ingress.key}: {pair}; {host} gets the default certificate")
        return TlsChoice("", pair)
    return TlsChoice(
        f"{ingress.namespace}/{name}", f"Secret {ingress.namespace}/{name} covers {host}", pair.pem
    )


def _listed(host: str, entries: list[dict]) -> str | None:
    for entry in entries:
        if any(h.lower() == host.lower() for h in entry.get("hosts") or []):
            return entry.get("secretName") or ""
    return None


def _covering(host: str, ingress: _Ingress, entry: dict, secrets: list[dict]) -> bool:
    pair = (
        _load(ingress.namespace, entry.get("secretName") or "", secrets)
        if entry.get("secretName")
        else None
    )
    return isinstance(pair, certs.KeyPair) and pair.covers(host)


def _load(namespace: str, name: str, secrets: list[dict]) -> certs.KeyPair | str:
    secret = next(
        (s for s in secrets if meta.namespace(s) == namespace and meta.name(s) == name), None
    )
    return f"Secret {namespace}/{name} not found" if secret is None else certs.load(secret)
