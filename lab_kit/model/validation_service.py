"""Validation of Services, after defaulting.

Mirrors `pkg/apis/core/validation/validation.go`: ValidateService, validateServicePort,
ValidateServiceClusterIPsRelatedFields, validateClientIPAffinityConfig,
validateServiceExternalTrafficPolicy, validateServiceInternalTrafficFieldsValue, and
ValidateServiceUpdate with validateUpgradeDowngradeClusterIPs/IPFamilies.

Not here, as in Kubernetes: "provided IP is not in the valid range" / "already
allocated" and the NodePort range are the registry's allocators' errors. One deliberate
difference: Kubernetes allocates before validating, so it also requires
`healthCheckNodePort` for a LoadBalancer with externalTrafficPolicy Local; this lab's
registry allocates after validation, so only a given value is checked here.
"""

from __future__ import annotations

from typing import Any

from lab_kit.model.errors import duplicate, forbidden, invalid, not_supported, required
from lab_kit.model.validation_common import (
    GoValueError,
    go_invalid,
    go_quote,
    go_string_slice,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
    validate_port_num_or_name,
    validate_protocol,
)
from lab_kit.model.validation_formats import (
    Errors,
    invalid_each,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_valid_port_num,
    name_is_dns1035_label,
    parse_ip_sloppy,
    validate_cidr,
    validate_ip,
    validate_non_special_ip,
)

_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_AFFINITIES = ("ClientIP", "None")
_POLICIES = ("Cluster", "Local")
_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
_TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameNode", "PreferSameZone")
_MAX_AFFINITY_S = 86400  # core.MaxClientIPServiceAffinitySeconds
_LB_ONLY = "may only be used when `type` is 'LoadBalancer'"
_SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


# --- Service ---------------------------------------------------------------------------------


def validate_service(svc: dict, old: dict | None = None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += validate_object_meta_update(svc, old) + _service_update(svc, old)
    spec = svc.get("spec") or {}
    errs += validate_object_meta(svc, True, name_is_dns1035_label)
    if not spec.get("ports") and not _headless(spec) and spec.get("type") != "ExternalName":
        errs.append(required("spec.ports"))
    errs += _type_specific(spec)
    errs += _service_ports(spec.get("ports") or [])
    if spec.get("selector") is not None:
        errs += validate_labels(spec["selector"], "spec.selector")
    errs += _session_affinity(spec)
    errs += validate_cluster_ips_related_fields(spec)
    errs += _external_ips(spec.get("externalIPs") or [])
    errs += _service_type(spec)
    errs += _node_ports(spec)
    errs += _duplicate_ports(spec.get("ports") or [])
    errs += _source_ranges(svc, spec)
    errs += _load_balancer_fields(spec)
    errs += _external_traffic_policy(spec) + _internal_traffic_policy(spec)
    return errs + _traffic_distribution(spec)


def _headless(spec: dict) -> bool:
    return spec.get("clusterIPs") == ["None"]


def _type_specific(spec: dict) -> Errors:
    kind = spec.get("type")
    if kind in ("LoadBalancer", "NodePort") and _headless(spec):
        return [
            invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services")
        ]
    if kind != "ExternalName":
        return []
    errs = [
        forbidden(f"spec.{key}", "may not be set for ExternalName services")
        for key in ("clusterIPs", "ipFamilies")
        if spec.get(key)
    ]
    if spec.get("ipFamilyPolicy") is not None:
        errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
    cname = (spec.get("externalName") or "").removesuffix(".")  # a trailing dot is allowed
    if not cname:
        return [*errs, required("spec.externalName")]
    return errs + invalid_each("spec.externalName", cname, is_dns1123_subdomain(cname))


def _service_ports(ports: list) -> Errors:
    errs: Errors = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _service_port(port or {}, len(ports) > 1, names, f"spec.ports[{i}]")
    return errs


def _service_port(port: dict, require_name: bool, names: set[str], path: str) -> Errors:
    errs: Errors = []
    name = port.get("name") or ""
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += invalid_each(f"{path}.name", name, is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
    number = port.get("port") or 0
    errs += invalid_each(f"{path}.port", number, is_valid_port_num(number))
    errs += validate_protocol(port.get("protocol"), f"{path}.protocol")
    errs += validate_port_num_or_name(port.get("targetPort"), f"{path}.targetPort")
    if port.get("appProtocol") is not None:
        errs += invalid_each(
            f"{path}.appProtocol", port["appProtocol"], is_label_key(port["appProtocol"])
        )
    return errs


def _session_affinity(spec: dict) -> Errors:
    affinity = spec.get("sessionAffinity")
    if not affinity:
        return [required("spec.sessionAffinity")]
    if affinity not in _AFFINITIES:
        return [not_supported("spec.sessionAffinity", affinity, _AFFINITIES)]
    config = spec.get("sessionAffinityConfig")
    if affinity == "None":
        detail = "must not be set when session affinity is None"
        return [forbidden("spec.sessionAffinityConfig", detail)] if config is not None else []
    return _client_ip_config(config)


def _client_ip_config(config: Any) -> Errors:
    path, why = "spec.sessionAffinityConfig", "when session affinity type is ClientIP"
    if config is None:
        return [required(path, why)]
    if config.get("clientIP") is None:
        return [required(f"{path}.clientIP", why)]
    timeout = config["clientIP"].get("timeoutSeconds")
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", why)]
    if not isinstance(timeout, int) or timeout <= 0 or timeout > _MAX_AFFINITY_S:
        detail = f"must be greater than 0 and less than {_MAX_AFFINITY_S}"
        return [invalid(f"{path}.clientIP.timeoutSeconds", timeout, detail)]
    return []


def validate_cluster_ips_related_fields(spec: dict) -> Errors:
    """ValidateServiceClusterIPsRelatedFields (skipped for ExternalName, checked above)."""
    if spec.get("type") == "ExternalName":
        return []
    ips = spec.get("clusterIPs") or []
    errs = _cluster_ip_sync(spec.get("clusterIP") or "", ips, spec.get("clusterIPs"))
    errs += _ip_families(spec.get("ipFamilies") or [])
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in _FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, _FAMILY_POLICIES))
    ip_errs = _cluster_ip_values(ips)
    if ip_errs:
        return errs + ip_errs  # bad IPs would skew the dual-stack checks below
    return errs + _dual_stack(spec, ips)


