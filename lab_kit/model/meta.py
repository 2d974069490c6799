"""Small accessors for Kubernetes objects held as plain JSON-shaped dicts.

Objects stay dicts end to end (YAML in, JSON on the wire, dicts in the store), so what a
learner writes and what `labkit get -o yaml` prints are the same shape as in Kubernetes,
unknown-to-us but valid fields included. These helpers keep the `obj["metadata"]...`
noise out of the logic.
"""

# No `from __future__ import annotations` here: this module defines `annotations()`,
# which that import's name would shadow for type checkers (Python >= 3.10 needs neither).
import copy
import time
from typing import Any

from lab_kit.model.kinds import kind_key


def metadata(obj: dict) -> dict:
    return obj.get("metadata") or {}


def name(obj: dict) -> str:
    return metadata(obj).get("name", "")


def namespace(obj: dict) -> str:
    return metadata(obj).get("namespace", "")


def uid(obj: dict) -> str:
    return metadata(obj).get("uid", "")


def labels(obj: dict) -> dict[str, str]:
    return metadata(obj).get("labels") or {}


def annotations(obj: dict) -> dict[str, str]:
    return metadata(obj).get("annotations") or {}


def resource_version(obj: dict) -> int:
    rv = metadata(obj).get("resourceVersion")
    return int(rv) if rv else 0


def key(obj: dict) -> tuple[str, str, str]:
    """(kind key, namespace, name): identifies an object across kinds (`Kind.key`: the
    kind's name, group-qualified only for Knative's Service)."""
    return (kind_key(obj), namespace(obj), name(obj))


def spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def status(obj: dict) -> dict:
    return obj.get("status") or {}


def is_deleting(obj: dict) -> bool:
    return bool(metadata(obj).get("deletionTimestamp"))


def owner_uids(obj: dict) -> list[str]:
    return [ref.get("uid", "") for ref in metadata(obj).get("ownerReferences") or []]


def controller_of(obj: dict) -> dict | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in metadata(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: dict, controller: bool = True) -> dict:
    """An ownerReference pointing at `owner`, as controllers set on what they create."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name(owner),
        "uid": uid(owner),
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def deep_copy(obj: Any) -> Any:
    return copy.deepcopy(obj)


def get_path(obj: dict, *path: str, default: Any = None) -> Any:
    """obj[a][b][c] or default when any step is missing."""
    cur: Any = obj
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return default
        cur = cur[p]
    return cur


def rfc3339(t: float) -> str:
    """Kubernetes' timestamp format (metav1.Time): `2026-11-25T18:49:37Z`, whole seconds, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def rfc3339_nano(t: float) -> str:
    """RFC 3339 with nanoseconds (Go's time.RFC3339Nano, trailing zeros dropped), as used
    by `endpoints.kubernetes.io/last-change-trigger-time`."""
    whole = int(t)
    frac = f"{t - whole:.9f}"[2:].rstrip("0")
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + (f".{frac}" if frac else "") + "Z"
    )


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch from `rfc3339` or `rfc3339_nano` text."""
    import calendar

    body = text.rstrip("Z")
    base, _, frac = body.partition(".")
    whole = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return whole + (float("0." + frac) if frac else 0.0)
