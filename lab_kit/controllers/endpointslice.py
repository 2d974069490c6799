"""The EndpointSlice controller and the EndpointSlice mirroring controller.

Mirrors `kubernetes/kubernetes:pkg/controller/endpointslice` (syncService) with its
reconciler in `staging/src/k8s.io/endpointslice` (reconciler.go Reconcile,
reconcileByAddressType, reconcileByPortMapping, finalize; utils.go podToEndpoint,
getEndpointPorts, newEndpointSlice, setEndpointSliceLabels, getSliceToFill), and
`pkg/controller/endpointslicemirroring` (syncEndpoints, reconciler.go, utils.go
addressToEndpoint, newEndpointSlice; reconciler_helpers.go recycleSlices).

Service slices (managed-by `endpointslice-controller.k8s.io`), for Services with a
selector and not of type ExternalName:
- generateName `<service>-`, labels `kubernetes.io/service-name`, managed-by, the
  Service's labels and `service.kubernetes.io/headless` for clusterIP None; a controller
  ownerReference to the Service; one addressType per Service IP family.
- One group of slices per distinct set of resolved ports, so pods whose named targetPort
  resolves to different numbers land in different slices; ≤ MAX_ENDPOINTS_PER_SLICE
  endpoints per slice.
- Endpoint: addresses [pod IP], conditions serving = pod Ready, terminating = pod has a
  deletionTimestamp, ready = publishNotReadyAddresses OR (serving AND NOT terminating);
  targetRef, nodeName, zone (node label topology.kubernetes.io/zone), hostname. Terminating
  pods are included. A pod on a Node that does not exist is skipped unless
  publishNotReadyAddresses.
- Churn is minimised as upstream: endpoints stay in the slice that holds them, changed
  slices are refilled fullest-first, leftovers go to the unchanged slice they fit best,
  creates replace deletes by updating the doomed slice in place, and an empty Service
  keeps one placeholder slice (no endpoints, no ports). Nothing is written when equal.
- Slices whose Service no longer exists are deleted (Kubernetes leaves this to the
  garbage collector through the ownerReference; both happen here, the second delete
  finds nothing). As upstream, slices stay when a Service merely loses its selector.

Mirrored slices (managed-by `endpointslicemirroring-controller.k8s.io`): for a
selector-less Service with a same-named Endpoints object (not labelled
`endpointslice.kubernetes.io/skip-mirror: "true"`, no leader-election annotation), one
slice per (address type, port set) of the repacked subsets, ≤ 1000 addresses per subset,
endpoints carrying only the `ready` condition; labels = the Endpoints' labels +
service-name + managed-by, annotations copied (minus last-applied-configuration and
last-change-trigger-time), controller ownerReference to the Endpoints. They are deleted
when the Service or the Endpoints goes away or the Service gains a selector.

Slices with any other managed-by value (user-made ones) are never touched.

Deviations: endpoints inside a written slice are sorted by address then pod name (upstream
order is whatever its set yields); a Service without spec.ipFamilies gets one IPv4 or
IPv6 slice family from its clusterIP, and a headless one IPv4 only (upstream assumes dual
stack there, a state a real API server never leaves a Service in). Left out: topology
hints / trafficDistribution, stale-cache
tracking.
"""

from __future__ import annotations

import ipaddress

from lab_kit.controllers import pods
from lab_kit.controllers.endpoints import (
    HEADLESS_LABEL,
    LEADER_ANNOTATION,
    is_service_ip_set,
    repack_subsets,
    selected_pods,
)
from lab_kit.controllers.state import Action, Create, Delete, Snapshot, Update
from lab_kit.model import constants, meta

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MIRROR_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
MAX_MIRRORED_PER_SUBSET = 1000  # --mirroring-max-endpoints-per-subset default
_RESERVED_LABELS = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)


def reconcile(state: Snapshot, now: float) -> list[Action]:
    actions = reconcile_services(state)
    for action in actions:
        stamp_trigger_time(action, now)
    return actions + reconcile_mirroring(state)


