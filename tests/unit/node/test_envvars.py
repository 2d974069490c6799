"""Container environment: service links, $(VAR) expansion, downward API, ConfigMaps/Secrets."""

from __future__ import annotations

import base64

import pytest

from lab_kit.node import envvars
from lab_kit.node.envvars import CreateContainerConfigError


def service(name, namespace="default", cluster_ip="10.96.0.20", ports=None, kind="ClusterIP"):
    spec = {
        "type": kind,
        "ports": ports if ports is not None else [{"port": 80, "protocol": "TCP"}],
    }
    if cluster_ip is not None:
        spec["clusterIP"] = cluster_ip
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


KUBERNETES = service(
    "kubernetes",
    cluster_ip="10.96.0.1",
    ports=[{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
)
KUBERNETES_VARS = {
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_PORT": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443",
    "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
}
REDIS = service("redis-primary", cluster_ip="10.0.0.11", ports=[{"port": 6379, "protocol": "TCP"}])
REDIS_VARS = {
    "REDIS_PRIMARY_SERVICE_HOST": "10.0.0.11",
    "REDIS_PRIMARY_SERVICE_PORT": "6379",
    "REDIS_PRIMARY_PORT": "tcp://10.0.0.11:6379",
    "REDIS_PRIMARY_PORT_6379_TCP": "tcp://10.0.0.11:6379",
    "REDIS_PRIMARY_PORT_6379_TCP_PROTO": "tcp",
    "REDIS_PRIMARY_PORT_6379_TCP_PORT": "6379",
    "REDIS_PRIMARY_PORT_6379_TCP_ADDR": "10.0.0.11",
}


def pod(namespace="default", links=True, containers=None, **spec_extra):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": namespace,
            "uid": "0b1c2d3e-0000-4000-8000-000000000001",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"team": "blue"},
        },
        "spec": {
            "enableServiceLinks": links,
            "nodeName": "worker",
            "serviceAccountName": "default",
            "containers": containers or [{"name": "app", "image": "nginx"}],
            **spec_extra,
        },
        "status": {
            "podIP": "10.244.1.5",
            "podIPs": [{"ip": "10.244.1.5"}],
            "hostIP": "172.18.0.3",
            "hostIPs": [{"ip": "172.18.0.3"}],
        },
    }


# --- service_env ------------------------------------------------------------------------------


def test_redis_primary_example_gives_exactly_seven_variables():
    assert envvars.service_env([REDIS], pod()) == REDIS_VARS


def test_named_ports_multiple_protocols_in_generation_order():
    svc = service(
        "my-svc",
        ports=[
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "metrics-alt", "port": 9090, "protocol": "TCP"},
            {"name": "dns", "port": 53, "protocol": "UDP"},
        ],
    )
    env = envvars.service_env([svc], pod())
    assert list(env.items()) == [
        ("MY_SVC_SERVICE_HOST", "10.96.0.20"),
        ("MY_SVC_SERVICE_PORT", "80"),
        ("MY_SVC_SERVICE_PORT_HTTP", "80"),
        ("MY_SVC_SERVICE_PORT_METRICS_ALT", "9090"),
        ("MY_SVC_SERVICE_PORT_DNS", "53"),
        ("MY_SVC_PORT", "tcp://10.96.0.20:80"),
        ("MY_SVC_PORT_80_TCP", "tcp://10.96.0.20:80"),
        ("MY_SVC_PORT_80_TCP_PROTO", "tcp"),
        ("MY_SVC_PORT_80_TCP_PORT", "80"),
        ("MY_SVC_PORT_80_TCP_ADDR", "10.96.0.20"),
        ("MY_SVC_PORT_9090_TCP", "tcp://10.96.0.20:9090"),
        ("MY_SVC_PORT_9090_TCP_PROTO", "tcp"),
        ("MY_SVC_PORT_9090_TCP_PORT", "9090"),
        ("MY_SVC_PORT_9090_TCP_ADDR", "10.96.0.20"),
        ("MY_SVC_PORT_53_UDP", "udp://10.96.0.20:53"),
        ("MY_SVC_PORT_53_UDP_PROTO", "udp"),
        ("MY_SVC_PORT_53_UDP_PORT", "53"),
        ("MY_SVC_PORT_53_UDP_ADDR", "10.96.0.20"),
    ]


