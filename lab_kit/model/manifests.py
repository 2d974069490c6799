"""Multi-document YAML (or JSON) manifests -> documents that remember where they came from.

Every document keeps its source name and its position, so any error later — a YAML
syntax error, an unknown kind, a field the API server rejects — can name the file and the
document, as the guide to this project asks: `service.yml, document 2 of 3`.
A `kind: List` document is expanded into its items, as kubectl does.

Reading is bounded as kubectl's is, so a hostile file is one clear line, never a
traceback, an out-of-memory kill or a frozen machine (limits in `model/constants.py`):

    bytes    at most MAX_MANIFEST_BYTES (one apply is one request: kube-apiserver's 3 MiB);
             UTF-8, or UTF-16 with a byte-order mark (kubectl's FileVisitor decodes
             both); anything else is refused with the line and column of the first bad byte
    YAML     PyYAML's safe loader (libyaml's parser when installed) with go-yaml's checks
             added in the composer, before any value is built:
             - nesting deeper than MAX_NESTING_DEPTH: "exceeded max depth of N"
             - alias bombs: go-yaml's rule (decode.go allowedAliasRatio: "document contains
               excessive aliasing"), plus budgets on expanded values and characters, since
               an alias costs nothing here but is copied out in full by the JSON encoder
             - duplicate mapping keys: go-yaml v3's "mapping key "x" already defined at
               line N" (kubectl: `error converting YAML to JSON: yaml: unmarshal errors:`)
             - only what JSON can carry: timestamps stay strings (as sigs.k8s.io/yaml keeps
               them), no !!binary or !!set, no NaN or infinities, keys made strings
    apply    a document with `generateName` and no `name` is kubectl's "cannot use
             generate name with apply" (`check_apply`)

Deliberate differences: the depth limit is 100, not go-yaml's 10000 (CPython's recursion
limit); kubectl silently replaces invalid UTF-8 with U+FFFD, the lab refuses it.
"""

from __future__ import annotations

import codecs
import json
import math
from dataclasses import dataclass
from typing import Any

import yaml
import yaml.composer
import yaml.constructor
import yaml.parser
import yaml.reader
import yaml.resolver
import yaml.scanner
from yaml.error import MarkedYAMLError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lab_kit.model import constants as C
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import kind_of

# PyYAML's loader parts, taken as Any: their stubs' signatures for the composer and the
# constructor's internals do not match the code (`compose_sequence_node(anchor: dict)`).
Composer: Any = yaml.composer.Composer
SafeConstructor: Any = yaml.constructor.SafeConstructor
Reader: Any = yaml.reader.Reader
Scanner: Any = yaml.scanner.Scanner
Parser: Any = yaml.parser.Parser
Resolver: Any = yaml.resolver.Resolver

TO_JSON = "error converting YAML to JSON: yaml: "  # sigs.k8s.io/yaml's prefix, then go-yaml's


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


# --- bytes -> text ---------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def parse_manifest_bytes(data: bytes, source: str) -> list[Document]:
    """`parse_manifests` for a file's (or stdin's) bytes: size first, then the encoding."""
    check_size(len(data), source)
    return parse_manifests(decode_text(data, source), source)