def stamp_trigger_time(action: Action, now: float) -> None:
    """`endpoints.kubernetes.io/last-change-trigger-time` on every slice this controller
    writes: kube-proxy measures network programming latency from it. Upstream takes the
    time of the Pod/Service change that caused the write; here it is the time the
    controller acted on it (at most one reconcile later), in RFC 3339 with nanoseconds."""
    if isinstance(action, (Create, Update)) and action.obj.get("kind") == "EndpointSlice":
        md = action.obj["metadata"]
        md["annotations"] = {
            **(md.get("annotations") or {}),
            TRIGGER_TIME_ANNOTATION: meta.rfc3339_nano(now),
        }


# --- shared helpers --------------------------------------------------------------------------


def managed_slices(state: Snapshot, namespace: str, name: str, controller: str) -> list[dict]:
    """Slices labelled for this Service name and managed by `controller`, by name."""
    return [
        s
        for s in state.list("EndpointSlice", namespace)
        if meta.labels(s).get(SERVICE_NAME_LABEL) == name
        and meta.labels(s).get(MANAGED_BY_LABEL) == controller
    ]


def port_map_key(ports: list[dict] | None) -> tuple:
    """endpointsliceutil.NewPortMapKey: the port set, order-insensitive."""
    return tuple(
        sorted(
            (
                p.get("name") or "",
                p.get("port") or 0,
                p.get("protocol") or "",
                p.get("appProtocol") or "",
            )
            for p in ports or []
        )
    )


def endpoint_hash(endpoint: dict) -> tuple:
    """hashEndpoint: identity of an endpoint across syncs (addresses, hostname, pod)."""
    ref = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or [])),
        endpoint.get("hostname") or "",
        ref.get("namespace", ""),
        ref.get("name", ""),
    )


def _endpoint_sort_key(endpoint: dict) -> tuple:
    addresses = endpoint.get("addresses") or [""]
    return (addresses[0], (endpoint.get("targetRef") or {}).get("name", ""))


def _same_endpoint(a: dict, b: dict) -> bool:
    """EndpointsEqualBeyondHash, ignoring targetRef.resourceVersion."""

    def clean(e: dict) -> dict:
        e = meta.deep_copy(e)
        (e.get("targetRef") or {}).pop("resourceVersion", None)
        return e

    return clean(a) == clean(b)


def _delete(slice_: dict) -> Delete:
    return Delete("EndpointSlice", meta.namespace(slice_), meta.name(slice_), meta.uid(slice_))


def _take_over(new: dict, old: dict) -> dict:
    """`new` written under `old`'s name and resourceVersion (an update, not a create)."""
    md = meta.deep_copy(old["metadata"])
    for field in ("labels", "annotations", "ownerReferences"):
        if new["metadata"].get(field):
            md[field] = new["metadata"][field]
        else:
            md.pop(field, None)
    recycled = meta.deep_copy(new)
    recycled["metadata"] = md
    return recycled


def _sorted_endpoints(slice_: dict) -> dict:
    slice_["endpoints"] = sorted(slice_.get("endpoints") or [], key=_endpoint_sort_key)
    return slice_


def _write_actions(
    creates: list[dict], updates: list[dict], deletes: list[dict], may_create: bool
) -> list[Action]:
    actions: list[Action] = []
    if may_create:
        actions.extend(Create(_sorted_endpoints(s)) for s in creates)
    actions.extend(Update(_sorted_endpoints(s)) for s in updates)
    actions.extend(_delete(s) for s in deletes)
    return actions


# --- Service slices --------------------------------------------------------------------------


def reconcile_services(state: Snapshot) -> list[Action]:
    actions: list[Action] = []
    for service in state.list("Service"):
        spec = meta.spec(service)
        if spec.get("type") != "ExternalName" and spec.get("selector"):
            actions.extend(sync_service(state, service))
    actions.extend(delete_orphaned_slices(state))
    return actions


def address_types(service: dict) -> list[str]:
    """getAddressTypesForService (headless without ipFamilies: IPv4, see module doc)."""
    families = [f for f in meta.spec(service).get("ipFamilies") or [] if f in ("IPv4", "IPv6")]
    if families:
        return list(dict.fromkeys(families))
    cluster_ip = meta.spec(service).get("clusterIP") or ""
    return ["IPv6" if pods.is_ipv6(cluster_ip) else "IPv4"]


def sync_service(state: Snapshot, service: dict) -> list[Action]:
    existing = managed_slices(state, meta.namespace(service), meta.name(service), CONTROLLER_NAME)
    supported = address_types(service)
    selected = selected_pods(state, service)
    actions: list[Action] = []
    for address_type in supported:
        mine = [s for s in existing if s.get("addressType") == address_type]
        actions.extend(_ServiceSlices(state, service, address_type).reconcile(selected, mine))
    actions.extend(_delete(s) for s in existing if s.get("addressType") not in supported)
    return actions


