"""Objects through the API server, with kubectl's rules: one place for both `Lab`
(notebooks) and `labkit` (terminal).

    read_documents   files, directories, "-", YAML text, dicts -> Documents (file + index)
    apply            one all-or-nothing batch; "deployment.apps/web created" lines, and
                     what it created or changed (what `--wait` waits for)
    resource_args    `KIND NAME...`, `KIND,KIND`, `KIND/NAME...` -> (kind, names) pairs
    get / describe   a Listing that prints as `kubectl get`; `kubectl describe` text
    delete           by name, by label selector, or what a manifest names
    run_pod          the Pod `kubectl run` creates
    printed          -o yaml | json | name, and "No resources found in default namespace."

Mirrors kubectl's apply, get, describe, delete and run commands (k8s.io/kubectl/pkg/cmd/)
and their printers. Unlike kubectl, apply sends every document in one batch that the API
server applies all or nothing, and there is no client-side merge: the server decides.
Every function takes the `ApiClient` to use; errors are `LabError`s (worded for a user) or
the server's own `ApiError`.
"""

from __future__ import annotations

import html
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.rundir import RunDir
from lab_kit.api import jsonpath, printers
from lab_kit.api.describe import describe as describe_text
from lab_kit.controllers.events import events_about
from lab_kit.lab.errors import LabError
from lab_kit.model import meta
from lab_kit.model.constants import MAX_MANIFEST_BYTES
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import Kind, kind_of, lookup
from lab_kit.model.manifests import (
    Document,
    ManifestError,
    check_apply,
    check_size,
    parse_manifest_bytes,
    parse_manifests,
)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
OUTPUTS = ("wide", "yaml", "json", "name")  # `-o` formats; and jsonpath=TEMPLATE


def connect(run_dir: RunDir | None = None) -> ApiClient:
    """A client of the running lab's API server, or a LabError saying there is none."""
    rd = run_dir or RunDir()
    client = ApiClient(rd.socket)
    if not os.path.exists(rd.socket) or not client.healthy(timeout_s=5):
        client.close()
        from lab_kit.lab import lifecycle  # the lab's records say why: none, dead or frozen

        raise LabError(lifecycle.api_problem(rd.path))
    return client


# --- names -----------------------------------------------------------------------------------


def resolve_kind(name: str) -> Kind:
    """What a user types after `get` (`pods`, `po`, `svc`, `deployment.apps`) -> its Kind."""
    kind = lookup(name)
    if kind is None:
        raise LabError(f'the server doesn\'t have a resource type "{name}"')
    return kind


def kind_name(kind: Kind) -> str:
    """`deployment.apps`, `service`: how kubectl names a kind in what it prints."""
    return f"{kind.singular}.{kind.group}" if kind.group else kind.singular


def resource_name(obj: dict) -> str:
    """`deployment.apps/random-generator`, as kubectl names what it acted on."""
    return f"{kind_name(kind_of(obj))}/{meta.name(obj)}"


def split_kind(kind: str, names: list[str]) -> tuple[str, list[str]]:
    """`svc/web` -> ("svc", ["web"]), as kubectl accepts."""
    if "/" in kind:
        k, _, n = kind.partition("/")
        return k, [n, *names]
    return kind, names


RESOURCE_NAME_TYPE = (
    "error: there is no need to specify a resource type as a separate argument when passing "
    "arguments in resource/name form (e.g. 'labkit get resource/<resource_name>' instead of "
    "'labkit get resource resource/<resource_name>'"
)


def resource_args(words: list[str]) -> list[tuple[str, list[str]]]:
    """What the words after `get`/`describe`/`delete` name, by kubectl's rules
    (cli-runtime's ResourceTypeOrNameArgs): `KIND [NAME...]`, `KIND,KIND [NAME...]` or
    `KIND/NAME...`. One (kind, names) pair per kind, in the order first named."""
    if not any("/" in w for w in words):
        return [(kind, words[1:]) for kind in words[0].split(",")] if words else []
    if "/" not in words[0]:
        raise LabError(RESOURCE_NAME_TYPE)
    groups: dict[str, tuple[str, list[str]]] = {}
    for word in words:
        kind, slash, name = word.partition("/")
        if not slash or not kind or not name or "/" in name:
            raise LabError(
                "error: arguments in resource/name form must have a single resource and name"
            )
        groups.setdefault(resolve_kind(kind).key, (kind, []))[1].append(name)
    return list(groups.values())


def no_resources(
    kind: Kind | None = None, namespace: str | None = None, all_namespaces: bool = False
) -> str:
    """kubectl's words for an empty answer (where it looked, when that is known)."""
    if kind is None or not kind.namespaced or (namespace is None and not all_namespaces):
        return "No resources found."
    return (
        "No resources found in any namespace."
        if all_namespaces
        else (f"No resources found in {namespace} namespace.")
    )


