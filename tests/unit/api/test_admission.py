"""DefaultIngressClass: what an Ingress created without a class gets, through the Registry."""

from __future__ import annotations

import pytest

from lab_kit.api.admission import admit_ingress, default_ingress_class
from lab_kit.api.registry import Registry

DEFAULT = {"ingressclass.kubernetes.io/is-default-class": "true"}


def ingress_class(name: str, default: bool, created: str = "2026-01-01T00:00:00Z") -> dict:
    md = {
        "name": name,
        "creationTimestamp": created,
        **({"annotations": DEFAULT} if default else {}),
    }
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": md,
            "spec": {"controller": "example.com/c"}}  # fmt: skip


def ingress(name: str = "web", **spec: object) -> dict:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
            "spec": {"defaultBackend": backend, **spec}}  # fmt: skip


def test_no_default_class_leaves_the_ingress_alone() -> None:
    assert admit_ingress(ingress(), [ingress_class("a", False)]) == ingress()


def test_the_default_class_is_set() -> None:
    admitted = admit_ingress(ingress(), [ingress_class("a", False), ingress_class("nginx", True)])
    assert admitted["spec"]["ingressClassName"] == "nginx"


def test_the_newest_of_several_defaults_wins() -> None:
    classes = [ingress_class("old", True, "2026-01-01T00:00:00Z"),
               ingress_class("new", True, "2026-02-01T00:00:00Z")]  # fmt: skip
    assert default_ingress_class(classes) == "new"


@pytest.mark.parametrize(
    "given",
    [ingress(ingressClassName=""), ingress(ingressClassName="other"),
     {**ingress(), "metadata": {"name": "web", "annotations": {"kubernetes.io/ingress.class": "x"}}}],
)  # fmt: skip
def test_a_class_or_the_annotation_is_kept(given: dict) -> None:
    assert admit_ingress(given, [ingress_class("nginx", True)]) == given


def test_registry_admits_on_create_and_apply_keeps_it() -> None:
    registry = Registry()
    registry.bootstrap()
    registry.create(ingress_class("nginx", True))
    created = registry.create(ingress("first"))
    assert created["spec"]["ingressClassName"] == "nginx"
    ((action, applied),) = registry.apply([ingress("second")])
    assert applied["spec"]["ingressClassName"] == "nginx"
    ((action, again),) = registry.apply([ingress("second")])
    assert again["spec"]["ingressClassName"] == "nginx" and action == "unchanged"


def test_reapplying_a_bound_pod_with_a_new_label_keeps_its_node() -> None:
    registry = Registry()
    registry.bootstrap()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip
    registry.apply([pod])
    registry.bind("default", "p", "node2")  # the scheduler's binding
    relabelled = {**pod, "metadata": {"name": "p", "labels": {"a": "2"}}}
    ((_, applied),) = registry.apply([relabelled])
    assert applied["metadata"]["labels"] == {"a": "2"}
    assert applied["spec"]["nodeName"] == "node2"
