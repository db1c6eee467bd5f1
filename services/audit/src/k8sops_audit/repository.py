"""Audit storage: append and read; there is no update or delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import audit_entries

# Serialises appenders across replicas so sequence numbers (and later the chain) have no gaps.
APPEND_LOCK_ID = 0x4155444954  # "AUDIT"


async def lock_for_append(session: AsyncSession) -> int:
    """Takes the append lock for this transaction and returns the next sequence number."""
    await session.execute(select(func.pg_advisory_xact_lock(APPEND_LOCK_ID)))
    current = await session.scalar(select(func.coalesce(func.max(audit_entries.c.seq), 0)))
    return int(current or 0) + 1


async def append_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(audit_entries.insert(), rows)


async def entries_for_trace(session: AsyncSession, trace_id: str) -> list[dict[str, Any]]:
    result = await session.execute(
        select(audit_entries).where(audit_entries.c.trace_id == trace_id).order_by(audit_entries.c.seq)
    )
    return [dict(row) for row in result.mappings()]
