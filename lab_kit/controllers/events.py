"""An event recorder: the Events a component writes about an object, as client-go's writes
them (`k8s.io/client-go/tools/record`: event.go makeEvent, events_cache.go eventLogger).

An Event is named `<object name>.<hex nanoseconds>`, lives in the object's namespace,
points at the object (`involvedObject`: kind, namespace, name, uid, apiVersion,
resourceVersion) and names its `source.component`. The same event again (same component,
object, type, reason and message: getEventKey) is not a new object: the recorder counts
it (`count`, `lastTimestamp`) on the one it wrote first, so `kubectl describe` shows
"5s (x3 over 20s)". That memory lives in the process, as client-go's LRU cache does: after
a restart the first repeat is a new Event.

Left out: the aggregator that folds more than 10 similar events in 10 minutes into
"(combined from similar events)", the spam filter's token bucket, and events.k8s.io/v1.
Pure: `record` returns the Create or Update to send; the caller sends it (best effort, as
client-go's broadcaster, which drops an event it cannot write).
"""

from __future__ import annotations

from lab_kit.controllers.state import Create, Update
from lab_kit.model import meta
from lab_kit.model.meta import rfc3339

NORMAL, WARNING = "Normal", "Warning"


class EventRecorder:
    def __init__(self, component: str, host: str = ""):
        self.component, self.host = component, host  # host: the kubelet's node
        self._written: dict[tuple[str, ...], dict] = {}  # getEventKey -> the Event we wrote
        self._last_ns = 0

    def record(
        self, obj: dict, type_: str, reason: str, message: str, now: float, field_path: str = ""
    ) -> Create | Update:
        """The write that records this event about `obj` at `now` (`field_path`: the part
        of it, e.g. `spec.containers{web}` for a container's events)."""
        involved = involved_object(obj, field_path)
        key = (
            self.component,
            *(str(involved.get(f, "")) for f in _KEY_FIELDS),
            type_,
            reason,
            message,
        )
        seen = self._written.get(key)
        if seen is not None:
            again = meta.deep_copy(seen)
            again["count"] = seen.get("count", 1) + 1
            again["lastTimestamp"] = rfc3339(now)
            self._written[key] = again
            return Update(again)
        self._last_ns = max(int(now * 1e9), self._last_ns + 1)
        event = new_event(involved, type_, reason, message, now, self.component, self._last_ns)
        if self.host:
            event["source"]["host"] = self.host
        self._written[key] = event
        return Create(event)


def new_event(involved: dict, type_: str, reason: str, message: str, now: float,
              component: str, ns: int | None = None) -> dict:  # fmt: skip
    """One Event (makeEvent). Names must differ even for two events at the same instant
    (virtual time stands still within a round): `ns`, nanoseconds nudged past the last
    name a recorder gave; without it, `now` in nanoseconds."""
    ns = int(now * 1e9) if ns is None else ns
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{involved['name']}.{ns:x}",
            "namespace": involved.get("namespace") or "default",
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": rfc3339(now),
        "lastTimestamp": rfc3339(now),
        "count": 1,
        "type": type_,
        "reportingComponent": component,
        "reportingInstance": "",
    }


_KEY_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "fieldPath")


def involved_object(obj: dict, field_path: str = "") -> dict:
    """reference.GetReference: what an Event says it is about."""
    ref = {
        "kind": obj.get("kind", ""),
        "namespace": meta.namespace(obj),
        "name": meta.name(obj),
        "uid": meta.uid(obj),
        "apiVersion": obj.get("apiVersion", "v1"),
        "resourceVersion": meta.metadata(obj).get("resourceVersion", ""),
        "fieldPath": field_path,
    }
    return {k: v for k, v in ref.items() if v}


def events_about(events: list[dict], obj: dict) -> list[dict]:
    """The Events that point at this object (kubectl describe's search: by uid, else name)."""
    uid, name, kind = meta.uid(obj), meta.name(obj), obj.get("kind")
    out = []
    for ev in events:
        ref = ev.get("involvedObject") or {}
        if ref.get("kind") != kind or ref.get("name") != name:
            continue
        if uid and ref.get("uid") and ref["uid"] != uid:
            continue
        out.append(ev)
    return out
