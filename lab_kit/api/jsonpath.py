"""kubectl's `-o jsonpath=TEMPLATE`: client-go's JSONPath templates (k8s.io/client-go/util/
jsonpath), as kubectl runs them (missing keys allowed: they print nothing).

    {.spec.ports[0].nodePort}                     a field, an index ([-1] counts from the end)
    {.status.loadBalancer.ingress[0].ip}          a pending Service's prints nothing
    {.items[*].metadata.name}                     every element; results joined by a space
    {.items[0:2].metadata.name}  {..name}         slices [start:end:step]; recursive descent
    {.metadata.labels['app']}  {.a['x','y']}      quoted keys; unions
    {.status.addresses[?(@.type=="InternalIP")].address}   filters: == != < > <= >=, @.x
    {range .items[*]}{.metadata.name}{"\\n"}{end}  range over results; "..." literals
    text outside braces is printed as it is

A result that is a map or a list prints as compact JSON, a string as it is, a number as Go
prints it. Errors in client-go's words: a template it cannot parse (`ParseError`), an index
out of bounds or an index on a map (`ExecuteError`). Left out: `$` in the middle of a path,
the `..` before a bracket, and floats compared with ints beyond Go's rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ParseError(ValueError):
    pass


class ExecuteError(ValueError):
    pass


@dataclass
class _Path:
    """One `{...}` action: steps applied in turn to the current values."""

    steps: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class _Node:
    kind: str  # "text" | "path" | "range" | "end"
    text: str = ""
    path: _Path | None = None


# A field name; `\.` escapes a dot (client-go's advance(): "kubernetes\.io/name")
_NAME = re.compile(r"(?:\\.|[A-Za-z0-9_\-/$@])+")
_FILTER = re.compile(r"\[\?\((.*?)\)\]")
_OPS = ("==", "!=", "<=", ">=", "<", ">")


def parse(template: str) -> list[_Node]:
    nodes: list[_Node] = []
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            nodes.append(_Node("text", template[pos:]))
            break
        if start > pos:
            nodes.append(_Node("text", template[pos:start]))
        end = _action_end(template, start)
        nodes.append(_action(template[start + 1 : end].strip()))
        pos = end + 1
    return nodes


def _action_end(template: str, start: int) -> int:
    """The `}` closing the action at `start` (braces inside quotes do not count)."""
    quote = ""
    for i in range(start + 1, len(template)):
        c = template[i]
        if quote:
            if c == "\\":
                continue
            if c == quote and template[i - 1] != "\\":
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "}":
            return i
    raise ParseError("unclosed action")


def _action(text: str) -> _Node:
    if text == "end":
        return _Node("end")
    if text.startswith("range ") or text == "range":
        return _Node("range", path=_path(text[len("range") :].strip()))
    if text.startswith('"'):
        try:
            return _Node("text", json.loads(text))
        except ValueError:
            raise ParseError(f"invalid string {text}") from None
    return _Node("path", path=_path(text))


def _path(text: str) -> _Path:
    path = _Path()
    pos = 1 if text.startswith(("$", "@")) else 0
    while pos < len(text):
        pos = _step(text, pos, path)
    return path


def _step(text: str, pos: int, path: _Path) -> int:
    if text.startswith("..", pos):
        path.steps.append(("recursive", None))
        return pos + 1  # the second dot starts the field
    c = text[pos]
    if c == ".":
        if text.startswith("*", pos + 1):
            path.steps.append(("wildcard", None))
            return pos + 2
        m = _NAME.match(text, pos + 1)
        if not m:
            if pos + 1 == len(text):  # "{.}": the current object
                return pos + 1
            raise ParseError(f"unrecognized character in action: {_char(text[pos + 1])}")
        path.steps.append(("field", m.group(0).replace("\\", "")))
        return m.end()
    if c == "[":
        return _bracket(text, pos, path)
    m = _NAME.match(text, pos)
    if m and pos == 0:  # "{metadata.name}": a field at the start, as client-go allows
        path.steps.append(("field", m.group(0).replace("\\", "")))
        return m.end()
    raise ParseError(f"unrecognized character in action: {_char(c)}")


def _char(c: str) -> str:
    return f"U+{ord(c):04X} '{c}'"


def _bracket(text: str, pos: int, path: _Path) -> int:
    f = _FILTER.match(text, pos)
    if f:
        path.steps.append(("filter", _filter(f.group(1))))
        return f.end()
    end = text.find("]", pos)
    if end < 0:
        raise ParseError("unclosed array expect ]")
    inner = text[pos + 1 : end].strip()
    if inner.startswith(("'", '"')):
        keys = [k.strip().strip("'\"") for k in inner.split(",")]
        path.steps.append(("keys", keys))
    elif "," in inner:
        path.steps.append(("union", [_index(i.strip()) for i in inner.split(",")]))
    else:
        path.steps.append(("array", _slice(inner)))
    return end + 1


def _index(text: str) -> tuple[int | None, int | None, int | None]:
    return _slice(text)


def _slice(text: str) -> tuple[int | None, int | None, int | None]:
    """`[n]`, `[a:b]`, `[a:b:step]`, `[*]` -> (start, end, step); None = not given."""
    if text == "*":
        return (None, None, None)
    parts = text.split(":")
    if len(parts) > 3:
        raise ParseError(f"invalid array index {text}")
    try:
        values = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise ParseError(f"array index {text} is not a number") from None
    if len(values) == 1:
        n = values[0]
        return (n, None if n is None else (n + 1 if n != -1 else 0), None)
    return (values[0], values[1], values[2] if len(values) == 3 else None)


def _filter(text: str) -> tuple[_Path, str, Any]:
    for op in _OPS:
        left, found, right = text.partition(op)
        if found:
            return (_path(left.strip()), op, _literal(right.strip()))
    return (_path(text.strip()), "exists", None)


def _literal(text: str) -> Any:
    if text.startswith(("'", '"')):
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        if text.startswith(("@", "$", ".")):
            return _path(text)
        raise ParseError(f"unrecognized filter value {text}") from None


# --- execution ---------------------------------------------------------------------------


def execute(template: str, data: Any) -> str:
    """The text kubectl prints for `-o jsonpath=TEMPLATE` over `data`."""
    return "".join(_run(parse(template), data))


def find(template: str, data: Any) -> list[Any]:
    """The values the template's paths find (client-go's FindResults, what kubectl's
    custom-columns prints one cell from)."""
    found: list[Any] = []
    for node in parse(template):
        if node.kind == "path":
            assert node.path is not None
            found += _walk(node.path, [data])
    return found


def _run(nodes: list[_Node], data: Any) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if node.kind == "text":
            out.append(node.text)
        elif node.kind == "path":
            assert node.path is not None
            out.append(_print(_walk(node.path, [data])))
        elif node.kind == "range":
            assert node.path is not None
            body, i = _range_body(nodes, i)
            for value in _walk(node.path, [data]):
                out += _run(body, value)
        elif node.kind == "end":
            raise ExecuteError("not in range, nothing to end")
        i += 1
    return out


def _range_body(nodes: list[_Node], start: int) -> tuple[list[_Node], int]:
    depth = 0
    for j in range(start + 1, len(nodes)):
        if nodes[j].kind == "range":
            depth += 1
        elif nodes[j].kind == "end":
            if depth == 0:
                return nodes[start + 1 : j], j
            depth -= 1
    return nodes[start + 1 :], len(nodes)  # an unclosed range runs to the end


def _walk(path: _Path, values: list[Any]) -> list[Any]:
    for kind, arg in path.steps:
        values = _STEPS[kind](values, arg)
    return values


def _field(values: list[Any], name: str) -> list[Any]:
    return [v[name] for v in values if isinstance(v, dict) and name in v]


def _keys(values: list[Any], keys: list[str]) -> list[Any]:
    return [v[k] for k in keys for v in values if isinstance(v, dict) and k in v]


def _wildcard(values: list[Any], _: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict):
            out += [v[k] for k in sorted(v)]
        elif isinstance(v, list):
            out += v
    return out


def _recursive(values: list[Any], _: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        children = _wildcard([v], None)
        if children:
            out.append(v)
            out += _recursive(children, None)
    return out


def _array(values: list[Any], params: tuple[int | None, int | None, int | None]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, list):
            raise ExecuteError(f"{_go_type(v)} is not array or slice")
        out += _slice_of(v, params)
    return out


def _slice_of(v: list, params: tuple[int | None, int | None, int | None]) -> list[Any]:
    start, end, step = params
    n = len(v)
    first = 0 if start is None else (start + n if start < 0 else start)
    last = n if end is None else (end + n if end < 0 or (end == 0 and start == -1) else end)
    if first == last:
        return []
    if first >= n or first < 0:
        raise ExecuteError(f"array index out of bounds: index {first}, length {n}")
    if last > n or last < 0:
        raise ExecuteError(f"array index out of bounds: index {last - 1}, length {n}")
    if first > last:
        raise ExecuteError(f"starting index {first} is greater than ending index {last}")
    if step is not None and step <= 0:
        raise ExecuteError("step must be > 0")
    return v[first : last : step or 1]


def _union(values: list[Any], indexes: list) -> list[Any]:
    return [x for params in indexes for x in _array(values, params)]


def _filtered(values: list[Any], spec: tuple[_Path, str, Any]) -> list[Any]:
    left, op, right = spec
    out: list[Any] = []
    for v in values:
        items = v if isinstance(v, list) else _wildcard([v], None) if isinstance(v, dict) else [v]
        for item in items:
            lefts = _walk(left, [item])
            if len(lefts) != 1:
                if len(lefts) > 1:
                    raise ExecuteError("can only compare one element at a time")
                continue
            if op == "exists":
                out.append(item)
                continue
            rights = _walk(right, [item]) if isinstance(right, _Path) else [right]
            if len(rights) == 1 and _compare(lefts[0], op, rights[0]):
                out.append(item)
    return out


def _compare(left: Any, op: str, right: Any) -> bool:
    numbers = (int, float)
    comparable = (
        isinstance(left, numbers) and isinstance(right, numbers)
        and not isinstance(left, bool) and not isinstance(right, bool)
    ) or type(left) is type(right)  # fmt: skip
    if not comparable:
        return False  # Go's template comparison: incompatible types do not match
    try:
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            ">": left > right,
            "<=": left <= right,
            ">=": left >= right,
        }[op]
    except TypeError:
        return False


_STEPS: dict[str, Callable[[list[Any], Any], list[Any]]] = {
    "field": _field,
    "keys": _keys,
    "wildcard": _wildcard,
    "recursive": _recursive,
    "array": _array,
    "union": _union,
    "filter": _filtered,
}


def _go_type(v: Any) -> str:
    return "map[string]interface {}" if isinstance(v, dict) else type(v).__name__


def _print(results: list[Any]) -> str:
    """PrintResults: maps and lists as compact JSON, the rest as fmt.Print; one space apart."""
    return " ".join(_text(r) for r in results)


def text(value: Any) -> str:
    """One value as PrintResults prints it (maps and lists as compact JSON)."""
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(f: float) -> str:
    """fmt's %v for a float64: the shortest form, an exponent from 1e21."""
    if f.is_integer() and abs(f) < 1e21:
        return str(int(f))
    text = repr(f)
    return text.replace("e+", "e+0") if re.search(r"e\+\d$", text) else text
