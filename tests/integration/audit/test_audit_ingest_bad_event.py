"""A bad `audit.event` in a poll goes to the DLQ with its error; the rest of the poll is chained,
stored and verifies (the ingest fast path hands such a poll to the general path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import text

from k8sops_audit.handlers import subscriptions
from k8sops_audit.service import verify
from k8sops_common.bus import EventConsumer, Outbox, OutboxRelay
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import ActorV1, AuditEventV1, AuditTargetV1, dlq_topic
from k8sops_common.service import ServiceContext
from k8sops_common.settings import ServiceSettings


@pytest.fixture
async def audit(isolation) -> AsyncIterator[tuple[ServiceSettings, Database]]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings("audit", "k8sops_audit.migrations")
    database = Database(engine_from_settings(settings))
    yield settings, database
    await database.dispose()


def audit_record(settings: ServiceSettings, offset: int, action: str) -> ConsumerRecord[bytes, bytes]:
    data = AuditEventV1(
        actor=ActorV1(sub="oncall@provider.example", roles=["k8s-ops.operator"]),
        action=action,
        target=AuditTargetV1(kind="Node", name=f"node-{offset}", cluster="prod-1"),
        engagement_id="eng-1",
        outcome="success",
        source_service="upgrade-runner",
        occurred_at=datetime(2026, 11, 28, 3, 0, offset, tzinfo=UTC),
        details={"offset": offset},
    )
    value = Outbox(settings).envelope(data).model_dump_json().encode()
    topic = settings.topic("audit.event")
    return ConsumerRecord(topic, 0, offset, 0, 0, b"eng-1", value, None, 5, len(value), [])


async def test_a_bad_event_is_dead_lettered_with_its_error_and_the_rest_of_the_poll_is_chained(audit) -> None:  # type: ignore[no-untyped-def]
    settings, database = audit
    context = ServiceContext(settings, database, Outbox(settings), OutboxRelay(settings, database))
    consumer = EventConsumer(settings, database, subscriptions(context), retry_delay_s=0.01)
    # The catalog takes a blank action (min_length 1); an audit entry does not.
    poll = [audit_record(settings, offset, " " if offset == 2 else "node.drain") for offset in range(5)]
    try:
        await consumer.process(poll)
    finally:
        await consumer._close()

    async with database.sessions() as session:
        stored = (await session.execute(text("SELECT seq, target_name FROM audit_entries ORDER BY seq"))).all()
        report = await verify(session)
    assert [(row.seq, row.target_name) for row in stored] == [
        (1, "node-0"),
        (2, "node-1"),
        (3, "node-3"),
        (4, "node-4"),
    ]
    assert report.result.ok and report.result.entries_verified == 4

    dlq = AIOKafkaConsumer(
        dlq_topic(settings.topic("audit.event")),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await dlq.start()
    try:
        dead = []
        for _ in range(30):
            for records in (await dlq.getmany(timeout_ms=1000)).values():
                dead += records
            if dead:
                break
    finally:
        await dlq.stop()
    assert len(dead) == 1 and dead[0].value == poll[2].value
    headers = {name: value.decode() for name, value in dead[0].headers}
    assert headers["dlq-error"] == "InvalidAuditEntryError: action must be a non-empty string, got ' '"
    assert headers["dlq-attempts"] == str(settings.consumer_max_attempts)
