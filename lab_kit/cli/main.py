"""`labkit`: the lab from a terminal, with kubectl's habits.

    labkit up | down | status | clean
    labkit apply -f FILE|DIR|- [--dry-run=server] [--wait]
    labkit get KIND [NAME] [-n NS | -A] [-l SELECTOR] [-o wide|yaml|json|name]
    labkit describe KIND NAME [-n NS]
    labkit delete -f FILE | KIND NAME... [-n NS]

Every command is a call on `lab_kit.Lab`; this module only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import yaml

from lab_kit.lab import lifecycle
from lab_kit.lab.lab import Lab, resolve_kind
from lab_kit.lab.lifecycle import LabError
from lab_kit.model.errors import ApiError


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("up", help="start the lab in the background; returns when it serves")
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

    p = sub.add_parser("delete", help="delete objects by name or by manifest")
    p.add_argument("kind", nargs="?")
    p.add_argument("names", nargs="*")
    p.add_argument("-f", "--filename", help="delete what this manifest names")
    p.add_argument("--grace-period", type=int, default=None, help="seconds (pods)")
    _add_namespace(p)
    return parser


def _split_kind(kind: str, names: list[str]) -> tuple[str, list[str]]:
    """`svc/web` → ("svc", ["web"]), as kubectl accepts."""
    if "/" in kind:
        k, _, n = kind.partition("/")
        return k, [n, *names]
    return kind, names


def cmd_up(args) -> int:
    t0 = time.monotonic()
    print("Starting the lab ...")
    lifecycle.up()
    print(f"Lab ready in {time.monotonic() - t0:.1f} s. API server: {lifecycle.socket_path()}")
    print("Try: labkit apply -f deployment.yml; labkit get pods")
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
        lab.wait(args.timeout)
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
        if not names:
            raise LabError("error: resource(s) were provided, but no name was specified")
        lines = [
            line
            for n in names
            for line in lab.delete(kind, n, args.namespace, grace_period_s=args.grace_period)
        ]
    for line in lines:
        print(line)
    return 0


LIFECYCLE = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "clean": cmd_clean}
OBJECTS = {"apply": cmd_apply, "get": cmd_get, "describe": cmd_describe, "delete": cmd_delete}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in LIFECYCLE:
            return LIFECYCLE[args.command](args)
        lab = Lab.connect()
        try:
            return OBJECTS[args.command](args, lab)
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
