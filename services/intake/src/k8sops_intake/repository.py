"""Reads and writes of intake's tables; callers own the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import idempotency_keys, requests


async def add_request(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(requests.insert().values(**values))


async def get_request(session: AsyncSession, request_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(requests).where(requests.c.id == request_id))).mappings().first()
    return dict(row) if row else None


async def claim_idempotency_key(
    session: AsyncSession, principal_sub: str, key: str, fingerprint: str, resource_id: str
) -> tuple[str, str]:
    """Stores the key for this resource, or returns what an earlier use of the key stored.

    Concurrent requests with one key serialise on the primary key: the loser waits for the
    winner's commit and then sees its row.
    """
    await session.execute(
        insert(idempotency_keys)
        .values(principal_sub=principal_sub, key=key, fingerprint=fingerprint, resource_id=resource_id)
        .on_conflict_do_nothing()
    )
    row = (
        await session.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.resource_id).where(
                idempotency_keys.c.principal_sub == principal_sub, idempotency_keys.c.key == key
            )
        )
    ).one()
    return row.fingerprint, row.resource_id
