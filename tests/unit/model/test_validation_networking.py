"""Ingress and IngressClass validation cases test_validation.py does not have: wildcard
hosts (`*` must be the whole first label), the path checks per pathType, the class name and
the class annotation, the IngressClass controller's length and parameters scope
(kubernetes/kubernetes pkg/apis/networking/validation/validation.go)."""

from __future__ import annotations

import copy

import pytest

from lab_kit.model.defaults import apply_defaults
from lab_kit.model.validation import validate

WILDCARD = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
    "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
    "character (e.g. '*.example.com', regex used for validation is "
    "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
PATH0 = "spec.rules[0].http.paths[0].path"


def errors(obj: dict, old: dict | None = None) -> list[str]:
    return [str(e) for e in validate(apply_defaults(obj), apply_defaults(old) if old else None)]


def ingress(annotations: dict[str, str] | None = None, **spec: object) -> dict:
    metadata: dict = {"name": "i", "namespace": "default"}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
            "spec": spec}  # fmt: skip


def host_rule(host: str, path: str = "/", path_type: str = "Prefix") -> dict:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    return {"host": host, "http": {"paths": [
        {"path": path, "pathType": path_type, "backend": backend}]}}  # fmt: skip


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        ("*.foo.com", True),
        ("*", False),  # a bare * is not a host
        ("*.*.foo.com", False),  # one wildcard, and only as the first label
        ("foo.*.com", False),
        ("*foo.com", False),  # * must be a whole label
        ("*.Foo.com", False),
    ],
)
def test_wildcard_hosts(host: str, valid: bool) -> None:
    expected = [] if valid else [f'spec.rules[0].host: Invalid value: "{host}": {WILDCARD}']
    assert errors(ingress(rules=[host_rule(host)])) == expected


def test_wildcard_tls_hosts() -> None:
    tls = [{"hosts": ["*.foo.com", "*"], "secretName": "s"}]
    assert errors(ingress(rules=[host_rule("a.foo.com")], tls=tls)) == [
        f'spec.tls[0].hosts[1]: Invalid value: "*": {WILDCARD}'
    ]


@pytest.mark.parametrize(
    ("path", "path_type", "expected"),
    [
        ("/a/./b", "Prefix", "must not contain '/./'"),
        ("/a/../b", "Exact", "must not contain '/../'"),
        ("/a%2fb", "Prefix", "must not contain '%2f'"),
        ("/a%2Fb", "Exact", "must not contain '%2F'"),
        ("/a/.", "Prefix", "cannot end with '/.'"),
        ("api", "ImplementationSpecific", "must be an absolute path"),
        # ImplementationSpecific paths are the controller's business: only "absolute" is checked
        ("/a//b/./c", "ImplementationSpecific", ""),
        ("/", "Exact", ""),
    ],
)
def test_paths_per_path_type(path: str, path_type: str, expected: str) -> None:
    got = errors(ingress(rules=[host_rule("a.example", path, path_type)]))
    assert got == ([f'{PATH0}: Invalid value: "{path}": {expected}'] if expected else [])


def test_the_ingress_class_name_is_a_dns_subdomain() -> None:
    obj = ingress(ingressClassName="Bad_Class", rules=[host_rule("a.example")])
    assert errors(obj) == [
        f'spec.ingressClassName: Invalid value: "Bad_Class": {DNS1123_SUBDOMAIN}'
    ]


def test_the_class_annotation_must_agree_with_the_class_name_on_create_only() -> None:
    annotations = {"kubernetes.io/ingress.class": "nginx"}
    obj = ingress(annotations, ingressClassName="other", rules=[host_rule("a.example")])
    message = (
        'annotations.kubernetes.io/ingress.class: Invalid value: "nginx": must match '
        "`ingressClassName` when both are specified"
    )
    assert errors(obj) == [message]
    agreeing = ingress(annotations, ingressClassName="nginx", rules=[host_rule("a.example")])
    assert errors(agreeing) == []
    # ValidateIngressUpdate does not check it: objects stored before the rule stay updatable
    assert errors(obj, copy.deepcopy(obj)) == []


def ingress_class(**spec: object) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "c"}, "spec": spec}  # fmt: skip


def test_the_ingress_class_controller_is_at_most_250_bytes() -> None:
    ok = "example.com/" + "a" * 238
    assert len(ok) == 250 and errors(ingress_class(controller=ok)) == []
    got = errors(ingress_class(controller=ok + "a"))
    assert len(got) == 1 and got[0].startswith("spec.controller: Too long:") and "250" in got[0]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"kind": "K", "name": "n", "scope": "Cluster"}, []),
        ({"kind": "K", "name": "n", "scope": "Namespace", "namespace": "lab"}, []),
        (
            {"kind": "K", "name": "n", "scope": "Namespace"},
            ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"],
        ),
        (
            {"kind": "K", "name": "n", "scope": "Node"},
            [
                'spec.parameters.scope: Unsupported value: "Node": supported values: "Cluster", "Namespace"'
            ],
        ),
        ({"name": "n", "scope": "Cluster"}, ["spec.parameters.kind: Required value"]),
    ],
)
def test_ingress_class_parameters_scope(parameters: dict, expected: list[str]) -> None:
    assert errors(ingress_class(controller="example.com/x", parameters=parameters)) == expected
