"""Knative Serving's resources (serving.knative.dev/v1): their defaults and validation.

Mirrors knative/serving `pkg/apis/serving/v1` (`*_defaults.go`, `*_validation.go`) and
`pkg/apis/serving/k8s_validation.go` for the subset the lab serves: a Service (its
`spec.template` and `spec.traffic`), a Configuration (`spec.template`), a Revision (a
template's spec, stamped) and a Route (`spec.traffic`). Knative checks them in its
admission webhook, so a refusal reads as the webhook's (`errors.err_webhook_denied`):

    admission webhook "validation.webhook.serving.knative.dev" denied the request:
    validation failed: expected 0 <= 1001 <= 1000: spec.template.spec.containerConcurrency

Defaults are those of `config-defaults` as shipped: `revision-timeout-seconds` 300,
`container-concurrency` 0 (unlimited), container name `user-container`,
`enable-service-links` false, a TCP readiness probe on the container's port when none is
given, and a Service/Route without `traffic` sending 100 % to the latest ready Revision.
The autoscaling annotations are checked as `pkg/apis/autoscaling/annotation_validation.go`
checks them. Left out: multi-container revisions, volumes beyond the pod's own rules,
`tags` on `latestRevision` of a Configuration's other Routes, DomainMapping.
"""

from __future__ import annotations

import re

from lab_kit.model.errors import FieldError

GROUP = "serving.knative.dev"
API_VERSION = f"{GROUP}/v1"
WEBHOOK = "validation.webhook.serving.knative.dev"

# Labels Knative puts on what it creates (pkg/apis/serving/register.go)
SERVICE_LABEL = f"{GROUP}/service"
CONFIGURATION_LABEL = f"{GROUP}/configuration"
CONFIGURATION_GENERATION_LABEL = f"{GROUP}/configurationGeneration"
REVISION_LABEL = f"{GROUP}/revision"
REVISION_UID_LABEL = f"{GROUP}/revisionUID"
ROUTE_LABEL = f"{GROUP}/route"
ROUTING_STATE_LABEL = f"{GROUP}/routingState"
VISIBILITY_LABEL = "networking.knative.dev/visibility"  # "cluster-local" keeps it inside

# Autoscaling annotations (pkg/apis/autoscaling/register.go)
AUTOSCALING = "autoscaling.knative.dev"
MIN_SCALE = f"{AUTOSCALING}/min-scale"
MAX_SCALE = f"{AUTOSCALING}/max-scale"
INITIAL_SCALE = f"{AUTOSCALING}/initial-scale"
TARGET = f"{AUTOSCALING}/target"
METRIC = f"{AUTOSCALING}/metric"
CLASS = f"{AUTOSCALING}/class"
WINDOW = f"{AUTOSCALING}/window"
TARGET_BURST_CAPACITY = f"{AUTOSCALING}/target-burst-capacity"
PANIC_WINDOW_PERCENTAGE = f"{AUTOSCALING}/panic-window-percentage"
PANIC_THRESHOLD_PERCENTAGE = f"{AUTOSCALING}/panic-threshold-percentage"
KPA_CLASS = "kpa.autoscaling.knative.dev"

DEFAULT_TIMEOUT_S = 300  # config-defaults revision-timeout-seconds
MAX_TIMEOUT_S = 600  # config-defaults max-revision-timeout-seconds
MAX_CONTAINER_CONCURRENCY = 1000  # config-defaults container-concurrency-max-limit
DEFAULT_CONTAINER_NAME = "user-container"
DEFAULT_USER_PORT = 8080  # the PORT a container without ports gets
# Ports the queue-proxy (and Knative's probes) use: a user container may not claim them.
RESERVED_PORTS = (8012, 8013, 8022, 9090, 9091)
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


# --- defaults ----------------------------------------------------------------------------------


def default_revision_spec(spec: dict) -> None:
    """RevisionSpec.SetDefaults with config-defaults as shipped."""
    spec.setdefault("timeoutSeconds", DEFAULT_TIMEOUT_S)
    spec.setdefault("containerConcurrency", 0)
    spec.setdefault("enableServiceLinks", False)
    containers = spec.get("containers")
    if not isinstance(containers, list):
        return
    for container in containers:
        if not isinstance(container, dict):
            continue
        if len(containers) == 1:
            container.setdefault("name", DEFAULT_CONTAINER_NAME)
        container.setdefault("resources", {})
        if "readinessProbe" not in container:
            # Knative's default: a TCP check of the user port, made by the queue-proxy
            container["readinessProbe"] = {"tcpSocket": {"port": 0}, "successThreshold": 1}


def _default_template(obj: dict) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        spec = template.setdefault("spec", {})
        if isinstance(spec, dict):
            default_revision_spec(spec)


def _default_traffic(spec: dict) -> None:
    """RouteSpec.SetDefaults: no traffic → all to the latest ready Revision; a target naming
    a Revision has latestRevision false."""
    traffic = spec.get("traffic")
    if not traffic:
        spec["traffic"] = [{"latestRevision": True, "percent": 100}]
        return
    for target in traffic if isinstance(traffic, list) else []:
        if (
            isinstance(target, dict)
            and target.get("revisionName")
            and "latestRevision" not in target
        ):
            target["latestRevision"] = False


def default_service(svc: dict) -> None:
    _default_template(svc)
    _default_traffic(svc.setdefault("spec", {}))


def default_configuration(config: dict) -> None:
    _default_template(config)


def default_revision(rev: dict) -> None:
    spec = rev.setdefault("spec", {})
    if isinstance(spec, dict):
        default_revision_spec(spec)


def default_route(route: dict) -> None:
    spec = route.setdefault("spec", {})
    if isinstance(spec, dict) and isinstance(spec.get("traffic"), list):
        _default_traffic(spec)


# --- validation ---------------------------------------------------------------------------------


def _err(path: str, message: str) -> FieldError:
    """Knative's apis.FieldError: printed as `<message>: <path>`."""
    return FieldError("Invalid", path, message)


def _name_errors(obj: dict) -> list[FieldError]:
    name = (obj.get("metadata") or {}).get("name", "")
    if not name:
        return [_err("metadata.name", "missing field(s)")]
    if len(name) > 63 or not _DNS_LABEL.match(name):
        return [_err("metadata.name", f"not a DNS 1035 label: [{_dns_label_message(name)}]")]
    return []


def _dns_label_message(name: str) -> str:
    if len(name) > 63:
        return "must be no more than 63 characters"
    return (
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
        "start with an alphabetic character, and end with an alphanumeric character "
        "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')"
    )


def validate_revision_spec(spec: dict, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [_err(f"{path}.containers", "missing field(s)")]
    if len(containers) > 1:
        errors.append(_err(f"{path}.containers", "expected exactly one, got 2 (multi-container "
                                                  "revisions are not served by the lab)"))  # fmt: skip
    container = containers[0] if isinstance(containers[0], dict) else {}
    cpath = f"{path}.containers[0]"
    if not container.get("image"):
        errors.append(_err(f"{cpath}.image", "missing field(s)"))
    ports = container.get("ports") or []
    if len(ports) > 1:
        errors.append(_err(f"{cpath}.ports", "more than one container port is set"))
    for i, port in enumerate(ports[:1]):
        number = port.get("containerPort") if isinstance(port, dict) else None
        if number in RESERVED_PORTS:
            errors.append(_err(f"{cpath}.ports[{i}].containerPort", f"{number} is a reserved port"))
        elif not isinstance(number, int) or not 0 < number < 65536:
            errors.append(_err(f"{cpath}.ports[{i}].containerPort",
                               f"expected 0 < {number} < 65536"))  # fmt: skip
        name = port.get("name", "") if isinstance(port, dict) else ""
        if name not in ("", "http1", "h2c"):
            errors.append(_err(f"{cpath}.ports[{i}].name", f"invalid value: {name}"))
    cc = spec.get("containerConcurrency", 0)
    if not isinstance(cc, int) or not 0 <= cc <= MAX_CONTAINER_CONCURRENCY:
        errors.append(_err(f"{path}.containerConcurrency",
                           f"expected 0 <= {cc} <= {MAX_CONTAINER_CONCURRENCY}"))  # fmt: skip
    timeout = spec.get("timeoutSeconds", DEFAULT_TIMEOUT_S)
    if not isinstance(timeout, int) or not 0 <= timeout <= MAX_TIMEOUT_S:
        errors.append(_err(f"{path}.timeoutSeconds",
                           f"expected 0 <= {timeout} <= {MAX_TIMEOUT_S}"))  # fmt: skip
    return errors


def validate_autoscaling_annotations(annotations: dict, path: str) -> list[FieldError]:
    """annotation_validation.go, for the annotations the lab's autoscaler reads."""
    errors: list[FieldError] = []
    ints: dict[str, int] = {}
    for key in (MIN_SCALE, MAX_SCALE, INITIAL_SCALE):
        if key in annotations:
            value = str(annotations[key])
            if not value.isdigit():
                errors.append(_err(f"{path}[{key}]", f"invalid value: {value}"))
            else:
                ints[key] = int(value)
    if MIN_SCALE in ints and MAX_SCALE in ints and ints[MAX_SCALE] != 0 \
            and ints[MIN_SCALE] > ints[MAX_SCALE]:  # fmt: skip
        errors.append(_err(f"{path}[{MIN_SCALE}]",
                           f"min-scale={ints[MIN_SCALE]} is greater than "
                           f"max-scale={ints[MAX_SCALE]}"))  # fmt: skip
    if TARGET in annotations:
        target = _number(annotations[TARGET])
        if target is None or target < 0.01:
            errors.append(_err(f"{path}[{TARGET}]", f"invalid value: {annotations[TARGET]}"))
    if TARGET_BURST_CAPACITY in annotations:
        tbc = _number(annotations[TARGET_BURST_CAPACITY])
        if tbc is None or (tbc < 0 and tbc != -1):
            errors.append(_err(f"{path}[{TARGET_BURST_CAPACITY}]",
                               f"invalid value: {annotations[TARGET_BURST_CAPACITY]}"))  # fmt: skip
    if CLASS in annotations and annotations[CLASS] != KPA_CLASS:
        errors.append(_err(f"{path}[{CLASS}]", f"invalid value: {annotations[CLASS]} "
                                               f"(the lab's autoscaler is {KPA_CLASS})"))  # fmt: skip
    if METRIC in annotations and annotations[METRIC] not in ("concurrency", "rps"):
        errors.append(_err(f"{path}[{METRIC}]", f"invalid value: {annotations[METRIC]}"))
    if WINDOW in annotations:
        seconds = parse_duration(str(annotations[WINDOW]))
        if seconds is None or not 6 <= seconds <= 3600:
            errors.append(_err(f"{path}[{WINDOW}]",
                               f"expected 6s <= {annotations[WINDOW]} <= 1h0m0s"))  # fmt: skip
    return errors


def _number(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


def parse_duration(text: str) -> float | None:
    """A Go duration as Knative's config uses them: `6s`, `500ms`, `1m`, `1h` (one unit)."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2)
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def _template_errors(owner: dict, path: str) -> list[FieldError]:
    template = (owner.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return [_err(f"{path}", "missing field(s)")]
    errors: list[FieldError] = []
    md = template.get("metadata") or {}
    name = md.get("name")
    owner_name = (owner.get("metadata") or {}).get("name", "")
    if name and not name.startswith(f"{owner_name}-"):
        errors.append(_err(f"{path}.metadata.name",
                           f'not "{owner_name}-*": {name}'))  # fmt: skip
    errors += validate_autoscaling_annotations(md.get("annotations") or {},
                                               f"{path}.metadata.annotations")  # fmt: skip
    return errors + validate_revision_spec(template.get("spec") or {}, f"{path}.spec")


def validate_traffic(traffic: list, path: str, in_service: bool) -> list[FieldError]:
    """RouteSpec.Validate / TrafficTarget.Validate."""
    errors: list[FieldError] = []
    total = 0
    tags: set[str] = set()
    for i, target in enumerate(traffic):
        tpath = f"{path}[{i}]"
        if not isinstance(target, dict):
            errors.append(_err(tpath, "expected an object"))
            continue
        named, latest = bool(target.get("revisionName")), bool(target.get("latestRevision"))
        if target.get("configurationName") and in_service:
            errors.append(_err(f"{tpath}.configurationName", "disallowed field"))
        if named and latest:
            errors.append(_err(f"{tpath}.latestRevision",
                               f"may not set revisionName \"{target['revisionName']}\" when "
                               "latestRevision is true"))  # fmt: skip
        elif not named and not latest and not target.get("configurationName"):
            errors.append(_err(f"{tpath}.latestRevision, {tpath}.revisionName",
                               "expected exactly one, got neither"))  # fmt: skip
        percent = target.get("percent", 0)
        if not isinstance(percent, int) or not 0 <= percent <= 100:
            errors.append(_err(f"{tpath}.percent", f"expected 0 <= {percent} <= 100"))
        else:
            total += percent
        tag = target.get("tag")
        if tag:
            if tag in tags:
                errors.append(_err(f"{path}", f'Multiple definitions for "{tag}"'))
            elif not _DNS_LABEL.match(str(tag)):
                errors.append(_err(f"{tpath}.tag", f"invalid value: {tag}"))
            tags.add(tag)
    if traffic and total != 100:
        errors.append(_err(f"{path}", f"Traffic targets sum to {total}, want 100"))
    return errors


def validate_service(svc: dict, old: dict | None) -> list[FieldError]:
    spec = svc.get("spec") or {}
    errors = _name_errors(svc) + _template_errors(svc, "spec.template")
    return errors + validate_traffic(spec.get("traffic") or [], "spec.traffic", True)


def validate_configuration(config: dict, old: dict | None) -> list[FieldError]:
    return _name_errors(config) + _template_errors(config, "spec.template")


def validate_revision(rev: dict, old: dict | None) -> list[FieldError]:
    errors = validate_revision_spec(rev.get("spec") or {}, "spec")
    if old is not None and (old.get("spec") != rev.get("spec")):
        errors.append(_err("spec", "Immutable field changed"))  # a Revision is a snapshot
    return errors


def validate_route(route: dict, old: dict | None) -> list[FieldError]:
    traffic = (route.get("spec") or {}).get("traffic") or []
    return _name_errors(route) + validate_traffic(traffic, "spec.traffic", False)
