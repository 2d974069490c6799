"""The API server's objects on disk, so that a restarted API server has them back: the part
etcd plays for kube-apiserver, in miniature.

    <run dir>/etcd/snapshot.json   every object and the store's resourceVersion
    <run dir>/etcd/wal.jsonl       each committed write since, one JSON line:
                                   {"rv": 42, "object": {...}} or {"rv": 43, "deleted": {...}}

    open():  snapshot + the log replayed -> Store.restore(objects, rv) -> a fresh snapshot,
             an empty log -> from now on every committed write is appended as it commits
    the log past COMPACT_EVENTS lines -> a new snapshot, the log emptied (etcd compacts too)

Like etcd: a write-ahead log and snapshots, and nothing acknowledged is lost when the API
server is killed (each line is written out before the store's watchers hear of it).
Unlike etcd: no fsync (the page cache survives a kill -9; a machine that crashes ends the
lab anyway), no consensus, and no watch history kept across a restart — a watch from before
it answers 410 Gone, so every informer lists again, as after an etcd compaction.
"""

from __future__ import annotations

import json
import logging
import os
from typing import IO

from lab_kit.model import meta
from lab_kit.store.store import DELETED, Event, Store

log = logging.getLogger("apiserver")
COMPACT_EVENTS = 20_000  # log lines before a new snapshot


class StoreFile:
    def __init__(self, directory: str, compact_events: int = COMPACT_EVENTS):
        self.directory = directory
        self.compact_events = compact_events
        self.snapshot_path = os.path.join(directory, "snapshot.json")
        self.wal_path = os.path.join(directory, "wal.jsonl")
        self._wal: IO[str] | None = None
        self._lines = 0
        self._store: Store | None = None

    def open(self) -> Store:
        """The store as it was last written (empty the first time), kept on disk from now on."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        objects, rv = self.read()
        store = Store()
        if objects or rv:
            store.restore(objects.values(), rv)
            log.info("restored %d objects at resourceVersion %d from %s", len(objects), rv,
                     self.directory)  # fmt: skip
        self._store = store
        self.compact()
        store.subscribe(self._append)
        return store

    def read(self) -> tuple[dict[tuple[str, str, str], dict], int]:
        """Objects by key and the newest resourceVersion: the snapshot, then the log."""
        objects: dict[tuple[str, str, str], dict] = {}
        rv = 0
        try:
            with open(self.snapshot_path) as f:
                snapshot = json.load(f)
            rv = int(snapshot["resourceVersion"])
            objects = {meta.key(o): o for o in snapshot["items"]}
        except FileNotFoundError:
            pass
        for line in self._log_lines():
            entry = json.loads(line)
            if "deleted" in entry:
                objects.pop(meta.key(entry["deleted"]), None)
            else:
                objects[meta.key(entry["object"])] = entry["object"]
            rv = max(rv, int(entry["rv"]))
        return objects, rv

    def _log_lines(self) -> list[str]:
        """The log's complete lines (a kill in the middle of a write leaves half of one)."""
        try:
            with open(self.wal_path) as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            return []
        complete = [line for line in lines[:-1] if line]
        if lines[-1]:
            log.warning("ignoring a half-written last line of %s", self.wal_path)
        return complete

    def compact(self) -> None:
        """Write the whole store as the snapshot and start an empty log."""
        assert self._store is not None
        tmp = self.snapshot_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"resourceVersion": self._store.rv, "items": list(self._store)}, f)
        os.replace(tmp, self.snapshot_path)
        if self._wal is not None:
            self._wal.close()
        self._wal = open(self.wal_path, "w")  # noqa: SIM115 (kept open: every write appends)
        self._lines = 0

    def _append(self, event: Event) -> None:
        """The store's subscriber: one line per committed write, written out at once."""
        assert self._wal is not None
        key = "deleted" if event.type == DELETED else "object"
        self._wal.write(json.dumps({"rv": event.rv, key: event.obj}, separators=(",", ":")) + "\n")
        self._wal.flush()
        self._lines += 1
        if self._lines >= self.compact_events:
            self.compact()

    def close(self) -> None:
        if self._wal is not None:
            self._wal.close()
            self._wal = None
