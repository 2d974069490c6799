"""The hostile HTTP requests of the corpus: malformed bodies, wrong types in every field
the API server reads, bad query parameters, odd paths and methods, unsupported media
types, oversized bodies and broken HTTP framing. Each with the status kube-apiserver
answers, the `Status` reason, and a piece of its message."""

from __future__ import annotations

import json

from raw_http import request

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
SVCS = "/api/v1/namespaces/default/services"
APPLY = "/lab/v1/apply"
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
UNKNOWN = "the body of the request was in an unknown format"
MB3 = 3 * 1024 * 1024


def cm(**fields: object) -> dict:
    return {**CM, **fields}


def nested(depth: int) -> str:
    return json.dumps(cm(data=None))[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"


def raw(text: str) -> bytes:
    return text.encode("latin-1")


# (name, the request's bytes, status, reason, a piece of the message)
CASES: list[tuple[str, bytes, int, str, str]] = [
    # --- bodies that are not a JSON object
    ("body-array", request("POST", CMS, [1, 2]), 400, "BadRequest", f"{UNKNOWN}: not an object"),
    ("body-number", request("POST", CMS, "3"), 400, "BadRequest", f"{UNKNOWN}: not an object"),
    ("body-string", request("POST", CMS, '"s"'), 400, "BadRequest", f"{UNKNOWN}: not an object"),
    ("body-null", request("POST", CMS, "null"), 400, "BadRequest", f"{UNKNOWN}: not an object"),
    ("body-bad-json", request("POST", CMS, "{bad"), 400, "BadRequest", UNKNOWN),
    ("body-truncated", request("POST", CMS, '{"apiVersion": "v1"'), 400, "BadRequest", UNKNOWN),
    (
        "body-nan",
        request("POST", CMS, '{"a": NaN}'),
        400,
        "BadRequest",
        "invalid character 'N' looking for beginning of value",
    ),
    (
        "body-infinity",
        request("POST", CMS, '{"a": -Infinity}'),
        400,
        "BadRequest",
        "invalid character '-' looking for beginning of value",
    ),
    (
        "body-deep-5000",
        request("POST", CMS, nested(5000)),
        400,
        "BadRequest",
        f"{UNKNOWN}: exceeded max depth",
    ),
    (
        "body-deep-150",
        request("POST", CMS, nested(150)),
        400,
        "BadRequest",
        f"{UNKNOWN}: exceeded max depth of 100",
    ),
    ("body-not-utf8", request("POST", CMS, b'{"a": "\xff\xfe"}'), 400, "BadRequest", UNKNOWN),
    (
        "body-huge-int",
        request("POST", CMS, '{"a": ' + "1" * 5000 + "}"),
        400,
        "BadRequest",
        UNKNOWN,
    ),
    (
        "body-gzip",
        request("POST", CMS, b"\x1f\x8b\x08\x00\x00\x00", headers={"Content-Encoding": "gzip"}),
        400,
        "BadRequest",
        UNKNOWN,
    ),
    # --- a field of the wrong type, wherever the server reads one
    (
        "kind-not-string",
        request("POST", CMS, cm(kind=["ConfigMap"])),
        400,
        "BadRequest",
        "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go struct field .kind of type string",
    ),
    (
        "apiversion-number",
        request("POST", CMS, cm(apiVersion=1)),
        400,
        "BadRequest",
        "cannot unmarshal number into Go struct field .apiVersion of type string",
    ),
    (
        "metadata-list",
        request("POST", CMS, cm(metadata=[])),
        400,
        "BadRequest",
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal array',
    ),
    (
        "name-number",
        request("POST", CMS, cm(metadata={"name": 5})),
        400,
        "BadRequest",
        "cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string",
    ),
    (
        "labels-list",
        request("POST", CMS, cm(metadata={"name": "a", "labels": ["x"]})),
        400,
        "BadRequest",
        "ObjectMeta.metadata.labels of type map[string]string",
    ),
    (
        "data-value-bool",
        request("POST", CMS, cm(data={"a": True})),
        400,
        "BadRequest",
        "cannot unmarshal bool into Go struct field ConfigMap.data of type string",
    ),
    (
        "ports-not-list",
        request(
            "POST",
            SVCS,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"ports": 80},
            },
        ),
        400,
        "BadRequest",
        "ServiceSpec.spec.ports of type []v1.ServicePort",
    ),
    (
        "null-in-list",
        request(
            "POST",
            SVCS,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"ports": [None]},
            },
        ),
        400,
        "BadRequest",
        "spec.ports[0]: null is not allowed in a list",
    ),
    (
        "put-metadata-list",
        request("PUT", f"{CMS}/a", cm(metadata=[])),
        400,
        "BadRequest",
        "cannot unmarshal array",
    ),
    (
        "put-name-mismatch",
        request("PUT", f"{CMS}/a", cm(metadata={"name": "b"})),
        400,
        "BadRequest",
        "the name of the object does not match the name on the URL",
    ),
    (
        "binding-target-list",
        request("POST", f"{PODS}/p/binding", {"target": ["n1"]}),
        400,
        "BadRequest",
        "cannot unmarshal array into Go struct field Binding.target of type v1.ObjectReference",
    ),
    (
        "binding-name-number",
        request("POST", f"{PODS}/p/binding", {"target": {"name": 1}}),
        400,
        "BadRequest",
        "of type string",
    ),
    (
        "delete-grace-query-abc",
        request("DELETE", f"{CMS}/a?gracePeriodSeconds=abc"),
        400,
        "BadRequest",
        'gracePeriodSeconds: Invalid value: "abc": must be an integer',
    ),
    (
        "delete-grace-query-huge",
        request("DELETE", f"{CMS}/a?gracePeriodSeconds=99999999999999999999"),
        400,
        "BadRequest",
        "gracePeriodSeconds: Invalid value",
    ),
    (
        "delete-grace-body-string",
        request("DELETE", f"{CMS}/a", {"gracePeriodSeconds": "5"}),
        400,
        "BadRequest",
        "cannot unmarshal string into Go struct field DeleteOptions.gracePeriodSeconds of type int64",
    ),
    (
        "delete-grace-body-float",
        request("DELETE", f"{CMS}/a", {"gracePeriodSeconds": 1.5}),
        400,
        "BadRequest",
        "DeleteOptions.gracePeriodSeconds of type int64",
    ),
    (
        "delete-grace-body-bool",
        request("DELETE", f"{CMS}/a", {"gracePeriodSeconds": True}),
        400,
        "BadRequest",
        "cannot unmarshal bool",
    ),
    (
        "delete-grace-body-1e400",
        request("DELETE", f"{CMS}/a", '{"gracePeriodSeconds": 1e400}'),
        400,
        "BadRequest",
        "DeleteOptions.gracePeriodSeconds of type int64",
    ),
    (
        "delete-preconditions-list",
        request("DELETE", f"{CMS}/a", {"preconditions": ["u"]}),
        400,
        "BadRequest",
        "DeleteOptions.preconditions of type v1.Preconditions",
    ),
    (
        "delete-uid-number",
        request("DELETE", f"{CMS}/a", {"preconditions": {"uid": 7}}),
        400,
        "BadRequest",
        "Preconditions.uid of type types.UID",
    ),
    (
        "delete-body-array",
        request("DELETE", f"{CMS}/a", []),
        400,
        "BadRequest",
        f"{UNKNOWN}: not an object",
    ),
    # --- query parameters
    (
        "watch-rv-abc",
        request("GET", f"{CMS}?watch=1&resourceVersion=abc"),
        400,
        "BadRequest",
        'resourceVersion: Invalid value: "abc"',
    ),
    (
        "watch-rv-negative",
        request("GET", f"{CMS}?watch=1&resourceVersion=-5"),
        410,
        "Expired",
        "too old resource version: -5",
    ),
    (
        "watch-timeout-abc",
        request("GET", f"{CMS}?watch=1&timeoutSeconds=abc"),
        400,
        "BadRequest",
        'timeoutSeconds: Invalid value: "abc"',
    ),
    (
        "watch-timeout-nan",
        request("GET", f"{CMS}?watch=1&timeoutSeconds=nan"),
        400,
        "BadRequest",
        'timeoutSeconds: Invalid value: "nan"',
    ),
    (
        "watch-timeout-float",
        request("GET", f"{CMS}?watch=1&timeoutSeconds=1.5"),
        400,
        "BadRequest",
        "must be a whole number of seconds",
    ),
    (
        "watch-timeout-negative",
        request("GET", f"{CMS}?watch=1&timeoutSeconds=-1"),
        400,
        "BadRequest",
        'timeoutSeconds: Invalid value: "-1"',
    ),
    (
        "label-selector-garbage",
        request("GET", f"{CMS}?labelSelector=a%20in%20(b"),
        400,
        "BadRequest",
        "unable to parse requirement",
    ),
    (
        "label-selector-bang",
        request("GET", f"{CMS}?labelSelector=!"),
        400,
        "BadRequest",
        "unable to parse requirement",
    ),
    (
        "field-selector-unknown",
        request("GET", f"{CMS}?fieldSelector=spec.foo%3Dx"),
        400,
        "BadRequest",
        '"spec.foo" is not a known field selector',
    ),
    (
        "field-selector-empty-key",
        request("GET", f"{CMS}?fieldSelector=%3Dx"),
        400,
        "BadRequest",
        "is not a known field selector",
    ),
    (
        "dry-run-foo-create",
        request("POST", f"{CMS}?dryRun=Foo", CM),
        422,
        "Invalid",
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Foo"]: supported values: "All"',
    ),
    (
        "dry-run-foo-update",
        request("PUT", f"{CMS}/a?dryRun=foo", CM),
        422,
        "Invalid",
        'UpdateOptions.meta.k8s.io "" is invalid: dryRun',
    ),
    (
        "dry-run-foo-delete",
        request("DELETE", f"{CMS}/a?dryRun=all"),
        422,
        "Invalid",
        'DeleteOptions.meta.k8s.io "" is invalid: dryRun',
    ),
    # --- the lab's own endpoints
    (
        "apply-items-object",
        request("POST", APPLY, {"items": {"a": 1}}),
        400,
        "BadRequest",
        "cannot unmarshal object into Go struct field ApplyRequest.items",
    ),
    (
        "apply-items-string",
        request("POST", APPLY, {"items": "x"}),
        400,
        "BadRequest",
        "cannot unmarshal string into Go struct field ApplyRequest.items",
    ),
    (
        "apply-item-number",
        request("POST", APPLY, {"items": [CM, 1]}),
        400,
        "BadRequest",
        "couldn't get version/kind",
    ),
    (
        "apply-item-metadata-string",
        request("POST", APPLY, {"items": [cm(metadata="x")]}),
        400,
        "BadRequest",
        "cannot unmarshal string",
    ),
    (
        "apply-dry-run-string",
        request("POST", APPLY, {"items": [CM], "dryRun": "yes"}),
        400,
        "BadRequest",
        "ApplyRequest.dryRun of type bool",
    ),
    (
        "apply-generate-name",
        request("POST", APPLY, {"items": [cm(metadata={"generateName": "g-"})]}),
        400,
        "BadRequest",
        "from g-: cannot use generate name with apply",
    ),
    (
        "agent-rv-string",
        request("POST", "/lab/v1/agents/x", {"resourceVersion": "7"}),
        400,
        "BadRequest",
        "AgentReport.resourceVersion of type int64",
    ),
    (
        "agent-info-string",
        request("POST", "/lab/v1/agents/x", {"resourceVersion": 1, "info": "x"}),
        400,
        "BadRequest",
        "AgentReport.info",
    ),
    (
        "agent-pod-number",
        request("POST", "/lab/v1/agents/x", {"resourceVersion": 1, "info": {"pod": 5}}),
        400,
        "BadRequest",
        "AgentReport.info.pod of type string",
    ),
    (
        "converged-timeout-abc",
        request("GET", "/lab/v1/converged?timeoutSeconds=abc"),
        400,
        "BadRequest",
        'timeoutSeconds: Invalid value: "abc"',
    ),
    (
        "converged-timeout-inf",
        request("GET", "/lab/v1/converged?timeoutSeconds=inf"),
        400,
        "BadRequest",
        'timeoutSeconds: Invalid value: "inf"',
    ),
    # --- methods and paths
    (
        "patch",
        request("PATCH", f"{CMS}/a", CM),
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource (PATCH)",
    ),
    ("delete-collection", request("DELETE", CMS), 405, "MethodNotAllowed", "(DELETE)"),
    ("put-collection", request("PUT", CMS, CM), 405, "MethodNotAllowed", "(PUT)"),
    ("post-to-object", request("POST", f"{CMS}/a", CM), 405, "MethodNotAllowed", "(POST)"),
    ("unknown-path", request("GET", "/foo"), 404, "NotFound", "/foo"),
    (
        "unknown-resource",
        request("GET", "/api/v1/widgets"),
        404,
        "NotFound",
        "the server could not find the requested resource",
    ),
    (
        "unknown-group",
        request("GET", "/apis/example.com/v1/widgets"),
        404,
        "NotFound",
        "the server could not find the requested resource",
    ),
    (
        "unknown-subresource",
        request("GET", f"{PODS}/p/exec"),
        404,
        "NotFound",
        "the server could not find the requested resource",
    ),
    (
        "too-many-segments",
        request("GET", f"{CMS}/a/b/c/d"),
        404,
        "NotFound",
        "the server could not find the requested resource",
    ),
    ("dot-dot-name", request("GET", f"{CMS}/%2e%2e"), 404, "NotFound", 'configmaps ".." not found'),
    (
        "unknown-lab-endpoint",
        request("GET", "/lab/v1/nothing"),
        404,
        "NotFound",
        "no lab endpoint nothing",
    ),
    # --- media types (kube-apiserver: 415 for a body it has no serializer for)
    ("text-plain", request("POST", CMS, CM, "text/plain"), 415, "UnsupportedMediaType", UNKNOWN),
    (
        "form-urlencoded",
        request("POST", CMS, "a=1", "application/x-www-form-urlencoded"),
        415,
        "UnsupportedMediaType",
        "accepted media types include: application/json",
    ),
    (
        "multipart",
        request("POST", CMS, "--x--", "multipart/form-data; boundary=x"),
        415,
        "UnsupportedMediaType",
        '("multipart/form-data")',
    ),
    (
        "yaml-body",
        request("POST", CMS, "kind: ConfigMap", "application/yaml"),
        415,
        "UnsupportedMediaType",
        '("application/yaml")',
    ),
    # --- sizes (kube-apiserver's 3 MiB request limit)
    (
        "content-length-over-limit",
        raw(f"POST {CMS} HTTP/1.1\r\nHost: lab\r\nContent-Length: {MB3 + 1}\r\n\r\n"),
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    ),
    (
        "content-length-258mb",
        raw(f"POST {APPLY} HTTP/1.1\r\nHost: lab\r\nContent-Length: {258 << 20}\r\n\r\n{{"),
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    ),
    (
        "chunked-over-limit",
        raw(f"POST {CMS} HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n")
        + (b"100000\r\n" + b" " * 0x100000 + b"\r\n") * 4
        + b"0\r\n\r\n",
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    ),
    # --- HTTP itself (aiohttp's parser; answered with a Status all the same)
    ("garbage-line", b"GARBAGE\r\n\r\n", 400, "BadRequest", "Bad Request"),
    (
        "tls-hello",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32,
        400,
        "BadRequest",
        "Bad Request",
    ),
    (
        "header-line-9000",
        raw(f"GET {CMS} HTTP/1.1\r\nHost: lab\r\nX-Big: {'a' * 9000}\r\n\r\n"),
        400,
        "BadRequest",
        "Got more than 8190 bytes",
    ),
    (
        "path-20000",
        raw(f"GET /api/{'a' * 20000} HTTP/1.1\r\nHost: lab\r\n\r\n"),
        400,
        "BadRequest",
        "Bad Request",
    ),
    (
        "headers-200",
        raw(f"GET {CMS} HTTP/1.1\r\n" + "".join(f"H{i}: v\r\n" for i in range(200)) + "\r\n"),
        400,
        "BadRequest",
        "Too many headers",
    ),
    (
        "bad-content-length",
        raw(f"POST {CMS} HTTP/1.1\r\nHost: lab\r\nContent-Length: abc\r\n\r\n{{}}"),
        400,
        "BadRequest",
        "Content-Length",
    ),
    (
        "two-content-lengths",
        raw(
            f"POST {CMS} HTTP/1.1\r\nHost: lab\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}"
        ),
        400,
        "BadRequest",
        "Bad Request",
    ),
    (
        "length-and-chunked",
        raw(
            f"POST {CMS} HTTP/1.1\r\nHost: lab\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{{}}"
        ),
        400,
        "BadRequest",
        "Bad Request",
    ),
    (
        "bad-chunk-size",
        raw(f"POST {CMS} HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        400,
        "BadRequest",
        "chunk size",
    ),
    ("http-9.9", raw(f"GET {CMS} HTTP/9.9\r\nHost: lab\r\n\r\n"), 400, "BadRequest", "Bad Request"),
    (
        "lowercase-method",
        raw(f"get {CMS} HTTP/1.1\r\nHost: lab\r\n\r\n"),
        400,
        "BadRequest",
        "Bad Request",
    ),
    (
        "header-without-colon",
        raw(f"GET {CMS} HTTP/1.1\r\nHost lab\r\n\r\n"),
        400,
        "BadRequest",
        "Bad Request",
    ),
    (
        "nul-in-path",
        raw(f"GET {CMS}\x00 HTTP/1.1\r\nHost: lab\r\n\r\n"),
        400,
        "BadRequest",
        "Bad Request",
    ),
]
