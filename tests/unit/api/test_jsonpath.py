"""kubectl's -o jsonpath (client-go's jsonpath, missing keys allowed): the book's two
templates, and the syntax kubectl's documentation shows, with client-go's errors."""

from __future__ import annotations

import pytest

from lab_kit.api.jsonpath import ExecuteError, ParseError, execute

SVC = {
    "kind": "Service",
    "metadata": {"name": "random-generator", "labels": {"app": "random-generator"}},
    "spec": {
        "type": "LoadBalancer",
        "ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30036},
            {"name": "metrics", "port": 9090, "protocol": "TCP", "nodePort": 31000},
        ],
        "allocateLoadBalancerNodePorts": True,
    },
    "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.32", "ipMode": "VIP"}]}},
}
LIST = {"kind": "List", "items": [SVC, {**SVC, "metadata": {"name": "other"}}]}
NODE = {
    "status": {
        "addresses": [
            {"type": "InternalIP", "address": "172.18.0.2"},
            {"type": "Hostname", "address": "node1"},
        ]
    }
}


@pytest.mark.parametrize(
    "template, data, text",
    [
        ("{.spec.ports[0].nodePort}", SVC, "30036"),  # the book's walkthrough
        ("{.status.loadBalancer.ingress[0].ip}", SVC, "198.51.100.32"),
        ("{.status.loadBalancer.ingress[0].ip}", {"status": {"loadBalancer": {}}}, ""),  # pending
        ("{.spec.ports[-1].name}", SVC, "metrics"),
        ("{.spec.ports[*].nodePort}", SVC, "30036 31000"),
        ("{.spec.ports[0:1].port}", SVC, "80"),
        ("{.spec.ports[0,1].name}", SVC, "http metrics"),
        ("{.items[*].metadata.name}", LIST, "random-generator other"),
        ('{range .items[*]}{.metadata.name}{"\\n"}{end}', LIST, "random-generator\nother\n"),
        ("{range .spec.ports[*]}[{.name}:{.port}]{end}", SVC, "[http:80][metrics:9090]"),
        ("{.metadata.labels}", SVC, '{"app":"random-generator"}'),
        ("{.metadata.labels['app']}", SVC, "random-generator"),
        (
            "{.metadata.labels.app\\.kubernetes\\.io/name}",
            {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}},
            "web",
        ),  # escaped dots
        ("{.spec.allocateLoadBalancerNodePorts}", SVC, "true"),
        ('{.status.addresses[?(@.type=="InternalIP")].address}', NODE, "172.18.0.2"),
        ("{.spec.ports[?(@.port>100)].name}", SVC, "metrics"),
        ("{..nodePort}", SVC, "30036 31000"),
        ("name: {.metadata.name}!", SVC, "name: random-generator!"),
        ("{.nothing.here}", SVC, ""),
        ("metadata.name", SVC, "metadata.name"),  # no braces: plain text
    ],
)
def test_templates_print_as_kubectl_prints_them(template, data, text):
    assert execute(template, data) == text


@pytest.mark.parametrize(
    "template, error, message",
    [
        ("{.spec.ports[5].port}", ExecuteError, "array index out of bounds: index 5, length 2"),
        ("{.metadata[0]}", ExecuteError, "map[string]interface {} is not array or slice"),
        ("{.spec.ports[0}", ParseError, "unclosed array expect ]"),
        ("{.spec", ParseError, "unclosed action"),
        ("{.spec.ports[x]}", ParseError, "array index x is not a number"),
        ("{end}", ExecuteError, "not in range, nothing to end"),
    ],
)
def test_errors_in_client_gos_words(template, error, message):
    with pytest.raises(error) as e:
        execute(template, SVC)
    assert str(e.value) == message
