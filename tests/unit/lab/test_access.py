"""Inside pods and hosts (lab_kit.lab.access, through `Lab`): hosts and pods found through
the run dir's records, commands with the container's environment, logs per run. Entering
namespaces needs root, so `FakePods` runs the command here instead."""

from __future__ import annotations

import sys

import pytest
from lab_fixtures import FakePods, pod, ready_status, seed_pod, write_hosts, write_sandbox

from lab_kit.lab import access
from lab_kit.lab.errors import LabError
from lab_kit.model.kinds import by_kind_name

DIG = """;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 7
;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1

;; ANSWER SECTION:
web.default.svc.cluster.local. 5 IN A 10.96.0.12

;; SERVER: 10.96.0.10#53(10.96.0.10) (UDP)
"""


@pytest.fixture
def web(api, rundir):
    """A running pod `web` (containers main and side) with its sandbox record and logs."""
    obj = seed_pod(api, pod("web", containers=("main", "side")), status=ready_status())
    write_sandbox(rundir, obj, logs={"main": ["first run\n", "second run\n"], "side": ["s\n"]})
    return obj


@pytest.fixture
def pods(monkeypatch) -> FakePods:
    return FakePods({"dig": DIG}).install(monkeypatch)


def test_hosts_are_entered_by_the_pid_the_network_recorded(rundir):
    write_hosts(rundir, {"node1": {"pid": 101, "role": "node", "ip": "172.18.0.2"}})
    assert access.host_argv("node1", ["ip", "route"]) == [
        "nsenter", "--net=/proc/101/ns/net", "--mount=/proc/101/ns/mnt", "ip", "route",
    ]  # fmt: skip
    with pytest.raises(LabError, match=r'no host "node9" in this lab \(hosts: node1\)'):
        access.run_on_host("node9", ["true"])


def test_a_pod_is_found_by_its_sandbox_record(lab, api, rundir, web):
    assert lab.sandbox("web")["pause"]["pid"] == 4242
    api.registry.create(pod("pending"))
    with pytest.raises(LabError, match="pod pending is not scheduled yet"):
        lab.sandbox("pending")
    seed_pod(api, pod("unstarted"), status=ready_status())
    with pytest.raises(LabError, match="no running sandbox on any node"):
        lab.sandbox("unstarted")


def test_exec_runs_with_the_containers_environment(lab, web, pods, capsys):
    out = lab.exec("web", "sh", "-c", "echo $POD; cat", stdin="in\n", echo=True)
    assert (out.returncode, out.stdout) == (0, "web\nin\n")
    assert capsys.readouterr().out == "web$ sh -c 'echo $POD; cat'\n"
    pid, argv, caps = pods.calls[0]  # into the first container, with its capabilities
    assert (pid, argv, caps) == (4243, ["sh", "-c", "echo $POD; cat"], ["CHOWN", "KILL"])
    side = lab.exec("web", "sh", "-c", "exit 3", container="side")
    assert side.returncode == 3 and str(side) == ""


def test_the_books_ash_runs_this_machines_sh(lab, web, pods):
    """`kubectl exec -it POD -- ash` (Alpine's busybox shell) as the book types it."""
    out = lab.exec("web", "ash", "-c", "echo from-ash")
    assert pods.calls[0][1] == ["sh", "-c", "echo from-ash"] and out.returncode == 0


def test_exec_of_a_missing_program_or_container_says_so_as_kubectl_does(lab, web, pods):
    missing = lab.exec("web", "no-such-program-here")
    assert missing.returncode == 127
    assert 'exec: "no-such-program-here": executable file not found in $PATH' in missing.stderr
    with pytest.raises(LabError, match="container db is not valid for pod web"):
        lab.exec("web", "true", container="db")


def test_exec_past_its_timeout_is_killed(client, web, pods):
    slow = access.exec_in_pod(client, "web", [sys.executable, "-c", "import time; time.sleep(30)"],
                              timeout_s=0.2)  # fmt: skip
    assert slow.returncode != 0


def test_dig_in_a_pod_reads_the_answer(lab, web, pods, capsys):
    answer = lab.dig("web", "web", "+search", echo=True)
    assert answer.status == "NOERROR" and answer.addresses == ["10.96.0.12"]
    assert pods.calls[0][1] == ["dig", "+time=2", "+tries=2", "+search", "web", "A"]
    assert capsys.readouterr().out == "web$ dig +search web A\n"
    lab.dig("web", "10.244.1.5", "-x", qtype="PTR")  # as lab 10 asks for a pod's name
    assert pods.calls[1][1][-3:] == ["-x", "10.244.1.5", "PTR"]


def test_requests_from_a_pod_one_answer_per_line(lab, web, pods):
    pods.outputs["sh"] = "a\nERR\nb\n"
    assert lab.requests("web", "http://web/", 3, stamp=True) == ["a", "ERR", "b"]
    (script,) = pods.calls[0][1][2:]
    assert script.startswith('for i in $(seq 3); do printf "%s " "$(date +%s.%N)"; ')
    assert "curl -s -m 2 http://web/ || printf ERR" in script


def test_logs_of_this_run_and_the_previous_one(lab, web):
    assert lab.logs("web") == "second run\n"
    assert lab.logs("web", previous=True) == "first run\n"
    assert lab.logs("web", container="side") == "s\n"
    with pytest.raises(
        LabError, match='previous terminated container "side" in pod "web" not found'
    ):
        lab.logs("web", container="side", previous=True)
    with pytest.raises(LabError, match="container db is not valid for pod web"):
        lab.logs("web", container="db")


def test_agnhost_on_a_host_runs_the_built_in_workload():
    argv = access.agnhost_argv(["netexec", "--http-port=80"])
    assert argv[-2:] == ["netexec", "--http-port=80"] and argv[-3].endswith("agnhost.py")
    with pytest.raises(LabError, match="agnhost connect web:80: CreateContainerError: .*built in"):
        access.agnhost_argv(["connect", "web:80"])  # a real subcommand, not built in


def test_logs_tail_and_follow_until_the_container_ends(client, web, api, rundir):
    path = access.log_file(client, "web", container="main")
    path.write_text("one\ntwo\nthree\n")
    assert access.logs(client, "web", container="main", tail=2) == "two\nthree\n"
    assert access.logs(client, "web", container="main", tail=0) == ""
    written: list[str] = []

    def write(text: str) -> None:  # the container writes a line, then its pod goes
        written.append(text)
        if len(written) == 1:
            with path.open("a") as f:
                f.write("four\n")
        if len(written) == 2:
            api.client().delete(by_kind_name("Pod"), "web", "default", grace_period_s=0)

    access.follow_logs(client, "web", container="main", tail=1, write=write, poll_s=0.01)
    assert written == ["three\n", "four\n"]
