"""check_schema: kube-apiserver's strict decoding, with Go's encoding/json words."""

import copy
import time

import pytest
import yaml
from book_files import BOOK, BOOK_FILES

from lab_kit.model import schema
from lab_kit.model.kinds import KINDS


def deployment():
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"app": "x"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def service():
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def edit(obj, path, value):
    """A copy of obj with the value at path (keys and list indexes) replaced."""
    obj = copy.deepcopy(obj)
    cur = obj
    for step in path[:-1]:
        cur = cur[step]
    cur[path[-1]] = value
    return obj


CONTAINER = ["spec", "template", "spec", "containers", 0]


@pytest.mark.parametrize(
    "obj",
    [deployment(), service(), edit(service(), ["spec", "ports", 0, "targetPort"], "http")],
    ids=["deployment", "service", "named-target-port"],
)
def test_valid_objects_have_no_problems(obj):
    assert schema.check_schema(obj) == []


@pytest.mark.parametrize(
    "obj, message",
    [
        (
            edit(deployment(), ["spec", "foo"], 1),
            'strict decoding error: unknown field "spec.foo"',
        ),
        (
            edit(edit(deployment(), ["spec", "foo"], 1), ["spec", "bar"], True),
            'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"',
        ),
        (
            edit(deployment(), [*CONTAINER, "foo"], "x"),
            'strict decoding error: unknown field "spec.template.spec.containers[0].foo"',
        ),
        (
            edit(deployment(), ["metadata", "nmae"], "x"),
            'strict decoding error: unknown field "metadata.nmae"',
        ),
        (
            edit(service(), ["Spec"], {}),
            'strict decoding error: unknown field "Spec"',  # field names are case-sensitive
        ),
        (
            edit(service(), ["spec", "ports", 0, "targetport"], 80),
            'strict decoding error: unknown field "spec.ports[0].targetport"',
        ),
    ],
)
def test_unknown_fields_are_one_strict_decoding_error(obj, message):
    assert schema.check_schema(obj) == [message]


def test_unknown_fields_are_listed_in_document_order():
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["zzz"] = 1
    obj["spec"]["aaa"] = 1  # after `template` in the manifest, so reported after it
    assert schema.check_schema(obj) == [
        'strict decoding error: unknown field "spec.template.spec.containers[0].zzz", unknown field "spec.aaa"'
    ]


@pytest.mark.parametrize(
    "obj, message",
    [
        (
            edit(deployment(), ["spec", "replicas"], "3"),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            edit(deployment(), ["spec", "replicas"], 1.5),
            "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            edit(deployment(), ["spec", "replicas"], 3_000_000_000),
            "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            edit(deployment(), [*CONTAINER, "ports", 0, "containerPort"], "80"),
            "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32",
        ),
        (
            edit(deployment(), [*CONTAINER, "ports"], "80"),
            "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.ports of type []v1.ContainerPort",
        ),
        (
            edit(deployment(), [*CONTAINER, "ports"], ["80"]),
            "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.ports of type v1.ContainerPort",
        ),
        (
            edit(deployment(), ["spec", "template"], "x"),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.template of type v1.PodTemplateSpec",
        ),
        (
            edit(deployment(), ["spec"], []),
            "json: cannot unmarshal array into Go struct field Deployment.spec of type v1.DeploymentSpec",
        ),
        (
            edit(deployment(), ["metadata", "labels", "app"], 1),
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
        ),
        (
            edit(deployment(), [*CONTAINER, "image"], True),
            "json: cannot unmarshal bool into Go struct field Container.spec.template.spec.containers.image of type string",
        ),
        (
            edit(service(), ["spec", "ports", 0, "port"], "80"),
            "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32",
        ),
        (
            edit(service(), ["spec", "ports", 0, "targetPort"], True),
            "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32",
        ),
        (
            edit(service(), ["spec", "selector"], ["app"]),
            "json: cannot unmarshal array into Go struct field ServiceSpec.spec.selector of type map[string]string",
        ),
        (
            edit(deployment(), ["spec", "strategy"], {"rollingUpdate": {"maxSurge": {}}}),
            "json: cannot unmarshal object into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32",
        ),
        (
            edit(deployment(), [*CONTAINER, "resources"], {"limits": {"cpu": []}}),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
    ],
)
def test_wrong_types_use_go_unmarshal_words(obj, message):
    assert schema.check_schema(obj) == [message]


def test_a_type_error_hides_unknown_fields_and_later_type_errors():
    obj = edit(deployment(), ["spec", "foo"], 1)
    obj = edit(obj, ["spec", "replicas"], "2")
    obj = edit(obj, [*CONTAINER, "image"], 7)
    assert schema.check_schema(obj) == [
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    ]


@pytest.mark.parametrize(
    "path, value",
    [
        (["spec", "strategy"], {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}),
        (["spec", "strategy"], {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}}),
        (["spec", "template", "metadata", "creationTimestamp"], None),
        (["spec", "replicas"], None),
        (["spec", "replicas"], 2.0),  # kubectl sends 2 for a YAML 2.0
        ([*CONTAINER, "resources"], {"limits": {"cpu": "500m", "memory": 128}}),
        (["status"], {"replicas": 2}),
    ],
)
def test_int_or_string_quantities_nulls_and_status_are_accepted(path, value):
    assert schema.check_schema(edit(deployment(), path, value)) == []


def test_required_fields_and_enums_are_left_to_validation():
    obj = service()
    del obj["spec"]["ports"][0]["port"]  # required in the OpenAPI schema
    assert schema.check_schema(obj) == []


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"anything": 1}},
        {"apiVersion": "../../etc", "kind": "Passwd"},
        {"kind": "Service"},
        {},
    ],
)
def test_kinds_without_a_schema_pass(obj):
    assert schema.check_schema(obj) == []


@pytest.mark.parametrize(
    "kind", [k for k in KINDS if not k.group.endswith("knative.dev")], ids=lambda k: k.kind
)
def test_every_served_kind_has_a_schema(kind):
    """Kubernetes' own kinds; Knative's come from CRDs its webhook checks (validation)."""
    obj = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": "x"}, "bogus": 1}
    assert schema.check_schema(obj) == ['strict decoding error: unknown field "bogus"']


def test_warm_up_then_checks_are_fast():
    schema.warm_up()
    objects = [deployment(), service(), edit(deployment(), ["spec", "foo"], 1)]
    start = time.perf_counter()
    for _ in range(50):
        for obj in objects:
            schema.check_schema(obj)
    per_object_ms = (time.perf_counter() - start) / (50 * len(objects)) * 1000
    assert per_object_ms < 5


@pytest.mark.parametrize("name", BOOK_FILES)
def test_the_books_manifests_decode_cleanly(name):
    for doc in yaml.safe_load_all((BOOK / name).read_text()):
        assert schema.check_schema(doc) == []
