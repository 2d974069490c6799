"""The API store: objects by (kind, namespace, name), a global resourceVersion, watch history.

Mirrors what kube-apiserver gets from etcd (a revision per write, watch from a revision)
and its watch cache (a bounded window of recent events; older versions answer
`410 Gone: too old resource version`). In memory, single-threaded, no I/O.
The window is bounded by events (WATCH_HISTORY_EVENTS) and by size (WATCH_HISTORY_BYTES:
each event counts its object's and its previous version's JSON), so a churning large
object cannot pin hundreds of old versions.

Rules:
1. Every write bumps `rv` by one and stamps it into the object's
   `metadata.resourceVersion` (a string, as in Kubernetes). A delete event carries the
   object as it was, stamped with the delete's version.
2. Stored objects are never mutated after they are stored: writers store new dicts, so a
   reader may keep a reference without copying.
3. Writes inside `transaction()` become visible to watchers only at commit; an exception
   rolls every write back and no event is ever emitted (a failing batch changes nothing).
"""

from __future__ import annotations

import builtins
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lab_kit.model import meta
from lab_kit.model.constants import WATCH_HISTORY_BYTES, WATCH_HISTORY_EVENTS
from lab_kit.model.errors import err_gone

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

Key = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    obj: dict
    rv: int
    prev: dict | None = None  # the object before a MODIFIED (filtered watches need it)
    size: int = field(default=0, compare=False)  # JSON characters of obj and prev


def encoded_size(obj: dict) -> int:
    """What an object weighs on the wire (and, roughly, in memory): its JSON's length."""
    return len(json.dumps(obj, separators=(",", ":")))


class Store:
    def __init__(
        self, history: int = WATCH_HISTORY_EVENTS, history_bytes: int = WATCH_HISTORY_BYTES
    ):
        self.rv = 0
        self._objects: dict[str, dict[tuple[str, str], dict]] = {}
        self._sizes: dict[Key, int] = {}  # encoded_size of each stored object
        self._history: deque[Event] = deque()
        self._history_events, self._history_bytes = history, history_bytes
        self.history_size = 0  # the window's total `Event.size`
        self._subscribers: list[Callable[[Event], None]] = []
        self._undo: list[tuple[Key, dict | None, int]] | None = None
        self._pending: list[Event] = []
        self._prev_size = 0  # set by _remember for the event being made

    # --- reads ---------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self._objects.get(kind, {}).get((namespace, name))

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        """Objects of a kind (in one namespace, or all), sorted by namespace then name."""
        items = self._objects.get(kind, {})
        return [o for (ns, _), o in sorted(items.items()) if namespace is None or ns == namespace]

    def count(self, kind: str) -> int:
        return len(self._objects.get(kind, {}))

    def __iter__(self) -> Iterator[dict]:
        for by_key in self._objects.values():
            yield from by_key.values()

    # --- writes --------------------------------------------------------------------------
    def put(self, obj: dict) -> dict:
        """Create or replace; returns the stored object (a new dict with its version)."""
        key = meta.key(obj)
        previous = self.get(*key)
        self.rv += 1
        stored = {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(self.rv)}}
        self._remember(key, previous)
        self._objects.setdefault(key[0], {})[(key[1], key[2])] = stored
        size = self._sizes[key] = encoded_size(stored)
        etype = ADDED if previous is None else MODIFIED
        self._emit(Event(etype, stored, self.rv, previous, size + self._prev_size))
        return stored

    def delete(self, kind: str, namespace: str, name: str) -> dict | None:
        previous = self._objects.get(kind, {}).pop((namespace, name), None)
        if previous is None:
            return None
        self.rv += 1
        self._remember((kind, namespace, name), previous)
        self._sizes.pop((kind, namespace, name), None)
        gone = {**previous, "metadata": {**previous["metadata"], "resourceVersion": str(self.rv)}}
        self._emit(Event(DELETED, gone, self.rv, None, self._prev_size))
        return gone

    def restore(self, objects: Iterable[dict], rv: int) -> None:
        """Load what a restarting API server reads back from etcd: objects exactly as they
        were stored (each keeps its resourceVersion) and the newest version. No events and
        no watch history: a watch from before the restart answers 410 Gone (rule 1 holds
        for every write that follows)."""
        if self.rv or self._history:
            raise RuntimeError("restore() is for an empty store")
        for obj in objects:
            key = meta.key(obj)
            self._objects.setdefault(key[0], {})[(key[1], key[2])] = obj
            self._sizes[key] = encoded_size(obj)
        self.rv = rv

    # --- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together, or none do (the exception propagates)."""
        if self._undo is not None:  # nested: part of the outer transaction
            yield
            return
        self._undo, self._pending = [], []
        start_rv = self.rv
        try:
            yield
        except BaseException:
            for (kind, ns, name), previous, size in reversed(self._undo):
                if previous is None:
                    self._objects.get(kind, {}).pop((ns, name), None)
                    self._sizes.pop((kind, ns, name), None)
                else:
                    self._objects.setdefault(kind, {})[(ns, name)] = previous
                    self._sizes[(kind, ns, name)] = size
            self.rv = start_rv
            self._undo, self._pending = None, []
            raise
        pending = self._pending
        self._undo, self._pending = None, []
        for event in pending:
            self._publish(event)

    def _remember(self, key: Key, previous: dict | None) -> None:
        """Note the previous version (for a rollback) and its size (for the new event)."""
        self._prev_size = self._sizes.get(key, 0) if previous is not None else 0
        if self._undo is not None:
            self._undo.append((key, previous, self._prev_size))

    def _emit(self, event: Event) -> None:
        if self._undo is not None:
            self._pending.append(event)
        else:
            self._publish(event)

    def _publish(self, event: Event) -> None:
        self._history.append(event)
        self.history_size += event.size
        history = self._history
        while len(history) > self._history_events or (
            self.history_size > self._history_bytes and len(history) > 1
        ):
            self.history_size -= history.popleft().size
        for callback in list(self._subscribers):
            callback(event)

    # --- watch -----------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call `callback(event)` after every committed write; returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def events_since(self, rv: int) -> builtins.list[Event]:
        """Committed events with version > rv, or 410 Gone if the window no longer has them."""
        if rv >= self.rv:
            return []
        oldest = self._history[0].rv if self._history else self.rv + 1
        if rv < oldest - 1:
            raise err_gone(f"too old resource version: {rv} ({oldest - 1})")
        return [e for e in self._history if e.rv > rv]
