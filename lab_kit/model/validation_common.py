"""The parts of API validation every kind shares: ObjectMeta, label selectors, port
numbers and protocols, and Go's way of printing the bad values it reports.

Mirrors `k8s.io/apimachinery/pkg/api/validation/objectmeta.go` (ValidateObjectMeta,
ValidateObjectMetaUpdate, ValidateImmutableField), `k8s.io/apimachinery/pkg/apis/meta/v1/
validation/validation.go` (ValidateLabels, ValidateLabelSelector) and the value printing
of `k8s.io/apimachinery/pkg/util/validation/field/errors.go`: apimachinery prints a bad
value with Go's `%#v` when it is not a string or a number (`map[string]string{"app":"x"}`,
`[]string{"10.96.0.5"}`); `GoValueError` carries that text, since `FieldError` prints
such values as JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from lab_kit.model.errors import FieldError, forbidden, invalid, not_supported, required
from lab_kit.model.selectors import matches_label_selector
from lab_kit.model.validation_formats import (
    NEGATIVE,
    Errors,
    invalid_each,
    is_label_key,
    is_label_value,
    is_valid_port_name,
    is_valid_port_num,
    name_is_dns_label,
)

IMMUTABLE = "field is immutable"

# --- Go's %#v for the composite values apimachinery prints -------------------------------------


@dataclasses.dataclass(frozen=True)
class GoValueError(FieldError):
    """A FieldError whose bad value is printed as Go prints it (`go_value`)."""

    go_value: str = dataclasses.field(default="", compare=False)

    def body(self) -> str:
        words = FieldError(self.type, self.field).body()  # "Invalid value", "Too many", ...
        text = f"{words}: {self.go_value}"
        return f"{text}: {self.detail}" if self.detail else text


def go_invalid(path: str, value: Any, go_value: str, detail: str) -> GoValueError:
    return GoValueError("Invalid", path, detail, value, go_value)


def too_many(path: str, actual: int, maximum: int) -> GoValueError:
    """field.TooMany: unlike TooLong it prints the actual count."""
    items = "item" if maximum == 1 else "items"
    return GoValueError(
        "TooMany", path, f"must have at most {maximum} {items}", actual, str(actual)
    )


def go_quote(value: Any) -> str:
    return json.dumps("" if value is None else str(value), ensure_ascii=False)


def go_string_map(value: Any) -> str:
    """map[string]string: nil prints as `(nil)`; keys come out sorted, as fmt sorts them."""
    if not isinstance(value, dict):
        return "map[string]string(nil)"
    pairs = ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in sorted(value.items()))
    return "map[string]string{" + pairs + "}"


def go_string_slice(value: Any) -> str:
    if not isinstance(value, list):
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"


def go_int_or_string(value: Any) -> str:
    """intstr.IntOrString (its String() has a pointer receiver, so %#v shows the struct)."""
    if isinstance(value, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}"
    number = value if isinstance(value, int) else 0
    return f'intstr.IntOrString{{Type:0, IntVal:{number}, StrVal:""}}'


def go_label_selector(selector: Any) -> str:
    selector = selector if isinstance(selector, dict) else {}
    expressions = selector.get("matchExpressions")
    if isinstance(expressions, list):
        items = ", ".join(
            "v1.LabelSelectorRequirement{"
            f"Key:{go_quote(e.get('key'))}, Operator:{go_quote(e.get('operator'))}, "
            f"Values:{go_string_slice(e.get('values'))}}}"
            for e in expressions
            if isinstance(e, dict)
        )
        exprs = "[]v1.LabelSelectorRequirement{" + items + "}"
    else:
        exprs = "[]v1.LabelSelectorRequirement(nil)"
    labels = go_string_map(selector.get("matchLabels"))
    return f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}"


# --- object metadata (api/validation/objectmeta.go) -------------------------------------------


def validate_object_meta(obj: dict, namespaced: bool, name_fn: Callable[..., list[str]]) -> Errors:
    md = obj.get("metadata") or {}
    errs: Errors = []
    if md.get("generateName"):
        errs += invalid_each(
            "metadata.generateName", md["generateName"], name_fn(md["generateName"], True)
        )
    if not md.get("name"):
        errs.append(required("metadata.name", "name or generateName is required"))
    else:
        errs += invalid_each("metadata.name", md["name"], name_fn(md["name"]))
    if namespaced:
        if not md.get("namespace"):
            errs.append(required("metadata.namespace"))
        else:
            errs += invalid_each(
                "metadata.namespace", md["namespace"], name_is_dns_label(md["namespace"])
            )
    elif md.get("namespace"):
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    return errs + _validate_meta_common(md)


