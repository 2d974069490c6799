"""`labkit node disconnect|connect NODE` and `labkit firewall on|off|allow|deny|list`: the
network outside the cluster, from a terminal (what they do: lab_kit/lab/outside.py).

They need root (they enter the lab's namespaces), as `labkit up` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from lab_kit.adapters.host_commands import HostCommandError
from lab_kit.lab import objects
from lab_kit.lab.errors import LabError
from lab_kit.lab.outside import Outside
from lab_kit.render.outside import PORT_SPELLINGS, describe_firewall

NODE_HELP = """A node taken off the network, as in a partition: its link to the cluster
network goes down (packets to its address get no answer: a timeout, not a refusal) and its
kubelet loses the API server. After the node monitor grace period (50 s) Kubernetes marks
the Node NotReady and its pods not Ready, and their endpoints leave every Service. Until
then, and for a bare NodePort always, the client must deal with a node that is gone.

examples:
  labkit node disconnect node2
  labkit get nodes                     node2 NotReady after ~50 s
  labkit node connect node2"""

FIREWALL_HELP = f"""The lab's router plays the cloud's firewall in front of the nodes (off by
default). On: packets from the outside hosts to the NodePort range (30000-32767) are
dropped, unless a rule allows their port (as `gcloud compute firewall-rules create
--allow tcp:30080` does). The cloud load balancer's own traffic passes.
Ports: {PORT_SPELLINGS}.

examples:
  labkit firewall on
  labkit firewall allow 30080          (tcp; 30053/udp for UDP)
  labkit firewall list
  labkit firewall deny 30080
  labkit firewall off"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "node", help="take a node off the network and bring it back",
        description=NODE_HELP, formatter_class=formatter,
    )  # fmt: skip
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    a = actions.add_parser("disconnect", help="take NODE off the network (a partition)")
    a.add_argument("name", metavar="NODE", help="node1, node2, ...")
    a = actions.add_parser("connect", help="bring NODE back on the network")
    a.add_argument("name", metavar="NODE", help="node1, node2, ...")
    actions.add_parser("list", help="the nodes that are disconnected")

    p = sub.add_parser(
        "firewall", help="the router's firewall for NodePorts (off by default)",
        description=FIREWALL_HELP, formatter_class=formatter,
    )  # fmt: skip
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("on", help="drop outside traffic to NodePorts not allowed")
    actions.add_parser("off", help="filter nothing")
    for action, what in (("allow", "open PORT"), ("deny", "close PORT again")):
        a = actions.add_parser(action, help=f"{what} (e.g. 30080, 30053/udp)")
        a.add_argument("port", metavar="PORT[/PROTO]")
    actions.add_parser("list", help="on or off, and the ports allowed")


def cmd_node(args: argparse.Namespace) -> int:
    out = Outside()
    if args.action == "list":
        gone = out.disconnected()
        print("\n".join(gone) if gone else "No node is disconnected.")
        return 0
    if args.action == "disconnect":
        out.nodes()  # a lab is running: say so before asking its API server
        api = objects.connect(out.rd)
        try:
            print(out.disconnect_node(args.name, api))
        finally:
            api.close()
        return 0
    print(out.connect_node(args.name))
    return 0


def cmd_firewall(args: argparse.Namespace) -> int:
    out = Outside()
    act: dict[str, Callable[[], object]] = {
        "on": out.firewall_on,
        "off": out.firewall_off,
        "allow": lambda: out.firewall_allow(args.port),
        "deny": lambda: out.firewall_deny(args.port),
        "list": out.nodes,  # only that a lab runs
    }
    act[args.action]()
    print(describe_firewall(out.firewall()))
    return 0


def _commands_failing_as_lab_errors(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except HostCommandError as e:  # not root, or the lab's namespaces are gone
            raise LabError(str(e)) from e

    return run


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "node": _commands_failing_as_lab_errors(cmd_node),
    "firewall": _commands_failing_as_lab_errors(cmd_firewall),
}
