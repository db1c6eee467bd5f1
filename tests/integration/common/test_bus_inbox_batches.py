"""A poll's records handled set-based: one inbox statement and one batch-handler call per poll.

`EventConsumer.process` is what the consumer runs on each poll; these tests hand it records
directly (the broker is still real: dead letters are produced to it and read back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import EventConsumer, Outbox, ReceivedEvent, Subscriptions
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import RequestOpenedV1
from k8sops_common.settings import ServiceSettings

TOPIC = "request.opened"


class Recorder:
    """A batch handler that writes a poll's effects in one statement and remembers each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, session: AsyncSession, events: list[ReceivedEvent]) -> None:
        self.calls.append([event.id for event in events])
        titles = [event.data.title for event in events if isinstance(event.data, RequestOpenedV1)]
        if "poison" in titles:
            raise ValueError("this handler cannot take poison")
        await session.execute(
            text(
                "INSERT INTO handled (event_id, title) SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:t AS text[]))"
            ),
            {"ids": [event.id for event in events], "t": titles},
        )


@pytest.fixture
async def service(isolation) -> AsyncIterator[tuple[ServiceSettings, Database]]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings("intake", "k8sops_intake.migrations")
    database = Database(engine_from_settings(settings))
    async with database.unit_of_work() as session:
        await session.execute(text("CREATE TABLE handled (event_id text PRIMARY KEY, title text)"))
    yield settings, database
    await database.dispose()


def record(settings: ServiceSettings, offset: int, title: str, event_id: str) -> ConsumerRecord[bytes, bytes]:
    data = RequestOpenedV1(
        request_id=f"req-{title}",
        engagement_id="eng-1",
        category="incident",
        priority="P1",
        title=title,
        opened_at=datetime.now(UTC),
        opened_by="alice",
    )
    value = Outbox(settings).envelope(data, event_id=event_id).model_dump_json().encode()
    key = data.request_id.encode()
    return ConsumerRecord(settings.topic(TOPIC), 0, offset, 0, 0, key, value, None, len(key), len(value), [])


async def handled(database: Database) -> dict[str, str]:
    async with database.sessions() as session:
        rows = await session.execute(text("SELECT event_id, title FROM handled"))
        return {row.event_id: row.title for row in rows}


async def inbox_ids(database: Database) -> list[str]:
    async with database.sessions() as session:
        return sorted((await session.execute(text("SELECT event_id FROM inbox"))).scalars())


async def test_duplicates_within_a_poll_and_across_polls_are_handled_once(service) -> None:  # type: ignore[no-untyped-def]
    settings, database = service
    recorder = Recorder()
    consumer = EventConsumer(settings, database, Subscriptions().on_batch(RequestOpenedV1, recorder))

    # The same event twice in one poll (a producer retry), then a poll replaying it among new ones.
    await consumer.process(
        [record(settings, 0, "a", "id-a"), record(settings, 1, "a", "id-a"), record(settings, 2, "b", "id-b")]
    )
    await consumer.process([record(settings, 3, "b", "id-b"), record(settings, 4, "c", "id-c")])
    await consumer.process([record(settings, 5, "a", "id-a")])

    assert recorder.calls == [["id-a", "id-b"], ["id-c"]]  # one call per poll with anything new
    assert await handled(database) == {"id-a": "a", "id-b": "b", "id-c": "c"}
    assert await inbox_ids(database) == ["id-a", "id-b", "id-c"]


async def test_a_failing_event_in_a_set_based_poll_is_dead_lettered_alone(service) -> None:  # type: ignore[no-untyped-def]
    settings, database = service
    recorder = Recorder()
    consumer = EventConsumer(
        settings, database, Subscriptions().on_batch(RequestOpenedV1, recorder), retry_delay_s=0.01
    )
    poll = [record(settings, 0, "a", "id-a"), record(settings, 1, "poison", "id-p"), record(settings, 2, "b", "id-b")]
    try:
        await consumer.process(poll)
    finally:
        await consumer._close()

    # The whole poll rolled back once, then each event alone: the good ones commit with their inbox rows.
    assert await handled(database) == {"id-a": "a", "id-b": "b"}
    assert await inbox_ids(database) == ["id-a", "id-b"]
    dlq = AIOKafkaConsumer(
        settings.topic(f"{TOPIC}.dlq"), bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await dlq.start()
    try:
        dead: list[dict[str, str]] = []
        for _ in range(30):
            for records in (await dlq.getmany(timeout_ms=1000)).values():
                dead += [{name: value.decode() for name, value in item.headers} for item in records]
            if dead:
                break
    finally:
        await dlq.stop()
    assert len(dead) == 1
    assert "cannot take poison" in dead[0]["dlq-error"] and dead[0]["dlq-attempts"] == "3"
    assert dead[0]["dlq-source-offset"] == "1"
