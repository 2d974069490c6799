"""`labkit scale`, `labkit label`, `labkit annotate`: kubectl's small edits, with its words.

    labkit scale deployment/random-generator --replicas=2      deployment.apps/random-generator scaled
    labkit label pod web tier=front                            pod/web labeled
    labkit label pod web tier-                                 pod/web unlabeled
    labkit annotate deploy/web note="canary test" --overwrite  deployment.apps/web annotated

Each edit reads the object and writes it back (PUT with its resourceVersion), so a change
made meanwhile is refused rather than lost, as kubectl's patches are. `scale` works on what
has a scale subresource (Deployments, ReplicaSets); `label`/`annotate` refuse to change an
existing key without `--overwrite`, as kubectl does.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.controllers.state import Update
from lab_kit.lab import objects
from lab_kit.lab.errors import LabError
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import kind_of

SCALABLE = ("Deployment", "ReplicaSet")

SCALE_HELP = """Set a new size for a Deployment or ReplicaSet (its spec.replicas); the
controllers then add or remove pods.

examples:
  labkit scale deployment/random-generator --replicas=2
  labkit scale deploy random-generator --replicas 0 -n default"""

LABEL_HELP = """Add, change (with --overwrite) or remove (KEY-) labels on objects. A Service
selects pods by label: relabel a pod and it joins or leaves the Service's endpoints.

examples:
  labkit label pod web tier=front
  labkit label pods -l app=random-generator version=v1
  labkit label pod web app=other --overwrite
  labkit label pod web tier-"""

ANNOTATE_HELP = """Add, change (with --overwrite) or remove (KEY-) annotations on objects.

examples:
  labkit annotate deployment/random-generator kubernetes.io/change-cause="scaled for the lab"
  labkit annotate svc random-generator note-"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("scale", help="set a Deployment's or ReplicaSet's replicas",
                       description=SCALE_HELP, formatter_class=fmt)  # fmt: skip
    p.add_argument("what", nargs="+", metavar="KIND/NAME | KIND NAME")
    p.add_argument("--replicas", type=int, required=True, help="the new size")
    p.add_argument("-n", "--namespace", default="default")
    for verb, text, what in (
        ("label", LABEL_HELP, "labels"),
        ("annotate", ANNOTATE_HELP, "annotations"),
    ):
        p = sub.add_parser(
            verb, help=f"add, change or remove {what}", description=text, formatter_class=fmt
        )
        p.add_argument("words", nargs="+", metavar="KIND NAME KEY=VALUE|KEY-")
        p.add_argument("--overwrite", action="store_true", help="allow changing an existing key")
        p.add_argument("-l", "--selector", default="", help="all objects of KIND with these labels")
        p.add_argument("-n", "--namespace", default="default")


def cmd_scale(args: argparse.Namespace, client: ApiClient) -> int:
    for kind_word, names in objects.resource_args(args.what):
        kind = objects.resolve_kind(kind_word)
        if kind.key not in SCALABLE:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if args.replicas < 0:
            raise LabError(
                "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"
            )
        for name in names:
            obj = copy.deepcopy(client.get(kind, name, args.namespace))
            obj.setdefault("spec", {})["replicas"] = args.replicas
            client.perform(Update(obj))
            print(f"{objects.resource_name(obj)} scaled")
    return 0


def parse_changes(words: list[str], what: str) -> tuple[dict[str, str], list[str]]:
    """`k=v` to set, `k-` to remove, as kubectl reads them."""
    sets: dict[str, str] = {}
    removes: list[str] = []
    for word in words:
        if "=" in word:
            key, _, value = word.partition("=")
            sets[key] = value
        elif word.endswith("-") and len(word) > 1:
            removes.append(word[:-1])
        else:
            raise LabError(f"error: at least one {what} update is required" if not word else
                           f"error: invalid {what} spec: {word}")  # fmt: skip
    if not sets and not removes:
        raise LabError(f"error: at least one {what} update is required")
    return sets, removes


def _targets(
    words: list[str], selector: str, client: ApiClient, namespace: str
) -> tuple[list[dict], list[str]]:
    """The objects named (KIND NAME..., KIND/NAME... or KIND -l SELECTOR), and the change words."""
    # kubectl: any word ending in "-" removes that key, prefixed ones (example.com/key-)
    # too; an object's name never ends in "-" (DNS-1123)
    changes = [w for w in words if "=" in w or (w.endswith("-") and w != "-")]
    names = [w for w in words if w not in changes]
    if not names:
        raise LabError(
            "error: one or more resources must be specified as <resource> <name> or <resource>/<name>"
        )
    if selector:
        kind = objects.resolve_kind(names[0])
        return list(client.list(kind, namespace, label_selector=selector)["items"]), changes
    found = []
    for kind_word, object_names in objects.resource_args(names):
        kind = objects.resolve_kind(kind_word)
        if not object_names:
            raise LabError("error: resource(s) were provided, but no name was specified")
        found += [client.get(kind, n, namespace if kind.namespaced else None) for n in object_names]
    return found, changes