def _cluster_ip_sync(cluster_ip: str, ips: list, raw: Any) -> Errors:
    if cluster_ip:
        if not ips:
            return [required("spec.clusterIPs")]
        if ips[0] != cluster_ip:
            return [
                go_invalid(
                    "spec.clusterIPs",
                    ips,
                    go_string_slice(raw),
                    "first value must match `clusterIP`",
                )
            ]
    elif ips:
        detail = "must be empty when `clusterIP` is not specified"
        return [go_invalid("spec.clusterIPs", ips, go_string_slice(raw), detail)]
    return []


def _ip_families(families: list) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            errs.append(not_supported(f"spec.ipFamilies[{i}]", family, ("IPv4", "IPv6")))
        if family in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(family)
    return errs


def _cluster_ip_values(ips: list) -> Errors:
    errs: Errors = []
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                detail = "'None' must be the first and only value"
                errs.append(go_invalid("spec.clusterIPs", ips, go_string_slice(ips), detail))
            continue
        errs += validate_ip(f"spec.clusterIPs[{i}]", ip)
    return errs


def _ip_version(ip: str) -> int:
    """4 or 6 (the caller has already refused addresses that do not parse: 0 for those)."""
    parsed = parse_ip_sloppy(ip)
    return parsed.version if parsed is not None else 0


def _dual_stack(spec: dict, ips: list) -> Errors:
    errs: Errors = []
    if len(ips) > 2:
        errs.append(
            go_invalid("spec.clusterIPs", ips, go_string_slice(ips), "may only hold up to 2 values")
        )
    if len(ips) > 1 and len({_ip_version(ip) for ip in ips}) != len(ips):
        detail = "may specify no more than one IP for each IP family"
        errs.append(go_invalid("spec.clusterIPs", ips, go_string_slice(ips), detail))
    if _headless(spec):
        return errs
    for i, (ip, family) in enumerate(zip(ips, spec.get("ipFamilies") or [], strict=False)):
        version = _ip_version(ip)
        if (family == "IPv4" and version == 6) or (family == "IPv6" and version == 4):
            detail = f"expected an {family} value as indicated by `ipFamilies[{i}]`"
            errs.append(invalid(f"spec.clusterIPs[{i}]", ip, detail))
    return errs


def _external_ips(ips: list) -> Errors:
    errs: Errors = []
    for i, ip in enumerate(ips):
        path = f"spec.externalIPs[{i}]"
        errs += validate_ip(path, ip) or validate_non_special_ip(ip, path)
    return errs


def _service_type(spec: dict) -> Errors:
    kind = spec.get("type")
    if not kind:
        return [required("spec.type")]
    return [] if kind in _TYPES else [not_supported("spec.type", kind, _TYPES)]


def _node_ports(spec: dict) -> Errors:
    errs: Errors = []
    seen: set[tuple] = set()
    for i, port in enumerate(spec.get("ports") or []):
        node_port = (port or {}).get("nodePort") or 0
        if not node_port:
            continue
        path = f"spec.ports[{i}].nodePort"
        if spec.get("type") == "ClusterIP":
            errs.append(forbidden(path, "may not be used when `type` is 'ClusterIP'"))
        if (port.get("protocol"), node_port) in seen:
            errs.append(duplicate(path, node_port))
        seen.add((port.get("protocol"), node_port))
    return errs


def _duplicate_ports(ports: list) -> Errors:
    """(protocol, port) pairs are unique; Go prints the internal ServicePort key it built."""
    errs: Errors = []
    seen: set[tuple] = set()
    for i, port in enumerate(ports):
        key = ((port or {}).get("protocol") or "", (port or {}).get("port") or 0)
        if key in seen:
            go_value = (
                f'core.ServicePort{{Name:"", Protocol:{go_quote(key[0])}, '
                f"AppProtocol:(*string)(nil), Port:{key[1]}, "
                f'TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}'
            )
            errs.append(GoValueError("Duplicate", f"spec.ports[{i}]", "", dict(port), go_value))
        seen.add(key)
    return errs


