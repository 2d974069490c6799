"""The defaults the API server fills in before it validates an object.

Mirrors kubernetes/kubernetes `pkg/apis/core/v1/defaults.go` (SetDefaults_Service, _Pod,
_PodSpec, _Container, _Probe, _HTTPGetAction, _Volume, _Endpoints, _Secret, _Namespace,
_NamespaceStatus, _NodeStatus, _ObjectFieldSelector), `pkg/apis/apps/v1/defaults.go`,
`pkg/apis/networking/v1/defaults.go` and `pkg/apis/discovery/v1/defaults.go`, plus the
`+default=` markers of `k8s.io/api` types that the generated defaulters apply (container
port protocol, gRPC probe service).

Three steps that real Kubernetes performs in the registry rather than in defaults.go are
done here too, because a learner sees their result in every `get -o yaml`:
- `NormalizeClusterIPs` on create (`pkg/registry/core/service/strategy.go`): a Service
  with `clusterIP` but no `clusterIPs` gets `clusterIPs: [clusterIP]`;
- the IP-family defaults of `initIPFamilyFields`
  (`pkg/registry/core/service/storage/alloc.go`) for a single-stack IPv4 cluster;
- the Namespace strategy's `spec.finalizers: [kubernetes]`
  (`pkg/registry/core/namespace/strategy.go`).

Objects are JSON-shaped dicts; `apply_defaults` never mutates its argument. Where Go
always serializes a non-pointer struct (`resources: {}`, `securityContext: {}`), the empty
dict is added so the object prints as `kubectl get -o yaml` prints it.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable

from lab_kit.model import constants as C
from lab_kit.model import knative
from lab_kit.model.kinds import kind_key

_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_MODE_0644 = 0o644  # SecretVolumeSourceDefaultMode, ConfigMap..., DownwardAPI..., Projected...


def apply_defaults(obj: dict) -> dict:
    """A deep copy of `obj` with the API server's defaults for its kind filled in."""
    out = copy.deepcopy(obj)
    defaulter = _BY_KIND.get(kind_key(out)) if isinstance(out, dict) else None
    if defaulter is not None:
        defaulter(out)
    return out


def _dict(parent: dict, key: str) -> dict:
    """parent[key] as a dict, created when absent or null (a Go struct is never nil).

    A value of another type is left alone (schema checking reports it) and a throwaway
    dict is returned so the caller's defaults simply do not land anywhere."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def _items(parent: dict, key: str) -> list[dict]:
    """The dict elements of parent[key] (a list), skipping anything malformed."""
    value = parent.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _set_if_missing(d: dict, key: str, value: object) -> None:
    """Go defaults a string field when it holds its zero value: absent/null or ""."""
    if d.get(key) in (None, ""):
        d[key] = value


# --- Service -----------------------------------------------------------------------------


def _default_service(svc: dict) -> None:
    spec = _dict(svc, "spec")
    _default_session_affinity(spec)
    _set_if_missing(spec, "type", "ClusterIP")
    for port in _items(spec, "ports"):
        _default_service_port(port)
    if _externally_accessible(spec):
        _set_if_missing(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and spec["type"] in (
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        _default_lb_ip_mode(svc)
    _normalize_cluster_ips(spec)
    _default_ip_families(spec)


def _default_session_affinity(spec: dict) -> None:
    _set_if_missing(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        # Defaulting clears it, so validation's Forbidden only fires for ClientIP mistakes.
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        timeout = client_ip.get("timeoutSeconds") if isinstance(client_ip, dict) else None
        if timeout is None:
            # Go replaces the whole config, whichever level was missing.
            timeout_s = C.SESSION_AFFINITY_DEFAULT_TIMEOUT_S
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": timeout_s}}


def _default_service_port(port: dict) -> None:
    _set_if_missing(port, "protocol", "TCP")
    # intstr.FromInt32(0) and FromString("") both mean "unset": use the port itself.
    if port.get("targetPort") in (None, 0, ""):
        port["targetPort"] = port.get("port") or 0


def _externally_accessible(spec: dict) -> bool:
    """pkg/api/v1/service/util.go ExternallyAccessible."""
    kind = spec.get("type")
    if kind in ("LoadBalancer", "NodePort"):
        return True
    return kind == "ClusterIP" and bool(spec.get("externalIPs"))


def _default_lb_ip_mode(svc: dict) -> None:
    lb = (svc.get("status") or {}).get("loadBalancer") or {}
    for ingress in _items(lb, "ingress"):
        if ingress.get("ip") and ingress.get("ipMode") is None:
            ingress["ipMode"] = "VIP"


def _normalize_cluster_ips(spec: dict) -> None:
    """NormalizeClusterIPs(nil, svc): an old-style `clusterIP` seeds `clusterIPs`."""
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]


def _default_ip_families(spec: dict) -> None:
    """initIPFamilyFields for this lab's single-stack IPv4 service CIDR."""
    if spec.get("type") == "ExternalName":
        return  # ExternalName Services have no IPs, so no families and no policy
    headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        # Headless selector-less Services may point at endpoints of either family.
        spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
    families = list(spec.get("ipFamilies") or [])
    for i, ip in enumerate(spec.get("clusterIPs") or []):
        if ip == "None":
            break
        family = _ip_family(ip)
        if i >= len(families) and family:
            families.append(family)
    if not families:
        families = ["IPv6" if ":" in C.SERVICE_CIDR else "IPv4"]
    if headless_selectorless and len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
        families.append("IPv6" if families[0] == "IPv4" else "IPv4")
    spec["ipFamilies"] = families