def _edit(args: argparse.Namespace, client: ApiClient, field: str, singular: str, verb: str) -> int:
    objs, words = _targets(args.words, args.selector, client, args.namespace)
    sets, removes = parse_changes(words, singular)
    for obj in objs:
        current = meta.metadata(obj).get(field) or {}
        for key, value in sets.items():
            if key in current and current[key] != value and not args.overwrite:
                raise LabError(
                    f"error: '{key}' already has a value ({current[key]}), and --overwrite is false"
                )
        wanted = {k: v for k, v in {**current, **sets}.items() if k not in removes}
        name = objects.resource_name(obj)
        if wanted != current:
            updated = copy.deepcopy(obj)
            updated["metadata"][field] = wanted
            client.perform(Update(updated))
        if field == "annotations":  # kubectl's annotate says "annotated", whatever changed
            print(f"{name} {verb}")
        elif wanted == current:  # label tells the three apart (label.go's dataChangeMsg)
            print(f"{name} not {verb}")
        else:
            print(f"{name} {'un' + verb if not sets and removes else verb}")
    return 0


def cmd_label(args: argparse.Namespace, client: ApiClient) -> int:
    return _edit(args, client, "labels", "label", "labeled")


def cmd_annotate(args: argparse.Namespace, client: ApiClient) -> int:
    return _edit(args, client, "annotations", "annotation", "annotated")


COMMANDS: dict[str, Callable[[argparse.Namespace, ApiClient], int]] = {
    "scale": cmd_scale,
    "label": cmd_label,
    "annotate": cmd_annotate,
}


EXPOSE_HELP = """Create a Service in front of a Deployment's, ReplicaSet's or pod's pods (their
labels become its selector), or in front of another Service's selection.

examples:
  labkit expose deployment random-generator --port=80 --target-port=8080
  labkit expose deploy/random-generator --port=8080 --type=NodePort --name=rg-nodeport
  labkit expose pod web --port=80"""


def add_expose_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("expose", help="create a Service for a Deployment, ReplicaSet, pod or Service",
                       description=EXPOSE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("what", nargs="+", metavar="KIND/NAME | KIND NAME")
    p.add_argument(
        "--port", type=int, help="the Service's port (default: the pods' first container port)"
    )
    p.add_argument(
        "--target-port", default=None, help="the pods' port, number or name (default: --port)"
    )
    p.add_argument("--type", default="ClusterIP", choices=["ClusterIP", "NodePort", "LoadBalancer"])
    p.add_argument("--name", default=None, help="the Service's name (default: the object's)")
    p.add_argument("--protocol", default="TCP", choices=["TCP", "UDP", "SCTP"])
    p.add_argument("-n", "--namespace", default="default")


def _selector_and_ports(obj: dict) -> tuple[dict, list[dict]]:
    """What `kubectl expose` reads from the object: the selector and the container ports."""
    kind = kind_of(obj).key
    if kind == "Service":
        return meta.spec(obj).get("selector") or {}, meta.spec(obj).get("ports") or []
    if kind == "Pod":
        return meta.labels(obj), [
            p for c in meta.spec(obj).get("containers") or [] for p in c.get("ports") or []
        ]
    if kind in SCALABLE:
        selector = meta.spec(obj).get("selector") or {}
        if selector.get("matchExpressions"):
            raise LabError(
                'error: couldn\'t convert expressions - "matchExpressions" to map-based selector format'
            )
        spec = (meta.spec(obj).get("template") or {}).get("spec") or {}
        return selector.get("matchLabels") or {}, [
            p for c in spec.get("containers") or [] for p in c.get("ports") or []
        ]
    raise LabError(f"error: cannot expose a {objects.kind_name(kind_of(obj))}")


def cmd_expose(args: argparse.Namespace, client: ApiClient) -> int:
    for kind_word, names in objects.resource_args(args.what):
        kind = objects.resolve_kind(kind_word)
        for name in names:
            obj = client.get(kind, name, args.namespace)
            selector, ports = _selector_and_ports(obj)
            if not selector:
                raise LabError(
                    f"error: the {objects.kind_name(kind)} {name} has no labels to select its pods by"
                )
            port = args.port or (
                ports[0].get("containerPort") or ports[0].get("port") if ports else None
            )
            if not port:
                raise LabError("error: couldn't find port via --port flag or introspection")
            target: int | str = port
            if args.target_port:
                target = int(args.target_port) if args.target_port.isdigit() else args.target_port
            svc = {"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": args.name or name, "namespace": args.namespace, "labels": meta.labels(obj)},
                   "spec": {"type": args.type, "selector": selector,
                            "ports": [{"port": port, "protocol": args.protocol, "targetPort": target}]}}  # fmt: skip
            client.create(svc, args.namespace)
            print(f"service/{args.name or name} exposed")
    return 0


COMMANDS["expose"] = cmd_expose
