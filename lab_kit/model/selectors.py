"""Label selectors: Service `spec.selector` maps, `matchLabels`/`matchExpressions`, and
the string form users type (`-l app=web,tier!=db`).

Mirrors `k8s.io/apimachinery/pkg/labels` semantics: an empty LabelSelector (`{}`) matches
everything, a nil one matches nothing; a Service's empty selector map selects nothing
(that is what makes a selector-less Service).
"""

from __future__ import annotations

import re

from lab_kit.model.errors import err_bad_request


def matches_map(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """Service-style selector: every key=value must be present. Empty/None selects nothing."""
    if not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def matches_label_selector(selector: dict | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector: matchLabels AND every matchExpression. `{}` matches all."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(_expression_matches(expr, labels) for expr in selector.get("matchExpressions") or [])


def _expression_matches(expr: dict, labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


_TERM = re.compile(
    r"^\s*(?:(?P<not>!)\s*(?P<nkey>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<val>[\w.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<vals>[^)]*)\))?)\s*$"
)


def parse_selector(text: str) -> list[dict]:
    """Parse `a=b,c!=d,e in (x,y),!f,g` into matchExpressions-like dicts."""
    terms: list[dict] = []
    if not text.strip():
        return terms
    for part in _split_terms(text):
        m = _TERM.match(part)
        if not m:
            raise err_bad_request(f'unable to parse requirement: invalid label selector "{text}"')
        if m.group("not"):
            terms.append({"key": m.group("nkey"), "operator": "DoesNotExist"})
        elif m.group("op"):
            op = "NotIn" if m.group("op") == "!=" else "In"
            terms.append({"key": m.group("key"), "operator": op, "values": [m.group("val")]})
        elif m.group("setop"):
            vals = [v.strip() for v in m.group("vals").split(",") if v.strip()]
            op = "In" if m.group("setop") == "in" else "NotIn"
            terms.append({"key": m.group("key"), "operator": op, "values": vals})
        else:
            terms.append({"key": m.group("key"), "operator": "Exists"})
    return terms


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside `in (...)` parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def matches_parsed(terms: list[dict], labels: dict[str, str]) -> bool:
    return all(_expression_matches(t, labels) for t in terms)


def selector_text(selector: dict | None) -> str:
    """A LabelSelector or selector map as kubectl prints it (`app=web`)."""
    if not selector:
        return "<none>"
    if "matchLabels" in selector or "matchExpressions" in selector:
        parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
        for e in selector.get("matchExpressions") or []:
            op = e.get("operator")
            if op == "Exists":
                parts.append(e["key"])
            elif op == "DoesNotExist":
                parts.append("!" + e["key"])
            else:
                parts.append(f"{e['key']} {op.lower()} ({','.join(e.get('values') or [])})")
        return ",".join(parts) or "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
