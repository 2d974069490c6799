"""apply_defaults: what kube-apiserver fills in before validation (core/v1, apps/v1, ...)."""

import copy

import pytest

from lab_kit.model.defaults import apply_defaults


def service(**spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec}


def pod(**spec):
    spec.setdefault("containers", [{"name": "c", "image": "nginx:1.25"}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def deployment(**spec):
    template = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    spec = {"selector": {"matchLabels": {"app": "x"}}, "template": template, **spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec}


# --- every kind, and the input is never touched ------------------------------------------

ALL_KINDS = [
    service(ports=[{"port": 80}]),
    pod(),
    deployment(),
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"}, "spec": {}},
    {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "e"},
        "subsets": [{"ports": [{"port": 1}]}],
    },
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "ports": [{"port": 1}]},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}},
    {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n"},
        "status": {"capacity": {"cpu": "2"}},
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "spec": {"parameters": {"kind": "K", "name": "n"}},
    },
]


@pytest.mark.parametrize("obj", ALL_KINDS, ids=lambda o: o["kind"])
def test_apply_defaults_returns_a_new_object_and_never_mutates_its_input(obj):
    before = copy.deepcopy(obj)
    out = apply_defaults(obj)
    assert obj == before
    assert out is not obj and out != obj


def test_nested_values_are_copies_too():
    obj = service(ports=[{"port": 80}])
    out = apply_defaults(obj)
    out["spec"]["ports"][0]["name"] = "changed"
    assert "name" not in obj["spec"]["ports"][0]


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}},
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "spec": {"rules": [{"http": {"paths": [{"path": "/"}]}}]},
        },
        {"apiVersion": "v1", "kind": "Unknown"},
        {},
    ],
)
def test_kinds_without_defaults_come_back_equal(obj):
    # Ingress: pathType is required in networking/v1, never defaulted.
    assert apply_defaults(obj) == obj


# --- Service ----------------------------------------------------------------------------------


def test_service_defaults_for_a_minimal_cluster_ip_service():
    spec = apply_defaults(service(selector={"app": "web"}, ports=[{"port": 80}]))["spec"]
    assert spec == {
        "selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    }


@pytest.mark.parametrize(
    "port, target",
    [
        ({"port": 80}, 80),
        ({"port": 80, "targetPort": 0}, 80),
        ({"port": 80, "targetPort": ""}, 80),
        ({"port": 80, "targetPort": 8080}, 8080),
        ({"port": 80, "targetPort": "http"}, "http"),
        ({}, 0),  # port missing: Go copies its zero value, validation complains about both
    ],
)
def test_service_target_port_defaults_to_port(port, target):
    out = apply_defaults(service(ports=[port]))["spec"]["ports"][0]
    assert out["targetPort"] == target and out["protocol"] == "TCP"


def test_service_port_protocol_is_kept_when_given():
    out = apply_defaults(service(ports=[{"port": 53, "protocol": "UDP"}]))
    assert out["spec"]["ports"][0]["protocol"] == "UDP"


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"sessionAffinity": "ClientIP"}, {"clientIP": {"timeoutSeconds": 10800}}),
        (
            {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {}},
            {"clientIP": {"timeoutSeconds": 10800}},
        ),
        (
            {
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            },
            {"clientIP": {"timeoutSeconds": 60}},
        ),
        (
            {
                "sessionAffinity": "None",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            },
            None,
        ),
        ({"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}, None),
    ],
)
def test_session_affinity_config(spec, expected):
    out = apply_defaults(service(**spec))["spec"]
    assert out.get("sessionAffinityConfig") == expected


@pytest.mark.parametrize(
    "spec, etp, itp",
    [
        ({}, None, "Cluster"),
        ({"type": "NodePort"}, "Cluster", "Cluster"),
        ({"type": "LoadBalancer"}, "Cluster", "Cluster"),
        ({"externalIPs": ["192.0.2.10"]}, "Cluster", "Cluster"),
        ({"type": "NodePort", "externalTrafficPolicy": "Local"}, "Local", "Cluster"),
        ({"internalTrafficPolicy": "Local"}, None, "Local"),
        ({"type": "ExternalName", "externalName": "example.com"}, None, None),
    ],
)
def test_traffic_policies(spec, etp, itp):
    out = apply_defaults(service(**spec))["spec"]
    assert out.get("externalTrafficPolicy") == etp
    assert out.get("internalTrafficPolicy") == itp


@pytest.mark.parametrize("given, expected", [(None, True), (False, False)])
def test_load_balancer_allocates_node_ports_by_default(given, expected):
    spec = {"type": "LoadBalancer"}
    if given is not None:
        spec["allocateLoadBalancerNodePorts"] = given
    assert apply_defaults(service(**spec))["spec"]["allocateLoadBalancerNodePorts"] is expected


@pytest.mark.parametrize("kind", ["ClusterIP", "NodePort"])
def test_allocate_load_balancer_node_ports_only_for_load_balancers(kind):
    assert "allocateLoadBalancerNodePorts" not in apply_defaults(service(type=kind))["spec"]


