"""`labkit`: the lab from a terminal, with kubectl's (and minikube's) habits.

    labkit up [--addons NAME,...] | down | status | clean
    labkit addons list | enable NAME | disable NAME
    labkit apply -f FILE|DIR|- [--dry-run=server] [--wait [--timeout 60s]]
    labkit get KIND[,KIND] [NAME...] | KIND/NAME... [-n NS | -A] [-l SELECTOR] [-o FORMAT]
    labkit describe KIND [NAME...] | KIND/NAME... [-n NS]
    labkit delete -f FILE | KIND NAME... | KIND/NAME... | KIND -l SELECTOR [-n NS]
    labkit exec POD -- CMD | host NODE -- CMD | logs POD | run NAME --image IMAGE
    labkit trace NODE SRC DST[:PORT] [-p udp] [--local] [--outcomes]
    labkit node disconnect|connect NODE | node list
    labkit firewall on | off | allow PORT[/PROTO] | deny PORT[/PROTO] | list
    labkit create secret tls NAME --cert FILE --key FILE [-n NS]
    labkit certificate issue HOST... --secret NAME [-n NS]

Arguments go in any order kubectl (cobra) takes them: options before, between or after
the names (`labkit get svc -n NS NAME`, `labkit describe -n NS pod X`), `-n NS` even
before the command, everything after `--` the command to run.

This module only parses arguments and prints: what each command does, and how kubectl
words it, lives in the topic modules `Lab` uses too (lab_kit.lab.objects, waiting, access,
proxy_view, lifecycle). `main(argv, connect=...)` takes the way to reach the API server,
so tests run it against the in-process one.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable

import httpx

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.rundir import RunDir
from lab_kit.api import printers
from lab_kit.api.printers import format_table
from lab_kit.cli import capture_cmd, edit, ingress, lb, outside, port_forward, rollout_cmds, tls
from lab_kit.lab import access, lifecycle, objects, proxy_view, status_view, waiting
from lab_kit.lab.addons import lookup, parse_names
from lab_kit.lab.errors import LabError
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.topology import TopologyError

Connect = Callable[[], ApiClient]
Args = argparse.Namespace

EXAMPLES = """examples:
  labkit up                                       a lab: three nodes, cluster DNS
  labkit apply -f labs/manifests/book/deployment.yml --wait
  labkit get pods -o wide                         where each pod runs, its IP
  labkit exec POD -- cat /etc/resolv.conf         a command in a pod
  labkit host node1 -- iptables-save -t nat       a node's rules
  labkit trace node1 10.244.1.5 10.96.0.10:53 -p udp
  labkit addons list                              addons, and which are enabled
  labkit down
"""


WAIT_HELP = """--wait (lab_kit's own: kubectl's `apply --wait` is about deletions) waits for
what this apply created or changed, as `kubectl rollout status` and `kubectl wait` would:
  - every agent has applied the change (controllers, kubelets, kube-proxies, DNS);
  - each Pod it created or changed is Ready ("pod/web condition met");
  - each Deployment or ReplicaSet it created or changed has rolled out: its current pods
    Ready, old ones gone ('deployment "web" successfully rolled out');
  - and the data plane has caught up with those pods (their endpoints are live).
