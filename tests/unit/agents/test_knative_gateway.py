"""The Knative gateway's routing table and draw (pure parts), and the Knative kinds'
printer columns (`labkit get ksvc|revisions|routes|sks|kpa`)."""

from __future__ import annotations

import random
from collections import Counter

from lab_kit.agents.knative_gateway import pick, route_hosts
from lab_kit.api.printers import table

ROUTE = {
    "metadata": {"name": "hello", "namespace": "default"},
    "status": {
        "url": "http://hello.default.example.com",
        "traffic": [
            {"revisionName": "hello-00001", "percent": 90},
            {"revisionName": "hello-00002", "percent": 10, "tag": "candidate",
             "url": "http://candidate-hello.default.example.com"},
        ],
    },
}  # fmt: skip


def test_a_route_answers_to_its_url_its_cluster_local_names_and_its_tags():
    assert route_hosts(ROUTE) == {
        "hello.default.svc.cluster.local": None,
        "hello.default.svc": None,
        "hello.default": None,
        "hello.default.example.com": None,
        "candidate-hello.default.example.com": "candidate",
    }


def test_the_draw_follows_the_percentages_and_a_tag_is_exact():
    rng = random.Random(7)
    traffic = ROUTE["status"]["traffic"]
    counts = Counter(pick(traffic, None, rng) for _ in range(10_000))
    assert abs(counts["hello-00002"] / 10_000 - 0.10) < 0.01
    assert {pick(traffic, "candidate", rng) for _ in range(20)} == {"hello-00002"}
    assert pick([{"revisionName": "x", "percent": 0}], None, rng) is None


def test_knative_tables_have_their_crd_columns_and_no_age():
    ksvc = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "hello"},
            "status": {"url": "http://hello.default.example.com", "latestCreatedRevisionName": "hello-00001",
                       "latestReadyRevisionName": "hello-00001",
                       "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    assert table("Service.serving.knative.dev", [ksvc]) == [
        ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"],
        ["hello", "http://hello.default.example.com", "hello-00001", "hello-00001", "True", ""],
    ]
    rev = {"metadata": {"name": "hello-00001", "labels": {"serving.knative.dev/configuration": "hello",
                                                           "serving.knative.dev/configurationGeneration": "1"}},
           "status": {"actualReplicas": 0, "desiredReplicas": 0,
                      "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    assert table("Revision", [rev])[1] == ["hello-00001", "hello", "1", "True", "", "0", "0"]
    sks = {"metadata": {"name": "hello-00001"}, "spec": {"mode": "Proxy"},
           "status": {"serviceName": "hello-00001", "privateServiceName": "hello-00001-private",
                      "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    assert table("ServerlessService", [sks]) == [
        ["NAME", "MODE", "ACTIVATORS", "SERVICENAME", "PRIVATESERVICENAME", "READY", "REASON"],
        ["hello-00001", "Proxy", "1", "hello-00001", "hello-00001-private", "True", ""],
    ]