def owned_by(slice_: dict, service: dict) -> bool:
    return any(
        ref.get("uid") == meta.uid(service)
        and ref.get("kind") == "Service"
        and ref.get("apiVersion") == "v1"
        for ref in meta.metadata(slice_).get("ownerReferences") or []
    )


def slice_labels(slice_: dict | None, service: dict) -> tuple[dict, bool]:
    """setEndpointSliceLabels: (labels the slice should carry, non-reserved ones changed)."""
    own = {
        k: v
        for k, v in (meta.labels(slice_) if slice_ else {}).items()
        if k not in _RESERVED_LABELS
    }
    labels = {k: v for k, v in meta.labels(service).items() if k not in _RESERVED_LABELS}
    changed = own != labels
    if not is_service_ip_set(service):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = meta.name(service)
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels, changed


def new_slice(service: dict, ports: list[dict], address_type: str) -> dict:
    """newEndpointSlice: empty, named by the API server from `<service>-`."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{meta.name(service)}-",
            "namespace": meta.namespace(service),
            "labels": slice_labels(None, service)[0],
            "ownerReferences": [meta.owner_reference(service)],
        },
        "addressType": address_type,
        "endpoints": [],
        "ports": meta.deep_copy(ports),
    }


def endpoint_ports(service: dict, pod: dict) -> list[dict]:
    """getEndpointPorts: the Service's ports as this pod resolves them."""
    spec = meta.spec(service)
    ports: list[dict] = []
    for service_port in spec.get("ports") or []:
        number = pods.find_port(pod, service_port)
        if number is None:
            continue
        port = {"name": service_port.get("name") or "", "port": number}
        port["protocol"] = service_port.get("protocol") or "TCP"
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def pod_to_endpoint(pod: dict, node: dict | None, service: dict, address_type: str) -> dict:
    """podToEndpoint: the slice entry for one pod, with its three conditions."""
    serving = pods.is_pod_ready(pod)
    terminating = meta.is_deleting(pod)
    ready = bool(meta.spec(service).get("publishNotReadyAddresses")) or (
        serving and not terminating
    )
    ip = pods.pod_ip(pod, address_type)
    endpoint: dict = {
        "addresses": [ip] if ip else [],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if pods.should_set_hostname(pod, service):
        endpoint["hostname"] = meta.spec(pod)["hostname"]
    endpoint["targetRef"] = {
        "kind": "Pod",
        "namespace": meta.namespace(pod),
        "name": meta.name(pod),
        "uid": meta.uid(pod),
    }
    if meta.spec(pod).get("nodeName"):
        endpoint["nodeName"] = meta.spec(pod)["nodeName"]
    if node is not None and meta.labels(node).get(ZONE_LABEL):
        endpoint["zone"] = meta.labels(node)[ZONE_LABEL]
    return endpoint


def get_slice_to_fill(slices: list[dict], count: int, maximum: int) -> dict | None:
    """getSliceToFill: the unchanged slice that `count` endpoints fill most snugly."""
    closest_diff, closest = maximum, None
    for slice_ in slices:
        diff = maximum - (count + len(slice_.get("endpoints") or []))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, slice_
            if diff == 0:
                break
    return closest


def _placeholder_equal(slice_: dict, placeholder: dict) -> bool:
    """placeholderSliceCompare: namespace, labels and content (nil == empty)."""
    return (
        meta.namespace(slice_) == meta.namespace(placeholder)
        and meta.labels(slice_) == meta.labels(placeholder)
        and slice_.get("addressType") == placeholder.get("addressType")
        and not slice_.get("endpoints")
        and not slice_.get("ports")
    )


class _ServiceSlices:
    """reconcileByAddressType for one Service and one address type."""

    def __init__(self, state: Snapshot, service: dict, address_type: str):
        self.state, self.service, self.address_type = state, service, address_type
        self.maximum = constants.MAX_ENDPOINTS_PER_SLICE

    def desired(self, selected: list[dict]) -> tuple[dict[tuple, dict], dict[tuple, list]]:
        """Endpoints wanted per port set, and the port list of each set."""
        nodes = {meta.name(n): n for n in self.state.list("Node")}
        publish = bool(meta.spec(self.service).get("publishNotReadyAddresses"))
        wanted: dict[tuple, dict] = {}
        ports_by_key: dict[tuple, list] = {}
        for pod in selected:
            if not pods.should_pod_be_in_endpoints(pod, True):
                continue
            ports = endpoint_ports(self.service, pod)
            key = port_map_key(ports)
            wanted.setdefault(key, {})
            ports_by_key.setdefault(key, ports)
            node = nodes.get(meta.spec(pod).get("nodeName", ""))
            if node is None and not publish:
                continue
            endpoint = pod_to_endpoint(pod, node, self.service, self.address_type)
            if endpoint["addresses"]:
                wanted[key][endpoint_hash(endpoint)] = endpoint
        return wanted, ports_by_key

    def reconcile(self, selected: list[dict], existing: list[dict]) -> list[Action]:
        creates: list[dict] = []
        updates: list[dict] = []
        deletes: list[dict] = []
        by_key: dict[tuple, list[dict]] = {}
        for slice_ in existing:
            if owned_by(slice_, self.service):
                by_key.setdefault(port_map_key(slice_.get("ports")), []).append(slice_)
            else:
                deletes.append(slice_)
        wanted, ports_by_key = self.desired(selected)
        for key in sorted(wanted):
            c, u, d = self.by_port_mapping(by_key.get(key, []), wanted[key], ports_by_key[key])
            creates, updates, deletes = creates + c, updates + u, deletes + d
        for key in sorted(k for k in by_key if k not in wanted):
            deletes.extend(by_key[key])
        if len(existing) == len(deletes) and not creates:
            placeholder = new_slice(self.service, [], self.address_type)
            if len(deletes) == 1 and _placeholder_equal(deletes[0], placeholder):
                deletes = []
            else:
                creates.append(placeholder)
        return self.finalize(creates, updates, deletes)

    def by_port_mapping(
        self, existing: list[dict], wanted: dict, ports: list
    ) -> tuple[list, list, list]:
        """reconcileByPortMapping: (slices to create, to update, to delete)."""
        wanted = dict(sorted(wanted.items(), key=lambda kv: _endpoint_sort_key(kv[1])))
        by_name, unchanged, to_update, to_delete = {}, [], [], []
        for slice_ in sorted(existing, key=meta.name):
            name = meta.name(slice_)
            by_name[name] = slice_
            kept, changed = [], False
            for endpoint in slice_.get("endpoints") or []:
                got = wanted.pop(endpoint_hash(endpoint), None)
                if got is not None:
                    kept.append(got)
                    changed = changed or not _same_endpoint(got, endpoint)
            labels, labels_changed = slice_labels(slice_, self.service)
            if (changed or len(kept) != len(slice_.get("endpoints") or [])) and not kept:
                to_delete.append(name)
            elif changed or len(kept) != len(slice_.get("endpoints") or []) or labels_changed:
                by_name[name] = {**meta.deep_copy(slice_), "endpoints": kept}
                by_name[name]["metadata"]["labels"] = labels
                to_update.append(name)
            else:
                unchanged.append(name)
        self.fill(wanted, [by_name[n] for n in to_update])
        creates = self.spill(wanted, by_name, unchanged, to_update, ports)
        return creates, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]

    def fill(self, wanted: dict, slices: list[dict]) -> None:
        """Step 2: top up the slices being updated anyway, fullest first."""
        for slice_ in sorted(slices, key=lambda s: (-len(s["endpoints"]), meta.name(s))):
            while wanted and len(slice_["endpoints"]) < self.maximum:
                slice_["endpoints"].append(wanted.pop(next(iter(wanted))))

    def spill(
        self, wanted: dict, by_name: dict, unchanged: list, to_update: list, ports: list
    ) -> list[dict]:
        """Step 3: leftovers go to the best-fitting unchanged slice, else to new slices."""
        creates = []
        while wanted:
            target = None
            if len(wanted) < self.maximum and unchanged:
                target = get_slice_to_fill(
                    [by_name[n] for n in unchanged], len(wanted), self.maximum
                )
            if target is None:
                target = new_slice(self.service, ports, self.address_type)
            else:
                target = meta.deep_copy(target)
                by_name[meta.name(target)] = target
            while wanted and len(target["endpoints"]) < self.maximum:
                target["endpoints"].append(wanted.pop(next(iter(wanted))))
            if meta.name(target):
                unchanged.remove(meta.name(target))
                to_update.append(meta.name(target))
            else:
                creates.append(target)
        return creates

    def finalize(self, creates: list, updates: list, deletes: list) -> list[Action]:
        """finalize: turn create+delete pairs into in-place updates, then write."""
        i = 0
        while i < len(deletes) and creates:
            doomed = deletes[i]
            if doomed.get("addressType") == creates[-1].get("addressType") and owned_by(
                doomed, self.service
            ):
                updates.append(_take_over(creates.pop(), doomed))
                deletes.pop(i)
            else:
                i += 1
        return _write_actions(creates, updates, deletes, not meta.is_deleting(self.service))


