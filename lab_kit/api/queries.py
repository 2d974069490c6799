"""List and watch filters: `labelSelector`, `fieldSelector`, and the list/event envelopes.

Mirrors the query parameters of the Kubernetes list and watch verbs. Field selectors
support what the real server supports for the kinds the lab's agents ask about:
`metadata.name`, `metadata.namespace` for every kind, and `spec.nodeName` /
`status.phase` for Pods (kubelet watches `spec.nodeName=<its node>`).
"""

from __future__ import annotations

from collections.abc import Callable

from lab_kit.model import meta
from lab_kit.model.errors import err_bad_request
from lab_kit.model.kinds import Kind
from lab_kit.model.selectors import matches_parsed, parse_selector

_FIELDS: dict[str, Callable[[dict], str]] = {
    "metadata.name": meta.name,
    "metadata.namespace": meta.namespace,
    "spec.nodeName": lambda o: meta.spec(o).get("nodeName") or "",
    "status.phase": lambda o: meta.status(o).get("phase") or "",
    "spec.type": lambda o: meta.spec(o).get("type") or "",
}


def make_filter(
    kind: Kind, namespace: str | None, label_selector: str = "", field_selector: str = ""
) -> Callable[[dict], bool]:
    """A predicate over stored objects for one list or watch request."""
    terms = parse_selector(label_selector)
    fields = _parse_fields(field_selector)

    def keep(obj: dict) -> bool:
        if meta.kind_key(obj) != kind.key:
            return False
        if kind.namespaced and namespace and meta.namespace(obj) != namespace:
            return False
        if terms and not matches_parsed(terms, meta.labels(obj)):
            return False
        return all((getter(obj) == value) != negate for getter, value, negate in fields)

    return keep


def _parse_fields(text: str) -> list[tuple[Callable[[dict], str], str, bool]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        negate = "!=" in part
        key, _, value = part.partition("!=" if negate else "=")
        key, value = key.strip(), value.lstrip("=").strip()
        if key not in _FIELDS:
            raise err_bad_request(
                f'"{key}" is not a known field selector: only {", ".join(_FIELDS)}'
            )
        out.append((_FIELDS[key], value, negate))
    return out


def list_envelope(kind: Kind, items: list[dict], rv: int) -> dict:
    return {
        "kind": f"{kind.kind}List",
        "apiVersion": kind.api_version,
        "metadata": {"resourceVersion": str(rv)},
        "items": items,
    }


def bookmark(kind: Kind, rv: int) -> dict:
    """A watch BOOKMARK: 'you have seen everything up to rv' (allowWatchBookmarks=true)."""
    return {
        "type": "BOOKMARK",
        "object": {
            "kind": kind.kind,
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": str(rv)},
        },
    }
