"""`labkit` takes its arguments in the orders kubectl (cobra) takes them, and `apply --wait`
reports what it waited for; in-process against the real API, no root."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from cli_result import Result

from lab_kit.cli import main as cli
from lab_kit.lab import access
from lab_kit.lab.access import Completed

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}


def service(name: str, namespace: str = "shop") -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}  # fmt: skip


def configmap(name: str, namespace: str = "shop") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": {"a": "b"}}  # fmt: skip


@pytest.fixture
def shop(api):
    """Namespace shop with Services web and db and ConfigMap settings."""
    api.registry.apply([NS, service("web"), service("db"), configmap("settings")])


def names(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:] if line]


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "svc", "-n", "shop", "web"],
        ["get", "-n", "shop", "svc", "web"],
        ["get", "svc", "web", "-n", "shop"],
        ["-n", "shop", "get", "svc", "web"],
        ["--namespace=shop", "get", "svc", "web"],
        ["get", "svc", "--namespace", "shop", "web"],
        ["get", "-nshop", "svc/web"],
        ["get", "svc/web", "--namespace=shop"],
    ],
)
def test_get_takes_options_before_between_and_after_the_names(labkit, shop, argv):
    r = labkit(*argv)
    assert r.code == 0 and r.err == "" and names(r.out) == ["web"]


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "svc", "web", "-n", "shop", "-o", "yaml"],
        ["get", "-o", "yaml", "svc", "-n", "shop", "web"],
        ["get", "-oyaml", "-n", "shop", "svc/web"],
        ["get", "svc", "-o=yaml", "web", "-n=shop"],
        ["get", "--output=yaml", "-n", "shop", "service/web"],
    ],
)
def test_output_format_anywhere(labkit, shop, argv):
    r = labkit(*argv)
    assert r.code == 0 and yaml.safe_load(r.out)["metadata"]["name"] == "web"  # one, not a List


def test_several_kinds_and_kind_name_forms(labkit, shop):
    assert names(labkit("get", "svc/web", "svc/db", "-n", "shop").out) == ["web", "db"]
    both = labkit("get", "services,configmaps", "-n", "shop").out.split("\n\n")
    assert names(both[0]) == ["db", "web"] and names(both[1]) == ["kube-root-ca.crt", "settings"]
    mixed = json.loads(labkit("get", "-n", "shop", "svc/web", "cm/settings", "-o", "json").out)
    assert mixed["kind"] == "List" and [i["kind"] for i in mixed["items"]] == [
        "Service", "ConfigMap",
    ]  # fmt: skip
    assert labkit("get", "-n", "shop", "svc/web", "cm/settings", "-o", "name").out == (
        "service/web\nconfigmap/settings\n"
    )
    assert labkit("get", "-n", "shop", "svc", "svc/web") == Result(
        1, "", cli.objects.RESOURCE_NAME_TYPE + "\n"
    )
    assert labkit("get", "-n", "shop", "svc/web", "db").err == (
        "error: arguments in resource/name form must have a single resource and name\n"
    )


def test_describe_and_delete_in_kubectls_orders(labkit, shop):
    one = labkit("describe", "-n", "shop", "svc", "web")
    assert one.code == 0 and one.out.startswith("Name:             web\n")
    assert labkit("describe", "svc/web", "-n", "shop").out == one.out
    assert labkit("-n", "shop", "describe", "service", "web").out == one.out
    two = labkit("describe", "-n", "shop", "svc/web", "svc/db").out
    assert two.count("Name:   ") == 2 and "\n\nName:" in two
    gone = labkit("delete", "-n", "shop", "svc/web", "cm/settings")
    assert gone == Result(0, 'service "web" deleted\nconfigmap "settings" deleted\n', "")
    assert labkit("delete", "svc", "db", "-n", "shop").out == 'service "db" deleted\n'


def test_exec_and_logs_take_pod_slash_name_and_options_anywhere(labkit, monkeypatch):
    asked: list[tuple] = []

    def exec_in_pod(client, pod, argv, namespace, container, **_):
        asked.append((pod, argv, namespace, container))
        return Completed(argv, 0, "ok\n", "")

    monkeypatch.setattr(access, "exec_in_pod", exec_in_pod)
    monkeypatch.setattr(access, "logs", lambda c, pod, ns, *_: asked.append((pod, ns)) or "")
    assert (
        labkit("exec", "-n", "kube-system", "pod/dns", "-c", "main", "--", "ls", "-l").out == "ok\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert labkit("-n", "shop", "exec", "-it", "web", "--", "sh").code == 0
    assert labkit("logs", "po/web", "-n", "shop").code == 0
    assert asked == [("dns", ["ls", "-l"], "kube-system", "main"), ("web", ["sh"], "shop", None),
                     ("web", "shop")]  # fmt: skip
    assert labkit("logs", "svc/web").err == (
        'error: labkit takes a pod here (POD or pod/POD), not "svc/web"\n'
    )


def test_usage_errors_still_name_the_command(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["get", "svc", "--bogus"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: labkit get") and "unrecognized arguments: --bogus" in err
    with pytest.raises(SystemExit):
        cli.main(["apply", "--wait"])  # -f is required
    assert "the following arguments are required: -f/--filename" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, seconds", [("60", 60), ("2.5", 2.5), ("90s", 90), ("2m", 120), ("1m30s", 90),
                      ("500ms", 0.5), ("1h", 3600)],
)  # fmt: skip
def test_timeouts_as_kubectl_writes_them(text, seconds):
    assert cli.duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "m", "1m 30s", "-s"])
def test_bad_timeouts_are_refused(text):
    with pytest.raises(cli.argparse.ArgumentTypeError, match="invalid duration"):
        cli.duration(text)


def test_apply_wait_says_why_a_pod_will_not_become_ready_at_once(labkit, api, tmp_path):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nope:1"}]}}  # fmt: skip
    api.registry.apply([pod])  # created before: the kubelet found no such image
    stored = api.registry.store.get("Pod", "default", "p")
    status = {"phase": "Pending", "containerStatuses": [{"name": "c", "state": {"waiting": {
        "reason": "InvalidImageName", "message": 'no image "nope:1" in the lab'}}}]}  # fmt: skip
    api.registry.update({**stored, "status": status}, subresource="status")
    pod["metadata"]["labels"] = {"try": "2"}  # the apply changes it: --wait waits for it
    (tmp_path / "p.json").write_text(json.dumps(pod))
    r = labkit("apply", "-f", str(tmp_path / "p.json"), "--wait", "--timeout", "1h")
    assert r == Result(
        1,
        "pod/p configured\n",
        'error: pod "p" will not become Ready: container "c" is waiting: InvalidImageName: '
        'no image "nope:1" in the lab\n',
    )


def test_apply_help_says_what_wait_waits_for(capsys):
    with pytest.raises(SystemExit):
        cli.main(["apply", "--help"])
    out = capsys.readouterr().out
    assert "--wait (lab_kit's own" in out and "Pods this\napply left untouched" in out