def delete_orphaned_slices(state: Snapshot) -> list[Action]:
    """Controller-managed slices whose Service is gone."""
    return [
        _delete(s)
        for s in state.list("EndpointSlice")
        if meta.labels(s).get(MANAGED_BY_LABEL) == CONTROLLER_NAME
        and not meta.is_deleting(s)
        and state.get("Service", meta.namespace(s), meta.labels(s).get(SERVICE_NAME_LABEL, ""))
        is None
    ]


# --- mirroring -----------------------------------------------------------------------------


def reconcile_mirroring(state: Snapshot) -> list[Action]:
    """EndpointSliceMirroring: user Endpoints of selector-less Services → slices."""
    mirrored: dict[tuple[str, str], list[dict]] = {}
    for s in state.list("EndpointSlice"):
        if meta.labels(s).get(MANAGED_BY_LABEL) == MIRROR_CONTROLLER_NAME:
            key = (meta.namespace(s), meta.labels(s).get(SERVICE_NAME_LABEL, ""))
            mirrored.setdefault(key, []).append(s)
    actions: list[Action] = []
    for endpoints in state.list("Endpoints"):
        existing = mirrored.pop((meta.namespace(endpoints), meta.name(endpoints)), [])
        service = state.get("Service", meta.namespace(endpoints), meta.name(endpoints))
        if (
            should_mirror(endpoints)
            and service is not None
            and not meta.spec(service).get("selector")
        ):
            actions.extend(mirror_endpoints(endpoints, existing))
        else:
            actions.extend(_delete(s) for s in existing)
    for leftovers in mirrored.values():  # their Endpoints object is gone
        actions.extend(_delete(s) for s in leftovers)
    return actions


