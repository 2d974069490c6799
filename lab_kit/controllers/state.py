"""The inputs and outputs of every controller: a read-only snapshot and a list of actions.

Rule 1: controllers NEVER modify objects from the snapshot (sample-controller's warning);
they deep-copy what they change and return it in an Update.
Rule 2: an Update carries the resourceVersion it was computed from, so the API server
refuses it (409 Conflict) if the object moved on meanwhile; the next round recomputes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from lab_kit.model import meta


@dataclass(frozen=True)
class Create:
    obj: dict


@dataclass(frozen=True)
class Update:
    obj: dict
    subresource: str = ""  # "status" for status-only writes (kubelet, controllers' status)


@dataclass(frozen=True)
class Delete:
    kind: str
    namespace: str
    name: str
    uid: str = ""  # precondition: only delete this incarnation


Action = Create | Update | Delete


@dataclass
class Snapshot:
    """Objects by kind, then by (namespace, name). Cluster-scoped objects use namespace ""."""

    objects: dict[str, dict[tuple[str, str], dict]] = field(default_factory=dict)

    @classmethod
    def of(cls, objs: Iterable[dict]) -> Snapshot:
        snap = cls()
        for o in objs:
            snap.put(o)
        return snap

    def put(self, obj: dict) -> None:
        self.objects.setdefault(meta.kind_key(obj), {})[(meta.namespace(obj), meta.name(obj))] = obj

    def remove(self, kind: str, namespace: str, name: str) -> None:
        self.objects.get(kind, {}).pop((namespace, name), None)

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.objects.get(kind, {}).get((namespace, name))

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        """Objects of a kind, sorted by (namespace, name) so results are deterministic."""
        items = self.objects.get(kind, {})
        return [o for (ns, _), o in sorted(items.items()) if namespace is None or ns == namespace]

    def __iter__(self) -> Iterator[dict]:
        for by_key in self.objects.values():
            yield from by_key.values()