def test_ipv6_cluster_ip_is_bracketed_in_urls_only():
    svc = service("v6", cluster_ip="fd00:10:96::a", ports=[{"port": 80, "protocol": "TCP"}])
    env = envvars.service_env([svc], pod())
    assert env["V6_PORT"] == "tcp://[fd00:10:96::a]:80"
    assert env["V6_SERVICE_HOST"] == env["V6_PORT_80_TCP_ADDR"] == "fd00:10:96::a"


WHICH_SERVICES = [
    ("headless is excluded", [service("db", cluster_ip="None")], "default", True, set()),
    (
        "ExternalName (no clusterIP) is excluded",
        [service("ext", cluster_ip=None, kind="ExternalName")],
        "default",
        True,
        set(),
    ),
    ("empty clusterIP is excluded", [service("x", cluster_ip="")], "default", True, set()),
    (
        "NodePort is included",
        [service("np", kind="NodePort")],
        "default",
        True,
        {"NP_SERVICE_HOST"},
    ),
    ("other namespaces are excluded", [service("api", namespace="prod")], "dev", True, set()),
    (
        "own namespace is included",
        [service("api", namespace="dev")],
        "dev",
        True,
        {"API_SERVICE_HOST"},
    ),
    ("links off: own namespace excluded", [service("api", namespace="dev")], "dev", False, set()),
    (
        "links off: default/kubernetes still there",
        [KUBERNETES, service("api", namespace="dev")],
        "dev",
        False,
        {"KUBERNETES_SERVICE_HOST"},
    ),
    (
        "links off in default: only kubernetes",
        [KUBERNETES, REDIS],
        "default",
        False,
        {"KUBERNETES_SERVICE_HOST"},
    ),
    (
        "kubernetes from default is linked into every namespace",
        [KUBERNETES, REDIS],
        "dev",
        True,
        {"KUBERNETES_SERVICE_HOST"},
    ),
]


@pytest.mark.parametrize(
    "services,namespace,links,hosts",
    [c[1:] for c in WHICH_SERVICES],
    ids=[c[0] for c in WHICH_SERVICES],
)
def test_which_services_are_linked(services, namespace, links, hosts):
    env = envvars.service_env(services, pod(namespace=namespace, links=links))
    assert {k for k in env if k.endswith("_SERVICE_HOST")} == hosts


def test_links_off_keeps_exactly_the_kubernetes_variables():
    env = envvars.service_env([KUBERNETES, REDIS], pod(links=False))
    assert env == KUBERNETES_VARS


@pytest.mark.parametrize("order", ["default first", "own first"])
def test_same_namespace_kubernetes_service_takes_precedence(order):
    own = service("kubernetes", namespace="dev", cluster_ip="10.96.5.5")
    services = [KUBERNETES, own] if order == "default first" else [own, KUBERNETES]
    env = envvars.service_env(services, pod(namespace="dev"))
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.5.5"
    assert "KUBERNETES_SERVICE_PORT_HTTPS" not in env


# --- $(VAR) expansion -------------------------------------------------------------------------

EXPANSIONS = [
    ("plain text", "hello", "hello"),
    ("one reference", "$(A)", "1"),
    ("two references", "$(A)-$(B)", "1-2"),
    ("unresolved stays literal", "x$(MISSING)y", "x$(MISSING)y"),
    ("$$ escapes a reference", "$$(A)", "$(A)"),
    ("$$ alone is one $", "cost: $$5", "cost: $5"),
    ("escaped then expanded", "$$$(A)", "$1"),
    ("$ not followed by ( is kept", "a$b", "a$b"),
    ("trailing $ is kept", "a$", "a$"),
    ("unclosed reference is kept", "$(A", "$(A"),
    ("empty reference", "$()", "$()"),
    ("first context wins", "$(SHARED)", "declared"),
    ("falls back to the second context", "$(ONLY_SERVICE)", "svc"),
]


@pytest.mark.parametrize(
    "text,expected", [c[1:] for c in EXPANSIONS], ids=[c[0] for c in EXPANSIONS]
)
def test_expand(text, expected):
    declared = {"A": "1", "B": "2", "SHARED": "declared"}
    service_vars = {"SHARED": "service", "ONLY_SERVICE": "svc"}
    assert envvars.expand(text, declared, service_vars) == expected


# --- container_env --------------------------------------------------------------------------


