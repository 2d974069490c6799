"""The service controller of cloud-controller-manager, and the lab's cloud behind it.

Mirrors `k8s.io/cloud-provider/controllers/service/controller.go`. A Service the default
cloud handles (`wantsLoadBalancer`: `type: LoadBalancer` and no `spec.loadBalancerClass`)
is ensured: event EnsuringLoadBalancer, the finalizer
`service.kubernetes.io/load-balancer-cleanup` added first (so the Service cannot go before
its load balancer), the cloud's EnsureLoadBalancer, event EnsuredLoadBalancer, then
`status.loadBalancer` written if it changed. A Service that no longer wants one, or is
being deleted with the finalizer (`needsCleanup`), is cleaned: DeletingLoadBalancer (when
the cloud has one), EnsureLoadBalancerDeleted, the finalizer removed, DeletedLoadBalancer,
status emptied. A failure is event SyncLoadBalancerFailed ("Error syncing load balancer:
failed to ensure load balancer: <why>") and a retry 5 s later, doubling up to 300 s
(minRetryDelay, maxRetryDelay). Which changes start a sync is upstream's: a new Service
that wants one, `needsUpdate` (type, ports, annotations, loadBalancerIP, source ranges,
traffic policy, ...), `needsCleanup`; a status write or a finalizer does not. The
controller also keeps each load balancer's node set (`stableNodeSetPredicates`: nodes not
being deleted, not labelled node.kubernetes.io/exclude-from-external-load-balancers, not
tainted ToBeDeletedByClusterAutoscaler; NotReady nodes stay, health checks take them out)
and calls UpdateLoadBalancer when it changes (event UpdatedLoadBalancer, or
UnAvailableLoadBalancer with no node left).

The lab's cloud (`Cloud`, the cloudprovider.LoadBalancer of this "provider"): one load
balancer per Service, named as DefaultLoadBalancerName names it ("a" + the uid without
dashes, 32 characters), with an address from the topology's pool (the `cloud-lb` host's
`pool`): `spec.loadBalancerIP` if it asks for one (deprecated, still honoured by many
clouds) and it is in the pool and free, else the lowest free one; "no address left" when
the pool is spent. Its `ipMode` is VIP unless the Service carries the lab cloud's
annotation `service.beta.kubernetes.io/labkit-load-balancer-ip-mode: Proxy` (clouds select
a proxying load balancer by an annotation of their own). Proxy needs node ports: with
`allocateLoadBalancerNodePorts: false` the cloud refuses it; VIP does without them, the
packets reach kube-proxy still addressed to the load balancer. After a restart the cloud
takes back the addresses the Services' status shows (a real cloud keeps its state).

Level-triggered like the lab's other controllers, but with upstream's memory: the last
version of each Service seen (for needsUpdate), the cache of handled Services (a Service
deleted without the finalizer is cleaned from it), the last node set per load balancer,
and the retry schedule. Pure: `sync` returns per Service the writes to send in order;
`failed` and `conflicted` report back a write the API refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from lab_kit.controllers.events import NORMAL, WARNING, EventRecorder
from lab_kit.controllers.state import Action, Update
from lab_kit.model import meta

FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
IP_MODE_ANNOTATION = "service.beta.kubernetes.io/labkit-load-balancer-ip-mode"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"
COMPONENT = "service-controller"
MIN_RETRY_S, MAX_RETRY_S = 5.0, 300.0
IP_MODES = ("VIP", "Proxy")
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_GO_BOOLS |= {"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def service_key(svc: dict) -> str:
    return f"{meta.namespace(svc)}/{meta.name(svc)}"


def wants_load_balancer(svc: dict) -> bool:
    spec = meta.spec(svc)
    return spec.get("type") == "LoadBalancer" and spec.get("loadBalancerClass") is None


def has_finalizer(svc: dict) -> bool:
    return FINALIZER in (meta.metadata(svc).get("finalizers") or [])


def needs_cleanup(svc: dict) -> bool:
    if not has_finalizer(svc):
        return False
    return meta.is_deleting(svc) or meta.spec(svc).get("type") != "LoadBalancer"


_LB_PORT_FIELDS = ("name", "protocol", "port", "nodePort", "targetPort", "appProtocol")
_LB_SPEC_FIELDS = (
    "type",
    "loadBalancerSourceRanges",
    "sessionAffinity",
    "sessionAffinityConfig",
    "loadBalancerIP",
    "externalIPs",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "ipFamilies",
)


def needs_update(old: dict, new: dict) -> bool:
    """needsUpdate: a change the load balancer must follow."""
    if not wants_load_balancer(old) and not wants_load_balancer(new):
        return False
    if wants_load_balancer(old) != wants_load_balancer(new):
        return True
    so, sn = meta.spec(old), meta.spec(new)
    if any(so.get(f) != sn.get(f) for f in _LB_SPEC_FIELDS):
        return True
    ports_old, ports_new = so.get("ports") or [], sn.get("ports") or []
    if len(ports_old) != len(ports_new) or any(
        po.get(f) != pn.get(f)
        for po, pn in zip(ports_old, ports_new, strict=True)
        for f in _LB_PORT_FIELDS
    ):
        return True
    return meta.annotations(old) != meta.annotations(new) or meta.uid(old) != meta.uid(new)


def node_in_load_balancers(node: dict) -> bool:
    """stableNodeSetPredicates: not being deleted, not excluded by label (a value Go's
    ParseBool cannot read excludes it too), not tainted for deletion by the autoscaler."""
    if meta.is_deleting(node):
        return False
    if EXCLUDE_LABEL in meta.labels(node):
        excluded = _GO_BOOLS.get(meta.labels(node)[EXCLUDE_LABEL], True)
        if excluded:
            return False
    taints = meta.spec(node).get("taints") or []
    return not any(t.get("key") == TO_BE_DELETED_TAINT for t in taints)


def load_balancer_nodes(nodes: list[dict]) -> tuple[str, ...]:
    return tuple(sorted(meta.name(n) for n in nodes if node_in_load_balancers(n)))


def load_balancer_name(svc: dict) -> str:
    """cloudprovider.DefaultLoadBalancerName."""
    return ("a" + meta.uid(svc)).replace("-", "")[:32]


class CloudError(Exception):
    """What the cloud's API answers when it cannot do what was asked."""