# --- reading manifests -----------------------------------------------------------------------


def read_documents(source: Any) -> list[Document]:
    """Documents from a path (file or directory), "-" (stdin), YAML text, a dict or a list."""
    if isinstance(source, dict):
        return [Document("<object>", 0, 1, source)]
    if isinstance(source, list | tuple):
        return [d for s in source for d in read_documents(s)]
    text = str(source)
    one_line = "\n" not in text
    if text == "-":
        return read_stdin()
    path = Path(text)
    if one_line and path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES)
        if not files:
            raise ManifestError(
                f'error: no objects passed to apply: "{source}" has no .yaml/.yml/.json files'
            )
        # One apply is one request: the files together must fit in it (checked before reading).
        check_size(sum(f.stat().st_size for f in files), text)
        return [d for f in files for d in read_documents(str(f))]
    if one_line and path.is_file():
        return read_file(path, text)
    if not one_line or text.lstrip().startswith(("apiVersion", "{", "kind")):
        return parse_manifests(text, "<string>")
    raise ManifestError(f'error: the path "{source}" does not exist')


def read_file(path: Path, name: str) -> list[Document]:
    """A manifest file's documents; never more than the size limit is read."""
    with path.open("rb") as f:
        data = f.read(MAX_MANIFEST_BYTES + 1)
    return parse_manifest_bytes(data, name)


