"""The environment a container starts with.

Mirrors `kubernetes/kubernetes`:
- `pkg/kubelet/envvars/envvars.go`: FromServices, makeEnvVariableName, makeLinkVariables;
- `pkg/kubelet/kubelet_pods.go`: getServiceEnvVarMap, makeEnvironmentVariables,
  podFieldSelectorRuntimeValue;
- `pkg/api/v1/pod/util.go` ConvertDownwardAPIFieldLabel and `pkg/fieldpath/fieldpath.go`
  ExtractFieldPathAsString (downward API `fieldRef`);
- `third_party/forked/golang/expansion/expand.go`: `$(VAR)` expansion;
- `pkg/kubelet/container/helpers.go`: ExpandContainerCommandAndArgs;
and, for the two variables the container runtime rather than the kubelet adds, containerd's
CRI plugin (`HOSTNAME`, set before the container's own variables) and its default OCI spec
(`PATH`, standing in for the image's).

Leaves out: `resourceFieldRef` (needs the node's allocatable for unset limits; reported as a
CreateContainerConfigError), `fileKeyRef` (EnvFiles, alpha), the kubelet's wait for its
Service informer to sync (the caller passes Services it has listed), and variable order:
kubelet assembles the list from Go maps, so order is unspecified; here it is a dict whose
order is deterministic (user variables first, then service variables by Service name).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from lab_kit.model import constants as C
from lab_kit.model import meta
from lab_kit.node import dnsconfig

MASTER_NAMESPACE = "default"  # metav1.NamespaceDefault
MASTER_SERVICES = ("kubernetes",)  # masterServices: linked into every pod's environment
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_KIND_TITLE = {"configmap": "ConfigMap", "secret": "Secret"}
# ConvertDownwardAPIFieldLabel's accepted v1 field paths (after which kubelet resolves them).
_FIELD_LABELS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)


class CreateContainerConfigError(Exception):
    """The container cannot be configured. `str(error)` is the text kubelet puts in
    `state.waiting.message` (reason CreateContainerConfigError) and in the `Failed` event."""

    reason = "CreateContainerConfigError"


# --- Service links ---------------------------------------------------------------------------


def is_service_ip_set(service: dict) -> bool:
    """IsServiceIPSet: a ClusterIP that is neither "" (ExternalName) nor "None" (headless)."""
    return (meta.spec(service).get("clusterIP") or "") not in ("", "None")


def env_var_name(name: str) -> str:
    """makeEnvVariableName: upper case, `-` -> `_` (Service and port names hold no dots)."""
    return name.replace("-", "_").upper()


def service_env(services: list[dict], pod: dict) -> dict[str, str]:
    """getServiceEnvVarMap: the service variables of every container of `pod`.

    `services` is every Service the kubelet knows (all namespaces). Kubelet computes this
    when a container starts; Services created later appear only after a restart."""
    links = meta.spec(pod).get("enableServiceLinks", True) is not False
    env: dict[str, str] = {}
    for service in _linked_services(services, meta.namespace(pod), links):
        env.update(from_service(service))
    return env


def _linked_services(services: list[dict], namespace: str, links: bool) -> list[dict]:
    """Services keyed by name: the master `kubernetes` Service always; the pod's own
    namespace only with service links on, and then a same-named Service there wins."""
    by_name: dict[str, dict] = {}
    for service in services:
        if not is_service_ip_set(service):
            continue
        name = meta.name(service)
        if meta.namespace(service) == MASTER_NAMESPACE and name in MASTER_SERVICES:
            by_name.setdefault(name, service)  # never replaces a same-namespace one
        elif meta.namespace(service) == namespace and links:
            by_name[name] = service
    # Go ranges over a map here, so real order is random; sort for repeatable output.
    return [by_name[name] for name in sorted(by_name)]


def from_service(service: dict) -> dict[str, str]:
    """FromServices for one Service, in the order kubelet generates the variables."""
    spec = meta.spec(service)
    ports = spec.get("ports") or []
    if not is_service_ip_set(service) or not ports:
        return {}  # validation guarantees ports on a ClusterIP Service (Go would index [0])
    ip, prefix = spec["clusterIP"], env_var_name(meta.name(service))
    env = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0].get("port", 0))}
    for port in ports:
        if port.get("name"):  # only the first port may be unnamed
            env[f"{prefix}_SERVICE_PORT_{env_var_name(port['name'])}"] = str(port.get("port", 0))
    env.update(_link_variables(prefix, ip, ports))
    return env


def _link_variables(prefix: str, ip: str, ports: list[dict]) -> dict[str, str]:
    """makeLinkVariables: the Docker-links-compatible `<SVC>_PORT...` family."""
    env: dict[str, str] = {}
    for i, port in enumerate(ports):
        protocol = port.get("protocol") or "TCP"
        number = port.get("port", 0)
        url = f"{protocol.lower()}://{join_host_port(ip, number)}"
        if i == 0:
            env[f"{prefix}_PORT"] = url  # Docker special-cases the first port
        port_prefix = f"{prefix}_PORT_{number}_{protocol.upper()}"
        env[port_prefix] = url
        env[f"{port_prefix}_PROTO"] = protocol.lower()
        env[f"{port_prefix}_PORT"] = str(number)
        env[f"{port_prefix}_ADDR"] = ip
    return env


def join_host_port(host: str, port: int | str) -> str:
    """net.JoinHostPort: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- $(VAR) expansion ---------------------------------------------------------------------------


