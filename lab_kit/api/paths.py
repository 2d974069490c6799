"""Parse a REST path into what it names, as kube-apiserver's RequestInfoFactory does.

    /api/v1/namespaces/default/services/web/status
      -> RequestInfo(kind=Service, namespace="default", name="web", subresource="status")

Accepted shapes (core group under /api/v1, named groups under /apis/<group>/<version>):
    <base>/<plural>                            all namespaces, or a cluster-scoped kind
    <base>/<plural>/<name>[/<subresource>]     cluster-scoped object
    <base>/namespaces/<ns>/<plural>            one namespace
    <base>/namespaces/<ns>/<plural>/<name>[/<subresource>]
`/api/v1/namespaces/<name>[/status|/finalize]` is the Namespace object itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab_kit.model.errors import err_not_found
from lab_kit.model.kinds import Kind, by_kind_name, by_resource

SUBRESOURCES = {"status", "binding", "finalize", "token"}


@dataclass(frozen=True)
class RequestInfo:
    kind: Kind
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str = ""
    subresource: str = ""


def parse_path(path: str) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise err_not_found("", path)
    if not rest:
        raise err_not_found("", path)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    kind = by_resource(group, version, rest[0])
    if kind is None:
        raise err_not_found("", f"the server could not find the requested resource ({path})")
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if len(rest) > 3 or (sub and sub not in SUBRESOURCES):
        raise err_not_found("", f"the server could not find the requested resource ({path})")
    if kind.namespaced and namespace is None and name:
        raise err_not_found("", f"the server could not find the requested resource ({path})")
    return RequestInfo(kind, namespace, name, sub)


def namespace_kind() -> Kind:
    return by_kind_name("Namespace")
