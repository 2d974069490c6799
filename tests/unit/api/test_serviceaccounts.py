"""Service accounts as the API server gives them: the `default` ServiceAccount and
kube-root-ca.crt of every namespace, the ServiceAccount admission's volume, TokenRequest,
and the tokens' checks (authn.py)."""

from __future__ import annotations

import functools

import jwt
import pytest

from lab_kit.adapters import pki
from lab_kit.api import authn
from lab_kit.api.authn import TokenIssuer, authenticate, forbid_anonymous
from lab_kit.api.registry import Registry
from lab_kit.api.serviceaccounts import MOUNT_PATH
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name

NOW = 1_700_000_000.0


@functools.cache
def key() -> bytes:
    return pki.new_key_pem()


@pytest.fixture
def reg() -> Registry:
    r = Registry(clock=lambda: NOW)
    r.bootstrap()
    r.token_issuer = TokenIssuer(key())
    r.publish_root_ca("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")
    return r


def pod(name: str = "p", ns: str = "default", **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "busybox"}],
                     "initContainers": [{"name": "i", "image": "busybox"}], **spec}}  # fmt: skip


def test_every_namespace_gets_its_default_service_account_and_the_ca(reg):
    reg.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    for ns in ("default", "kube-system", "shop"):
        assert reg.store.get("ServiceAccount", ns, "default") is not None
        ca = reg.store.get("ConfigMap", ns, "kube-root-ca.crt")
        assert ca["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    reg.delete(by_kind_name("Namespace"), "", "shop")  # Terminating
    reg.delete(by_kind_name("Namespace"), "", "shop")  # holds only its own: empty, so it goes
    assert reg.store.get("Namespace", "", "shop") is None
    assert reg.store.get("ServiceAccount", "shop", "default") is None


def test_the_admission_mounts_the_projected_volume_in_every_container(reg):
    stored = reg.create(pod())
    spec = stored["spec"]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == 21
    projected = volume["projected"]
    assert projected["defaultMode"] == 420
    assert projected["sources"][0] == {
        "serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}
    }
    assert projected["sources"][1]["configMap"]["name"] == "kube-root-ca.crt"
    assert projected["sources"][2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == (
        "metadata.namespace"
    )
    mount = {"name": volume["name"], "readOnly": True, "mountPath": MOUNT_PATH}
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["initContainers"][0]["volumeMounts"] == [mount]


def test_automount_false_on_the_pod_or_its_account_means_no_volume(reg):
    assert "volumes" not in reg.create(pod("a", automountServiceAccountToken=False))["spec"]
    reg.create({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "quiet"}, "automountServiceAccountToken": False})  # fmt: skip
    assert "volumes" not in reg.create(pod("b", serviceAccountName="quiet"))["spec"]


def test_a_missing_service_account_is_refused_as_the_admission_refuses_it(reg):
    with pytest.raises(ApiError) as refused:
        reg.create(pod(serviceAccountName="nope"))
    assert refused.value.code == 403
    assert refused.value.message == (
        'pods "p" is forbidden: error looking up service account default/nope: '
        'serviceaccount "nope" not found'
    )


def test_a_reapplied_pod_keeps_what_admission_added_and_is_unchanged(reg):
    manifest = pod()
    (first,) = reg.apply([manifest])
    (again,) = reg.apply([manifest])
    assert first[0] == "created" and again[0] == "unchanged"
    assert again[1]["spec"]["volumes"] == first[1]["spec"]["volumes"]


def test_pods_generated_names_do_not_depend_on_the_admission(reg):
    other = Registry(clock=lambda: NOW)
    other.bootstrap()
    made = [r.create({**pod(), "metadata": {"generateName": "web-"}}) for r in (reg, other)]
    assert made[0]["metadata"]["name"] == made[1]["metadata"]["name"]


def token_for(reg: Registry, name: str = "p", expiration: int = 3607) -> dict:
    body = {"spec": {"expirationSeconds": expiration,
                     "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": name}}}  # fmt: skip
    return reg.create_token("default", "default", body)


def test_token_request_gives_a_bound_token_as_kube_apiserver_does(reg):
    p = reg.create(pod())
    answer = token_for(reg)
    assert answer["kind"] == "TokenRequest"
    claims = jwt.decode(answer["status"]["token"], options={"verify_signature": False})
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": p["metadata"]["uid"]}
    assert claims["kubernetes.io"]["warnafter"] == int(NOW + 3607)
    assert claims["exp"] == int(NOW + 365 * 24 * 3600)  # extended, as for the kubelet
    with pytest.raises(ApiError) as short:
        token_for(reg, expiration=60)
    assert short.value.code == 400


def lookup(reg: Registry):
    return reg.store.get


def test_tokens_are_checked_signature_expiry_and_binding(reg):
    reg.create(pod())
    token = token_for(reg, expiration=3600)["status"]["token"]
    user = authenticate(f"Bearer {token}", reg.token_issuer, NOW, lookup(reg))
    assert user.name == "system:serviceaccount:default:default"
    assert authenticate(None, reg.token_issuer, NOW, lookup(reg)) is authn.ANONYMOUS
    for bad in ("Bearer nonsense", "Basic abc", "Bearer ",
                "Bearer " + jwt.encode({"sub": "x"}, pki.new_key_pem(), algorithm="RS256")):  # fmt: skip
        with pytest.raises(ApiError) as refused:
            authenticate(bad, reg.token_issuer, NOW, lookup(reg))
        assert (refused.value.code, refused.value.message) == (401, "Unauthorized")
    with pytest.raises(ApiError):  # expired
        authenticate(f"Bearer {token}", reg.token_issuer, NOW + 3601, lookup(reg))
    reg.delete(by_kind_name("Pod"), "default", "p", grace_period_s=0)
    reg.create(pod())  # the same name, a new pod: the token was bound to the old one
    with pytest.raises(ApiError):
        authenticate(f"Bearer {token}", reg.token_issuer, NOW, lookup(reg))


def test_anonymous_requests_are_forbidden_in_the_authorizers_words():
    assert forbid_anonymous("GET", "/version", {}) is None
    assert forbid_anonymous("GET", "/healthz", {}) is None
    listing = forbid_anonymous(
        "GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {}
    )
    assert listing.code == 403 and listing.message == (
        'endpointslices.discovery.k8s.io is forbidden: User "system:anonymous" cannot list '
        'resource "endpointslices" in API group "discovery.k8s.io" in the namespace "default"'
    )
    watch = forbid_anonymous("GET", "/api/v1/pods", {"watch": "1"})
    assert watch.message == (
        'pods is forbidden: User "system:anonymous" cannot watch resource "pods" in API group ""'
    )
    named = forbid_anonymous("DELETE", "/api/v1/namespaces/x/services/web", {})
    assert named.message.startswith(
        'services "web" is forbidden: User "system:anonymous" cannot delete'
    )
    assert forbid_anonymous("GET", "/api", {}).message == (
        'forbidden: User "system:anonymous" cannot get path "/api"'
    )
