"""validate: the API's field errors, worded and placed exactly as Kubernetes does."""

import copy

import pytest
import yaml
from book_files import BOOK, BOOK_FILES

from lab_kit.model.defaults import apply_defaults
from lab_kit.model.errors import err_invalid
from lab_kit.model.schema import check_schema
from lab_kit.model.validation import validate

DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_KEY = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
PORT_RANGE = "must be between 1 and 65535, inclusive"
BAD_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
LOOPBACK = "may not be in the loopback range (127.0.0.0/8, ::1/128)"
LINK_LOCAL = "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
MULTICAST = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
POD_UPDATE = (
    "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
    "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
    "was previously negative)"
)


def errors(obj, old=None):
    """The messages for `obj` after defaulting, as the API server would validate it."""
    return [str(e) for e in validate(apply_defaults(obj), apply_defaults(old) if old else None)]


def meta(name, namespace="default"):
    md = {"name": name}
    if namespace:
        md["namespace"] = namespace
    return md


def svc(name="web", **spec):
    spec = {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name), "spec": spec}


def pod(containers=None, **spec):
    containers = containers if containers is not None else [{"name": "web", "image": "nginx"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("p"),
        "spec": {"containers": containers, **spec},
    }


def ctr(**fields):
    return {"name": "web", "image": "nginx", **fields}


def deploy(selector=None, labels=None, containers=None, **spec):
    selector = {"matchLabels": {"app": "x"}} if selector is None else selector
    template = {
        "metadata": {"labels": {"app": "x"} if labels is None else labels},
        "spec": {"containers": containers if containers is not None else [ctr()]},
    }
    spec = {"selector": selector, "template": template, **spec}
    if selector == "omit":
        del spec["selector"]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("d"), "spec": spec}


def ingress(**spec):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta("i"),
        "spec": spec,
    }


def backend(**service):
    return {"service": {"name": "web", "port": {"number": 80}, **service}}


def rule_path(**path):
    return {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend(), **path}]}}


def endpoints(*subsets):
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta("web"),
        "subsets": list(subsets),
    }


def eslice(address_type="IPv4", endpoints_=None, ports=None):
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta("web-abcde"),
        "addressType": address_type,
        "endpoints": endpoints_ if endpoints_ is not None else [{"addresses": ["10.244.1.5"]}],
        "ports": ports if ports is not None else [{"port": 8080}],
    }


# --- valid objects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        svc(),
        svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
        svc(
            type="LoadBalancer",
            loadBalancerSourceRanges=["10.0.0.0/8"],
            externalTrafficPolicy="Local",
        ),
        svc(clusterIP="None", ports=[]),
        {
            **svc(clusterIP="None"),
            "spec": {"clusterIP": "None", "ports": [{"port": 5432}]},
        },  # dual-stack families
        svc(
            clusterIP="10.96.0.10",
            ports=[{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53}],
        ),
        svc(type="ExternalName", externalName="db.example.com.", ports=[]),
        svc(
            sessionAffinity="ClientIP",
            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86400}},
        ),
        svc(ports=[{"port": 80, "targetPort": "http"}], externalIPs=["192.0.2.10"]),
        pod(
            [
                ctr(
                    ports=[{"name": "http", "containerPort": 80}],
                    readinessProbe={"httpGet": {"port": "http"}},
                )
            ]
        ),
        pod(
            dnsPolicy="None",
            dnsConfig={"nameservers": ["10.96.0.10"], "searches": ["svc.cluster.local."]},
        ),
        deploy(),
        deploy(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]}),
        ingress(
            rules=[{"host": "*.example.com", **rule_path()}],
            tls=[{"hosts": ["a.example.com"], "secretName": "tls"}],
        ),
        endpoints(
            {"addresses": [{"ip": "10.244.1.5", "nodeName": "node-1"}], "ports": [{"port": 8080}]}
        ),
        eslice(),
        eslice("FQDN", [{"addresses": ["db.example.com"]}]),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}},
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1.lab"},
            "spec": {"podCIDRs": ["10.244.1.0/24"]},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("c"),
            "data": {"app.conf": "x", "KEY_1": "y"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("s"),
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "nginx"},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        },
    ],
    ids=lambda o: o["kind"],
)
def test_valid_objects_have_no_errors(obj):
    assert errors(obj) == []


@pytest.mark.parametrize("name", BOOK_FILES)
def test_the_books_manifests_pass_schema_and_validation(name):
    for doc in yaml.safe_load_all((BOOK / name).read_text()):
        assert check_schema(doc) == []
        doc["metadata"]["namespace"] = "default"  # what the registry fills in
        assert errors(doc) == []


