"""Evaluates a parsed PromQL tree at a moment against synthetic series."""

from __future__ import annotations

import math
import re
from typing import Any

from .functions import AGGREGATE, BINOPS, MATH, OVER_TIME, drop_name, quantile
from .values import SCRAPE_INTERVAL, Labels, PromQLError, RangeSample, Sample, Series, Value


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
                    result.append(Sample(drop_name(sample.labels), change / span))
                else:
                    window = span + SCRAPE_INTERVAL  # extrapolate to the whole window
                    result.append(Sample(drop_name(sample.labels), change * window / span))
            return result
        if name in OVER_TIME:
            return [
                Sample(drop_name(s.labels), OVER_TIME[name](s.all_values()))
                for s in self._range_arg(self.eval(args[0], t), name)
                if s.times
            ]
        if name == "quantile_over_time":
            q = self.eval(args[0], t)
            if not isinstance(q, float):
                raise PromQLError("quantile_over_time() expects a scalar first argument")
            return [
                Sample(drop_name(s.labels), quantile(q, s.all_values()))
                for s in self._range_arg(self.eval(args[1], t), name)
                if s.times
            ]
        if name in MATH:
            return [
                Sample(drop_name(s.labels), MATH[name](s.value)) for s in self._instant_arg(self.eval(args[0], t), name)
            ]
        if name in ("clamp_min", "clamp_max"):
            bound = self.eval(args[1], t)
            assert isinstance(bound, float)
            pick = max if name == "clamp_min" else min
            return [
                Sample(drop_name(s.labels), pick(s.value, bound))
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
                labels = {k: v for k, v in drop_name(sample.labels).items() if k not in grouping[1]}
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
                value = quantile(parameter, values)
            elif name in ("stddev", "stdvar"):
                mean = sum(values) / len(values)
                variance = sum((v - mean) ** 2 for v in values) / len(values)
                value = math.sqrt(variance) if name == "stddev" else variance
            else:
                value = AGGREGATE[name](values)
            result.append(Sample(dict(key), value))
        return result

    def _binop(self, op: str, left: Value, right: Value) -> Value:
        function = BINOPS.get(op)
        if function is None:
            raise PromQLError(f"operator {op!r} is not supported")
        if isinstance(left, float) and isinstance(right, float):
            return function(left, right)
        if isinstance(left, float):
            return [Sample(drop_name(s.labels), function(left, s.value)) for s in self._instant_arg(right, op)]
        if isinstance(right, float):
            return [Sample(drop_name(s.labels), function(s.value, right)) for s in self._instant_arg(left, op)]
        right_by_labels = {tuple(sorted(drop_name(s.labels).items())): s for s in self._instant_arg(right, op)}
        result = []
        for sample in self._instant_arg(left, op):
            labels = drop_name(sample.labels)
            other = right_by_labels.get(tuple(sorted(labels.items())))
            if other is not None:
                result.append(Sample(labels, function(sample.value, other.value)))
        return result
