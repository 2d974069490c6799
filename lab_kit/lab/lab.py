"""`Lab`: the notebook's (and the CLI's) handle on a running lab.

    from lab_kit import Lab
    lab = Lab.up()                      # or Lab.connect() to one `labkit up` started
    lab.apply("deployment.yml")         # files, directories, YAML text, dicts
    lab.get("pods")                     # a list of objects that prints as kubectl's table
    lab.down()

Every method is a thin call to the API server; the logic lives in `lab_kit.api` and the
agents. Errors are `LabError`s whose text names the file, document and field.
"""

from __future__ import annotations

import html
import json
import os
import sys
from pathlib import Path
from typing import Any

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.api import printers
from lab_kit.api.describe import describe as describe_text
from lab_kit.lab import lifecycle
from lab_kit.lab.lifecycle import LabError
from lab_kit.model import meta
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import Kind, kind_of, lookup
from lab_kit.model.manifests import Document, ManifestError, parse_manifests

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def resource_name(obj: dict) -> str:
    """`deployment.apps/random-generator`, as kubectl names what it acted on."""
    kind = kind_of(obj)
    return f"{kind.singular}{'.' + kind.group if kind.group else ''}/{meta.name(obj)}"


def resolve_kind(name: str) -> Kind:
    kind = lookup(name)
    if kind is None:
        raise LabError(f'the server doesn\'t have a resource type "{name}"')
    return kind


def read_documents(source: Any) -> list[Document]:
    """Documents from a path (file or directory), "-" (stdin), YAML text, a dict or a list."""
    if isinstance(source, dict):
        return [Document("<object>", 0, 1, source)]
    if isinstance(source, list | tuple):
        docs = [d for s in source for d in read_documents(s)]
        return docs
    text_source = str(source)
    if text_source == "-":
        return parse_manifests(sys.stdin.read(), "STDIN")
    path = Path(text_source)
    if "\n" not in text_source and path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES)
        if not files:
            raise ManifestError(
                f'error: no objects passed to apply: "{source}" has no .yaml/.yml/.json files'
            )
        return [d for f in files for d in read_documents(str(f))]
    if "\n" not in text_source and path.is_file():
        return parse_manifests(path.read_text(), text_source)
    if "\n" in text_source or text_source.lstrip().startswith(("apiVersion", "{", "kind")):
        return parse_manifests(text_source, "<string>")
    raise ManifestError(f'error: the path "{source}" does not exist')


class Listing(list):
    """Objects of one kind; prints as `kubectl get` does, renders as an HTML table."""

    def __init__(
        self, kind: str, items: list[dict], wide: bool = False, all_namespaces: bool = False
    ):
        super().__init__(items)
        self.kind, self.wide, self.all_namespaces = kind, wide, all_namespaces

    def rows(self) -> list[list[str]]:
        return printers.table(
            self.kind, list(self), wide=self.wide, all_namespaces=self.all_namespaces
        )

    def __str__(self) -> str:
        return printers.format_table(self.rows()) if self else "No resources found."

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


class Lab:
    def __init__(self, client: ApiClient):
        self.client = client

    # --- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def up(cls, quiet: bool = True) -> Lab:
        lifecycle.up(progress=(lambda *_: None) if quiet else print)
        return cls.connect()

    @classmethod
    def connect(cls) -> Lab:
        sock = lifecycle.socket_path()
        client = ApiClient(sock)
        if not os.path.exists(sock) or not client.healthy():
            client.close()
            raise LabError(
                f"no lab is running (no API server at {sock}); start one with `labkit up`"
            )
        return cls(client)

    def down(self) -> None:
        self.client.close()
        lifecycle.down(progress=lambda *_: None)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # --- objects ---------------------------------------------------------------------------------
    def apply(
        self, source: Any, *, wait: bool = False, timeout_s: float = 60, dry_run: bool = False
    ) -> list[str]:
        """Create or update every document, all or nothing; returns kubectl's result lines."""
        try:
            docs = read_documents(source)
        except ManifestError as e:
            raise LabError(str(e)) from e
        if not docs:
            raise LabError("error: no objects passed to apply")
        try:
            answer = self.client.apply([d.obj for d in docs], dry_run=dry_run)
        except ApiError as e:
            raise LabError(_explain_apply_error(e, docs)) from e
        suffix = " (server dry run)" if dry_run else ""
        lines = [f"{resource_name(r['object'])} {r['action']}{suffix}" for r in answer["results"]]
        if wait and not dry_run:
            self.wait(timeout_s)
        return lines

    def wait(self, timeout_s: float = 60) -> None:
        """Return when every agent has applied the latest change, or raise after timeout_s."""
        result = self.client.converged(timeout_s)
        if not result.get("converged"):
            behind = ", ".join(result.get("behind", []) + result.get("missing", []))
            raise LabError(
                f"timed out after {timeout_s:.0f} s waiting for the lab to converge "
                f"(still behind: {behind or 'unknown'})"
            )

    def get(
        self,
        kind: str,
        name: str | None = None,
        namespace: str = "default",
        *,
        all_namespaces: bool = False,
        selector: str = "",
        wide: bool = False,
    ) -> Any:
        k = resolve_kind(kind)
        if name:
            return self.client.get(k, name, namespace if k.namespaced else None)
        ns = None if all_namespaces or not k.namespaced else namespace
        items = self.client.list(k, ns, label_selector=selector)["items"]
        return Listing(k.kind, items, wide=wide, all_namespaces=all_namespaces and k.namespaced)

    def describe(self, kind: str, name: str, namespace: str = "default") -> str:
        k = resolve_kind(kind)
        obj = self.client.get(k, name, namespace if k.namespaced else None)
        endpoints = None
        if k.kind == "Service":
            try:
                endpoints = self.client.get(resolve_kind("endpoints"), name, namespace)
            except ApiError:
                endpoints = None
        return describe_text(obj, endpoints=endpoints)

    def delete(
        self,
        kind: str | None = None,
        name: str | None = None,
        namespace: str = "default",
        *,
        filename: Any = None,
        grace_period_s: int | None = None,
    ) -> list[str]:
        """Delete by kind and name, or every object a manifest names; returns result lines."""
        targets: list[tuple[Kind, str, str | None]] = []
        if filename is not None:
            for d in read_documents(filename):
                k = kind_of(d.obj)
                targets.append((k, d.name, (d.namespace or namespace) if k.namespaced else None))
        elif kind and name:
            k = resolve_kind(kind)
            targets.append((k, name, namespace if k.namespaced else None))
        else:
            raise LabError("error: resource(s) were provided, but no name was specified")
        lines = []
        for k, n, ns in targets:
            self.client.delete(k, n, ns, grace_period_s)
            lines.append(f'{k.singular}{"." + k.group if k.group else ""} "{n}" deleted')
        return lines

    def status(self) -> dict:
        return lifecycle.status()


def _explain_apply_error(e: ApiError, docs: list[Document]) -> str:
    """Name the file and document the server refused, then its own message."""
    index = e.details.get("index") if isinstance(e.details, dict) else None
    where = docs[index].where if isinstance(index, int) and 0 <= index < len(docs) else "the input"
    return (
        f"Error from server ({e.reason}): error when applying {where}: {e.message}\n"
        f"(nothing was applied: a batch is all or nothing)"
    )


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=4)
