"""Service address bookkeeping in the API server's create/update/delete path.

Mirrors `pkg/registry/core/service/storage` (the REST storage's allocation transactions,
`patchAllocatedValues`, and the refusals of `initIPFamilyFields` in `alloc.go`):
ClusterIPs and NodePorts are allocated *synchronously* when a Service is written, so a
clash is an API error the user sees at `apply` time, not a controller event later; and a
Service asking for an IP family the cluster does not serve is refused in the API server's
words, never stored half-done.
"""

from __future__ import annotations

from collections.abc import Sequence

from lab_kit.api.allocators import ClusterIPAllocator, NodePortAllocator, RangeFull
from lab_kit.model import meta
from lab_kit.model.errors import FieldError, invalid
from lab_kit.model.validation_common import go_invalid, go_string_slice
from lab_kit.model.validation_formats import parse_ip_sloppy
from lab_kit.model.validation_service import validate_cluster_ips_related_fields


def needs_cluster_ip(svc: dict) -> bool:
    s = meta.spec(svc)
    return s.get("type") != "ExternalName" and s.get("clusterIP") != "None"


def needs_node_ports(svc: dict) -> bool:
    s = meta.spec(svc)
    if s.get("type") == "NodePort":
        return True
    return s.get("type") == "LoadBalancer" and s.get("allocateLoadBalancerNodePorts", True)


def needs_health_check_port(svc: dict) -> bool:
    s = meta.spec(svc)
    return s.get("type") == "LoadBalancer" and s.get("externalTrafficPolicy") == "Local"


def held_cluster_ips(svc: dict) -> list[str]:
    ips = meta.spec(svc).get("clusterIPs") or []
    return [ip for ip in ips if ip and ip != "None"]


def held_node_ports(svc: dict) -> list[int]:
    s = meta.spec(svc)
    ports = [p.get("nodePort") for p in s.get("ports") or [] if p.get("nodePort")]
    if s.get("healthCheckNodePort"):
        ports.append(s["healthCheckNodePort"])
    return sorted(set(ports))


def patch_allocated_values(new: dict, old: dict) -> None:
    """On update, keep what was allocated when the user's object leaves it out (in place)."""
    ns, os_ = new.setdefault("spec", {}), meta.spec(old)
    if needs_cluster_ip(new) and needs_cluster_ip(old) and not ns.get("clusterIP"):
        ns["clusterIP"] = os_.get("clusterIP")
        ns["clusterIPs"] = list(os_.get("clusterIPs") or [])
    if needs_node_ports(new) and needs_node_ports(old):
        old_ports = {
            (p.get("port"), p.get("protocol")): p.get("nodePort") for p in os_.get("ports") or []
        }
        for port in ns.get("ports") or []:
            if not port.get("nodePort"):
                kept = old_ports.get((port.get("port"), port.get("protocol")))
                if kept:
                    port["nodePort"] = kept
    if (
        needs_health_check_port(new)
        and needs_health_check_port(old)
        and not ns.get("healthCheckNodePort")
    ) and os_.get("healthCheckNodePort"):
        ns["healthCheckNodePort"] = os_["healthCheckNodePort"]


def ip_family(ip: str) -> str:
    """ "IPv4" or "IPv6", as Go's familyOf reads an address (an IPv4-mapped IPv6 address
    is IPv4); "" when it does not parse."""
    parsed = parse_ip_sloppy(ip)
    if parsed is None:
        return ""
    if parsed.version == 4 or getattr(parsed, "ipv4_mapped", None) is not None:
        return "IPv4"
    return "IPv6"


def ip_family_policy(given: dict, old_spec: dict | None) -> str:
    """The policy initIPFamilyFields settles on: the one given, else the stored one on an
    update, else RequireDualStack for a headless Service without selector, else
    SingleStack."""
    if given.get("ipFamilyPolicy"):
        return str(given["ipFamilyPolicy"])
    if old_spec and old_spec.get("ipFamilyPolicy"):
        return str(old_spec["ipFamilyPolicy"])
    if given.get("clusterIP") == "None" and not given.get("selector"):
        return "RequireDualStack"
    return "SingleStack"


