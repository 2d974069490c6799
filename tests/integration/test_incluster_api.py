"""The Kubernetes API from inside a pod, as client libraries' in-cluster configuration uses
it: KUBERNETES_SERVICE_HOST/PORT, the kubernetes Service (kube-proxy's
KUBE-SVC-NPX46M4PTMTKRN6Y to the API server's secure port on node1, 172.18.0.2:6443), HTTPS
checked against the mounted ca.crt, the mounted token as a bearer token."""

from __future__ import annotations

import json

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
API = "https://kubernetes.default.svc"
CURL = f"curl -sS --max-time 10 --cacert {SA_DIR}/ca.crt"
BEARER = f'-H "Authorization: Bearer $(cat {SA_DIR}/token)"'


def toolbox(name: str, ns: str, node: str = "node2", automount: bool | None = None) -> dict:
    spec: dict = {
        "nodeName": node,
        "containers": [{"name": "c", "image": "curlimages/curl", "command": ["sleep", "infinity"]}],
    }
    if automount is not None:
        spec["automountServiceAccountToken"] = automount
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": spec}  # fmt: skip


def sh(lab, pod: str, ns: str, script: str) -> str:
    done = lab.exec(pod, "sh", "-c", script, namespace=ns)
    assert done.returncode == 0, done
    return done.stdout


def answer(lab, pod: str, ns: str, options: str, path: str) -> dict:
    return json.loads(sh(lab, pod, ns, f"{CURL} {options} {API}{path}"))


def test_a_pod_gets_the_in_cluster_files_and_environment(cluster, ns):
    cluster.apply(toolbox("files", ns), wait=True)
    listing = sh(cluster, "files", ns, f"ls {SA_DIR}; cat {SA_DIR}/namespace; echo; "
                 "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT")  # fmt: skip
    assert listing.split() == ["ca.crt", "namespace", "token", ns, "10.96.0.1:443"]
    ro = cluster.exec("files", "sh", "-c", f"echo x > {SA_DIR}/token", namespace=ns)
    assert ro.returncode != 0  # mounted read-only
    pod = cluster.get("pods", "files", namespace=ns)
    assert pod["spec"]["serviceAccountName"] == "default"
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert {"name": volume["name"], "readOnly": True, "mountPath": SA_DIR} in (
        pod["spec"]["containers"][0]["volumeMounts"]
    )
    cluster.apply(toolbox("nofiles", ns, automount=False), wait=True)
    assert cluster.exec("nofiles", "ls", SA_DIR, namespace=ns).returncode != 0


def test_the_kubernetes_service_leads_to_the_api_servers_secure_port(cluster):
    slice_ = cluster.get("endpointslices", "kubernetes")
    assert slice_["endpoints"] == [{"addresses": ["172.18.0.2"], "conditions": {"ready": True}}]
    assert slice_["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    endpoints = cluster.get("endpoints", "kubernetes")
    assert endpoints["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    rules = cluster.host("node3", "iptables-save", "-t", "nat").stdout
    assert "-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp" in rules
    assert "-j KUBE-SVC-NPX46M4PTMTKRN6Y" in rules
    assert "--to-destination 172.18.0.2:6443" in rules


def test_a_token_is_accepted_and_missing_or_wrong_ones_refused(cluster, ns):
    cluster.apply(toolbox("client", ns), wait=True)
    listed = answer(cluster, "client", ns, BEARER,
                    "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices")  # fmt: skip
    assert listed["kind"] == "EndpointSliceList"
    assert "kubernetes" in [s["metadata"]["name"] for s in listed["items"]]
    anonymous = answer(cluster, "client", ns, "", f"/api/v1/namespaces/{ns}/pods")
    assert (anonymous["code"], anonymous["reason"]) == (403, "Forbidden")
    assert anonymous["message"] == (
        f'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API '
        f'group "" in the namespace "{ns}"'
    )
    wrong = answer(cluster, "client", ns, '-H "Authorization: Bearer not-a-token"', "/api")
    assert (wrong["code"], wrong["reason"], wrong["message"]) == (
        401,
        "Unauthorized",
        "Unauthorized",
    )
    assert answer(cluster, "client", ns, "", "/version")["major"] == "1"  # public, as kubeadm's


def test_a_token_dies_with_its_pod(cluster, ns):
    cluster.apply([toolbox("holder", ns), toolbox("user", ns, node="node3")], wait=True)
    token = sh(cluster, "holder", ns, f"cat {SA_DIR}/token")
    path = f"/api/v1/namespaces/{ns}/pods"
    with_it = f'-H "Authorization: Bearer {token}"'
    assert answer(cluster, "user", ns, with_it, path)["kind"] == "PodList"
    cluster.delete("pods", "holder", namespace=ns, grace_period_s=0)
    cluster.wait()
    assert answer(cluster, "user", ns, with_it, path)["code"] == 401


def test_a_pod_watches_endpointslices_with_its_files_alone(cluster, ns):
    cluster.apply(toolbox("watcher", ns), wait=True)
    base = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
    selector = "labelSelector=kubernetes.io%2Fservice-name%3Dweb"
    rv = answer(cluster, "watcher", ns, BEARER, f"{base}?{selector}")["metadata"]["resourceVersion"]
    cluster.apply([web(ns), web_service(ns)], wait=True)
    pod_ip = cluster.get("pods", selector="app=web", namespace=ns)[0]["status"]["podIP"]
    events = sh(cluster, "watcher", ns, f"{CURL} -N {BEARER} "
                f"'{API}{base}?{selector}&watch=1&resourceVersion={rv}&timeoutSeconds=1'")  # fmt: skip
    seen = [json.loads(line) for line in events.splitlines() if line.strip()]
    assert seen[0]["type"] == "ADDED"
    ready = [
        e["object"] for e in seen
        if any(ep["addresses"] == [pod_ip] and ep["conditions"].get("ready")
               for ep in e["object"].get("endpoints") or [])
    ]  # fmt: skip
    assert ready, seen  # the pod's address, ready, arrived through the watch


def web(ns: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                                 "args": ["netexec", "--http-port=8080"]}]},
    }  # fmt: skip


def web_service(ns: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }  # fmt: skip