# --- metadata -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, message",
    [
        (svc("Web"), f'metadata.name: Invalid value: "Web": {DNS1035}'),
        (svc("1web"), f'metadata.name: Invalid value: "1web": {DNS1035}'),
        (
            svc("a" * 64),
            f'metadata.name: Invalid value: "{"a" * 64}": must be no more than 63 characters',
        ),
        (svc(""), "metadata.name: Required value: name or generateName is required"),
        (
            {**pod(), "metadata": meta("My_Pod")},
            f'metadata.name: Invalid value: "My_Pod": {DNS1123_SUBDOMAIN}',
        ),
        (
            {**pod(), "metadata": meta("p", "Lab")},
            f'metadata.namespace: Invalid value: "Lab": {DNS1123_LABEL}',
        ),
        ({**pod(), "metadata": meta("p", "")}, "metadata.namespace: Required value"),
        (
            {**svc(), "metadata": {**meta("web"), "labels": {"bad key": "x"}}},
            f'metadata.labels: Invalid value: "bad key": {LABEL_KEY}',
        ),
        (
            {**svc(), "metadata": {**meta("web"), "labels": {"app": "spaces here"}}},
            f'metadata.labels: Invalid value: "spaces here": {LABEL_VALUE}',
        ),
        (
            {**svc(), "metadata": {**meta("web"), "labels": {"Example.com/app": "x"}}},
            f'metadata.labels: Invalid value: "Example.com/app": prefix part {DNS1123_SUBDOMAIN}',
        ),
        (
            {**svc(), "metadata": {**meta("web"), "generateName": "Web-"}},
            f'metadata.generateName: Invalid value: "Web-": {DNS1035}',
        ),
        (
            {**svc(), "metadata": {**meta("web"), "annotations": {"a/b/c": "x"}}},
            'metadata.annotations: Invalid value: "a/b/c": a valid label key must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',"
            "  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}},
            'metadata.name: Invalid value: "a.b": must not contain dots',
        ),
        (
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "Node_1"}},
            f'metadata.name: Invalid value: "Node_1": {DNS1123_SUBDOMAIN}',
        ),
    ],
)
def test_metadata(obj, message):
    assert message in errors(obj)


def test_cluster_scoped_objects_may_not_have_a_namespace():
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "lab", "namespace": "default"},
    }
    assert [str(e) for e in validate(ns)] == [
        "metadata.namespace: Forbidden: not allowed on this type"
    ]


def test_name_and_namespace_are_immutable_on_update():
    old = svc("web")
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "web2"
    assert 'metadata.name: Invalid value: "web2": field is immutable' in errors(new, old)


