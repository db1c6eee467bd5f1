"""Audit storage: append, read and page; the database refuses any update or delete."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .domain.chain import GENESIS, ChainedEntry, ChainHead, StoredEntry, UnreadableEntry
from .domain.checkpoint import Checkpoint, SignedCheckpoint
from .domain.entry import Actor, AuditEntry, Target
from .domain.rows import ENTRY_COLUMNS, Row, entry_record
from .models import audit_checkpoints, audit_entries, signing_keys

# Serialises appenders across replicas so the chain has exactly one next entry at a time.
APPEND_LOCK_ID = 0x4155444954  # "AUDIT"
# Serialises signers across processes: one checkpoint (and one line of the file) at a time.
SIGN_LOCK_ID = 0x41554449545349  # "AUDITSI"


async def lock_chain_head(session: AsyncSession) -> ChainHead:
    """Takes the append lock for this transaction and returns the current head of the chain."""
    await session.execute(select(func.pg_advisory_xact_lock(APPEND_LOCK_ID)))
    return await read_head(session)


async def lock_signing(session: AsyncSession) -> None:
    """Takes the signing lock for this transaction (waiting for another process's checkpoint)."""
    await session.execute(select(func.pg_advisory_xact_lock(SIGN_LOCK_ID)))


async def read_head(session: AsyncSession) -> ChainHead:
    row = (
        await session.execute(
            select(audit_entries.c.seq, audit_entries.c.link_hash).order_by(audit_entries.c.seq.desc()).limit(1)
        )
    ).first()
    return ChainHead(row.seq, row.link_hash) if row else GENESIS


def stored_entry(row: Any) -> StoredEntry:
    """A stored row as the verifier sees it; a row that no longer forms an entry is named, not fatal."""
    try:
        entry = AuditEntry(
            sequence=row.seq,
            event_id=row.event_id,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            source_service=row.source_service,
            actor=Actor(sub=row.actor_sub, roles=tuple(row.actor_roles)),
            action=row.action,
            target=Target(
                kind=row.target_kind, name=row.target_name, namespace=row.target_namespace, cluster=row.target_cluster
            ),
            engagement_id=row.engagement_id,
            outcome=row.outcome,
            authorization_ref=row.authorization_ref,
            trace_id=row.trace_id,
            details=row.details,
        )
    except (ValueError, TypeError) as error:
        return UnreadableEntry(row.seq, row.event_id, row.content_hash, row.link_hash, str(error))
    return ChainedEntry(entry, row.content_hash, row.link_hash)


async def append_entries(session: AsyncSession, chained: Sequence[ChainedEntry]) -> None:
    await append_rows(session, [entry_record(item) for item in chained])


async def append_rows(session: AsyncSession, rows: Sequence[Row]) -> None:
    """COPY into the table: a batch of thousands of entries is one round trip, not one per row."""
    if not rows:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        audit_entries.name, records=rows, columns=ENTRY_COLUMNS
    )


async def entries_in_range(
    session: AsyncSession, first_seq: int, last_seq: int | None, page_size: int = 5000
) -> AsyncIterator[list[StoredEntry]]:
    """Pages of stored entries in sequence order, for re-walking the chain without holding it all."""
    next_seq = first_seq
    while True:
        query = select(audit_entries).where(audit_entries.c.seq >= next_seq)
        if last_seq is not None:
            query = query.where(audit_entries.c.seq <= last_seq)
        rows = (await session.execute(query.order_by(audit_entries.c.seq).limit(page_size))).all()
        if not rows:
            return
        yield [stored_entry(row) for row in rows]
        next_seq = rows[-1].seq + 1


async def link_hash_at(session: AsyncSession, seq: int) -> str | None:
    result = await session.scalar(select(audit_entries.c.link_hash).where(audit_entries.c.seq == seq))
    return str(result) if result is not None else None


