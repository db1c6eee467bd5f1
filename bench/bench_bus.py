"""Throughput of the bus next to the bare Kafka client it is built on, on one broker and one database.

Each round measures, in this order, with N real `RequestOpenedV1` CloudEvents:
- raw produce: an aiokafka producer (acks=all, linger 5 ms, no idempotence) sends N, awaits every ack;
- relay: `OutboxRelay.run()` drains N committed outbox rows, from start until the backlog is 0;
- raw consume: an aiokafka consumer (no group) reads the N raw-produced events from the beginning;
- consumer: `EventConsumer` handles N events with one INSERT each, from the moment its group has
  assigned it the partitions until all N are handled (the group join is reported on its own);
- set-based consumer: the same with a batch handler, which writes a poll's effects in one
  statement as the inbox rows are written (`consumer_set_based_*`; goal of issue 13: 25,000/s).
Spans are read with perf_counter and include starting the client (except the consumer's group join).
The relay and consumer spans end when their own counters (published / handled, both bumped right
after the commit) reach N, which the watcher reads without touching the database; the database and
topic are checked afterwards. Each section has its own topic prefix and schema, new every round.
Every event carries a `traceparent` as the relay sends it without an OTLP endpoint (a trace of its
own, not sampled), and the process runs the services' tracer (the SDK, `ParentBased(ALWAYS_OFF)`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import Counter
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from support import (
    Infrastructure,
    Stopwatch,
    load_average,
    median_figures,
    per_second,
    progress,
    report_measurement,
    wait_until,
)

from k8sops_common.bus import EventConsumer, Outbox, OutboxRelay, ReceivedEvent, Subscriptions
from k8sops_common.bus.admin import ensure_topics
from k8sops_common.bus.consumer import HANDLED
from k8sops_common.bus.outbox import OUTBOX_PUBLISHED
from k8sops_common.bus.tables import inbox_table, outbox_table
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import EVENT_TYPES_BY_MODEL, RequestOpenedV1
from k8sops_common.migrations import migrate
from k8sops_common.settings import ServiceSettings
from k8sops_common.telemetry import setup_tracing

TOPIC = EVENT_TYPES_BY_MODEL[RequestOpenedV1].topic
MIGRATIONS = "k8sops_intake.migrations"
OUTBOX_ROWS_PER_TRANSACTION = 1_000
OUTBOX = outbox_table(MetaData())
INBOX = inbox_table(MetaData())

Message = tuple[bytes, bytes]


def request_opened(index: int) -> RequestOpenedV1:
    return RequestOpenedV1(
        request_id=f"req-{index:07d}",
        engagement_id="eng-acme",
        category="incident",
        priority="P1",
        title=f"api down #{index}",
        opened_at=datetime.now(UTC),
        opened_by="alice",
    )


def section_settings(infra: Infrastructure, token: str, section: str, batch_size: int) -> ServiceSettings:
    return ServiceSettings(
        service_name=f"bench-{section}",
        database_url=infra.database_url,
        db_schema=f"bench_{token}_{section}",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        topic_prefix=f"bench.{token}.{section}.",
        outbox_batch_size=batch_size,
    )


def counter_value(counter: Counter, **labels: str) -> float:
    """One counter's value, read cheaply: collecting the whole registry would load the loop it watches."""
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels == labels:
                return sample.value
    return 0.0


