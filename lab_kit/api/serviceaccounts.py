"""Service accounts as a pod meets them: the `default` ServiceAccount of every namespace,
the `kube-root-ca.crt` ConfigMap, and the ServiceAccount admission plugin that mounts the
in-cluster credentials into every container.

    Namespace created --> ServiceAccount default           (serviceaccounts-controller)
                      --> ConfigMap kube-root-ca.crt       (root-ca-cert-publisher)
    Pod created       --> spec.serviceAccountName: default
                          volume kube-api-access-xxxxx: projected token + ca.crt + namespace
                          every container: mounted read-only at
                          /var/run/secrets/kubernetes.io/serviceaccount

What client libraries' in-cluster configuration reads (client-go's rest.InClusterConfig,
the Python client's load_incluster_config): KUBERNETES_SERVICE_HOST/PORT and those files.

The admission (plugin/pkg/serviceaccount/admission.go): a pod without serviceAccountName gets
`default`; one naming a ServiceAccount that does not exist is refused; unless
`automountServiceAccountToken: false` (pod, or the ServiceAccount when the pod does not say),
and unless a container already mounts something at the path, the projected volume is added
with the sources and mode kube-apiserver writes. Deliberate difference: the lab's API server
makes the `default` ServiceAccount and the CA ConfigMap in the same write as the Namespace
(the controllers do it a moment later in Kubernetes, which is why a pod created right after
its namespace can be refused there); RBAC is not checked (see `authn.py`).

Pure: the caller passes what it looked up.
"""

from __future__ import annotations

import random

from lab_kit.model import meta

DEFAULT_SA = "default"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_EXPIRATION_S = 3607  # the admission's projected token (warnafter: an hour and 7 s)
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand


def default_service_account(namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": DEFAULT_SA, "namespace": namespace},
    }


def root_ca_configmap(namespace: str, ca_pem: str) -> dict:
    """kube-root-ca.crt as the root-ca-cert-publisher writes it (with its annotation)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": ROOT_CA_CONFIGMAP,
            "namespace": namespace,
            "annotations": {
                "kubernetes.io/description": (
                    "Contains a CA bundle that can be used to verify the kube-apiserver when "
                    "using internal endpoints such as the internal service IP or "
                    "kubernetes.default.svc. No other usage is guaranteed across distributions "
                    "of Kubernetes clusters."
                )
            },
        },
        "data": {"ca.crt": ca_pem},
    }


def made_with_namespace(obj: dict) -> bool:
    """The `default` ServiceAccount and `kube-root-ca.crt`: a namespace holding only these
    is empty to its deletion."""
    name = meta.name(obj)
    return (obj.get("kind"), name) in (
        ("ServiceAccount", DEFAULT_SA),
        ("ConfigMap", ROOT_CA_CONFIGMAP),
    )


def service_account_name(pod: dict) -> str:
    spec = meta.spec(pod)
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SA


def refusal(pod: dict, exists: bool) -> str | None:
    """The admission's error when the pod's ServiceAccount is missing, else None."""
    if exists:
        return None
    name, ns = service_account_name(pod), meta.namespace(pod)
    return f'error looking up service account {ns}/{name}: serviceaccount "{name}" not found'


def admit_pod(pod: dict, service_account: dict, rng: random.Random) -> dict:
    """The pod as the ServiceAccount admission leaves it (a new dict)."""
    pod = meta.deep_copy(pod)
    spec = pod.setdefault("spec", {})
    name = service_account_name(pod)
    spec["serviceAccountName"] = name
    spec["serviceAccount"] = name  # the deprecated alias, kept equal (as the defaulting does)
    if not _automount(spec, service_account):
        return pod
    every = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    if any(m.get("mountPath") == MOUNT_PATH for c in every for m in c.get("volumeMounts") or []):
        return pod  # the pod brings its own credentials there
    volume = VOLUME_PREFIX + "".join(rng.choice(_SUFFIX_ALPHABET) for _ in range(5))
    spec.setdefault("volumes", []).append(projected_volume(volume))
    for container in every:
        mount = {"name": volume, "readOnly": True, "mountPath": MOUNT_PATH}
        container.setdefault("volumeMounts", []).append(mount)
    return pod


def _automount(spec: dict, service_account: dict) -> bool:
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    return service_account.get("automountServiceAccountToken") is not False


def projected_volume(name: str) -> dict:
    return {
        "name": name,
        "projected": {
            "defaultMode": 0o644,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_S, "path": "token"}},
                {
                    "configMap": {
                        "name": ROOT_CA_CONFIGMAP,
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def api_access_volume(pod: dict) -> str | None:
    """The name of the pod's kube-api-access volume (what the kubelet fills), if any."""
    for volume in meta.spec(pod).get("volumes") or []:
        if volume.get("name", "").startswith(VOLUME_PREFIX) and "projected" in volume:
            return volume["name"]
    return None


def keep_admitted(desired: dict, old: dict) -> None:
    """A Pod re-applied without what admission added (its manifest never had it) keeps it,
    as kubectl apply's merge does; the pod spec is otherwise immutable."""
    spec, old_spec = desired.setdefault("spec", {}), meta.spec(old)
    for key in ("serviceAccountName", "serviceAccount"):
        if key not in spec and key in old_spec:
            spec[key] = old_spec[key]
    volume = api_access_volume(old)
    if volume is None or any(v.get("name") == volume for v in spec.get("volumes") or []):
        return
    spec.setdefault("volumes", []).extend(
        v for v in old_spec.get("volumes") or [] if v.get("name") == volume
    )
    old_containers = {
        c.get("name"): c
        for c in [*(old_spec.get("initContainers") or []), *(old_spec.get("containers") or [])]
    }
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        before = old_containers.get(c.get("name")) or {}
        kept = [m for m in before.get("volumeMounts") or [] if m.get("name") == volume]
        if kept:
            c.setdefault("volumeMounts", []).extend(kept)
