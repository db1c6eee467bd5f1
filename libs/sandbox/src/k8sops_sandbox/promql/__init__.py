"""A PromQL subset, enough for KRR-style usage queries: selectors with matchers, range selectors,
subqueries, rate/irate/increase, *_over_time, quantile_over_time, aggregations with by/without,
and arithmetic with scalars or one-to-one vectors.

`parser` turns the text into a tree, `evaluator` walks it over the series, `functions` holds the
arithmetic of functions, aggregations and operators, `values` what an expression evaluates to.
"""

from .evaluator import Evaluator
from .parser import parse, parse_duration
from .values import PromQLError, RangeSample, Sample, Series, Value

__all__ = ["Evaluator", "PromQLError", "RangeSample", "Sample", "Series", "Value", "parse", "parse_duration"]
