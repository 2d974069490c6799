"""Field errors and API errors, worded as the Kubernetes API server words them.

Mirrors `k8s.io/apimachinery/pkg/util/validation/field/errors.go` (FieldError and its
`Error()` text) and `k8s.io/apimachinery/pkg/api/errors` (the `Status` object and the
messages of NotFound, AlreadyExists, Conflict, Invalid, ...). A learner who has seen
`kubectl` output recognises every line this module produces:

    spec.ports[1].name: Required value
    spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", ...
    The Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.1"]: failed to ...
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

_MISSING: Any = object()

# FieldError type -> (the words in the message, the StatusCause reason)
_TYPES = {
    "Required": ("Required value", "FieldValueRequired"),
    "Invalid": ("Invalid value", "FieldValueInvalid"),
    "NotSupported": ("Unsupported value", "FieldValueNotSupported"),
    "Duplicate": ("Duplicate value", "FieldValueDuplicate"),
    "Forbidden": ("Forbidden", "FieldValueForbidden"),
    "NotFound": ("Not found", "FieldValueNotFound"),
    "TooLong": ("Too long", "FieldValueTooLong"),
    "TooMany": ("Too many", "FieldValueTooMany"),
}


def _value_text(value: Any) -> str:
    """Format a bad value as apimachinery does: strings quoted, lists/maps as JSON."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, e.g. `spec.ports[0].name: Required value`."""

    type: str
    field: str
    detail: str = ""
    value: Any = dataclasses.field(default=_MISSING, compare=False)

    def body(self) -> str:
        words, _ = _TYPES[self.type]
        if self.type in ("Invalid", "NotSupported", "Duplicate", "NotFound"):
            text = f"{words}: {_value_text(self.value)}" if self.value is not _MISSING else words
        else:
            text = words
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    @property
    def reason(self) -> str:
        return _TYPES[self.type][1]


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("Required", path, detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("Invalid", path, detail, value)


def not_supported(path: str, value: Any, supported: list[str] | tuple[str, ...]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(s) for s in supported) if supported else ""
    return FieldError("NotSupported", path, detail, value)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError("Duplicate", path, "", value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("Forbidden", path, detail)


def not_found(path: str, value: Any) -> FieldError:
    return FieldError("NotFound", path, "", value)


def too_long(path: str, max_length: int) -> FieldError:
    return FieldError("TooLong", path, f"must have at most {max_length} bytes")


def aggregate(errors: list[FieldError]) -> str:
    """apimachinery's utilerrors.NewAggregate text: one error bare, several in brackets."""
    texts = [str(e) for e in errors]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


class ApiError(Exception):
    """An error the API server returns, carrying a Kubernetes `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict:
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status

    @classmethod
    def from_status(cls, status: dict) -> ApiError:
        return cls(
            int(status.get("code", 500)),
            status.get("reason", ""),
            status.get("message", ""),
            status.get("details"),
        )

    def __str__(self) -> str:
        return self.message


def _details(resource: str, name: str, group: str = "", **extra: Any) -> dict:
    d = {"name": name, "kind": resource, **extra}
    if group:
        d["group"] = group
    return d


def err_not_found(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        404, "NotFound", f'{qualified} "{name}" not found', _details(resource, name, group)
    )


def err_already_exists(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified} "{name}" already exists',
        _details(resource, name, group),
    )


def err_conflict(resource: str, name: str, why: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
        _details(resource, name, group),
    )


def err_modified(resource: str, name: str, group: str = "") -> ApiError:
    return err_conflict(
        resource,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
        group,
    )


def err_invalid(kind: str, name: str, errors: list[FieldError], group: str = "") -> ApiError:
    qualified = f"{kind}.{group}" if group else kind
    causes = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {aggregate(errors)}',
        _details(kind, name, group, causes=causes),
    )


def err_webhook_denied(webhook: str, errors: list[FieldError]) -> ApiError:
    """A validating admission webhook's refusal, as Knative's reads (`<message>: <path>`,
    one per line): 400 BadRequest with the webhook's name."""
    lines = "\n".join(f"{e.detail}: {e.field}" for e in errors)
    return ApiError(
        400,
        "BadRequest",
        f'admission webhook "{webhook}" denied the request: validation failed: {lines}',
    )


def err_bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def err_gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def err_forbidden(resource: str, name: str, why: str) -> ApiError:
    return ApiError(
        403, "Forbidden", f'{resource} "{name}" is forbidden: {why}', _details(resource, name)
    )


def err_method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def err_no_kind_match(kind: str, api_version: str) -> ApiError:
    """What kubectl reports for an apiVersion/kind the server does not serve."""
    return ApiError(404, "NotFound", f'no matches for kind "{kind}" in version "{api_version}"')