def _source_ranges(svc: dict, spec: dict) -> Errors:
    ranges = spec.get("loadBalancerSourceRanges") or []
    annotation = ((svc.get("metadata") or {}).get("annotations") or {}).get(
        _SOURCE_RANGES_ANNOTATION
    )
    if ranges:
        path = "spec.LoadBalancerSourceRanges"  # sic: Kubernetes' path has a capital L
        values = [(f"{path}[{i}]", str(r).strip()) for i, r in enumerate(ranges)]
    elif annotation is not None:
        path = f"metadata.annotations[{_SOURCE_RANGES_ANNOTATION}]"
        values = [(path, r.strip()) for r in annotation.strip().split(",") if annotation.strip()]
    else:
        return []
    errs = [] if spec.get("type") == "LoadBalancer" else [forbidden(path, _LB_ONLY)]
    for value_path, value in values:
        errs += validate_cidr(value_path, value)
    return errs


def _load_balancer_fields(spec: dict) -> Errors:
    errs: Errors = []
    is_lb = spec.get("type") == "LoadBalancer"
    if spec.get("allocateLoadBalancerNodePorts") is not None and not is_lb:
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", _LB_ONLY))
    if is_lb and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))  # sic: no `spec.` in Kubernetes
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if not is_lb:
            errs.append(forbidden("spec.loadBalancerClass", _LB_ONLY))
        errs += invalid_each("spec.loadBalancerClass", lb_class, is_label_key(lb_class))
    return errs


def _externally_accessible(spec: dict) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )


def _external_traffic_policy(spec: dict) -> Errors:
    policy, errs = spec.get("externalTrafficPolicy") or "", []
    if not _externally_accessible(spec):
        if policy:
            detail = "may only be set for externally-accessible services"
            errs.append(invalid("spec.externalTrafficPolicy", policy, detail))
    elif not policy:
        errs.append(required("spec.externalTrafficPolicy"))
    elif policy not in _POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", policy, _POLICIES))
    node_port = spec.get("healthCheckNodePort") or 0
    needs = spec.get("type") == "LoadBalancer" and policy == "Local"
    if node_port and not needs:
        detail = (
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
        )
        errs.append(invalid("spec.healthCheckNodePort", node_port, detail))
    elif node_port:
        errs += invalid_each("spec.healthCheckNodePort", node_port, is_valid_port_num(node_port))
    return errs


def _internal_traffic_policy(spec: dict) -> Errors:
    policy = spec.get("internalTrafficPolicy")
    if policy is None:
        if spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
            return [required("spec.internalTrafficPolicy")]
        return []
    return (
        []
        if policy in _POLICIES
        else [not_supported("spec.internalTrafficPolicy", policy, _POLICIES)]
    )


def _traffic_distribution(spec: dict) -> Errors:
    value = spec.get("trafficDistribution")
    if value is None or value in _TRAFFIC_DISTRIBUTIONS:
        return []
    return [not_supported("spec.trafficDistribution", value, _TRAFFIC_DISTRIBUTIONS)]


def _service_update(svc: dict, old: dict) -> Errors:
    """ClusterIPs and families are immutable, except on the way to or from ExternalName."""
    spec, old_spec = svc.get("spec") or {}, old.get("spec") or {}
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    errs = _cluster_ips_update(spec, old_spec)
    new_families, old_families = spec.get("ipFamilies") or [], old_spec.get("ipFamilies") or []
    headless = _headless(spec) or _headless(old_spec)
    if not headless and len(new_families) == len(old_families) and new_families != old_families:
        go_value = go_string_slice(new_families)
        errs.append(
            go_invalid("spec.ipFamilies[0]", new_families, go_value, "may not change once set")
        )
    both_need_port = _needs_health_check(spec) and _needs_health_check(old_spec)
    if both_need_port and spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort"):
        errs.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    return errs


def _needs_health_check(spec: dict) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _cluster_ips_update(spec: dict, old_spec: dict) -> Errors:
    new, old = spec.get("clusterIPs") or [], old_spec.get("clusterIPs") or []
    if _headless(spec) and _headless(old_spec):
        return []
    go_value = go_string_slice(spec.get("clusterIPs"))
    changed = "may not change once set"
    if len(old) == len(new):
        return [
            go_invalid(f"spec.clusterIPs[{i}]", new, go_value, changed)
            for i, ip in enumerate(old)
            if ip != new[i]
        ]
    if not new:
        return [
            go_invalid("spec.clusterIPs[0]", new, go_value, "primary clusterIP can not be unset")
        ]
    errs: Errors = (
        [go_invalid("spec.clusterIPs[0]", new, go_value, changed)]
        if old and new[0] != old[0]
        else []
    )
    if len(old) > len(new) and spec.get("ipFamilyPolicy") != "SingleStack":
        detail = "must be set to 'SingleStack' when releasing the secondary clusterIP"
        errs.append(invalid("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"), detail))
    return errs
