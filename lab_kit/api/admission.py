"""Mutating admission the lab's API server runs on create, after defaults and before
validation (kube-apiserver's admission chain; only the plugins service discovery meets).

- DefaultIngressClass (plugin/pkg/admission/network/defaultingressclass): an Ingress
  created with neither `spec.ingressClassName` nor the `kubernetes.io/ingress.class`
  annotation gets the IngressClass annotated `ingressclass.kubernetes.io/is-default-class:
  "true"`; with several such classes, the newest (then the first by name), as Kubernetes
  1.28+ chooses. An explicit `ingressClassName: ""` is left alone. Only on create: an
  Ingress made before a default class existed keeps having none.

Pure: the caller passes the IngressClasses it has.
"""

from __future__ import annotations

from lab_kit.model import meta

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def default_ingress_class(classes: list[dict]) -> str | None:
    """The name of the default IngressClass, or None (getDefaultClass)."""
    defaults = [
        c
        for c in classes
        if (meta.metadata(c).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
    ]
    if not defaults:
        return None
    # Newest first; RFC 3339 timestamps of one format sort as text; ties by name.
    defaults.sort(key=lambda c: meta.name(c))
    defaults.sort(key=lambda c: meta.metadata(c).get("creationTimestamp", ""), reverse=True)
    return meta.name(defaults[0])


def admit_ingress(ingress: dict, classes: list[dict]) -> dict:
    """The Ingress as DefaultIngressClass leaves it (a new dict when it sets the class)."""
    spec = ingress.get("spec") or {}
    annotations = meta.metadata(ingress).get("annotations") or {}
    if "ingressClassName" in spec and spec["ingressClassName"] is not None:
        return ingress
    if CLASS_ANNOTATION in annotations:
        return ingress
    name = default_ingress_class(classes)
    if name is None:
        return ingress
    return {**ingress, "spec": {**spec, "ingressClassName": name}}
