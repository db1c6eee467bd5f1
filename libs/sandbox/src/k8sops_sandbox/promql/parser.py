"""PromQL text to a tree of tuples: ("selector", name, matchers), ("range", selector, seconds),
("subquery", node, window, step), ("offset", node, seconds), ("call", name, args),
("aggregate", name, args, grouping), ("binop", op, left, right), ("number", value)."""

from __future__ import annotations

import re
from typing import Any

from .values import PromQLError

_TOKEN = re.compile(
    r"\s*(?:(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<dur>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w.]))"
    r"|(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)"
    r"|(?P<op>=~|!~|!=|==|>=|<=|[(){}\[\],:=+\-*/^%<>])"
    r"|(?P<id>[a-zA-Z_:][a-zA-Z0-9_:]*))"
)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
AGGREGATIONS = {"sum", "avg", "max", "min", "count", "quantile", "stddev", "stdvar", "topk", "bottomk"}


def parse_duration(text: str) -> float:
    total, matched = 0.0, ""
    for amount, unit in re.findall(r"(\d+)(ms|[smhdwy])", text):
        total += int(amount) * _DURATION_UNITS[unit]
        matched += amount + unit
    if matched != text or not text:
        raise PromQLError(f"invalid duration {text!r}")
    return total


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise PromQLError(f"unexpected character at position {position}: {text[position : position + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else ("eof", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1] != value:
            raise PromQLError(f"expected {value!r}, found {token[1] or 'end of query'!r}")
        self.index += 1
        return token

    def parse(self) -> Any:
        node = self.additive()
        if self.peek()[0] != "eof":
            raise PromQLError(f"unexpected {self.peek()[1]!r}")
        return node

    def additive(self) -> Any:
        node = self.multiplicative()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ("binop", op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Any:
        node = self.unary()
        while self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            node = ("binop", op, node, self.unary())
        return node

    def unary(self) -> Any:
        if self.peek()[1] == "-":
            self.take()
            return ("binop", "*", ("number", -1.0), self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        node = self.primary()
        while self.peek()[1] == "[":
            self.take("[")
            kind, text = self.take()
            if kind != "dur":
                raise PromQLError(f"expected a duration, found {text!r}")
            window = parse_duration(text)
            if self.peek()[1] == ":":
                self.take(":")
                step = parse_duration(self.take()[1]) if self.peek()[0] == "dur" else 60.0
                self.take("]")
                node = ("subquery", node, window, step)
            else:
                self.take("]")
                if node[0] != "selector":
                    raise PromQLError("a range can only follow a series selector; use a subquery [d:s]")
                node = ("range", node, window)
        if self.peek()[1] == "offset":
            self.take()
            node = ("offset", node, parse_duration(self.take()[1]))
        return node

    def primary(self) -> Any:
        kind, text = self.peek()
        if kind == "num":
            self.take()
            return ("number", float(text))
        if text == "(":
            self.take("(")
            node = self.additive()
            self.take(")")
            return node
        if text == "{":
            return ("selector", "", self.matchers())
        if kind != "id":
            raise PromQLError(f"unexpected {text or 'end of query'!r}")
        self.take()
        if text in AGGREGATIONS and self.peek()[1] in ("(", "by", "without"):
            return self.aggregation(text)
        if self.peek()[1] == "(":
            self.take("(")
            args = []
            while self.peek()[1] != ")":
                args.append(self.additive())
                if self.peek()[1] == ",":
                    self.take(",")
            self.take(")")
            return ("call", text, args)
        matchers = self.matchers() if self.peek()[1] == "{" else []
        return ("selector", text, matchers)

    def aggregation(self, name: str) -> Any:
        grouping: tuple[str, list[str]] | None = None
        if self.peek()[1] in ("by", "without"):
            grouping = (self.take()[1], self.label_list())
        self.take("(")
        args = [self.additive()]
        while self.peek()[1] == ",":
            self.take(",")
            args.append(self.additive())
        self.take(")")
        if self.peek()[1] in ("by", "without"):
            grouping = (self.take()[1], self.label_list())
        return ("aggregate", name, args, grouping)

    def label_list(self) -> list[str]:
        self.take("(")
        labels = []
        while self.peek()[1] != ")":
            labels.append(self.take()[1])
            if self.peek()[1] == ",":
                self.take(",")
        self.take(")")
        return labels

    def matchers(self) -> list[tuple[str, str, str]]:
        self.take("{")
        result = []
        while self.peek()[1] != "}":
            name = self.take()[1]
            op = self.take()[1]
            if op not in ("=", "!=", "=~", "!~"):
                raise PromQLError(f"invalid matcher operator {op!r}")
            kind, raw = self.take()
            if kind != "str":
                raise PromQLError(f"label values must be quoted strings, found {raw!r}")
            value = raw[1:-1].encode().decode("unicode_escape")
            result.append((name, op, value))
            if self.peek()[1] == ",":
                self.take(",")
        self.take("}")
        return result


def parse(text: str) -> Any:
    return _Parser(text).parse()
