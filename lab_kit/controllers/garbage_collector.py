"""The garbage collector and the namespace controller's content deletion.

Mirrors `kubernetes/kubernetes:pkg/controller/garbagecollector` (attemptToDeleteItem:
an object whose owners are all gone is deleted; processDeletingDependentsItem and
orphanDependents for the `foregroundDeletion` and `orphan` finalizers) and
`pkg/controller/namespace/deletion/namespaced_resources_deleter.go` (a Namespace with a
deletionTimestamp has all its content deleted, then its finalizer is released).

- Background cascading deletion: an object with ownerReferences none of whose owner uids
  exists any more (in any kind of the snapshot) is deleted, with a uid precondition.
  Owners of kinds the lab's API does not serve (a Job, a CRD) cannot be checked and keep
  their dependents alive. The snapshot must therefore hold every served kind: a kind
  missing from it would look like deleted owners.
- `orphan` finalizer on an owner being deleted (`kubectl delete --cascade=orphan`): its
  dependents lose the ownerReference to it, then the finalizer is removed (Update), which
  lets the API server finish the deletion.
- `foregroundDeletion` finalizer (`--cascade=foreground`): dependents are deleted first;
  when none is left, the finalizer is removed.
- A Namespace with a deletionTimestamp: every object in it is deleted; once nothing is
  left, `Delete` of the Namespace itself (standing for the namespace controller removing
  the `kubernetes` finalizer via /finalize).

Objects already being deleted are not deleted again. Left out: the dependency graph and
its informers (the snapshot is authoritative), live look-ups of owners, the
blockOwnerDeletion distinction (every remaining dependent blocks a foreground owner),
foreground propagation to grandchildren (dependents are deleted with the default policy),
cluster-scoped/namespaced owner validation and the namespace status conditions.
"""

from __future__ import annotations

from collections.abc import Iterator

from lab_kit.controllers.state import Action, Delete, Snapshot, Update
from lab_kit.model import meta
from lab_kit.model.kinds import KINDS

_SERVED = {k.kind for k in KINDS}
ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def reconcile(state: Snapshot, now: float) -> list[Action]:
    deleted: set[tuple[str, str, str]] = set()
    actions: list[Action] = []
    actions.extend(delete_orphans(state, deleted))
    actions.extend(finalize_owners(state, deleted))
    actions.extend(delete_namespaces(state, deleted))
    return actions


def _objects(state: Snapshot) -> Iterator[dict]:
    """Every object, kinds in name order, each kind sorted by (namespace, name)."""
    for kind in sorted(state.objects):
        yield from state.list(kind)


def _delete(obj: dict, deleted: set) -> list[Action]:
    """A Delete with uid precondition, at most once per object per round."""
    key = meta.key(obj)
    if key in deleted or meta.is_deleting(obj):
        return []
    deleted.add(key)
    return [Delete(meta.kind_key(obj), meta.namespace(obj), meta.name(obj), meta.uid(obj))]


def delete_orphans(state: Snapshot, deleted: set) -> list[Action]:
    """attemptToDeleteItem: every owner of the object is gone → delete it.

    An owner of a kind the API does not serve cannot be looked up, so, as upstream (no REST
    mapping → no verdict), it counts as present.
    """
    alive = {meta.uid(o) for o in _objects(state) if meta.uid(o)}
    actions: list[Action] = []
    for obj in _objects(state):
        refs = meta.metadata(obj).get("ownerReferences") or []
        if refs and all(r.get("kind") in _SERVED and r.get("uid") not in alive for r in refs):
            actions.extend(_delete(obj, deleted))
    return actions


def dependents_of(state: Snapshot, owner: dict) -> list[dict]:
    uid = meta.uid(owner)
    return [o for o in _objects(state) if uid and uid in meta.owner_uids(o)]


def finalize_owners(state: Snapshot, deleted: set) -> list[Action]:
    """Owners being deleted with the `orphan` or `foregroundDeletion` finalizer."""
    actions: list[Action] = []
    for owner in _objects(state):
        finalizers = meta.metadata(owner).get("finalizers") or []
        if not meta.is_deleting(owner):
            continue
        if ORPHAN_FINALIZER in finalizers:
            actions.extend(_orphan_dependents(state, owner))
        elif FOREGROUND_FINALIZER in finalizers:
            actions.extend(_delete_dependents_first(state, owner, deleted))
    return actions


def _without_finalizer(owner: dict, finalizer: str) -> Update:
    updated = meta.deep_copy(owner)
    kept = [f for f in updated["metadata"].get("finalizers") or [] if f != finalizer]
    if kept:
        updated["metadata"]["finalizers"] = kept
    else:
        updated["metadata"].pop("finalizers", None)
    return Update(updated)


def _orphan_dependents(state: Snapshot, owner: dict) -> list[Action]:
    """orphanDependents, then release the `orphan` finalizer."""
    dependents = dependents_of(state, owner)
    if not dependents:
        return [_without_finalizer(owner, ORPHAN_FINALIZER)]
    actions: list[Action] = []
    for dependent in dependents:
        updated = meta.deep_copy(dependent)
        refs = [
            r for r in updated["metadata"]["ownerReferences"] if r.get("uid") != meta.uid(owner)
        ]
        if refs:
            updated["metadata"]["ownerReferences"] = refs
        else:
            updated["metadata"].pop("ownerReferences")
        actions.append(Update(updated))
    return actions


def _delete_dependents_first(state: Snapshot, owner: dict, deleted: set) -> list[Action]:
    """Foreground deletion: dependents go first, the owner's finalizer last."""
    dependents = dependents_of(state, owner)
    if not dependents:
        return [_without_finalizer(owner, FOREGROUND_FINALIZER)]
    actions: list[Action] = []
    for dependent in dependents:
        actions.extend(_delete(dependent, deleted))
    return actions


def delete_namespaces(state: Snapshot, deleted: set) -> list[Action]:
    """Empty terminating namespaces; delete each one once it holds nothing."""
    actions: list[Action] = []
    for namespace in state.list("Namespace"):
        if not meta.is_deleting(namespace):
            continue
        content = [
            o
            for o in _objects(state)
            if o.get("kind") != "Namespace" and meta.namespace(o) == meta.name(namespace)
        ]
        if not content:
            key = meta.key(namespace)
            if key not in deleted:
                deleted.add(key)
                actions.append(Delete("Namespace", "", meta.name(namespace), meta.uid(namespace)))
            continue
        for obj in content:
            actions.extend(_delete(obj, deleted))
    return actions
