"""`labkit` as a user types it, run in-process against the real API (no root, no lab):
every command's help, kubectl's tables, formats and messages, apply's all-or-nothing error,
delete's rules, `run`'s Pod, the addon commands and `status` from the run dir's records."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import yaml
from cli_result import Result

from lab_kit.adapters import processes
from lab_kit.adapters.processes import ProcessRecord
from lab_kit.cli import main as cli
from lab_kit.lab import access, lifecycle, waiting

SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, labels: {app: x}}\ndata: {a: b}\n"
VERBS = ["up", "down", "status", "clean", "addons", "apply", "get", "describe", "delete",
         "exec", "host", "logs", "run", "trace", "cli"]  # fmt: skip


@pytest.fixture
def manifests(tmp_path):
    (tmp_path / "svc.yml").write_text(SERVICE)
    (tmp_path / "cms.yml").write_text(CM % "a" + "---\n" + CM % "b")
    return tmp_path


@pytest.fixture
def sleeper():
    """A process of our own that a lab record can point at (alive, and harmless to stop)."""
    proc = subprocess.Popen(["sleep", "60"])
    yield ProcessRecord("apiserver", proc.pid, processes.start_ticks(proc.pid) or 0, [])
    proc.kill()
    proc.wait()


def save_state(rundir, record: ProcessRecord, addons: list[str]) -> None:
    lifecycle.LabState(rundir.path, 0.0, [record], addons, phase="running").save()


# --- help ------------------------------------------------------------------------------------


def test_help_lists_every_command_with_examples(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "examples:" in out
    assert all(f"    {verb} " in out for verb in VERBS)


@pytest.mark.parametrize("argv", [[v, "--help"] for v in VERBS] + [["addons", "list", "--help"]])
def test_every_subcommand_has_help(argv, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 0 and capsys.readouterr().out.startswith("usage: labkit")


def test_arguments_after_double_dash_are_only_for_commands_that_run_one(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["get", "pods", "--", "extra"])
    assert (
        done.value.code == 2 and "unexpected arguments after --: extra" in capsys.readouterr().err
    )


# --- objects ---------------------------------------------------------------------------------


def test_empty_answers_say_where_they_looked_on_stderr(labkit):
    assert labkit("get", "pods") == Result(0, "", "No resources found in default namespace.\n")
    assert labkit("get", "deploy", "-A").err == "No resources found in any namespace.\n"
    assert labkit("get", "pods", "-n", "shop", "-o", "wide").err == (
        "No resources found in shop namespace.\n"
    )
    assert labkit("get", "nodes").err == "No resources found.\n"
    assert labkit("get", "pods", "-o", "name") == Result(0, "", "")


def test_apply_then_get_in_every_format(labkit, manifests):
    applied = labkit("apply", "-f", str(manifests / "svc.yml"), "-f", str(manifests / "cms.yml"))
    assert applied.out.splitlines() == [
        "service/web created", "configmap/a created", "configmap/b created",
    ]  # fmt: skip
    table = labkit("get", "svc").out.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert [r.split()[0] for r in table[1:]] == ["kubernetes", "web"]
    one = json.loads(labkit("get", "svc", "web", "-o", "json").out)
    assert one["kind"] == "Service" and one["spec"]["ports"][0]["targetPort"] == 8080
    both = yaml.safe_load(labkit("get", "cm", "a", "b", "-o", "yaml").out)
    assert both["kind"] == "List" and [i["metadata"]["name"] for i in both["items"]] == ["a", "b"]
    assert labkit("get", "cm", "-l", "app=x", "-o", "name").out == "configmap/a\nconfigmap/b\n"
    assert labkit("get", "svc/web").out.splitlines()[1].split()[:2] == ["web", "ClusterIP"]
    assert labkit("get", "svc", "-o", "wide").out.splitlines()[0].split()[-1] == "SELECTOR"


def test_get_errors_as_kubectl_words_them(labkit):
    assert labkit("get", "pdos") == Result(
        1, "", 'error: the server doesn\'t have a resource type "pdos"\n'
    )
    assert labkit("get", "svc", "nope") == Result(
        1, "", 'Error from server (NotFound): services "nope" not found\n'
    )


def test_apply_is_all_or_nothing_and_names_file_document_and_field(labkit, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(CM % "fine" + "---\n" + SERVICE.replace("port: 80", "port: 0"))
    r = labkit("apply", "-f", str(bad))
    assert r.code == 1 and r.out == ""
    assert r.err.startswith(
        f'Error from server (Invalid): error when applying "{bad}", document 2 of 2'
    )
    assert "spec.ports[0].port: Invalid value: 0" in r.err
    assert "nothing was applied" in r.err
    assert labkit("get", "cm", "fine").code == 1  # not created


def test_apply_from_stdin_dry_run_and_wait(labkit, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(CM % "c"))
    dry = labkit("apply", "-f", "-", "--dry-run=server")
    assert dry.out == "configmap/c created (server dry run)\n"
    assert labkit("get", "cm", "c").code == 1  # not created
    monkeypatch.setattr("sys.stdin", io.StringIO(CM % "c"))
    assert (
        labkit("apply", "-f", "-", "--wait").out == "configmap/c created\n"
    )  # no pods to wait for
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(pod)))
    late = labkit("apply", "-f", "-", "--wait", "--timeout", "0s")
    assert late == Result(
        1,
        'pod/p created\nWaiting for pod "p" to be Ready (Pending)...\n',
        'error: timed out after 0 s waiting for pod "p" to be Ready (Pending)\n',
    )


def test_describe_one_or_every_object_of_a_kind(labkit, manifests):
    labkit("apply", "-f", str(manifests))
    one = labkit("describe", "svc", "web").out
    assert one.startswith("Name:             web\n") and "TargetPort:       8080/TCP" in one
    every = labkit("describe", "configmaps").out
    assert every.count("Name:") == 3 and "\n\nName:" in every  # and kube-root-ca.crt
    assert labkit("describe", "svc/web").out == one


def test_delete_by_names_selector_and_file(labkit, manifests):
    labkit("apply", "-f", str(manifests))
    assert labkit("delete", "-f", str(manifests / "svc.yml")).out == 'service "web" deleted\n'
    assert labkit("delete", "cm", "a").out == 'configmap "a" deleted\n'
    assert labkit("delete", "cm", "-l", "app=x").out == 'configmap "b" deleted\n'
    assert labkit("delete", "cm", "-l", "app=x").out == "No resources found in default namespace.\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["delete"], "error: you must provide one or more resources by argument or filename"),
        (["delete", "pods"], "error: resource(s) were provided, but no name was specified"),
        (["delete", "pods", "a", "-l", "x=y"], "error: name cannot be provided when a selector"),
        (["exec", "web"], "error: you must specify at least one command (after --)"),
        (["trace", "node1", "10.0.0.1", "10.96.0.1:http"], 'invalid destination "10.96.0.1:http"'),
        (["trace", "node1", "10.0.0.1", "10.96.0.1"], "tcp needs a destination port"),
        (["logs", "nope"], 'Error from server (NotFound): pods "nope" not found'),
    ],
)
def test_usage_errors_exit_1_with_kubectls_words(labkit, argv, message):
    r = labkit(*argv)
    assert r.code == 1 and message in r.err and r.out == ""


def test_trace_destinations():
    assert cli.parse_destination("10.96.0.10:53", "udp") == ("10.96.0.10", 53)
    assert cli.parse_destination("10.96.0.1", "icmp") == ("10.96.0.1", None)


def test_run_creates_kubectls_pod(labkit):
    r = labkit("run", "probe", "--image", "busybox", "--restart", "Never", "--env", "A=1",
               "-l", "app=probe,tier=x", "--port", "8080", "--command", "--", "sh", "-c", "env")  # fmt: skip
    assert r == Result(0, "pod/probe created\n", "")
    created = json.loads(labkit("get", "pod", "probe", "-o", "json").out)
    assert created["metadata"]["labels"] == {"app": "probe", "tier": "x"}
    (c,) = created["spec"]["containers"]
    assert (c["name"], c["command"], c["env"]) == (
        "probe",
        ["sh", "-c", "env"],
        [{"name": "A", "value": "1"}],
    )
    assert c["ports"][0]["containerPort"] == 8080 and created["spec"]["restartPolicy"] == "Never"


def test_run_interactively_waits_shows_the_output_and_removes_the_pod(labkit, monkeypatch):
    # The pod runs nowhere here (no kubelet): stand in for its end and its log.
    monkeypatch.setattr(waiting, "wait_pod_finished", lambda client, name, ns, timeout: 3)
    monkeypatch.setattr(access, "logs", lambda client, name, ns: "hello\n")
    r = labkit("run", "-i", "--rm", "once", "--image", "busybox", "--", "echo", "hello")
    assert r == Result(3, 'pod/once created\nhello\npod "once" deleted\n', "")
    assert labkit("get", "pods").err.startswith("No resources found")


def test_run_interactively_gives_up_after_its_timeout(labkit):
    r = labkit("run", "-i", "slow", "--image", "busybox", "--timeout", "0")
    assert r.code == 1 and "timed out after 0 s waiting for pod slow to finish (Pending)" in r.err


def test_commands_without_a_lab_say_so(rundir, capsys):
    assert cli.main(["get", "pods"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: no lab is running (no API server at {rundir.socket})")
    assert "`labkit up`" in err


# --- the lab itself --------------------------------------------------------------------------


def test_status_down_and_clean_with_no_lab(labkit):
    assert labkit("status") == Result(1, "No lab is running.\n", "")
    assert labkit("down") == Result(0, "No lab is running.\n", "")
    assert labkit("clean") == Result(0, "Nothing to clean.\n", "")


def test_status_of_a_crashed_lab_lists_its_processes_addons_and_what_is_wrong(labkit, rundir):
    save_state(rundir, ProcessRecord("apiserver", 2**22 + 1, 1, []), ["coredns"])
    r = labkit("status")
    assert r.code == 1
    assert r.out.splitlines() == [
        f"Lab NOT running (crashed? `labkit clean`) (run dir {rundir.path})",
        "PROCESS     PID       STATUS   RESTARTS   LAST SYNC",
        f"apiserver   {2**22 + 1}   Dead     0          -",
        "Addons: coredns",
        "Problems:",
        "  apiserver is not running: nothing can be read or changed (the agents wait for it)",
    ]


def test_status_of_a_running_lab(labkit, api, rundir, sleeper, monkeypatch):
    monkeypatch.setattr(lifecycle, "api_client", lambda rd, **_: api.client())
    save_state(rundir, sleeper, [])
    r = labkit("status")
    assert r.code == 0 and r.out.splitlines()[0] == f"Lab running (run dir {rundir.path})"
    assert r.out.splitlines()[2].split() == ["apiserver", str(sleeper.pid), "Running", "0", "-"]
    assert "Addons: none" in r.out and "every agent has applied it" in r.out


def test_status_of_a_lab_whose_api_server_does_not_answer(labkit, rundir, sleeper):
    save_state(rundir, sleeper, [])  # alive, but no socket: it answers nothing
    r = labkit("status")
    assert r.code == 1
    assert f"  the API server (pid {sleeper.pid}) does not answer" in r.out


def test_commands_name_the_real_problem_when_the_api_server_is_gone(rundir, sleeper, capsys):
    assert cli.main(["get", "pods"]) == 1  # no records at all
    assert capsys.readouterr().err == (
        f"error: no lab is running (no API server at {rundir.socket}); start one with `labkit up`\n"
    )
    save_state(rundir, ProcessRecord("apiserver", 2**22 + 1, 1, []), [])
    assert cli.main(["get", "pods"]) == 1
    assert capsys.readouterr().err.startswith(
        f"error: the API server is not running (pid {2**22 + 1} exited); `labkit status`"
    )
    save_state(rundir, sleeper, [])  # alive, silent
    assert cli.main(["get", "pods"]) == 1
    assert capsys.readouterr().err == (
        f"error: the API server is not answering (apiserver pid {sleeper.pid} is alive but does "
        "not answer within 5 s: frozen?); `labkit status`\n"
    )


def test_status_into_a_closed_pipe_is_no_traceback(rundir):
    save_state(rundir, ProcessRecord("apiserver", 2**22 + 1, 1, []), [])
    env = {**os.environ, "LABKIT_RUN_DIR": rundir.path}
    shell = "python -m lab_kit.cli.main status | head -1; exit ${PIPESTATUS[0]}"
    code = "import sys; from lab_kit.cli.main import main; sys.exit(main(['status']))"
    done = subprocess.run(
        ["bash", "-c", shell.replace("python -m lab_kit.cli.main status", f'{sys.executable} -c "{code}"')],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.stdout.startswith("Lab NOT running") and done.stdout.count("\n") == 1
    assert done.stderr == ""


def test_addons_list_says_which_the_running_lab_has(labkit, rundir, sleeper):
    rows = labkit("addons", "list").out.splitlines()
    assert rows[0].split() == ["NAME", "STATUS", "DESCRIPTION"]
    assert rows[1].split()[:3] == ["coredns", "disabled", "cluster"]  # no lab: none enabled
    save_state(rundir, sleeper, ["coredns"])
    assert labkit("addons", "list").out.splitlines()[1].split()[:2] == ["coredns", "enabled"]


def test_enabling_what_is_enabled_and_disabling_what_is_not(labkit, rundir, sleeper):
    save_state(rundir, sleeper, ["coredns"])
    assert labkit("addons", "enable", "coredns") == Result(
        0, 'addon "coredns" is already enabled\n', ""
    )
    save_state(rundir, sleeper, [])
    assert labkit("addons", "disable", "coredns") == Result(
        0, 'addon "coredns" is not enabled\n', ""
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["up", "--addons", "coredns,nope"],
        ["addons", "enable", "nope"],
        ["addons", "disable", "nope"],
    ],
)
def test_unknown_addons_are_refused_naming_the_known_ones(labkit, rundir, argv):
    r = labkit(*argv)
    assert r == Result(1, "", 'error: no addon "nope" (addons: coredns, ingress, knative)\n')
    assert not os.path.exists(rundir.state_file)  # refused before anything was made


def test_addon_commands_and_up_need_the_right_lab(labkit):
    r = labkit("addons", "enable", "coredns")
    assert r.code == 1 and r.err.startswith("error: no lab is running")
    up = labkit("up", "--topology", "nowhere")
    assert up.code == 1 and 'error: no topology "nowhere"' in up.err


def test_up_passes_the_addons_asked_for(labkit, monkeypatch):
    asked: dict = {}

    def up(topology, control_plane_only=False, addons=None):
        asked.update(topology=topology, control_plane_only=control_plane_only, addons=addons)

    monkeypatch.setattr(lifecycle, "up", up)
    r = labkit("up", "--addons", "coredns", "--control-plane-only")
    assert r.code == 0 and "Lab ready in" in r.out
    assert asked == {"topology": None, "control_plane_only": True, "addons": ["coredns"]}
