"""`labkit cli`: the interactive shell sends labkit commands to `main` and runs anything
else on the host it names, found in the run dir's network record."""

from __future__ import annotations

import pytest

from lab_kit.cli import shell
from lab_kit.cli.shell import LabShell
from lab_kit.lab.access import Completed


@pytest.fixture
def hosts(rundir):
    rundir.write_network({"hosts": {"node1": {"pid": 11, "role": "node", "ip": "172.18.0.2"},
                                    "client": {"pid": 12, "role": "client", "ip": "192.0.2.10"}}})  # fmt: skip


def test_labkit_commands_go_to_main_and_usage_errors_do_not_end_the_shell(rundir):
    seen: list[list[str]] = []

    def main(argv: list[str]) -> int:
        seen.append(argv)
        if argv[0] == "run":
            raise SystemExit(2)  # what argparse does on a usage error
        return 0

    sh = LabShell(main)
    assert not sh.onecmd("get pods -o wide")
    assert not sh.onecmd("run")
    assert seen == [["get", "pods", "-o", "wide"], ["run"]]


def test_a_host_word_runs_the_rest_on_that_host(hosts, monkeypatch, capsys):
    ran: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(shell.access, "run_on_host",
                        lambda host, argv, **_: ran.append((host, argv)) or Completed(argv, 0, "", ""))  # fmt: skip
    sh = LabShell(lambda argv: 0)
    sh.onecmd("node1 ip route")
    sh.onecmd("client")
    sh.onecmd("mars ping")
    sh.onecmd("hosts")
    sh.onecmd('node1 echo "unbalanced')
    out = capsys.readouterr().out.splitlines()
    assert ran == [("node1", ["ip", "route"])]
    assert out[0] == "usage: client COMMAND [ARGS...]"
    assert out[1].startswith(
        "unknown command or host: mars (hosts: client, node1; commands: addons"
    )
    assert [line.split() for line in out[2:4]] == [
        ["client", "client", "192.0.2.10"], ["node1", "node", "172.18.0.2"],
    ]  # fmt: skip
    assert out[4] == "error: No closing quotation"
    assert sh.onecmd("exit") is True and sh.onecmd("") is False
