"""`labkit`: the lab from a terminal, with kubectl's habits.

    labkit up | down | status | clean
    labkit apply -f FILE|DIR|- [--dry-run=server] [--wait]
    labkit get KIND [NAME] [-n NS | -A] [-l SELECTOR] [-o wide|yaml|json|name]
    labkit describe KIND NAME [-n NS]
    labkit delete -f FILE | KIND NAME... | KIND -l SELECTOR [-n NS]
    labkit trace NODE SRC DST[:PORT] [-p udp] [--local] [--outcomes]

Every command is a call on `lab_kit.Lab`; this module only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import yaml

from lab_kit.lab import access, lifecycle
from lab_kit.lab.lab import Lab, resolve_kind
from lab_kit.lab.lifecycle import LabError
from lab_kit.model.errors import ApiError
from lab_kit.model.topology import TopologyError


def _add_namespace(p: argparse.ArgumentParser, all_ns: bool = False) -> None:
    p.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    if all_ns:
        p.add_argument(
            "-A", "--all-namespaces", action="store_true", help="list across all namespaces"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit", description="lab_kit: Kubernetes service discovery you can watch."
    )
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser(
        "up", help="build the lab and start it in the background; returns when nodes are Ready"
    )
    p.add_argument(
        "--topology", help="a name from topologies/ or a path to your own .toml (default: default)"
    )
    p.add_argument(
        "--control-plane-only",
        action="store_true",
        help="API server and controllers only: no network, no nodes (pods stay Pending)",
    )
    sub.add_parser("down", help="stop the lab and remove everything it made")
    sub.add_parser("status", help="say what runs")
    sub.add_parser("clean", help="remove the leftovers of a lab that crashed")

    p = sub.add_parser("apply", help="create or update objects from manifests (all or nothing)")
    p.add_argument(
        "-f", "--filename", action="append", required=True, help="file, directory or - for stdin"
    )
    p.add_argument(
        "--dry-run", choices=["none", "server"], default="none", help="server: validate only"
    )
    p.add_argument(
        "--wait", action="store_true", help="return when every agent has applied the change"
    )
    p.add_argument("--timeout", type=float, default=60, help="seconds --wait waits (default 60)")

    p = sub.add_parser("get", help="list objects (kubectl-style tables)")
    p.add_argument(
        "kind", help="pods, services (svc), deployments (deploy), endpointslices, nodes, ..."
    )
    p.add_argument("names", nargs="*", help="object names (or KIND/NAME)")
    _add_namespace(p, all_ns=True)
    p.add_argument("-l", "--selector", default="", help="label selector, e.g. app=random-generator")
    p.add_argument("-o", "--output", choices=["wide", "yaml", "json", "name"], help="output format")

    p = sub.add_parser("describe", help="show one object in detail")
    p.add_argument("kind")
    p.add_argument("name", nargs="?")
    _add_namespace(p)

    p = sub.add_parser("delete", help="delete objects by name, label selector or manifest")
    p.add_argument("kind", nargs="?")
    p.add_argument("names", nargs="*")
    p.add_argument("-f", "--filename", help="delete what this manifest names")
    p.add_argument("-l", "--selector", default="", help="label selector, e.g. -l k8s-app=kube-dns")
    p.add_argument("--grace-period", type=int, default=None, help="seconds (pods)")
    _add_namespace(p)

    p = sub.add_parser("exec", help="run a command in a pod: labkit exec POD -- CMD ...")
    p.add_argument("pod")
    p.add_argument("-c", "--container", help="container name (default: the first)")
    p.add_argument("-i", "--stdin", action="store_true", help="pass standard input through")
    p.add_argument("-t", "--tty", action="store_true", help="(accepted for kubectl habits)")
    p.add_argument("argv", nargs="*", help="-- CMD ARGS...")
    _add_namespace(p)

    p = sub.add_parser(
        "host", help="run a command on a node or outside host: labkit host node1 -- ip route"
    )
    p.add_argument("name")
    p.add_argument("argv", nargs="*", help="-- CMD ARGS...")

    p = sub.add_parser("logs", help="print a container's output")
    p.add_argument("pod")
    p.add_argument("-c", "--container")
    p.add_argument(
        "-p", "--previous", action="store_true", help="the previous (crashed) run's output"
    )
    _add_namespace(p)

    p = sub.add_parser("run", help="create a pod running an image (kubectl run)")
    p.add_argument("name")
    p.add_argument("--image", required=True)
    p.add_argument(
        "--command", action="store_true", help="ARGS are the command, not the image's args"
    )
    p.add_argument("--restart", default="Always", choices=["Always", "OnFailure", "Never"])
    p.add_argument("--env", action="append", default=[], metavar="K=V")
    p.add_argument("-l", "--labels", default="", help="k=v,... (default run=NAME)")
    p.add_argument("--port", type=int, help="the container port to declare")
    p.add_argument(
        "--rm", action="store_true", help="delete the pod when the command ends (with -i)"
    )
    p.add_argument(
        "-i", "--stdin", action="store_true", help="wait for the command and show its output"
    )
    p.add_argument("-t", "--tty", action="store_true", help="(accepted for kubectl habits)")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("argv", nargs="*", help="-- ARGS...")
    _add_namespace(p)

    p = sub.add_parser(
        "trace",
        help="walk a packet through a node's kube-proxy rules: labkit trace node1 SRC DST[:PORT]",
    )
    p.add_argument("node", help="the node whose rules to use (node1, ...)")
    p.add_argument("src", help="source address, e.g. a pod IP")
    p.add_argument("dst", help="destination address[:port], e.g. 10.96.0.10:53")
    p.add_argument("-p", "--protocol", default="tcp", choices=["tcp", "udp", "sctp", "icmp"])
    p.add_argument(
        "--local", action="store_true", help="the node itself sends it (nat OUTPUT), not a pod"
    )
    p.add_argument("--outcomes", action="store_true", help="list every possible outcome instead")

    sub.add_parser(
        "cli", help="an interactive shell: `node1 ip route`, `client curl ...`, `get pods`"
    )
    return parser


def _split_kind(kind: str, names: list[str]) -> tuple[str, list[str]]:
    """`svc/web` → ("svc", ["web"]), as kubectl accepts."""
    if "/" in kind:
        k, _, n = kind.partition("/")
        return k, [n, *names]
    return kind, names


def cmd_up(args) -> int:
    t0 = time.monotonic()
    print(f"Starting the lab ({args.topology or 'default'} topology) ...")
    try:
        lifecycle.up(args.topology, control_plane_only=args.control_plane_only)
    except TopologyError as e:
        raise LabError(str(e)) from e
    print(f"Lab ready in {time.monotonic() - t0:.1f} s. API server: {lifecycle.socket_path()}")
    print("Try: labkit apply -f labs/manifests/book/deployment.yml --wait; labkit get pods -o wide")
    return 0


def cmd_down(args) -> int:
    if lifecycle.down():
        print("Lab stopped; everything it made is removed.")
    else:
        print("No lab is running.")
    return 0


def cmd_clean(args) -> int:
    if not lifecycle.clean():
        print("Nothing to clean.")
    else:
        print("Cleaned up.")
    return 0


def cmd_status(args) -> int:
    info = lifecycle.status()
    if not info.get("processes"):
        print("No lab is running.")
        return 1
    print(
        f"Lab {'running' if info['running'] else 'NOT running (crashed? `labkit clean`)'} "
        f"(run dir {info['run_dir']})"
    )
    for p in info["processes"]:
        if p["name"] == "tcpdump" and not p["alive"]:
            continue  # finished captures are not part of the lab any more
        print(f"  {p['name']:<20} pid {p['pid']:<8} {'running' if p['alive'] else 'gone'}")
    agents = (info.get("agents") or {}).get("items", [])
    if agents:
        rv = info["agents"]["resourceVersion"]
        print(f"Agents (API resourceVersion {rv}):")
        for a in agents:
            print(f"  {a['name']:<20} applied {a['appliedResourceVersion']}")
    return 0 if info["running"] else 1


def cmd_apply(args, lab: Lab) -> int:
    lines = []
    for f in args.filename:
        lines += lab.apply(f, wait=False, dry_run=args.dry_run == "server")
    for line in lines:
        print(line)
    if args.wait and args.dry_run == "none":
        lab.wait_ready(args.timeout)
    return 0


def cmd_get(args, lab: Lab) -> int:
    kind, names = _split_kind(args.kind, args.names)
    k = resolve_kind(kind)
    ns = args.namespace
    if names:
        objs = [lab.get(kind, n, ns) for n in names]
        listing = None
    else:
        listing = lab.get(
            kind,
            namespace=ns,
            all_namespaces=args.all_namespaces,
            selector=args.selector,
            wide=args.output == "wide",
        )
        objs = list(listing)
    if args.output in ("yaml", "json"):
        doc = (
            objs[0]
            if names and len(objs) == 1
            else {
                "apiVersion": "v1",
                "kind": "List",
                "items": objs,
                "metadata": {"resourceVersion": ""},
            }
        )
        print(
            json.dumps(doc, indent=4)
            if args.output == "json"
            else yaml.safe_dump(doc, sort_keys=False),
            end="\n" if args.output == "json" else "",
        )
        return 0
    if args.output == "name":
        for o in objs:
            print(f"{k.singular}{'.' + k.group if k.group else ''}/{o['metadata']['name']}")
        return 0
    if not objs:
        where = (
            ""
            if not k.namespaced
            else (" in any namespace" if args.all_namespaces else f" in {ns} namespace")
        )
        print(f"No resources found{where}.", file=sys.stderr)
        return 0
    from lab_kit.lab.lab import Listing

    listing = listing or Listing(k.kind, objs, wide=args.output == "wide")
    print(listing)
    return 0


def cmd_describe(args, lab: Lab) -> int:
    kind, names = _split_kind(args.kind, [args.name] if args.name else [])
    if not names:
        k = resolve_kind(kind)
        objs = lab.get(kind, namespace=args.namespace)
        print(
            "\n\n".join(lab.describe(k.plural, o["metadata"]["name"], args.namespace) for o in objs)
        )
        return 0
    print(lab.describe(kind, names[0], args.namespace))
    return 0


def cmd_delete(args, lab: Lab) -> int:
    if args.filename:
        lines = lab.delete(
            filename=args.filename, namespace=args.namespace, grace_period_s=args.grace_period
        )
    else:
        if not args.kind:
            raise LabError("error: you must provide one or more resources by argument or filename")
        kind, names = _split_kind(args.kind, args.names)
        if args.selector and not names:
            lines = lab.delete(kind, namespace=args.namespace, selector=args.selector,
                               grace_period_s=args.grace_period)  # fmt: skip
            for line in lines:
                print(line)
            return 0
        if not names:
            raise LabError("error: resource(s) were provided, but no name was specified")
        if args.selector:
            raise LabError("error: name cannot be provided when a selector is specified")
        lines = [
            line
            for n in names
            for line in lab.delete(kind, n, args.namespace, grace_period_s=args.grace_period)
        ]
    for line in lines:
        print(line)
    return 0


def _argv(rest: list[str]) -> list[str]:
    argv = rest[1:] if rest[:1] == ["--"] else rest
    if not argv:
        raise LabError("error: you must specify at least one command (after --)")
    return argv


def cmd_exec(args, lab: Lab) -> int:
    stdin = sys.stdin.read() if args.stdin and not sys.stdin.isatty() else None
    interactive = args.stdin and sys.stdin.isatty()
    state = lab.sandbox(args.pod, args.namespace)
    result = access.run_in_pod(
        state,
        args.container,
        _argv(args.argv),
        capture=not interactive,
        stdin=stdin,
        timeout_s=None,
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def cmd_host(args) -> int:
    result = access.run_on_host(args.name, _argv(args.argv), capture=False, timeout_s=None)
    return result.returncode


def cmd_logs(args, lab: Lab) -> int:
    sys.stdout.write(lab.logs(args.pod, args.namespace, args.container, args.previous))
    return 0


def cmd_run(args, lab: Lab) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    pod = run_pod_manifest(
        args.name,
        args.image,
        argv,
        args.command,
        args.restart,
        args.env,
        args.labels,
        args.port,
        args.namespace,
    )
    lab.client.create(pod)
    print(f"pod/{args.name} created")
    if not args.stdin:
        return 0
    code = lab.wait_pod_finished(args.name, args.namespace, args.timeout)
    sys.stdout.write(lab.logs(args.name, args.namespace))
    if args.rm:
        lab.delete("pod", args.name, args.namespace, grace_period_s=0)
        print(f'pod "{args.name}" deleted')
    return code


def run_pod_manifest(
    name: str,
    image: str,
    argv: list[str],
    as_command: bool,
    restart: str,
    env: list[str],
    labels: str,
    port: int | None,
    namespace: str,
) -> dict:
    """The Pod `kubectl run` would create."""
    container: dict = {"name": name, "image": image}
    if argv:
        container["command" if as_command else "args"] = argv
    if env:
        container["env"] = [{"name": k, "value": v} for k, _, v in (e.partition("=") for e in env)]
    if port:
        container["ports"] = [{"containerPort": port}]
    label_map = dict(kv.split("=", 1) for kv in labels.split(",") if "=" in kv) or {"run": name}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": label_map},
        "spec": {"containers": [container], "restartPolicy": restart},
    }


def cmd_trace(args, lab: Lab) -> int:
    dst, _, port = args.dst.partition(":")
    if port and not port.isdigit():
        raise LabError(f'invalid destination "{args.dst}": the port must be a number')
    dport = int(port) if port else None
    if dport is None and args.protocol != "icmp":
        raise LabError(f"{args.protocol} needs a destination port: {dst}:PORT")
    origin = "local" if args.local else "forwarded"
    if args.outcomes:
        for o in lab.outcomes(args.node, args.src, dst, dport, args.protocol, origin=origin):
            print(f"{o.fraction:>6}  {o.verdict}  {o.dnat_to or dst}")
        return 0
    print(lab.trace(args.node, args.src, dst, dport, args.protocol, origin=origin))
    return 0


def cmd_cli(args) -> int:
    from lab_kit.cli.shell import LabShell

    LabShell(main).cmdloop()
    return 0


LIFECYCLE = {
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "clean": cmd_clean,
    "host": cmd_host,
    "cli": cmd_cli,
}
OBJECTS = {
    "apply": cmd_apply,
    "get": cmd_get,
    "describe": cmd_describe,
    "delete": cmd_delete,
    "exec": cmd_exec,
    "logs": cmd_logs,
    "run": cmd_run,
    "trace": cmd_trace,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is the command to run (exec, host, run), never our options.
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    if hasattr(args, "argv"):
        args.argv = [*args.argv, *rest]
    elif rest:
        build_parser().error(f"unexpected arguments after --: {' '.join(rest)}")
    try:
        if args.verb in LIFECYCLE:
            return LIFECYCLE[args.verb](args)
        lab = Lab.connect()
        try:
            return OBJECTS[args.verb](args, lab)
        finally:
            lab.client.close()
    except LabError as e:
        print(str(e) if str(e).startswith(("error", "Error")) else f"error: {e}", file=sys.stderr)
        return 1
    except ApiError as e:
        print(f"Error from server ({e.reason}): {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
