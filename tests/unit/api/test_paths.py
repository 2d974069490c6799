"""REST paths -> (kind, namespace, name, subresource), as kube-apiserver parses them."""

import pytest

from lab_kit.api.paths import parse_path
from lab_kit.model.errors import ApiError


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/api/v1/pods", ("Pod", None, "", "")),
        ("/api/v1/namespaces/default/services", ("Service", "default", "", "")),
        ("/api/v1/namespaces/default/services/web", ("Service", "default", "web", "")),
        ("/api/v1/namespaces/default/pods/p/status", ("Pod", "default", "p", "status")),
        ("/api/v1/namespaces/default/pods/p/binding", ("Pod", "default", "p", "binding")),
        ("/api/v1/namespaces/kube-system", ("Namespace", None, "kube-system", "")),
        ("/api/v1/namespaces/x/status", ("Namespace", None, "x", "status")),
        ("/api/v1/nodes/node1", ("Node", None, "node1", "")),
        ("/apis/apps/v1/namespaces/default/deployments", ("Deployment", "default", "", "")),
        ("/apis/discovery.k8s.io/v1/endpointslices", ("EndpointSlice", None, "", "")),
        ("/apis/networking.k8s.io/v1/ingressclasses/nginx", ("IngressClass", None, "nginx", "")),
    ],
)
def test_paths(path, expected):
    info = parse_path(path)
    assert (info.kind.kind, info.namespace, info.name, info.subresource) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/widgets",
        "/apis/extensions/v1beta1/ingresses",
        "/api/v1/pods/p",
        "/foo",
        "/api/v1/namespaces/a/pods/p/exec/x",
    ],
)
def test_unknown_paths_are_not_found(path):
    with pytest.raises(ApiError) as e:
        parse_path(path)
    assert e.value.code == 404
