"""A PromQL subset, enough for KRR-style usage queries: selectors with matchers, range selectors,
subqueries, rate/irate/increase, *_over_time, quantile_over_time, aggregations with by/without,
and arithmetic with scalars or one-to-one vectors."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Labels = dict[str, str]
ValueFn = Callable[[float], float]
SCRAPE_INTERVAL = 15.0
LOOKBACK = 300.0


class PromQLError(ValueError):
    pass


@dataclass(frozen=True)
class Series:
    labels: Labels
    value_at: ValueFn
    start: float = -math.inf  # no samples before this moment (a container started recently)


@dataclass
class Sample:
    labels: Labels
    value: float


@dataclass
class RangeSample:
    labels: Labels
    times: list[float]
    value_at: ValueFn | None = None
    values: list[float] | None = None

    def all_values(self) -> list[float]:
        if self.values is None:
            assert self.value_at is not None
            self.values = [self.value_at(t) for t in self.times]
        return self.values

    def endpoints(self) -> tuple[float, float]:
        if self.values is not None:
            return self.values[0], self.values[-1]
        assert self.value_at is not None
        return self.value_at(self.times[0]), self.value_at(self.times[-1])


Value = list[Sample] | list[RangeSample] | float

# --- parsing ---------------------------------------------------------------------------------
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


# --- evaluation ------------------------------------------------------------------------------
def _matches(labels: Labels, matchers: list[tuple[str, str, str]]) -> bool:
    for name, op, value in matchers:
        actual = labels.get(name, "")
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        if op == "=~" and not re.fullmatch(value, actual):
            return False
        if op == "!~" and re.fullmatch(value, actual):
            return False
    return True


def _drop_name(labels: Labels) -> Labels:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _quantile(q: float, values: list[float]) -> float:
    """Prometheus' quantile: linear interpolation between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


_OVER_TIME: dict[str, Callable[[list[float]], float]] = {
    "avg_over_time": lambda v: sum(v) / len(v),
    "max_over_time": max,
    "min_over_time": min,
    "sum_over_time": sum,
    "count_over_time": lambda v: float(len(v)),
    "last_over_time": lambda v: v[-1],
    "stddev_over_time": lambda v: math.sqrt(sum((x - sum(v) / len(v)) ** 2 for x in v) / len(v)),
}
_MATH: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "ceil": math.ceil,
    "floor": math.floor,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "ln": lambda x: math.log(x) if x > 0 else math.nan,
    "round": round,
}
_AGGREGATE: dict[str, Callable[[list[float]], float]] = {
    "sum": sum,
    "max": max,
    "min": min,
    "avg": lambda v: sum(v) / len(v),
    "count": lambda v: float(len(v)),
}
_BINOPS: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": lambda a, b: a / b if b else (math.nan if a == 0 else math.copysign(math.inf, a)),
    "%": lambda a, b: math.fmod(a, b) if b else math.nan,
}


