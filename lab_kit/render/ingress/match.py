"""Matching, twice: as the Ingress API defines it, and as nginx selects.

Spec (kubernetes/website ingress.md, networking/v1 types.go), used by tests to check that the
nginx locations we render implement it:
- `Exact`: the whole path, case-sensitive.
- `Prefix`: element-wise on `/`-split paths; a trailing slash is ignored on both sides; a
  partial last element does not match (`/foo/bar` does not match `/foo/barbaz`).
- Several matches: the longest path wins; on a tie, Exact beats Prefix.
- Hosts: equal, or `*.foo.com` covering exactly one label (`bar.foo.com`, not `foo.com` nor
  `baz.bar.foo.com`).

nginx (ngx_http_core_module `location`, `server_name`), what route() runs over the rendered
locations:
1. the URI is decoded (%XX), `//` merged and `.`/`..` resolved, the query left aside;
2. an `=` location equal to the URI wins at once;
3. otherwise the longest matching prefix location is remembered, then `~*` regex locations are
   tried in config order, the first match winning; if none, the remembered prefix.
Server names: exact names first, then regular expressions in config order, else the
`default_server` (the catch-all).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote

from lab_kit.render.ingress.model import CATCH_ALL, NginxLocation, Server


# --- spec ---------------------------------------------------------------------------------------
def host_matches(rule_host: str, host: str) -> bool:
    """The Ingress spec's host match: precise, one-label wildcard, or no host (any)."""
    if not rule_host:
        return True
    if rule_host.startswith("*."):
        first, _, rest = host.partition(".")
        return bool(first) and rest == rule_host[2:]
    return rule_host == host


def path_matches(path_type: str, rule_path: str, path: str) -> bool:
    if path_type == "Exact":
        return rule_path == path
    rule = [e for e in rule_path.split("/") if e]
    request = [e for e in path.split("/") if e]
    return request[: len(rule)] == rule


def best_path(rules: Sequence[tuple[str, str]], path: str) -> tuple[str, str] | None:
    """The winning (pathType, path) of `rules` for a request path, per the spec."""
    matching = [r for r in rules if path_matches(r[0], r[1], path)]
    if not matching:
        return None
    return max(matching, key=lambda r: (len(_trimmed(r[1])), r[0] == "Exact"))


def _trimmed(path: str) -> str:
    return path.rstrip("/") or "/"


# --- nginx --------------------------------------------------------------------------------------
def server_name_regex(host: str) -> str:
    """ingress-nginx's buildServerName for `*.foo.com`: one label, as a PCRE regex."""
    return r"~^(?<subdomain>[\w-]+)\." + host[2:].replace(".", r"\.") + "$"


def select_server(servers: Sequence[Server], host: str) -> Server:
    """The server nginx picks for a Host header (or an SNI name)."""
    name = host.lower().rstrip(".")
    if not name.startswith("["):
        name = name.split(":", 1)[0]
    catch_all = next(s for s in servers if s.host == CATCH_ALL)
    for server in servers:
        if server.host == name and not server.host.startswith("*."):
            return server
    for server in servers:
        if server.host.startswith("*.") and _server_regex(server.host).match(name):
            return server
    return catch_all


def _server_regex(host: str) -> re.Pattern[str]:
    return re.compile(r"^[\w-]+\." + re.escape(host[2:]) + "$", re.ASCII)


def normalize_uri(target: str) -> str | None:
    """The URI nginx matches locations against; None where nginx answers 400."""
    path = target.split("?", 1)[0].split("#", 1)[0] or "/"
    if not path.startswith("/"):
        return None
    out: list[str] = []
    parts = unquote(path).split("/")
    for part in parts[1:-1]:
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(part)
    last = parts[-1]
    if last == "..":
        if not out:
            return None
        out.pop()
        last = ""
    elif last == ".":
        last = ""
    return "/" + "/".join([*out, last]) if out else "/" + last


def select_location(locations: Sequence[NginxLocation], uri: str) -> NginxLocation | None:
    """nginx's location choice for a normalized URI."""
    for loc in locations:
        if loc.modifier == "=" and loc.path == uri:
            return loc
    prefixes = [loc for loc in locations if loc.modifier == "" and uri.startswith(loc.path)]
    longest = max(prefixes, key=lambda loc: len(loc.path), default=None)
    for loc in locations:
        if loc.modifier == "~*" and pcre(loc.path, anchored=True).search(uri):
            return loc
    return longest


def pcre(pattern: str, anchored: bool = False, ignore_case: bool = True) -> re.Pattern[str]:
    """A PCRE pattern as Python reads it (named groups `(?<n>` -> `(?P<n>`)."""
    pattern = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pattern)
    flags = re.IGNORECASE if ignore_case else 0
    return re.compile(("^" if anchored else "") + pattern, flags)