def read_stdin() -> list[Document]:
    """`-f -`: stdin's bytes (or text, when it is no real file), within the size limit."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is not None:
        return parse_manifest_bytes(raw.read(MAX_MANIFEST_BYTES + 1), "STDIN")
    return parse_manifests(sys.stdin.read(MAX_MANIFEST_BYTES + 1), "STDIN")


def documents(source: Any) -> list[Document]:
    """`read_documents`, its errors as LabErrors, and at least one document."""
    try:
        docs = read_documents(source)
    except ManifestError as e:
        raise LabError(str(e)) from e
    if not docs:
        raise LabError("error: no objects passed to apply")
    return docs


# --- apply -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    lines: list[str]  # kubectl's: "service/web created", "... configured (server dry run)"
    namespaces: list[str]  # where the applied objects live
    # What this apply created or configured (not what it left unchanged, nor a dry run's):
    # what `--wait` waits for.
    changed: list[dict] = field(default_factory=list)


def apply(
    client: ApiClient, source: Any, dry_run: bool = False, namespace: str | None = None
) -> Applied:
    """Create or update every document, all or nothing (`namespace`: kubectl apply's -n,
    for every namespaced object that names none; one naming another is refused)."""
    docs = documents(source)
    if namespace:
        in_namespace(docs, namespace)
    try:
        check_apply(docs)
    except ManifestError as e:
        raise LabError(str(e)) from e
    try:
        answer = client.apply([d.obj for d in docs], dry_run=dry_run)
    except ApiError as e:
        raise LabError(explain_apply_error(e, docs)) from e
    for text in client.warnings:  # as kubectl's warning handler: on stderr, before the results
        print(f"Warning: {text}", file=sys.stderr)
    suffix = " (server dry run)" if dry_run else ""
    results = answer["results"]
    return Applied(
        [f"{resource_name(r['object'])} {r['action']}{suffix}" for r in results],
        sorted({meta.namespace(r["object"]) for r in results} - {""}),
        [] if dry_run else [r["object"] for r in results if r["action"] != "unchanged"],
    )


def in_namespace(docs: list[Document], namespace: str) -> None:
    for doc in docs:
        try:
            namespaced = kind_of(doc.obj).namespaced
        except ApiError:
            continue  # an unknown kind: the server's error says so
        md = doc.obj.setdefault("metadata", {}) if isinstance(doc.obj, dict) else {}
        if not namespaced or not isinstance(md, dict):
            continue
        own = md.get("namespace")
        if own and own != namespace:
            raise LabError(f'error: the namespace from the provided object "{own}" does not match the '
                           f'namespace "{namespace}". You must pass \'--namespace={own}\' to perform this operation.')  # fmt: skip
        md["namespace"] = namespace


def explain_apply_error(e: ApiError, docs: list[Document]) -> str:
    """Name the file and document the server refused, then its own message."""
    index = e.details.get("index") if isinstance(e.details, dict) else None
    where = docs[index].where if isinstance(index, int) and 0 <= index < len(docs) else "the input"
    return (
        f"Error from server ({e.reason}): error when applying {where}: {e.message}\n"
        f"(nothing was applied: a batch is all or nothing)"
    )


def refusal(client: ApiClient, source: Any, dry_run: bool = False) -> str:
    """Apply something expected to be refused and return the error a user would see
    ("" if it was accepted, and then it is applied): for showing what the API rejects."""
    try:
        apply(client, source, dry_run=dry_run)
    except LabError as e:
        return str(e)
    return ""


# --- get and describe ------------------------------------------------------------------------


class Listing(list):
    """Objects of one kind; prints as `kubectl get` does, renders as an HTML table.
    `namespace`: where they were listed (for "No resources found in ... namespace.")."""

    def __init__(
        self,
        kind: str,
        items: list[dict],
        wide: bool = False,
        all_namespaces: bool = False,
        namespace: str | None = None,
    ):
        super().__init__(items)
        self.kind, self.wide, self.all_namespaces = kind, wide, all_namespaces
        self.namespace = namespace

    def rows(self) -> list[list[str]]:
        return printers.table(
            self.kind, list(self), wide=self.wide, all_namespaces=self.all_namespaces
        )

    def empty_message(self) -> str:
        return no_resources(lookup(self.kind), self.namespace, self.all_namespaces)

    def __str__(self) -> str:
        return printers.format_table(self.rows()) if self else self.empty_message()

    __repr__ = __str__  # Jupyter's text view shows the kubectl table, not a list of dicts

    def _repr_html_(self) -> str:
        rows = self.rows()
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r)
            + "</tr>"
            for r in rows[1:]
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def get(
    client: ApiClient,
    kind: str,
    name: str | None = None,
    namespace: str = "default",
    *,
    all_namespaces: bool = False,
    selector: str = "",
    wide: bool = False,
) -> Any:
    """One object (a dict) when named, else a Listing of the kind."""
    k = resolve_kind(kind)
    if name:
        return client.get(k, name, namespace if k.namespaced else None)
    ns = None if all_namespaces or not k.namespaced else namespace
    items = client.list(k, ns, label_selector=selector)["items"]
    return Listing(k.key, items, wide=wide, all_namespaces=all_namespaces and k.namespaced)


def get_listing(
    client: ApiClient,
    kind: str,
    names: list[str],
    namespace: str = "default",
    *,
    all_namespaces: bool = False,
    selector: str = "",
    wide: bool = False,
) -> Listing:
    """`kubectl get KIND [NAME...]`: the named objects, or all (selected) of the kind, as
    a Listing that knows where it looked."""
    if names:
        objs = [get(client, kind, n, namespace) for n in names]
        return Listing(resolve_kind(kind).key, objs, wide=wide, namespace=namespace)
    listing = get(
        client,
        kind,
        namespace=namespace,
        all_namespaces=all_namespaces,
        selector=selector,
        wide=wide,
    )
    listing.namespace = namespace
    return listing


def custom_columns(spec: str, objs: list[dict]) -> str:
    """`-o custom-columns=NAME:.metadata.name,IP:.status.podIP`, as kubectl prints it:
    the headers as given, each cell the values its path finds joined by "," or <none>."""
    columns = []
    for part in spec.split(","):
        header, colon, path = part.partition(":")
        if not colon or not header or not path:
            raise LabError(
                f"error: unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>"
            )
        if not path.startswith("{"):  # RelaxedJSONPathExpression: `.a.b` or `a.b` -> `{.a.b}`
            path = "{" + (path if path.startswith(".") else "." + path) + "}"
        columns.append((header, path))
    rows = [[h for h, _ in columns]]
    for obj in objs:
        row = []
        for _, path in columns:
            try:
                values = jsonpath.find(path, obj)
            except jsonpath.ParseError as e:
                raise LabError(f"error: error parsing jsonpath {path}, {e}") from None
            row.append(",".join(jsonpath.text(v) for v in values) if values else "<none>")
        rows.append(row)
    return printers.format_table(rows) + "\n"


def printed(listing: Listing, output: str | None, single: bool = False) -> str:
    """What `kubectl get -o yaml|json|name` prints (`single`: one object was named, so it
    is printed alone rather than in a List); the table otherwise ("" when empty: kubectl
    says "No resources found" on stderr)."""
    if output and output.startswith("custom-columns="):
        return custom_columns(output.partition("=")[2], list(listing))
    if output and output.startswith("jsonpath="):
        data = listing[0] if single and len(listing) == 1 else as_list(listing)
        return jsonpath_text(output.partition("=")[2], data)
    if output in ("yaml", "json"):
        doc = (
            listing[0]
            if single and len(listing) == 1
            else {
                "apiVersion": "v1",
                "kind": "List",
                "items": list(listing),
                "metadata": {"resourceVersion": ""},
            }
        )
        if output == "json":
            return json.dumps(doc, indent=4) + "\n"
        return yaml.safe_dump(doc, sort_keys=False)
    if output == "name":
        kind = kind_name(resolve_kind(listing.kind))
        return "".join(f"{kind}/{meta.name(o)}\n" for o in listing)
    return f"{listing}\n" if listing else ""


def as_list(items: list[dict]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": list(items),
        "metadata": {"resourceVersion": ""},
    }


def jsonpath_text(template: str, data: Any) -> str:
    """`-o jsonpath=TEMPLATE` over an object or a List, with kubectl's errors."""
    if not template:
        raise LabError("error: template format specified but no template given")
    try:
        return jsonpath.execute(template, data)
    except jsonpath.ParseError as e:
        raise LabError(f"error: error parsing jsonpath {template}, {e}") from None
    except jsonpath.ExecuteError as e:
        raise LabError(
            f'error: error executing jsonpath "{template}": Error executing template: {e}. '
            "Printing more information for debugging the template:\n"
            f"\ttemplate was:\n\t\t{template}\n"
            f"\tobject given to jsonpath engine was:\n\t\t{json.dumps(data)}\n"
        ) from None