def ip_family_errors(
    spec: dict, given: dict, old_spec: dict | None, served: Sequence[str]
) -> list[FieldError]:
    """What initIPFamilyFields refuses, for a cluster whose service CIDRs serve the
    families `served` (this lab: ["IPv4"]). `spec` is the Service as it will be allocated
    (its clusterIPs normalized and, on update, patched from the stored one); `given` is
    the spec the user sent, before defaults (which families and which policy they asked
    for). Checked before validation, as kube-apiserver's BeginCreate runs before its
    strategy's Validate; malformed clusterIPs are left to validation."""
    if spec.get("type") == "ExternalName" or validate_cluster_ips_related_fields(spec):
        return []
    policy = ip_family_policy(given, old_spec)
    ips, families = list(spec.get("clusterIPs") or []), list(given.get("ipFamilies") or [])
    errs: list[FieldError] = []
    if policy == "SingleStack":
        for count, what in ((len(ips), "cluster IPs"), (len(families), "IP families")):
            if count == 2:
                detail = f"must be 'RequireDualStack' or 'PreferDualStack' when multiple {what} are specified"
                errs.append(invalid("spec.ipFamilyPolicy", policy, detail))
    for i, ip in enumerate(ips):
        if ip == "None":
            break
        family = ip_family(ip)
        if i < len(families):
            continue
        if family in served:
            families.append(family)  # inferred from the address, as kube-apiserver does
        else:
            detail = f"{family} is not configured on this cluster"
            errs.append(go_invalid(f"spec.clusterIPs[{i}]", ips, go_string_slice(ips), detail))
    if errs or (spec.get("clusterIP") == "None" and not spec.get("selector")):
        return errs  # headless without selector: any families, as on any cluster
    if policy == "RequireDualStack" and len(served) < 2:
        detail = "this cluster is not configured for dual-stack services"
        errs.append(invalid("spec.ipFamilyPolicy", policy, detail))
    for i, family in enumerate(families):
        if family not in served:
            errs.append(invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster"))
    return errs


class ServiceAddresses:
    """The registry's view of which ClusterIPs and NodePorts are taken."""

    def __init__(self, ips: ClusterIPAllocator, ports: NodePortAllocator):
        self.ips, self.ports = ips, ports

    def hold_existing(self, svc: dict) -> None:
        """Mark a stored Service's addresses as used (when rebuilding from the store)."""
        for ip in held_cluster_ips(svc):
            self.ips.allocate(ip)
        for port in held_node_ports(svc):
            self.ports.allocate(port, "")

    def release(self, svc: dict) -> None:
        for ip in held_cluster_ips(svc):
            self.ips.release(ip)
        for port in held_node_ports(svc):
            self.ports.release(port)

    def allocate(self, svc: dict, old: dict | None) -> list[FieldError]:
        """Fill in and reserve the addresses `svc` needs (in place). `old` is the stored
        version on update; what it held and `svc` no longer needs is released."""
        errors = self._allocate_cluster_ip(svc, old) + self._allocate_node_ports(svc, old)
        if errors:
            return errors
        if old is not None:
            for ip in set(held_cluster_ips(old)) - set(held_cluster_ips(svc)):
                self.ips.release(ip)
            for port in set(held_node_ports(old)) - set(held_node_ports(svc)):
                self.ports.release(port)
        return []

    def _allocate_cluster_ip(self, svc: dict, old: dict | None) -> list[FieldError]:
        spec = svc.setdefault("spec", {})
        if spec.get("type") == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            return []
        if spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
            return []
        wanted = spec.get("clusterIP") or ""
        if old is not None and wanted and wanted in held_cluster_ips(old):
            spec["clusterIPs"] = [wanted]
            return []
        if wanted:
            error = self.ips.allocate(wanted)
            if error:
                return [error]
        else:
            try:
                wanted = self.ips.allocate_next()
            except RangeFull:
                return [invalid("spec.clusterIPs", [], "failed to allocate IP: range is full")]
        spec["clusterIP"], spec["clusterIPs"] = wanted, [wanted]
        return []

    def _allocate_node_ports(self, svc: dict, old: dict | None) -> list[FieldError]:
        spec = svc.setdefault("spec", {})
        already = set(held_node_ports(old)) if old is not None else set()
        if not needs_node_ports(svc):
            for port in spec.get("ports") or []:
                if spec.get("type") in ("ClusterIP", "ExternalName"):
                    port.pop("nodePort", None)
            return []
        errors: list[FieldError] = []
        by_number: dict[int, int] = {}  # same port number on TCP and UDP shares one NodePort
        for i, port in enumerate(spec.get("ports") or []):
            errors += self._one_node_port(port, f"spec.ports[{i}].nodePort", already, by_number)
        if needs_health_check_port(svc):
            hc = {"nodePort": spec.get("healthCheckNodePort"), "port": -1}
            errors += self._one_node_port(hc, "spec.healthCheckNodePort", already, {})
            spec["healthCheckNodePort"] = hc["nodePort"]
        return errors

    def _one_node_port(
        self, port: dict, path: str, already: set[int], by_number: dict[int, int]
    ) -> list[FieldError]:
        wanted = port.get("nodePort")
        if wanted and (wanted in already or wanted in by_number.values()):
            by_number[port["port"]] = wanted
            return []
        if wanted:
            error = self.ports.allocate(wanted, path)
            if error:
                return [error]
        elif port.get("port") in by_number:
            wanted = by_number[port["port"]]
        else:
            try:
                wanted = self.ports.allocate_next()
            except RangeFull:
                return [invalid(path, 0, "range is full")]
        port["nodePort"] = wanted
        by_number[port["port"]] = wanted
        return []
