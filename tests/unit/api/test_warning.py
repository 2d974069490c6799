"""Warnings: kube-apiserver's Warning headers (recorder, format, parser), the Service
warnings it sends, and lab_kit's table of fields it accepts but does not implement — from
the registry through both servers and both clients to what `labkit apply` prints."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.apiclient import AsyncApiClient
from lab_kit.agents.apiserver import ApiServer
from lab_kit.api.registry import Registry
from lab_kit.api.warning import (
    NOT_IMPLEMENTED,
    parse_warning_headers,
    service_warnings,
    unimplemented_warnings,
    warning_header,
    warning_headers,
)
from lab_kit.lab import objects
from lab_kit.model.defaults import apply_defaults

REPO = Path(__file__).resolve().parents[3]
RESOURCES = (
    "spec.template.spec.containers[0].resources: not implemented by lab_kit: no cgroups: "
    "limits are not enforced and the scheduler counts no requests (they only set "
    "status.qosClass)"
)


def deployment(**pod_spec: object) -> dict:
    containers = pod_spec.pop("containers", [{"name": "c", "image": "busybox"}])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers, **pod_spec},
            },
        },
    }


def pod(**spec: object) -> dict:
    containers = spec.pop("containers", [{"name": "c", "image": "busybox"}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": containers, **spec},
    }


def service(**spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


# --- the header -----------------------------------------------------------------------------------


def test_warning_header_format_as_new_warning_header():
    assert warning_header("mytext") == '299 - "mytext"'
    assert warning_header('say "hi" \\ bye') == '299 - "say \\"hi\\" \\\\ bye"'
    assert warning_header("my\ntext") is None  # a control character: never in a header


def test_recorder_dedupes_and_keeps_order():
    """filters/warning_test.go TestAddWarning's cases."""
    assert warning_headers(["mytext1", "mytext2", "mytext1", "", "mytext3"]) == [
        '299 - "mytext1"',
        '299 - "mytext2"',
        '299 - "mytext3"',
    ]
    assert warning_headers(["my\ntext"]) == []


def test_recorder_truncation_as_kube_apiservers():
    """filters/warning_test.go TestTruncation, with its limits of 25 and 5 runes."""
    texts = ["aaaaaaaaaa", "aaaaaaaaaa", "bb", "ccc", "Iñtërnâtiô"]
    assert warning_headers(texts, 25, 5) == [
        '299 - "aaaaaaaaaa"',
        '299 - "bb"',
        '299 - "ccc"',
        '299 - "Iñtërnâtiô"',
    ]
    texts += ["e", "ffffffffff", "ffffffffff", "gggggggggg", "h"]
    assert warning_headers(texts, 25, 5) == [
        '299 - "aaaaa"',
        '299 - "bb"',
        '299 - "ccc"',
        '299 - "Iñtër"',
        '299 - "e"',
        '299 - "fffff"',
        '299 - "ggggg"',
    ]


def test_parser_reads_what_the_recorder_writes():
    headers = [warning_header(t) or "" for t in ('a "quoted" one', "b\\c")]
    assert parse_warning_headers(headers) == [(299, "-", 'a "quoted" one'), (299, "-", "b\\c")]
    combined = '299 - "one", 299 agent "two" "Sat, 25 Aug 2012 23:34:45 GMT", 199 - "three"'
    assert parse_warning_headers([combined]) == [
        (299, "-", "one"),
        (299, "agent", "two"),
        (199, "-", "three"),
    ]
    assert parse_warning_headers(["junk", "999 - x"]) == []


# --- what kube-apiserver says about Services ---------------------------------------------------------


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            {"externalIPs": ["192.000.002.050"]},
            'spec.externalIPs[0]: non-standard IP address "192.000.002.050" will be considered '
            'invalid in a future Kubernetes release: use "192.0.2.50"',
        ),
        (
            {"externalIPs": ["2001:DB8::1"]},
            'spec.externalIPs[0]: IPv6 address "2001:DB8::1" should be in RFC 5952 canonical '
            'format ("2001:db8::1")',
        ),
        (
            {"externalIPs": ["::ffff:192.0.2.5"]},
            'spec.externalIPs[0]: non-standard IP address "::ffff:192.0.2.5" will be considered '
            'invalid in a future Kubernetes release: use "192.0.2.5"',
        ),
        (
            {"type": "LoadBalancer", "loadBalancerSourceRanges": ["192.0.2.7/24"]},
            'spec.loadBalancerSourceRanges[0]: CIDR value "192.0.2.7/24" is ambiguous in this '
            'context (should be "192.0.2.0/24" or "192.0.2.7/32"?)',
        ),
        (
            {"clusterIP": "None", "sessionAffinity": "ClientIP"},
            "spec.SessionAffinity is ignored for headless services",
        ),
        (
            {"clusterIP": "None", "externalIPs": ["192.0.2.5"]},
            "spec.externalIPs is ignored for headless services",
        ),
        (
            {"type": "ExternalName", "externalName": "db.example", "externalIPs": ["192.0.2.5"]},
            'spec.externalIPs is ignored when spec.type is "ExternalName"',
        ),
        (
            {"externalName": "db.example"},
            'spec.externalName is ignored when spec.type is not "ExternalName"',
        ),
    ],
)
def test_service_warnings_as_get_warnings_for_service(spec, expected):
    assert service_warnings(apply_defaults(service(**spec))) == [expected]


def test_a_plain_service_is_warned_about_nothing():
    assert service_warnings(apply_defaults(service(clusterIP="10.96.0.5"))) == []


