"""Reads and writes of requests, their comments and scope creep records; callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, cast

from sqlalchemy import ColumnElement, and_, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.auth import Principal
from k8sops_common.events.catalog import Priority, RequestStatus

from ..models import clusters, engagements, request_comments, requests, scope_creep_records
from ..queries import all_rows, first, visible_to


class RequestRecord(TypedDict):
    id: str
    engagement_id: str
    cluster_id: str | None
    category: str
    priority: Priority
    status: RequestStatus
    title: str
    description: str
    opened_by: str
    opened_at: datetime
    updated_at: datetime
    origin: str
    partner_id: str | None
    partner_ticket_id: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    decline_reason: str | None
    decline_pointer: str | None
    sla_breached_at: datetime | None
    upgrade_step: str | None
    upgrade_status: str | None


class CommentRecord(TypedDict):
    id: str
    request_id: str
    author: str
    side: str
    body: str
    created_at: datetime


class ScopeCreepRow(TypedDict):
    id: int
    engagement_id: str
    request_id: str
    kind: str
    reason: str
    pointer: str
    declined_by: str
    recorded_at: datetime


async def add_request(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Inserts the request if its engagement exists and its cluster, if it names one, is of that
    engagement; False, with nothing written, if not. The check rides on the INSERT, so opening a
    request costs no round trip of its own for it."""
    engagement_id, cluster_id = values["engagement_id"], values.get("cluster_id")
    known = [select(engagements.c.id).where(engagements.c.id == engagement_id).exists()]
    if cluster_id is not None:
        of_engagement = (clusters.c.id == cluster_id, clusters.c.engagement_id == engagement_id)
        known.append(select(clusters.c.id).where(*of_engagement).exists())
    row = select(*(literal(value, requests.c[name].type) for name, value in values.items())).where(*known)
    result = await session.execute(requests.insert().from_select(list(values), row).returning(requests.c.id))
    return result.first() is not None


async def get_request(
    session: AsyncSession, request_id: str, *, readable_by: Principal | None = None, for_update: bool = False
) -> RequestRecord | None:
    row = await first(
        session,
        requests,
        requests.c.id == request_id,
        visible_to(readable_by, requests.c.engagement_id),
        for_update=for_update,
    )
    return cast(RequestRecord | None, row)


async def update_request(session: AsyncSession, request_id: str, values: dict[str, Any]) -> RequestRecord:
    result = await session.execute(
        requests.update().where(requests.c.id == request_id).values(**values, updated_at=func.now()).returning(requests)
    )
    return cast(RequestRecord, dict(result.mappings().one()))


@dataclass(frozen=True)
class RequestFilter:
    readable_by: Principal
    engagement_id: str | None = None
    cluster_id: str | None = None
    category: str | None = None
    status: str | None = None
    priority: str | None = None
    opened_from: datetime | None = None
    opened_before: datetime | None = None


async def list_requests(
    session: AsyncSession, where: RequestFilter, after: tuple[datetime, str] | None, limit: int
) -> list[RequestRecord]:
    """Newest first; `after` is the (opened_at, id) of the last item of the previous page."""
    conditions: list[ColumnElement[bool]] = [visible_to(where.readable_by, requests.c.engagement_id)]
    for column, value in (
        (requests.c.engagement_id, where.engagement_id),
        (requests.c.cluster_id, where.cluster_id),
        (requests.c.category, where.category),
        (requests.c.status, where.status),
        (requests.c.priority, where.priority),
    ):
        if value is not None:
            conditions.append(column == value)
    if where.opened_from is not None:
        conditions.append(requests.c.opened_at >= where.opened_from)
    if where.opened_before is not None:
        conditions.append(requests.c.opened_at < where.opened_before)
    if after is not None:
        conditions.append(tuple_(requests.c.opened_at, requests.c.id) < tuple_(literal(after[0]), literal(after[1])))
    query = (
        select(requests)
        .where(and_(*conditions))
        .order_by(requests.c.opened_at.desc(), requests.c.id.desc())
        .limit(limit)
    )
    return cast(list[RequestRecord], await all_rows(session, query))


async def add_comment(session: AsyncSession, values: CommentRecord) -> None:
    await session.execute(request_comments.insert().values(**values))


async def get_comment(session: AsyncSession, comment_id: str) -> CommentRecord | None:
    return cast(CommentRecord | None, await first(session, request_comments, request_comments.c.id == comment_id))


async def comments_of(session: AsyncSession, request_id: str) -> list[CommentRecord]:
    query = (
        select(request_comments)
        .where(request_comments.c.request_id == request_id)
        .order_by(request_comments.c.created_at, request_comments.c.id)
    )
    return cast(list[CommentRecord], await all_rows(session, query))


async def add_scope_creep(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(scope_creep_records.insert().values(**values))


async def scope_creep_of(session: AsyncSession, engagement_id: str) -> list[ScopeCreepRow]:
    query = (
        select(scope_creep_records)
        .where(scope_creep_records.c.engagement_id == engagement_id)
        .order_by(scope_creep_records.c.recorded_at.desc(), scope_creep_records.c.id.desc())
    )
    return cast(list[ScopeCreepRow], await all_rows(session, query))
