"""The hostile manifests of the corpus: what a careless learner, a broken editor or an
attacker can hand `labkit apply -f`, each with the first line `labkit` must print.

Every case is a file (text, or raw bytes when the encoding is the point); `{f}` in the
expected line stands for the file's path. Cases refused before the API server name the
file and the document (and the line, where the YAML has one); cases the API server
refuses name them in `Error from server (...): error when applying "{f}", document i of n`.
"""

from __future__ import annotations

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
SVC = (
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n"
    "spec:\n  selector: {{app: web}}\n  ports:\n  - port: {port}\n"
)
POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n"
    "spec:\n  containers:\n  - name: {container}\n    image: {image}\n"
)
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {selector}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: busybox
"""


def laughs(levels: int, fanout: int) -> str:
    """The "billion laughs": each level a list of `fanout` aliases of the one before."""
    lines = [CM.format(name="lol"), "data:", '  a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


def nested_flow(depth: int) -> str:
    return CM.format(name="deep") + "data: " + "[" * depth + "]" * depth + "\n"


def nested_block(depth: int) -> str:
    keys = "".join("  " * i + f"k{i}:\n" for i in range(depth))
    return CM.format(name="deep") + "data:\n" + "".join("  " + k for k in keys.splitlines(True))


CM1 = CM.format(name="a")

# (name, file content, the first line labkit prints: all of it, or its start when long)
CASES: list[tuple[str, str | bytes, str]] = [
    # --- YAML syntax
    (
        "unclosed-flow",
        "apiVersion: v1\nkind: [Service\n",
        "error parsing \"{f}\" (line 3, column 1; document 1): did not find expected ',' or ']'",
    ),
    (
        "tab-indent",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n",
        'error parsing "{f}" (line 4, column 1; document 1): found character that cannot start any token',
    ),
    (
        "bad-indent",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n labels: {}\n",
        'error parsing "{f}" (line 5, column 2; document 1): did not find expected key',
    ),
    (
        "unterminated-quote",
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "a\n',
        'error parsing "{f}" (line 5, column 1; document 1): found unexpected end of stream',
    ),
    (
        "undefined-alias",
        CM1 + "data: *nope\n",
        "error parsing \"{f}\" (line 5, column 7; document 1): found undefined alias 'nope'",
    ),
    (
        "stray-colon",
        "apiVersion: v1\nkind: ConfigMap: x\n",
        'error parsing "{f}" (line 2, column 16; document 1): mapping values are not allowed in this context',
    ),
    (
        "json-trailing-garbage",
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}} }',
        'error parsing "{f}" (line 1, column 70; document 2): did not find expected <document start>',
    ),
    (
        "python-tag",
        CM1 + "data: !!python/object:os.system {}\n",
        "error parsing \"{f}\" (line 5, column 7; document 1): could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'",
    ),
    (
        "local-tag",
        CM1 + "data: !shout {a: b}\n",
        "error parsing \"{f}\" (line 5, column 7; document 1): could not determine a constructor for the tag '!shout'",
    ),
    (
        "complex-key",
        CM1 + "data:\n  ? [a, b]\n  : c\n",
        'error parsing "{f}" (line 6, column 5; document 1): error converting YAML to JSON: yaml: unsupported map key of type: list',
    ),
    (
        "null-key",
        CM1 + "data:\n  ~: c\n",
        'error parsing "{f}" (line 6, column 3; document 1): error converting YAML to JSON: yaml: unsupported map key of type: <nil>',
    ),
    # --- duplicate keys
    (
        "dup-top-level",
        CM1 + "kind: Secret\n",
        'error parsing "{f}" (line 5, column 1; document 1): error converting YAML to JSON: yaml: unmarshal errors: line 5: mapping key "kind" already defined at line 2',
    ),
    (
        "dup-metadata-name",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
        'error parsing "{f}" (line 5, column 3; document 1): error converting YAML to JSON: yaml: unmarshal errors: line 5: mapping key "name" already defined at line 4',
    ),
    (
        "dup-in-list-item",
        POD.format(name="p", container="c", image="i") + "    image: j\n",
        'error parsing "{f}" (line 9, column 5; document 1): error converting YAML to JSON: yaml: unmarshal errors: line 9: mapping key "image" already defined at line 8',
    ),
    (
        "dup-json",
        '{"apiVersion": "v1", "kind": "ConfigMap", "kind": "Secret", "metadata": {"name": "j"}}',
        'error parsing "{f}" (line 1, column 43; document 1): error converting YAML to JSON: yaml: unmarshal errors: line 1: mapping key "kind" already defined at line 1',
    ),
    (
        "dup-second-doc",
        CM1 + "---\n" + CM.format(name="b") + "  name: c\n",
        'error parsing "{f}" (line 10, column 3; document 2): error converting YAML to JSON: yaml: unmarshal errors: line 10: mapping key "name" already defined at line 9',
    ),
    # --- alias bombs and depth
    (
        "billion-laughs",
        laughs(9, 9),
        'error parsing "{f}" (line 11, column 17; document 1): error converting YAML to JSON: yaml: document contains excessive aliasing',
    ),
    (
        "laughs-4x10",
        laughs(4, 10),
        'error parsing "{f}" (line 11, column 17; document 1): error converting YAML to JSON: yaml: document contains excessive aliasing',
    ),
    (
        "alias-big-string",
        CM1 + "data:\n  a: &a '" + "x" * 1_000_000 + "'\n  b: [" + ", ".join(["*a"] * 5) + "]\n",
        'error parsing "{f}" (line 7, column 15; document 1): error converting YAML to JSON: yaml: document contains excessive aliasing',
    ),
    (
        "merge-key-bomb",
        CM1
        + "x: &x {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n"
        + "".join(
            f"y{i}: &y{i} {{<<: ["
            + ", ".join([f"*{'x' if i == 0 else 'y' + str(i - 1)}"] * 9)
            + "]}\n"
            for i in range(8)
        ),
        'error parsing "{f}" (line 8, column 25; document 1): error converting YAML to JSON: yaml: document contains excessive aliasing',
    ),
    (
        "self-alias",
        CM1 + "data: &d {a: *d}\n",
        "error parsing \"{f}\" (line 5, column 14; document 1): error converting YAML to JSON: yaml: anchor 'd' value contains itself",
    ),
    (
        "deep-flow-5000",
        nested_flow(5000),
        'error parsing "{f}" (line 5, column 1006; document 1): error converting YAML to JSON: yaml: exceeded max depth of 100',
    ),
    (
        "deep-flow-101",
        nested_flow(101),
        'error parsing "{f}" (line 5, column 106; document 1): error converting YAML to JSON: yaml: exceeded max depth of 100',
    ),
    (
        "deep-block-150",
        nested_block(150),
        'error parsing "{f}" (line 105, column 201; document 1): error converting YAML to JSON: yaml: exceeded max depth of 100',
    ),
    (
        "deep-seq-5000",
        CM1 + "data:\n" + "- " * 5000 + "x\n",
        'error parsing "{f}" (line 6, column 199; document 1): error converting YAML to JSON: yaml: exceeded max depth of 100',
    ),
    (
        "deep-json-5000",
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, "data": '
        + "[" * 5000
        + "]" * 5000
        + "}",
        'error parsing "{f}" (line 1, column 1077; document 1): error converting YAML to JSON: yaml: exceeded max depth of 100',
    ),
    (
        "too-many-values",
        CM1 + "data: [" + ",".join(["x"] * 100_001) + "]\n",
        'error parsing "{f}" (line 5, column 199986; document 1): error converting YAML to JSON: yaml: too many values (more than 100000 in one file)',
    ),
    (
        "too-big",
        CM1 + "data: {a: '" + "x" * (3 * 1024 * 1024) + "'}\n",
        'error reading "{f}": more than 3145728 bytes, the most the API server accepts in one request',
    ),
    # --- encodings and junk
    (
        "latin-1",
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cafe\ndata:\n  menu: caf\xe9\n"
        ).encode("latin-1"),
        'error parsing "{f}" (line 6, column 12): not UTF-8 text (byte 0xe9); save the file as UTF-8',
    ),
    (
        "cp1252-quotes",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: q\ndata:\n  a: \x93hi\x94\n",
        'error parsing "{f}" (line 6, column 6): not UTF-8 text (byte 0x93); save the file as UTF-8',
    ),
    (
        "utf16-no-bom",
        CM1.encode("utf-16-le"),
        'error parsing "{f}" (line 1, column 2): yaml: control characters are not allowed (#x0000)',
    ),
    (
        "utf32-bom",
        CM1.encode("utf-32"),
        'error parsing "{f}" (line 1, column 1): yaml: control characters are not allowed (#x0000)',
    ),
    (
        "binary-junk",
        bytes(range(256)) * 4,
        'error parsing "{f}" (line 2, column 118): not UTF-8 text (byte 0x80); save the file as UTF-8',
    ),
    (
        "nul-in-middle",
        b"apiVersion: v1\nkind: Config\x00Map\n",
        'error parsing "{f}" (line 2, column 13): yaml: control characters are not allowed (#x0000)',
    ),
    (
        "escape-char",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \x1b[31ma}\n",
        'error parsing "{f}" (line 3, column 18): yaml: control characters are not allowed (#x001b)',
    ),
    (
        "truncated-utf8",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: \xe2\x82}\n",
        'error parsing "{f}" (line 4, column 11): not UTF-8 text (byte 0xe2); save the file as UTF-8',
    ),
    (
        "surrogate-utf8",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: \xed\xa0\x80}\n",
        'error parsing "{f}" (line 4, column 11): not UTF-8 text (byte 0xed); save the file as UTF-8',
    ),
    (
        "gzip-file",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
        'error parsing "{f}" (line 1, column 2): not UTF-8 text (byte 0x8b); save the file as UTF-8',
    ),
    # --- values JSON cannot carry
    (
        "binary-tag",
        CM1 + "data: {a: !!binary aGVsbG8=}\n",
        'error parsing "{f}" (line 5, column 11; document 1): error converting YAML to JSON: yaml: cannot convert tag:yaml.org,2002:binary to JSON',
    ),
    (
        "set-tag",
        CM1 + "data: !!set {a, b}\n",
        'error parsing "{f}" (line 5, column 7; document 1): error converting YAML to JSON: yaml: cannot convert tag:yaml.org,2002:set to JSON',
    ),
    (
        "nan",
        CM1 + "data: {a: .nan}\n",
        'error parsing "{f}" (line 5, column 11; document 1): error converting YAML to JSON: yaml: json: unsupported value: NaN',
    ),
    (
        "infinity",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: .inf}\n",
        'error parsing "{f}" (line 4, column 18; document 1): error converting YAML to JSON: yaml: json: unsupported value: +Inf',
    ),
    (
        "huge-int",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: "
        + "9" * 5000
        + "}\n",
        'error parsing "{f}" (line 4, column 18; document 1): error converting YAML to JSON: yaml: integer too large',
    ),
    # --- documents that are not objects
    (
        "doc-is-list",
        "- a\n- b\n",
        'error validating "{f}", document 1: expected an object, got list',
    ),
    (
        "doc-is-scalar",
        "just text\n",
        'error validating "{f}", document 1: expected an object, got str',
    ),
    ("doc-is-number", "42\n", 'error validating "{f}", document 1: expected an object, got int'),
    (
        "list-items-not-objects",
        "apiVersion: v1\nkind: List\nitems: [1, 2]\n",
        'error validating "{f}", document 1: items[0]: expected an object, got int',
    ),
    (
        "second-doc-is-scalar",
        CM1 + "---\nhello\n",
        'error validating "{f}", document 2: expected an object, got str',
    ),
    # --- kubectl's client-side checks
    (
        "no-apiversion",
        "kind: ConfigMap\nmetadata: {name: a}\n",
        'error validating "{f}", document 1 of 1: error validating data: [apiVersion not set]',
    ),
    (
        "no-kind",
        "apiVersion: v1\nmetadata: {name: a}\n",
        'error validating "{f}", document 1 of 1: error validating data: [kind not set]',
    ),
    (
        "no-apiversion-no-kind",
        "metadata: {name: a}\n",
        'error validating "{f}", document 1 of 1: error validating data: [apiVersion not set, kind not set]',
    ),
    (
        "kind-is-list",
        "apiVersion: v1\nkind: [ConfigMap]\nmetadata: {name: a}\n",
        'error: unable to decode "{f}", document 1 of 1: json: cannot unmarshal array into Go struct field .kind of type string',
    ),
    (
        "apiversion-is-number",
        "apiVersion: 1\nkind: ConfigMap\nmetadata: {name: a}\n",
        'error: unable to decode "{f}", document 1 of 1: json: cannot unmarshal number into Go struct field .apiVersion of type string',
    ),
    (
        "unknown-kind",
        "apiVersion: v1\nkind: Widget\nmetadata: {name: a}\n",
        'error: resource mapping not found for name: "a" namespace: "" from "{f}", document 1 of 1: no matches for kind "Widget" in version "v1"',
    ),
    (
        "unknown-version",
        DEPLOY.format(replicas=1, selector="web").replace("apps/v1", "apps/v2"),
        'error: resource mapping not found for name: "web" namespace: "" from "{f}", document 1 of 1: no matches for kind "Deployment" in version "apps/v2"',
    ),
    (
        "no-name",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n",
        'error validating "{f}", document 1 of 1: metadata.name: Required value: name or generateName is required',
    ),
    (
        "metadata-is-string",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: a\n",
        'error validating "{f}", document 1 of 1: metadata.name: Required value: name or generateName is required',
    ),
    (
        "generate-name",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: gen-}\n",
        'error: from gen-: cannot use generate name with apply ("{f}", document 1 of 1)',
    ),
    (
        "generate-name-second-doc",
        CM1
        + "---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: p-}\nspec: {containers: [{name: c, image: i}]}\n",
        'error: from p-: cannot use generate name with apply ("{f}", document 2 of 2)',
    ),
    # --- the API server: decoding (400)
    (
        "unknown-field",
        CM1 + "foo: bar\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "foo"',
    ),
    (
        "unknown-nested-field",
        SVC.format(name="s", port=80) + "  fooPolicy: x\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.fooPolicy"',
    ),
    (
        "replicas-string",
        DEPLOY.format(replicas='"three"', selector="web"),
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: Deployment in version "v1" cannot be handled as a Deployment: json: cannot',
    ),
    (
        "ports-not-list",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: 80}\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: Service in version "v1" cannot be handled as a Service: json: cannot unmarshal number into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort',
    ),
    (
        "data-not-map",
        CM1 + "data: [a, b]\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal array into Go struct field ConfigMap.data of type map[string]string',
    ),
    (
        "data-value-number",
        CM1 + "data: {a: 1}\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string',
    ),
    (
        "labels-not-map",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: [a]}\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot u',
    ),
    (
        "annotation-value-bool",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {a: true}}\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot u',
    ),
    (
        "name-is-number",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 5}\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string',
    ),
    (
        "containers-not-list",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: {name: c}}\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container',
    ),
    (
        "null-in-list",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [~]}\n",
        'Error from server (BadRequest): error when applying "{f}", document 1 of 1: Service in version "v1" cannot be handled as a Service: spec.ports[0]: null is not allowed in a list',
    ),
    # --- the API server: validation (422) and the rest
    (
        "name-too-long",
        SVC.format(name="s" * 64, port=80),
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Service "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss" is invalid:',
    ),
    (
        "name-uppercase",
        CM.format(name="Web"),
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: ConfigMap "Web" is invalid: metadata.name: Invalid value: "Web": a lowercase ',
    ),
    (
        "name-with-slash",
        CM.format(name="a/b"),
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: ConfigMap "a/b" is invalid: metadata.name: Invalid value: "a/b": a lowercase ',
    ),
    (
        "label-key-invalid",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {'-bad-': x}}\n",
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: ConfigMap "a" is invalid: metadata.labels: Invalid value: "-bad-": name part ',
    ),
    (
        "label-value-too-long",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {k: " + "v" * 64 + "}\n",
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: ConfigMap "a" is invalid: metadata.labels: Invalid value: "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv":',
    ),
    (
        "port-zero",
        SVC.format(name="s", port=0),
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Service "s" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[0].targetPort:',
    ),
    (
        "port-too-big",
        SVC.format(name="s", port=70000),
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Service "s" is invalid: [spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.ports[0].targetPort:',
    ),
    (
        "service-no-ports",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {app: web}}\n",
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Service "s" is invalid: spec.ports: Required value',
    ),
    (
        "service-type-foo",
        SVC.format(name="s", port=80) + "  type: Foo\n",
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Service "s" is invalid: spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ),
    (
        "nodeport-out-of-range",
        SVC.format(name="s", port=80) + "    nodePort: 20000\n  type: NodePort\n",
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Service "s" is invalid: spec.ports[0].nodePort: Invalid value: 20000: provided port is not in the valid range. The range of valid ports is 30000-32767',
    ),
    (
        "clusterip-outside-range",
        SVC.format(name="s", port=80) + "  clusterIP: 192.168.1.1\n",
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Service "s" is invalid: spec.clusterIPs: Invalid value: []string{"192.168.1.1"}:',
    ),
    (
        "selector-mismatch",
        DEPLOY.format(replicas=1, selector="other"),
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ),
    (
        "negative-replicas",
        DEPLOY.format(replicas=-1, selector="web"),
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    ),
    (
        "pod-no-containers",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Pod "p" is invalid: spec.containers: Required value',
    ),
    (
        "container-no-image",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n",
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Pod "p" is invalid: spec.containers[0].image: Required value',
    ),
    (
        "container-bad-name",
        POD.format(name="p", container="Bad_Name", image="busybox"),
        'Error from server (Invalid): error when applying "{f}", document 1 of 1: Pod "p" is invalid: spec.containers[0].name: Invalid value: "Bad_Name": a low',
    ),
    (
        "missing-namespace",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: nope}\n",
        'Error from server (NotFound): error when applying "{f}", document 1 of 1: namespaces "nope" not found',
    ),
    (
        "bad-second-of-two",
        CM1 + "---\n" + SVC.format(name="s", port=0),
        'Error from server (Invalid): error when applying "{f}", document 2 of 2: Service "s" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[0].targetPort:',
    ),
    # --- nothing to apply
    ("empty-file", "", "error: no objects passed to apply"),
    ("only-comments", "# nothing here\n---\n# nor here\n", "error: no objects passed to apply"),
]
