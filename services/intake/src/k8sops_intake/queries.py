"""Query helpers every intake repository uses; visibility is part of the query, as in Polar.

`visible_to` is the one place that says which rows a caller may read: the rows of the
engagements in the token, or every row for an auditor. A row the caller may not see is simply
not found, so the 404 does not reveal that it exists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.auth import Principal


def visible_to(principal: Principal | None, engagement_column: ColumnElement[Any]) -> ColumnElement[bool]:
    """The condition limiting a query to what `principal` may read; None is the platform itself."""
    if principal is None or principal.can_see_engagement(None):
        return true()
    return engagement_column.in_(sorted(principal.engagements))


async def first(
    session: AsyncSession, table: Table, *where: ColumnElement[bool], for_update: bool = False
) -> dict[str, Any] | None:
    query = select(table).where(*where)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row else None


async def all_rows(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in (await session.execute(query)).mappings()]