@dataclass
class LoadBalancer:
    """One load balancer in the lab's cloud."""

    name: str
    service: str  # namespace/name, for people reading the cloud's view
    ip: str
    ip_mode: str
    nodes: tuple[str, ...] = ()
    ports: list[dict] = field(default_factory=list)


class Cloud:
    """The lab's cloud load-balancer API: a pool of addresses, one balancer per Service."""

    def __init__(self, pool: str):
        self.pool = ipaddress.IPv4Network(pool) if pool else None
        self.balancers: dict[str, LoadBalancer] = {}

    def addresses(self) -> list[str]:
        return [str(a) for a in self.pool] if self.pool else []

    def in_use(self) -> dict[str, LoadBalancer]:
        return {lb.ip: lb for lb in self.balancers.values()}

    def get(self, svc: dict) -> LoadBalancer | None:
        return self.balancers.get(load_balancer_name(svc))

    def adopt(self, services: list[dict]) -> None:
        """After a restart: the balancers the Services' status shows (oldest first)."""
        by_age = sorted(services, key=lambda s: meta.metadata(s).get("creationTimestamp", ""))
        for svc in by_age:
            if not (wants_load_balancer(svc) or has_finalizer(svc)) or self.get(svc):
                continue
            for ingress in (meta.status(svc).get("loadBalancer") or {}).get("ingress") or []:
                ip = ingress.get("ip", "")
                if ip in self.addresses() and ip not in self.in_use():
                    mode = ingress.get("ipMode", "VIP")
                    lb = LoadBalancer(load_balancer_name(svc), service_key(svc), ip, mode)
                    self.balancers[lb.name] = lb
                    break

    def ensure(self, svc: dict, nodes: tuple[str, ...]) -> dict:
        """EnsureLoadBalancer: the balancer made or brought up to date; its status."""
        mode = self._ip_mode(svc)
        ip = self._address(svc)
        name = load_balancer_name(svc)
        ports = [dict(p) for p in meta.spec(svc).get("ports") or []]
        self.balancers[name] = LoadBalancer(name, service_key(svc), ip, mode, nodes, ports)
        return {"ingress": [{"ip": ip, "ipMode": mode}]}

    def update_hosts(self, svc: dict, nodes: tuple[str, ...]) -> None:
        """UpdateLoadBalancer: the balancer's backends are these nodes now."""
        lb = self.get(svc)
        if lb is None:
            raise CloudError(f"load balancer {load_balancer_name(svc)} not found")
        lb.nodes = nodes

    def delete(self, svc: dict) -> None:
        """EnsureLoadBalancerDeleted: gone, its address back in the pool."""
        self.balancers.pop(load_balancer_name(svc), None)

    def _ip_mode(self, svc: dict) -> str:
        mode = meta.annotations(svc).get(IP_MODE_ANNOTATION, "VIP")
        if mode not in IP_MODES:
            raise CloudError(
                f'annotation {IP_MODE_ANNOTATION}: unsupported value "{mode}": '
                'supported values: "VIP", "Proxy"'
            )
        spec = meta.spec(svc)
        for p in spec.get("ports") or []:
            if p.get("protocol", "TCP") not in ("TCP", "UDP"):
                raise CloudError(
                    f"protocol {p.get('protocol')} is not supported by the lab's load balancer"
                )
            if mode == "Proxy" and not p.get("nodePort"):
                raise CloudError(
                    f"ipMode Proxy opens connections to node ports, and port {p.get('port')} "
                    "has none (spec.allocateLoadBalancerNodePorts is false)"
                )
        return mode

    def _address(self, svc: dict) -> str:
        if self.pool is None:
            raise CloudError("the lab's topology gives the cloud no address pool (cloud-lb pool)")
        mine = self.get(svc)
        in_use = {ip: lb for ip, lb in self.in_use().items() if lb.name != load_balancer_name(svc)}
        wanted = meta.spec(svc).get("loadBalancerIP") or ""
        if wanted:
            if wanted not in self.addresses():
                raise CloudError(f"requested IP {wanted} is not in the cloud's pool {self.pool}")
            if wanted in in_use:
                raise CloudError(
                    f"requested IP {wanted} is in use by the load balancer of service "
                    f"{in_use[wanted].service}"
                )
            return wanted
        if mine is not None:
            return mine.ip
        free = [a for a in self.addresses() if a not in in_use]
        if not free:
            raise CloudError(
                f"no address left in the pool {self.pool}: all {len(self.addresses())} are in use"
            )
        return free[0]