# --- Service ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, message",
    [
        (svc(ports=[]), "spec.ports: Required value"),
        (
            svc(ports=[{"name": "http", "port": 80}, {"port": 443}]),
            "spec.ports[1].name: Required value",
        ),
        (
            svc(ports=[{"name": "HTTP", "port": 80}]),
            f'spec.ports[0].name: Invalid value: "HTTP": {DNS1123_LABEL}',
        ),
        (
            svc(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}]),
            'spec.ports[1].name: Duplicate value: "http"',
        ),
        (
            svc(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80}]),
            'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
            'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
        ),
        (
            svc(ports=[{"port": 0, "targetPort": 80}]),
            f"spec.ports[0].port: Invalid value: 0: {PORT_RANGE}",
        ),
        (svc(ports=[{"port": 65536}]), f"spec.ports[0].port: Invalid value: 65536: {PORT_RANGE}"),
        (
            svc(ports=[{"port": 80, "targetPort": 70000}]),
            f"spec.ports[0].targetPort: Invalid value: 70000: {PORT_RANGE}",
        ),
        (
            svc(ports=[{"port": 80, "targetPort": "web_port"}]),
            'spec.ports[0].targetPort: Invalid value: "web_port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        ),
        (
            svc(ports=[{"port": 80, "targetPort": "a-very-long-port-name"}]),
            'spec.ports[0].targetPort: Invalid value: "a-very-long-port-name": must be no more than 15 characters',
        ),
        (
            svc(ports=[{"port": 80, "targetPort": "8080"}]),
            'spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)',
        ),
        (
            svc(ports=[{"port": 80, "targetPort": "my--port"}]),
            'spec.ports[0].targetPort: Invalid value: "my--port": must not contain consecutive hyphens',
        ),
        (
            svc(ports=[{"port": 80, "targetPort": "-http"}]),
            'spec.ports[0].targetPort: Invalid value: "-http": must not begin or end with a hyphen',
        ),
        (
            svc(ports=[{"port": 80, "protocol": "tcp"}]),
            'spec.ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
        ),
        (
            svc(type="Foo"),
            'spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
        ),
        (
            svc(ports=[{"port": 80, "nodePort": 30080}]),
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        ),
        (
            svc(
                type="NodePort",
                ports=[
                    {"name": "a", "port": 80, "nodePort": 30080},
                    {"name": "b", "port": 81, "nodePort": 30080},
                ],
            ),
            "spec.ports[1].nodePort: Duplicate value: 30080",
        ),
        (
            svc(type="LoadBalancer", clusterIP="None"),
            "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services",
        ),
        (
            svc(type="NodePort", clusterIP="None"),
            "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services",
        ),
        (
            svc(clusterIP="10.96.0.300"),
            f'spec.clusterIPs[0]: Invalid value: "10.96.0.300": {BAD_IP}',
        ),
        (svc(clusterIP="banana"), f'spec.clusterIPs[0]: Invalid value: "banana": {BAD_IP}'),
        (
            svc(clusterIP="10.96.0.5", clusterIPs=["10.96.0.6"]),
            'spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: first value must match `clusterIP`',
        ),
        (
            svc(clusterIP="fd00::5", ipFamilies=["IPv4"]),
            'spec.clusterIPs[0]: Invalid value: "fd00::5": expected an IPv4 value as indicated by `ipFamilies[0]`',
        ),
        (
            svc(ipFamilyPolicy="DualStack"),
            'spec.ipFamilyPolicy: Unsupported value: "DualStack": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
        ),
        (svc(type="ExternalName", ports=[]), "spec.externalName: Required value"),
        (
            svc(type="ExternalName", externalName="Bad_Name.example.com"),
            f'spec.externalName: Invalid value: "Bad_Name.example.com": {DNS1123_SUBDOMAIN}',
        ),
        (
            svc(type="ExternalName", externalName="db.example.com", clusterIP="10.96.0.5"),
            "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
        ),
        (
            svc(sessionAffinity="Sticky"),
            'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"',
        ),
        (
            svc(
                sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 0}},
            ),
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400",
        ),
        (
            svc(
                sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86401}},
            ),
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400",
        ),
        (
            svc(externalIPs=["not-an-ip"]),
            f'spec.externalIPs[0]: Invalid value: "not-an-ip": {BAD_IP}',
        ),
        (
            svc(externalIPs=["127.0.0.1"]),
            f'spec.externalIPs[0]: Invalid value: "127.0.0.1": {LOOPBACK}',
        ),
        (
            svc(loadBalancerSourceRanges=["10.0.0.0/8"]),
            "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
        ),
        (
            svc(type="LoadBalancer", loadBalancerSourceRanges=["10.0.0.0/33"]),
            'spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
        ),
        (
            svc(internalTrafficPolicy="Node"),
            'spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"',
        ),
        (
            svc(type="NodePort", externalTrafficPolicy="Global"),
            'spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local"',
        ),
        (
            svc(externalTrafficPolicy="Local"),
            'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
        ),
        (
            svc(type="NodePort", healthCheckNodePort=30001),
            "spec.healthCheckNodePort: Invalid value: 30001: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
        (
            svc(allocateLoadBalancerNodePorts=True),
            "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'",
        ),
        (
            {**svc(), "spec": {**svc()["spec"], "selector": {"app": "a b"}}},
            f'spec.selector: Invalid value: "a b": {LABEL_VALUE}',
        ),
    ],
)
def test_service(obj, message):
    assert message in errors(obj)


def test_a_service_error_comes_alone_when_nothing_else_is_wrong():
    assert errors(svc(ports=[{"port": 0, "targetPort": 80}])) == [
        f"spec.ports[0].port: Invalid value: 0: {PORT_RANGE}"
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"clusterIP": "None", "ports": []},
        {"type": "ExternalName", "externalName": "a.example", "ports": []},
    ],
)
def test_ports_are_optional_for_headless_and_external_name(spec):
    assert "spec.ports: Required value" not in errors(svc(**spec))


def test_session_affinity_config_is_forbidden_with_none():
    # Defaulting drops it, so only an object that skipped defaults can carry it.
    obj = apply_defaults(svc())
    obj["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10}}
    assert [str(e) for e in validate(obj)] == [
        "spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None"
    ]


@pytest.mark.parametrize(
    "ip, message",
    [
        ("0.0.0.0", "may not be unspecified (0.0.0.0)"),
        ("::", "may not be unspecified (::)"),
        ("127.0.0.1", LOOPBACK),
        ("127.10.0.1", LOOPBACK),
        ("::1", LOOPBACK),
        ("169.254.169.254", LINK_LOCAL),
        ("fe80::1", LINK_LOCAL),
        ("224.0.0.18", MULTICAST),
        ("ff02::2", MULTICAST),
        ("::ffff:127.0.0.1", LOOPBACK),
    ],
)
def test_special_ips_are_rejected_everywhere_they_are_an_endpoint(ip, message):
    assert f'spec.externalIPs[0]: Invalid value: "{ip}": {message}' in errors(svc(externalIPs=[ip]))
    ep = endpoints({"addresses": [{"ip": ip}]})
    assert f'subsets[0].addresses[0].ip: Invalid value: "{ip}": {message}' in errors(ep)
    family = "IPv6" if ":" in ip else "IPv4"
    assert f'endpoints[0].addresses[0]: Invalid value: "{ip}": {message}' in errors(
        eslice(family, [{"addresses": [ip]}])
    )


@pytest.mark.parametrize("ip", ["10.244.1.5", "192.0.2.1", "224.0.1.1", "172.18.0.2", "010.0.0.1"])
def test_ordinary_ips_are_fine(ip):
    assert errors(endpoints({"addresses": [{"ip": ip}]})) == []


# --- Service updates --------------------------------------------------------------------------


def stored(obj, **spec):
    """An object as the registry stored it (defaulted, allocated)."""
    out = apply_defaults(obj)
    out["spec"].update(spec)
    return out


def test_cluster_ip_may_not_change_on_update():
    old = stored(svc(clusterIP="10.96.0.5"))
    assert errors(svc(clusterIP="10.96.0.6"), old) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}: may not change once set'
    ]


