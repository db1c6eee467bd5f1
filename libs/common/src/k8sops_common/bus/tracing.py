"""W3C trace context across the bus: captured when an event is written, restored when handled.

Spans follow the OTel messaging conventions: the relay makes a PRODUCER span per record, parented
on the context captured when the outbox row was written, and sends that span's context in the
record's headers; consumers make a CONSUMER span per event parented on it (and, for a batch, one
span linking every event). Background loops run with instrumentation suppressed (`quiet`), so a
poll that finds nothing makes no spans; work they find runs `traced` in the trace it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import (
    _SUPPRESS_INSTRUMENTATION_KEY,
    _SUPPRESS_INSTRUMENTATION_KEY_PLAIN,
    suppress_instrumentation,
)
from opentelemetry.propagate import extract, get_global_textmap, inject
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

KafkaHeaders = Sequence[tuple[str, bytes]]
# The two keys `suppress_instrumentation` sets; `traced` clears them again for real work.
_SUPPRESS_KEYS = (_SUPPRESS_INSTRUMENTATION_KEY, _SUPPRESS_INSTRUMENTATION_KEY_PLAIN)
quiet = suppress_instrumentation


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


@contextmanager
def traced(parent: otel_context.Context | None = None) -> Iterator[None]:
    """Instrumentation on again (inside a `quiet` loop) for work that was found, in `parent`'s trace."""
    ctx = parent if parent is not None else otel_context.get_current()
    for key in _SUPPRESS_KEYS:
        ctx = otel_context.set_value(key, False, ctx)
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


# W3C trace context in its one common form (version 00, nothing after the flags, no tracestate):
# the consumer reads it per record, and the propagator API costs ~25 us a call, half a set-based
# event's CPU. Anything else, or other propagators configured, goes through `extract`.
_CANONICAL_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_DEFAULT_FIELDS = frozenset({"traceparent", "tracestate", "baggage"})
_checked_textmap: list[object] = [None, False]  # the global propagator last checked, and the answer


def _default_propagation() -> bool:
    textmap = get_global_textmap()
    if _checked_textmap[0] is not textmap:
        _checked_textmap[:] = [textmap, set(textmap.fields) == _DEFAULT_FIELDS]
    return bool(_checked_textmap[1])


def context_from_headers(headers: KafkaHeaders | None) -> otel_context.Context:
    carrier = {name: value.decode("latin-1") for name, value in headers or () if value is not None}
    traceparent = carrier.get("traceparent")
    if traceparent is not None and "tracestate" not in carrier and "baggage" not in carrier:
        match = _CANONICAL_TRACEPARENT.fullmatch(traceparent)
        if match and match[1] != "0" * 32 and match[2] != "0" * 16 and _default_propagation():
            parent = SpanContext(
                int(match[1], 16), int(match[2], 16), is_remote=True, trace_flags=TraceFlags(int(match[3], 16))
            )
            return trace.set_span_in_context(NonRecordingSpan(parent), otel_context.Context())
    return extract(carrier)


def unsampled_parent(headers: KafkaHeaders | None) -> bool:
    """The headers carry a canonical `traceparent` naming a valid span that is not sampled, which
    `context_from_headers` would restore as it is (read without building the context)."""
    for name, value in headers or ():
        if name == "traceparent":
            match = _CANONICAL_TRACEPARENT.fullmatch(value.decode("latin-1"))
            return bool(
                match
                and not int(match[3], 16) & TraceFlags.SAMPLED
                and match[1] != "0" * 32
                and match[2] != "0" * 16
                and _default_propagation()
            )
    return False


def context_from_traceparent(traceparent: str | None, tracestate: str | None = None) -> otel_context.Context:
    carrier = {name: value for name, value in (("traceparent", traceparent), ("tracestate", tracestate)) if value}
    return extract(carrier)


def headers_for_span(span: trace.Span, tracestate: str | None) -> list[tuple[str, bytes]]:
    """W3C headers naming `span` as the parent, formatted directly: the relay does this per record."""
    context = span.get_span_context()
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    headers = [("traceparent", traceparent.encode())]
    return [*headers, ("tracestate", tracestate.encode())] if tracestate else headers


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


def traceparent_of(trace_context: otel_context.Context | None) -> str | None:
    """The W3C `traceparent` of a context, to store with work that continues later (None: no trace)."""
    if trace_context is None:
        return None
    carrier: dict[str, str] = {}
    inject(carrier, context=trace_context)
    return carrier.get("traceparent")