async def messages_on(bootstrap: str, topic: str, expected: int) -> int:
    """How many messages the topic holds, read from the beginning (Tansu's end offsets run short)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        received = 0
        # Past the expected count, one more short poll shows whether anything extra is there.
        while batches := await consumer.getmany(timeout_ms=5_000 if received < expected else 300):
            received += sum(len(records) for records in batches.values())
        return received
    finally:
        await consumer.stop()


async def count_rows(database: Database, query: Any) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(query) or 0)


def relay_headers() -> list[tuple[str, bytes]]:
    """What the relay sends with an event when no OTLP endpoint is set: a trace of its own, not sampled."""
    return [("traceparent", f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-00".encode())]


async def produce(bootstrap: str, topic: str, messages: list[Message], *, traced: bool = False) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False)
    await producer.start()
    try:
        deliveries = [
            await producer.send(topic, value=value, key=key, headers=relay_headers() if traced else None)
            for key, value in messages
        ]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def measure_raw_produce(bootstrap: str, topic: str, messages: list[Message]) -> dict[str, float]:
    clock = Stopwatch()
    await produce(bootstrap, topic, messages, traced=True)
    elapsed = clock.elapsed()
    on_topic = await messages_on(bootstrap, topic, len(messages))
    if on_topic != len(messages):
        raise AssertionError(f"raw produce: {on_topic} of {len(messages)} messages on {topic}")
    return {"raw_produce_events_per_s": per_second(len(messages), elapsed), "raw_produce_s": round(elapsed, 4)}


async def fill_outbox(settings: ServiceSettings, database: Database, events: int) -> dict[str, float]:
    outbox = Outbox(settings)
    clock = Stopwatch()
    for start in range(0, events, OUTBOX_ROWS_PER_TRANSACTION):
        async with database.unit_of_work() as session:
            for index in range(start, min(start + OUTBOX_ROWS_PER_TRANSACTION, events)):
                await outbox.add(session, request_opened(index))
    elapsed = clock.elapsed()
    return {"outbox_add_events_per_s": per_second(events, elapsed)}


async def measure_relay(settings: ServiceSettings, database: Database, events: int) -> dict[str, float]:
    relay = OutboxRelay(settings, database)
    service = settings.service_name

    # The counter lives as long as the process; count from where it stands now.
    already = counter_value(OUTBOX_PUBLISHED, service=service)

    async def all_published() -> bool:
        return counter_value(OUTBOX_PUBLISHED, service=service) - already >= events

    clock = Stopwatch()
    task = asyncio.create_task(relay.run())
    try:
        drained_at = await wait_until(all_published, interval_s=0.005)
    finally:
        await relay.stop()
        await asyncio.wait_for(task, 10)
    elapsed = drained_at - clock.started
    backlog = await relay.backlog()
    on_topic = await messages_on(settings.kafka_bootstrap_servers, settings.topic(TOPIC), events)
    if backlog != 0 or on_topic != events:
        raise AssertionError(f"relay: backlog {backlog}, {on_topic} of {events} messages on the topic")
    return {"relay_events_per_s": per_second(events, elapsed), "relay_s": round(elapsed, 4)}


async def measure_raw_consume(bootstrap: str, topic: str, events: int) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    clock = Stopwatch()
    await consumer.start()
    try:
        received = 0
        while received < events:
            batches = await consumer.getmany(timeout_ms=10_000)
            if not batches:
                raise AssertionError(f"raw consume: only {received} of {events} messages arrived")
            received += sum(len(records) for records in batches.values())
        elapsed = clock.elapsed()
    finally:
        await consumer.stop()
    return {"raw_consume_events_per_s": per_second(events, elapsed), "raw_consume_s": round(elapsed, 4)}


async def insert_handled(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, RequestOpenedV1)
    await session.execute(
        text("INSERT INTO bench_handled (event_id, request_id) VALUES (:event_id, :request_id)"),
        {"event_id": event.id, "request_id": data.request_id},
    )


async def insert_all_handled(session: AsyncSession, events: list[ReceivedEvent]) -> None:
    request_ids = [event.data.request_id for event in events if isinstance(event.data, RequestOpenedV1)]
    await session.execute(
        text(
            "INSERT INTO bench_handled (event_id, request_id) "
            "SELECT * FROM unnest(CAST(:event_ids AS text[]), CAST(:request_ids AS text[]))"
        ),
        {"event_ids": [event.id for event in events], "request_ids": request_ids},
    )


async def measure_consumer(
    settings: ServiceSettings, database: Database, events: int, set_based: bool = False
) -> dict[str, float]:
    subscriptions = (
        Subscriptions().on_batch(RequestOpenedV1, insert_all_handled)
        if set_based
        else Subscriptions().on(RequestOpenedV1, insert_handled)
    )
    consumer = EventConsumer(settings, database, subscriptions)
    labels = {"service": settings.service_name, "topic": settings.topic(TOPIC)}

    already = counter_value(HANDLED, **labels)

    def handled_at_least(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return counter_value(HANDLED, **labels) - already >= count

        return check

    async def partitions_assigned() -> bool:
        # The test suite reads `_consumer` the same way; the group join is a one-off start cost.
        kafka = consumer._consumer
        return kafka is not None and bool(kafka.assignment())

    clock = Stopwatch()
    task = asyncio.create_task(consumer.run())
    try:
        assigned_at = await wait_until(partitions_assigned, interval_s=0.005)
        cpu_at_assignment = time.process_time()
        first_at = await wait_until(handled_at_least(1), interval_s=0.005)
        done_at = await wait_until(handled_at_least(events), interval_s=0.005)
        cpu_s = time.process_time() - cpu_at_assignment
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 10)
    inbox = await count_rows(database, select(func.count()).select_from(INBOX))
    handled = await count_rows(database, text("SELECT count(*) FROM bench_handled"))
    if inbox != events or handled != events:
        raise AssertionError(f"consumer: {inbox} inbox rows and {handled} handled rows, expected {events}")
    name = "consumer_set_based" if set_based else "consumer"
    return {
        f"{name}_events_per_s": per_second(events, done_at - assigned_at),
        f"{name}_s": round(done_at - assigned_at, 4),
        f"{name}_group_join_s": round(assigned_at - clock.started, 4),
        f"{name}_first_event_s": round(first_at - clock.started, 4),
        f"{name}_including_join_events_per_s": per_second(events, done_at - clock.started),
        # This process's CPU (the consumer, and the watcher polling its counter) per event.
        f"{name}_cpu_us_per_event": round(cpu_s / events * 1e6, 1),
    }


async def migrated_database(settings: ServiceSettings) -> Database:
    # Alembic drives an event loop of its own, so it runs in a thread.
    await asyncio.to_thread(migrate, MIGRATIONS, settings.database_url, settings.schema_name)
    return Database(engine_from_settings(settings))


async def one_round(infra: Infrastructure, args: argparse.Namespace, messages: list[Message]) -> dict[str, float]:
    token = uuid.uuid4().hex[:8]
    raw, relayed, consumed, set_based = (
        section_settings(infra, token, name, args.batch_size) for name in ("raw", "relay", "consumer", "setbased")
    )
    sections_settings = (raw, relayed, consumed, set_based)
    await ensure_topics(
        infra.kafka_bootstrap_servers, [s.topic(TOPIC) for s in sections_settings], partitions=args.partitions
    )
    relay_db, consumer_db = await migrated_database(relayed), await migrated_database(consumed)
    set_based_db = await migrated_database(set_based)
    try:
        for database in (consumer_db, set_based_db):
            async with database.unit_of_work() as session:
                await session.execute(text("CREATE TABLE bench_handled (event_id text PRIMARY KEY, request_id text)"))
        progress(f"round {token}: writing {args.events} outbox rows")
        figures = await fill_outbox(relayed, relay_db, args.events)
        if await count_rows(relay_db, select(func.count()).select_from(OUTBOX)) != args.events:
            raise AssertionError("outbox rows missing before the relay run")
        progress(f"round {token}: filling the consumer's topic")
        await produce(infra.kafka_bootstrap_servers, consumed.topic(TOPIC), messages, traced=True)
        await produce(infra.kafka_bootstrap_servers, set_based.topic(TOPIC), messages, traced=True)

        sections: list[tuple[str, Callable[[], Awaitable[dict[str, float]]]]] = [
            ("raw produce", lambda: measure_raw_produce(infra.kafka_bootstrap_servers, raw.topic(TOPIC), messages)),
            ("relay", lambda: measure_relay(relayed, relay_db, args.events)),
            ("raw consume", lambda: measure_raw_consume(infra.kafka_bootstrap_servers, raw.topic(TOPIC), args.events)),
            ("consumer", lambda: measure_consumer(consumed, consumer_db, args.events)),
            ("set-based consumer", lambda: measure_consumer(set_based, set_based_db, args.events, set_based=True)),
        ]
        for name, measure in sections:
            gc.collect()
            progress(f"round {token}: timing {name}")
            figures.update(await measure())
    finally:
        for database in (relay_db, consumer_db, set_based_db):
            await database.dispose()
    figures["relay_vs_raw_produce"] = round(figures["relay_events_per_s"] / figures["raw_produce_events_per_s"], 3)
    for name in ("consumer", "consumer_set_based"):
        figures[f"{name}_vs_raw_consume"] = round(
            figures[f"{name}_events_per_s"] / figures["raw_consume_events_per_s"], 3
        )
    progress(f"round {token}: {figures}")
    return figures


def wire_messages(events: int) -> list[Message]:
    """The exact bytes the outbox would publish: CloudEvent JSON, keyed by request id."""
    outbox = Outbox(ServiceSettings(service_name="intake"))
    envelopes = (outbox.envelope(request_opened(index)) for index in range(events))
    return [(str(e.subject).encode(), e.model_dump_json().encode()) for e in envelopes]


async def measure(infra: Infrastructure, args: argparse.Namespace) -> dict[str, Any]:
    setup_tracing("bench-bus", None)  # the tracer the services run with when no OTLP endpoint is set
    messages = wire_messages(args.events)
    load_before = load_average()
    rounds = [await one_round(infra, args, messages) for _ in range(args.rounds)]
    result: dict[str, Any] = {
        "events": args.events,
        "outbox_batch_size": args.batch_size,
        "outbox_rows_per_write_transaction": OUTBOX_ROWS_PER_TRANSACTION,
        "partitions": args.partitions,
        "payload_bytes_avg": round(sum(len(value) for _, value in messages) / len(messages), 1),
        "rounds": args.rounds,
        "embedded": infra.embedded,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_average(),
        **median_figures(rounds),
    }
    result["relay_meets_half_of_raw_produce"] = result["relay_vs_raw_produce"] >= 0.5
    result["consumer_set_based_meets_25k_per_s"] = result["consumer_set_based_events_per_s"] >= 25_000
    if args.rounds > 1:
        result["per_round"] = rounds
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per section (default 20000)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=ServiceSettings.model_fields["outbox_batch_size"].default,
        help="the relay's outbox_batch_size (default: the service default)",
    )
    parser.add_argument("--partitions", type=int, default=3, help="partitions per topic (default 3)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat on fresh topics; figures are medians")
    args = parser.parse_args()

    report_measurement(measure, args)


if __name__ == "__main__":
    main()
