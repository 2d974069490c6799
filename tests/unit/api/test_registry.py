"""The API server's logic without HTTP: defaults on write, allocation, apply, deletes."""

import pytest

from lab_kit.api.registry import Registry
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import lookup


@pytest.fixture
def reg():
    r = Registry(clock=lambda: 1_700_000_000.0)
    r.bootstrap()
    return r


def svc(name, **spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


def test_bootstrap_creates_namespaces_and_the_kubernetes_service(reg):
    assert [n["metadata"]["name"] for n in reg.store.list("Namespace")] == [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    ]
    k = reg.store.get("Service", "default", "kubernetes")
    assert k["spec"]["clusterIP"] == "10.96.0.1" and k["spec"]["clusterIPs"] == ["10.96.0.1"]


def test_create_sets_server_metadata_defaults_and_a_cluster_ip(reg):
    s = reg.create(svc("web"))
    md = s["metadata"]
    assert (
        md["namespace"] == "default"
        and md["uid"]
        and md["creationTimestamp"] == "2023-11-14T22:13:20Z"
    )
    assert md["resourceVersion"] == str(reg.store.rv)
    assert s["spec"]["type"] == "ClusterIP" and s["spec"]["ports"][0]["targetPort"] == 80
    assert s["spec"]["clusterIP"].startswith("10.") and s["spec"]["clusterIPs"] == [
        s["spec"]["clusterIP"]
    ]


def test_dynamic_cluster_ips_are_reproducible_for_a_seed():
    ips = []
    for _ in range(2):
        r = Registry(seed=7)
        r.bootstrap()
        ips.append(r.create(svc("web"))["spec"]["clusterIP"])
    assert ips[0] == ips[1]


def test_requested_ip_and_node_port(reg):
    s = reg.create(svc("dns", clusterIP="10.96.0.10"))
    assert s["spec"]["clusterIP"] == "10.96.0.10"
    n = reg.create(svc("np", type="NodePort", ports=[{"port": 8080, "nodePort": 32766}]))
    assert n["spec"]["ports"][0]["nodePort"] == 32766
    with pytest.raises(ApiError) as e:
        reg.create(svc("np2", type="NodePort", ports=[{"port": 8080, "nodePort": 32766}]))
    assert e.value.message == (
        'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 32766: '
        "provided port is already allocated"
    )


def test_update_keeps_allocated_values_and_status(reg):
    s = reg.create(svc("web", type="NodePort"))
    ip, port = s["spec"]["clusterIP"], s["spec"]["ports"][0]["nodePort"]
    again = reg.update(svc("web", type="NodePort", sessionAffinity="ClientIP"))
    assert again["spec"]["clusterIP"] == ip and again["spec"]["ports"][0]["nodePort"] == port
    assert again["metadata"]["uid"] == s["metadata"]["uid"]
    assert again["metadata"]["generation"] == 2


def test_changing_type_to_cluster_ip_releases_the_node_port(reg):
    s = reg.create(svc("web", type="NodePort"))
    port = s["spec"]["ports"][0]["nodePort"]
    back = reg.update(svc("web"))
    assert "nodePort" not in back["spec"]["ports"][0]
    assert not reg.addresses.ports.is_allocated(port)


def test_delete_releases_addresses(reg):
    ip = reg.create(svc("web"))["spec"]["clusterIP"]
    reg.delete(lookup("svc"), "default", "web")
    assert not reg.addresses.ips.is_allocated(ip)


def test_apply_batch_is_all_or_nothing(reg):
    rv = reg.store.rv
    bad = svc("two", ports=[{"port": 80}, {"port": 443}])
    with pytest.raises(ApiError) as e:
        reg.apply([svc("ok"), bad])
    assert e.value.details["index"] == 1
    assert reg.store.rv == rv and reg.store.get("Service", "default", "ok") is None
    # the first document's ClusterIP was handed back too
    assert reg.create(svc("ok"))["metadata"]["name"] == "ok"


def test_apply_reports_created_configured_unchanged(reg):
    assert [a for a, _ in reg.apply([svc("web")])] == ["created"]
    assert [a for a, _ in reg.apply([svc("web")])] == ["unchanged"]
    assert [a for a, _ in reg.apply([svc("web", sessionAffinity="ClientIP")])] == ["configured"]


def test_dry_run_changes_nothing(reg):
    rv = reg.store.rv
    results = reg.apply([svc("web")], dry_run=True)
    assert results[0][0] == "created" and reg.store.rv == rv
    assert reg.store.get("Service", "default", "web") is None


def test_generate_name_and_missing_namespace(reg):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "cfg-"}}
    made = reg.create(cm)
    assert made["metadata"]["name"].startswith("cfg-") and len(made["metadata"]["name"]) == 9
    with pytest.raises(ApiError) as e:
        reg.create({**cm, "metadata": {"name": "x", "namespace": "nope"}})
    assert (e.value.code, e.value.message) == (404, 'namespaces "nope" not found')


def test_pod_delete_is_graceful_only_when_bound(reg):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    reg.create(pod)
    reg.delete(lookup("pod"), "default", "p")
    assert reg.store.get("Pod", "default", "p") is None
    reg.create(pod)
    reg.bind("default", "p", "node1")
    marked = reg.delete(lookup("pod"), "default", "p")
    assert (
        marked["metadata"]["deletionTimestamp"]
        and marked["metadata"]["deletionGracePeriodSeconds"] == 30
    )
    reg.delete(lookup("pod"), "default", "p", grace_period_s=0)
    assert reg.store.get("Pod", "default", "p") is None


def test_binding_twice_is_a_conflict(reg):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    reg.create(pod)
    bound = reg.bind("default", "p", "node1")
    assert bound["spec"]["nodeName"] == "node1"
    with pytest.raises(ApiError) as e:
        reg.bind("default", "p", "node2")
    assert (
        e.value.message
        == 'Operation cannot be fulfilled on pods "p": pod p is already assigned to node "node1"'
    )


def test_namespace_deletion_waits_until_empty(reg):
    reg.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    reg.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team"}}
    )
    ns = reg.delete(lookup("ns"), "", "team")
    assert ns["status"]["phase"] == "Terminating"
    with pytest.raises(ApiError) as e:
        reg.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "d", "namespace": "team"},
            }
        )
    assert e.value.code == 403 and "is being terminated" in e.value.message
    reg.delete(lookup("cm"), "team", "c")
    reg.delete(lookup("ns"), "", "team")
    assert reg.store.get("Namespace", "", "team") is None


def test_system_namespaces_cannot_be_deleted(reg):
    with pytest.raises(ApiError) as e:
        reg.delete(lookup("ns"), "", "default")
    assert e.value.message == 'namespaces "default" is forbidden: this namespace may not be deleted'
