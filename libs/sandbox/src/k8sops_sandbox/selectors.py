"""Label and field selectors, parsed the way the API server reads them from a query string."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


class SelectorError(ValueError):
    pass


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside a set's parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current)
    return [term.strip() for term in terms if term.strip()]


LabelCheck = Callable[[Mapping[str, str]], bool]


def _label_check(key: str, op: str, values: frozenset[str]) -> LabelCheck:
    if op == "in":
        return lambda labels: labels.get(key) in values
    if op == "notin":
        return lambda labels: labels.get(key) not in values
    if op == "exists":
        return lambda labels: key in labels
    return lambda labels: key not in labels


def parse_label_selector(text: str | None) -> LabelCheck:
    if not text:
        return lambda labels: True
    checks: list[LabelCheck] = []
    for term in _split_terms(text):
        match = _SET_RE.match(term)
        if match:
            negated, key, op, values_text = match.groups()
            if negated:
                raise SelectorError(f"unable to parse requirement: {term!r}")
            values = frozenset(v.strip() for v in values_text.split(",") if v.strip())
            checks.append(_label_check(key, op, values))
        elif "!=" in term:
            key, value = (part.strip() for part in term.split("!=", 1))
            checks.append(_label_check(key, "notin", frozenset({value})))
        elif "=" in term:
            key, value = (part.strip() for part in term.split("==" if "==" in term else "=", 1))
            checks.append(_label_check(key, "in", frozenset({value})))
        elif term.startswith("!"):
            checks.append(_label_check(term[1:].strip(), "absent", frozenset()))
        elif re.fullmatch(r"[\w./-]+", term):
            checks.append(_label_check(term, "exists", frozenset()))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return lambda labels: all(check(labels) for check in checks)


def match_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A structured LabelSelector (matchLabels + matchExpressions) as in a PDB or a Deployment."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def field_value(obj: Mapping[str, Any], path: str | tuple[str, ...]) -> str:
    current: Any = obj
    for part in path.split(".") if isinstance(path, str) else path:
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def _field_check(path: str, value: str, equal: bool) -> Predicate:
    parts = tuple(path.split("."))  # split once, not once per object of a 10,000-object list
    return lambda obj: (field_value(obj, parts) == value) == equal


def required_value(text: str | None, path: str) -> str | None:
    """The value a field selector requires `path` to equal (`spec.nodeName=n1`), if it does: a
    store index can then answer instead of a scan. The full selector still applies afterwards."""
    for term in _split_terms(text or ""):
        if "!=" in term or "=" not in term:
            continue
        key, value = (part.strip() for part in term.split("==" if "==" in term else "=", 1))
        if key == path:
            return value
    return None


def parse_field_selector(text: str | None) -> Predicate:
    if not text:
        return lambda obj: True
    checks: list[Predicate] = []
    for term in _split_terms(text):
        if "!=" in term:
            path, value = (part.strip() for part in term.split("!=", 1))
            checks.append(_field_check(path, value, equal=False))
        elif "=" in term:
            path, value = (part.strip() for part in term.split("==" if "==" in term else "=", 1))
            checks.append(_field_check(path, value, equal=True))
        else:
            raise SelectorError(f"invalid field selector: {term!r}")
    return lambda obj: all(check(obj) for check in checks)
