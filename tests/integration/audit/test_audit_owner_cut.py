"""The schema owner can switch the append-only trigger off (PostgreSQL lets an owner do that); what it
then cuts is still caught by checkpoints kept outside the database."""

from __future__ import annotations

from k8sops_audit.domain.checkpoint import generate_signing_key, public_key_to_pem
from k8sops_audit.service import sign_head, verify
from k8sops_audit.witness import WitnessedCheckpoint

from .test_audit_storage import AuditDatabase, append, audit_db, execute_as  # noqa: F401 - audit_db: the fixture


async def test_the_owner_disables_the_trigger_and_cuts_the_tail_which_a_witness_still_catches(
    audit_db: AuditDatabase,  # noqa: F811
) -> None:
    await append(audit_db.writer, 8)
    key = generate_signing_key()
    async with audit_db.writer.unit_of_work() as session:
        signed = await sign_head(session, key)
    assert signed is not None
    witness = [WitnessedCheckpoint(signed, public_key_to_pem(key.public_key()).decode())]

    for statement in (
        "ALTER TABLE audit_entries DISABLE TRIGGER ALL",
        "ALTER TABLE audit_checkpoints DISABLE TRIGGER ALL",
        "DELETE FROM audit_entries WHERE seq > 5",
        "DELETE FROM audit_checkpoints",
        "ALTER TABLE audit_entries ENABLE TRIGGER ALL",
        "ALTER TABLE audit_checkpoints ENABLE TRIGGER ALL",
    ):
        await execute_as(audit_db.owner_url, audit_db.schema, statement)

    async with audit_db.writer.sessions() as session:
        alone = await verify(session)
        held = await verify(session, witnessed=witness)
    assert alone.result.ok, "the database alone holds a consistent, shorter chain"
    mismatch = held.result.first_mismatch
    assert mismatch is not None and mismatch.sequence == 8 and "chain ends at 5" in mismatch.found
