"""What Knative's controllers share: names, the system namespace, and "make this object
look like that" as one Create or Update.

The names are Knative's own: a Revision `hello-00001` runs as the Deployment
`hello-00001-deployment`, is reached through the Services `hello-00001` (public: its
endpoints are the pods or the activator) and `hello-00001-private` (selects the pods), and
is scaled through the PodAutoscaler and ServerlessService `hello-00001`.
"""

from __future__ import annotations

from lab_kit.controllers.state import Action, Create, Snapshot, Update
from lab_kit.model import meta

SYSTEM_NAMESPACE = "knative-serving"
ACTIVATOR_SERVICE = "activator-service"  # selects the activator pods (port 8012)
LOCAL_GATEWAY = "knative-local-gateway"  # the gateway's in-cluster Service
DOMAIN = "example.com"  # config-domain as shipped
QUEUE_PORT = 8012  # queue-proxy's (and the activator's) HTTP port
QUEUE_METRICS_PORT = 9090  # queue-proxy's autoscaling metrics
SERVING_IMAGE_QUEUE = "gcr.io/knative-releases/knative.dev/serving/cmd/queue"
INTERNAL_API = {
    "PodAutoscaler": "autoscaling.internal.knative.dev/v1alpha1",
    "ServerlessService": "networking.internal.knative.dev/v1alpha1",
}


def deployment_name(revision: str) -> str:
    return f"{revision}-deployment"


def private_service_name(revision: str) -> str:
    return f"{revision}-private"


def ensure(state: Snapshot, desired: dict, compare: tuple[str, ...] = ("spec",)) -> list[Action]:
    """Create `desired`, or update the stored object when the compared top-level fields,
    labels or annotations differ (status is never touched here). Compared fields need only
    be covered: what the API server defaulted on top of `desired` is no difference."""
    key = meta.key(desired)
    current = state.get(*key)
    if current is None:
        return [Create(desired)]
    if meta.is_deleting(current):
        return []
    md, cur_md = desired["metadata"], current["metadata"]
    same = all(covers(desired.get(f), current.get(f)) for f in compare) and all(
        covers(md.get(f) or {}, cur_md.get(f) or {}) for f in ("labels", "annotations")
    )
    if same:
        return []
    updated = meta.deep_copy(current)
    for field in compare:
        if field in desired:
            updated[field] = meta.deep_copy(desired[field])
    for field in ("labels", "annotations"):  # others' keys (the revision annotation) stay
        updated["metadata"][field] = {**(cur_md.get(field) or {}), **(md.get(field) or {})}
    return [Update(updated)]


def covers(want: object, have: object) -> bool:
    """Every field of `want` is in `have` with the same value (lists item by item)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(covers(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(map(covers, want, have))
    return want == have


def ensure_status(current: dict, status: dict) -> list[Action]:
    """A status write when `status` (merged over the stored one) differs."""
    merged = {**(current.get("status") or {}), **status}
    if merged == (current.get("status") or {}):
        return []
    updated = meta.deep_copy(current)
    updated["status"] = merged
    return [Update(updated, subresource="status")]


def condition(kind: str, ok: bool | None, reason: str = "", message: str = "") -> dict:
    """A Knative condition (no timestamps: they would make every round a write)."""
    out = {"type": kind, "status": "Unknown" if ok is None else ("True" if ok else "False")}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def owned(owner: dict, kind: str, api_version: str, name: str, labels: dict) -> dict:
    """The skeleton of an object `owner` controls, in the owner's namespace."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": meta.namespace(owner),
            "labels": labels,
            "ownerReferences": [meta.owner_reference(owner)],
        },
    }