def test_cluster_ip_may_be_kept_or_dropped_by_a_change_to_external_name():
    old = stored(svc(clusterIP="10.96.0.5"))
    assert errors(svc(clusterIP="10.96.0.5"), old) == []
    assert errors(svc(type="ExternalName", externalName="db.example.com", ports=[]), old) == []
    back = stored(svc(type="ExternalName", externalName="db.example.com"))
    assert errors(svc(clusterIP="10.96.0.7"), back) == []


def test_primary_cluster_ip_may_not_be_unset():
    old = stored(svc(clusterIP="10.96.0.5"))
    assert errors(svc(), old) == [
        "spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset"
    ]


# --- Endpoints and EndpointSlice ---------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, expected",
    [
        (
            endpoints({"addresses": [{"ip": "banana"}]}),
            [
                f'subsets[0].addresses[0].ip: Invalid value: "banana": {BAD_IP}',
                'subsets[0].addresses[0].ip: Invalid value: "banana": must be a valid IP address',
            ],
        ),
        (
            endpoints({"ports": [{"port": 80}]}),
            ["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"],
        ),
        (
            endpoints({"notReadyAddresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 0}]}),
            [f"subsets[0].ports[0].port: Invalid value: 0: {PORT_RANGE}"],
        ),
        (
            endpoints(
                {"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 80, "protocol": "ICMP"}]}
            ),
            [
                'subsets[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'
            ],
        ),
        (
            endpoints(
                {
                    "addresses": [{"ip": "10.244.1.5"}],
                    "ports": [{"port": 80}, {"name": "b", "port": 81}],
                }
            ),
            ["subsets[0].ports[0].name: Required value"],
        ),
        (
            endpoints({"addresses": [{"ip": "10.244.1.5", "hostname": "Web"}]}),
            [f'subsets[0].addresses[0].hostname: Invalid value: "Web": {DNS1123_LABEL}'],
        ),
    ],
)
def test_endpoints(obj, expected):
    assert errors(obj) == expected


@pytest.mark.parametrize(
    "obj, expected",
    [
        (
            eslice("IP"),
            ['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"'],
        ),
        (eslice(""), ["addressType: Required value"]),
        (
            eslice("IPv4", [{"addresses": ["fd00::1"]}]),
            ['endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address'],
        ),
        (
            eslice("IPv6", [{"addresses": ["10.0.0.1"]}]),
            ['endpoints[0].addresses[0]: Invalid value: "10.0.0.1": must be a valid IPv6 address'],
        ),
        (
            eslice("IPv4", [{"addresses": []}]),
            ["endpoints[0].addresses: Required value: must contain at least 1 address"],
        ),
        (
            eslice("IPv4", [{"addresses": ["10.244.1.5"]}] * 1001),
            ["endpoints: Too many: 1001: must have at most 1000 items"],
        ),
        (
            eslice("FQDN", [{"addresses": ["localhost"]}]),
            [
                'endpoints[0].addresses[0]: Invalid value: "localhost": should be a domain with at least two segments separated by dots'
            ],
        ),
        (
            eslice(ports=[{"port": 80, "protocol": "HTTP"}]),
            [
                'ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'
            ],
        ),
        (eslice(ports=[{"port": 80}, {"port": 81}]), ['ports[1].name: Duplicate value: ""']),
        (
            eslice(ports=[{"name": "HTTP", "port": 80}]),
            [f'ports[0].name: Invalid value: "HTTP": {DNS1123_LABEL}'],
        ),
    ],
)
def test_endpoint_slice(obj, expected):
    assert errors(obj) == expected


def test_endpoint_slice_may_hold_a_thousand_endpoints():
    assert errors(eslice("IPv4", [{"addresses": ["10.244.1.5"]}] * 1000)) == []


def test_endpoint_slice_address_type_is_immutable():
    old = eslice("IPv4")
    assert 'addressType: Invalid value: "IPv6": field is immutable' in errors(
        eslice("IPv6", [{"addresses": ["fd00::5"]}]), old
    )


# --- Pod ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, message",
    [
        (pod([]), "spec.containers: Required value"),
        (pod([ctr(name="")]), "spec.containers[0].name: Required value"),
        (pod([ctr(name="Web")]), f'spec.containers[0].name: Invalid value: "Web": {DNS1123_LABEL}'),
        (pod([ctr(), ctr()]), 'spec.containers[1].name: Duplicate value: "web"'),
        (pod([ctr(name=""), ctr(name="")]), 'spec.containers[1].name: Duplicate value: ""'),
        (pod([ctr(image="")]), "spec.containers[0].image: Required value"),
        (
            pod([ctr(image=" nginx")]),
            'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace',
        ),
        (
            pod([ctr(ports=[{"name": "http"}])]),
            "spec.containers[0].ports[0].containerPort: Required value",
        ),
        (
            pod([ctr(ports=[{"containerPort": 70000}])]),
            f"spec.containers[0].ports[0].containerPort: Invalid value: 70000: {PORT_RANGE}",
        ),
        (
            pod([ctr(ports=[{"containerPort": 80, "hostPort": -1}])]),
            f"spec.containers[0].ports[0].hostPort: Invalid value: -1: {PORT_RANGE}",
        ),
        (
            pod([ctr(ports=[{"name": "HTTP", "containerPort": 80}])]),
            'spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        ),
        (
            pod(
                [
                    ctr(
                        ports=[
                            {"name": "http", "containerPort": 80},
                            {"name": "http", "containerPort": 81},
                        ]
                    )
                ]
            ),
            'spec.containers[0].ports[1].name: Duplicate value: "http"',
        ),
        (
            pod([ctr(ports=[{"containerPort": 80, "protocol": "HTTP"}])]),
            'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        ),
        (
            pod([ctr(imagePullPolicy="Sometimes")]),
            'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
        ),
        (
            pod(restartPolicy="Sometimes"),
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        ),
        (
            pod(dnsPolicy="ClusterOnly"),
            'spec.dnsPolicy: Unsupported value: "ClusterOnly": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
        ),
        (
            pod(dnsPolicy="None"),
            "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
        ),
        (
            pod(dnsPolicy="None", dnsConfig={"searches": ["svc.cluster.local"]}),
            "spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None",
        ),
        (
            pod(dnsConfig={"nameservers": ["10.96.0.300"]}),
            f'spec.dnsConfig.nameservers[0]: Invalid value: "10.96.0.300": {BAD_IP}',
        ),
        (pod(hostname="Web"), f'spec.hostname: Invalid value: "Web": {DNS1123_LABEL}'),
        (pod(subdomain="my.svc"), 'spec.subdomain: Invalid value: "my.svc": must not contain dots'),
        (
            pod([ctr(volumeMounts=[{"name": "data", "mountPath": "/data"}])]),
            'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        ),
        (
            pod(hostNetwork=True, containers=[ctr(ports=[{"containerPort": 80, "hostPort": 81}])]),
            "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true",
        ),
    ],
)
def test_pod(obj, message):
    assert message in errors(obj)


PROBE = "spec.containers[0]"


@pytest.mark.parametrize(
    "container, message",
    [
        (
            ctr(livenessProbe={"httpGet": {"port": 80}, "tcpSocket": {"port": 80}}),
            f"{PROBE}.livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
        ),
        (
            ctr(readinessProbe={"periodSeconds": 5}),
            f"{PROBE}.readinessProbe: Required value: must specify a handler type",
        ),
        (
            ctr(livenessProbe={"tcpSocket": {"port": 80}, "successThreshold": 2}),
            f"{PROBE}.livenessProbe.successThreshold: Invalid value: 2: must be 1",
        ),
        (
            ctr(startupProbe={"tcpSocket": {"port": 80}, "successThreshold": 3}),
            f"{PROBE}.startupProbe.successThreshold: Invalid value: 3: must be 1",
        ),
        (
            ctr(readinessProbe={"tcpSocket": {"port": 80}, "failureThreshold": -1}),
            f"{PROBE}.readinessProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            ctr(readinessProbe={"tcpSocket": {"port": 80}, "initialDelaySeconds": -5}),
            f"{PROBE}.readinessProbe.initialDelaySeconds: Invalid value: -5: must be greater than or equal to 0",
        ),
        (
            ctr(readinessProbe={"httpGet": {}}),
            f"{PROBE}.readinessProbe.httpGet.port: Invalid value: 0: {PORT_RANGE}",
        ),
        (
            ctr(readinessProbe={"httpGet": {"port": 80, "scheme": "FTP"}}),
            f'{PROBE}.readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"',
        ),
        (
            ctr(readinessProbe={"tcpSocket": {"port": "HTTP"}}),
            f'{PROBE}.readinessProbe.tcpSocket.port: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        ),
        (
            ctr(livenessProbe={"exec": {"command": []}}),
            f"{PROBE}.livenessProbe.exec.command: Required value",
        ),
        (
            ctr(readinessProbe={"tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 5}),
            f"{PROBE}.readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",
        ),
        (
            ctr(lifecycle={"preStop": {"sleep": {"seconds": 60}}}),
            f"{PROBE}.lifecycle.preStop.sleep: Invalid value: 60: must be greater than 0 and less than "
            "terminationGracePeriodSeconds (30). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.",
        ),
    ],
)
def test_probes_and_handlers(container, message):
    assert message in errors(pod([container]))


def test_readiness_probes_may_need_several_successes():
    assert (
        errors(pod([ctr(readinessProbe={"tcpSocket": {"port": 80}, "successThreshold": 3})])) == []
    )


def test_init_containers_may_not_have_probes_unless_they_are_sidecars():
    init = {"name": "init", "image": "busybox", "readinessProbe": {"tcpSocket": {"port": 80}}}
    assert errors(pod(initContainers=[init])) == [
        "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"
    ]
    assert errors(pod(initContainers=[{**init, "restartPolicy": "Always"}])) == []
    assert 'spec.initContainers[0].name: Duplicate value: "web"' in errors(
        pod(initContainers=[ctr()])
    )


def test_pod_updates_may_change_images_only():
    old = stored(pod([ctr(image="nginx:1.25")]), nodeName="node-1")
    assert errors(pod([ctr(image="nginx:1.27")]), old) == []  # and nodeName came from binding
    # A resubmitted manifest gets imagePullPolicy defaulted from its new tag: that changes too.
    assert errors(pod([ctr(image="nginx:latest")]), old) == [POD_UPDATE]
    assert errors(pod([ctr(image="nginx:1.25", ports=[{"containerPort": 80}])]), old) == [
        POD_UPDATE
    ]
    assert errors(pod([ctr(image="nginx:1.25")], nodeName="node-2"), old) == [POD_UPDATE]
    assert errors(pod([ctr(image="nginx:1.25")], activeDeadlineSeconds=60), old) == []
    assert errors(pod([ctr(image="nginx:1.25")], terminationGracePeriodSeconds=60), old) == [
        POD_UPDATE
    ]


# --- Deployment and ReplicaSet -----------------------------------------------------------------

MATCH = "`selector` does not match template `labels`"


@pytest.mark.parametrize(
    "obj, expected",
    [
        (
            deploy(selector="omit"),
            [
                "spec.selector: Required value",
                f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"x"}}: {MATCH}',
            ],
        ),
        (
            deploy(selector={"matchLabels": {"app": "y"}}),
            [
                f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"x"}}: {MATCH}'
            ],
        ),
        (
            deploy(
                selector={"matchLabels": {"app": "x", "tier": "web"}},
                labels={"tier": "web", "app": "x", "z": "1"},
            ),
            [],
        ),
        (
            deploy(labels={}),
            [f"spec.template.metadata.labels: Invalid value: map[string]string{{}}: {MATCH}"],
        ),
        (
            deploy(selector={}),
            [
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ],
        ),
        (
            deploy(selector={"matchExpressions": [{"key": "app", "operator": "In"}]}),
            [
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                'MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"In", '
                "Values:[]string(nil)}}}: invalid label selector",
            ],
        ),
        (
            deploy(replicas=-1),
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
        ),
        (
            deploy(containers=[ctr(image="")]),
            ["spec.template.spec.containers[0].image: Required value"],
        ),
        (deploy(containers=[]), ["spec.template.spec.containers: Required value"]),
        (
            deploy(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
            [
                'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
                "may not be 0 when `maxSurge` is 0"
            ],
        ),
        (
            deploy(strategy={"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}),
            [
                'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}: '
                "may not be 0 when `maxSurge` is 0"
            ],
        ),
        (
            deploy(strategy={"rollingUpdate": {"maxUnavailable": "150%"}}),
            [
                'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: '
                "must not be greater than 100%"
            ],
        ),
        (
            deploy(strategy={"rollingUpdate": {"maxSurge": "lots", "maxUnavailable": 1}}),
            [
                'spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"lots"}: '
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
                "regex used for validation is '[0-9]+%')"
            ],
        ),
        (
            deploy(strategy={"rollingUpdate": {"maxSurge": -1}}),
            [
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"
            ],
        ),
        (
            deploy(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
            [
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
            ],
        ),
        (
            deploy(strategy={"type": "BlueGreen"}),
            [
                'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", '
                'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"'
            ],
        ),
        (
            {
                **deploy(),
                "spec": {
                    **deploy()["spec"],
                    "template": {
                        **deploy()["spec"]["template"],
                        "spec": {"containers": [ctr()], "restartPolicy": "Never"},
                    },
                },
            },
            [
                'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
            ],
        ),
        (
            deploy(progressDeadlineSeconds=10, minReadySeconds=10),
            [
                "spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds"
            ],
        ),
        (
            deploy(labels={"app": "x", "bad key": "1"}, selector={"matchLabels": {"app": "x"}}),
            [
                f'spec.template.labels: Invalid value: "bad key": {LABEL_KEY}'
            ],  # sic: Kubernetes' path
        ),
    ],
)
def test_deployment(obj, expected):
    assert errors(obj) == expected


def test_replica_set_shares_the_selector_and_template_rules():
    rs = deploy(selector={"matchLabels": {"app": "y"}})
    rs["kind"] = "ReplicaSet"
    assert errors(rs) == [
        f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"x"}}: {MATCH}'
    ]
    rs = deploy(replicas=-2)
    rs["kind"] = "ReplicaSet"
    assert errors(rs) == ["spec.replicas: Invalid value: -2: must be greater than or equal to 0"]


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_selector_is_immutable(kind):
    old = {**deploy(), "kind": kind}
    new = {**deploy(selector={"matchLabels": {"app": "y"}}, labels={"app": "y"}), "kind": kind}
    assert errors(new, old) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"y"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    ]
    assert errors({**deploy(replicas=5), "kind": kind}, old) == []


def test_the_invalid_error_message_prints_go_values():
    errs = validate(apply_defaults(deploy(selector={"matchLabels": {"app": "y"}})))
    e = err_invalid("Deployment", "d", errs, "apps")
    assert (
        e.message
        == f'Deployment.apps "d" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{{"app":"x"}}: {MATCH}'
    )
    assert (
        e.details["causes"][0]["message"]
        == f'Invalid value: map[string]string{{"app":"x"}}: {MATCH}'
    )


# --- Ingress and IngressClass ------------------------------------------------------------------

PATH0 = "spec.rules[0].http.paths[0]"


@pytest.mark.parametrize(
    "obj, expected",
    [
        (
            ingress(),
            [
                "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
            ],
        ),
        (
            ingress(rules=[{"http": {"paths": [{"path": "/", "backend": backend()}]}}]),
            [f"{PATH0}.pathType: Required value: pathType must be specified"],
        ),
        (
            ingress(rules=[rule_path(pathType="Regex")]),
            [
                f'{PATH0}.pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"'
            ],
        ),
        (
            ingress(rules=[rule_path(path="api")]),
            [f'{PATH0}.path: Invalid value: "api": must be an absolute path'],
        ),
        (
            ingress(rules=[rule_path(path="", pathType="Exact")]),
            [f'{PATH0}.path: Invalid value: "": must be an absolute path'],
        ),
        (ingress(rules=[rule_path(path="", pathType="ImplementationSpecific")]), []),
        (
            ingress(rules=[rule_path(path="/a//b")]),
            [f"{PATH0}.path: Invalid value: \"/a//b\": must not contain '//'"],
        ),
        (
            ingress(rules=[rule_path(path="/a/..")]),
            [f"{PATH0}.path: Invalid value: \"/a/..\": cannot end with '/..'"],
        ),
        (
            ingress(
                rules=[
                    rule_path(backend={**backend(), "resource": {"kind": "Bucket", "name": "b"}})
                ]
            ),
            [f'{PATH0}.backend: Invalid value: "": cannot set both resource and service backends'],
        ),
        (
            ingress(rules=[rule_path(backend={})]),
            [f'{PATH0}.backend: Invalid value: "": resource or service backend is required'],
        ),
        (
            ingress(defaultBackend={"service": {"name": "web"}}),
            ["spec.defaultBackend: Required value: port name or number is required"],
        ),
        (
            ingress(defaultBackend=backend(port={"name": "http", "number": 80})),
            ['spec.defaultBackend: Invalid value: "": cannot set both port name & port number'],
        ),
        (
            ingress(defaultBackend=backend(port={"number": 70000})),
            [f"spec.defaultBackend.service.port.number: Invalid value: 70000: {PORT_RANGE}"],
        ),
        (
            ingress(defaultBackend=backend(name="1web")),
            [f'spec.defaultBackend.service.name: Invalid value: "1web": {DNS1035}'],
        ),
        (
            ingress(defaultBackend={"service": {"port": {"number": 80}}}),
            ["spec.defaultBackend.service.name: Required value"],
        ),
        (
            ingress(rules=[{"host": "10.0.0.1", **rule_path()}]),
            [
                'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
            ],
        ),
        (
            ingress(rules=[{"host": "Web.example.com", **rule_path()}]),
            [f'spec.rules[0].host: Invalid value: "Web.example.com": {DNS1123_SUBDOMAIN}'],
        ),
        (
            ingress(defaultBackend=backend(), tls=[{"hosts": ["Bad_Host"]}]),
            [f'spec.tls[0].hosts[0]: Invalid value: "Bad_Host": {DNS1123_SUBDOMAIN}'],
        ),
        (ingress(rules=[{"http": {"paths": []}}]), ["spec.rules[0].http.paths: Required value"]),
    ],
)
def test_ingress(obj, expected):
    assert errors(obj) == expected


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({}, ["spec.controller: Required value"]),
        (
            {"controller": "nginx"},
            [
                'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")'
            ],
        ),
        (
            {"controller": "Example.com/x"},
            [f'spec.controller: Invalid value: "Example.com": {DNS1123_SUBDOMAIN}'],
        ),
        (
            {
                "controller": "example.com/x",
                "parameters": {"kind": "K", "name": "n", "namespace": "lab"},
            },
            ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"],
        ),
    ],
)
def test_ingress_class(spec, expected):
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "c"},
        "spec": spec,
    }
    assert errors(obj) == expected