def env_of(env, services=(REDIS,), config_maps=None, secrets=None, env_from=None, **pod_kw):
    container = {"name": "app", "image": "nginx", "env": env}
    if env_from is not None:
        container["envFrom"] = env_from
    p = pod(containers=[container], **pod_kw)
    service_vars = envvars.service_env(list(services), p)
    return envvars.container_env(container, p, service_vars, config_maps or {}, secrets or {})


def test_service_variables_path_and_hostname_without_user_env():
    assert env_of([]) == {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME": "web-0",
        **REDIS_VARS,
    }


def test_user_env_wins_over_service_variables_and_path():
    env = env_of(
        [
            {"name": "REDIS_PRIMARY_SERVICE_HOST", "value": "redis.example"},
            {"name": "PATH", "value": "/opt/bin"},
            {"name": "HOSTNAME", "value": "custom"},
        ]
    )
    assert env["REDIS_PRIMARY_SERVICE_HOST"] == "redis.example"
    assert env["PATH"] == "/opt/bin"
    assert env["HOSTNAME"] == "custom"
    assert env["REDIS_PRIMARY_SERVICE_PORT"] == "6379"


USER_VALUES = [
    (
        "service variables can be referenced",
        [
            {
                "name": "URL",
                "value": "redis://$(REDIS_PRIMARY_SERVICE_HOST):$(REDIS_PRIMARY_SERVICE_PORT)",
            }
        ],
        "URL",
        "redis://10.0.0.11:6379",
    ),
    (
        "earlier variables can be referenced",
        [{"name": "A", "value": "x"}, {"name": "B", "value": "$(A)y"}],
        "B",
        "xy",
    ),
    (
        "later variables cannot",
        [{"name": "B", "value": "$(A)y"}, {"name": "A", "value": "x"}],
        "B",
        "$(A)y",
    ),
    (
        "a user override is what later references see",
        [
            {"name": "REDIS_PRIMARY_SERVICE_HOST", "value": "r"},
            {"name": "B", "value": "$(REDIS_PRIMARY_SERVICE_HOST)"},
        ],
        "B",
        "r",
    ),
    ("escaped reference", [{"name": "B", "value": "$$(HOME)"}], "B", "$(HOME)"),
    ("value-less variable is empty", [{"name": "EMPTY"}], "EMPTY", ""),
    (
        "runtime variables are not visible to expansion",
        [{"name": "P", "value": "$(PATH)"}],
        "P",
        "$(PATH)",
    ),
]


@pytest.mark.parametrize(
    "env,name,expected", [c[1:] for c in USER_VALUES], ids=[c[0] for c in USER_VALUES]
)
def test_user_values(env, name, expected):
    assert env_of(env)[name] == expected


FIELD_REFS = [
    ("metadata.name", "web-0"),
    ("metadata.namespace", "default"),
    ("metadata.uid", "0b1c2d3e-0000-4000-8000-000000000001"),
    ("metadata.labels['app']", "web"),
    ("metadata.labels['missing']", ""),
    ("metadata.annotations['team']", "blue"),
    ("spec.nodeName", "worker"),
    ("spec.serviceAccountName", "default"),
    ("status.podIP", "10.244.1.5"),
    ("status.podIPs", "10.244.1.5"),
    ("status.hostIP", "172.18.0.3"),
    ("status.hostIPs", "172.18.0.3"),
]


@pytest.mark.parametrize("path,expected", FIELD_REFS, ids=[c[0] for c in FIELD_REFS])
def test_field_refs(path, expected):
    var = {"name": "V", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}
    assert env_of([var])["V"] == expected


def test_pod_ips_are_comma_joined():
    p = pod()
    p["status"]["podIPs"] = [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}]
    ref = {"fieldPath": "status.podIPs"}
    assert envvars.field_ref_value(ref, p) == "10.244.1.5,fd00::5"


@pytest.mark.parametrize(
    "path,message",
    [
        ("spec.restartPolicy", "unsupported fieldPath: spec.restartPolicy"),
        ("spec.containers", "field label not supported: spec.containers"),
        ("metadata.name['x']", "field label does not support subscript: metadata.name['x']"),
    ],
)
def test_unsupported_field_refs(path, message):
    with pytest.raises(CreateContainerConfigError) as err:
        envvars.field_ref_value({"fieldPath": path}, pod())
    assert str(err.value) == message


