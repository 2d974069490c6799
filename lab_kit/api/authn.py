"""Who is asking: service-account tokens (issue and check) and the answer to requests on the
secure port that carry no valid one.

    kubelet --TokenRequest--> TokenIssuer.issue()  -> a JWT (RS256) bound to the pod
    pod --Authorization: Bearer <jwt>--> authenticate() -> "system:serviceaccount:<ns>:<sa>"
                                                        or 401 Unauthorized
    pod --no Authorization--> system:anonymous -> 403 Forbidden, except the public paths

As kube-apiserver's serviceaccount token authenticator (pkg/serviceaccount/jwt.go,
claims.go): the signature with the service-account key, issuer, audience, expiry, then the
objects the token is bound to must still exist with the same UIDs (the ServiceAccount, the
Pod; a Pod whose deletionTimestamp has passed invalidates its tokens). A token the kubelet
asks for with 3607 s is made to last a year, as `--service-account-extend-token-expiration`
(on by default) does, so the lab never refreshes it.

Anonymous requests (kubeadm leaves `--anonymous-auth` on) get only what the
`system:public-info-viewer` ClusterRole grants: /healthz, /livez, /readyz, /version.

Not checked — **RBAC**: a valid token may do anything the Unix socket may. A real cluster
would refuse the `default` ServiceAccount a list of EndpointSlices until a Role and
RoleBinding grant it (`labs/01` says so where it matters). The lab's own agents and `labkit`
use the Unix socket, which stands for the admin credentials and is not authenticated.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lab_kit.model import constants as C
from lab_kit.model.errors import ApiError
from lab_kit.model.meta import parse_rfc3339

ISSUER = f"https://kubernetes.default.svc.{C.CLUSTER_DOMAIN}"
EXTENDED_FROM_S = 3607  # the admission's projected-token expiry that gets extended
EXTENDED_TO_S = 365 * 24 * 3600
MIN_EXPIRATION_S = 600
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


@dataclass(frozen=True)
class User:
    name: str
    namespace: str = ""


ANONYMOUS = User("system:anonymous")
# (kind, namespace, name) -> the stored object or None (the registry's store)
Lookup = Callable[[str, str, str], "dict | None"]


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


class TokenIssuer:
    """Signs and checks service-account tokens with one RSA key (the run dir's sa.key)."""

    def __init__(self, private_key_pem: bytes):
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the service-account key must be RSA")
        self._private = key
        self._public = key.public_key()
        der = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # kube-apiserver's key ID: the SHA-256 of the public key's DER, URL-safe base64
        self.key_id = jwt.utils.base64url_encode(hashlib.sha256(der).digest()).decode()

    def issue(self, claims: dict) -> str:
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.key_id})

    def verify(self, token: str, now: float) -> dict | None:
        """The claims of a token this issuer signed and that is still valid at `now`."""
        try:
            return jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                audience=ISSUER,
                issuer=ISSUER,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return None


def token_claims(
    service_account: dict, pod: dict | None, expiration_s: int, now: float, node: dict | None
) -> tuple[dict, float]:
    """The claims of a bound token (and its expiry): what `kubectl create token` or the
    kubelet's TokenRequest gets."""
    if pod is not None and expiration_s == EXTENDED_FROM_S:
        lifetime = EXTENDED_TO_S
    else:
        lifetime = expiration_s
    sa_md = service_account["metadata"]
    private: dict = {
        "namespace": sa_md["namespace"],
        "serviceaccount": {"name": sa_md["name"], "uid": sa_md.get("uid", "")},
    }
    if pod is not None:
        private["pod"] = {"name": pod["metadata"]["name"], "uid": pod["metadata"].get("uid", "")}
        if lifetime != expiration_s:
            private["warnafter"] = int(now + expiration_s)
    if node is not None:
        private["node"] = {"name": node["metadata"]["name"], "uid": node["metadata"].get("uid", "")}
    claims = {
        "aud": [ISSUER],
        "exp": int(now + lifetime),
        "iat": int(now),
        "iss": ISSUER,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": private,
        "nbf": int(now),
        "sub": f"system:serviceaccount:{sa_md['namespace']}:{sa_md['name']}",
    }
    return claims, now + lifetime


def check_bound(claims: dict, now: float, lookup: Lookup) -> User | None:
    """The user a verified token stands for, or None when it has expired or what it is
    bound to is gone."""
    if not (claims.get("nbf", 0) - 60 <= now < claims.get("exp", 0)):
        return None  # 60 s of clock skew allowed before nbf, as the validator's leeway
    private = claims.get("kubernetes.io") or {}
    ns = private.get("namespace", "")
    sa = private.get("serviceaccount") or {}
    found = lookup("ServiceAccount", ns, sa.get("name", ""))
    if found is None or found["metadata"].get("uid") != sa.get("uid"):
        return None
    pod_ref = private.get("pod")
    if pod_ref:
        pod = lookup("Pod", ns, pod_ref.get("name", ""))
        if pod is None or pod["metadata"].get("uid") != pod_ref.get("uid"):
            return None
        deleting = pod["metadata"].get("deletionTimestamp")
        if deleting and parse_rfc3339(deleting) < now:
            return None
    return User(f"system:serviceaccount:{ns}:{sa.get('name', '')}", ns)


def authenticate(
    authorization: str | None, issuer: TokenIssuer, now: float, lookup: Lookup
) -> User:
    """The request's user: ANONYMOUS without credentials; a 401 for credentials that do
    not check out (a malformed header, a token not signed here, expired, or unbound)."""
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    claims = issuer.verify(token.strip(), now)
    user = check_bound(claims, now, lookup) if claims is not None else None
    if user is None:
        raise unauthorized()
    return user


def forbid_anonymous(method: str, path: str, query: dict) -> ApiError | None:
    """What RBAC answers system:anonymous (kubeadm's defaults): the public paths are
    allowed; any other request is a 403 in the authorizer's words."""
    clean = "/" + path.strip("/")
    if method == "GET" and clean in PUBLIC_PATHS:
        return None
    user = ANONYMOUS.name
    resource = _resource_request(clean)
    if resource is None:
        verb = method.lower() if method != "GET" else "get"
        return ApiError(403, "Forbidden", f'forbidden: User "{user}" cannot {verb} path "{clean}"')
    group, plural, namespace, name, sub = resource
    verb = _verb(method, name, query)
    target = f"{plural}/{sub}" if sub else plural
    qualified = f"{plural}.{group}" if group else plural
    subject = f'{qualified} "{name}"' if name else qualified
    where = f' in the namespace "{namespace}"' if namespace else ""
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{target}" '
        f'in API group "{group}"{where}'
    )
    details: dict = {"group": group, "kind": plural}
    if name:
        details["name"] = name
    return ApiError(403, "Forbidden", message, details)


def _resource_request(path: str) -> tuple[str, str, str, str, str] | None:
    """(group, resource, namespace, name, subresource) of a resource path, as the
    RequestInfoFactory reads it; None for a non-resource path."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        return group, "namespaces", "", rest[1], ""
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    return group, rest[0], namespace, name, sub


def _verb(method: str, name: str, query: dict) -> str:
    if method == "GET":
        if str(query.get("watch", "")).lower() in ("1", "true"):
            return "watch"
        return "get" if name else "list"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