A pod that will not become Ready by itself (ErrImagePull, InvalidImageName,
CreateContainerConfigError, CrashLoopBackOff, Failed, unschedulable) is named with its
reason at once, with exit code 1; so is whatever is still waiting at --timeout. Pods this
apply left untouched play no part."""


def duration(text: str) -> float:
    """`--timeout`: seconds (60, 2.5) or a Go duration as kubectl takes one (90s, 2m, 1m30s,
    500ms)."""
    try:
        return float(text)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f'invalid duration "{text}" (e.g. 60, 90s, 2m)')
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def _add_namespace(p: argparse.ArgumentParser, all_ns: bool = False) -> None:
    p.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    if all_ns:
        p.add_argument(
            "-A", "--all-namespaces", action="store_true", help="list across all namespaces"
        )


def _sub(
    sub: argparse._SubParsersAction, name: str, help: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name, help=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def build_parser() -> argparse.ArgumentParser:
    return build_parsers()[0]


def build_parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """labkit's parser, and each command's own (by name)."""
    parser = argparse.ArgumentParser(
        prog="labkit",
        description="lab_kit: Kubernetes service discovery you can watch.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    sub.required = True
    _add_lifecycle(sub)
    _add_objects(sub)
    _add_inside(sub)
    p = _sub(
        sub,
        "trace",
        "walk a packet through a node's kube-proxy rules: labkit trace node1 SRC DST[:PORT]",
        "example:\n  labkit trace node1 10.244.1.5 10.96.0.12:80",
    )
    p.add_argument("node", help="the node whose rules to use (node1, ...)")
    p.add_argument("src", help="source address, e.g. a pod IP")
    p.add_argument("dst", help="destination address[:port], e.g. 10.96.0.10:53")
    p.add_argument("-p", "--protocol", default="tcp", choices=["tcp", "udp", "sctp", "icmp"])
    p.add_argument(
        "--local", action="store_true", help="the node itself sends it (nat OUTPUT), not a pod"
    )
    p.add_argument("--outcomes", action="store_true", help="list every possible outcome instead")
    _sub(sub, "cli", "an interactive shell: `node1 ip route`, `client curl ...`, `get pods`",
         "example:\n  labkit cli          then type: get pods | node1 ip route | exit")  # fmt: skip
    outside.add_parsers(sub)
    lb.add_parsers(sub)
    tls.add_parsers(sub)
    ingress.add_parsers(sub)
    edit.add_parsers(sub)
    edit.add_expose_parser(sub)
    capture_cmd.add_parsers(sub)
    port_forward.add_parsers(sub)
    rollout_cmds.add_parsers(sub)
    return parser, sub.choices


def _add_lifecycle(sub: argparse._SubParsersAction) -> None:
    p = _sub(
        sub,
        "up",
        "build the lab and start it in the background; returns when nodes are Ready",
        "examples:\n  labkit up\n  labkit up --topology my-lab.toml --addons coredns\n"
        "  labkit up --control-plane-only",
    )
    p.add_argument(
        "--topology",
        help="a built-in topology's name (default: default) or a path to your own .toml",
    )
    p.add_argument(
        "--control-plane-only",
        action="store_true",
        help="API server and controllers only: no network, no nodes (pods stay Pending)",
    )
    p.add_argument(
        "--addons", default="", metavar="NAME[,NAME]", help="addons to enable besides the default"
    )
    _sub(sub, "down", "stop the lab and remove everything it made",
         "example:\n  labkit down        every process, namespace, veth and file the lab made goes")  # fmt: skip
    _sub(sub, "status", "say what runs",
         "examples:\n  labkit status\n  labkit status | head -1      (a closed pipe ends it quietly)")  # fmt: skip
    _sub(sub, "clean", "remove the leftovers of a lab that crashed",
         "example:\n  labkit clean       after a crash: finds the lab by what it recorded")  # fmt: skip
    p = _sub(
        sub,
        "addons",
        "list, enable or disable addons (minikube's habit)",
        "examples:\n  labkit addons list\n  labkit addons disable coredns",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="every addon, and whether the running lab has it")
    for action in ("enable", "disable"):
        a = actions.add_parser(action, help=f"{action} an addon on the running lab")
        a.add_argument("name", help="the addon (see `labkit addons list`)")


def _add_objects(sub: argparse._SubParsersAction) -> None:
    p = _sub(
        sub,
        "apply",
        "create or update objects from manifests (all or nothing)",
        "examples:\n  labkit apply -f deployment.yml -f service.yml --wait\n"
        "  cat pod.yml | labkit apply -f - --dry-run=server\n\n" + WAIT_HELP,
    )
    p.add_argument(
        "-f", "--filename", action="append", required=True, help="file, directory or - for stdin"
    )
    p.add_argument(
        "--dry-run", choices=["none", "server"], default="none", help="server: validate only"
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="return once what this apply created or changed has rolled out (see below)",
    )
    p.add_argument(
        "--timeout",
        type=duration,
        default=60,
        help="how long --wait waits: seconds or a duration like 90s, 2m (default 60s)",
    )
    p.add_argument("-n", "--namespace", default=None,
                   help="the namespace of every object that names none (default: their own, or default)")  # fmt: skip

    p = _sub(
        sub,
        "get",
        "list objects (kubectl-style tables)",
        "examples:\n  labkit get pods -o wide\n  labkit get svc/kube-dns -n kube-system "
        "-o yaml\n  labkit get svc -n kube-system kube-dns\n  labkit get pods,svc\n"
        "  labkit get endpointslices -l kubernetes.io/service-name=web",
    )
    p.add_argument(
        "kind",
        help="pods, services (svc), deployments (deploy), endpointslices, nodes, ...; "
        "KIND,KIND for several; or KIND/NAME",
    )
    p.add_argument("names", nargs="*", help="object names (or more KIND/NAME)")
    _add_namespace(p, all_ns=True)
    p.add_argument("-l", "--selector", default="", help="label selector, e.g. app=random-generator")
    p.add_argument(
        "-o",
        "--output",
        type=_output_format,
        help="output format: wide, yaml, json, name, jsonpath=TEMPLATE or "
        "custom-columns=HEADER:PATH,...",
    )
    p.add_argument("-w", "--watch", action="store_true",
                   help="after the list, a line for every change (Ctrl-C stops)")  # fmt: skip
    p.add_argument("--watch-only", action="store_true", help="only the changes, no list first")
    p.add_argument("--request-timeout", default="0", metavar="DURATION",
                   help="end a watch after this long (5, 5s, 1m; 0: never)")  # fmt: skip

    p = _sub(
        sub,
        "describe",
        "show objects in detail (the named ones, or every object of a kind)",
        "examples:\n  labkit describe svc web\n  labkit describe -n kube-system pod/coredns-x",
    )
    p.add_argument("kind", help="a kind (pods, svc, ...) or KIND/NAME")
    p.add_argument("names", nargs="*", help="object names (or more KIND/NAME)")
    _add_namespace(p)

    p = _sub(
        sub,
        "delete",
        "delete objects by name, label selector or manifest",
        "examples:\n  labkit delete pod web-1 web-2\n  labkit delete pods -l app=web\n"
        "  labkit delete -n shop svc/web deploy/web\n  labkit delete -f service.yml",
    )
    p.add_argument("kind", nargs="?", help="a kind (pods, svc, ...) or KIND/NAME")
    p.add_argument("names", nargs="*", help="object names (or more KIND/NAME)")
    p.add_argument("-f", "--filename", help="delete what this manifest names")
    p.add_argument("-l", "--selector", default="", help="label selector, e.g. -l k8s-app=kube-dns")
    p.add_argument("--grace-period", type=int, default=None, help="seconds (pods)")
    _add_namespace(p)


def _add_inside(sub: argparse._SubParsersAction) -> None:
    p = _sub(sub, "exec", "run a command in a pod: labkit exec POD -- CMD ...",
             "examples:\n  labkit exec POD -- cat /etc/resolv.conf\n"
             "  labkit exec -it POD -- ash            a shell in the pod (the book's Alpine ash: this machine's sh)\n"
             "  labkit exec POD -c CONTAINER -- env")  # fmt: skip
    p.add_argument("pod", help="POD or pod/POD")
    p.add_argument("-c", "--container", help="container name (default: the first)")
    p.add_argument("-i", "--stdin", action="store_true", help="pass standard input through")
    p.add_argument("-t", "--tty", action="store_true", help="(accepted for kubectl habits)")
    p.add_argument("argv", nargs="*", help="-- CMD ARGS...")
    _add_namespace(p)

    p = _sub(sub, "host", "run a command on a node or outside host: labkit host node1 -- ip route",
             "examples:\n  labkit host node1 -- ip route\n  labkit host node1 -- iptables-save -t nat\n"
             "  labkit host client -- curl -s 198.51.100.32")  # fmt: skip
    p.add_argument("name")
    p.add_argument("argv", nargs="*", help="-- CMD ARGS...")

    p = _sub(sub, "logs", "print a container's output",
             "examples:\n  labkit logs random-generator-6c9d8b7f5-abcde\n"
             "  labkit logs POD --tail 20 -f      the last 20 lines, then what follows (Ctrl-C)\n"
             "  labkit logs POD -p                the run before the last restart")  # fmt: skip
    p.add_argument("pod", help="POD or pod/POD")
    p.add_argument("-c", "--container")
    p.add_argument(
        "-p", "--previous", action="store_true", help="the previous (crashed) run's output"
    )
    p.add_argument("--tail", type=int, default=-1, help="only the last N lines (-1: all)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing what it writes")
    _add_namespace(p)

    p = _sub(
        sub,
        "run",
        "create a pod running an image (kubectl run)",
        "example:\n  labkit run -i --rm --restart=Never probe --image=busybox -- "
        "cat /etc/resolv.conf",
    )
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


# --- the lab itself --------------------------------------------------------------------------


def _addon_names(text: str) -> list[str]:
    try:
        return parse_names(text)
    except KeyError as e:  # its message lists the known addons
        raise LabError(e.args[0]) from None


def cmd_up(args: Args) -> int:
    addons = _addon_names(args.addons)
    t0 = time.monotonic()
    print(f"Starting the lab ({args.topology or 'default'} topology) ...")
    try:
        lifecycle.up(args.topology, control_plane_only=args.control_plane_only, addons=addons)
    except TopologyError as e:
        raise LabError(str(e)) from e
    print(f"Lab ready in {time.monotonic() - t0:.1f} s. API server: {RunDir().socket}")
    print("Try: labkit apply -f labs/manifests/book/deployment.yml --wait; labkit get pods -o wide")
    return 0


def cmd_down(args: Args) -> int:
    print(
        "Lab stopped; everything it made is removed." if lifecycle.down() else "No lab is running."
    )
    return 0


def cmd_clean(args: Args) -> int:
    print("Cleaned up." if lifecycle.clean() else "Nothing to clean.")
    return 0


def cmd_status(args: Args) -> int:
    text, healthy = status_view.status_text(lifecycle.status())
    print(text)
    return 0 if healthy else 1


def addons_table() -> str:
    """`labkit addons list`: NAME, STATUS (enabled in the running lab or not), DESCRIPTION."""
    rows = [["NAME", "STATUS", "DESCRIPTION"]]
    rows += [
        [name, "enabled" if on else "disabled", text] for name, on, text in lifecycle.addon_states()
    ]
    return format_table(rows)


def cmd_addons(args: Args) -> int:
    if args.action == "list":
        print(addons_table())
        return 0
    name = args.name
    try:
        lookup(name)
    except KeyError as e:  # its message lists the known addons
        raise LabError(e.args[0]) from None
    if args.action == "enable":
        done = lifecycle.enable_addon(name)
        print(f'addon "{name}" {"enabled" if done else "is already enabled"}')
    else:
        done = lifecycle.disable_addon(name)
        print(f'addon "{name}" {"disabled" if done else "is not enabled"}')
    return 0


def cmd_host(args: Args) -> int:
    return access.run_on_host(args.name, _argv(args.argv), capture=False, timeout_s=None).returncode


def cmd_cli(args: Args) -> int:
    from lab_kit.cli.shell import LabShell

    LabShell(main).cmdloop()
    return 0


# --- objects, and inside the lab -------------------------------------------------------------


def cmd_apply(args: Args, client: ApiClient) -> int:
    changed: list[dict] = []
    for f in args.filename:  # each file its own all-or-nothing batch
        applied = objects.apply(
            client, f, dry_run=args.dry_run == "server", namespace=args.namespace
        )
        print("\n".join(applied.lines))
        changed += applied.changed
    if args.wait and args.dry_run == "none":
        done = waiting.wait_applied(client, changed, args.timeout, report=_print_now)
        for line in done:
            print(line)
    return 0


def _print_now(line: str) -> None:
    print(line, flush=True)  # a wait's progress, seen as it happens even through a pipe


def _output_format(value: str) -> str:
    """kubectl's -o: a format, or jsonpath=TEMPLATE (`-o jsonpath` alone has no template)."""
    if value in objects.OUTPUTS or value.startswith(("jsonpath=", "custom-columns=")):
        return value
    if value in ("jsonpath", "custom-columns"):
        return value + "="
    raise argparse.ArgumentTypeError(
        f'unable to match a printer suitable for the output format "{value}", allowed '
        "formats are: custom-columns,json,jsonpath,name,wide,yaml"
    )


