"""The outbox as a durable log against a broker that loses what it acknowledged.

Each test has a Tansu of its own (memory storage) and restarts it: the restarted broker has
forgotten every topic, record and committed offset, like the outages in issue 11. A live consumer
keeps its position across the restart, and the new broker may even hold offsets committed from
the old log (Tansu accepts them): once the relays refill a topic past that position, nothing but
the consumer's own check tells it that the records below are not the ones it handled.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import EventConsumer, Outbox, OutboxRelay, ReceivedEvent, Subscriptions
from k8sops_common.bus.admin import all_topic_names, ensure_topics
from k8sops_common.bus.consumer import EventHandler
from k8sops_common.bus.ledger import prune
from k8sops_common.bus.outbox import new_producer
from k8sops_common.bus.republish import republish_command, republish_since
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import RequestOpenedV1
from k8sops_common.settings import ServiceSettings
from k8sops_platform.embedded import TansuBroker

from .test_bus_roundtrip import handled_rows, record_handled, write_events

Eventually = Callable[..., Awaitable[object]]


@pytest.fixture
async def service(isolation, own_broker) -> AsyncIterator[tuple[ServiceSettings, Database]]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings("intake", "k8sops_intake.migrations")
    database = Database(engine_from_settings(settings))
    async with database.unit_of_work() as session:
        await session.execute(text("CREATE TABLE handled (seq serial, event_id text, request_id text)"))
    yield settings, database
    await database.dispose()


async def read_topic(bootstrap: str, topic: str, expected: int) -> list[str]:
    """The event ids in the topic from its beginning, once `expected` have arrived (or 10 s of silence)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    ids: list[str] = []
    try:
        while len(ids) < expected:
            batch = await consumer.getmany(timeout_ms=10_000)
            if not batch:
                break
            ids += [json.loads(record.value)["id"] for records in batch.values() for record in records]
    finally:
        await consumer.stop()
    return ids


async def produce_foreign(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for number in range(count):
            await producer.send_and_wait(topic, json.dumps({"id": f"other-{number}"}).encode(), key=b"x")
    finally:
        await producer.stop()


async def test_the_relay_publishes_again_what_a_restarted_broker_lost(service, own_broker) -> None:  # type: ignore[no-untyped-def]
    settings, database = service
    topic = settings.topic("request.opened")
    lost_ids = await write_events(database, Outbox(settings), [f"req-{i}" for i in range(30)])
    relay = OutboxRelay(settings, database)
    try:
        assert await relay.publish_batch() == 30
        assert await relay.verify() == set()  # the broker still holds them
        own_broker.stop()
        own_broker.start()
        await ensure_all_topics(settings)
        # Another service's relay fills the re-created topic past our offsets before our check:
        # comparing end offsets alone would take those records for ours.
        await produce_foreign(settings.kafka_bootstrap_servers, topic, 120)

        assert await relay.verify() == {topic}
        assert await relay.backlog() == 30
        assert await drain_and_verify(relay) == set()
    finally:
        await relay.stop()
    published = await read_topic(settings.kafka_bootstrap_servers, topic, 150)
    assert sorted(set(published) & set(lost_ids)) == sorted(lost_ids)


async def drain_and_verify(relay: OutboxRelay) -> set[str]:
    """Publishes every unsent row, then checks the broker still holds what it acknowledged."""
    while await relay.publish_batch():
        pass
    return await relay.verify()


async def ensure_all_topics(settings: ServiceSettings) -> None:
    await ensure_topics(settings.kafka_bootstrap_servers, all_topic_names(settings.topic_prefix))


async def test_a_consumer_reads_a_recreated_topic_from_its_start_despite_a_higher_committed_offset(
    service: tuple[ServiceSettings, Database], own_broker: TansuBroker, eventually: Eventually
) -> None:
    settings, database = service
    topic = settings.topic("request.opened")
    own_broker.stop()
    own_broker.start()
    await ensure_all_topics(settings)
    # A member that handled records of the topic before the broker restarted commits its old
    # positions into the new broker (Tansu accepts them): far beyond the new partitions' ends.
    committer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=settings.consumer_group, enable_auto_commit=False
    )
    await committer.start()
    try:
        partitions = [TopicPartition(topic, number) for number in range(3)]
        committer.assign(partitions)
        await committer.commit({partition: 50 for partition in partitions})
    finally:
        await committer.stop()
    event_ids = await write_events(database, Outbox(settings), [f"req-{i}" for i in range(12)])
    relay = OutboxRelay(settings, database)
    await relay.publish_batch()
    await relay.stop()

    consumer = EventConsumer(settings, database, Subscriptions().on(RequestOpenedV1, record_handled))
    task = asyncio.create_task(consumer.run())
    try:
        rows = await eventually(lambda: handled_rows(database), lambda rows: len(rows) >= 12, timeout_s=60)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
    assert sorted(event_id for event_id, _ in rows) == sorted(event_ids)  # type: ignore[attr-defined]


