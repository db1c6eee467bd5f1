"""Reads and writes of disputes and their entries; callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.auth import Principal

from ..models import dispute_entries, disputes
from ..queries import all_rows, first, visible_to


class DisputeRecord(TypedDict):
    id: str
    engagement_id: str
    subject_kind: str
    subject_id: str
    summary: str
    status: str
    opened_by: str
    opened_at: datetime
    decided_at: datetime | None


class DisputeEntryRecord(TypedDict):
    dispute_id: str
    kind: str
    text: str
    author: str
    recorded_at: datetime


async def add_dispute(session: AsyncSession, values: DisputeRecord) -> None:
    await session.execute(disputes.insert().values(**values))


async def get_dispute(
    session: AsyncSession, dispute_id: str, *, readable_by: Principal | None = None, for_update: bool = False
) -> DisputeRecord | None:
    row = await first(
        session,
        disputes,
        disputes.c.id == dispute_id,
        visible_to(readable_by, disputes.c.engagement_id),
        for_update=for_update,
    )
    return cast(DisputeRecord | None, row)


async def set_dispute_decided(session: AsyncSession, dispute_id: str, decided_at: datetime) -> None:
    await session.execute(
        disputes.update().where(disputes.c.id == dispute_id).values(status="decided", decided_at=decided_at)
    )


async def add_dispute_entry(session: AsyncSession, values: DisputeEntryRecord) -> None:
    await session.execute(dispute_entries.insert().values(**values))


async def dispute_history(session: AsyncSession, dispute_id: str) -> list[DisputeEntryRecord]:
    query = select(dispute_entries).where(dispute_entries.c.dispute_id == dispute_id).order_by(dispute_entries.c.id)
    return cast(list[DisputeEntryRecord], await all_rows(session, query))


async def disputes_on_subject(
    session: AsyncSession, engagement_id: str, subject_kind: str, subject_id: str
) -> list[DisputeRecord]:
    query = (
        select(disputes)
        .where(
            disputes.c.engagement_id == engagement_id,
            disputes.c.subject_kind == subject_kind,
            disputes.c.subject_id == subject_id,
        )
        .order_by(disputes.c.opened_at, disputes.c.id)
    )
    return cast(list[DisputeRecord], await all_rows(session, query))