def cmd_get(args: Args, client: ApiClient) -> int:
    groups = objects.resource_args([args.kind, *args.names])
    if args.watch or args.watch_only:
        return _watch(args, client, groups)
    listings = [
        objects.get_listing(
            client,
            kind,
            names,
            args.namespace,
            all_namespaces=args.all_namespaces,
            selector=args.selector,
            wide=args.output == "wide",
        )
        for kind, names in groups
    ]
    if not any(listings) and (
        args.output in (None, "wide") or args.output.startswith("custom-columns=")
    ):
        print(listings[0].empty_message(), file=sys.stderr)  # kubectl's, on stderr
        return 0
    structured = args.output in ("yaml", "json") or (args.output or "").startswith("jsonpath=")
    if len(listings) > 1 and structured:  # one List of every kind
        listings = [objects.Listing(listings[0].kind, [o for lst in listings for o in lst])]
    single = len(groups) == 1 and len(groups[0][1]) == 1
    texts = [objects.printed(lst, args.output, single=single) for lst in listings if lst]
    sys.stdout.write(("\n" if args.output in (None, "wide") else "").join(texts))
    return 0


def _seconds(text: str) -> int:
    """kubectl's --request-timeout: a number of seconds or a duration (5s, 1m, 1h)."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return int(text[:-1]) * units[text[-1]] if text and text[-1] in units else int(text)
    except ValueError:
        raise LabError(
            f"error: invalid timeout value {text!r}: use a number and a unit (5s, 1m)"
        ) from None


def _watch(args: Args, client: ApiClient, groups: list[tuple[str, list[str]]]) -> int:
    """`kubectl get -w`: the table, then one row per change of a listed object, as it
    happens, until Ctrl-C."""
    if len(groups) != 1:
        raise LabError("error: you may only specify a single resource type")
    kind_word, names = groups[0]
    kind = objects.resolve_kind(kind_word)
    ns = None if args.all_namespaces or not kind.namespaced else args.namespace
    listed = client.list(kind, ns, label_selector=args.selector)
    items = [o for o in listed["items"] if not names or meta.name(o) in names]
    wide, all_ns = args.output == "wide", args.all_namespaces and kind.namespaced
    rows = printers.table(kind.key, items, wide=wide, all_namespaces=all_ns)
    if not args.watch_only:
        print(format_table(rows), flush=True)
    rv = int(listed.get("metadata", {}).get("resourceVersion") or 0)
    timeout = _seconds(args.request_timeout)
    for event in client.watch(
        kind, ns, rv, timeout_s=timeout or None, label_selector=args.selector
    ):
        obj = event.get("object") or {}
        if event.get("type") == "BOOKMARK" or (names and meta.name(obj) not in names):
            continue
        if event.get("type") == "ERROR":
            raise LabError(f"error: {obj.get('message', 'the watch ended')}")
        row = printers.table(kind.key, [obj], wide=wide, all_namespaces=all_ns)[1]
        print(format_table([rows[0], row]).splitlines()[1], flush=True)
    return 0


def cmd_describe(args: Args, client: ApiClient) -> int:
    texts = []
    for kind, names in objects.resource_args([args.kind, *args.names]):
        if names:
            texts += [objects.describe(client, kind, n, args.namespace) for n in names]
        else:
            texts.append(objects.describe_all(client, kind, args.namespace))
    print("\n\n".join(texts))
    return 0


def cmd_delete(args: Args, client: ApiClient) -> int:
    by_name = args.kind and args.filename is None
    groups = objects.resource_args([args.kind, *args.names]) if by_name else [(args.kind, [])]
    for kind, names in groups:
        lines = objects.delete(
            client,
            kind,
            names,
            args.namespace,
            filename=args.filename,
            selector=args.selector,
            grace_period_s=args.grace_period,
        )
        print("\n".join(lines))
    return 0


def pod_name(word: str) -> str:
    """`web`, `pod/web`, `po/web`: the pod exec and logs act on."""
    kind, slash, name = word.partition("/")
    if not slash:
        return word
    if objects.resolve_kind(kind).kind != "Pod" or not name:
        raise LabError(f'error: labkit takes a pod here (POD or pod/POD), not "{word}"')
    return name


def _argv(rest: list[str]) -> list[str]:
    argv = rest[1:] if rest[:1] == ["--"] else rest
    if not argv:
        raise LabError("error: you must specify at least one command (after --)")
    return argv


def cmd_exec(args: Args, client: ApiClient) -> int:
    argv = _argv(args.argv)
    stdin = sys.stdin.read() if args.stdin and not sys.stdin.isatty() else None
    interactive = args.stdin and sys.stdin.isatty()
    result = access.exec_in_pod(
        client,
        pod_name(args.pod),
        argv,
        args.namespace,
        args.container,
        stdin=stdin,
        capture=not interactive,
        timeout_s=None,
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def cmd_logs(args: Args, client: ApiClient) -> int:
    pod = pod_name(args.pod)
    if args.follow and not args.previous:
        access.follow_logs(client, pod, args.namespace, args.container, args.tail,
                           write=lambda text: (sys.stdout.write(text), sys.stdout.flush()))  # fmt: skip
        return 0
    sys.stdout.write(
        access.logs(client, pod, args.namespace, args.container, args.previous, args.tail)
    )
    return 0


def cmd_run(args: Args, client: ApiClient) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    pod = objects.run_pod(
        args.name,
        args.image,
        argv,
        as_command=args.command,
        restart=args.restart,
        env=args.env,
        labels=args.labels,
        port=args.port,
        namespace=args.namespace,
    )
    print(objects.create(client, pod))
    if not args.stdin:
        return 0
    code = waiting.wait_pod_finished(client, args.name, args.namespace, args.timeout)
    sys.stdout.write(access.logs(client, args.name, args.namespace))
    if args.rm:
        print(
            "\n".join(objects.delete(client, "pod", [args.name], args.namespace, grace_period_s=0))
        )
    return code


def parse_destination(dst: str, protocol: str) -> tuple[str, int | None]:
    """`10.96.0.10:53` -> ("10.96.0.10", 53); a port is needed except for icmp."""
    address, _, port = dst.partition(":")
    if port and not port.isdigit():
        raise LabError(f'invalid destination "{dst}": the port must be a number')
    if not port and protocol != "icmp":
        raise LabError(f"{protocol} needs a destination port: {address}:PORT")
    return address, int(port) if port else None


def cmd_trace(args: Args, client: ApiClient) -> int:
    dst, dport = parse_destination(args.dst, args.protocol)
    origin = "local" if args.local else "forwarded"
    if args.outcomes:
        for o in proxy_view.outcomes(args.node, args.src, dst, dport, args.protocol, origin=origin):
            print(f"{o.fraction:>6}  {o.verdict}  {o.dnat_to or dst}")
        return 0
    print(proxy_view.trace(args.node, args.src, dst, dport, args.protocol, origin=origin))
    return 0


LIFECYCLE: dict[str, Callable[[Args], int]] = {
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "clean": cmd_clean,
    "addons": cmd_addons,
    "host": cmd_host,
    "cli": cmd_cli,
    **outside.COMMANDS,
    **lb.COMMANDS,
}
OBJECTS: dict[str, Callable[[Args, ApiClient], int]] = {
    "apply": cmd_apply,
    "get": cmd_get,
    "describe": cmd_describe,
    "delete": cmd_delete,
    "exec": cmd_exec,
    "logs": cmd_logs,
    "run": cmd_run,
    "trace": cmd_trace,
    **tls.COMMANDS,
    **ingress.COMMANDS,
    **edit.COMMANDS,
    **rollout_cmds.COMMANDS,
    **capture_cmd.COMMANDS,
    **port_forward.COMMANDS,
}


# Commands whose options may come before, between or after their names, as cobra allows
# (argparse's intermixed parsing); `-n NS` may even come before the command.
INTERMIXED = (
    "apply",
    "get",
    "describe",
    "delete",
    "exec",
    "logs",
    "run",
    "scale",
    "label",
    "annotate",
    "rollout",
    "wait",
    "expose",
    "capture",
    "port-forward",
)


def namespace_after_verb(argv: list[str]) -> list[str]:
    """`labkit -n NS get pods` -> `labkit get -n NS pods`: kubectl's --namespace is a flag of
    every command, so it may come before the command's name."""
    moved: list[str] = []
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        word = argv[i]
        if word in ("-n", "--namespace") and i + 1 < len(argv):
            moved += argv[i : i + 2]
            i += 2
        elif word.startswith("--namespace=") or (word.startswith("-n") and word != "-n"):
            moved.append(word)
            i += 1
        else:
            return argv  # `--help`, or an option of labkit's own: as it was
    if not moved or i >= len(argv) or argv[i] not in INTERMIXED:
        return argv
    return [argv[i], *moved, *argv[i + 1 :]]


