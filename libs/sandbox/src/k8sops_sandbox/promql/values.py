"""What PromQL expressions evaluate to: series with a value at any moment, instant samples, range samples."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Labels = dict[str, str]
ValueFn = Callable[[float], float]
SCRAPE_INTERVAL = 15.0


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
