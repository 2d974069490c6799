"""The legacy Endpoints controller: one `v1 Endpoints` per Service with a selector.

Mirrors `kubernetes/kubernetes:pkg/controller/endpoint/endpoints_controller.go`
(syncService, podToEndpointAddressForService, addEndpointSubset, truncateEndpoints,
checkLeftoverEndpoints) and `pkg/api/v1/endpoints/util.go` (RepackSubsets).

- Services of type ExternalName or without a selector are skipped: the Endpoints of a
  selector-less Service belong to the user.
- Pods: same namespace, matching the selector, not terminal, with an IP, and not
  terminating unless `publishNotReadyAddresses` (ShouldPodBeInEndpoints). Ready pods (or
  all, with publishNotReadyAddresses) go to `addresses`, others to `notReadyAddresses`.
- EndpointAddress {ip, hostname (spec.hostname when spec.subdomain is the Service's name),
  nodeName, targetRef{kind Pod, namespace, name, uid}}; ports {name, port = targetPort
  resolved per pod (named ports by name AND protocol; a pod without the port is left out
  for it), protocol, appProtocol}. A headless Service without ports still lists addresses.
- Subsets are repacked: addresses offering the same ports share a subset; an address that
  is not ready for any port is not ready for that port set.
- Labels = the Service's labels, `endpoints.kubernetes.io/managed-by: endpoint-controller`,
  plus `service.kubernetes.io/headless: ""` when clusterIP
  is None. Over 1000 addresses the lists are truncated and annotated
  `endpoints.kubernetes.io/over-capacity: truncated`.
- Nothing is written when subsets, labels and the capacity annotation already match.
- An Endpoints object whose Service no longer exists is deleted (unless it carries the
  leader-election annotation); one whose Service exists without a selector is left alone.

Deviations: addresses are sorted by IP string then UID as Kubernetes sorts them, but
ports inside a subset are sorted by (name, port, protocol) and subsets by their ports then
addresses, where Kubernetes orders both by an md5 hash of the Go struct; the
`endpoints.kubernetes.io/last-change-trigger-time` annotation is not written. Because this
runs as a periodic reconcile, a hand-made Endpoints object created *before* its Service is
deleted at once (Kubernetes only notices at controller start-up).
"""

from __future__ import annotations

import math

from lab_kit.controllers import pods
from lab_kit.controllers.state import Action, Create, Delete, Snapshot, Update
from lab_kit.model import constants, meta, selectors

HEADLESS_LABEL = "service.kubernetes.io/headless"
# LabelManagedBy (pkg/controller/endpoint): marks the Endpoints this controller wrote, so
# hand-made ones (a selector-less Service's) are never taken for leftovers.
MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


def reconcile(state: Snapshot, now: float) -> list[Action]:
    actions: list[Action] = []
    for service in state.list("Service"):
        action = sync_service(state, service)
        if action:
            actions.append(action)
    actions.extend(delete_leftovers(state))
    return actions


def is_service_ip_set(service: dict) -> bool:
    """helper.IsServiceIPSet: a real ClusterIP (not "" and not None)."""
    return (meta.spec(service).get("clusterIP") or "None") != "None"


def selected_pods(state: Snapshot, service: dict) -> list[dict]:
    selector = meta.spec(service).get("selector") or {}
    return [
        p
        for p in state.list("Pod", meta.namespace(service))
        if selectors.matches_map(selector, meta.labels(p))
    ]


def sync_service(state: Snapshot, service: dict) -> Action | None:
    spec = meta.spec(service)
    if spec.get("type") == "ExternalName" or not spec.get("selector"):
        return None
    current = state.get("Endpoints", meta.namespace(service), meta.name(service))
    wanted = build_endpoints(service, desired_subsets(state, service), current)
    if current is not None and _strip_resource_versions(current) == wanted:
        return None
    return Update(wanted) if current is not None else Create(wanted)


def desired_subsets(state: Snapshot, service: dict) -> list[dict]:
    """The repacked subsets for the Service's current pods."""
    spec = meta.spec(service)
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    singles: list[dict] = []
    for pod in selected_pods(state, service):
        if not pods.should_pod_be_in_endpoints(pod, publish_not_ready):
            continue
        address = endpoint_address(service, pod)
        if address is None:
            continue
        ready = publish_not_ready or pods.is_pod_ready(pod)
        if not spec.get("ports"):
            if spec.get("clusterIP") == "None":
                singles.append(_single_subset(address, ready, None))
            continue
        for service_port in spec["ports"]:
            number = pods.find_port(pod, service_port)
            if number is not None:
                singles.append(_single_subset(address, ready, endpoint_port(service_port, number)))
    return repack_subsets(singles)


def endpoint_address(service: dict, pod: dict) -> dict | None:
    """podToEndpointAddressForService (+ the hostname rule)."""
    ip = pods.pod_ip(pod, pods.service_ip_family(service, pod))
    if not ip:
        return None
    address: dict = {"ip": ip}
    if pods.should_set_hostname(pod, service):
        address["hostname"] = meta.spec(pod)["hostname"]
    if meta.spec(pod).get("nodeName"):
        address["nodeName"] = meta.spec(pod)["nodeName"]
    address["targetRef"] = {
        "kind": "Pod",
        "namespace": meta.namespace(pod),
        "name": meta.name(pod),
        "uid": meta.uid(pod),
    }
    return address


def endpoint_port(service_port: dict, number: int) -> dict:
    """endpointPortFromServicePort (name omitted when empty, as the JSON omits it)."""
    port: dict = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _single_subset(address: dict, ready: bool, port: dict | None) -> dict:
    subset = {"addresses" if ready else "notReadyAddresses": [address]}
    if port is not None:
        subset["ports"] = [port]
    return subset


