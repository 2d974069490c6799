"""The API server's objects on disk (etcd's part): a restarted API server has every object
a committed write left, at the version it had reached, and nothing a refused write tried;
a watch from before the restart is 410 Gone; a half-written last line is skipped; the log
is compacted into a snapshot; a restart draws new UIDs and keeps the addresses taken."""

from __future__ import annotations

import json

import pytest

from lab_kit.adapters.store_file import StoreFile
from lab_kit.api.registry import Registry
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name

SERVICE = by_kind_name("Service")


def svc(name: str, cluster_ip: str | None = None) -> dict:
    spec: dict = {"ports": [{"port": 80}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}  # fmt: skip


def api_server(directory, **kw) -> tuple[Registry, StoreFile]:
    """What `apiserver --run-dir` does at start: open the files, then bootstrap."""
    files = StoreFile(str(directory), **kw)
    registry = Registry(files.open())
    registry.bootstrap()
    return registry, files


def snapshot_of(registry: Registry) -> dict:
    return {meta.key(o): o for o in registry.store}


def test_a_restarted_api_server_has_every_committed_object_at_its_version(tmp_path):
    first, files = api_server(tmp_path)
    web = first.create(svc("web"))
    first.create(svc("gone"))
    first.delete(SERVICE, "default", "gone")
    labelled = dict(web, metadata={**web["metadata"], "labels": {"tier": "front"}})
    first.update(labelled)
    with pytest.raises(ApiError):
        first.create(svc("web"))  # refused: nothing of it reaches the disk
    before, rv = snapshot_of(first), first.store.rv
    files.close()  # (a kill -9 closes nothing: each line is flushed as it is written)

    again, _ = api_server(tmp_path)
    assert again.store.rv == rv
    assert snapshot_of(again) == before
    assert again.store.get("Service", "default", "web")["metadata"]["labels"] == {"tier": "front"}
    assert again.store.get("Service", "default", "gone") is None


def test_a_watch_from_before_the_restart_is_gone_and_later_writes_continue_the_versions(tmp_path):
    first, files = api_server(tmp_path)
    first.create(svc("a"))
    old_rv = first.store.rv - 1
    files.close()
    again, _ = api_server(tmp_path)
    with pytest.raises(ApiError) as gone:
        again.store.events_since(old_rv)
    assert gone.value.code == 410
    assert again.store.events_since(again.store.rv) == []  # up to date: nothing missed
    created = again.create(svc("b"))
    assert int(created["metadata"]["resourceVersion"]) == first.store.rv + 1


def test_a_restart_keeps_taken_addresses_and_draws_new_uids(tmp_path):
    first, files = api_server(tmp_path)
    taken = {first.create(svc(f"s{i}"))["spec"]["clusterIP"] for i in range(5)}
    uids = {o["metadata"]["uid"] for o in first.store}
    files.close()
    again, _ = api_server(tmp_path)
    with pytest.raises(ApiError) as clash:
        again.create(svc("other", sorted(taken)[0]))
    assert "provided IP is already allocated" in clash.value.message
    new = [again.create(svc(f"t{i}")) for i in range(5)]
    assert not {s["spec"]["clusterIP"] for s in new} & taken
    assert not {s["metadata"]["uid"] for s in new} & uids


def test_a_half_written_last_line_is_skipped(tmp_path):
    first, files = api_server(tmp_path)
    first.create(svc("kept"))
    rv = first.store.rv
    files.close()
    with open(files.wal_path, "a") as f:
        f.write('{"rv": 99, "object": {"kind": "Serv')  # the kill came mid-write
    again, _ = api_server(tmp_path)
    assert again.store.rv == rv and again.store.get("Service", "default", "kept")


def test_the_log_is_compacted_into_a_snapshot(tmp_path):
    first, files = api_server(tmp_path, compact_events=3)
    for i in range(7):
        first.create(svc(f"s{i}"))
    with open(files.wal_path) as f:
        assert len(f.read().splitlines()) < 3
    with open(files.snapshot_path) as f:
        assert json.load(f)["resourceVersion"] <= first.store.rv
    before = snapshot_of(first)
    files.close()
    again, _ = api_server(tmp_path)
    assert snapshot_of(again) == before


def test_restore_is_only_for_an_empty_store(tmp_path):
    registry, _ = api_server(tmp_path)
    with pytest.raises(RuntimeError):
        registry.store.restore([], 5)
