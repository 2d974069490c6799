"""Knative Serving's kinds in the API: filed apart from core Services, defaulted and checked
as Knative's webhook does (pkg/apis/serving/v1 *_defaults.go, *_validation.go)."""

from __future__ import annotations

import copy

import pytest

from lab_kit.api.registry import Registry
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name, kind_key, lookup

KSVC = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "hello", "namespace": "default"},
    "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go"}]}}},
}


@pytest.fixture
def reg():
    r = Registry(clock=lambda: 1_700_000_000.0)
    r.bootstrap()
    return r


def test_a_knative_service_is_filed_apart_from_the_core_service_of_the_same_name(reg):
    reg.create(copy.deepcopy(KSVC), "default")
    core = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"selector": {"app": "hello"}, "ports": [{"port": 80}]}}  # fmt: skip
    assert reg.create(core, "default")["spec"]["clusterIP"]
    assert kind_key(KSVC) == "Service.serving.knative.dev" and kind_key(core) == "Service"
    assert lookup("ksvc") is by_kind_name("Service.serving.knative.dev")
    assert lookup("services").group == "" and lookup("services.serving.knative.dev").group
    names = [o["metadata"]["name"] for o in reg.list(lookup("svc"), "default")]
    assert names == ["hello", "kubernetes"]
    (ksvc,) = reg.list(lookup("ksvc"), "default")
    assert ksvc["apiVersion"] == "serving.knative.dev/v1" and "clusterIP" not in ksvc["spec"]


def test_defaults_as_config_defaults_ships_them(reg):
    out = reg.create(copy.deepcopy(KSVC), "default")
    spec = out["spec"]["template"]["spec"]
    assert spec["timeoutSeconds"] == 300 and spec["containerConcurrency"] == 0
    assert spec["enableServiceLinks"] is False
    assert spec["containers"][0]["name"] == "user-container"
    assert spec["containers"][0]["readinessProbe"] == {
        "tcpSocket": {"port": 0},
        "successThreshold": 1,
    }
    assert out["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]
    assert out["metadata"]["generation"] == 1 and out["status"] == {}


def _refusal(reg, spec: dict, name: str = "bad", annotations: dict | None = None) -> str:
    obj = copy.deepcopy(KSVC)
    obj["metadata"]["name"] = name
    obj["spec"] = spec
    if annotations:
        obj["spec"]["template"].setdefault("metadata", {})["annotations"] = annotations
    with pytest.raises(ApiError) as e:
        reg.create(obj, "default")
    assert e.value.code == 400
    prefix = 'admission webhook "validation.webhook.serving.knative.dev" denied the request: validation failed: '
    assert str(e.value).startswith(prefix)
    assert reg.list(lookup("ksvc"), "default") == []  # nothing stored
    return str(e.value)[len(prefix) :]


def test_refusals_read_as_the_webhook_writes_them(reg):
    text = _refusal(reg, {"template": {"spec": {"containerConcurrency": 1001, "containers": [{}]}},
                          "traffic": [{"percent": 90, "latestRevision": True}]})  # fmt: skip
    assert text.splitlines() == [
        "missing field(s): spec.template.spec.containers[0].image",
        "expected 0 <= 1001 <= 1000: spec.template.spec.containerConcurrency",
        "Traffic targets sum to 90, want 100: spec.traffic",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"ports": [{"containerPort": 8012}]},
            "8012 is a reserved port: spec.template.spec.containers[0].ports[0].containerPort",
        ),
        (
            {"ports": [{"containerPort": 8080, "name": "web"}]},
            "invalid value: web: spec.template.spec.containers[0].ports[0].name",
        ),
    ],
)
def test_ports_the_queue_proxy_needs_are_reserved(reg, change, message):
    container = {"image": "x", **change}
    assert _refusal(reg, {"template": {"spec": {"containers": [container]}}}) == message


def test_traffic_targets_name_exactly_one_revision_and_tags_are_unique(reg):
    text = _refusal(reg, {"template": {"spec": {"containers": [{"image": "x"}]}},
                          "traffic": [{"percent": 50, "revisionName": "bad-1", "tag": "a"},
                                      {"percent": 50, "tag": "a"}]})  # fmt: skip
    assert text.splitlines() == [
        "expected exactly one, got neither: spec.traffic[1].latestRevision, spec.traffic[1].revisionName",
        'Multiple definitions for "a": spec.traffic',
    ]


def test_autoscaling_annotations(reg):
    text = _refusal(reg, {"template": {"spec": {"containers": [{"image": "x"}]}}},
                    annotations={"autoscaling.knative.dev/min-scale": "3", "autoscaling.knative.dev/max-scale": "2",
                                 "autoscaling.knative.dev/target": "0", "autoscaling.knative.dev/window": "2s"})  # fmt: skip
    assert text.splitlines() == [
        "min-scale=3 is greater than max-scale=2: spec.template.metadata.annotations[autoscaling.knative.dev/min-scale]",
        "invalid value: 0: spec.template.metadata.annotations[autoscaling.knative.dev/target]",
        "expected 6s <= 2s <= 1h0m0s: spec.template.metadata.annotations[autoscaling.knative.dev/window]",
    ]


def test_a_template_name_must_carry_the_service_name(reg):
    spec = {
        "template": {"metadata": {"name": "other-v2"}, "spec": {"containers": [{"image": "x"}]}}
    }
    assert (
        _refusal(reg, spec, name="hello") == 'not "hello-*": other-v2: spec.template.metadata.name'
    )