CM = {("default", "app-config"): {"kind": "ConfigMap", "data": {"LEVEL": "debug", "MODE": "fast"}}}
SECRETS = {
    ("default", "creds"): {
        "kind": "Secret",
        "data": {"password": base64.b64encode(b"s3cr3t").decode(), "user": "YWRtaW4="},
    }
}


def test_config_map_and_secret_key_refs():
    env = env_of(
        [
            {
                "name": "LOG",
                "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "LEVEL"}},
            },
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        ],
        config_maps=CM,
        secrets=SECRETS,
    )
    assert (env["LOG"], env["PW"]) == ("debug", "s3cr3t")


def test_env_from_with_prefix_and_env_overriding_it():
    env = env_of(
        [{"name": "CFG_MODE", "value": "slow"}],
        env_from=[
            {"configMapRef": {"name": "app-config"}, "prefix": "CFG_"},
            {"secretRef": {"name": "creds"}},
        ],
        config_maps=CM,
        secrets=SECRETS,
    )
    assert {k: env[k] for k in ("CFG_LEVEL", "CFG_MODE", "user", "password")} == {
        "CFG_LEVEL": "debug",
        "CFG_MODE": "slow",
        "user": "admin",
        "password": "s3cr3t",
    }


def test_env_from_values_can_be_referenced():
    env = env_of(
        [{"name": "L", "value": "level=$(LEVEL)"}],
        env_from=[{"configMapRef": {"name": "app-config"}}],
        config_maps=CM,
    )
    assert env["L"] == "level=debug"


CONFIG_ERRORS = [
    (
        "missing ConfigMap key",
        {"configMapKeyRef": {"name": "app-config", "key": "X"}},
        "couldn't find key X in ConfigMap default/app-config",
    ),
    (
        "missing ConfigMap",
        {"configMapKeyRef": {"name": "y", "key": "X"}},
        'configmap "y" not found',
    ),
    (
        "missing Secret key",
        {"secretKeyRef": {"name": "creds", "key": "token"}},
        "couldn't find key token in Secret default/creds",
    ),
    ("missing Secret", {"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
]


@pytest.mark.parametrize(
    "source,message", [c[1:] for c in CONFIG_ERRORS], ids=[c[0] for c in CONFIG_ERRORS]
)
def test_missing_sources_are_create_container_config_errors(source, message):
    with pytest.raises(CreateContainerConfigError) as err:
        env_of([{"name": "V", "valueFrom": source}], config_maps=CM, secrets=SECRETS)
    assert str(err.value) == message
    assert err.value.reason == "CreateContainerConfigError"


def test_missing_env_from_source_is_an_error_unless_optional():
    with pytest.raises(CreateContainerConfigError, match='^configmap "gone" not found$'):
        env_of([], env_from=[{"configMapRef": {"name": "gone"}}])
    env = env_of([], env_from=[{"configMapRef": {"name": "gone", "optional": True}}])
    assert "LEVEL" not in env


@pytest.mark.parametrize(
    "source",
    [
        {"configMapKeyRef": {"name": "app-config", "key": "X", "optional": True}},
        {"configMapKeyRef": {"name": "nope", "key": "X", "optional": True}},
        {"secretKeyRef": {"name": "creds", "key": "X", "optional": True}},
    ],
)
def test_optional_missing_sources_leave_the_variable_unset(source):
    env = env_of(
        [{"name": "REDIS_PRIMARY_PORT", "valueFrom": source}], config_maps=CM, secrets=SECRETS
    )
    assert env["REDIS_PRIMARY_PORT"] == "tcp://10.0.0.11:6379"  # the service variable stays


def test_hostname_is_the_fqdn_with_set_hostname_as_fqdn():
    env = env_of([], hostname="web-0", subdomain="nginx", setHostnameAsFQDN=True)
    assert env["HOSTNAME"] == "web-0.nginx.default.svc.cluster.local"


def test_expand_command_uses_kubelet_variables():
    container = {"command": ["sh", "-c"], "args": ["echo $(GREETING) $(PATH) $$(X)"]}
    expanded = envvars.expand_command(container, {"GREETING": "hi"})
    assert expanded["command"] == ["sh", "-c"]
    assert expanded["args"] == ["echo hi $(PATH) $(X)"]
    assert container["args"] == ["echo $(GREETING) $(PATH) $$(X)"]  # the spec is left as it was
    assert "command" not in envvars.expand_command({"args": ["$(A)"]}, {"A": "a"})
