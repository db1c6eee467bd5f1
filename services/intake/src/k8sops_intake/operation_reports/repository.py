"""Reads and writes of attached operation reports; callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..queries import all_rows
from .tables import operation_reports


class OperationReportRecord(TypedDict):
    request_id: str
    operation_id: str
    kind: str
    outcome: str
    from_version: str | None
    to_version: str | None
    markdown: str
    report: dict[str, Any]
    truncated: bool
    report_path: str
    reported_at: datetime
    attached_at: datetime


async def add_report(session: AsyncSession, values: OperationReportRecord) -> bool:
    """False when this operation's report is attached already (a redelivered event)."""
    result = await session.execute(
        insert(operation_reports).values(**values).on_conflict_do_nothing().returning(operation_reports.c.operation_id)
    )
    return result.first() is not None


async def reports_of(session: AsyncSession, request_id: str) -> list[OperationReportRecord]:
    query = (
        select(operation_reports)
        .where(operation_reports.c.request_id == request_id)
        .order_by(operation_reports.c.reported_at, operation_reports.c.operation_id)
    )
    return cast(list[OperationReportRecord], await all_rows(session, query))