def test_load_balancer_ingress_ip_mode_defaults_to_vip():
    obj = service(type="LoadBalancer")
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example"}]}}
    ingress = apply_defaults(obj)["status"]["loadBalancer"]["ingress"]
    assert ingress == [{"ip": "192.0.2.1", "ipMode": "VIP"}, {"hostname": "lb.example"}]


@pytest.mark.parametrize(
    "spec, cluster_ips, policy, families",
    [
        ({"clusterIP": "10.96.0.10"}, ["10.96.0.10"], "SingleStack", ["IPv4"]),
        ({"clusterIP": "None", "selector": {"a": "b"}}, ["None"], "SingleStack", ["IPv4"]),
        ({"clusterIP": "None"}, ["None"], "RequireDualStack", ["IPv4", "IPv6"]),
        ({"clusterIP": "None", "ipFamilyPolicy": "SingleStack"}, ["None"], "SingleStack", ["IPv4"]),
        ({"clusterIP": "fd00::10"}, ["fd00::10"], "SingleStack", ["IPv6"]),
        ({"clusterIP": "1.2.3.4", "clusterIPs": ["1.2.3.4"]}, ["1.2.3.4"], "SingleStack", ["IPv4"]),
        ({"ipFamilyPolicy": "PreferDualStack"}, None, "PreferDualStack", ["IPv4"]),
        ({"clusterIP": "bogus"}, ["bogus"], "SingleStack", ["IPv4"]),
    ],
)
def test_cluster_ips_and_ip_families(spec, cluster_ips, policy, families):
    out = apply_defaults(service(**spec))["spec"]
    assert out.get("clusterIPs") == cluster_ips
    assert out["ipFamilyPolicy"] == policy and out["ipFamilies"] == families


def test_external_name_services_get_no_ip_fields():
    out = apply_defaults(service(type="ExternalName", externalName="db.example.com"))["spec"]
    assert not {"clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"} & set(out)


# --- Pod ----------------------------------------------------------------------------------------


