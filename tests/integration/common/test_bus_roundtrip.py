"""The bus against the real PostgreSQL and broker: outbox → relay → Kafka → inbox consumer; and
`Outbox.add_all`, the events of one command as one INSERT, in order, each with the trace context."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, audit_event
from k8sops_common.bus import EventConsumer, Outbox, OutboxRelay, ReceivedEvent, Subscriptions
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import AuditTargetV1, EventData, RequestOpenedV1
from k8sops_common.settings import ServiceSettings

Eventually = Callable[..., Awaitable[object]]


def opened(request_id: str) -> RequestOpenedV1:
    return RequestOpenedV1(
        request_id=request_id,
        engagement_id="eng-1",
        category="incident",
        priority="P1",
        title="api down",
        opened_at=datetime.now(UTC),
        opened_by="alice",
    )


async def record_handled(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, RequestOpenedV1)
    if data.title == "poison":
        raise ValueError("this handler cannot take poison")
    await session.execute(
        text("INSERT INTO handled (event_id, request_id) VALUES (:event_id, :request_id)"),
        {"event_id": event.id, "request_id": data.request_id},
    )


@pytest.fixture
async def service(isolation) -> AsyncIterator[tuple[ServiceSettings, Database]]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings("intake", "k8sops_intake.migrations")
    database = Database(engine_from_settings(settings))
    async with database.unit_of_work() as session:
        await session.execute(text("CREATE TABLE handled (seq serial, event_id text, request_id text)"))
    yield settings, database
    await database.dispose()


async def write_events(database: Database, outbox: Outbox, request_ids: list[str]) -> list[str]:
    async with database.unit_of_work() as session:
        return [await outbox.add(session, opened(request_id)) for request_id in request_ids]


async def handled_rows(database: Database) -> list[tuple[str, str]]:
    async with database.sessions() as session:
        rows = await session.execute(text("SELECT event_id, request_id FROM handled ORDER BY seq"))
        return [(row.event_id, row.request_id) for row in rows]


async def run_until(task_owner: EventConsumer | OutboxRelay, check: Callable[[], Awaitable[bool]]) -> None:
    task = asyncio.create_task(task_owner.run())
    try:
        for _ in range(300):
            if await check():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("condition not met within 30 s")
    finally:
        result = task_owner.stop()
        if asyncio.iscoroutine(result):
            await result
        await asyncio.wait_for(task, 10)


async def test_events_flow_in_order_and_are_marked_sent(service, eventually: Eventually) -> None:  # type: ignore[no-untyped-def]
    settings, database = service
    outbox = Outbox(settings)
    request_ids = [f"req-{i}" for i in range(50)]
    # One key for all: the consumer must see them in exactly the written order.
    async with database.unit_of_work() as session:
        for request_id in request_ids:
            await outbox.add(session, opened("same-key").model_copy(update={"title": request_id}))

    relay = OutboxRelay(settings, database)
    await relay.publish_batch()
    await relay.stop()
    assert await relay.backlog() == 0

    bootstrap = settings.kafka_bootstrap_servers
    consumer = AIOKafkaConsumer(
        settings.topic("request.opened"), bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        titles: list[str] = []
        while len(titles) < 50:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "relay published fewer than 50 events"
            for records in batch.values():
                titles += [json.loads(record.value)["data"]["title"] for record in records]
    finally:
        await consumer.stop()
    assert titles == request_ids


async def test_consumer_handles_each_event_once_even_when_redelivered(service) -> None:  # type: ignore[no-untyped-def]
    settings, database = service
    event_ids = await write_events(database, Outbox(settings), [f"req-{i}" for i in range(20)])
    relay = OutboxRelay(settings, database)
    await relay.publish_batch()
    await relay.stop()

    subscriptions = Subscriptions().on(RequestOpenedV1, record_handled)

    async def all_handled() -> bool:
        return len(await handled_rows(database)) >= 20

    await run_until(EventConsumer(settings, database, subscriptions), all_handled)
    # A second group member that never saw a commit replays everything: the inbox absorbs it.
    replay_settings = settings.model_copy(update={"service_name": "replayer"})
    consumer = EventConsumer(replay_settings, database, subscriptions)

    async def replay_reached_the_end() -> bool:
        kafka = consumer._consumer
        if kafka is None or not kafka.assignment():
            return False
        committed = [await kafka.committed(partition) or 0 for partition in kafka.assignment()]
        return sum(committed) == 20

    await run_until(consumer, replay_reached_the_end)
    handled = [event_id for event_id, _ in await handled_rows(database)]
    assert sorted(handled) == sorted(event_ids)


async def test_malformed_and_failing_messages_go_to_the_dlq_and_the_consumer_moves_on(service) -> None:  # type: ignore[no-untyped-def]
    settings, database = service
    topic = settings.topic("request.opened")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{not json", key=b"k")
        await producer.send_and_wait(topic, json.dumps({"specversion": "1.0", "id": "x"}).encode(), key=b"k")
    finally:
        await producer.stop()
    await write_events(database, Outbox(settings), ["after-garbage"])
    async with database.unit_of_work() as session:
        await Outbox(settings).add(session, opened("poisoned").model_copy(update={"title": "poison"}))
    await write_events(database, Outbox(settings), ["after-poison"])
    relay = OutboxRelay(settings, database)
    await relay.publish_batch()
    await relay.stop()

    subscriptions = Subscriptions().on(RequestOpenedV1, record_handled)

    async def both_good_ones_handled() -> bool:
        return sorted(r for _, r in await handled_rows(database)) == ["after-garbage", "after-poison"]

    await run_until(EventConsumer(settings, database, subscriptions, retry_delay_s=0.01), both_good_ones_handled)

    bootstrap = settings.kafka_bootstrap_servers
    dlq = AIOKafkaConsumer(f"{topic}.dlq", bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await dlq.start()
    try:
        dead: list[dict[str, str]] = []
        for _ in range(20):
            for records in (await dlq.getmany(timeout_ms=1000)).values():
                dead += [{k: v.decode() for k, v in record.headers} for record in records]
            if len(dead) >= 3:
                break
    finally:
        await dlq.stop()
    assert len(dead) == 3
    unparsable = [d for d in dead if "not a CloudEvents 1.0 JSON envelope" in d["dlq-error"]]
    poisoned = [d for d in dead if "cannot take poison" in d["dlq-error"]]
    assert len(unparsable) == 2 and all(d["dlq-attempts"] == "0" for d in unparsable)
    assert len(poisoned) == 1 and poisoned[0]["dlq-attempts"] == "3"


TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331


async def test_add_all_writes_the_events_in_one_statement_in_order_with_the_trace_context(
    service: tuple[ServiceSettings, Database],
) -> None:
    settings, database = service
    outbox = Outbox(settings)
    target = AuditTargetV1(kind="Request", name="req-1")
    events: list[EventData] = [
        opened("req-1"),
        audit_event(outbox, actor=SYSTEM_ACTOR, action="request.open", target=target, engagement_id="eng-1"),
        opened("req-2"),
    ]
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    caller = SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    async with database.unit_of_work() as session:
        await session.execute(text("SELECT 1"))  # BEGIN and the pool's checkout happen before counting
        sqlalchemy_event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
        try:
            with trace.use_span(NonRecordingSpan(caller)):
                ids = await outbox.add_all(session, events)
                assert await outbox.add_all(session, []) == []  # and nothing to send for no events
        finally:
            sqlalchemy_event.remove(database.engine.sync_engine, "before_cursor_execute", capture)

    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT INTO"), statements
    async with database.sessions() as session:
        query = text("SELECT event_id, topic, key, traceparent FROM outbox ORDER BY id")
        rows = (await session.execute(query)).all()
    assert [row.event_id for row in rows] == ids and len(set(ids)) == 3
    assert [row.topic for row in rows] == [
        settings.topic("request.opened"),
        settings.topic("audit.event"),
        settings.topic("request.opened"),
    ]
    assert [row.key for row in rows] == ["req-1", "eng-1", "req-2"]
    assert {row.traceparent for row in rows} == {f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"}