def should_mirror(endpoints: dict) -> bool:
    return meta.labels(endpoints).get(
        SKIP_MIRROR_LABEL
    ) != "true" and LEADER_ANNOTATION not in meta.annotations(endpoints)


def address_to_endpoint(address: dict, ready: bool) -> tuple[dict | None, str]:
    """addressToEndpoint: (endpoint, address type); (None, "") for an invalid IP."""
    try:
        ip = ipaddress.ip_address(address.get("ip", ""))
    except ValueError:
        return None, ""
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    endpoint: dict = {"addresses": [str(ip)], "conditions": {"ready": ready}}
    if address.get("hostname"):
        endpoint["hostname"] = address["hostname"]
    if address.get("targetRef"):
        endpoint["targetRef"] = meta.deep_copy(address["targetRef"])
    if address.get("nodeName"):
        endpoint["nodeName"] = address["nodeName"]
    return endpoint, "IPv4" if ip.version == 4 else "IPv6"


def _mirror_ports(ports: list[dict]) -> list[dict]:
    """epPortsToEpsPorts."""
    out = []
    for p in ports:
        port = {
            "name": p.get("name") or "",
            "port": p.get("port"),
            "protocol": p.get("protocol") or "TCP",
        }
        if p.get("appProtocol"):
            port["appProtocol"] = p["appProtocol"]
        out.append(port)
    return out


