"""Validation of Deployments and ReplicaSets (apps/v1), after defaulting.

Mirrors `pkg/apis/apps/validation/validation.go`: ValidateDeploymentSpec,
ValidateReplicaSetSpec, ValidatePodTemplateSpecForReplicaSet, ValidateDeploymentStrategy,
ValidateRollingUpdateDeployment, ValidatePositiveIntOrPercent, IsNotMoreThan100Percent,
and the apps/v1 rule that `spec.selector` may not change on update.
"""

from __future__ import annotations

from typing import Any

from lab_kit.model.errors import forbidden, invalid, not_supported, required
from lab_kit.model.validation_common import (
    GoValueError,
    go_int_or_string,
    go_invalid,
    go_label_selector,
    go_string_map,
    selector_converts,
    selector_matches,
    validate_immutable,
    validate_label_selector,
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from lab_kit.model.validation_formats import (
    NEGATIVE,
    Errors,
    is_valid_percent,
    name_is_dns_subdomain,
)
from lab_kit.model.validation_pod import validate_template


def validate_deployment(deployment: dict, old: dict | None = None) -> Errors:
    errs = _update(deployment, old) if old is not None else []
    errs += validate_object_meta(deployment, True, name_is_dns_subdomain)
    spec = deployment.get("spec") or {}
    errs += validate_nonnegative(spec.get("replicas") or 0, "spec.replicas")
    errs += _selector_and_template(spec)
    errs += _strategy(spec.get("strategy") or {})
    min_ready = spec.get("minReadySeconds") or 0
    errs += validate_nonnegative(min_ready, "spec.minReadySeconds")
    if spec.get("revisionHistoryLimit") is not None:
        errs += validate_nonnegative(spec["revisionHistoryLimit"], "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errs += validate_nonnegative(deadline, "spec.progressDeadlineSeconds")
        if deadline <= min_ready:
            detail = "must be greater than minReadySeconds"
            errs.append(invalid("spec.progressDeadlineSeconds", deadline, detail))
    return errs


def validate_replica_set(rs: dict, old: dict | None = None) -> Errors:
    errs = _update(rs, old) if old is not None else []
    errs += validate_object_meta(rs, True, name_is_dns_subdomain)
    spec = rs.get("spec") or {}
    errs += validate_nonnegative(spec.get("replicas") or 0, "spec.replicas")
    errs += validate_nonnegative(spec.get("minReadySeconds") or 0, "spec.minReadySeconds")
    return errs + _selector_and_template(spec)


def _update(new: dict, old: dict) -> Errors:
    """apps/v1 made the selector immutable: a new selector would orphan the old pods."""
    selector = (new.get("spec") or {}).get("selector")
    old_selector = (old.get("spec") or {}).get("selector")
    errs = validate_object_meta_update(new, old)
    return errs + validate_immutable(
        selector, old_selector, "spec.selector", go_label_selector(selector)
    )


def _selector_and_template(spec: dict) -> Errors:
    selector = spec.get("selector")
    errs: Errors = []
    if selector is None:
        errs.append(required("spec.selector"))
    else:
        errs += validate_label_selector(selector, "spec.selector")
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            # The message says deployment for ReplicaSets too: Kubernetes shares the text.
            detail = "empty selector is invalid for deployment"
            errs.append(go_invalid("spec.selector", selector, go_label_selector(selector), detail))
        if not selector_converts(selector):
            go_value = go_label_selector(selector)
            return [
                *errs,
                go_invalid("spec.selector", selector, go_value, "invalid label selector"),
            ]
    return errs + _template(spec.get("template") or {}, selector)


def _template(template: dict, selector: dict | None) -> Errors:
    """ValidatePodTemplateSpecForReplicaSet."""
    labels = (template.get("metadata") or {}).get("labels")
    errs: Errors = []
    if selector_matches(selector, labels or {}) is False:
        detail = "`selector` does not match template `labels`"
        errs.append(
            go_invalid("spec.template.metadata.labels", labels, go_string_map(labels), detail)
        )
    errs += validate_template(template, "spec.template")
    pod_spec = template.get("spec") or {}
    policy = pod_spec.get("restartPolicy")
    if policy and policy != "Always":  # Required/NotSupported were reported by the pod spec
        errs.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        detail = "activeDeadlineSeconds in ReplicaSet is not Supported"
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds", detail))
    return errs


def _strategy(strategy: dict) -> Errors:
    kind, rolling = strategy.get("type"), strategy.get("rollingUpdate")
    path = "spec.strategy"
    if kind == "Recreate":
        detail = "may not be specified when strategy `type` is 'Recreate'"
        return [forbidden(f"{path}.rollingUpdate", detail)] if rolling is not None else []
    if kind == "RollingUpdate":
        if rolling is None:
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        return _rolling_update(rolling, f"{path}.rollingUpdate")
    # Go prints the whole *DeploymentStrategy; the pointer inside shows as an address.
    pointer = (
        "(*apps.RollingUpdateDeployment)(nil)"
        if rolling is None
        else "(*apps.RollingUpdateDeployment)(0xc000a1b2c0)"
    )
    go_value = f'apps.DeploymentStrategy{{Type:"{kind or ""}", RollingUpdate:{pointer}}}'
    supported = 'supported values: "Recreate", "RollingUpdate"'
    return [GoValueError("NotSupported", path, supported, strategy, go_value)]


def _rolling_update(rolling: dict, path: str) -> Errors:
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    errs = _int_or_percent(unavailable, f"{path}.maxUnavailable")
    errs += _int_or_percent(surge, f"{path}.maxSurge")
    go_value = go_int_or_string(unavailable)
    if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
        detail = "may not be 0 when `maxSurge` is 0"
        errs.append(go_invalid(f"{path}.maxUnavailable", unavailable, go_value, detail))
    percent = _percent(unavailable)
    if percent is not None and percent > 100:
        errs.append(
            go_invalid(
                f"{path}.maxUnavailable", unavailable, go_value, "must not be greater than 100%"
            )
        )
    return errs


def _int_or_percent(value: Any, path: str) -> Errors:
    """ValidatePositiveIntOrPercent: "N%" or a non-negative integer."""
    if isinstance(value, str):
        return [
            go_invalid(path, value, go_int_or_string(value), msg) for msg in is_valid_percent(value)
        ]
    if isinstance(value, int) and value < 0:
        return [invalid(path, value, NEGATIVE)]
    return []


def _percent(value: Any) -> int | None:
    if isinstance(value, str) and not is_valid_percent(value):
        return int(value[:-1])
    return None


def _int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: the percent, the int, or what strconv.Atoi makes of a string."""
    percent = _percent(value)
    if percent is not None:
        return percent
    if isinstance(value, int):
        return value
    try:
        return int(value) if isinstance(value, str) else 0
    except ValueError:
        return 0
