"""Reads and writes of intake's tables; callers own the transaction."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    clusters,
    dispute_entries,
    disputes,
    engagements,
    idempotency_keys,
    partner_messages,
    partner_tickets,
    partners,
    request_comments,
    requests,
    scope_creep_records,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

Row = dict[str, Any]


async def _first(
    session: AsyncSession, table: Table, *where: ColumnElement[bool], for_update: bool = False
) -> Row | None:
    query = select(table).where(*where)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row else None


async def _all(session: AsyncSession, query: Any) -> list[Row]:
    return [dict(row) for row in (await session.execute(query)).mappings()]


async def claim_idempotency_key(
    session: AsyncSession, principal_sub: str, operation: str, key: str, fingerprint: str, resource_id: str
) -> tuple[str, str] | None:
    """Stores the key for this resource (None), or returns the (fingerprint, resource id) an earlier use stored.

    Concurrent requests with one key serialise on the primary key: the loser waits for the
    winner's commit and then sees its row.
    """
    claimed = await session.execute(
        insert(idempotency_keys)
        .values(
            principal_sub=principal_sub, operation=operation, key=key, fingerprint=fingerprint, resource_id=resource_id
        )
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    )
    if claimed.first() is not None:
        return None
    row = (
        await session.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.resource_id).where(
                idempotency_keys.c.principal_sub == principal_sub,
                idempotency_keys.c.operation == operation,
                idempotency_keys.c.key == key,
            )
        )
    ).one()
    return row.fingerprint, row.resource_id


# --- engagements and clusters -------------------------------------------------------------------


async def get_engagement(session: AsyncSession, engagement_id: str, *, for_update: bool = False) -> Row | None:
    return await _first(session, engagements, engagements.c.id == engagement_id, for_update=for_update)


async def add_engagement(session: AsyncSession, values: Row) -> bool:
    """False when the id is taken."""
    result = await session.execute(
        insert(engagements).values(**values).on_conflict_do_nothing().returning(engagements.c.id)
    )
    return result.first() is not None


async def update_engagement(session: AsyncSession, engagement_id: str, values: Row) -> None:
    await session.execute(engagements.update().where(engagements.c.id == engagement_id).values(**values))


async def list_engagements(session: AsyncSession, visible: Collection[str] | None) -> list[Row]:
    query = select(engagements).order_by(engagements.c.id)
    if visible is not None:
        query = query.where(engagements.c.id.in_(list(visible)))
    return await _all(session, query)


async def clusters_of(session: AsyncSession, engagement_ids: Collection[str]) -> list[Row]:
    query = select(clusters).where(clusters.c.engagement_id.in_(list(engagement_ids))).order_by(clusters.c.id)
    return await _all(session, query)


async def get_cluster(session: AsyncSession, cluster_id: str) -> Row | None:
    return await _first(session, clusters, clusters.c.id == cluster_id)


async def add_cluster(session: AsyncSession, values: Row) -> bool:
    result = await session.execute(insert(clusters).values(**values).on_conflict_do_nothing().returning(clusters.c.id))
    return result.first() is not None


async def update_cluster(session: AsyncSession, cluster_id: str, values: Row) -> None:
    await session.execute(clusters.update().where(clusters.c.id == cluster_id).values(**values))


async def delete_cluster(session: AsyncSession, cluster_id: str) -> None:
    await session.execute(clusters.delete().where(clusters.c.id == cluster_id))


async def clusters_paired_with(session: AsyncSession, cluster_id: str) -> list[str]:
    rows = await session.execute(select(clusters.c.id).where(clusters.c.paired_cluster_id == cluster_id))
    return list(rows.scalars())


# --- requests ------------------------------------------------------------------------------------


async def add_request(session: AsyncSession, values: Row) -> None:
    await session.execute(requests.insert().values(**values))


async def get_request(session: AsyncSession, request_id: str, *, for_update: bool = False) -> Row | None:
    return await _first(session, requests, requests.c.id == request_id, for_update=for_update)


async def update_request(session: AsyncSession, request_id: str, values: Row) -> Row:
    result = await session.execute(
        requests.update().where(requests.c.id == request_id).values(**values, updated_at=func.now()).returning(requests)
    )
    return dict(result.mappings().one())


@dataclass(frozen=True)
class RequestFilter:
    engagement_ids: Collection[str] | None  # None: every engagement (auditors)
    cluster_id: str | None = None
    category: str | None = None
    status: str | None = None
    priority: str | None = None
    opened_from: datetime | None = None
    opened_before: datetime | None = None


async def list_requests(
    session: AsyncSession, where: RequestFilter, after: tuple[datetime, str] | None, limit: int
) -> list[Row]:
    """Newest first; `after` is the (opened_at, id) of the last item of the previous page."""
    conditions: list[ColumnElement[bool]] = []
    if where.engagement_ids is not None:
        conditions.append(requests.c.engagement_id.in_(list(where.engagement_ids)))
    for column, value in (
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
    return await _all(session, query)


async def add_comment(session: AsyncSession, values: Row) -> None:
    await session.execute(request_comments.insert().values(**values))


async def get_comment(session: AsyncSession, comment_id: str) -> Row | None:
    return await _first(session, request_comments, request_comments.c.id == comment_id)


async def comments_of(session: AsyncSession, request_id: str) -> list[Row]:
    query = (
        select(request_comments)
        .where(request_comments.c.request_id == request_id)
        .order_by(request_comments.c.created_at, request_comments.c.id)
    )
    return await _all(session, query)


# --- scope ---------------------------------------------------------------------------------------


async def add_scope_creep(session: AsyncSession, values: Row) -> None:
    await session.execute(scope_creep_records.insert().values(**values))


async def scope_creep_of(session: AsyncSession, engagement_id: str) -> list[Row]:
    query = (
        select(scope_creep_records)
        .where(scope_creep_records.c.engagement_id == engagement_id)
        .order_by(scope_creep_records.c.recorded_at.desc(), scope_creep_records.c.id.desc())
    )
    return await _all(session, query)


# --- disputes ------------------------------------------------------------------------------------


async def add_dispute(session: AsyncSession, values: Row) -> None:
    await session.execute(disputes.insert().values(**values))


async def get_dispute(session: AsyncSession, dispute_id: str, *, for_update: bool = False) -> Row | None:
    return await _first(session, disputes, disputes.c.id == dispute_id, for_update=for_update)


async def set_dispute_decided(session: AsyncSession, dispute_id: str, decided_at: datetime) -> None:
    await session.execute(
        disputes.update().where(disputes.c.id == dispute_id).values(status="decided", decided_at=decided_at)
    )


async def add_dispute_entry(session: AsyncSession, values: Row) -> None:
    await session.execute(dispute_entries.insert().values(**values))


async def dispute_history(session: AsyncSession, dispute_id: str) -> list[Row]:
    query = select(dispute_entries).where(dispute_entries.c.dispute_id == dispute_id).order_by(dispute_entries.c.id)
    return await _all(session, query)


async def disputes_on_subject(
    session: AsyncSession, engagement_id: str, subject_kind: str, subject_id: str
) -> list[Row]:
    query = (
        select(disputes)
        .where(
            disputes.c.engagement_id == engagement_id,
            disputes.c.subject_kind == subject_kind,
            disputes.c.subject_id == subject_id,
        )
        .order_by(disputes.c.opened_at, disputes.c.id)
    )
    return await _all(session, query)


# --- partners ------------------------------------------------------------------------------------


async def add_partner(session: AsyncSession, values: Row) -> bool:
    result = await session.execute(insert(partners).values(**values).on_conflict_do_nothing().returning(partners.c.id))
    return result.first() is not None


async def get_partner(session: AsyncSession, partner_id: str) -> Row | None:
    return await _first(session, partners, partners.c.id == partner_id)


async def partners_of(session: AsyncSession, engagement_id: str) -> list[Row]:
    return await _all(
        session, select(partners).where(partners.c.engagement_id == engagement_id).order_by(partners.c.id)
    )


async def claim_partner_message(session: AsyncSession, partner_id: str, message_id: str) -> bool:
    """False when this partner already sent this webhook-id: a replay."""
    result = await session.execute(
        insert(partner_messages)
        .values(partner_id=partner_id, message_id=message_id)
        .on_conflict_do_nothing()
        .returning(partner_messages.c.message_id)
    )
    return result.first() is not None


async def claim_partner_ticket(session: AsyncSession, partner_id: str, ticket_id: str, request_id: str) -> str:
    """The request this ticket maps to: `request_id` if the ticket is new, the earlier one otherwise.

    Two deliveries of one new ticket serialise on the primary key, so only one request is created.
    """
    await session.execute(
        insert(partner_tickets)
        .values(partner_id=partner_id, ticket_id=ticket_id, request_id=request_id)
        .on_conflict_do_nothing()
    )
    mapped = await session.scalar(
        select(partner_tickets.c.request_id).where(
            partner_tickets.c.partner_id == partner_id, partner_tickets.c.ticket_id == ticket_id
        )
    )
    assert mapped is not None
    return str(mapped)


# --- outbound webhooks ---------------------------------------------------------------------------


async def add_endpoint(session: AsyncSession, values: Row) -> None:
    await session.execute(webhook_endpoints.insert().values(**values))


async def get_endpoint(session: AsyncSession, endpoint_id: str, *, for_update: bool = False) -> Row | None:
    return await _first(session, webhook_endpoints, webhook_endpoints.c.id == endpoint_id, for_update=for_update)


async def endpoints_of(session: AsyncSession, engagement_id: str) -> list[Row]:
    query = (
        select(webhook_endpoints)
        .where(webhook_endpoints.c.engagement_id == engagement_id)
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )
    return await _all(session, query)


async def update_endpoint(session: AsyncSession, endpoint_id: str, values: Row) -> None:
    await session.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id).values(**values))


async def subscribed_endpoint_ids(session: AsyncSession, engagement_id: str, event_type: str) -> list[str]:
    query = select(webhook_endpoints.c.id).where(
        webhook_endpoints.c.engagement_id == engagement_id,
        webhook_endpoints.c.enabled.is_(True),
        webhook_endpoints.c.event_types.contains([event_type]),
    )
    return list((await session.execute(query)).scalars())


async def add_deliveries(session: AsyncSession, rows: list[Row]) -> None:
    if rows:
        await session.execute(webhook_deliveries.insert().values(rows))


async def deliveries_of(session: AsyncSession, endpoint_id: str, limit: int) -> list[Row]:
    query = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    return await _all(session, query)


async def attempts_of(session: AsyncSession, delivery_ids: list[int]) -> list[Row]:
    query = (
        select(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(delivery_ids)).order_by(webhook_attempts.c.id)
    )
    return await _all(session, query)


async def claim_due_deliveries(session: AsyncSession, limit: int, lease: timedelta) -> list[Row]:
    """Due deliveries of enabled endpoints, leased so no other replica sends them meanwhile; one
    waits while an earlier delivery with its ordering key is still pending.

    The lease is committed before the HTTP call, so no transaction stays open across the network;
    a replica that dies mid-send leaves the lease to expire and the delivery is tried again.
    """
    earlier = webhook_deliveries.alias("earlier")
    waits_for_earlier = (
        select(earlier.c.id)
        .where(
            earlier.c.ordering_key == webhook_deliveries.c.ordering_key,
            earlier.c.id < webhook_deliveries.c.id,
            earlier.c.status == "pending",
        )
        .exists()
    )
    due = (
        select(webhook_deliveries.c.id)
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .where(
            webhook_deliveries.c.status == "pending",
            webhook_deliveries.c.next_attempt_at <= func.now(),
            webhook_endpoints.c.enabled.is_(True),
            ~waits_for_earlier,
        )
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        .limit(limit)
        .with_for_update(of=webhook_deliveries, skip_locked=True)
    )
    ids = list((await session.execute(due)).scalars())
    if not ids:
        return []
    await session.execute(
        webhook_deliveries.update().where(webhook_deliveries.c.id.in_(ids)).values(next_attempt_at=func.now() + lease)
    )
    query = (
        select(
            webhook_deliveries.c.id,
            webhook_deliveries.c.message_id,
            webhook_deliveries.c.payload,
            webhook_deliveries.c.attempts,
            webhook_deliveries.c.endpoint_id,
            webhook_endpoints.c.url,
            webhook_endpoints.c.secret,
        )
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .where(webhook_deliveries.c.id.in_(ids))
    )
    return await _all(session, query)


async def add_attempt(session: AsyncSession, values: Row) -> None:
    await session.execute(webhook_attempts.insert().values(**values))


async def update_delivery(session: AsyncSession, delivery_id: int, values: Row) -> None:
    await session.execute(webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(**values))
