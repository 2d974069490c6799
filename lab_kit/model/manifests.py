"""Multi-document YAML (or JSON) manifests -> documents that remember where they came from.

Every document keeps its source name and its position, so any error later — a YAML
syntax error, an unknown kind, a field the API server rejects — can name the file and the
document, as the guide to this project asks: `service.yml, document 2 of 3`.
A `kind: List` document is expanded into its items, as kubectl does.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import kind_of


class ManifestError(ValueError):
    """Bad input that never reached the API server."""


@dataclass(frozen=True)
class Document:
    source: str  # file name as the user gave it, or "-" / "<string>"
    index: int  # 0-based position in the file
    total: int
    obj: dict

    @property
    def where(self) -> str:
        return f'"{self.source}", document {self.index + 1} of {self.total}'

    @property
    def name(self) -> str:
        return (self.obj.get("metadata") or {}).get("name", "")

    @property
    def namespace(self) -> str:
        return (self.obj.get("metadata") or {}).get("namespace", "")


def parse_manifests(text: str, source: str) -> list[Document]:
    try:
        raw = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ManifestError(f'error parsing "{source}"{where}: {problem}') from e
    docs: list[dict] = []
    for i, d in enumerate(raw):
        if not isinstance(d, dict):
            raise ManifestError(
                f'error validating "{source}", document {i + 1}: '
                f"expected an object, got {type(d).__name__}"
            )
        if d.get("kind") == "List" and isinstance(d.get("items"), list):
            docs.extend(d["items"])
        else:
            docs.append(d)
    out = [Document(source, i, len(docs), d) for i, d in enumerate(docs)]
    for doc in out:
        check_document(doc)
    return out


def check_document(doc: Document) -> None:
    """kubectl's client-side checks: apiVersion/kind set, and a kind the server serves."""
    missing = [f for f in ("apiVersion", "kind") if not doc.obj.get(f)]
    if missing:
        raise ManifestError(
            f"error validating {doc.where}: error validating data: "
            f"[{', '.join(m + ' not set' for m in missing)}]"
        )
    if (
        not isinstance(doc.obj.get("metadata", {}), dict)
        or not doc.name
        and not (doc.obj.get("metadata") or {}).get("generateName")
    ):
        raise ManifestError(
            f"error validating {doc.where}: metadata.name: Required value: "
            "name or generateName is required"
        )
    try:
        kind_of(doc.obj)
    except ApiError as e:
        raise ManifestError(
            f'resource mapping not found for name: "{doc.name}" namespace: "{doc.namespace}" '
            f"from {doc.where}: {e.message}\nensure CRDs are installed first"
        ) from e
