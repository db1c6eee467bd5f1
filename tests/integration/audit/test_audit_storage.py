"""The audit store against the real PostgreSQL: append-only for everyone, tampering detected."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from k8sops_audit import repository
from k8sops_audit.domain.chain import GENESIS, chain_entries
from k8sops_audit.domain.checkpoint import generate_signing_key
from k8sops_audit.domain.entry import Actor, AuditEntry, Outcome, Target
from k8sops_audit.service import sign_head, verify
from k8sops_common.db import Database, create_engine
from k8sops_common.migrations import migrate
from k8sops_platform.embedded import with_database
from k8sops_platform.provision import ensure_database, provision_service


@dataclass
class AuditDatabase:
    schema: str
    owner_url: str
    writer_url: str
    admin_url: str
    writer: Database


def entry(sequence: int, engagement: str = "eng-1") -> AuditEntry:
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC) + timedelta(seconds=sequence)
    return AuditEntry(
        sequence=sequence,
        event_id=str(uuid.uuid4()),
        occurred_at=at,
        recorded_at=at,
        source_service="intake",
        actor=Actor(sub="oncall@provider.example", roles=("k8s-ops.operator",)),
        action="node.drain",
        target=Target(kind="Node", name=f"node-{sequence}", cluster="prod-1"),
        engagement_id=engagement,
        outcome=Outcome.SUCCESS,
        details={"step": sequence},
    )


@pytest.fixture
async def audit_db(postgres_admin_url: str) -> AsyncIterator[AuditDatabase]:
    suffix = uuid.uuid4().hex[:8]
    database, schema = f"audit_{suffix}", f"audit_{suffix}"
    await ensure_database(postgres_admin_url, database)
    urls = await provision_service(postgres_admin_url, database, schema, schema, "pw", append_only=True)
    await asyncio.to_thread(migrate, "k8sops_audit.migrations", urls.migration_url, schema)
    writer = Database(create_engine(urls.runtime_url, schema))
    yield AuditDatabase(
        schema, urls.migration_url, urls.runtime_url, with_database(postgres_admin_url, database), writer
    )
    await writer.dispose()


async def append(db: Database, count: int) -> None:
    async with db.unit_of_work() as session:
        head = await repository.lock_chain_head(session)
        entries = [entry(head.sequence + offset) for offset in range(1, count + 1)]
        await repository.append_entries(session, chain_entries(head, entries))


async def execute_as(url: str, schema: str, statement: str, *, replica: bool = False) -> None:
    connection = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        if replica:
            await connection.execute("SET session_replication_role = replica")
        await connection.execute(statement)
    finally:
        await connection.close()


async def test_the_service_role_can_append_and_read_but_never_change(audit_db: AuditDatabase) -> None:
    await append(audit_db.writer, 5)
    for statement in (
        "UPDATE audit_entries SET action = 'nothing.happened' WHERE seq = 2",
        "DELETE FROM audit_entries WHERE seq = 2",
        "TRUNCATE audit_entries",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await execute_as(audit_db.writer_url, audit_db.schema, statement)
    async with audit_db.writer.sessions() as session:
        report = await verify(session)
    assert report.result.ok and report.result.entries_verified == 5


async def test_details_are_stored_with_every_digit_and_still_verify(audit_db: AuditDatabase) -> None:
    # The canonical form (hashed) prints integers beyond 2^53 as their double; the stored value may not.
    details = {"big": 2**60 + 1, "text": 'ক্লাস্টার "quoted"', "flag": True, "none": None}
    async with audit_db.writer.unit_of_work() as session:
        await repository.append_entries(session, chain_entries(GENESIS, [replace(entry(1), details=details)]))
    async with audit_db.writer.sessions() as session:
        (stored,), _ = await repository.list_entries(session, repository.EntryFilter(None), 0, 10)
        report = await verify(session)
    assert stored["details"] == details and stored["actor_roles"] == ["k8s-ops.operator"]
    assert report.result.ok and report.result.entries_verified == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET action = 'nothing.happened' WHERE seq = 2",
        "DELETE FROM audit_entries WHERE seq = 2",
        "TRUNCATE audit_entries",
        "UPDATE audit_checkpoints SET signature = 'x'",
    ],
)
async def test_the_trigger_refuses_changes_even_for_owner_and_superuser(
    audit_db: AuditDatabase, statement: str
) -> None:
    await append(audit_db.writer, 3)
    async with audit_db.writer.unit_of_work() as session:
        assert await sign_head(session, generate_signing_key()) is not None
    for url in (audit_db.owner_url, audit_db.admin_url):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await execute_as(url, audit_db.schema, statement)


async def test_an_entry_altered_by_a_superuser_is_named_by_verification(audit_db: AuditDatabase) -> None:
    await append(audit_db.writer, 30)
    altered = (await _fetch(audit_db, "SELECT event_id FROM audit_entries WHERE seq = 17"))[0]["event_id"]
    # Only a superuser who switches the triggers off can do this; the chain still tells.
    await execute_as(
        audit_db.admin_url,
        audit_db.schema,
        "UPDATE audit_entries SET outcome = 'denied' WHERE seq = 17",
        replica=True,
    )
    async with audit_db.writer.sessions() as session:
        report = await verify(session)
    mismatch = report.result.first_mismatch
    assert mismatch is not None
    assert (mismatch.sequence, mismatch.event_id, str(mismatch.kind)) == (17, altered, "content")
    assert report.result.entries_verified == 16


async def test_a_rewritten_tail_is_caught_by_a_signed_checkpoint(audit_db: AuditDatabase) -> None:
    await append(audit_db.writer, 10)
    key = generate_signing_key()
    async with audit_db.writer.unit_of_work() as session:
        checkpoint = await sign_head(session, key)
    assert checkpoint is not None and checkpoint.checkpoint.head_sequence == 10
    async with audit_db.writer.unit_of_work() as session:
        assert await sign_head(session, key) is None  # nothing new to sign
    # A superuser drops the last entries: the chain that is left is internally consistent...
    await execute_as(audit_db.admin_url, audit_db.schema, "DELETE FROM audit_entries WHERE seq > 7", replica=True)
    async with audit_db.writer.sessions() as session:
        report = await verify(session)
    # ...but the checkpoint vouched for a head at 10, which no longer exists.
    assert report.checkpoints_checked == 1
    assert report.result.first_mismatch is not None and report.result.first_mismatch.sequence == 10


async def test_range_verification_starts_after_a_given_entry(audit_db: AuditDatabase) -> None:
    await append(audit_db.writer, 20)
    async with audit_db.writer.sessions() as session:
        report = await verify(session, 11, 15)
    assert report.result.ok and report.result.entries_verified == 5 and report.result.head.sequence == 15
    assert report.result.started_after.sequence == 10 and report.result.started_after != GENESIS


async def _fetch(audit_db: AuditDatabase, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(audit_db.writer_url, server_settings={"search_path": audit_db.schema})
    try:
        return list(await connection.fetch(query))
    finally:
        await connection.close()


async def run_verify_cli(audit_db: AuditDatabase, *args: str) -> tuple[int, dict[str, object]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "k8sops_audit",
        "verify",
        *args,
        env={**os.environ, "DATABASE_URL": audit_db.writer_url, "K8SOPS_DB_SCHEMA": audit_db.schema},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert stdout, stderr.decode()
    return int(process.returncode or 0), json.loads(stdout)


async def test_the_verify_command_reports_and_exits_non_zero_on_tampering(audit_db: AuditDatabase) -> None:
    await append(audit_db.writer, 12)
    status, report = await run_verify_cli(audit_db)
    assert status == 0 and report["ok"] is True and report["entries_verified"] == 12
    status, report = await run_verify_cli(audit_db, "--from", "5", "--to", "8")
    assert status == 0 and report["entries_verified"] == 4

    await execute_as(
        audit_db.admin_url,
        audit_db.schema,
        "UPDATE audit_entries SET actor_sub = 'mallory' WHERE seq = 9",
        replica=True,
    )
    status, report = await run_verify_cli(audit_db)
    assert status == 1 and report["ok"] is False
    assert report["first_mismatch"]["sequence"] == 9  # type: ignore[index]
