"""Strict decoding of a manifest against Kubernetes' own OpenAPI schemas.

Mirrors what kube-apiserver does to a request body before defaulting: the JSON
serializer (`k8s.io/apimachinery/pkg/runtime/serializer/json/json.go`) decodes it with
`sigs.k8s.io/json` in strict mode (kubectl's default `--validate=strict`), and reports
problems with Go `encoding/json`'s words:

- a value of the wrong JSON type stops decoding; the first one (in document order) is the
  whole error: `json: cannot unmarshal string into Go struct field
  DeploymentSpec.spec.replicas of type int32`;
- otherwise every unknown field goes into one message:
  `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.

So `check_schema` returns at most one message, as the API server shows at most one; the
caller prefixes it with `Deployment in version "v1" cannot be handled as a Deployment: `
(`transformDecodeError` in `k8s.io/apiserver/pkg/endpoints/handlers/rest.go`).

The types come from the schemas the `kubernetes-validate` package ships (Kubernetes'
OpenAPI documents, `-strict` variant: `additionalProperties: false` on every struct),
newest version. Only decoding problems are reported: required fields, enums and value
formats are validation's business (lab_kit.model.validation), as in Kubernetes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lab_kit.model.kinds import KINDS

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_GO_INTS = ("int32", "int64", "int")
# resource.Quantity's UnmarshalJSON returns its parse error bare, without json: context.
_QUANTITY_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
# What may name a schema file: keeps user input from walking out of the schema folder.
_SAFE_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_SAFE_API_VERSION = re.compile(r"^([a-z0-9][a-z0-9.-]*/)?v[0-9][a-z0-9]*$")


@dataclass(frozen=True)
class _Schemas:
    """The shared part: Kubernetes version, folder, `$defs` and the reference registry."""

    version: str
    folder: str
    definitions: dict
    registry: Any


@dataclass(frozen=True)
class _Checker:
    """One kind's jsonschema validator plus its root schema (for Go type names)."""

    validator: Any
    root: dict
    kind: str


_loaded: dict[str, _Schemas] = {}
_checkers: dict[tuple[str, str], _Checker | None] = {}


def check_schema(obj: dict) -> list[str]:
    """The API server's decoding error for this manifest: [] or one message."""
    if not isinstance(obj, dict):
        return []
    checker = _checker(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
    if checker is None:
        return []  # no schema for this kind: nothing to say, as for an unknown CRD field
    type_errors: list[tuple[tuple, str]] = []
    unknown: list[tuple[tuple, str]] = []
    for error in checker.validator.iter_errors(obj):
        _classify(checker, obj, error, type_errors, unknown)
    if type_errors:
        return [min(type_errors)[1]]  # Go keeps the first type error and drops the rest
    if unknown:
        fields = ", ".join(f'unknown field "{path}"' for _, path in sorted(unknown))
        return [f"strict decoding error: {fields}"]
    return []


def warm_up() -> None:
    """Load the schema of every served kind now, so no request pays for it (API start)."""
    for kind in KINDS:
        checker = _checker(kind.api_version, kind.kind)
        if checker is not None:
            minimal = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {}}
            list(checker.validator.iter_errors(minimal))


# --- loading --------------------------------------------------------------------------------


def _schemas() -> _Schemas:
    """Load `_definitions.json` once; importing jsonschema is itself slow, so it waits too."""
    if "k8s" not in _loaded:
        from kubernetes_validate import utils
        from referencing import Registry, Resource

        version = utils.latest_version()
        folder = f"kubernetes-json-schema/v{version}-local-strict"
        definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
        registry = Resource.from_contents(definitions) @ Registry()
        _loaded["k8s"] = _Schemas(version, folder, definitions["$defs"], registry)
    return _loaded["k8s"]


def _checker(api_version: str, kind: str) -> _Checker | None:
    key = (api_version, kind)
    if key not in _checkers:
        _checkers[key] = _build_checker(api_version, kind)
    return _checkers[key]


def _build_checker(api_version: str, kind: str) -> _Checker | None:
    if not _SAFE_KIND.match(kind) or not _SAFE_API_VERSION.match(api_version):
        return None
    from jsonschema import Draft202012Validator
    from kubernetes_validate import utils

    schemas = _schemas()
    # kubernetes-validate's naming: networking.k8s.io/v1 -> networking-v1, v1 -> v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        root = utils.schema_contents(
            f"{schemas.folder}/{kind.lower()}-{group_version}.json", schemas.version
        )
    except FileNotFoundError:
        return None
    validator = Draft202012Validator(
        root, registry=schemas.registry, format_checker=_int_range_checker()
    )
    return _Checker(validator, root, kind)