def check_size(size: int, source: str) -> None:
    if size > C.MAX_MANIFEST_BYTES:
        raise ManifestError(
            f'error reading "{source}": more than {C.MAX_MANIFEST_BYTES} bytes, the most '
            "the API server accepts in one request"
        )


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 (a BOM is dropped) or UTF-16 with a BOM, as kubectl reads files; otherwise a
    one-line error at the first byte that is not UTF-8."""
    codec = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        label = "UTF-16" if codec == "utf-16" else "UTF-8"
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ManifestError(
            f'error parsing "{source}" (line {line}, column {column}): not {label} '
            f"text (byte 0x{data[e.start]:02x}); save the file as UTF-8"
        ) from None


# --- text -> documents -----------------------------------------------------------------------


def parse_manifests(text: str, source: str) -> list[Document]:
    check_size(len(text), source)  # characters: never more than the bytes they came from
    docs: list[dict] = []
    for i, d in enumerate(d for d in load_all(text, source) if d is not None):
        if not isinstance(d, dict):
            raise ManifestError(
                f'error validating "{source}", document {i + 1}: '
                f"expected an object, got {type(d).__name__}"
            )
        items = d.get("items")
        if d.get("kind") == "List" and isinstance(items, list):
            for j, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ManifestError(
                        f'error validating "{source}", document {i + 1}: items[{j}]: '
                        f"expected an object, got {type(item).__name__}"
                    )
            docs.extend(items)
        else:
            docs.append(d)
    out = [Document(source, i, len(docs), d) for i, d in enumerate(docs)]
    for doc in out:
        check_document(doc)
    return out


def load_all(text: str, source: str) -> list[Any]:
    """Every YAML document of `text` (None for an empty one), within the limits above."""
    bad = Reader.NON_PRINTABLE.search(text)
    if bad:
        line, column = _position(text, bad.start())
        raise ManifestError(
            f'error parsing "{source}" (line {line}, column {column}): yaml: control '
            f"characters are not allowed (#x{ord(bad.group()):04x})"
        )
    loader = LOADER(text)
    out: list[Any] = []
    try:
        while loader.check_data():
            out.append(loader.get_data())
    except (yaml.YAMLError, RecursionError) as e:
        raise ManifestError(_yaml_error(e, source, len(out) + 1)) from None
    finally:
        loader.dispose()
    return out


def _position(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _yaml_error(e: BaseException, source: str, document: int) -> str:
    """One line: the file, where in it, the document, and the problem."""
    if isinstance(e, RecursionError):  # not reachable within MAX_NESTING_DEPTH; a safety net
        return f'error parsing "{source}" (document {document}): {TO_JSON}exceeded max depth'
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).split("\n")[0]
    if problem == "exceeded maximum nesting depth":  # libyaml's own stop (1000 levels)
        problem = f"{TO_JSON}exceeded max depth of {C.MAX_NESTING_DEPTH}"
    if mark is None:
        return f'error parsing "{source}" (document {document}): {problem}'
    return (
        f'error parsing "{source}" (line {mark.line + 1}, column {mark.column + 1}; '
        f"document {document}): {problem}"
    )


def check_document(doc: Document) -> None:
    """kubectl's client-side checks: apiVersion/kind set, and a kind the server serves."""
    missing = [f for f in ("apiVersion", "kind") if not doc.obj.get(f)]
    if missing:
        raise ManifestError(
            f"error validating {doc.where}: error validating data: "
            f"[{', '.join(m + ' not set' for m in missing)}]"
        )
    for field in ("apiVersion", "kind"):
        if not isinstance(doc.obj[field], str):
            raise ManifestError(
                f"error: unable to decode {doc.where}: json: cannot unmarshal "
                f"{json_type(doc.obj[field])} into Go struct field .{field} of type string"
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


def check_apply(docs: list[Document]) -> None:
    """kubectl apply's own refusal (apply.go applyOneObject): apply needs a name to find
    the object again, so `generateName` alone is refused before anything is sent."""
    for doc in docs:
        generate = (doc.obj.get("metadata") or {}).get("generateName")
        if not doc.name and generate:
            raise ManifestError(
                f"error: from {generate}: cannot use generate name with apply ({doc.where})"
            )


def json_type(value: Any) -> str:
    """Go's encoding/json name for a JSON value's type, as its errors say it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "string"


# --- the loader ------------------------------------------------------------------------------


class Refused(MarkedYAMLError):
    """A document the limits refuse; `problem` is the whole message."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def allowed_alias_ratio(decode_count: int) -> float:
    """go-yaml's (v2.2.8+/v3 decode.go): how much of a document may come from aliases."""
    low, high = 400_000, 4_000_000
    if decode_count <= low:
        return 0.99  # 99% for small-to-medium documents
    if decode_count >= high:
        return 0.10
    return 0.99 - 0.89 * (decode_count - low) / (high - low)


@dataclass(frozen=True)
class _Cost:
    """What an anchored node costs each time an alias repeats it."""

    nodes: int
    chars: int
    height: int  # nesting levels inside it


class BoundedComposer(Composer):
    """PyYAML's composer with go-yaml's decoder checks, counted while composing (before
    any value exists): depth, alias expansion (nodes and characters), duplicate keys."""

    def init_limits(self) -> None:
        self.total_nodes = 0  # the whole file, expansions included
        self.total_chars = 0
        self.decode_count = self.alias_count = 0  # go-yaml's counters, per document
        self.depth = self.deepest = 0
        self.costs: dict[str, _Cost] = {}

    def compose_document(self) -> Node:
        self.decode_count = self.alias_count = 0
        self.depth = self.deepest = 0
        self.costs = {}
        return super().compose_document()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            self._expand(event)
            return super().compose_node(parent, index)
        before = (self.total_nodes, self.total_chars, self.deepest)
        self._count(1, 0, event)
        if event.anchor is None:
            return super().compose_node(parent, index)
        self.deepest = self.depth
        node = super().compose_node(parent, index)
        self.costs[event.anchor] = _Cost(
            self.total_nodes - before[0], self.total_chars - before[1], self.deepest - self.depth
        )
        self.deepest = max(before[2], self.deepest)
        return node

    def compose_scalar_node(self, anchor: str | None) -> ScalarNode:
        node = super().compose_scalar_node(anchor)
        self._count(0, len(node.value), None)
        return node

    def compose_sequence_node(self, anchor: str | None) -> SequenceNode:
        self._descend(self.peek_event())
        node = super().compose_sequence_node(anchor)
        self.depth -= 1
        return node

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:
        self._descend(self.peek_event())
        node = super().compose_mapping_node(anchor)
        self.depth -= 1
        _check_unique_keys(node)
        return node

    def _descend(self, event: Any) -> None:
        self.depth += 1
        self.deepest = max(self.deepest, self.depth)
        if self.depth > C.MAX_NESTING_DEPTH:
            raise Refused(f"{TO_JSON}exceeded max depth of {C.MAX_NESTING_DEPTH}", event.start_mark)

    def _expand(self, event: AliasEvent) -> None:
        """An alias repeats its anchor's whole value: count it as go-yaml's decoder does."""
        anchor = event.anchor or ""
        if anchor in self.anchors and anchor not in self.costs:
            raise Refused(f"{TO_JSON}anchor '{anchor}' value contains itself", event.start_mark)
        cost = self.costs.get(anchor)
        if cost is None:
            return  # PyYAML says "found undefined alias"
        if self.depth + cost.height > C.MAX_NESTING_DEPTH:
            raise Refused(f"{TO_JSON}exceeded max depth of {C.MAX_NESTING_DEPTH}", event.start_mark)
        self.deepest = max(self.deepest, self.depth + cost.height)
        self.alias_count += cost.nodes
        self._count(1 + cost.nodes, cost.chars, event)

    def _count(self, nodes: int, chars: int, event: Any) -> None:
        self.decode_count += nodes
        self.total_nodes += nodes
        self.total_chars += chars
        mark = event.start_mark if event is not None else None
        if (
            self.alias_count > 100
            and self.decode_count > 1000
            and self.alias_count / self.decode_count > allowed_alias_ratio(self.decode_count)
        ) or self.total_chars > C.MAX_MANIFEST_BYTES:
            raise Refused(f"{TO_JSON}document contains excessive aliasing", mark)
        if self.total_nodes > C.MAX_MANIFEST_NODES:
            raise Refused(
                f"{TO_JSON}too many values (more than {C.MAX_MANIFEST_NODES} in one file)", mark
            )


def _check_unique_keys(node: MappingNode) -> None:
    """go-yaml v3's uniqueKeys: two scalar keys with the same text in one mapping."""
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode):
            continue
        line = key.start_mark.line + 1
        if key.value in seen:
            raise Refused(
                f"{TO_JSON}unmarshal errors: line {line}: mapping key "
                f"{json.dumps(key.value, ensure_ascii=False)} already defined at line "
                f"{seen[key.value]}",
                key.start_mark,
            )
        seen[key.value] = line