def gated(release: asyncio.Event, blocked: asyncio.Event) -> EventHandler:
    """Records events; the one for request "gate" holds the consumer between two fetches until
    released, then fails as an unreachable database would, so that the consumer reconnects."""

    async def handle(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, RequestOpenedV1)
        if event.data.request_id == "gate" and not release.is_set():
            blocked.set()
            await release.wait()
            raise OSError("database unreachable")
        await record_handled(session, event)

    return handle


async def publish(settings: ServiceSettings, database: Database, request_ids: list[str]) -> list[str]:
    return (await publish_into_partitions(settings, database, request_ids))[0]


async def publish_into_partitions(
    settings: ServiceSettings, database: Database, request_ids: list[str]
) -> tuple[list[str], set[int]]:
    """The events' ids, and the partitions the relay sent them to."""
    event_ids = await write_events(database, Outbox(settings), request_ids)
    relay = OutboxRelay(settings, database)
    try:
        while await relay.publish_batch():
            pass
    finally:
        await relay.stop()
    return event_ids, {partition.partition for partition in relay.ledger.latest}


async def log_ends(settings: ServiceSettings, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Each partition's end, from a fetch's highwater (Tansu's ListOffsets answers wrong ends)."""
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        while any(reader.highwater(partition) is None for partition in partitions):
            await reader.getmany(timeout_ms=200)
        return {partition: reader.highwater(partition) or 0 for partition in partitions}
    finally:
        await reader.stop()


async def test_a_live_consumer_reads_a_replaced_log_that_outgrew_its_position_from_the_start(
    service: tuple[ServiceSettings, Database], own_broker: TansuBroker, eventually: Eventually
) -> None:
    settings, database = service
    partitions = [TopicPartition(settings.topic("request.opened"), number) for number in range(3)]
    release, blocked = asyncio.Event(), asyncio.Event()
    consumer = EventConsumer(settings, database, Subscriptions().on(RequestOpenedV1, gated(release, blocked)))
    task = asyncio.create_task(consumer.run())
    try:
        await publish(settings, database, [f"old-{number}" for number in range(30)])
        await eventually(lambda: handled_rows(database), lambda rows: len(rows) == 30, timeout_s=60)
        await publish(settings, database, ["gate"])
        await asyncio.wait_for(blocked.wait(), 60)
        old_ends = await log_ends(settings, partitions)

        own_broker.stop()
        own_broker.start()
        await ensure_all_topics(settings)
        # The member's positions in the old log, committed into the new broker, which accepts them.
        committer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.consumer_group,
            enable_auto_commit=False,
        )
        await committer.start()
        try:
            committer.assign(partitions)
            await committer.commit(old_ends)
        finally:
            await committer.stop()
        # The new log outgrows those positions before the consumer fetches again.
        new_ids = await publish(settings, database, [f"new-{number}" for number in range(90)])
        new_ends = await log_ends(settings, partitions)
        assert all(new_ends[partition] > old_ends[partition] for partition in partitions), (old_ends, new_ends)
        release.set()

        rows = await eventually(
            lambda: handled_rows(database), lambda rows: len(rows) >= 30 + len(new_ids), timeout_s=60
        )
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
    handled_new = sorted(event_id for event_id, request_id in rows if request_id.startswith("new-"))  # type: ignore[attr-defined]
    assert handled_new == sorted(new_ids)


async def test_a_consumer_outlives_an_error_while_its_broker_is_down(
    service: tuple[ServiceSettings, Database],
    own_broker: TansuBroker,
    eventually: Eventually,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings, database = service
    release, blocked = asyncio.Event(), asyncio.Event()
    consumer = EventConsumer(settings, database, Subscriptions().on(RequestOpenedV1, gated(release, blocked)))
    task = asyncio.create_task(consumer.run())

    async def handled_while_running() -> list[tuple[str, str]]:
        assert not task.done(), "the consumer task ended"
        return await handled_rows(database)

    try:
        await publish(settings, database, ["gate"])
        await asyncio.wait_for(blocked.wait(), 60)
        own_broker.stop()
        # The consumer's fetcher sleeps 100 ms after each failed fetch: stopping the consumer then
        # made aiokafka raise CancelledError, which ended the consumer task for good.
        await eventually(lambda: fetches_failed(caplog), lambda count: count >= 3, timeout_s=30)
        release.set()
        await eventually(lambda: reconnects(caplog), lambda count: count >= 1, timeout_s=30)
        own_broker.start()
        await ensure_all_topics(settings)
        event_ids = await publish(settings, database, [f"after-{number}" for number in range(6)])
        rows = await eventually(handled_while_running, lambda rows: len(rows) >= 6, timeout_s=60)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
    assert sorted(event_id for event_id, _ in rows) == sorted(event_ids)  # type: ignore[attr-defined]


async def fetches_failed(caplog: pytest.LogCaptureFixture) -> int:
    return sum("Failed fetch messages" in record.getMessage() for record in caplog.records)


async def reconnects(caplog: pytest.LogCaptureFixture) -> int:
    return sum("database unreachable; reconnecting" in record.getMessage() for record in caplog.records)


async def test_republish_marks_one_topics_rows_since_a_time_unsent_and_prune_keeps_the_retention(
    service: tuple[ServiceSettings, Database], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, database = service
    topic = settings.topic("request.opened")
    old = await write_events(database, Outbox(settings), ["req-old"])
    recent = await write_events(database, Outbox(settings), ["req-new-1", "req-new-2"])
    relay = OutboxRelay(settings, database)
    assert await relay.publish_batch() == 3
    await relay.stop()
    async with database.unit_of_work() as session:
        await session.execute(
            text("UPDATE outbox SET sent_at = now() - interval '2 hours' WHERE event_id = :id"), {"id": old[0]}
        )
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    # The operator's command, as a process with the service's own settings.
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "K8SOPS_DB_SCHEMA": settings.schema_name,
        "K8SOPS_TOPIC_PREFIX": settings.topic_prefix,
    }
    command = [sys.executable, "-m", "k8sops_intake", "republish", "--topic", "request.opened", "--since", since]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"topic": topic, "since": since, "republished": 2}
    assert await republish_since(settings, "credit.issued", datetime.fromisoformat(since)) == 0
    with pytest.raises(SystemExit):
        republish_command(settings, ["--topic", "credit.issued", "--since", "2026-11-27T10:00:00"])
    assert "needs a UTC offset" in capsys.readouterr().err
    async with database.sessions() as session:
        unsent = set((await session.execute(text("SELECT event_id FROM outbox WHERE sent_at IS NULL"))).scalars())
    assert unsent == set(recent)

    async with database.unit_of_work() as session:
        await session.execute(
            text("INSERT INTO inbox (event_id, topic, handled_at) VALUES ('e1', 't', now() - interval '3 hours')")
        )
        assert await prune(session, outbox_retention_s=3600, inbox_retention_s=7200) == (1, 1)
        assert await prune(session, outbox_retention_s=3600, inbox_retention_s=7200) == (0, 0)


async def test_a_live_member_reads_every_partition_of_a_topic_a_restarted_broker_recreated_with_four(
    service: tuple[ServiceSettings, Database], own_broker: TansuBroker, eventually: Eventually
) -> None:
    settings, database = service
    # Shorter group joins and a sooner end to the member the rejoin leaves behind: most of the
    # test's time. A member evicted on a loaded machine only rejoins, which the test waits for.
    settings = settings.model_copy(update={"consumer_session_timeout_ms": 2_500})
    topic = settings.topic("request.opened")
    consumer = EventConsumer(settings, database, Subscriptions().on(RequestOpenedV1, record_handled))
    task = asyncio.create_task(consumer.run())
    try:
        await publish(settings, database, [f"old-{number}" for number in range(12)])
        await eventually(lambda: handled_rows(database), lambda rows: len(rows) == 12, timeout_s=60)

        own_broker.kill()
        own_broker.start()
        # Any client's metadata request re-creates the topic, with Tansu's default of 4 partitions.
        producer = new_producer(settings)
        await producer.start()
        try:
            assert await producer.partitions_for(topic) == {0, 1, 2, 3}
        finally:
            await producer.stop()
        new_ids, partitions = await publish_into_partitions(settings, database, [f"new-{n}" for n in range(16)])
        assert partitions == {0, 1, 2, 3}

        rows = await eventually(lambda: handled_rows(database), lambda rows: len(rows) >= 12 + 16, timeout_s=60)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
    assert sorted(event_id for event_id, request_id in rows if request_id.startswith("new-")) == sorted(new_ids)  # type: ignore[attr-defined]