async def link_hashes_at(session: AsyncSession, sequences: Sequence[int]) -> dict[int, str]:
    """The stored link hash of each of `sequences` that exists (in chunks: one bind per value)."""
    wanted = sorted(set(sequences))
    found: dict[int, str] = {}
    for start in range(0, len(wanted), 10_000):
        chunk = wanted[start : start + 10_000]
        rows = await session.execute(
            select(audit_entries.c.seq, audit_entries.c.link_hash).where(audit_entries.c.seq.in_(chunk))
        )
        found.update({row.seq: row.link_hash for row in rows})
    return found


@dataclass(frozen=True)
class EntryFilter:
    engagement_ids: frozenset[str] | None  # None: every engagement and provider-level entries
    engagement_id: str | None = None
    actor: str | None = None
    action: str | None = None
    target_kind: str | None = None
    target_name: str | None = None
    trace_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        table = audit_entries
        if self.engagement_ids is not None:
            query = query.where(table.c.engagement_id.in_(sorted(self.engagement_ids)))
        conditions = [
            (self.engagement_id, table.c.engagement_id),
            (self.actor, table.c.actor_sub),
            (self.action, table.c.action),
            (self.target_kind, table.c.target_kind),
            (self.target_name, table.c.target_name),
            (self.trace_id, table.c.trace_id),
        ]
        for value, column in conditions:
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(table.c.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(table.c.occurred_at < self.until)
        return query


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": seq}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Raises ValueError for anything that is not a cursor this service issued."""
    padded = cursor + "=" * (-len(cursor) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    after = value["after"] if isinstance(value, dict) else None
    if not isinstance(after, int) or after < 0:
        raise ValueError("not a cursor")
    return after


async def list_entries(
    session: AsyncSession, entry_filter: EntryFilter, after_seq: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """A page in sequence order and the sequence to continue after (None on the last page)."""
    query = entry_filter.apply(select(audit_entries)).where(audit_entries.c.seq > after_seq)
    rows = (await session.execute(query.order_by(audit_entries.c.seq).limit(limit + 1))).mappings().all()
    page = [dict(row) for row in rows[:limit]]
    return page, (page[-1]["seq"] if len(rows) > limit else None)


async def add_checkpoint(session: AsyncSession, signed: SignedCheckpoint) -> None:
    checkpoint = signed.checkpoint
    await session.execute(
        insert(audit_checkpoints)
        .values(
            head_sequence=checkpoint.head_sequence,
            head_link_hash=checkpoint.head_link_hash,
            entry_count=checkpoint.entry_count,
            created_at=checkpoint.created_at,
            key_id=signed.key_id,
            signature=signed.signature,
        )
        .on_conflict_do_nothing()
    )


async def latest_checkpoint_sequence(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(audit_checkpoints.c.head_sequence), 0))) or 0)


async def checkpoints_between(session: AsyncSession, after_seq: int, up_to_seq: int | None) -> list[SignedCheckpoint]:
    query = select(audit_checkpoints).where(audit_checkpoints.c.head_sequence > after_seq)
    if up_to_seq is not None:
        query = query.where(audit_checkpoints.c.head_sequence <= up_to_seq)
    rows = (await session.execute(query.order_by(audit_checkpoints.c.head_sequence))).all()
    return [
        SignedCheckpoint(
            Checkpoint(
                head_sequence=row.head_sequence,
                head_link_hash=row.head_link_hash,
                entry_count=row.entry_count,
                created_at=row.created_at,
            ),
            row.key_id,
            row.signature,
        )
        for row in rows
    ]


async def register_signing_key(session: AsyncSession, key_id: str, public_key_pem: str, now: datetime) -> None:
    await session.execute(
        insert(signing_keys)
        .values(key_id=key_id, public_key_pem=public_key_pem, first_used_at=now)
        .on_conflict_do_nothing()
    )


async def public_keys(session: AsyncSession) -> dict[str, str]:
    rows = (await session.execute(select(signing_keys).order_by(signing_keys.c.first_used_at))).all()
    return {row.key_id: row.public_key_pem for row in rows}