class JsonConstructor(SafeConstructor):
    """SafeConstructor, building only what JSON can carry (sigs.k8s.io/yaml converts YAML to
    JSON before anything reads it)."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[str, Any]:
        """SafeConstructor's, with keys made JSON's strings as they are read (so `1:` and
        `yes:` stay two keys, "1" and "true", as sigs.k8s.io/yaml makes them)."""
        if not isinstance(node, MappingNode):
            return super().construct_mapping(node, deep=deep)
        self.flatten_mapping(node)  # merge keys (<<)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _json_key(self.construct_object(key_node, deep=deep), key_node)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_float(self, node: Node) -> float:
        value: float = super().construct_yaml_float(node)
        if not math.isfinite(value):
            text = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
            raise Refused(f"{TO_JSON}json: unsupported value: {text}", node.start_mark)
        return value

    def construct_yaml_int(self, node: Node) -> int:
        try:
            value: int = super().construct_yaml_int(node)
            return value
        except ValueError:  # more digits than CPython converts (4300)
            raise Refused(f"{TO_JSON}integer too large", node.start_mark) from None

    def construct_not_json(self, node: Node) -> Any:
        raise Refused(f"{TO_JSON}cannot convert {node.tag} to JSON", node.start_mark)


def _json_key(key: Any, node: Node) -> str:
    """sigs.k8s.io/yaml's convertToJSONableObject: int, float and bool keys become text."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float | str):
        return str(key)
    name = "<nil>" if key is None else type(key).__name__
    raise Refused(f"{TO_JSON}unsupported map key of type: {name}", node.start_mark)


JsonConstructor.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)
JsonConstructor.add_constructor("tag:yaml.org,2002:float", JsonConstructor.construct_yaml_float)
JsonConstructor.add_constructor("tag:yaml.org,2002:int", JsonConstructor.construct_yaml_int)
for _tag in ("binary", "set"):
    JsonConstructor.add_constructor(f"tag:yaml.org,2002:{_tag}", JsonConstructor.construct_not_json)


class PyLoader(Reader, Scanner, Parser, BoundedComposer, JsonConstructor, Resolver):
    """yaml.SafeLoader's parts, with the bounded composer and the JSON constructor."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        JsonConstructor.__init__(self)
        Resolver.__init__(self)
        self.init_limits()


def _c_loader() -> type | None:
    """The same loader on libyaml's parser (ten times faster), when PyYAML was built with
    it: its events feed the Python composer above (the MRO puts it before CParser's own)."""
    try:
        from yaml._yaml import CParser
    except ImportError:  # PyYAML built without libyaml
        return None

    class CLoader(BoundedComposer, CParser, JsonConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            JsonConstructor.__init__(self)
            Resolver.__init__(self)
            self.init_limits()

    return CLoader


LOADER: Any = _c_loader() or PyLoader
