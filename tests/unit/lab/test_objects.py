"""kubectl's rules for objects, once (lab_kit.lab.objects), on the real API in-process:
reading manifests, apply all or nothing, get and its output formats, describe, delete by
name / selector / file, and `kubectl run`'s Pod."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from lab_kit.lab import objects
from lab_kit.lab.errors import LabError
from lab_kit.lab.objects import Listing, read_documents
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.manifests import ManifestError

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {a: b}\n"
SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""
BAD_SERVICE = """apiVersion: v1
kind: Service
metadata: {name: broken}
spec:
  ports: [{port: 70000}]
"""


def configmap(name: str, namespace: str = "default", labels: dict | None = None) -> dict:
    md = {"name": name, "namespace": namespace, "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md}


# --- reading manifests -----------------------------------------------------------------------


def test_documents_remember_their_file_and_position(tmp_path):
    f = tmp_path / "two.yml"
    f.write_text(CM % "a" + "---\n" + CM % "b")
    docs = read_documents(str(f))
    assert [d.name for d in docs] == ["a", "b"]
    assert docs[1].where == f'"{f}", document 2 of 2'


def test_a_directory_gives_its_manifests_in_name_order(tmp_path):
    (tmp_path / "b.yaml").write_text(CM % "from-b")
    (tmp_path / "a.json").write_text(json.dumps(configmap("from-a")))
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert [d.name for d in read_documents(str(tmp_path))] == ["from-a", "from-b"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ManifestError, match="has no .yaml/.yml/.json files"):
        read_documents(str(empty))


def test_text_dicts_lists_and_stdin(monkeypatch):
    assert read_documents(CM % "t")[0].source == "<string>"
    assert read_documents(configmap("d"))[0].where == '"<object>", document 1 of 1'
    assert [d.name for d in read_documents([configmap("x"), CM % "y"])] == ["x", "y"]
    monkeypatch.setattr("sys.stdin", io.StringIO(CM % "piped"))
    (doc,) = read_documents("-")
    assert (doc.source, doc.name) == ("STDIN", "piped")
    with pytest.raises(ManifestError, match='the path "nope.yml" does not exist'):
        read_documents("nope.yml")


# --- apply -----------------------------------------------------------------------------------


def test_apply_says_what_it_did_as_kubectl_does(client):
    applied = objects.apply(client, [SERVICE, configmap("c", "kube-system")])
    assert applied.lines == ["service/web created", "configmap/c created"]
    assert applied.namespaces == ["default", "kube-system"]
    again = objects.apply(client, SERVICE)
    assert again.lines == ["service/web unchanged"]


def test_a_server_dry_run_says_so_and_stores_nothing(client):
    assert objects.apply(client, CM % "dry", dry_run=True).lines == [
        "configmap/dry created (server dry run)"
    ]
    assert _made(objects.get(client, "cm")) == []


def test_apply_is_all_or_nothing_and_names_file_document_and_field(client, tmp_path):
    f = tmp_path / "mixed.yml"
    f.write_text(CM % "first" + "---\n" + BAD_SERVICE)
    with pytest.raises(LabError) as refused:
        objects.apply(client, str(f))
    text = str(refused.value)
    assert text.startswith(
        f'Error from server (Invalid): error when applying "{f}", document 2 of 2'
    )
    assert "spec.ports[0].port: Invalid value: 70000" in text
    assert text.endswith("(nothing was applied: a batch is all or nothing)")
    # the valid first document was not applied
    assert _made(objects.get(client, "configmaps")) == []


def test_unknown_fields_and_empty_input_are_refused_before_anything_is_applied(client, tmp_path):
    typo = (CM % "typo").replace("data: {a", "dta: {a")
    message = objects.refusal(client, typo)
    assert "strict decoding error" in message and 'unknown field "dta"' in message
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing\n")
    with pytest.raises(LabError, match="error: no objects passed to apply"):
        objects.apply(client, str(empty))
    with pytest.raises(LabError, match="does not exist"):
        objects.apply(client, "missing.yml")


def test_refusal_of_something_acceptable_is_empty_and_applies_it(client):
    assert objects.refusal(client, CM % "fine") == ""
    assert _made(objects.get(client, "cm")) == ["fine"]


def _made(configmaps: list[dict]) -> list[str]:
    """The ConfigMaps' names but the CA every namespace holds (kube-root-ca.crt)."""
    return [n for o in configmaps if (n := o["metadata"]["name"]) != "kube-root-ca.crt"]


# --- get and its printers --------------------------------------------------------------------


