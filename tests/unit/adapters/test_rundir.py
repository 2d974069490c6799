"""The run directory's layout lives in one place; entering a host names the hosts there are."""

from __future__ import annotations

import pytest

from lab_kit.adapters.rundir import NoSuchHost, RunDir


def test_layout(tmp_path):
    rd = RunDir(str(tmp_path))
    assert rd.socket == f"{tmp_path}/api/apiserver.sock"
    assert rd.log("kubelet/node1") == f"{tmp_path}/logs/kubelet-node1.log"
    assert rd.pod_dir("default", "web", "u1") == f"{tmp_path}/pods/default_web_u1"
    rd.make()
    assert (tmp_path / "logs").is_dir()
    assert rd.etcd == f"{tmp_path}/etcd"


def test_a_new_lab_starts_without_the_objects_an_old_one_left(tmp_path):
    rd = RunDir(str(tmp_path))
    (tmp_path / "etcd").mkdir()
    (tmp_path / "etcd" / "snapshot.json").write_text('{"resourceVersion": 9, "items": []}')
    rd.make()
    assert not (tmp_path / "etcd").exists()


def test_the_environment_picks_the_run_dir(monkeypatch):
    monkeypatch.setenv("LABKIT_RUN_DIR", "/tmp/lk-x")
    assert RunDir().path == "/tmp/lk-x"
    monkeypatch.delenv("LABKIT_RUN_DIR")
    assert RunDir().path == "/run/labkit"


def test_hosts_come_from_the_networks_record(tmp_path):
    rd = RunDir(str(tmp_path))
    with pytest.raises(NoSuchHost, match="hosts: none: is the lab up"):
        rd.host_pid("node1")
    rd.write_network({"hosts": {"node1": {"pid": 42, "role": "node"}, "client": {"pid": 7}}})
    assert rd.host_pid("node1") == 42
    assert rd.host_argv("node1", ["ip", "route"]) == [
        "nsenter", "--net=/proc/42/ns/net", "--mount=/proc/42/ns/mnt", "ip", "route",
    ]  # fmt: skip
    assert rd.host_argv("client", ["true"], mount=False) == [
        "nsenter",
        "--net=/proc/7/ns/net",
        "true",
    ]
    with pytest.raises(NoSuchHost, match='no host "node9" in this lab \\(hosts: client, node1\\)'):
        rd.host_pid("node9")


def test_sandbox_records_are_found_by_pod_uid(tmp_path):
    rd = RunDir(str(tmp_path))
    pod = tmp_path / "pods" / "default_web_abc"
    pod.mkdir(parents=True)
    (pod / "sandbox.json").write_text("{}")
    assert rd.sandbox_file("abc") == str(pod / "sandbox.json")
    assert rd.sandbox_file("zzz") is None
    assert rd.sandbox_files() == [str(pod / "sandbox.json")]
