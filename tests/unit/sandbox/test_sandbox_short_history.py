"""Series that start late (a workload deployed recently) and steady usage profiles."""

from __future__ import annotations

import pytest

from k8sops_sandbox.promql import Evaluator, RangeSample, Sample, Series, Value, parse
from k8sops_sandbox.usage import ContainerProfile


def vector(value: Value) -> list[Sample] | list[RangeSample]:
    assert isinstance(value, list), value
    return value


def counter(t: float) -> float:
    return 2.0 * t  # two cores, always


def test_a_series_has_no_samples_before_it_starts() -> None:
    evaluator = Evaluator([Series({"__name__": "c", "pod": "p"}, counter, start=1_000.0)])
    assert evaluator.eval(parse("c"), 900.0) == []
    (sample,) = vector(evaluator.eval(parse("c"), 1_005.0))
    assert isinstance(sample, Sample) and sample.value == 2_010.0  # the scrape at 1,005 (a multiple of 15 s)
    (window,) = vector(evaluator.eval(parse("c[5m]"), 1_100.0))
    assert isinstance(window, RangeSample) and min(window.times) >= 1_000.0
    (rate,) = vector(evaluator.eval(parse("rate(c[5m])"), 1_100.0))
    assert isinstance(rate, Sample) and rate.value == pytest.approx(2.0)


def test_steady_profile_has_no_hourly_wave_or_jitter() -> None:
    profile = ContainerProfile(1.0, 100.0, 0.0, 0.0, 1.0, 0.0, 7, steady=True)
    assert {profile.cpu_rate(t) for t in (0.0, 1_800.0, 5_000.0)} == {1.0}
    assert {profile.memory_bytes(t) for t in (0.0, 60.0, 7_200.0)} == {100.0}
    assert profile.cpu_seconds(10_000.0) - profile.cpu_seconds(0.0) == pytest.approx(10_000.0)
