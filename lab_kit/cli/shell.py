"""`labkit cli`: one prompt for the whole lab, with Mininet's and kubectl's habits.

labkit> node1 ip route            a command on a node or outside host (Mininet style)
labkit> client curl -s 172.18.0.2:32766
labkit> get pods -o wide          any labkit command, without the `labkit`
labkit> exec web -- env
"""

from __future__ import annotations

import cmd
import shlex
from collections.abc import Callable

from lab_kit.adapters.rundir import RunDir
from lab_kit.lab import access
from lab_kit.lab.errors import LabError

LABKIT_COMMANDS = {
    "addons", "apply", "get", "describe", "delete", "exec", "logs", "run", "status", "trace",
}  # fmt: skip


class LabShell(cmd.Cmd):
    intro = (
        "lab_kit shell: `<host> <command>` runs on a node or outside host, `get pods` etc. run labkit "
        "commands. `hosts` lists the hosts; `exit` or Ctrl-D leaves."
    )
    prompt = "labkit> "

    def __init__(self, labkit_main: Callable[[list[str]], int]):
        super().__init__()
        self.labkit_main = labkit_main

    def default(self, line: str) -> None:
        try:
            words = shlex.split(line)
        except ValueError as e:
            print(f"error: {e}")
            return
        if not words:
            return
        if words[0] in LABKIT_COMMANDS:
            try:
                self.labkit_main(words)
            except SystemExit:  # argparse's answer to a usage error: the shell goes on
                pass
            return
        hosts = RunDir().hosts()
        if words[0] in hosts:
            if len(words) == 1:
                print(f"usage: {words[0]} COMMAND [ARGS...]")
                return
            try:
                access.run_on_host(words[0], words[1:], capture=False, timeout_s=None)
            except LabError as e:
                print(e)
            return
        print(
            f"unknown command or host: {words[0]} (hosts: {', '.join(sorted(hosts)) or 'none'}; "
            f"commands: {', '.join(sorted(LABKIT_COMMANDS))})"
        )

    def do_hosts(self, _arg: str) -> bool:
        for name, info in sorted(RunDir().hosts().items()):
            print(f"  {name:<10} {info.get('role', ''):<9} {info.get('ip', '')}")
        return False

    def do_exit(self, _arg: str) -> bool:
        return True

    do_quit = do_exit

    def do_EOF(self, _arg: str) -> bool:
        print()
        return True

    def emptyline(self) -> bool:
        return False
