"""Audit runs as its insert-only writer role (`k8sops run`, compose, deploy), and that role still
signs checkpoints, publishes them and keeps its outbox and inbox: append-only covers the audit log,
not the bus tables. Before, every checkpoint failed with "permission denied for sequence
outbox_id_seq", so the embedded platform never signed its chain head and the tail guard had no
witness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from k8sops_audit.domain.checkpoint import generate_signing_key
from k8sops_audit.models import inbox, outbox
from k8sops_audit.service import sign_and_witness
from k8sops_audit.witness import TailGuard
from k8sops_common.bus import Outbox, OutboxRelay
from k8sops_common.settings import ServiceSettings

from ..common.test_bus_durability import read_topic
from .test_audit_storage import AuditDatabase, append, audit_db, execute_as  # noqa: F401 - audit_db: the fixture


async def test_the_writer_signs_publishes_and_prunes_but_still_never_changes_the_log(
    audit_db: AuditDatabase,  # noqa: F811
    isolation: Any,
    tmp_path: Path,
) -> None:
    settings = ServiceSettings(
        service_name="audit",
        database_url=audit_db.writer_url,
        db_schema=audit_db.schema,
        kafka_bootstrap_servers=isolation.bootstrap,
        topic_prefix=isolation.topic_prefix,
        outbox_retention_s=0.001,
        inbox_retention_s=0.001,
    )
    await append(audit_db.writer, 3)
    guard = TailGuard(tmp_path / "witness.jsonl", 1000)
    async with audit_db.writer.unit_of_work() as session:
        await guard.start(session)
        signed = await sign_and_witness(session, generate_signing_key(), Outbox(settings), guard)
        await session.execute(inbox.insert().values(event_id="handled-1", topic=settings.topic("audit.event")))
    assert signed is not None and signed.checkpoint.head_sequence == 3

    relay = OutboxRelay(settings, audit_db.writer)
    try:
        assert await relay.publish_batch() == 1  # marks the row sent
        [published] = await read_topic(isolation.bootstrap, settings.topic("audit.checkpoint"), 1)
        await relay.prune()  # sent outbox rows and inbox entries past their (1 ms) retention go
    finally:
        await relay.stop()
    async with audit_db.writer.sessions() as session:
        outbox_rows = (await session.execute(outbox.select())).all()
        inbox_rows = (await session.execute(inbox.select())).all()
    assert published and outbox_rows == [] and inbox_rows == []

    for statement in ("UPDATE audit_checkpoints SET head_sequence = 2", "DELETE FROM audit_checkpoints"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await execute_as(audit_db.writer_url, audit_db.schema, statement)