class Evaluator:
    def __init__(self, series: list[Series]) -> None:
        self.series = series
        self._selected: dict[int, list[Series]] = {}

    def eval(self, node: Any, t: float) -> Value:
        kind = node[0]
        if kind == "number":
            return float(node[1])
        if kind == "selector":
            sample_time = math.floor(t / SCRAPE_INTERVAL) * SCRAPE_INTERVAL
            return [
                Sample(dict(s.labels), s.value_at(sample_time)) for s in self._select(node) if s.start <= sample_time
            ]
        if kind == "range":
            window = node[2]
            first = math.floor((t - window) / SCRAPE_INTERVAL + 1) * SCRAPE_INTERVAL
            times = [first + i * SCRAPE_INTERVAL for i in range(int((t - first) // SCRAPE_INTERVAL) + 1)]
            return [
                RangeSample(
                    dict(s.labels), times if s.start <= first else [x for x in times if x >= s.start], s.value_at
                )
                for s in self._select(node[1])
                if s.start <= t
            ]
        if kind == "subquery":
            return self._subquery(node, t)
        if kind == "offset":
            return self.eval(node[1], t - node[2])
        if kind == "call":
            return self._call(node[1], node[2], t)
        if kind == "aggregate":
            return self._aggregate(node, t)
        if kind == "binop":
            return self._binop(node[1], self.eval(node[2], t), self.eval(node[3], t))
        raise PromQLError(f"cannot evaluate {kind}")

    def _select(self, node: Any) -> list[Series]:
        # The series set is fixed for one query: match once, not at every step of a subquery.
        cached = self._selected.get(id(node))
        if cached is None:
            cached = self._selected[id(node)] = self._match(node)
        return cached

    def _match(self, node: Any) -> list[Series]:
        name, matchers = node[1], node[2]
        if name:
            matchers = [("__name__", "=", name), *matchers]
        if not matchers:
            raise PromQLError("vector selector must contain at least one matcher")
        return [s for s in self.series if _matches(s.labels, matchers)]

    def _subquery(self, node: Any, t: float) -> list[RangeSample]:
        _, inner, window, step = node
        first = math.floor((t - window) / step + 1) * step
        collected: dict[tuple[tuple[str, str], ...], RangeSample] = {}
        moment = first
        while moment <= t:
            value = self.eval(inner, moment)
            if not isinstance(value, list):
                raise PromQLError("subqueries need a vector expression")
            for sample in value:
                if not isinstance(sample, Sample):
                    raise PromQLError("subqueries need an instant vector expression")
                key = tuple(sorted(sample.labels.items()))
                entry = collected.setdefault(key, RangeSample(sample.labels, [], values=[]))
                entry.times.append(moment)
                assert entry.values is not None
                entry.values.append(sample.value)
            moment += step
        return list(collected.values())

    def _range_arg(self, value: Value, function: str) -> list[RangeSample]:
        if not isinstance(value, list) or (value and not isinstance(value[0], RangeSample)):
            raise PromQLError(f"{function}() expects a range vector")
        return [v for v in value if isinstance(v, RangeSample)]

    def _instant_arg(self, value: Value, function: str) -> list[Sample]:
        if not isinstance(value, list) or (value and not isinstance(value[0], Sample)):
            raise PromQLError(f"{function}() expects an instant vector")
        return [v for v in value if isinstance(v, Sample)]

    def _call(self, name: str, args: list[Any], t: float) -> Value:
        if name == "time":
            return t
        if name == "vector":
            scalar = self.eval(args[0], t)
            return [Sample({}, float(scalar))] if isinstance(scalar, float) else scalar
        if name in ("rate", "irate", "increase", "delta"):
            result = []
            for sample in self._range_arg(self.eval(args[0], t), name):
                if len(sample.times) < 2:
                    continue
                if name == "irate":
                    last_two = (
                        [sample.value_at(x) for x in sample.times[-2:]]
                        if sample.value_at
                        else (sample.all_values()[-2:])
                    )
                    first, last = last_two
                    span = sample.times[-1] - sample.times[-2]
                else:
                    first, last = sample.endpoints()
                    span = sample.times[-1] - sample.times[0]
                change = last - first
                if name in ("rate", "irate"):
                    result.append(Sample(_drop_name(sample.labels), change / span))
                else:
                    window = span + SCRAPE_INTERVAL  # extrapolate to the whole window
                    result.append(Sample(_drop_name(sample.labels), change * window / span))
            return result
        if name in _OVER_TIME:
            return [
                Sample(_drop_name(s.labels), _OVER_TIME[name](s.all_values()))
                for s in self._range_arg(self.eval(args[0], t), name)
                if s.times
            ]
        if name == "quantile_over_time":
            q = self.eval(args[0], t)
            if not isinstance(q, float):
                raise PromQLError("quantile_over_time() expects a scalar first argument")
            return [
                Sample(_drop_name(s.labels), _quantile(q, s.all_values()))
                for s in self._range_arg(self.eval(args[1], t), name)
                if s.times
            ]
        if name in _MATH:
            return [
                Sample(_drop_name(s.labels), _MATH[name](s.value))
                for s in self._instant_arg(self.eval(args[0], t), name)
            ]
        if name in ("clamp_min", "clamp_max"):
            bound = self.eval(args[1], t)
            assert isinstance(bound, float)
            pick = max if name == "clamp_min" else min
            return [
                Sample(_drop_name(s.labels), pick(s.value, bound))
                for s in self._instant_arg(self.eval(args[0], t), name)
            ]
        if name == "scalar":
            samples = self._instant_arg(self.eval(args[0], t), name)
            return samples[0].value if len(samples) == 1 else math.nan
        raise PromQLError(f"unknown function {name!r} (the sandbox implements a subset of PromQL)")

    def _aggregate(self, node: Any, t: float) -> list[Sample]:
        _, name, args, grouping = node
        parameter = self.eval(args[0], t) if len(args) == 2 else None
        samples = self._instant_arg(self.eval(args[-1], t), name)
        groups: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
        for sample in samples:
            if grouping is None:
                labels: Labels = {}
            elif grouping[0] == "by":
                labels = {k: sample.labels[k] for k in grouping[1] if k in sample.labels}
            else:
                labels = {k: v for k, v in _drop_name(sample.labels).items() if k not in grouping[1]}
            groups.setdefault(tuple(sorted(labels.items())), []).append(sample)
        result = []
        for key, members in groups.items():
            values = [m.value for m in members]
            if name in ("topk", "bottomk"):
                assert isinstance(parameter, float)
                chosen = sorted(members, key=lambda m: m.value, reverse=name == "topk")[: int(parameter)]
                result.extend(chosen)
                continue
            if name == "quantile":
                assert isinstance(parameter, float)
                value = _quantile(parameter, values)
            elif name in ("stddev", "stdvar"):
                mean = sum(values) / len(values)
                variance = sum((v - mean) ** 2 for v in values) / len(values)
                value = math.sqrt(variance) if name == "stddev" else variance
            else:
                value = _AGGREGATE[name](values)
            result.append(Sample(dict(key), value))
        return result

    def _binop(self, op: str, left: Value, right: Value) -> Value:
        function = _BINOPS.get(op)
        if function is None:
            raise PromQLError(f"operator {op!r} is not supported")
        if isinstance(left, float) and isinstance(right, float):
            return function(left, right)
        if isinstance(left, float):
            return [Sample(_drop_name(s.labels), function(left, s.value)) for s in self._instant_arg(right, op)]
        if isinstance(right, float):
            return [Sample(_drop_name(s.labels), function(s.value, right)) for s in self._instant_arg(left, op)]
        right_by_labels = {tuple(sorted(_drop_name(s.labels).items())): s for s in self._instant_arg(right, op)}
        result = []
        for sample in self._instant_arg(left, op):
            labels = _drop_name(sample.labels)
            other = right_by_labels.get(tuple(sorted(labels.items())))
            if other is not None:
                result.append(Sample(labels, function(sample.value, other.value)))
        return result