def _ip_family(ip: object) -> str | None:
    try:
        version = ipaddress.ip_address(str(ip)).version
    except ValueError:
        return None  # validation reports the bad IP
    return "IPv4" if version == 4 else "IPv6"


# --- Pod and pod templates ------------------------------------------------------------------


def _default_pod(pod: dict) -> None:
    spec = _dict(pod, "spec")
    _default_pod_spec(spec)
    # SetDefaults_Pod (not _PodSpec): these only materialize on Pods, never in templates.
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    for key in ("containers", "initContainers"):
        for container in _items(spec, key):
            _default_requests_from_limits(container)
            if spec.get("hostNetwork"):
                _default_host_ports(container)


def _default_pod_spec(spec: dict) -> None:
    _set_if_missing(spec, "dnsPolicy", "ClusterFirst")
    _set_if_missing(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = C.TERMINATION_GRACE_PERIOD_S
    _set_if_missing(spec, "schedulerName", "default-scheduler")
    for key in _CONTAINER_LISTS:
        for container in _items(spec, key):
            _default_container(container)
    for volume in _items(spec, "volumes"):
        _default_volume(volume)


def _default_container(container: dict) -> None:
    if not container.get("imagePullPolicy"):
        latest = _image_tag(container.get("image")) == "latest"
        container["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
    _set_if_missing(container, "terminationMessagePath", "/dev/termination-log")
    _set_if_missing(container, "terminationMessagePolicy", "File")
    if container.get("resources") is None:
        container["resources"] = {}  # a non-pointer struct: Go always prints it
    for port in _items(container, "ports"):
        _set_if_missing(port, "protocol", "TCP")
    for name in _PROBES:
        if isinstance(container.get(name), dict):
            _default_probe(container[name])
    _default_lifecycle(container.get("lifecycle"))
    for env in _items(container, "env"):
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            _set_if_missing(field_ref, "apiVersion", "v1")


def _image_tag(image: object) -> str:
    """The tag parsers.ParseImageName reports: "latest" when neither tag nor digest."""
    if not isinstance(image, str) or not image:
        return ""  # unparsable: Go ignores the error and picks IfNotPresent
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]  # a registry's `host:port/` is not a tag
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "latest" if not tag and not digest else tag


def _default_probe(probe: dict) -> None:
    for key, value in (
        ("timeoutSeconds", C.PROBE_TIMEOUT_S),
        ("periodSeconds", C.PROBE_PERIOD_S),
        ("successThreshold", C.PROBE_SUCCESS_THRESHOLD),
        ("failureThreshold", C.PROBE_FAILURE_THRESHOLD),
    ):
        if not probe.get(key):  # 0 is the zero value Go replaces
            probe[key] = value
    _default_handler(probe)
    grpc = probe.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""  # +default="" on GRPCAction.Service


def _default_handler(handler: dict) -> None:
    http = handler.get("httpGet")
    if isinstance(http, dict):
        _set_if_missing(http, "path", "/")
        _set_if_missing(http, "scheme", "HTTP")


def _default_lifecycle(lifecycle: object) -> None:
    if not isinstance(lifecycle, dict):
        return
    for hook in ("postStart", "preStop"):
        if isinstance(lifecycle.get(hook), dict):
            _default_handler(lifecycle[hook])


def _default_requests_from_limits(container: dict) -> None:
    resources = container.get("resources") or {}
    limits = resources.get("limits")
    if not isinstance(limits, dict):
        return
    requests = resources.setdefault("requests", {})
    for name, quantity in limits.items():
        requests.setdefault(name, quantity)


def _default_host_ports(container: dict) -> None:
    for port in _items(container, "ports"):
        if not port.get("hostPort"):
            port["hostPort"] = port.get("containerPort")


_VOLUME_SOURCES_WITH_MODE = ("secret", "configMap", "downwardAPI", "projected")


def _default_volume(volume: dict) -> None:
    if not set(volume) - {"name"}:
        volume["emptyDir"] = {}  # a volume without a source is an emptyDir
    for source in _VOLUME_SOURCES_WITH_MODE:
        if isinstance(volume.get(source), dict) and volume[source].get("defaultMode") is None:
            volume[source]["defaultMode"] = _MODE_0644
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""
    for projection in _items(volume.get("projected") or {}, "sources"):
        token = projection.get("serviceAccountToken")
        if isinstance(token, dict) and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600


def _default_template(spec: dict) -> None:
    template = _dict(spec, "template")
    _default_pod_spec(_dict(template, "spec"))


# --- apps/v1 -------------------------------------------------------------------------------


def _default_deployment(deployment: dict) -> None:
    spec = _dict(deployment, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _dict(spec, "strategy")
    _set_if_missing(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = C.DEPLOYMENT_MAX_UNAVAILABLE
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = C.DEPLOYMENT_MAX_SURGE
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = C.DEPLOYMENT_REVISION_HISTORY_LIMIT
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = C.DEPLOYMENT_PROGRESS_DEADLINE_S
    _default_template(spec)


def _default_replica_set(rs: dict) -> None:
    spec = _dict(rs, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


# --- endpoints, and the small kinds ------------------------------------------------------


def _default_endpoints(endpoints: dict) -> None:
    for subset in _items(endpoints, "subsets"):
        for port in _items(subset, "ports"):
            _set_if_missing(port, "protocol", "TCP")


def _default_endpoint_slice(slice_: dict) -> None:
    for port in _items(slice_, "ports"):
        if port.get("name") is None:
            port["name"] = ""  # discovery/v1 SetDefaults_EndpointPort
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


def _default_secret(secret: dict) -> None:
    _set_if_missing(secret, "type", "Opaque")


def _default_namespace(ns: dict) -> None:
    metadata = _dict(ns, "metadata")
    if metadata.get("name"):
        _dict(metadata, "labels")["kubernetes.io/metadata.name"] = metadata["name"]
    finalizers = _dict(ns, "spec").setdefault("finalizers", [])
    if isinstance(finalizers, list) and "kubernetes" not in finalizers:
        # The namespace strategy requires it on create; on update Kubernetes keeps the
        # stored spec.finalizers (only /finalize changes them), which this also amounts to.
        finalizers.append("kubernetes")
    _set_if_missing(_dict(ns, "status"), "phase", "Active")


def _default_node(node: dict) -> None:
    status = node.get("status")
    if isinstance(status, dict) and status.get("allocatable") is None and status.get("capacity"):
        status["allocatable"] = dict(status["capacity"])


def _default_ingress_class(ingress_class: dict) -> None:
    parameters = (ingress_class.get("spec") or {}).get("parameters")
    if isinstance(parameters, dict) and parameters.get("scope") is None:
        parameters["scope"] = "Cluster"


_BY_KIND: dict[str, Callable[[dict], None]] = {
    "Service": _default_service,
    "Pod": _default_pod,
    "Deployment": _default_deployment,
    "ReplicaSet": _default_replica_set,
    "Endpoints": _default_endpoints,
    "EndpointSlice": _default_endpoint_slice,
    "Secret": _default_secret,
    "Namespace": _default_namespace,
    "Node": _default_node,
    "IngressClass": _default_ingress_class,
    "Service.serving.knative.dev": knative.default_service,
    "Configuration": knative.default_configuration,
    "Revision": knative.default_revision,
    "Route": knative.default_route,
    # Ingress (pathType is required, not defaulted), ConfigMap, Event: nothing to add.
}