def _int_range_checker() -> Any:
    """Only `format: int32/int64` is asserted: Go refuses numbers its int type can't hold."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    for name, (low, high) in _INT_RANGES.items():
        checker.checks(name)(
            lambda v, low=low, high=high: (
                not isinstance(v, int) or isinstance(v, bool) or low <= v <= high
            )
        )
    return checker


# --- turning jsonschema errors into the decoder's words ---------------------------------------


def _classify(checker: _Checker, obj: dict, error: Any, type_errors: list, unknown: list) -> None:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        keys = list(error.instance)
        base = _position(obj, path)
        for key in keys:
            if key not in known:
                unknown.append((base + (keys.index(key),), _dotted([*path, key])))
    elif error.validator in ("type", "oneOf", "format") and error.instance is not None:
        # null never fails in Go (it leaves the zero value), whatever the schema says.
        message = _type_error(checker, path, error.instance)
        type_errors.append((_position(obj, path), message))
    # required, enum, ...: not the decoder's concern (validation reports them).


def _type_error(checker: _Checker, path: list, value: Any) -> str:
    struct, fields, schema = _go_context(checker, path)
    go_type = _go_type(schema)
    if go_type == "resource.Quantity":
        return _QUANTITY_ERROR
    if go_type == "intstr.IntOrString":
        go_type = "int32"  # IntOrString.UnmarshalJSON decodes non-strings into IntVal
    return (
        f"json: cannot unmarshal {_json_kind(value, go_type)} into Go struct field "
        f"{struct}.{'.'.join(fields)} of type {go_type}"
    )


def _go_context(checker: _Checker, path: list) -> tuple[str, list[str], dict]:
    """Walk the schema along `path` as encoding/json walks Go types: the innermost struct
    holding the field, the field names from the root (no indexes, no map keys), and the
    schema of the value at `path`."""
    definitions = _schemas().definitions
    schema, current, struct, fields = checker.root, checker.kind, checker.kind, []
    for step in path:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema, current = definitions.get(name, {}), name.rsplit(".", 1)[-1]
        if isinstance(step, int):
            schema = schema.get("items") or {}
        elif step in schema.get("properties", {}):
            struct = current
            fields.append(step)
            schema = schema["properties"][step]
        else:  # a map value: Go reports the map field itself
            extra = schema.get("additionalProperties")
            schema = extra if isinstance(extra, dict) else {}
    return struct, fields, schema


def _go_type(schema: dict) -> str:
    """The Go type encoding/json names for a schema: int32, []v1.Container, map[string]string."""
    ref = schema.get("$ref")
    if ref:
        parts = ref.rsplit("/", 1)[-1].split(".")
        return ".".join(parts[-2:])  # io.k8s.api.core.v1.Container -> v1.Container
    types = schema.get("type")
    if isinstance(types, list):
        types = next((t for t in types if t != "null"), "")
    simple = {"integer": schema.get("format") or "int64", "number": "float64", "boolean": "bool"}
    if types in simple:
        return simple[types]
    if types == "string":
        return "[]uint8" if schema.get("format") == "byte" else "string"
    if types == "array":
        return "[]" + _go_type(schema.get("items") or {})
    extra = schema.get("additionalProperties")
    if types == "object" and isinstance(extra, dict):
        return "map[string]" + _go_type(extra)
    return "map[string]interface {}"


def _json_kind(value: Any, go_type: str) -> str:
    """UnmarshalTypeError.Value: the JSON kind, with the literal for numbers into ints."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value!r}" if go_type in _GO_INTS else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _dotted(path: list) -> str:
    """`spec.template.spec.containers[0].foo`, as sigs.k8s.io/json names unknown fields."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


def _position(obj: Any, path: list) -> tuple:
    """Where `path` sits in document order (dicts keep the manifest's key order)."""
    position, current = [], obj
    for step in path:
        if isinstance(current, dict):
            keys = list(current)
            position.append(keys.index(step) if step in current else len(keys))
            current = current.get(step)
        elif isinstance(current, list) and isinstance(step, int) and step < len(current):
            position.append(step)
            current = current[step]
    return tuple(position)
