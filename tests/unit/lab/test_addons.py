"""Addons as data: the list, its names, and installing, waiting for and removing one on the
real API (in-process)."""

from __future__ import annotations

import pytest
from lab_fixtures import ready_slice

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.lab import addon_install, lifecycle
from lab_kit.lab.addons import ADDONS, lookup, parse_names
from lab_kit.lab.errors import LabError
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.manifests import parse_manifests


def test_coredns_is_the_first_addon_and_installed_by_default():
    first = next(iter(ADDONS.values()))
    assert (first.name, first.namespace, first.default) == ("coredns", "kube-system", True)
    assert first.ready_services == ("kube-dns",)


@pytest.mark.parametrize("addon", list(ADDONS.values()), ids=list(ADDONS))
def test_every_addon_manifest_is_valid_for_the_api_and_names_its_ready_services(addon):
    docs = parse_manifests(addon.manifest.read_text(), str(addon.manifest))
    InProcessApi().client().apply([d.obj for d in docs], dry_run=True)  # the API accepts it
    services = {d.name for d in docs if d.obj["kind"] == "Service"}
    assert set(addon.ready_services) <= services
    assert {d.namespace for d in docs if d.namespace} <= {addon.namespace}


def test_names_are_checked():
    assert parse_names("coredns, ") == ["coredns"]
    with pytest.raises(KeyError, match='no addon "ingres" \\(addons: coredns'):
        parse_names("coredns,ingres")
    assert lookup("coredns").manifest.name == "coredns.yaml"


def test_apply_wait_and_remove_an_addon():
    api = InProcessApi()
    client = api.client()
    coredns = ADDONS["coredns"]
    addon_install.apply_addon(client, coredns)
    assert client.get(by_kind_name("Service"), "kube-dns", "kube-system")["spec"]["clusterIP"] == (
        "10.96.0.10"
    )
    with pytest.raises(LabError, match="addon coredns: Service kube-dns had no ready pod"):
        addon_install.wait_ready(client, coredns, timeout_s=0)
    client.create(ready_slice("kube-dns", "kube-system"))
    addon_install.wait_ready(client, coredns, timeout_s=5)  # a ready endpoint: returns
    gone = addon_install.remove_addon(client, coredns)
    assert gone == [
        "service/kube-dns", "deployment/coredns", "configmap/coredns", "serviceaccount/coredns"
    ]  # fmt: skip
    assert addon_install.remove_addon(client, coredns) == []  # already gone: nothing to say


def test_addon_commands_need_a_running_lab(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path))
    with pytest.raises(LabError, match="no lab is running"):
        lifecycle.enable_addon("coredns")
    with pytest.raises(KeyError):
        lifecycle.enable_addon("nope")
    assert lifecycle.addon_states() == [
        ("coredns", False, ADDONS["coredns"].description),
        ("ingress", False, ADDONS["ingress"].description),
        ("knative", False, ADDONS["knative"].description),
    ]
    assert lifecycle.status() == {"running": False, "run_dir": str(tmp_path)}