@dataclass
class Work:
    """What one Service's sync sends, in order. `required` writes must succeed (else the
    sync failed and is retried); events are best effort."""

    key: str
    actions: list[tuple[Action, bool]] = field(default_factory=list)

    def write(self, action: Action) -> None:
        self.actions.append((action, True))

    def event(self, action: Action) -> None:
        self.actions.append((action, False))


class ServiceController:
    """The service controller's memory and decisions over one cloud."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.recorder = EventRecorder(COMPONENT)
        self.seen: dict[str, dict] = {}  # the informer's last version of each Service
        self.cache: dict[str, dict] = {}  # Services handled (processServiceCreateOrUpdate)
        self.last_synced_nodes: dict[str, tuple[str, ...]] = {}
        self.retry_at: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.nodes: tuple[str, ...] | None = None
        self.started = False

    # --- the round -------------------------------------------------------------------------
    def sync(self, services: list[dict], nodes: list[dict], now: float) -> list[Work]:
        """One round over the caches: the Services whose sync is due, then the node sync."""
        if not self.started:
            self.cloud.adopt(services)
            self.started = True
        current = {service_key(s): s for s in services}
        self.retry_at = {k: t for k, t in self.retry_at.items() if k in current}
        due = [k for k in sorted(current) if self._due(k, current[k], now)]
        gone = [k for k in sorted(self.seen) if k not in current]
        self.seen = dict(current)
        node_set = load_balancer_nodes(nodes)
        work = [self._sync_service(current[k], node_set, now) for k in due]
        work += [w for k in gone if (w := self._deleted(k, now)) is not None]
        if node_set != self.nodes:
            self.nodes = node_set
            work += self._sync_nodes(node_set, now)
        return [w for w in work if w.actions]

    def next_retry(self) -> float | None:
        return min(self.retry_at.values(), default=None)

    def failed(self, key: str, now: float) -> None:
        """A sync failed: retry it after the item's exponential back-off."""
        n = self.failures.get(key, 0)
        self.failures[key] = n + 1
        self.retry_at[key] = now + min(MIN_RETRY_S * 2**n, MAX_RETRY_S)

    def conflicted(self, key: str, now: float) -> None:
        """A write computed from an old version: recompute at once with the new one."""
        self.retry_at[key] = now

    def _due(self, key: str, svc: dict, now: float) -> bool:
        old = self.seen.get(key)
        if key in self.retry_at and self.retry_at[key] <= now:
            del self.retry_at[key]
            return True
        if old is None:  # AddFunc
            return wants_load_balancer(svc) or needs_cleanup(svc)
        if meta.metadata(old).get("resourceVersion") == meta.metadata(svc).get("resourceVersion"):
            return False
        return needs_update(old, svc) or needs_cleanup(svc)  # UpdateFunc

    # --- one Service -----------------------------------------------------------------------
    def _sync_service(self, svc: dict, nodes: tuple[str, ...], now: float) -> Work:
        key = service_key(svc)
        work = Work(key)
        cached = self.cache.get(key)
        if cached is not None and meta.uid(cached) != meta.uid(svc):
            self._delete_load_balancer(cached, work, now)  # deleted and made again at once
        self.cache[key] = svc
        if not wants_load_balancer(svc) or needs_cleanup(svc):
            self._clean(svc, work, now)
        else:
            self._ensure(svc, nodes, work, now)
        return work

    def _ensure(self, svc: dict, nodes: tuple[str, ...], work: Work, now: float) -> None:
        self._event(work, svc, NORMAL, "EnsuringLoadBalancer", "Ensuring load balancer", now)
        if not has_finalizer(svc):
            updated = meta.deep_copy(svc)
            updated["metadata"]["finalizers"] = [
                *(meta.metadata(svc).get("finalizers") or []),
                FINALIZER,
            ]
            work.write(Update(updated))
        if not nodes:
            msg = "There are no available nodes for LoadBalancer"
            self._event(work, svc, WARNING, "UnAvailableLoadBalancer", msg, now)
        try:
            status = self.cloud.ensure(svc, nodes)
        except CloudError as e:
            self._sync_failed(svc, work, f"failed to ensure load balancer: {e}", now)
            return
        self.last_synced_nodes[work.key] = nodes
        self.failures.pop(work.key, None)
        self._event(work, svc, NORMAL, "EnsuredLoadBalancer", "Ensured load balancer", now)
        self._patch_status(svc, status, work)

    def _clean(self, svc: dict, work: Work, now: float) -> None:
        if self.cloud.get(svc) is not None:
            self._event(work, svc, NORMAL, "DeletingLoadBalancer", "Deleting load balancer", now)
            self.cloud.delete(svc)
        if has_finalizer(svc):
            updated = meta.deep_copy(svc)
            kept = [f for f in updated["metadata"]["finalizers"] if f != FINALIZER]
            if kept:
                updated["metadata"]["finalizers"] = kept
            else:
                updated["metadata"].pop("finalizers")
            work.write(Update(updated))
        self._event(work, svc, NORMAL, "DeletedLoadBalancer", "Deleted load balancer", now)
        self._patch_status(svc, {}, work)
        self.cache.pop(work.key, None)
        self.last_synced_nodes.pop(work.key, None)
        self.failures.pop(work.key, None)

    def _deleted(self, key: str, now: float) -> Work | None:
        """processServiceDeletion: gone without our finalizer; clean what we made for it."""
        self.retry_at.pop(key, None)
        self.failures.pop(key, None)
        cached = self.cache.pop(key, None)
        self.last_synced_nodes.pop(key, None)
        if cached is None:
            return None
        work = Work(key)
        self._delete_load_balancer(cached, work, now)
        return work

    def _delete_load_balancer(self, svc: dict, work: Work, now: float) -> None:
        """processLoadBalancerDelete."""
        if not wants_load_balancer(svc):
            return
        self._event(work, svc, NORMAL, "DeletingLoadBalancer", "Deleting load balancer", now)
        self.cloud.delete(svc)
        self._event(work, svc, NORMAL, "DeletedLoadBalancer", "Deleted load balancer", now)

    def _sync_failed(self, svc: dict, work: Work, why: str, now: float) -> None:
        msg = f"Error syncing load balancer: {why}"
        self._event(work, svc, WARNING, "SyncLoadBalancerFailed", msg, now)
        self.failed(work.key, now)

    def _patch_status(self, svc: dict, status: dict, work: Work) -> None:
        if (meta.status(svc).get("loadBalancer") or {}) == status:
            return
        updated = meta.deep_copy(svc)
        updated.setdefault("status", {})["loadBalancer"] = status
        # a PATCH upstream: no resourceVersion, so the finalizer written just before
        # (a newer version) does not make it a conflict
        updated["metadata"].pop("resourceVersion", None)
        work.write(Update(updated, subresource="status"))

    def _event(
        self, work: Work, svc: dict, type_: str, reason: str, message: str, now: float
    ) -> None:
        work.event(self.recorder.record(svc, type_, reason, message, now))

    # --- nodes -----------------------------------------------------------------------------
    def _sync_nodes(self, nodes: tuple[str, ...], now: float) -> list[Work]:
        """syncNodes: every balancer whose node set differs gets UpdateLoadBalancer."""
        out = []
        for key in sorted(self.cache):
            svc = self.seen.get(key)
            if svc is None or not wants_load_balancer(svc) or self.cloud.get(svc) is None:
                continue
            if self.last_synced_nodes.get(key) == nodes:
                continue
            self.last_synced_nodes[key] = nodes
            work = Work(key)
            self.cloud.update_hosts(svc, nodes)
            if nodes:
                msg = "Updated load balancer with new hosts"
                self._event(work, svc, NORMAL, "UpdatedLoadBalancer", msg, now)
            else:
                msg = "There are no available nodes for LoadBalancer"
                self._event(work, svc, WARNING, "UnAvailableLoadBalancer", msg, now)
            out.append(work)
        return out
