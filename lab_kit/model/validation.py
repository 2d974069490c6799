"""API validation of an object after defaulting: the `is invalid:` errors of kubectl.

The single entry point, `validate(obj, old)`, dispatches on `kind` like the registry's
per-kind strategies do (`pkg/registry/*/*/strategy.go` Validate/ValidateUpdate). The rules
live next to the Kubernetes file they mirror:

- validation_formats.py     apimachinery: name, label, port, IP formats and their texts
- validation_common.py      apimachinery: ObjectMeta, selectors, Go value printing; ports
- validation_service.py     core: Service
- validation_endpoints.py   core: Endpoints; discovery: EndpointSlice
- validation_pod.py         core: Pod, pod templates
- validation_apps.py        apps: Deployment, ReplicaSet
- validation_networking.py  networking: Ingress, IngressClass
- this file                 core: Namespace, Node, ConfigMap, Secret, Event

Errors come back in Kubernetes' order, each message once (as `ErrorList.ToAggregate`
deduplicates them), ready for `errors.err_invalid`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from lab_kit.model import knative
from lab_kit.model.errors import FieldError, forbidden, invalid, not_supported, required
from lab_kit.model.kinds import kind_key
from lab_kit.model.validation_apps import validate_deployment, validate_replica_set
from lab_kit.model.validation_common import (
    validate_immutable,
    validate_object_meta,
    validate_object_meta_update,
)
from lab_kit.model.validation_endpoints import validate_endpoint_slice, validate_endpoints
from lab_kit.model.validation_formats import (
    Errors,
    invalid_each,
    is_config_map_key,
    is_label_key,
    is_label_value,
    name_is_dns_label,
    name_is_dns_subdomain,
    validate_cidr,
)
from lab_kit.model.validation_networking import validate_ingress, validate_ingress_class
from lab_kit.model.validation_pod import validate_pod
from lab_kit.model.validation_service import validate_service

_MAX_SECRET_BYTES = 1024 * 1024  # core.MaxSecretSize, also the ConfigMap limit
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def validate(obj: dict, old: dict | None = None) -> list[FieldError]:
    """Field errors of `obj` (defaulted); `old` is the stored object on update."""
    check = _BY_KIND.get(kind_key(obj))
    if check is None:
        return []
    unique: dict[str, FieldError] = {}
    for error in check(obj, old):
        unique.setdefault(str(error), error)
    return list(unique.values())


# --- Namespace, Node ---------------------------------------------------------------------


def _validate_namespace(ns: dict, old: dict | None) -> Errors:
    errs = validate_object_meta_update(ns, old) if old is not None else []
    errs += validate_object_meta(ns, False, name_is_dns_label)
    for finalizer in (ns.get("spec") or {}).get("finalizers") or []:
        errs += invalid_each("spec.finalizers", finalizer, is_label_key(finalizer))
        if "/" not in finalizer and finalizer != "kubernetes":
            detail = "name is neither a standard finalizer name nor is it fully qualified"
            errs.append(invalid("spec.finalizers", finalizer, detail))
    return errs


def _validate_node(node: dict, old: dict | None) -> Errors:
    errs = validate_object_meta_update(node, old) if old is not None else []
    errs += validate_object_meta(node, False, name_is_dns_subdomain)
    spec = node.get("spec") or {}
    errs += _taints(spec.get("taints") or [])
    for i, cidr in enumerate(spec.get("podCIDRs") or []):
        errs += validate_cidr(f"spec.podCIDRs[{i}]", cidr)
    if old is not None:
        old_cidrs = (old.get("spec") or {}).get("podCIDRs") or []
        if old_cidrs and old_cidrs != (spec.get("podCIDRs") or []):
            detail = 'node updates may not change podCIDR except from "" to valid'
            errs.append(forbidden("spec.podCIDRs", detail))
    return errs


def _taints(taints: list) -> Errors:
    errs: Errors = []
    seen: set[tuple] = set()
    for i, taint in enumerate(taints):
        taint, path = taint or {}, f"metadata.taints[{i}]"  # sic: Kubernetes says metadata
        errs += invalid_each(
            f"{path}.key", taint.get("key") or "", is_label_key(taint.get("key") or "")
        )
        problems = is_label_value(taint.get("value") or "")
        if problems:
            errs.append(invalid(f"{path}.value", taint.get("value") or "", ";".join(problems)))
        effect = taint.get("effect") or ""
        if not effect:
            errs.append(required(f"{path}.effect"))
        elif effect not in _TAINT_EFFECTS:
            errs.append(not_supported(f"{path}.effect", effect, _TAINT_EFFECTS))
        key = (taint.get("key"), effect)
        if key in seen:
            errs.append(
                FieldError("Duplicate", path, "taints must be unique by key and effect pair", taint)
            )
        seen.add(key)
    return errs


# --- ConfigMap, Secret ---------------------------------------------------------------------


def _validate_config_map(cm: dict, old: dict | None) -> Errors:
    errs = validate_object_meta_update(cm, old) if old is not None else []
    errs += _immutable_data(cm, old, ("data", "binaryData"))
    errs += validate_object_meta(cm, True, name_is_dns_subdomain)
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    for key in data:
        errs += invalid_each(f"data[{key}]", key, is_config_map_key(key))
        if key in binary:
            errs.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
    for key in binary:
        errs += invalid_each(f"binaryData[{key}]", key, is_config_map_key(key))
    size = sum(len(str(v or "")) for v in data.values()) + sum(
        _decoded_len(v) for v in binary.values()
    )
    if size > _MAX_SECRET_BYTES:
        errs.append(FieldError("TooLong", "", f"must have at most {_MAX_SECRET_BYTES} bytes"))
    return errs


def _validate_secret(secret: dict, old: dict | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += validate_object_meta_update(secret, old)
        errs += validate_immutable(secret.get("type"), old.get("type"), "type")
        errs += _immutable_data(secret, old, ("data",))
    errs += validate_object_meta(secret, True, name_is_dns_subdomain)
    # The v1->internal conversion merges stringData into data before validation.
    keys = list(secret.get("data") or {}) + list(secret.get("stringData") or {})
    for key in dict.fromkeys(keys):
        errs += invalid_each(f"data[{key}]", key, is_config_map_key(key))
    size = sum(_decoded_len(v) for v in (secret.get("data") or {}).values())
    size += sum(len(str(v or "")) for v in (secret.get("stringData") or {}).values())
    if size > _MAX_SECRET_BYTES:
        errs.append(FieldError("TooLong", "data", f"must have at most {_MAX_SECRET_BYTES} bytes"))
    return errs + _secret_type_keys(secret, set(keys))


def _secret_type_keys(secret: dict, keys: set[str]) -> Errors:
    kind = secret.get("type") or ""
    if kind == "kubernetes.io/service-account-token":
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            return [required("metadata.annotations[kubernetes.io/service-account.name]")]
        return []
    if kind == "kubernetes.io/basic-auth":
        if "username" in keys or "password" in keys:
            return []
        return [required("data[username]"), required("data[password]")]
    needed = {
        "kubernetes.io/dockercfg": (".dockercfg",),
        "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
        "kubernetes.io/ssh-auth": ("ssh-privatekey",),
        "kubernetes.io/tls": ("tls.crt", "tls.key"),
    }.get(kind, ())
    return [required(f"data[{key}]") for key in needed if key not in keys]


def _immutable_data(new: dict, old: dict | None, fields: tuple[str, ...]) -> Errors:
    """`immutable: true` freezes the data (and stays true)."""
    if old is None or not old.get("immutable"):
        return []
    detail = "field is immutable when `immutable` is set"
    errs = [] if new.get("immutable") else [forbidden("immutable", detail)]
    return errs + [forbidden(f, detail) for f in fields if new.get(f) != old.get(f)]


def _decoded_len(value: object) -> int:
    try:
        return len(base64.b64decode(str(value or ""), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value or ""))


# --- Event -----------------------------------------------------------------------------------


def _validate_event(event: dict, old: dict | None) -> Errors:
    """Only ObjectMeta: the lab's own components are the only writers of Events."""
    errs = validate_object_meta_update(event, old) if old is not None else []
    return errs + validate_object_meta(event, True, name_is_dns_subdomain)


_BY_KIND: dict[str, Callable[[dict, dict | None], Errors]] = {
    "Service": validate_service,
    "Endpoints": validate_endpoints,
    "EndpointSlice": validate_endpoint_slice,
    "Pod": validate_pod,
    "Deployment": validate_deployment,
    "ReplicaSet": validate_replica_set,
    "Ingress": validate_ingress,
    "IngressClass": validate_ingress_class,
    "Service.serving.knative.dev": knative.validate_service,
    "Configuration": knative.validate_configuration,
    "Revision": knative.validate_revision,
    "Route": knative.validate_route,
    "Namespace": _validate_namespace,
    "Node": _validate_node,
    "ConfigMap": _validate_config_map,
    "Secret": _validate_secret,
    "Event": _validate_event,
}