def mirrored_desired(endpoints: dict) -> tuple[dict[tuple, dict], dict[tuple, list]]:
    """desiredCalc: endpoints per (address type, port set) of the repacked subsets."""
    wanted: dict[tuple, dict] = {}
    ports_by_key: dict[tuple, list] = {}
    for subset in repack_subsets(endpoints.get("subsets") or []):
        ports = _mirror_ports(subset.get("ports") or [])
        keys = {t: (t, port_map_key(ports)) for t in ("IPv4", "IPv6")}
        for key in keys.values():
            wanted.setdefault(key, {})
            ports_by_key[key] = ports
        listed = [(a, True) for a in subset.get("addresses") or []]
        listed += [(a, False) for a in subset.get("notReadyAddresses") or []]
        added = 0
        for address, ready in listed:
            if added >= MAX_MIRRORED_PER_SUBSET:
                break
            endpoint, address_type = address_to_endpoint(address, ready)
            if endpoint is not None:
                wanted[keys[address_type]][endpoint_hash(endpoint)] = endpoint
                added += 1
    return wanted, ports_by_key


def mirror_slice(endpoints: dict, ports: list[dict], address_type: str, name: str) -> dict:
    """The mirroring controller's newEndpointSlice."""
    labels = {**meta.labels(endpoints), SERVICE_NAME_LABEL: meta.name(endpoints)}
    labels[MANAGED_BY_LABEL] = MIRROR_CONTROLLER_NAME
    skipped = (TRIGGER_TIME_ANNOTATION, LAST_APPLIED_ANNOTATION)
    annotations = {k: v for k, v in meta.annotations(endpoints).items() if k not in skipped}
    md: dict = {"name": name} if name else {"generateName": f"{meta.name(endpoints)}-"}
    md.update(namespace=meta.namespace(endpoints), labels=labels)
    if annotations:
        md["annotations"] = annotations
    md["ownerReferences"] = [meta.owner_reference(endpoints)]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": md,
        "addressType": address_type,
        "endpoints": [],
        "ports": meta.deep_copy(ports),
    }


def _mirror_up_to_date(endpoints: dict, slice_: dict, wanted: dict) -> bool:
    """totalChanges == 0 and labels/annotations as the Endpoints dictate."""
    have = {endpoint_hash(e): e for e in slice_.get("endpoints") or []}
    if have.keys() != wanted.keys() or len(have) != len(slice_.get("endpoints") or []):
        return False
    if not all(_same_endpoint(wanted[h], e) for h, e in have.items()):
        return False
    labels = {
        k: v
        for k, v in meta.labels(slice_).items()
        if k not in (MANAGED_BY_LABEL, SERVICE_NAME_LABEL)
    }
    skipped = (TRIGGER_TIME_ANNOTATION, LAST_APPLIED_ANNOTATION)
    annotations = {k: v for k, v in meta.annotations(endpoints).items() if k not in skipped}
    return labels == meta.labels(endpoints) and annotations == meta.annotations(slice_)


def mirror_endpoints(endpoints: dict, existing: list[dict]) -> list[Action]:
    """The mirroring reconciler: one slice per (address type, port set)."""
    wanted, ports_by_key = mirrored_desired(endpoints)
    by_key: dict[tuple, list[dict]] = {}
    for s in existing:
        by_key.setdefault((s.get("addressType"), port_map_key(s.get("ports"))), []).append(s)
    creates, updates, deletes = [], [], []
    for key in sorted(wanted):
        slices = by_key.get(key, [])
        if not wanted[key]:
            deletes.extend(slices)
            continue
        deletes.extend(slices[1:])
        if slices and _mirror_up_to_date(endpoints, slices[0], wanted[key]):
            continue
        fresh = mirror_slice(endpoints, ports_by_key[key], key[0], "")
        fresh["endpoints"] = sorted(wanted[key].values(), key=_endpoint_sort_key)[
            :MAX_MIRRORED_PER_SUBSET
        ]
        if slices:
            updates.append(_take_over(fresh, slices[0]))
        else:
            creates.append(fresh)
    for key in sorted(k for k in by_key if k not in wanted):
        deletes.extend(by_key[key])
    _recycle(creates, updates, deletes)
    return _write_actions(creates, updates, deletes, not meta.is_deleting(endpoints))


def _recycle(creates: list[dict], updates: list[dict], deletes: list[dict]) -> None:
    """recycleSlices: pair creates with deletes of the same address type."""
    for address_type in ("IPv4", "IPv6"):
        new = [s for s in creates if s.get("addressType") == address_type]
        old = [s for s in deletes if s.get("addressType") == address_type]
        for fresh, doomed in zip(new, old, strict=False):
            creates.remove(fresh)
            deletes.remove(doomed)
            updates.append(_take_over(fresh, doomed))
