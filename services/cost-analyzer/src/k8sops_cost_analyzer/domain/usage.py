"""What an analysis knows about one workload: its requests, its usage statistics, its scaling."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ContainerUsage:
    """One container of a workload; usage statistics are the worst pod's (KRR: max over pods)."""

    name: str
    cpu_request: float | None  # cores
    memory_request: float | None  # bytes
    cpu_p95: float
    cpu_max: float
    memory_p95: float
    memory_max: float
    points: int  # the fewest samples any pod has: the evidence behind the statistics


@dataclass(frozen=True)
class HpaTarget:
    resource: str  # "cpu" or "memory"
    average_utilization: int  # percent of the pod's request


@dataclass(frozen=True)
class WorkloadUsage:
    kind: str
    namespace: str
    name: str
    replicas: int
    containers: tuple[ContainerUsage, ...]
    hpa_targets: tuple[HpaTarget, ...] = ()
    stateless: bool = True
    cpu_total_mean: float = 0.0  # the workload's summed CPU over time: how much the load swings
    cpu_total_peak: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def points(self) -> int:
        return min((c.points for c in self.containers), default=0)

    @property
    def has_hpa(self) -> bool:
        return bool(self.hpa_targets)

    def requested(self) -> tuple[float, float]:
        """(cores, bytes) requested by all replicas."""
        cpu = sum(c.cpu_request or 0.0 for c in self.containers) * self.replicas
        memory = sum(c.memory_request or 0.0 for c in self.containers) * self.replicas
        return cpu, memory


def quantile(values: Sequence[float], q: float) -> float:
    """Prometheus' quantile: linear interpolation between the closest ranks (NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Samples:
    """One series' samples, compact (16 bytes a sample, not a tuple each): 10,000 pods x 14 days fit."""

    times: array[float]
    values: array[float]

    @classmethod
    def of(cls, pairs: Iterable[tuple[float, float]]) -> Samples:
        times: array[float] = array("d")
        values: array[float] = array("d")
        for moment, value in pairs:
            if math.isfinite(value):
                times.append(moment)
                values.append(value)
        return cls(times, values)

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(self.times, self.values, strict=True)

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class ContainerSeries:
    """Raw samples of one container, per pod."""

    cpu: Mapping[str, Samples]
    memory: Mapping[str, Samples]


def summarize_container(
    name: str, cpu_request: float | None, memory_request: float | None, series: ContainerSeries
) -> ContainerUsage:
    cpu_by_pod = [samples.values for samples in series.cpu.values()]
    memory_by_pod = [samples.values for samples in series.memory.values()]
    points = min((len(values) for values in cpu_by_pod + memory_by_pod), default=0)
    return ContainerUsage(
        name=name,
        cpu_request=cpu_request,
        memory_request=memory_request,
        cpu_p95=max((quantile(v, 0.95) for v in cpu_by_pod if v), default=0.0),
        cpu_max=max((max(v) for v in cpu_by_pod if v), default=0.0),
        memory_p95=max((quantile(v, 0.95) for v in memory_by_pod if v), default=0.0),
        memory_max=max((max(v) for v in memory_by_pod if v), default=0.0),
        points=points,
    )


def total_over_time(series: Sequence[Samples]) -> tuple[float, float]:
    """(mean, peak) of the sum of several series sampled on the same steps."""
    totals: dict[float, float] = {}
    for samples in series:
        for moment, value in samples:
            totals[moment] = totals.get(moment, 0.0) + value
    if not totals:
        return 0.0, 0.0
    return sum(totals.values()) / len(totals), max(totals.values())