def test_get_lists_as_a_kubectl_table_and_names_one_object(client):
    objects.apply(client, [SERVICE, configmap("sys", "kube-system")])
    services = objects.get(client, "svc")
    assert isinstance(services, Listing)
    rows = str(services).splitlines()
    assert rows[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert [r.split()[0] for r in rows[1:]] == ["kubernetes", "web"]
    assert "<table>" in services._repr_html_() and "<td style='text-align:left'>web</td>" in (
        services._repr_html_()
    )
    one = objects.get(client, "services", "web")
    assert one["spec"]["ports"][0]["targetPort"] == 8080
    everywhere = str(objects.get(client, "cm", all_namespaces=True)).splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert ["kube-system", "sys"] in [r.split()[:2] for r in everywhere[1:]]


def test_get_by_selector_and_unknown_kinds(client):
    objects.apply(client, [configmap("a", labels={"tier": "front"}), configmap("b")])
    assert [o["metadata"]["name"] for o in objects.get(client, "cm", selector="tier=front")] == [
        "a"
    ]
    with pytest.raises(LabError, match='the server doesn\'t have a resource type "pdos"'):
        objects.get(client, "pdos")
    with pytest.raises(ApiError, match='configmaps "zzz" not found'):
        objects.get(client, "cm", "zzz")


def test_an_empty_listing_says_where_it_looked():
    pods = by_kind_name("Pod")
    assert str(Listing("Pod", [])) == "No resources found."  # Lab.get: as before
    assert str(Listing("Pod", [], namespace="web")) == "No resources found in web namespace."
    assert objects.no_resources(pods, "x", all_namespaces=True) == (
        "No resources found in any namespace."
    )
    assert objects.no_resources(by_kind_name("Node"), "default") == "No resources found."


def test_get_listing_and_the_output_formats(client):
    objects.apply(client, [SERVICE, CM % "c"])
    named = objects.get_listing(client, "svc", ["web"])
    assert yaml.safe_load(objects.printed(named, "yaml", single=True))["metadata"]["name"] == "web"
    as_list = json.loads(objects.printed(objects.get_listing(client, "svc", []), "json"))
    assert (as_list["kind"], as_list["apiVersion"]) == ("List", "v1")
    assert [i["metadata"]["name"] for i in as_list["items"]] == ["kubernetes", "web"]
    assert objects.printed(objects.get_listing(client, "deploy", []), "name") == ""
    names = objects.printed(objects.get_listing(client, "cm", ["c"]), "name")
    assert names == "configmap/c\n"
    assert objects.printed(named, None).splitlines()[0].split()[-1] == "AGE"
    wide = objects.printed(objects.get_listing(client, "svc", ["web"], wide=True), "wide")
    assert wide.splitlines()[0].split()[-1] == "SELECTOR" and wide.endswith("\n")
    nothing = objects.get_listing(client, "pods", [], "quiet")
    assert objects.printed(nothing, None) == ""
    assert nothing.empty_message() == "No resources found in quiet namespace."


def test_names_and_kinds_as_kubectl_writes_them():
    assert objects.split_kind("svc/web", ["db"]) == ("svc", ["web", "db"])
    assert objects.split_kind("pods", []) == ("pods", [])
    assert objects.kind_name(by_kind_name("Deployment")) == "deployment.apps"
    assert objects.resource_name(configmap("c")) == "configmap/c"


# --- describe --------------------------------------------------------------------------------


def test_describe_a_service_with_its_endpoints_and_every_object_of_a_kind(client):
    objects.apply(client, SERVICE)
    client.create({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"name": "http", "port": 8080}]}],
    })  # fmt: skip
    text = objects.describe(client, "svc", "web")
    assert "Name:             web" in text and "Endpoints:        10.244.1.5:8080" in text
    both = objects.describe_all(client, "services")
    assert both.count("Name:") == 2 and "\n\nName:             web" in both


# --- delete ----------------------------------------------------------------------------------


def test_delete_by_names_selector_and_file(client, tmp_path):
    objects.apply(client, [configmap(n, labels={"app": "x"}) for n in ("a", "b", "c")])
    assert objects.delete(client, "cm", ["a"]) == ['configmap "a" deleted']
    assert objects.delete(client, "cm", [], selector="app=x") == [
        'configmap "b" deleted',
        'configmap "c" deleted',
    ]
    assert objects.delete(client, "cm", [], selector="app=x") == [
        "No resources found in default namespace."
    ]
    f = tmp_path / "svc.yml"
    f.write_text(SERVICE)
    objects.apply(client, str(f))
    assert objects.delete(client, filename=str(f)) == ['service "web" deleted']


def test_delete_follows_kubectls_rules_for_what_may_be_combined(client):
    objects.apply(client, configmap("a"))
    with pytest.raises(LabError, match="you must provide one or more resources"):
        objects.delete(client)
    with pytest.raises(LabError, match="no name was specified"):
        objects.delete(client, "cm", [])
    with pytest.raises(LabError, match="name cannot be provided when a selector is specified"):
        objects.delete(client, "cm", ["a"], selector="app=x")
    with pytest.raises(ApiError, match='configmaps "nope" not found'):
        objects.delete(client, "cm/nope")
    assert objects.delete(client, "cm/a") == ['configmap "a" deleted']


def test_deleting_a_namespace_scoped_and_a_cluster_scoped_kind(client, api):
    api.registry.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}})
    objects.apply(client, configmap("in-lab", "lab"))
    assert objects.delete(client, "cm", ["in-lab"], "lab") == ['configmap "in-lab" deleted']
    assert objects.delete(client, "ns", ["lab"], "default") == ['namespace "lab" deleted']


# --- run -------------------------------------------------------------------------------------


def test_kubectl_runs_pod():
    pod = objects.run_pod("probe", "busybox", ["nslookup", "web"], restart="Never")
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "namespace": "default", "labels": {"run": "probe"}},
        "spec": {
            "containers": [{"name": "probe", "image": "busybox", "args": ["nslookup", "web"]}],
            "restartPolicy": "Never",
        },
    }
    full = objects.run_pod("web", "nginx", ["sh", "-c", "x"], as_command=True,
                           env=["A=1", "B=x=y"], labels="app=web,tier=front", port=80,
                           namespace="shop")  # fmt: skip
    (c,) = full["spec"]["containers"]
    assert c["command"] == ["sh", "-c", "x"] and "args" not in c
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"}]
    assert c["ports"] == [{"containerPort": 80}]
    assert full["metadata"] == {"name": "web", "namespace": "shop",
                                "labels": {"app": "web", "tier": "front"}}  # fmt: skip
    assert "command" not in objects.run_pod("idle", "pause")["spec"]["containers"][0]


def test_create_says_what_it_made_and_the_api_accepts_runs_pod(client):
    assert objects.create(client, objects.run_pod("probe", "busybox", ["true"])) == (
        "pod/probe created"
    )
    assert objects.get(client, "pods", "probe")["spec"]["containers"][0]["args"] == ["true"]
