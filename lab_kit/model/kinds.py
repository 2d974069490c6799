"""The kinds the lab's API serves, with the names kubectl and the REST paths use.

Mirrors the discovery data of a real API server (`kubectl api-resources`): each kind has
a group/version, a plural resource name for URLs, whether it lives in a namespace, and its
short names (`po`, `svc`, `ep`, ...). Only the kinds service discovery needs are served;
any other apiVersion/kind gets the API's own error (`no matches for kind ...`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lab_kit.model.errors import err_no_kind_match


@dataclass(frozen=True, slots=True)
class Kind:
    kind: str
    group: str  # "" is the core group
    version: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """How the lab files objects of this kind (store, caches, tables): the kind's name,
        or `Service.serving.knative.dev` where a later group reuses a core kind's name."""
        return f"{self.kind}.{self.group}" if (self.group, self.kind) in _SHADOWING else self.kind

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """`services`, `endpointslices.discovery.k8s.io`: the name in API error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection_path(self, namespace: str | None = None) -> str:
        """REST path of the collection, e.g. `/api/v1/namespaces/default/services`."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{name}"


# Kinds whose name an earlier kind already has: Knative's Service is not a core Service.
_SHADOWING = {("serving.knative.dev", "Service")}
KNATIVE = "serving.knative.dev"
KNATIVE_INTERNAL = ("autoscaling.internal.knative.dev", "networking.internal.knative.dev")

KINDS: tuple[Kind, ...] = (
    Kind("Namespace", "", "v1", "namespaces", False, ("ns",)),
    Kind("Node", "", "v1", "nodes", False, ("no",)),
    Kind("Pod", "", "v1", "pods", True, ("po",)),
    Kind("Service", "", "v1", "services", True, ("svc",)),
    Kind("Endpoints", "", "v1", "endpoints", True, ("ep",)),
    Kind("ConfigMap", "", "v1", "configmaps", True, ("cm",)),
    Kind("Secret", "", "v1", "secrets", True, ()),
    Kind("ServiceAccount", "", "v1", "serviceaccounts", True, ("sa",)),
    Kind("Event", "", "v1", "events", True, ("ev",)),
    Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True, ()),
    Kind("Deployment", "apps", "v1", "deployments", True, ("deploy",)),
    Kind("ReplicaSet", "apps", "v1", "replicasets", True, ("rs",)),
    Kind("Ingress", "networking.k8s.io", "v1", "ingresses", True, ("ing",)),
    Kind("IngressClass", "networking.k8s.io", "v1", "ingressclasses", False, ()),
    # Knative Serving (its CRDs, served here as built-in kinds)
    Kind("Service", KNATIVE, "v1", "services", True, ("ksvc", "kservice")),
    Kind("Configuration", KNATIVE, "v1", "configurations", True, ("config", "cfg")),
    Kind("Revision", KNATIVE, "v1", "revisions", True, ("rev",)),
    Kind("Route", KNATIVE, "v1", "routes", True, ("rt",)),
    Kind("PodAutoscaler", KNATIVE_INTERNAL[0], "v1alpha1", "podautoscalers", True, ("kpa", "pa")),
    Kind(
        "ServerlessService", KNATIVE_INTERNAL[1], "v1alpha1", "serverlessservices", True, ("sks",)
    ),
)

_BY_KIND = {(k.api_version, k.kind): k for k in KINDS}
_BY_NAME: dict[str, Kind] = {}
for _k in KINDS:
    for _n in (
        _k.kind.lower(),
        _k.plural,
        *_k.short_names,
        _k.qualified,
        f"{_k.kind.lower()}.{_k.group}" if _k.group else _k.kind.lower(),
    ):
        _BY_NAME.setdefault(_n, _k)
_BY_GROUP_PLURAL = {(k.group, k.version, k.plural): k for k in KINDS}
_BY_KEY = {k.key: k for k in KINDS}


def kind_key(obj: dict) -> str:
    """The key an object is filed under (Kind.key) from its apiVersion and kind."""
    kind = obj.get("kind", "")
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return f"{kind}.{group}" if (group, kind) in _SHADOWING else kind


def kind_of(obj: dict) -> Kind:
    """The served Kind of a manifest document, or the API's `no matches for kind` error."""
    api_version = obj.get("apiVersion", "")
    kind = obj.get("kind", "")
    found = _BY_KIND.get((api_version, kind))
    if found is None:
        raise err_no_kind_match(kind, api_version)
    return found


def lookup(name: str) -> Kind | None:
    """Resolve what a user types after `get`: `pods`, `po`, `Service`, `endpointslices`."""
    return _BY_NAME.get(name.lower())


def by_resource(group: str, version: str, plural: str) -> Kind | None:
    """Resolve a REST path segment (`apps`, `v1`, `deployments`)."""
    return _BY_GROUP_PLURAL.get((group, version, plural))


def by_kind_name(kind: str) -> Kind:
    """The Kind object for a kind name such as "Pod", or a key such as
    "Service.serving.knative.dev" (served kinds only)."""
    return _BY_KEY[kind]