def _validate_meta_common(md: dict) -> Errors:
    errs = validate_nonnegative(md.get("generation") or 0, "metadata.generation")
    errs += validate_labels(md.get("labels"), "metadata.labels")
    errs += validate_annotations(md.get("annotations"), "metadata.annotations")
    errs += _validate_owner_references(md.get("ownerReferences"))
    for finalizer in md.get("finalizers") or []:
        errs += invalid_each("metadata.finalizers", finalizer, is_label_key(str(finalizer)))
    return errs


def validate_object_meta_update(new: dict, old: dict) -> Errors:
    """The identity fields an update may not touch (ValidateObjectMetaAccessorUpdate)."""
    new_md, old_md = new.get("metadata") or {}, old.get("metadata") or {}
    errs: Errors = []
    for key in ("name", "namespace", "uid"):
        if key == "uid" and not new_md.get(key):
            continue  # the registry copies the stored uid in when the request has none
        errs += validate_immutable(new_md.get(key, ""), old_md.get(key, ""), f"metadata.{key}")
    return errs


def validate_immutable(new: Any, old: Any, path: str, go_value: str | None = None) -> Errors:
    if new == old:
        return []
    if go_value is not None:
        return [go_invalid(path, new, go_value, IMMUTABLE)]
    return [invalid(path, new, IMMUTABLE)]


def validate_nonnegative(value: Any, path: str) -> Errors:
    if isinstance(value, int) and value < 0:
        return [invalid(path, value, NEGATIVE)]
    return []


def validate_labels(labels: Any, path: str) -> Errors:
    """ValidateLabels: every error is reported at the map's path, key or value alike."""
    errs: Errors = []
    for key, value in (labels or {}).items():
        errs += invalid_each(path, key, is_label_key(key))
        errs += invalid_each(path, value, is_label_value("" if value is None else str(value)))
    return errs


def validate_annotations(annotations: Any, path: str) -> Errors:
    errs: Errors = []
    total = 0
    for key, value in (annotations or {}).items():
        # Annotation keys are label keys, except that case does not matter.
        errs += invalid_each(path, key, is_label_key(key.lower()))
        total += len(key) + len(value or "")
    if total > 256 * 1024:
        errs.append(FieldError("TooLong", path, f"must have at most {256 * 1024} bytes"))
    return errs


def _validate_owner_references(refs: Any) -> Errors:
    errs: Errors = []
    controllers: list[str] = []
    for ref in refs or []:
        api_version = ref.get("apiVersion") or ""
        if not api_version.rsplit("/", 1)[-1]:
            errs.append(
                invalid(
                    "metadata.ownerReferences.apiVersion", api_version, "version must not be empty"
                )
            )
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                errs.append(invalid(f"metadata.ownerReferences.{key}", "", "must not be empty"))
        if ref.get("controller"):
            controllers.append(f"{ref.get('kind')}/{ref.get('name')}")
    if len(controllers) > 1:
        detail = (
            'Only one reference can have Controller set to true. Found "true" in references '
            f"for {controllers[0]} and {controllers[1]}"
        )
        errs.append(invalid("metadata.ownerReferences", refs, detail))
    return errs


# --- label selectors (meta/v1/validation) ---------------------------------------------------


def validate_label_selector(selector: dict, path: str) -> Errors:
    errs = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        errs += _validate_requirement(expr, f"{path}.matchExpressions[{i}]")
    return errs


def _validate_requirement(expr: dict, path: str) -> Errors:
    operator, values = expr.get("operator") or "", expr.get("values") or []
    errs: Errors = []
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(
                required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            errs.append(forbidden(f"{path}.values", detail))
    else:
        errs.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
    errs += invalid_each(f"{path}.key", expr.get("key") or "", is_label_key(expr.get("key") or ""))
    for i, value in enumerate(values):
        errs += invalid_each(f"{path}.values[{i}]", value, is_label_value(str(value)))
    return errs


def selector_converts(selector: dict) -> bool:
    """Whether metav1.LabelSelectorAsSelector accepts it (else: `invalid label selector`)."""
    return not validate_label_selector(selector, "")


def selector_matches(selector: dict | None, labels: dict) -> bool | None:
    """True/False for a selector that selects something; None for `{}` (selects all)."""
    if selector is None:
        return False  # labels.Nothing(): never matches
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return None
    return matches_label_selector(selector, labels)


# --- ports (pkg/apis/core/validation/validation.go) --------------------------------------------

PROTOCOLS = ("SCTP", "TCP", "UDP")  # sets.List(supportedPortProtocols): sorted


def validate_protocol(protocol: Any, path: str) -> Errors:
    if not protocol:
        return [required(path)]
    return [] if protocol in PROTOCOLS else [not_supported(path, protocol, PROTOCOLS)]


def validate_port_num_or_name(port: Any, path: str) -> Errors:
    """ValidatePortNumOrName: a number 1-65535 or an IANA service name."""
    if isinstance(port, str):
        return invalid_each(path, port, is_valid_port_name(port))
    number = port or 0
    return invalid_each(path, number, is_valid_port_num(number))