def expand(text: str, *contexts: Mapping[str, str]) -> str:
    """expansion.Expand with MappingFuncFor(contexts...): `$(VAR)` becomes the first
    context's value; unknown references stay literally `$(VAR)`; `$$` is a literal `$`
    (so `$$(VAR)` gives `$(VAR)`); any other `$x` and an unclosed `$(` are kept as is."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$" or i + 1 == len(text):
            out.append(text[i])
            i += 1
            continue
        follower = text[i + 1]
        close = text.find(")", i + 2) if follower == "(" else -1
        if follower == "$":
            out.append("$")
        elif close != -1:
            out.append(_resolve(text[i + 2 : close], contexts))
            i = close - 1  # the shared `i += 2` below lands just past ")"
        else:
            out.append("$" + follower)  # "$(" unclosed, or "$x": copied through
        i += 2
    return "".join(out)


def _resolve(name: str, contexts: tuple[Mapping[str, str], ...]) -> str:
    for context in contexts:
        if name in context:
            return context[name]
    return f"$({name})"


# --- ConfigMaps and Secrets ------------------------------------------------------------------


def _lookup(kind: str, objects: Mapping, namespace: str, name: str, optional: bool) -> dict | None:
    """The referenced object, None if it is missing but optional. The error text is the
    kubelet's watch-based manager NotFound (it names the resource in the singular)."""
    obj = objects.get((namespace, name))
    if obj is None and not optional:
        raise CreateContainerConfigError(f'{kind} "{name}" not found')
    return obj


def _data(kind: str, obj: dict) -> dict[str, str]:
    """String values: a ConfigMap's `data`, a Secret's `data` base64-decoded."""
    data = obj.get("data") or {}
    if kind == "configmap":
        return dict(data)
    # Go's string([]byte) keeps any bytes; surrogateescape round-trips them into os.environ.
    return {k: base64.b64decode(v).decode("utf-8", "surrogateescape") for k, v in data.items()}


def _key_ref(kind: str, ref: dict, objects: Mapping, namespace: str) -> str | None:
    """configMapKeyRef / secretKeyRef; None means "optional and missing: leave unset"."""
    name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
    obj = _lookup(kind, objects, namespace, name, optional)
    if obj is None:
        return None
    data = _data(kind, obj)
    if key in data:
        return data[key]
    if optional:
        return None
    raise CreateContainerConfigError(
        f"couldn't find key {key} in {_KIND_TITLE[kind]} {namespace}/{name}"
    )


def _env_from(container: dict, namespace: str, config_maps: Mapping, secrets: Mapping) -> dict:
    """envFrom, in order (a later source overwrites an earlier one), each key prefixed."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if source.get("configMapRef") is not None:
            kind, ref, objects = "configmap", source["configMapRef"], config_maps
        elif source.get("secretRef") is not None:
            kind, ref, objects = "secret", source["secretRef"], secrets
        else:
            continue
        obj = _lookup(kind, objects, namespace, ref.get("name", ""), bool(ref.get("optional")))
        if obj is not None:
            prefix = source.get("prefix") or ""
            env.update({prefix + key: value for key, value in _data(kind, obj).items()})
    return env


# --- downward API ------------------------------------------------------------------------------


def field_ref_value(field_ref: dict, pod: dict) -> str:
    """podFieldSelectorRuntimeValue: the value of a `valueFrom.fieldRef`.

    The pod's IPs are read from `pod.status` (podIPs, else podIP; hostIPs, else hostIP):
    the caller fills them in from the sandbox before the status is published."""
    version, path = field_ref.get("apiVersion") or "v1", field_ref.get("fieldPath", "")
    if version != "v1":
        raise CreateContainerConfigError(f"unsupported pod version: {version}")
    spec, status = meta.spec(pod), meta.status(pod)
    if path in ("spec.nodeName", "spec.serviceAccountName"):
        return spec.get(path.split(".", 1)[1]) or ""
    if path in ("status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs"):
        family = "pod" if path.startswith("status.pod") else "host"
        ips = _ips(status, family)
        return ",".join(ips) if path.endswith("IPs") else (ips[0] if ips else "")
    return _metadata_field(pod, path)


def _ips(status: dict, family: str) -> list[str]:
    listed = [entry.get("ip", "") for entry in status.get(f"{family}IPs") or []]
    single = status.get(f"{family}IP") or ""
    return [ip for ip in listed if ip] or ([single] if single else [])


def _metadata_field(pod: dict, path: str) -> str:
    """ExtractFieldPathAsString, after ConvertDownwardAPIFieldLabel's checks."""
    base, subscript = _split_subscript(path)
    if subscript is not None:
        if base not in ("metadata.labels", "metadata.annotations"):
            raise CreateContainerConfigError(f"field label does not support subscript: {path}")
        return _metadata_map(pod, base).get(subscript, "")
    if path not in _FIELD_LABELS:
        raise CreateContainerConfigError(f"field label not supported: {path}")
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted(_metadata_map(pod, path).items())  # FormatMap: key="value" lines
        return "\n".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in items)
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return meta.metadata(pod).get(path.split(".", 1)[1]) or ""
    raise CreateContainerConfigError(f"unsupported fieldPath: {path}")