def test_ingress_class_controller_is_immutable():
    old = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "c"},
        "spec": {"controller": "a.io/x"},
    }
    new = copy.deepcopy(old)
    new["spec"]["controller"] = "b.io/x"
    assert errors(new, old) == ['spec.controller: Invalid value: "b.io/x": field is immutable']


# --- Secret, ConfigMap, Namespace, Node ------------------------------------------------------------


def secret(type_=None, **fields):
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": meta("s"), **fields}
    if type_:
        obj["type"] = type_
    return obj


CONFIG_KEY = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


@pytest.mark.parametrize(
    "obj, expected",
    [
        (
            secret("kubernetes.io/tls"),
            ["data[tls.crt]: Required value", "data[tls.key]: Required value"],
        ),
        (secret("kubernetes.io/tls", data={"tls.crt": "eA=="}), ["data[tls.key]: Required value"]),
        (secret("kubernetes.io/tls", data={"tls.crt": "eA=="}, stringData={"tls.key": "k"}), []),
        (secret(data={"a/b": "eA=="}), [f'data[a/b]: Invalid value: "a/b": {CONFIG_KEY}']),
        (
            secret(stringData={"..x": "v"}),
            ["data[..x]: Invalid value: \"..x\": must not start with '..'"],
        ),
        (
            secret("kubernetes.io/basic-auth"),
            ["data[username]: Required value", "data[password]: Required value"],
        ),
        (secret("kubernetes.io/ssh-auth"), ["data[ssh-privatekey]: Required value"]),
        (
            secret("kubernetes.io/service-account-token"),
            ["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
        ),
        (secret("example.com/custom", data={"anything": "eA=="}), []),
    ],
)
def test_secret(obj, expected):
    assert errors(obj) == expected


def test_secret_type_and_immutable_data_on_update():
    old = secret("Opaque", data={"a": "eA=="}, immutable=True)
    new = secret("kubernetes.io/tls", data={"tls.crt": "eA==", "tls.key": "eA=="}, immutable=True)
    assert errors(new, old) == [
        'type: Invalid value: "kubernetes.io/tls": field is immutable',
        "data: Forbidden: field is immutable when `immutable` is set",
    ]


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"ok.key": "v"}, []),
        ({"bad key": "v"}, [f'data[bad key]: Invalid value: "bad key": {CONFIG_KEY}']),
        ({".": "v"}, ["data[.]: Invalid value: \".\": must not be '.'"]),
    ],
)
def test_config_map_keys(data, expected):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("c"), "data": data}
    assert errors(obj) == expected


