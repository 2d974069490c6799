"""The API server's logic, without HTTP: create / update / delete / get / list / apply.

Mirrors the generic registry of kube-apiserver (`k8s.io/apiserver/pkg/registry/generic/
registry/store.go`) and the per-kind strategies (`pkg/registry/core/*/strategy.go`): on
every write the object is checked against Kubernetes' schema (strict decoding), defaulted,
validated, given its server-set metadata (uid, creationTimestamp, generation,
resourceVersion) and, for Services, its ClusterIP and NodePorts. Errors are `ApiError`s
carrying the `Status` object the HTTP layer returns.

Simplifications (said here so nobody has to discover them):
- one global resourceVersion, no etcd, no admission webhooks, no RBAC;
- `apply` is a lab batch operation (all documents or none) with client-side-apply
  semantics: the user's object replaces the stored one, keeping status and whatever the
  server allocated;
- Namespace deletion marks the Namespace Terminating; the garbage collector empties it.

Finalizers as the generic registry honours them: deleting an object that has
`metadata.finalizers` marks it (deletionTimestamp now, deletionGracePeriodSeconds 0) and
keeps it; the update that removes the last one deletes it (for a Service, its ClusterIP
and NodePorts are released then). A deleting object takes no new finalizer, and a create
of its name says "object is being deleted". Finalizers the user's apply did not set (a
controller's) survive the apply, as kubectl's merge of `metadata.finalizers` keeps them.
"""

from __future__ import annotations

