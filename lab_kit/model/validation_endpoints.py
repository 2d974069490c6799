"""Validation of Endpoints and EndpointSlices, after defaulting.

Mirrors `pkg/apis/core/validation/validation.go` (ValidateEndpoints,
validateEndpointSubsets, validateEndpointAddress, validateEndpointPort, and the
non-special-IP rule they share with Service externalIPs) and
`pkg/apis/discovery/validation/validation.go` (ValidateEndpointSlice: address types,
at most 1000 endpoints of at most 100 addresses, ports). As in Kubernetes, an
EndpointSlice port number is not range-checked (nil means "all ports").
"""

from __future__ import annotations

from typing import Any

from lab_kit.model.errors import duplicate, invalid, not_supported, required
from lab_kit.model.validation_common import (
    PROTOCOLS,
    too_many,
    validate_object_meta,
    validate_object_meta_update,
    validate_protocol,
)
from lab_kit.model.validation_formats import (
    Errors,
    invalid_each,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_valid_port_num,
    name_is_dns_subdomain,
    parse_ip_sloppy,
    validate_ip,
    validate_non_special_ip,
)

# --- Endpoints ---------------------------------------------------------------------------------


def validate_endpoints(endpoints: dict, old: dict | None = None) -> Errors:
    errs = validate_object_meta_update(endpoints, old) if old is not None else []
    errs += validate_object_meta(endpoints, True, name_is_dns_subdomain)
    for i, subset in enumerate(endpoints.get("subsets") or []):
        errs += _endpoint_subset(subset or {}, f"subsets[{i}]")
    return errs


def _endpoint_subset(subset: dict, path: str) -> Errors:
    errs: Errors = []
    if not subset.get("addresses") and not subset.get("notReadyAddresses"):
        errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
    for key in ("addresses", "notReadyAddresses"):
        for j, address in enumerate(subset.get(key) or []):
            errs += _endpoint_address(address or {}, f"{path}.{key}[{j}]")
    ports = subset.get("ports") or []
    for j, port in enumerate(ports):
        errs += _endpoint_port(port or {}, len(ports) > 1, f"{path}.ports[{j}]")
    return errs


def _endpoint_address(address: dict, path: str) -> Errors:
    ip = address.get("ip") or ""
    errs = validate_ip(f"{path}.ip", ip)
    if address.get("hostname"):
        errs += invalid_each(
            f"{path}.hostname", address["hostname"], is_dns1123_label(address["hostname"])
        )
    if address.get("nodeName") is not None:
        node = address["nodeName"]
        errs += invalid_each(f"{path}.nodeName", node, name_is_dns_subdomain(node))
    return errs + validate_non_special_ip(ip, f"{path}.ip")


def _endpoint_port(port: dict, require_name: bool, path: str) -> Errors:
    errs: Errors = []
    name = port.get("name") or ""
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += invalid_each(f"{path}.name", name, is_dns1123_label(name))
    number = port.get("port") or 0
    errs += invalid_each(f"{path}.port", number, is_valid_port_num(number))
    errs += validate_protocol(port.get("protocol"), f"{path}.protocol")
    if port.get("appProtocol") is not None:
        errs += invalid_each(
            f"{path}.appProtocol", port["appProtocol"], is_label_key(port["appProtocol"])
        )
    return errs


# --- EndpointSlice ------------------------------------------------------------------------------

_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
_MAX_ENDPOINTS, _MAX_ADDRESSES, _MAX_PORTS = 1000, 100, 100


def validate_endpoint_slice(slice_: dict, old: dict | None = None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += validate_object_meta_update(slice_, old)
        if slice_.get("addressType") != old.get("addressType"):
            errs.append(invalid("addressType", slice_.get("addressType"), "field is immutable"))
    errs += validate_object_meta(slice_, True, name_is_dns_subdomain)
    address_type = slice_.get("addressType") or ""
    if not address_type:
        errs.append(required("addressType"))
    elif address_type not in _ADDRESS_TYPES:
        errs.append(not_supported("addressType", address_type, _ADDRESS_TYPES))
    errs += _slice_endpoints(slice_.get("endpoints") or [], address_type)
    return errs + _slice_ports(slice_.get("ports") or [])


def _slice_endpoints(endpoints: list, address_type: str) -> Errors:
    if len(endpoints) > _MAX_ENDPOINTS:
        return [too_many("endpoints", len(endpoints), _MAX_ENDPOINTS)]
    errs: Errors = []
    for i, endpoint in enumerate(endpoints):
        endpoint = endpoint or {}
        path, addresses = f"endpoints[{i}].addresses", endpoint.get("addresses") or []
        if not addresses:
            errs.append(required(path, "must contain at least 1 address"))
        elif len(addresses) > _MAX_ADDRESSES:
            errs.append(too_many(path, len(addresses), _MAX_ADDRESSES))
        for j, address in enumerate(addresses):
            errs += _slice_address(address, address_type, f"{path}[{j}]")
        if endpoint.get("hostname") is not None:
            name = endpoint["hostname"]
            errs += invalid_each(f"endpoints[{i}].hostname", name, is_dns1123_label(name))
    return errs


def _slice_address(address: Any, address_type: str, path: str) -> Errors:
    if address_type in ("IPv4", "IPv6"):
        ip = parse_ip_sloppy(address)
        # Go's To4() counts an IPv4-mapped IPv6 address as IPv4.
        version = 4 if ip is not None and (ip.version == 4 or ip.ipv4_mapped) else 6
        errs = []
        if ip is None or version != int(address_type[-1]):
            errs = [invalid(path, address, f"must be a valid {address_type} address")]
        return errs + validate_non_special_ip(address, path)
    if address_type == "FQDN":
        return _fully_qualified_domain_name(str(address), path)
    return []  # an unknown type was reported already; its addresses are not checked


def _fully_qualified_domain_name(name: str, path: str) -> Errors:
    """IsFullyQualifiedDomainName: a subdomain with at least two labels, trailing dot ok."""
    if not name:
        return [required(path)]
    name = name.removesuffix(".")
    problems = is_dns1123_subdomain(name)
    if problems:
        return [invalid(path, name, ",".join(problems))]
    if len(name.split(".")) < 2:
        return [
            invalid(path, name, "should be a domain with at least two segments separated by dots")
        ]
    for label in name.split("."):
        problems = is_dns1123_label(label)
        if problems:
            return [invalid(path, label, ",".join(problems))]
    return []


def _slice_ports(ports: list) -> Errors:
    if len(ports) > _MAX_PORTS:
        return [too_many("ports", len(ports), _MAX_PORTS)]
    errs: Errors = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port, path = port or {}, f"ports[{i}]"
        name = port.get("name") or ""
        if name:
            errs += invalid_each(f"{path}.name", name, is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{path}.name", name))  # two unnamed ports clash too
        names.add(name)
        if port.get("protocol") is None:
            errs.append(required(f"{path}.protocol"))
        elif port["protocol"] not in PROTOCOLS:
            errs.append(not_supported(f"{path}.protocol", port["protocol"], PROTOCOLS))
        if port.get("appProtocol") is not None:
            errs += invalid_each(
                f"{path}.appProtocol", port["appProtocol"], is_label_key(port["appProtocol"])
            )
    return errs