def _address_key(address: dict) -> tuple[str, str]:
    return (address.get("ip", ""), (address.get("targetRef") or {}).get("uid", ""))


def _port_key(port: dict | None) -> tuple:
    if port is None:
        return ()
    return (
        port.get("name") or "",
        port.get("port") or 0,
        port.get("protocol") or "",
        port.get("appProtocol") or "",
    )


def repack_subsets(subsets: list[dict]) -> list[dict]:
    """RepackSubsets: one subset per distinct set of (address, ready) sharing ports."""
    all_addresses: dict[tuple, dict] = {}
    by_port: dict[tuple, dict[tuple, bool]] = {}
    port_objects: dict[tuple, dict | None] = {}
    for subset in subsets:
        listed = [(a, True) for a in subset.get("addresses") or []]
        listed += [(a, False) for a in subset.get("notReadyAddresses") or []]
        for port in subset.get("ports") or [None]:
            pkey = _port_key(port)
            port_objects[pkey] = port
            readiness = by_port.setdefault(pkey, {})
            for address, ready in listed:
                akey = _address_key(address)
                all_addresses.setdefault(akey, address)
                if readiness.get(akey, True):  # not ready trumps ready
                    readiness[akey] = ready
    groups: dict[frozenset, list[dict]] = {}
    for pkey, readiness in by_port.items():
        ports = groups.setdefault(frozenset(readiness.items()), [])
        port = port_objects[pkey]
        if port is not None:
            ports.append(port)
    repacked = [_subset_of(group, ports, all_addresses) for group, ports in groups.items()]
    return sorted(repacked, key=_subset_sort_key)


def _subset_of(group: frozenset, ports: list[dict], all_addresses: dict) -> dict:
    ready = sorted((k for k, r in group if r))
    not_ready = sorted((k for k, r in group if not r))
    subset: dict = {}
    if ready:
        subset["addresses"] = [meta.deep_copy(all_addresses[k]) for k in ready]
    if not_ready:
        subset["notReadyAddresses"] = [meta.deep_copy(all_addresses[k]) for k in not_ready]
    if ports:
        subset["ports"] = sorted((meta.deep_copy(p) for p in ports), key=_port_key)
    return subset


def _subset_sort_key(subset: dict) -> tuple:
    return (
        tuple(_port_key(p) for p in subset.get("ports") or []),
        tuple(_address_key(a) for a in subset.get("addresses") or []),
        tuple(_address_key(a) for a in subset.get("notReadyAddresses") or []),
    )


def truncate_subsets(subsets: list[dict], capacity: int) -> tuple[bool, list[dict]]:
    """truncateEndpoints: keep `capacity` addresses, ready ones first, proportionally."""
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= capacity:
        return False, subsets
    truncate_ready = total_ready > capacity
    room = capacity if truncate_ready else capacity - total_ready
    total = total_ready if truncate_ready else total_not_ready
    field = "addresses" if truncate_ready else "notReadyAddresses"
    left, result = room, []
    for subset in subsets:
        subset = meta.deep_copy(subset)
        share = min(math.ceil(len(subset.get(field) or []) / total * room), left)
        subset[field] = (subset.get(field) or [])[:share]
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        left -= len(subset[field])
        if not subset[field]:
            subset.pop(field)
        result.append(subset)
    return True, result


def build_endpoints(service: dict, subsets: list[dict], current: dict | None) -> dict:
    """The Endpoints object the controller wants, built on top of the current one."""
    if current is not None:
        endpoints = _strip_resource_versions(current)
    else:
        endpoints = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": meta.name(service), "namespace": meta.namespace(service)},
        }
    md = endpoints["metadata"]
    labels = dict(meta.labels(service))
    if is_service_ip_set(service):
        labels.pop(HEADLESS_LABEL, None)
    else:
        labels[HEADLESS_LABEL] = ""
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    _set_or_drop(md, "labels", labels)
    truncated, subsets = truncate_subsets(subsets, constants.MAX_ENDPOINTS_PER_ENDPOINTS)
    annotations = dict(md.get("annotations") or {})
    if truncated:
        annotations[OVER_CAPACITY] = "truncated"
    else:
        annotations.pop(OVER_CAPACITY, None)
    _set_or_drop(md, "annotations", annotations)
    _set_or_drop(endpoints, "subsets", subsets)
    return endpoints


def _set_or_drop(obj: dict, key: str, value) -> None:
    """Go's omitempty: an empty map or list is not serialized at all."""
    if value:
        obj[key] = value
    else:
        obj.pop(key, None)


def _strip_resource_versions(endpoints: dict) -> dict:
    """A copy without targetRef.resourceVersion (ignored when comparing, as upstream)."""
    copy = meta.deep_copy(endpoints)
    for subset in copy.get("subsets") or []:
        for field in ("addresses", "notReadyAddresses"):
            for address in subset.get(field) or []:
                (address.get("targetRef") or {}).pop("resourceVersion", None)
    return copy


def delete_leftovers(state: Snapshot) -> list[Action]:
    """Endpoints this controller wrote whose Service is gone (checkLeftoverEndpoints / the
    deleted-Service path). Hand-made Endpoints are left alone: they may be applied before
    their Service, and a user's Endpoints without a Service is the user's business."""
    return [
        Delete("Endpoints", meta.namespace(ep), meta.name(ep), meta.uid(ep))
        for ep in state.list("Endpoints")
        if meta.labels(ep).get(MANAGED_BY_LABEL) == CONTROLLER_NAME
        and LEADER_ANNOTATION not in meta.annotations(ep)
        and state.get("Service", meta.namespace(ep), meta.name(ep)) is None
        and not meta.is_deleting(ep)
    ]
