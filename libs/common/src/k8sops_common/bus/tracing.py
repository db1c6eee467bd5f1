"""W3C trace context across the bus: captured when an event is written, restored when handled."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject

KafkaHeaders = Sequence[tuple[str, bytes]]


@contextmanager
def within_trace(trace_context: otel_context.Context | None) -> Iterator[None]:
    """Makes `trace_context` current, so events written inside join that trace (None: no change).

    For batch handlers, which handle many events at once outside any one event's span.
    """
    if trace_context is None:
        yield
        return
    token = otel_context.attach(trace_context)
    try:
        yield
    finally:
        otel_context.detach(token)


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def context_from_headers(headers: KafkaHeaders | None) -> otel_context.Context:
    carrier = {name: value.decode("latin-1") for name, value in headers or () if value is not None}
    return extract(carrier)


def trace_id_from_traceparent(traceparent: str | None) -> str | None:
    """`00-<trace id>-<span id>-<flags>` → the 32-hex trace id, or None if absent/invalid."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or parts[1] == "0" * 32:
        return None
    return parts[1]


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