def _metadata_map(pod: dict, path: str) -> dict[str, str]:
    return meta.labels(pod) if path == "metadata.labels" else meta.annotations(pod)


def _split_subscript(path: str) -> tuple[str, str | None]:
    """SplitMaybeSubscriptedPath: `metadata.labels['app']` -> ("metadata.labels", "app")."""
    if not path.endswith("']") or "['" not in path:
        return path, None
    base, _, subscript = path[: -len("']")].partition("['")
    return (base, subscript) if base else (path, None)


# --- assembling a container's environment -------------------------------------------------------


def kubelet_env(
    container: dict,
    pod: dict,
    service_vars: Mapping[str, str],
    config_maps: Mapping,
    secrets: Mapping,
) -> dict[str, str]:
    """makeEnvironmentVariables: envFrom, then env in order (each value may refer to
    envFrom keys, to variables declared above it, and to service variables), then the
    service variables the user did not set.

    `config_maps` and `secrets` map (namespace, name) to the objects. Raises
    CreateContainerConfigError with kubelet's text when a required source is missing."""
    namespace = meta.namespace(pod)
    declared = _env_from(container, namespace, config_maps, secrets)
    for var in container.get("env") or []:
        value = _env_value(var, pod, declared, service_vars, config_maps, secrets)
        if value is not None:
            declared[var.get("name", "")] = value
    remaining = {key: value for key, value in service_vars.items() if key not in declared}
    return {**declared, **remaining}


def _env_value(
    var: dict,
    pod: dict,
    declared: Mapping[str, str],
    service_vars: Mapping[str, str],
    config_maps: Mapping,
    secrets: Mapping,
) -> str | None:
    """One `env` entry's value; None when an optional source is missing (left unset)."""
    if var.get("value"):
        return expand(var["value"], declared, service_vars)
    source = var.get("valueFrom") or {}
    namespace = meta.namespace(pod)
    if source.get("fieldRef") is not None:
        return field_ref_value(source["fieldRef"], pod)
    if source.get("resourceFieldRef") is not None:
        raise CreateContainerConfigError("lab_kit does not model resourceFieldRef")
    if source.get("configMapKeyRef") is not None:
        return _key_ref("configmap", source["configMapKeyRef"], config_maps, namespace)
    if source.get("secretKeyRef") is not None:
        return _key_ref("secret", source["secretKeyRef"], secrets, namespace)
    return ""  # `value: ""` and no source: declared, empty


def container_env(
    container: dict,
    pod: dict,
    service_vars: Mapping[str, str],
    config_maps: Mapping,
    secrets: Mapping,
    *,
    hostname: str | None = None,
) -> dict[str, str]:
    """The environment the container's process sees: the runtime's PATH and HOSTNAME,
    overridden by kubelet's variables (user variables winning over service variables).

    `hostname` defaults to the pod's kernel hostname (see dnsconfig.kernel_hostname); pass
    the node's hostname for hostNetwork pods."""
    return runtime_env(kubelet_env(container, pod, service_vars, config_maps, secrets), pod,
                       hostname)  # fmt: skip


def runtime_env(kubelet_vars: Mapping[str, str], pod: dict, hostname: str | None = None) -> dict:
    """kubelet's variables over the runtime's PATH and HOSTNAME (see container_env)."""
    if hostname is None:
        hostname = dnsconfig.kernel_hostname(pod, C.CLUSTER_DOMAIN)
    return {"PATH": DEFAULT_PATH, "HOSTNAME": hostname, **kubelet_vars}


def expand_command(container: dict, env: Mapping[str, str]) -> dict:
    """ExpandContainerCommandAndArgs: the container with `$(VAR)` in its command and args
    expanded against the kubelet's variables (pass kubelet_env's result: the runtime's
    PATH/HOSTNAME are not visible to this expansion in Kubernetes either). Command and
    args stay apart: which program runs still depends on which of them is set."""
    expanded = dict(container)
    for field in ("command", "args"):
        if container.get(field):
            expanded[field] = [expand(word, env) for word in container[field]]
    return expanded