def parse_args(argv: list[str]) -> Args:
    """Our options, and everything after `--` as the command to run (exec, host, run)."""
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1 :]
    argv = namespace_after_verb(argv)
    parser, commands = build_parsers()
    if argv and argv[0] in INTERMIXED:
        args = commands[argv[0]].parse_intermixed_args(argv[1:])
        args.verb = argv[0]
    else:
        args, extra = parser.parse_known_args(argv)
        if extra:  # the command's own usage, as kubectl shows a command's flags
            commands.get(args.verb, parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if hasattr(args, "argv"):
        args.argv = [*args.argv, *rest]
    elif rest:
        commands.get(args.verb, parser).error(f"unexpected arguments after --: {' '.join(rest)}")
    return args


def main(argv: list[str] | None = None, *, connect: Connect = objects.connect) -> int:
    """Run one labkit command; its exit code. `connect`: how to reach the lab's API."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        code = _run(args, connect)
        sys.stdout.flush()  # here, so a closed pipe (`labkit status | head -1`) is caught
        return code
    except LabError as e:
        print(str(e) if str(e).startswith(("error", "Error")) else f"error: {e}", file=sys.stderr)
        return 1
    except ApiError as e:
        print(f"Error from server ({e.reason}): {e.message}", file=sys.stderr)
        return 1
    except httpx.TransportError:  # the API server went away or froze mid-command
        print(f"error: {lifecycle.api_problem()}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader left: say nothing more (Python's own recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command a closed pipe stopped
    except KeyboardInterrupt:
        if args.verb == "up":  # lifecycle.up stopped what it had started before it gave up
            print("interrupted: the lab's processes were stopped again", file=sys.stderr)
        return 130


def _run(args: Args, connect: Connect) -> int:
    if args.verb in LIFECYCLE:
        return LIFECYCLE[args.verb](args)
    client = connect()
    try:
        return OBJECTS[args.verb](args, client)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