# --- what lab_kit does not implement ----------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, paths",
    [
        (
            deployment(
                containers=[{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}}]
            ),
            ["spec.template.spec.containers[0].resources"],
        ),
        (
            pod(
                volumes=[
                    {"name": "cfg", "configMap": {"name": "c"}},
                    {"name": "tmp", "emptyDir": {}},
                ]
            ),
            ["spec.volumes[0].configMap", "spec.volumes[1].emptyDir"],
        ),
        (
            pod(
                containers=[
                    {"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}
                ]
            ),
            ["spec.containers[0].ports[0].hostPort"],
        ),
        (
            pod(
                hostNetwork=True,
                containers=[
                    {"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}]}
                ],
            ),
            [],
        ),  # with hostNetwork the pod's port is the node's
        (
            pod(initContainers=[{"name": "i", "image": "x"}], activeDeadlineSeconds=5),
            ["spec.initContainers", "spec.activeDeadlineSeconds"],
        ),
        (
            pod(
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {"topologyKey": "kubernetes.io/hostname"}
                        ]
                    }
                },
                topologySpreadConstraints=[
                    {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
                ],
            ),
            ["spec.affinity.podAntiAffinity", "spec.topologySpreadConstraints"],
        ),
        (
            pod(
                securityContext={"runAsUser": 1000},
                containers=[
                    {
                        "name": "c",
                        "image": "x",
                        "securityContext": {
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            ),
            [
                "spec.securityContext.runAsUser",
                "spec.containers[0].securityContext.readOnlyRootFilesystem",
            ],
        ),
        (
            pod(containers=[{"name": "c", "image": "x", "readinessProbe": {"grpc": {"port": 9}}}]),
            ["spec.containers[0].readinessProbe.grpc"],
        ),
        (
            service(sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}}),
            ["spec.sessionAffinityConfig"],
        ),
        (
            service(
                sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}},
            ),
            [],
        ),
        (
            service(type="LoadBalancer", loadBalancerClass="example.com/lb"),
            [],  # another class's: left alone by the lab's cloud, as by a cluster's
        ),
        (
            pod(
                securityContext={},
                hostPID=False,
                containers=[
                    {"name": "c", "image": "x", "resources": {}, "ports": [{"containerPort": 80}]}
                ],
            ),
            [],
        ),  # empty or false: not set, as Go reads it
    ],  # fmt: skip
)
def test_fields_lab_kit_does_not_implement_are_named_where_written(obj, paths):
    assert [w.split(": ")[0] for w in unimplemented_warnings(obj)] == paths


def test_every_table_entry_says_why():
    for entry in NOT_IMPLEMENTED:
        assert entry.reason and entry.kinds and entry.path
        assert entry.message("x").startswith(f"x: {entry.verdict}: ")


def test_the_labs_manifests_are_warned_about_nothing():
    """The notebooks apply these and their outputs are checked: a warning would show."""
    api = InProcessApi()
    client = api.client()
    manifests = sorted((REPO / "labs" / "manifests").rglob("*.yml"))
    assert manifests
    for path in manifests:
        if path.name == "ingress-with-dispatch.yml":
            continue  # extensions/v1beta1, meant to be refused (no such kind): nothing to warn
        objects.documents(str(path))
        api.registry.take_warnings()
        try:
            objects.apply(client, str(path), dry_run=True)
        except Exception:  # noqa: BLE001 - a manifest meant to be refused: no warnings either
            pass
        assert client.warnings == [], path


# --- from the registry to the user ----------------------------------------------------------------


def test_the_in_process_api_sends_the_warnings_and_the_client_keeps_them():
    api = InProcessApi()
    client = api.client()
    limits = {"name": "c", "image": "x", "resources": {"limits": {"memory": "64Mi"}}}
    client.create(deployment(containers=[limits]))
    assert client.warnings == [RESOURCES]
    client.get(objects.resolve_kind("deployments"), "web", "default")
    assert client.warnings == []  # a read is warned about nothing
    answer = client.apply(
        [deployment(containers=[limits]), service(trafficDistribution="PreferClose")]
    )
    assert [r["action"] for r in answer["results"]] == ["configured", "created"]
    assert client.warnings[0] == RESOURCES and client.warnings[1].startswith(
        "spec.trafficDistribution: not implemented by lab_kit"
    )


def test_a_refused_write_sends_no_warnings():
    api = InProcessApi()
    client = api.client()
    bad = deployment(
        containers=[{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}}]
    )
    bad["spec"]["replicas"] = -1
    with pytest.raises(Exception, match="replicas"):
        client.apply([bad])
    assert client.warnings == []
    assert api.registry.take_warnings() == []


def test_labkit_apply_prints_the_warnings_on_stderr_as_kubectl_does(capsys):
    client = InProcessApi().client()
    limits = {"name": "c", "image": "x", "resources": {"requests": {"cpu": "10m"}}}
    applied = objects.apply(client, [deployment(containers=[limits])])
    assert applied.lines == ["deployment.apps/web created"]
    out, err = capsys.readouterr()
    assert out == "" and err == f"Warning: {RESOURCES}\n"


def test_the_real_api_server_sends_warning_headers():
    async def scenario() -> list[str]:
        registry = Registry(clock=lambda: 1_700_000_000.0)
        registry.bootstrap()
        server = ApiServer(registry)
        with tempfile.TemporaryDirectory(prefix="lkw-") as folder:
            path = str(Path(folder) / "api.sock")
            await server.start(path)
            client = AsyncApiClient(path)
            try:
                await client.create(pod(hostIPC=True))
                return client.warnings
            finally:
                await client.close()
                await server.stop()

    assert asyncio.run(scenario()) == [
        "spec.hostIPC: not implemented by lab_kit: the pod gets an IPC namespace of its own"
    ]
