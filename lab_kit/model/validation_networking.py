"""Validation of Ingresses and IngressClasses (networking.k8s.io/v1), after defaulting.

Mirrors `pkg/apis/networking/validation/validation.go`: ValidateIngressCreate,
ValidateIngressSpec, validateIngressRules, validateHTTPIngressPath, validateIngressBackend,
validateIngressTLS, ValidateIngressClass and ValidateIngressClassUpdate.
"""

from __future__ import annotations

import re
from typing import Any

from lab_kit.model.errors import FieldError, forbidden, invalid, not_supported, required
from lab_kit.model.validation_common import (
    go_invalid,
    validate_immutable,
    validate_object_meta,
    validate_object_meta_update,
)
from lab_kit.model.validation_formats import (
    Errors,
    invalid_each,
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
    is_wildcard_dns1123_subdomain,
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    parse_ip_sloppy,
    regex_error,
)

_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_SUFFIXES = ("/..", "/.")
_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
_HTTP_PATH = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
_MAX_CONTROLLER = 250


def validate_ingress(ingress: dict, old: dict | None = None) -> Errors:
    errs = validate_object_meta_update(ingress, old) if old is not None else []
    errs += validate_object_meta(ingress, True, name_is_dns_subdomain)
    spec = ingress.get("spec") or {}
    rules = spec.get("rules")
    if not rules and spec.get("defaultBackend") is None:
        go_value = (
            "[]networking.IngressRule(nil)" if rules is None else "[]networking.IngressRule{}"
        )
        detail = "either `defaultBackend` or `rules` must be specified"
        errs.append(go_invalid("spec", rules, go_value, detail))
    if spec.get("defaultBackend") is not None:
        errs += _backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules or []):
        errs += _rule(rule or {}, f"spec.rules[{i}]")
    errs += _tls(spec.get("tls") or [])
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errs += invalid_each("spec.ingressClassName", class_name, name_is_dns_subdomain(class_name))
    if old is None:
        errs += _class_annotation(ingress, class_name)
    return errs


def _class_annotation(ingress: dict, class_name: Any) -> Errors:
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(_CLASS_ANNOTATION)
    if value is not None and class_name is not None and value != class_name:
        detail = "must match `ingressClassName` when both are specified"
        return [invalid(f"annotations.{_CLASS_ANNOTATION}", value, detail)]
    return []


def _rule(rule: dict, path: str) -> Errors:
    errs: Errors = []
    host = rule.get("host") or ""
    if host:
        if parse_ip_sloppy(host) is not None:
            errs.append(invalid(f"{path}.host", host, "must be a DNS name, not an IP address"))
        check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
        errs += invalid_each(f"{path}.host", host, check(host))
    http = rule.get("http")
    if http is not None:
        paths = (http or {}).get("paths") or []
        if not paths:
            errs.append(required(f"{path}.http.paths"))
        for i, http_path in enumerate(paths):
            errs += _http_path(http_path or {}, f"{path}.http.paths[{i}]")
    return errs


def _http_path(http_path: dict, path: str) -> Errors:
    path_type = http_path.get("pathType")
    if path_type is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    value, errs = http_path.get("path") or "", []
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
        for sequence in _INVALID_SEQUENCES if value else ():
            if sequence in value:
                errs.append(invalid(f"{path}.path", value, f"must not contain '{sequence}'"))
        for suffix in _INVALID_SUFFIXES if value else ():
            if value.endswith(suffix):
                errs.append(invalid(f"{path}.path", value, f"cannot end with '{suffix}'"))
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", path_type, _PATH_TYPES))
    return errs + _backend(http_path.get("backend") or {}, f"{path}.backend")


def _backend(backend: dict, path: str) -> Errors:
    """Exactly one of `resource` or `service`; a service needs a name and one port form."""
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference(resource, f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    errs: Errors = []
    name = service.get("name") or ""
    if not name:
        errs.append(required(f"{path}.service.name"))
    else:
        errs += invalid_each(f"{path}.service.name", name, name_is_dns1035_label(name))
    port = service.get("port") or {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        return [*errs, invalid(path, "", "cannot set both port name & port number")]
    if port_name:
        return errs + invalid_each(
            f"{path}.service.port.name", port_name, is_valid_port_name(port_name)
        )
    if number:
        return errs + invalid_each(f"{path}.service.port.number", number, is_valid_port_num(number))
    return [*errs, required(path, "port name or number is required")]


def _typed_reference(ref: dict, path: str) -> Errors:
    errs: Errors = []
    if ref.get("apiGroup") is not None:
        errs += invalid_each(
            f"{path}.apiGroup", ref["apiGroup"], is_dns1123_subdomain(ref["apiGroup"])
        )
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            errs.append(required(f"{path}.{key}"))
        else:
            errs += invalid_each(f"{path}.{key}", value, _path_segment_name(value))
    return errs


def _path_segment_name(name: str) -> list[str]:
    """content.IsPathSegmentName: a name usable as one segment of a URL path."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{ch}'" for ch in ("/", "%") if ch in name]


def _tls(tls: list) -> Errors:
    errs: Errors = []
    for i, entry in enumerate(tls):
        entry = entry or {}
        for j, host in enumerate(entry.get("hosts") or []):
            check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
            errs += invalid_each(f"spec.tls[{i}].hosts[{j}]", host, check(host))
        secret = entry.get("secretName") or ""
        if secret:
            errs += invalid_each(f"spec.tls[{i}].secretName", secret, name_is_dns_subdomain(secret))
    return errs


# --- IngressClass ---------------------------------------------------------------------------


def validate_ingress_class(ingress_class: dict, old: dict | None = None) -> Errors:
    errs: Errors = []
    spec = ingress_class.get("spec") or {}
    if old is not None:
        errs += validate_object_meta_update(ingress_class, old)
        old_controller = (old.get("spec") or {}).get("controller")
        errs += validate_immutable(spec.get("controller"), old_controller, "spec.controller")
    errs += validate_object_meta(ingress_class, False, name_is_dns_subdomain)
    controller = spec.get("controller") or ""
    if not controller:
        errs.append(required("spec.controller"))
    else:
        if len(controller) > _MAX_CONTROLLER:
            errs.append(
                FieldError(
                    "TooLong", "spec.controller", f"must have at most {_MAX_CONTROLLER} bytes"
                )
            )
        errs += _domain_prefixed_path(controller, "spec.controller")
    return errs + _parameters(spec.get("parameters"), "spec.parameters")


def _domain_prefixed_path(value: str, path: str) -> Errors:
    """IsDomainPrefixedPath: `example.com/some/path`."""
    host, slash, rest = value.partition("/")
    if not slash or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = invalid_each(path, host, is_dns1123_subdomain(host))
    if not re.fullmatch(_HTTP_PATH, rest):
        errs.append(invalid(path, rest, regex_error("Invalid path", _HTTP_PATH)))
    return errs


def _parameters(params: Any, path: str) -> Errors:
    if not isinstance(params, dict):
        return []
    errs = _typed_reference(params, path)
    scope = params.get("scope")
    if scope is None:
        return [*errs, required(f"{path}.scope")]
    if scope not in ("Cluster", "Namespace"):
        return [*errs, not_supported(f"{path}.scope", scope, ("Cluster", "Namespace"))]
    namespace = params.get("namespace")
    if scope == "Namespace":
        if namespace is None:
            errs.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += invalid_each(f"{path}.namespace", namespace, name_is_dns_label(namespace))
    elif namespace is not None:
        errs.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs
