"""Validation of Pods and pod templates, after defaulting.

Mirrors `pkg/apis/core/validation/validation.go`: ValidatePodCreate/ValidatePodUpdate,
ValidatePodSpec, validateContainers, validateContainerCommon, validateContainerPorts,
validateLivenessProbe/ReadinessProbe/StartupProbe, validateProbe, validateHandler,
validatePodDNSConfig, validatePodHostNetworkDeps and ValidatePodTemplateSpec.

Left out (the lab's pods do not need them): volume sources beyond their names,
resource quantities, security contexts, affinity, tolerations, topology spread. The Pod
update error gives Kubernetes' sentence without the `cmp.Diff` of the two specs that
Kubernetes appends to it.
"""

from __future__ import annotations

from typing import Any

from lab_kit.model.errors import duplicate, forbidden, invalid, not_found, not_supported, required
from lab_kit.model.validation_common import (
    go_invalid,
    go_string_slice,
    validate_annotations,
    validate_labels,
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
    validate_port_num_or_name,
    validate_protocol,
)
from lab_kit.model.validation_formats import (
    Errors,
    inclusive_range_error,
    invalid_each,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
    name_is_dns_subdomain,
    validate_ip,
)

_RESTART_POLICIES = ("Always", "OnFailure", "Never")  # Kubernetes lists these unsorted
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")
_POD_UPDATE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def validate_pod(pod: dict, old: dict | None = None) -> Errors:
    errs = validate_object_meta_update(pod, old) if old is not None else []
    errs += validate_object_meta(pod, True, name_is_dns_subdomain)
    spec = pod.get("spec") or {}
    errs += validate_pod_spec(spec, "spec", is_pod=True)
    for key in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(key) or []):
            image = (container or {}).get("image") or ""
            if image != image.strip():  # pod-only: templates tolerate " " for old clients
                path = f"spec.{key}[{i}].image"
                errs.append(invalid(path, image, "must not have leading or trailing whitespace"))
    if old is not None:
        old_spec = old.get("spec") or {}
        if _mutable_view(spec, old_spec) != _mutable_view(old_spec, old_spec):
            errs.append(forbidden("spec", _POD_UPDATE))
    return errs


def _mutable_view(spec: dict, old_spec: dict) -> dict:
    """The spec minus what a Pod update may change: images, activeDeadlineSeconds,
    tolerations and the grace period."""
    view = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations")}
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if (
        isinstance(old_grace, int)
        and old_grace < 0
        and view.get("terminationGracePeriodSeconds") == 1
    ):
        view["terminationGracePeriodSeconds"] = old_grace  # the one allowed grace change
    if not view.get("nodeName") and old_spec.get("nodeName"):
        # nodeName comes from pods/binding; a resubmitted manifest simply lacks it.
        view["nodeName"] = old_spec["nodeName"]
    for key in ("containers", "initContainers"):
        if isinstance(view.get(key), list):
            view[key] = [{**c, "image": None} for c in view[key] if isinstance(c, dict)]
    return view


def validate_template(template: dict, path: str) -> Errors:
    """ValidatePodTemplateSpec (note: metadata errors use `<path>.labels`, as in Go)."""
    md = template.get("metadata") or {}
    errs = validate_labels(md.get("labels"), f"{path}.labels")
    errs += validate_annotations(md.get("annotations"), f"{path}.annotations")
    spec = template.get("spec") or {}
    errs += validate_pod_spec(spec, f"{path}.spec", is_pod=False)
    if spec.get("ephemeralContainers"):
        detail = "ephemeral containers not allowed in pod template"
        errs.append(forbidden(f"{path}.spec.ephemeralContainers", detail))
    return errs


def validate_pod_spec(spec: dict, path: str, *, is_pod: bool) -> Errors:
    errs: Errors = []
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(f"{path}.terminationGracePeriodSeconds"))
    volumes, volume_errs = _volumes(spec.get("volumes") or [], f"{path}.volumes")
    errs += volume_errs
    grace = spec.get("terminationGracePeriodSeconds")
    errs += _containers(spec.get("containers") or [], volumes, grace, f"{path}.containers")
    errs += _init_containers(spec, volumes, f"{path}.initContainers")
    errs += _host_network_ports(spec, path, is_pod)
    errs += _enum(spec.get("restartPolicy"), _RESTART_POLICIES, f"{path}.restartPolicy")
    errs += _enum(spec.get("dnsPolicy"), _DNS_POLICIES, f"{path}.dnsPolicy")
    errs += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    errs += _dns_config(spec.get("dnsConfig"), spec.get("dnsPolicy"), f"{path}.dnsConfig")
    return errs + _pod_names(spec, path)


def _enum(value: Any, allowed: tuple[str, ...], path: str) -> Errors:
    if not value:
        return [required(path)]
    return [] if value in allowed else [not_supported(path, value, allowed)]


def _volumes(volumes: list, path: str) -> tuple[set[str], Errors]:
    names: set[str] = set()
    errs: Errors = []
    for i, volume in enumerate(volumes):
        name = (volume or {}).get("name") or ""
        if not name:
            errs.append(required(f"{path}[{i}].name"))
        else:
            errs += invalid_each(f"{path}[{i}].name", name, is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{path}[{i}].name", name))
        names.add(name)
    return names, errs


def _containers(containers: list, volumes: set[str], grace: Any, path: str) -> Errors:
    if not containers:
        return [required(path)]
    errs: Errors = []
    names: set[str] = set()
    for i, container in enumerate(containers):
        container, ctr_path = container or {}, f"{path}[{i}]"
        errs += _container_common(container, volumes, ctr_path)
        name = container.get("name") or ""
        if name in names:
            errs.append(duplicate(f"{ctr_path}.name", name))
        names.add(name)
        errs += _lifecycle(container.get("lifecycle"), grace, f"{ctr_path}.lifecycle")
        errs += _probes(container, f"{ctr_path}")
        if container.get("restartPolicy") is not None:
            errs.append(
                forbidden(f"{ctr_path}.restartPolicy", "may not be set for non-init containers")
            )
    return errs


def _init_containers(spec: dict, volumes: set[str], path: str) -> Errors:
    errs: Errors = []
    names = {(c or {}).get("name") or "" for c in spec.get("containers") or []}
    grace = spec.get("terminationGracePeriodSeconds")
    for i, container in enumerate(spec.get("initContainers") or []):
        container, ctr_path = container or {}, f"{path}[{i}]"
        errs += _container_common(container, volumes, ctr_path)
        name = container.get("name") or ""
        if name in names:
            errs.append(duplicate(f"{ctr_path}.name", name))
        elif name:
            names.add(name)
        if container.get("restartPolicy") == "Always":  # a sidecar: hooks and probes allowed
            errs += _lifecycle(container.get("lifecycle"), grace, f"{ctr_path}.lifecycle")
            errs += _probes(container, ctr_path)
            continue
        if container.get("restartPolicy") is not None:
            errs.append(
                not_supported(f"{ctr_path}.restartPolicy", container["restartPolicy"], ["Always"])
            )
        for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(key) is not None:
                detail = "may not be set for init containers without restartPolicy=Always"
                errs.append(forbidden(f"{ctr_path}.{key}", detail))
    return errs


def _container_common(container: dict, volumes: set[str], path: str) -> Errors:
    errs: Errors = []
    name = container.get("name") or ""
    if not name:
        errs.append(required(f"{path}.name"))
    else:
        errs += invalid_each(f"{path}.name", name, is_dns1123_label(name))
    if not container.get("image"):
        errs.append(required(f"{path}.image"))
    errs += _enum(
        container.get("terminationMessagePolicy"),
        _MESSAGE_POLICIES,
        f"{path}.terminationMessagePolicy",
    )
    errs += _container_ports(container.get("ports") or [], f"{path}.ports")
    errs += _env(container.get("env") or [], f"{path}.env")
    errs += _volume_mounts(container.get("volumeMounts") or [], volumes, f"{path}.volumeMounts")
    policy = container.get("imagePullPolicy")
    return errs + _enum(policy, _PULL_POLICIES, f"{path}.imagePullPolicy")


def _container_ports(ports: list, path: str) -> Errors:
    errs: Errors = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port, port_path = port or {}, f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            problems = is_valid_port_name(name)
            errs += invalid_each(f"{port_path}.name", name, problems)
            if not problems and name in names:
                errs.append(duplicate(f"{port_path}.name", name))
            names.add(name)
        number = port.get("containerPort") or 0
        if not number:
            errs.append(required(f"{port_path}.containerPort"))
        else:
            errs += invalid_each(f"{port_path}.containerPort", number, is_valid_port_num(number))
        if port.get("hostPort"):
            errs += invalid_each(
                f"{port_path}.hostPort", port["hostPort"], is_valid_port_num(port["hostPort"])
            )
        errs += validate_protocol(port.get("protocol"), f"{port_path}.protocol")
    return errs


def _env(env: list, path: str) -> Errors:
    """Env names: RelaxedEnvironmentVariableValidation (on by default since v1.32)."""
    errs: Errors = []
    for i, var in enumerate(env):
        name = (var or {}).get("name") or ""
        if not name:
            errs.append(required(f"{path}[{i}].name"))
        elif any(not (32 <= ord(ch) < 127) or ch == "=" for ch in name):
            detail = "a valid environment variable name must consist only of printable ASCII characters other than '='"
            errs.append(invalid(f"{path}[{i}].name", name, detail))
    return errs


def _volume_mounts(mounts: list, volumes: set[str], path: str) -> Errors:
    errs: Errors = []
    mount_paths: set[str] = set()
    for i, mount in enumerate(mounts):
        mount, mount_path = mount or {}, f"{path}[{i}]"
        name, where = mount.get("name") or "", mount.get("mountPath") or ""
        if not name:
            errs.append(required(f"{mount_path}.name"))
        if name not in volumes:
            errs.append(not_found(f"{mount_path}.name", name))
        if not where:
            errs.append(required(f"{mount_path}.mountPath"))
        if where in mount_paths:
            errs.append(invalid(f"{mount_path}.mountPath", where, "must be unique"))
        mount_paths.add(where)
    return errs


# --- probes and lifecycle handlers ------------------------------------------------------------


def _probes(container: dict, path: str) -> Errors:
    errs: Errors = []
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(key)
        if probe is None:
            continue
        probe_path = f"{path}.{key}"
        errs += _probe(probe, probe_path)
        if key != "readinessProbe" and probe.get("successThreshold") != 1:
            errs.append(
                invalid(
                    f"{probe_path}.successThreshold", probe.get("successThreshold"), "must be 1"
                )
            )
        if key == "readinessProbe" and probe.get("terminationGracePeriodSeconds") is not None:
            value = probe["terminationGracePeriodSeconds"]
            detail = "must not be set for readinessProbes"
            errs.append(invalid(f"{probe_path}.terminationGracePeriodSeconds", value, detail))
    return errs


def _probe(probe: dict, path: str) -> Errors:
    handler = {k: v for k, v in probe.items() if k in _HANDLERS and k != "sleep"}
    errs = _handler(handler, None, path)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        errs += validate_nonnegative(probe.get(key) or 0, f"{path}.{key}")
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        errs.append(
            invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0")
        )
    return errs


def _handler(handler: dict, grace: Any, path: str) -> Errors:
    """validateHandler: exactly one of exec, httpGet, tcpSocket, grpc (probes), sleep (hooks)."""
    errs: Errors = []
    seen = 0
    for key in _HANDLERS:
        if handler.get(key) is None:
            continue
        if seen:
            errs.append(forbidden(f"{path}.{key}", "may not specify more than 1 handler type"))
            continue
        seen += 1
        errs += _ACTIONS[key](handler[key], grace, f"{path}.{key}")
    if not seen:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _exec_action(action: dict, _grace: Any, path: str) -> Errors:
    return [] if action.get("command") else [required(f"{path}.command")]


def _http_get_action(action: dict, _grace: Any, path: str) -> Errors:
    errs = [] if action.get("path") else [required(f"{path}.path")]
    errs += validate_port_num_or_name(action.get("port"), f"{path}.port")
    if action.get("scheme") not in ("HTTP", "HTTPS"):
        errs.append(not_supported(f"{path}.scheme", action.get("scheme") or "", ("HTTP", "HTTPS")))
    return errs


def _tcp_socket_action(action: dict, _grace: Any, path: str) -> Errors:
    return validate_port_num_or_name(action.get("port"), f"{path}.port")


def _grpc_action(action: dict, _grace: Any, path: str) -> Errors:
    port = action.get("port") or 0
    return invalid_each(f"{path}.port", port, is_valid_port_num(port))


def _sleep_action(action: dict, grace: Any, path: str) -> Errors:
    seconds = action.get("seconds") or 0
    if grace is not None and (seconds <= 0 or seconds > grace):
        detail = (
            f"must be greater than 0 and less than terminationGracePeriodSeconds ({grace}). "
            "Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep."
        )
        return [invalid(path, seconds, detail)]
    return []


_ACTIONS = {
    "exec": _exec_action,
    "httpGet": _http_get_action,
    "tcpSocket": _tcp_socket_action,
    "grpc": _grpc_action,
    "sleep": _sleep_action,
}


def _lifecycle(lifecycle: Any, grace: Any, path: str) -> Errors:
    if not isinstance(lifecycle, dict):
        return []
    errs: Errors = []
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            handler = {k: v for k, v in lifecycle[hook].items() if k != "grpc"}
            errs += _handler(handler, grace, f"{path}.{hook}")
    return errs


# --- the rest of the pod spec -----------------------------------------------------------------


def _host_network_ports(spec: dict, path: str, is_pod: bool) -> Errors:
    """With hostNetwork, hostPort must equal containerPort (templates may leave it 0)."""
    if not spec.get("hostNetwork"):
        return []
    errs: Errors = []
    for i, container in enumerate(spec.get("containers") or []):
        for j, port in enumerate((container or {}).get("ports") or []):
            host, ctr = port.get("hostPort") or 0, port.get("containerPort") or 0
            if (is_pod or host) and host != ctr:
                detail = "must match `containerPort` when `hostNetwork` is true"
                errs.append(invalid(f"{path}.containers[{i}].ports[{j}].hostPort", host, detail))
    return errs


def _dns_config(config: Any, policy: Any, path: str) -> Errors:
    if policy == "None":
        if config is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not config.get("nameservers"):
            detail = "must provide at least one DNS nameserver when `dnsPolicy` is None"
            return [required(f"{path}.nameservers", detail)]
    if not isinstance(config, dict):
        return []
    errs: Errors = []
    servers = config.get("nameservers") or []
    if len(servers) > 3:
        detail = "must not have more than 3 nameservers"
        errs.append(go_invalid(f"{path}.nameservers", servers, go_string_slice(servers), detail))
    for i, server in enumerate(servers):
        errs += validate_ip(f"{path}.nameservers[{i}]", server)
    for i, search in enumerate(config.get("searches") or []):
        search = str(search).removesuffix(".")
        errs += invalid_each(f"{path}.searches[{i}]", search, is_dns1123_subdomain(search))
    for i, option in enumerate(config.get("options") or []):
        if not (option or {}).get("name"):
            errs.append(required(f"{path}.options[{i}]", "must not be empty"))
    return errs


def _pod_names(spec: dict, path: str) -> Errors:
    errs: Errors = []
    for key in ("serviceAccountName", "nodeName"):
        if spec.get(key):
            errs += invalid_each(f"{path}.{key}", spec[key], name_is_dns_subdomain(spec[key]))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= 2**31 - 1:
        detail = inclusive_range_error(1, 2**31 - 1)
        errs.append(invalid(f"{path}.activeDeadlineSeconds", deadline, detail))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs += invalid_each(f"{path}.{key}", spec[key], is_dns1123_label(spec[key]))
    return errs
