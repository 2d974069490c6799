"""Addons: what `labkit up` installs on top of the bare cluster, as data.

    Addon(name, manifest, namespace, ready services, enabled by default?)

`labkit up` applies every default addon (and those named with `--addons`) once the nodes
are Ready, then waits until each is ready: every Service named in `ready_services` has a
ready endpoint that every agent has programmed. `labkit addons list|enable|disable NAME`
does the same on a running lab (minikube's habit). Adding an addon is one entry below
and its manifest beside this file; nothing else in the lab names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Addon:
    name: str
    manifest: Path  # the objects it is made of (one YAML file)
    namespace: str  # where they live
    description: str
    ready_services: tuple[str, ...] = ()  # ready = each has a ready, programmed endpoint
    default: bool = False  # installed by every `labkit up`


ADDONS: dict[str, Addon] = {
    a.name: a
    for a in (
        # First, and by default: kubeadm's CoreDNS (lab_kit's own server behind kube-dns).
        Addon(
            "coredns",
            HERE / "coredns.yaml",
            "kube-system",
            "cluster DNS as kubeadm installs it: kube-dns at 10.96.0.10",
            ready_services=("kube-dns",),
            default=True,
        ),
        # ingress-nginx's controller behind a LoadBalancer Service (minikube's `ingress`).
        Addon(
            "ingress",
            HERE / "ingress-nginx.yaml",
            "ingress-nginx",
            "ingress-nginx: the IngressClass nginx (default), its controller behind a "
            "LoadBalancer Service",
            ready_services=("ingress-nginx-controller",),
        ),
        # Knative Serving: activator, autoscaler and the lab's gateway (Kourier's place);
        # outside traffic comes in through the `ingress` addon.
        Addon(
            "knative",
            HERE / "knative-serving.yaml",
            "knative-serving",
            "Knative Serving: Knative Services that scale to zero (activator, KPA autoscaler, "
            "a gateway behind the ingress addon)",
            ready_services=("activator-service", "autoscaler", "knative-local-gateway"),
        ),
    )
}


def lookup(name: str) -> Addon:
    """The addon called `name`, or a KeyError whose message lists the known ones."""
    if name not in ADDONS:
        raise KeyError(f'no addon "{name}" (addons: {", ".join(ADDONS)})')
    return ADDONS[name]


def parse_names(text: str) -> list[str]:
    """`--addons a,b` -> ["a", "b"] (each checked against the list)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        lookup(n)
    return names