import builtins
import ipaddress
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lab_kit.api import authn, serviceaccounts, strategies
from lab_kit.api.admission import admit_ingress
from lab_kit.api.allocators import ClusterIPAllocator, NodePortAllocator
from lab_kit.api.authn import TokenIssuer
from lab_kit.api.services import (
    ServiceAddresses,
    ip_family,
    ip_family_errors,
    patch_allocated_values,
)
from lab_kit.api.warning import warnings_for
from lab_kit.model import constants as C
from lab_kit.model import knative, meta
from lab_kit.model.defaults import apply_defaults
from lab_kit.model.errors import (
    ApiError,
    FieldError,
    err_already_exists,
    err_bad_request,
    err_conflict,
    err_forbidden,
    err_invalid,
    err_modified,
    err_not_found,
    err_webhook_denied,
)
from lab_kit.model.kinds import Kind, by_kind_name, kind_of
from lab_kit.model.manifests import json_type
from lab_kit.model.meta import rfc3339
from lab_kit.model.schema import check_schema
from lab_kit.model.validation import validate
from lab_kit.store.store import Store

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Registry:
    def __init__(
        self,
        store: Store | None = None,
        *,
        service_cidr: str = C.SERVICE_CIDR,
        node_port_range: tuple[int, int] = C.NODE_PORT_RANGE,
        clock: Callable[[], float] = time.time,
        seed: int | None = 0,
    ):
        self.store = store or Store()
        self.clock = clock
        # A store read back from disk (a restarted API server, lab_kit/adapters/store_file.py)
        # must not replay the first run's draws: the same UIDs would come out again. Seeding
        # with the version it restarted at keeps runs reproducible and the draws new.
        if seed is not None and self.store.rv:
            seed_text: int | str | None = f"{seed}/restarted-at-{self.store.rv}"
        else:
            seed_text = seed
        self.rng = random.Random(seed_text)
        self.warnings: list[str] = []  # what the current request's writes are warned about
        self._service_cidr, self._node_port_range = service_cidr, node_port_range
        # The families the service CIDR serves: one, as with a single --service-cluster-ip-range.
        self.ip_families = (ip_family(str(ipaddress.ip_network(service_cidr).network_address)),)
        # Each allocator draws from its own seeded generator, so the n-th Service gets the
        # same ClusterIP (and NodePort) on every run, whatever else was created in between:
        # learners recognise the addresses from one run to the next. The generators live
        # as long as the registry; a refused or dry-run write puts back their state too.
        self._allocator_rngs = {
            name: random.Random(None if seed_text is None else f"{seed_text}/{name}")
            for name in ("clusterIPs", "nodePorts")
        }
        self._rebuild_allocators()
        # Service accounts draw from their own generator (volume names, the UIDs of the
        # objects made with each Namespace), so Pods' and Services' draws stay as they were.
        self._side_rng = random.Random(
            None if seed_text is None else f"{seed_text}/serviceaccounts"
        )
        self.root_ca_pem: str | None = None  # the cluster CA, once the API server has one
        self.token_issuer: TokenIssuer | None = None  # signs service-account tokens

    # --- bootstrapping -----------------------------------------------------------------------
    def bootstrap(self) -> None:
        """What kube-apiserver creates by itself: system namespaces and `default/kubernetes`."""
        with self.store.transaction():
            for ns in C.SYSTEM_NAMESPACES:
                if not self.store.get("Namespace", "", ns):
                    self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            if not self.store.get("Service", "default", "kubernetes"):
                # ServiceIPRange: the first address of the service CIDR (10.96.0.1 by default)
                first = str(ipaddress.ip_network(self._service_cidr).network_address + 1)
                self.create(strategies.kubernetes_service(first, C.API_SERVER_PORT))
            for namespace in self.store.list("Namespace", None):
                self._namespace_credentials(meta.name(namespace))

    def _rebuild_allocators(self) -> None:
        """The allocators' view of what is taken, rebuilt from the stored Services."""
        self.addresses = ServiceAddresses(
            ClusterIPAllocator(self._service_cidr, self._allocator_rngs["clusterIPs"]),
            NodePortAllocator(*self._node_port_range, self._allocator_rngs["nodePorts"]),
        )
        for svc in self.store.list("Service"):
            self.addresses.hold_existing(svc)

    @contextmanager
    def _allocating(self, dry_run: bool = False) -> Iterator[None]:
        """Whatever is allocated inside is given back if it raises, or if it is a dry run:
        the addresses, and the generators' state, so the next Service draws what it would
        have drawn had this write never been tried (kube-apiserver's allocation
        transactions revert too; resetting the generators instead would hand out
        neighbours of the addresses already taken, one after another)."""
        saved = {name: rng.getstate() for name, rng in self._allocator_rngs.items()}
        try:
            yield
        except BaseException:
            self._undo_allocations(saved)
            raise
        if dry_run:
            self._undo_allocations(saved)

    def _undo_allocations(self, saved: dict[str, Any]) -> None:
        for name, state in saved.items():
            self._allocator_rngs[name].setstate(state)
        self._rebuild_allocators()

    # --- reads -------------------------------------------------------------------------------
    def get(self, kind: Kind, namespace: str, name: str) -> dict:
        obj = self.store.get(kind.key, namespace if kind.namespaced else "", name)
        if obj is None:
            raise err_not_found(kind.plural, name, kind.group)
        return obj

    def list(self, kind: Kind, namespace: str | None = None) -> list[dict]:
        return self.store.list(kind.key, namespace if kind.namespaced else None)

    # --- create --------------------------------------------------------------------------------
    def create(self, obj: dict, namespace: str | None = None, *, dry_run: bool = False) -> dict:
        kind = kind_of(type_meta(obj))
        obj, asked = self._prepare(kind, obj, namespace)
        self._check_namespace(kind, meta.namespace(obj))
        if kind.kind == "Ingress":  # admission (mutating), before validation
            obj = admit_ingress(obj, self.store.list("IngressClass", None))
        if kind.kind == "Pod":
            obj = self._admit_pod(obj)
        if not meta.name(obj) and meta.metadata(obj).get("generateName"):
            obj["metadata"]["name"] = self._generate_name(kind, obj)
        existing = self.store.get(kind.key, meta.namespace(obj), meta.name(obj))
        if existing is not None:
            e = err_already_exists(kind.plural, meta.name(obj), kind.group)
            if meta.is_deleting(existing):  # genericregistry.Store.Create's wording
                e = ApiError(e.code, e.reason, f"object is being deleted: {e.message}", e.details)
            raise e
        obj = strategies.prepare_for_create(obj, self.clock())
        md = obj["metadata"]
        md["uid"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        md["creationTimestamp"] = rfc3339(self.clock())
        md.pop("resourceVersion", None)
        with self._allocating(dry_run):
            self._validate(kind, obj, None, meta.spec(asked))
            stored = self._write(kind, obj, None, dry_run)
        if kind.kind == "Namespace" and not dry_run:
            self._namespace_credentials(meta.name(stored))
        self._warn(asked, stored)
        return stored

    # --- update --------------------------------------------------------------------------------
    def update(
        self,
        obj: dict,
        namespace: str | None = None,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> dict:
        kind = kind_of(type_meta(obj))
        obj, asked = self._prepare(kind, obj, namespace)
        old = self.store.get(kind.key, meta.namespace(obj), meta.name(obj))
        if old is None:
            raise err_not_found(kind.plural, meta.name(obj), kind.group)
        wanted_rv = meta.metadata(obj).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise err_modified(kind.plural, meta.name(obj), kind.group)
        if subresource == "status":
            obj = {**old, "status": obj.get("status", {})}
        else:
            if kind.key == "Service":
                patch_allocated_values(obj, old)  # before comparing specs for `generation`
            obj = strategies.prepare_for_update(obj, old)
        spec_asked = None if subresource else meta.spec(asked)
        _no_new_finalizers(kind, obj, old)
        with self._allocating(dry_run):
            self._validate(kind, obj, old, spec_asked)
            same = strategies.same_content(obj, old)
            stored = old if same else self._write(kind, obj, old, dry_run)
        if not subresource:
            self._warn(asked, stored)
        if not same and not dry_run and _finalized(stored):
            self._remove(kind, stored)  # the last finalizer is gone: the delete completes
        return stored

    def bind(self, namespace: str, name: str, node_name: str) -> dict:
        """pods/binding: what the scheduler posts to put a Pod on a Node."""
        pod = self.get(by_kind_name("Pod"), namespace, name)
        current = meta.spec(pod).get("nodeName")
        if current:
            raise err_conflict("pods", name, f'pod {name} is already assigned to node "{current}"')
        bound = meta.deep_copy(pod)
        bound["spec"]["nodeName"] = node_name
        strategies.set_condition(bound, "PodScheduled", "True", "", "", self.clock())
        return self._write(by_kind_name("Pod"), bound, pod, False)

    # --- delete --------------------------------------------------------------------------------
    def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        *,
        grace_period_s: int | None = None,
        uid: str = "",
        dry_run: bool = False,
    ) -> dict:
        namespace = namespace if kind.namespaced else ""
        obj = self.get(kind, namespace, name)
        if uid and meta.uid(obj) != uid:
            raise err_conflict(
                kind.plural,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.uid(obj)}",
                kind.group,
            )
        if kind.kind == "Namespace" and name in C.SYSTEM_NAMESPACES:
            raise err_forbidden("namespaces", name, "this namespace may not be deleted")
        empty = kind.kind == "Namespace" and not any(
            meta.namespace(o) == name and not serviceaccounts.made_with_namespace(o)
            for o in self.store
        )
        graceful = strategies.graceful_delete(
            kind.kind, obj, grace_period_s, self.clock(), namespace_empty=empty
        )
        if graceful is None and meta.metadata(obj).get("finalizers") and kind.kind != "Namespace":
            if meta.metadata(obj).get("deletionGracePeriodSeconds") == 0:
                return obj  # already deleting, finalizers pending: nothing changes
            graceful = _marked_as_deleting(obj, self.clock())
        if dry_run:
            return graceful or obj
        if graceful is not None:
            return self.store.put(graceful)
        return self._remove(kind, obj)

    def _remove(self, kind: Kind, obj: dict) -> dict:
        if kind.kind == "Namespace":  # what came with it goes with it
            for own in [o for o in self.store if meta.namespace(o) == meta.name(obj)]:
                self.store.delete(meta.kind_key(own), meta.namespace(own), meta.name(own))
        gone = self.store.delete(kind.key, meta.namespace(obj), meta.name(obj))
        if kind.key == "Service":
            self.addresses.release(obj)
        return gone or obj

    # --- apply: the lab's all-or-nothing batch ---------------------------------------------------
    def apply(
        self, items: builtins.list[dict], *, dry_run: bool = False
    ) -> builtins.list[tuple[str, dict]]:
        """Create or update every item in one transaction; returns (action, object) pairs
        where action is kubectl's word: created / configured / unchanged. On an error
        nothing is applied and the ApiError's details carry the failing item's `index`."""
        results: list[tuple[str, dict]] = []
        with self._allocating(dry_run):  # undone after the store's transaction rolled back
            try:
                with self.store.transaction():
                    for index, item in enumerate(items):
                        try:
                            results.append(self._apply_one(item))
                        except ApiError as e:
                            e.details = {**e.details, "index": index}
                            raise
                    if dry_run:
                        raise _DryRun()
            except _DryRun:
                pass
        return results

    def _apply_one(self, item: dict) -> tuple[str, dict]:
        kind = kind_of(type_meta(item))
        item = self._decode(kind, item)  # wrong types are a 400 before anything reads them
        generate = meta.metadata(item).get("generateName")
        if not meta.name(item) and generate:  # kubectl apply's rule (apply.go), server-side too
            raise err_bad_request(f"from {generate}: cannot use generate name with apply")
        desired = meta.deep_copy(item)
        md = desired.setdefault("metadata", {})
        md.setdefault("annotations", {})[LAST_APPLIED] = json.dumps(item, sort_keys=True) + "\n"
        ns = md.get("namespace") or (C.DEFAULT_NAMESPACE if kind.namespaced else "")
        old = self.store.get(kind.key, ns if kind.namespaced else "", md.get("name", ""))
        if old is None:
            return "created", self.create(desired)
        md.pop("resourceVersion", None)
        _merge_unmanaged_metadata(md, old)
        if kind.kind == "Ingress":  # apply's merge keeps what admission set and no one applied
            _keep_admitted_class(desired, old)
        if kind.kind == "Pod":
            serviceaccounts.keep_admitted(desired, old)
        stored = self.update(desired)
        return ("unchanged" if stored is old else "configured"), stored

    # --- service accounts -----------------------------------------------------------------------
    def _admit_pod(self, pod: dict) -> dict:
        """The ServiceAccount admission plugin (`serviceaccounts.admit_pod`)."""
        name = serviceaccounts.service_account_name(pod)
        sa = self.store.get("ServiceAccount", meta.namespace(pod), name)
        why = serviceaccounts.refusal(pod, sa is not None)
        if why is not None or sa is None:
            raise err_forbidden(
                "pods", meta.name(pod) or meta.metadata(pod).get("generateName", ""), why or ""
            )
        return serviceaccounts.admit_pod(pod, sa, self._side_rng)

    def _namespace_credentials(self, namespace: str) -> None:
        """The `default` ServiceAccount and, once there is a CA, `kube-root-ca.crt`."""
        with self._drawing_from(self._side_rng):
            if self.store.get("ServiceAccount", namespace, serviceaccounts.DEFAULT_SA) is None:
                self.create(serviceaccounts.default_service_account(namespace))
            if self.root_ca_pem is not None:
                self._put_root_ca(namespace, self.root_ca_pem)

    def _put_root_ca(self, namespace: str, pem: str) -> None:
        wanted = serviceaccounts.root_ca_configmap(namespace, pem)
        current = self.store.get("ConfigMap", namespace, serviceaccounts.ROOT_CA_CONFIGMAP)
        if current is None:
            self.create(wanted)
        elif current.get("data") != wanted["data"]:
            self.update({**meta.deep_copy(current), "data": wanted["data"]})

    def publish_root_ca(self, pem: str) -> None:
        """The CA clients in pods trust (root-ca-cert-publisher): into every namespace."""
        self.root_ca_pem = pem
        with self._drawing_from(self._side_rng):
            for ns in self.store.list("Namespace", None):
                if not meta.is_deleting(ns):
                    self._put_root_ca(meta.name(ns), pem)

    @contextmanager
    def _drawing_from(self, rng: random.Random) -> Iterator[None]:
        saved, self.rng = self.rng, rng
        try:
            yield
        finally:
            self.rng = saved

    def create_token(self, namespace: str, name: str, request: dict) -> dict:
        """serviceaccounts/<name>/token (TokenRequest): a token bound to the
        ServiceAccount and, when `spec.boundObjectRef` names one, to a Pod."""
        if self.token_issuer is None:
            raise ApiError(
                503, "ServiceUnavailable", "the service-account token issuer is not ready"
            )
        sa = self.get(by_kind_name("ServiceAccount"), namespace, name)
        spec = request.get("spec") or {}
        expiration = spec.get("expirationSeconds") or 3600
        if not isinstance(expiration, int) or expiration < authn.MIN_EXPIRATION_S:
            raise err_bad_request(
                "spec.expirationSeconds: Invalid value: may not specify a duration less than 10 minutes"
            )
        ref = spec.get("boundObjectRef") or {}
        pod = node = None
        if ref:
            if ref.get("kind") != "Pod":
                raise err_bad_request(f"cannot bind token to object of type {ref.get('kind')}")
            pod = self.get(by_kind_name("Pod"), namespace, ref.get("name", ""))
            if ref.get("uid") and ref["uid"] != meta.uid(pod):
                raise err_conflict(
                    "pods",
                    ref.get("name", ""),
                    "the UID in the bound object reference does not match",
                )
            node_name = meta.spec(pod).get("nodeName")
            node = self.store.get("Node", "", node_name) if node_name else None
        now = self.clock()
        claims, expires = authn.token_claims(sa, pod, expiration, now, node)
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {
                **spec,
                "audiences": spec.get("audiences") or [authn.ISSUER],
                "expirationSeconds": expiration,
            },
            "status": {
                "token": self.token_issuer.issue(claims),
                "expirationTimestamp": rfc3339(expires),
            },
        }

    # --- internals -------------------------------------------------------------------------------
    def _decode(self, kind: Kind, obj: dict) -> dict:
        """Strict decoding against the schema (unknown fields, wrong types): a 400. Then
        what Go's decoder makes of nulls in ObjectMeta: zero values, which are left out."""
        problems = check_schema(obj) or _null_items(obj)
        if problems:
            raise err_bad_request(
                f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                + "; ".join(problems)
            )
        md = obj.get("metadata")
        if md is None or any(v is None for v in md.values()):
            obj = {**obj, "metadata": {k: v for k, v in (md or {}).items() if v is not None}}
        return obj

    def _prepare(self, kind: Kind, obj: dict, namespace: str | None) -> tuple[dict, dict]:
        """Strict decoding against the schema, the v1 conversion, then defaults; fixes the
        namespace. Also returns the object as asked for, before defaults."""
        asked = strategies.convert_from_v1(self._decode(kind, obj))
        obj = apply_defaults(asked)
        md = obj.setdefault("metadata", {})
        if kind.namespaced:
            given = md.get("namespace")
            if namespace and given and given != namespace:
                raise err_bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            md["namespace"] = given or namespace or C.DEFAULT_NAMESPACE
        else:
            md.pop("namespace", None)
        return obj, asked

    def _check_namespace(self, kind: Kind, namespace: str) -> None:
        if not kind.namespaced:
            return
        ns = self.store.get("Namespace", "", namespace)
        if ns is None:
            raise err_not_found("namespaces", namespace)
        if meta.is_deleting(ns):
            raise err_forbidden(
                kind.plural,
                "",
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    def _generate_name(self, kind: Kind, obj: dict) -> str:
        prefix = obj["metadata"]["generateName"]
        for _ in range(10):
            suffix = "".join(self.rng.choice(_SUFFIX_ALPHABET) for _ in range(5))
            if self.store.get(kind.key, meta.namespace(obj), prefix + suffix) is None:
                return prefix + suffix
        raise err_already_exists(kind.plural, prefix, kind.group)

    def _validate(self, kind: Kind, obj: dict, old: dict | None, asked: dict | None) -> None:
        """Validation, and for a Service its IP families then its addresses (`asked`: the
        spec as sent, before defaults; None for a status update, which allocates nothing)."""
        errors: builtins.list[FieldError] = []
        if kind.key == "Service" and asked is not None:  # BeginCreate/BeginUpdate come first
            old_spec = meta.spec(old) if old is not None else None
            errors = ip_family_errors(meta.spec(obj), asked, old_spec, self.ip_families)
        errors = errors or validate(obj, old)
        if not errors and kind.key == "Service":
            errors = self.addresses.allocate(obj, old)  # given back by `_allocating`
        if errors and kind.group == knative.GROUP:  # Knative validates in its webhook
            raise err_webhook_denied(knative.WEBHOOK, errors)
        if errors:
            raise err_invalid(kind.kind, meta.name(obj), errors, kind.group)

    def _warn(self, asked: dict, stored: dict) -> None:
        """Record what this write is warned about (kube-apiserver's WarningsOnCreate and
        WarningsOnUpdate, after a successful write; and lab_kit's NOT_IMPLEMENTED)."""
        for text in warnings_for(asked, stored):
            if text not in self.warnings:
                self.warnings.append(text)

    def take_warnings(self) -> builtins.list[str]:
        """The warnings recorded since the last call (the handler's per-request recorder:
        it takes them at the start of a request, and again at its end)."""
        taken, self.warnings = self.warnings, []
        return taken

    def _write(self, kind: Kind, obj: dict, old: dict | None, dry_run: bool) -> dict:
        if dry_run:
            return obj
        return self.store.put(obj)


def type_meta(obj: Any) -> dict:
    """`obj`, if its apiVersion and kind can be read: what the serializer's
    SimpleMetaFactory.Interpret reads first (a 400 when they are not strings)."""
    if not isinstance(obj, dict):
        raise err_bad_request(
            f"couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{json_type(obj)} into Go value of type struct"
        )
    for field in ("apiVersion", "kind"):
        value = obj.get(field)
        if value is not None and not isinstance(value, str):
            raise err_bad_request(
                f"couldn't get version/kind; json parse error: json: cannot unmarshal "
                f"{json_type(value)} into Go struct field .{field} of type string"
            )
    return obj


def _null_items(obj: dict) -> list[str]:
    """A null inside a list (Go would decode a zero item; the lab's validation expects an
    object or a value there): the first one's path, as one problem."""
    stack: list[tuple[Any, str]] = [(obj, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else k) for k, v in value.items())
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if item is None:
                    return [f"{path}[{i}]: null is not allowed in a list"]
                stack.append((item, f"{path}[{i}]"))
    return []


def _marked_as_deleting(obj: dict, now: float) -> dict:
    """markAsDeleting: an object with finalizers is kept, with deletionTimestamp (now, if
    not yet set: a pod's graceful one stays) and deletionGracePeriodSeconds 0, until its
    finalizers are gone."""
    marked = meta.deep_copy(obj)
    marked["metadata"].setdefault("deletionTimestamp", rfc3339(now))
    marked["metadata"]["deletionGracePeriodSeconds"] = 0
    return marked


def _finalized(obj: dict) -> bool:
    """ShouldDeleteDuringUpdate: being deleted with grace 0 and no finalizer left."""
    md = meta.metadata(obj)
    return (
        obj.get("kind") != "Namespace"
        and bool(md.get("deletionTimestamp"))
        and md.get("deletionGracePeriodSeconds") == 0
        and not md.get("finalizers")
    )


def _no_new_finalizers(kind: Kind, new: dict, old: dict) -> None:
    """rest.BeforeUpdate: an object being deleted takes no new finalizer."""
    if not meta.is_deleting(old):
        return
    before = set(meta.metadata(old).get("finalizers") or [])
    added = [f for f in meta.metadata(new).get("finalizers") or [] if f not in before]
    if added:
        quoted = ", ".join(f'"{f}"' for f in added)
        raise err_forbidden(
            kind.plural,
            meta.name(new),
            "no new finalizers can be added if the object is being deleted, "
            f"found new finalizers []string{{{quoted}}}",
        )


def _merge_unmanaged_metadata(md: dict, old: dict) -> None:
    """kubectl apply's three-way merge, for labels and annotations: keep the keys others
    set (a controller's `deployment.kubernetes.io/revision`), drop the keys the previous
    apply set and this one no longer does, take this apply's values (in place)."""
    try:
        before = json.loads(meta.annotations(old).get(LAST_APPLIED, "{}"))
    except ValueError:
        before = {}
    for field in ("labels", "annotations"):
        previous = (before.get("metadata") or {}).get(field) or {}
        merged = {
            k: v for k, v in (meta.metadata(old).get(field) or {}).items() if k not in previous
        }
        merged.update(md.get(field) or {})
        if merged:
            md[field] = merged
    # metadata.finalizers merges by value (patchStrategy=merge): a controller's stay
    previous_finalizers = (before.get("metadata") or {}).get("finalizers") or []
    kept = [
        f
        for f in meta.metadata(old).get("finalizers") or []
        if f not in previous_finalizers and f not in (md.get("finalizers") or [])
    ]
    if kept:
        md["finalizers"] = kept + list(md.get("finalizers") or [])


class _DryRun(Exception):
    """Raised inside a transaction to roll a dry-run batch back."""


def _keep_admitted_class(desired: dict, old: dict) -> None:
    """An Ingress's class set by DefaultIngressClass is not in the applied configuration,
    so kubectl apply's three-way merge leaves it: re-applying the same file keeps it."""
    spec = desired.setdefault("spec", {})
    last = json.loads(meta.metadata(old).get("annotations", {}).get(LAST_APPLIED, "{}") or "{}")
    applied_class = "ingressClassName" in (last.get("spec") or {})
    admitted = (old.get("spec") or {}).get("ingressClassName")
    if "ingressClassName" not in spec and not applied_class and admitted is not None:
        spec["ingressClassName"] = admitted