def test_pod_spec_and_container_defaults():
    spec = apply_defaults(pod())["spec"]
    assert spec == {
        "containers": [
            {
                "name": "c",
                "image": "nginx:1.25",
                "imagePullPolicy": "IfNotPresent",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "resources": {},
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler",
        "enableServiceLinks": True,
    }


@pytest.mark.parametrize(
    "image, policy",
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("docker.io/library/nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/nginx", "Always"),  # a registry port is not a tag
        ("localhost:5000/nginx:v1", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("", "IfNotPresent"),  # unparsable: Go ignores the error
    ],
)
def test_image_pull_policy_follows_the_tag(image, policy):
    out = apply_defaults(pod(containers=[{"name": "c", "image": image}]))
    assert out["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_given_pod_fields_are_kept():
    spec = apply_defaults(
        pod(
            restartPolicy="Never",
            dnsPolicy="Default",
            terminationGracePeriodSeconds=0,
            enableServiceLinks=False,
            containers=[{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}],
        )
    )["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"]) == ("Never", "Default")
    assert spec["terminationGracePeriodSeconds"] == 0 and spec["enableServiceLinks"] is False
    assert spec["containers"][0]["imagePullPolicy"] == "Never"


def test_container_ports_and_all_container_lists_are_defaulted():
    spec = apply_defaults(
        pod(
            initContainers=[{"name": "i", "image": "busybox"}],
            containers=[{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}],
        )
    )["spec"]
    assert spec["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert spec["initContainers"][0]["terminationMessagePolicy"] == "File"


@pytest.mark.parametrize("kind", ["livenessProbe", "readinessProbe", "startupProbe"])
def test_probe_defaults(kind):
    container = {"name": "c", "image": "nginx", kind: {"httpGet": {"port": 80}}}
    probe = apply_defaults(pod(containers=[container]))["spec"]["containers"][0][kind]
    assert probe == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def test_probe_values_given_are_kept_and_zero_means_unset():
    probe = {
        "tcpSocket": {"port": 80},
        "periodSeconds": 2,
        "failureThreshold": 0,
        "initialDelaySeconds": 5,
    }
    container = {"name": "c", "image": "nginx", "readinessProbe": probe}
    out = apply_defaults(pod(containers=[container]))["spec"]["containers"][0]["readinessProbe"]
    assert out["periodSeconds"] == 2 and out["failureThreshold"] == 3
    assert out["initialDelaySeconds"] == 5  # not defaulted: 0 is the default


def test_grpc_probe_service_and_lifecycle_http_get():
    container = {
        "name": "c",
        "image": "nginx",
        "livenessProbe": {"grpc": {"port": 9000}},
        "lifecycle": {"preStop": {"httpGet": {"port": 80}}},
    }
    out = apply_defaults(pod(containers=[container]))["spec"]["containers"][0]
    assert out["livenessProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert out["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/", "scheme": "HTTP"}


def test_pod_only_defaults_requests_from_limits_and_host_ports():
    container = {
        "name": "c",
        "image": "nginx",
        "ports": [{"containerPort": 80}],
        "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Mi"}},
    }
    spec = apply_defaults(pod(hostNetwork=True, containers=[container]))["spec"]
    out = spec["containers"][0]
    assert out["resources"]["requests"] == {"memory": "1Mi", "cpu": "1"}
    assert out["ports"][0]["hostPort"] == 80


def test_volumes_and_env_field_refs():
    spec = apply_defaults(
        pod(
            volumes=[
                {"name": "scratch"},
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "h", "hostPath": {"path": "/x"}},
            ],
            containers=[
                {
                    "name": "c",
                    "image": "nginx",
                    "env": [
                        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                    ],
                }
            ],
        )
    )["spec"]
    assert spec["volumes"] == [
        {"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}},
        {"name": "h", "hostPath": {"path": "/x", "type": ""}},
    ]
    field_ref = spec["containers"][0]["env"][0]["valueFrom"]["fieldRef"]
    assert field_ref == {"fieldPath": "status.podIP", "apiVersion": "v1"}


def test_spec_null_is_treated_as_empty():
    out = apply_defaults({"apiVersion": "v1", "kind": "Pod", "spec": None})
    assert out["spec"]["restartPolicy"] == "Always"


# --- Deployment, ReplicaSet -------------------------------------------------------------------


def test_deployment_defaults():
    spec = apply_defaults(deployment())["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    template_spec = spec["template"]["spec"]
    assert (
        template_spec["restartPolicy"] == "Always"
        and template_spec["schedulerName"] == "default-scheduler"
    )
    assert template_spec["containers"][0]["imagePullPolicy"] == "Always"
    # SetDefaults_Pod only: a template never shows enableServiceLinks
    assert "enableServiceLinks" not in template_spec


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ({"type": "Recreate"}, {"type": "Recreate"}),
        (
            {"rollingUpdate": {"maxSurge": 1}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
        ),
        (
            {"rollingUpdate": {"maxUnavailable": 0}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        ),
    ],
)
def test_deployment_strategy(strategy, expected):
    assert apply_defaults(deployment(strategy=strategy))["spec"]["strategy"] == expected


def test_deployment_keeps_zero_replicas():
    assert apply_defaults(deployment(replicas=0))["spec"]["replicas"] == 0


def test_replica_set_defaults():
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
    }
    spec = apply_defaults(rs)["spec"]
    assert spec["replicas"] == 1
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


# --- endpoints and the small kinds ----------------------------------------------------------


def test_endpoints_ports_get_tcp():
    obj = {
        "kind": "Endpoints",
        "subsets": [{"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}],
    }
    ports = apply_defaults(obj)["subsets"][0]["ports"]
    assert [p["protocol"] for p in ports] == ["TCP", "UDP"]


def test_endpoint_slice_ports_get_name_and_protocol_but_conditions_stay_as_given():
    obj = {
        "kind": "EndpointSlice",
        "addressType": "IPv4",
        "ports": [{"port": 80}],
        "endpoints": [
            {"addresses": ["10.244.1.5"]},
            {"addresses": ["10.244.1.6"], "conditions": {"ready": False}},
        ],
    }
    out = apply_defaults(obj)
    assert out["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert out["endpoints"] == obj["endpoints"]


def test_secret_type_defaults_to_opaque():
    assert apply_defaults({"kind": "Secret"})["type"] == "Opaque"
    assert (
        apply_defaults({"kind": "Secret", "type": "kubernetes.io/tls"})["type"]
        == "kubernetes.io/tls"
    )


def test_namespace_defaults():
    out = apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}})
    assert out["metadata"]["labels"] == {"kubernetes.io/metadata.name": "lab"}
    assert out["spec"] == {"finalizers": ["kubernetes"]}
    assert out["status"] == {"phase": "Active"}
    assert "namespace" not in out["metadata"]


def test_namespace_keeps_other_finalizers_and_a_terminating_phase():
    obj = {
        "kind": "Namespace",
        "metadata": {"name": "x"},
        "spec": {"finalizers": ["example.com/f"]},
        "status": {"phase": "Terminating"},
    }
    out = apply_defaults(obj)
    assert out["spec"]["finalizers"] == ["example.com/f", "kubernetes"]
    assert out["status"]["phase"] == "Terminating"


def test_node_allocatable_defaults_to_capacity():
    out = apply_defaults({"kind": "Node", "status": {"capacity": {"cpu": "2", "pods": "110"}}})
    assert out["status"]["allocatable"] == {"cpu": "2", "pods": "110"}
    assert apply_defaults({"kind": "Node"}) == {"kind": "Node"}


def test_ingress_class_parameters_scope_defaults_to_cluster():
    out = apply_defaults(
        {
            "kind": "IngressClass",
            "spec": {"controller": "k8s.io/x", "parameters": {"kind": "K", "name": "n"}},
        }
    )
    assert out["spec"]["parameters"]["scope"] == "Cluster"


def test_namespace_is_never_set():
    for obj in ALL_KINDS:
        assert "namespace" not in (apply_defaults(obj).get("metadata") or {})
