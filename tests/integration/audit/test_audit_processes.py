"""Several audit processes side by side (`K8SOPS_HTTP_WORKERS` workers, replicas) on one database:
their appends make one chain, one of them signs at a time, and each guard follows the checkpoints
the others wrote to the shared file. Each process is a `Database` (its own connections) and a
`TailGuard` of its own, as in a worker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from k8sops_audit.domain.checkpoint import generate_signing_key
from k8sops_audit.service import append_events, sign_and_witness, verify
from k8sops_audit.witness import TailGuard
from k8sops_common.bus import Outbox, ReceivedEvent
from k8sops_common.bus.parsing import RecordParser
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import ActorV1, AuditEventV1, AuditTargetV1
from k8sops_common.settings import ServiceSettings

PARSER = RecordParser("", {"k8sops.audit.event.v1"})


@pytest.fixture
async def audit(isolation) -> AsyncIterator[tuple[ServiceSettings, Database, Database]]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings("audit", "k8sops_audit.migrations")
    one, other = Database(engine_from_settings(settings)), Database(engine_from_settings(settings))
    yield settings, one, other
    await one.dispose()
    await other.dispose()


def events(settings: ServiceSettings, count: int) -> list[ReceivedEvent]:
    outbox = Outbox(settings)
    received = []
    for number in range(count):
        data = AuditEventV1(
            actor=ActorV1(sub="oncall@provider.example", roles=["k8s-ops.operator"]),
            action="node.drain",
            target=AuditTargetV1(kind="Node", name=f"node-{number}", cluster="prod-1"),
            engagement_id="eng-1",
            outcome="success",
            source_service="upgrade-runner",
            occurred_at=datetime(2026, 11, 28, 6, 0, tzinfo=UTC),
            details={"number": number},
        )
        value = outbox.envelope(data, event_id=str(uuid.uuid4())).model_dump_json().encode()
        record = ConsumerRecord("audit.event", 0, number, 0, 0, b"eng-1", value, None, 5, len(value), [])
        received.append(PARSER.parse(record))
    return received


async def append(database: Database, batch: list[ReceivedEvent], guard: TailGuard) -> None:
    async with database.unit_of_work() as session:
        guard.appended(await append_events(session, batch, guard))


async def test_two_processes_appending_at_once_make_one_chain_that_verifies(audit) -> None:  # type: ignore[no-untyped-def]
    settings, one, other = audit
    batches = [events(settings, 40) for _ in range(12)]
    guards = [TailGuard(None, 100), TailGuard(None, 100)]

    async def appender(database: Database, guard: TailGuard, mine: list[list[ReceivedEvent]]) -> None:
        for batch in mine:
            await append(database, batch, guard)

    # Each batch prepares its rows before the lock; the other process's batch commits meanwhile.
    await asyncio.gather(appender(one, guards[0], batches[::2]), appender(other, guards[1], batches[1::2]))
    async with one.sessions() as session:
        report = await verify(session)
    assert report.result.ok and report.result.entries_verified == 480, report.result
    rows = await fetch(settings, "SELECT seq, event_id FROM audit_entries ORDER BY seq")
    assert [row["seq"] for row in rows] == list(range(1, 481))
    assert {row["event_id"] for row in rows} == {event.id for batch in batches for event in batch}


async def test_one_process_signs_at_a_time_and_every_guard_follows_the_shared_file(  # type: ignore[no-untyped-def]
    audit, tmp_path: Path
) -> None:
    settings, one, other = audit
    witness = tmp_path / "audit-checkpoints.jsonl"
    # Three processes: two that sign at the same moment, one that only appends.
    signer, other_signer, appender = TailGuard(witness, 10), TailGuard(witness, 10), TailGuard(witness, 10)
    key, outbox = generate_signing_key(), Outbox(settings)
    async with other.sessions() as session:
        await appender.check(session)  # started before anything was signed, as a worker is
    await append(one, events(settings, 12), signer)

    async def sign(database: Database, guard: TailGuard) -> None:
        async with database.unit_of_work() as session:
            await sign_and_witness(session, key, outbox, guard)

    await asyncio.gather(sign(one, signer), sign(other, other_signer))
    assert [json.loads(line)["head_sequence"] for line in witness.read_text().splitlines()] == [12]

    # The tail is cut below the head another process signed: this one still never reuses a number.
    await fetch(settings, "SET session_replication_role = replica; DELETE FROM audit_entries WHERE seq > 5")
    async with other.sessions() as session:
        await appender.check(session)
    assert appender.problem is not None and "6..12 are missing" in appender.problem
    await append(other, events(settings, 2), appender)
    stored = await fetch(settings, "SELECT seq FROM audit_entries ORDER BY seq")
    assert [row["seq"] for row in stored][-2:] == [13, 14]


async def fetch(settings: ServiceSettings, statements: str) -> list[asyncpg.Record]:
    """Runs `statements` in the audit schema as the test's superuser; the last one's rows."""
    url = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(url, server_settings={"search_path": settings.schema_name})
    try:
        *before, last = statements.split("; ")
        for statement in before:
            await connection.execute(statement)
        return list(await connection.fetch(last))
    finally:
        await connection.close()
