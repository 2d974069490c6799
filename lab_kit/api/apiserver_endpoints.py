"""`default/kubernetes`'s endpoints, as kube-apiserver's endpoint reconciler writes them
(pkg/controlplane/reconcilers/endpointsadapter.go): an Endpoints object labelled so the
mirroring controller leaves it alone, and the EndpointSlice `kubernetes` next to it, both
listing the API server's advertise address and secure port (172.18.0.2:6443 in the lab).
The Service has no selector, so no controller of the lab's touches them. Pure.
"""

from __future__ import annotations

SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
NAME, NAMESPACE = "kubernetes", "default"


def endpoints(ip: str, port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {SKIP_MIRROR: "true"}},
        "subsets": [
            {
                "addresses": [{"ip": ip}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }


def endpoint_slice(ip: str, port: int) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {SERVICE_NAME_LABEL: NAME}},
        "addressType": "IPv6" if ":" in ip else "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }


def changed(current: dict | None, wanted: dict) -> bool:
    """Does the stored object differ from what the reconciler wants (its compared fields)?"""
    if current is None:
        return True
    fields = ("subsets",) if wanted["kind"] == "Endpoints" else ("endpoints", "ports")
    labels = (current.get("metadata") or {}).get("labels")
    return labels != wanted["metadata"]["labels"] or any(
        current.get(f) != wanted[f] for f in fields
    )