def test_config_map_key_in_both_data_and_binary_data():
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("c"),
        "data": {"k": "v"},
        "binaryData": {"k": "eA=="},
    }
    assert errors(obj) == ['data[k]: Invalid value: "k": duplicate of key present in binaryData']


@pytest.mark.parametrize(
    "obj, expected",
    [
        (
            {"kind": "Namespace", "metadata": {"name": "Lab"}},
            [f'metadata.name: Invalid value: "Lab": {DNS1123_LABEL}'],
        ),
        (
            {"kind": "Namespace", "metadata": {"name": "lab"}, "spec": {"finalizers": ["foo"]}},
            [
                'spec.finalizers: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified'
            ],
        ),
        (
            {
                "kind": "Namespace",
                "metadata": {"name": "lab"},
                "spec": {"finalizers": ["example.com/cleanup"]},
            },
            [],
        ),
        (
            {"kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.1.0/33"]}},
            [
                'spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'
            ],
        ),
        (
            {
                "kind": "Node",
                "metadata": {"name": "n1"},
                "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]},
            },
            [
                'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'
            ],
        ),
    ],
)
def test_namespace_and_node(obj, expected):
    assert errors({"apiVersion": "v1", **obj}) == expected


def test_node_pod_cidrs_are_set_once():
    old = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "spec": {"podCIDRs": ["10.244.1.0/24"]},
    }
    new = copy.deepcopy(old)
    new["spec"]["podCIDRs"] = ["10.244.2.0/24"]
    assert errors(new, old) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
    ]


# --- the entry point ----------------------------------------------------------------------------


def test_each_message_is_reported_once():
    # ValidateObjectMetaUpdate and ValidateService both check labels; ToAggregate dedups.
    obj = svc()
    obj["metadata"]["labels"] = {"app": "a b"}
    messages = errors(obj, svc())
    assert messages.count(f'metadata.labels: Invalid value: "a b": {LABEL_VALUE}') == 1


@pytest.mark.parametrize("obj", [{"kind": "Widget"}, {}])
def test_unknown_kinds_have_no_rules(obj):
    assert validate(obj) == []
