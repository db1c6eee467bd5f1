"""Which events of a set-based poll get a `process` span of their own, and which trace a handler sees.

The tracer is the services' own (the SDK with `ParentBased(ALWAYS_OFF)`, as without an OTLP
endpoint), with an in-memory exporter added to see what it records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import EventConsumer, Outbox, ReceivedEvent, Subscriptions
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import RequestOpenedV1
from k8sops_common.settings import ServiceSettings
from k8sops_common.telemetry import setup_tracing

SAMPLED_TRACE, SAMPLED_PARENT = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
UNSAMPLED_TRACE, UNSAMPLED_PARENT = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    setup_tracing("bus-spans", None)  # a no-op if a service built in this process already did it
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays on the process-wide provider; it exports nothing more


@pytest.fixture
async def service(isolation) -> AsyncIterator[tuple[ServiceSettings, Database]]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings("intake", "k8sops_intake.migrations")
    database = Database(engine_from_settings(settings))
    yield settings, database
    await database.dispose()


def record(
    settings: ServiceSettings, offset: int, trace_id: int, parent: int, flags: int
) -> ConsumerRecord[bytes, bytes]:
    data = RequestOpenedV1(
        request_id=f"req-{offset}",
        engagement_id="eng-1",
        category="incident",
        priority="P1",
        title="spans",
        opened_at=datetime.now(UTC),
        opened_by="alice",
    )
    value = Outbox(settings).envelope(data).model_dump_json().encode()
    headers = [("traceparent", f"00-{trace_id:032x}-{parent:016x}-{flags:02x}".encode())]
    key = data.request_id.encode()
    return ConsumerRecord(settings.topic("request.opened"), 0, offset, 0, 0, key, value, None, 3, len(value), headers)


async def test_a_sampled_event_gets_its_span_and_an_unsampled_one_keeps_the_trace_it_came_with(  # type: ignore[no-untyped-def]
    service, exported: InMemorySpanExporter
) -> None:
    settings, database = service
    seen: dict[int, SpanContext] = {}

    async def remember_traces(session: AsyncSession, events: list[ReceivedEvent]) -> None:
        for event in events:
            seen[event.record.offset] = trace.get_current_span(event.trace_context).get_span_context()

    consumer = EventConsumer(settings, database, Subscriptions().on_batch(RequestOpenedV1, remember_traces))
    await consumer.process(
        [
            record(settings, 0, SAMPLED_TRACE, SAMPLED_PARENT, 1),
            record(settings, 1, UNSAMPLED_TRACE, UNSAMPLED_PARENT, 0),
        ]
    )

    # The sampled event: its own recorded span, a child of its producer's, linked to the batch.
    [span] = [span for span in exported.get_finished_spans() if span.context.trace_id == SAMPLED_TRACE]
    assert span.name == f"process {settings.topic('request.opened')}" and span.kind == trace.SpanKind.CONSUMER
    assert span.parent is not None and span.parent.span_id == SAMPLED_PARENT
    assert span.attributes is not None and span.attributes["messaging.kafka.offset"] == 0
    assert len(span.links) == 1
    assert seen[0].span_id == span.context.span_id and seen[0].trace_flags.sampled
    # The unsampled one: no span could record, so none is made; the handler is in its trace.
    assert (seen[1].trace_id, seen[1].span_id, seen[1].trace_flags.sampled) == (
        UNSAMPLED_TRACE,
        UNSAMPLED_PARENT,
        False,
    )
