"""Kafka spans after the OTel messaging semantic conventions (producer, batch process, per-event process)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from .tracing import KafkaHeaders, context_from_traceparent, traced, unsampled_parent

tracer = trace.get_tracer("k8sops_common.bus")


def start_producer_span(
    topic: str, key: str, event_id: str, traceparent: str | None, tracestate: str | None
) -> trace.Span:
    """The relay's `send` span, a child of the action that wrote the outbox row."""
    return tracer.start_span(
        f"send {topic}",
        context=context_from_traceparent(traceparent, tracestate),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": topic,
            "messaging.kafka.message.key": key,
            "messaging.message.id": event_id,
        },
    )


def end_span(span: trace.Span, error: BaseException | None = None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end()


def _record_attributes(record: Any, consumer_group: str) -> dict[str, Any]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
        "messaging.consumer.group.name": consumer_group,
    }


@contextmanager
def batch_span(
    records: Sequence[Any], contexts: Iterable[otel_context.Context], consumer_group: str
) -> Iterator[trace.Span]:
    """One `process` span for a poll's transaction, linking every event's producer span.

    It starts a trace of its own (a batch belongs to many requests); each event's own span is
    a child in that event's trace (`event_span`). The links are made only when the span records:
    `contexts` is read only then, so events' trace contexts are not parsed for nothing.
    """
    topics = sorted({record.topic for record in records})
    with traced(otel_context.Context()):
        with tracer.start_as_current_span(
            f"process {', '.join(topics)}",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.destination.name": topics[0] if len(topics) == 1 else ", ".join(topics),
                "messaging.batch.message_count": len(records),
                "messaging.consumer.group.name": consumer_group,
            },
        ) as span:
            if span.is_recording():
                for span_context in map(_span_context, contexts):
                    if span_context.is_valid:
                        span.add_link(span_context)
            yield span


def event_span_would_record(headers: KafkaHeaders | None) -> bool:
    """False when an event's span could not record: its `traceparent` names a valid span that is
    not sampled, and the tracer records no child of such a span (a `ParentBased` sampler, the
    services' own, or no SDK at all). The consumer then makes no span for it (~8 µs an event)."""
    return not unsampled_parent(headers) or _records_unsampled_children()


_probed: list[object] = [None, True]  # the tracer provider last probed, and its answer


def _records_unsampled_children() -> bool:
    provider = trace.get_tracer_provider()
    if _probed[0] is not provider:
        parent = trace.NonRecordingSpan(trace.SpanContext(1, 1, is_remote=True, trace_flags=trace.TraceFlags(0)))
        # Never ended: a span that did record would be a bogus one to export.
        probe = tracer.start_span("probe", context=trace.set_span_in_context(parent, otel_context.Context()))
        _probed[:] = [provider, probe.is_recording()]
    return bool(_probed[1])


def start_event_span(
    record: Any, event_id: str, parent: otel_context.Context, consumer_group: str, batch: trace.Span | None
) -> trace.Span:
    """One event's `process` span, parented on its `traceparent` and linked to its batch."""
    links = [Link(batch.get_span_context())] if batch is not None else []
    return tracer.start_span(
        f"process {record.topic}",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            **_record_attributes(record, consumer_group),
            "messaging.message.id": event_id,
            "messaging.kafka.message.key": (record.key or b"").decode(errors="replace"),
        },
    )


def _span_context(ctx: otel_context.Context) -> trace.SpanContext:
    return trace.get_current_span(ctx).get_span_context()