def describe(client: ApiClient, kind: str, name: str, namespace: str = "default") -> str:
    """`kubectl describe KIND NAME`; a Service's text lists its Endpoints; every text ends
    with the Events about the object (those in its namespace that point at it)."""
    k = resolve_kind(kind)
    obj = client.get(k, name, namespace if k.namespaced else None)
    endpoints = None
    if k.key == "Service":
        try:
            endpoints = client.get(resolve_kind("endpoints"), name, namespace)
        except ApiError:
            endpoints = None
    events_ns = meta.namespace(obj) or "default"
    events = events_about(client.list(resolve_kind("events"), events_ns)["items"], obj)
    return describe_text(obj, events=events, endpoints=endpoints, now=time.time())


def describe_all(client: ApiClient, kind: str, namespace: str = "default") -> str:
    """`kubectl describe KIND`: every object of the kind, one after another."""
    k = resolve_kind(kind)
    objs = get(client, kind, namespace=namespace)
    return "\n\n".join(describe(client, k.plural, meta.name(o), namespace) for o in objs)


# --- delete ----------------------------------------------------------------------------------


def delete(
    client: ApiClient,
    kind: str | None = None,
    names: list[str] | None = None,
    namespace: str = "default",
    *,
    filename: Any = None,
    selector: str = "",
    grace_period_s: int | None = None,
) -> list[str]:
    """Delete every object a manifest names, objects of a kind by name, or by label
    selector; kubectl's result lines (`service "web" deleted`)."""
    if filename is not None:
        targets = _targets_in(documents(filename), namespace)
    elif not kind:
        raise LabError("error: you must provide one or more resources by argument or filename")
    else:
        kind, names = split_kind(kind, names or [])
        targets = _targets_named(client, resolve_kind(kind), names, namespace, selector)
        if not targets:
            return [no_resources(resolve_kind(kind), namespace)]
    lines = []
    for k, name, ns in targets:
        client.delete(k, name, ns, grace_period_s)
        lines.append(f'{kind_name(k)} "{name}" deleted')
    return lines


Target = tuple[Kind, str, "str | None"]  # what to delete: kind, name, namespace


def _targets_in(docs: list[Document], namespace: str) -> list[Target]:
    """Every object the documents name (in their own namespace, else `namespace`)."""
    targets: list[Target] = []
    for d in docs:
        k = kind_of(d.obj)
        targets.append((k, d.name, (d.namespace or namespace) if k.namespaced else None))
    return targets


def _targets_named(
    client: ApiClient, kind: Kind, names: list[str], namespace: str, selector: str
) -> list[Target]:
    """Objects of `kind` by name or by selector (kubectl's rules for which may be given)."""
    ns = namespace if kind.namespaced else None
    if selector and names:
        raise LabError("error: name cannot be provided when a selector is specified")
    if selector:
        found = client.list(kind, ns, label_selector=selector)["items"]
        return [(kind, meta.name(o), ns) for o in found]
    if not names:
        raise LabError("error: resource(s) were provided, but no name was specified")
    return [(kind, n, ns) for n in names]


# --- run -------------------------------------------------------------------------------------


def run_pod(
    name: str,
    image: str,
    argv: list[str] | None = None,
    *,
    as_command: bool = False,
    restart: str = "Always",
    env: list[str] | None = None,
    labels: str = "",
    port: int | None = None,
    namespace: str = "default",
) -> dict:
    """The Pod `kubectl run NAME --image=IMAGE [--command] -- ARGV` creates: one container
    named after the pod, labels `run=NAME` unless given (`k=v,...`), env from `K=V`."""
    container: dict = {"name": name, "image": image}
    if argv:
        container["command" if as_command else "args"] = list(argv)
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


def create(client: ApiClient, obj: dict) -> str:
    """Create one object; kubectl's line for it (`pod/web created`)."""
    return f"{resource_name(client.create(obj))} created"
