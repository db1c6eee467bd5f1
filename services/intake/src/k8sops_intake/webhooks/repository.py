"""Reads and writes of outbound webhook endpoints, deliveries and attempts; callers own the transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import DateTime, Integer, Text, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import webhook_attempts, webhook_deliveries, webhook_endpoints
from ..queries import all_rows, first


class EndpointRecord(TypedDict):
    id: str
    engagement_id: str
    url: str
    event_types: list[str]
    secret: str
    enabled: bool
    consecutive_failures: int
    disabled_reason: str | None
    created_by: str
    created_at: datetime


class DeliveryRecord(TypedDict):
    id: int
    endpoint_id: str
    message_id: str
    event_type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    ordering_key: str | None


class AttemptRecord(TypedDict):
    id: int
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DueDelivery(TypedDict):
    """A claimed delivery with what sending it needs from its endpoint."""

    id: int
    message_id: str
    payload: str
    attempts: int
    endpoint_id: str
    url: str
    secret: str


async def add_endpoint(session: AsyncSession, values: EndpointRecord) -> None:
    await session.execute(webhook_endpoints.insert().values(**values))


async def get_endpoint(
    session: AsyncSession, endpoint_id: str, *, engagement_id: str | None = None, for_update: bool = False
) -> EndpointRecord | None:
    """The endpoint; with `engagement_id`, only if it belongs to that engagement."""
    within = () if engagement_id is None else (webhook_endpoints.c.engagement_id == engagement_id,)
    row = await first(session, webhook_endpoints, webhook_endpoints.c.id == endpoint_id, *within, for_update=for_update)
    return cast(EndpointRecord | None, row)


async def endpoints_of(session: AsyncSession, engagement_id: str) -> list[EndpointRecord]:
    query = (
        select(webhook_endpoints)
        .where(webhook_endpoints.c.engagement_id == engagement_id)
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )
    return cast(list[EndpointRecord], await all_rows(session, query))


async def update_endpoint(session: AsyncSession, endpoint_id: str, values: dict[str, Any]) -> None:
    await session.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id).values(**values))


async def queue_deliveries(
    session: AsyncSession, engagement_id: str, event_type: str, payload: str, now: datetime
) -> None:
    """One pending delivery per enabled endpoint of the engagement subscribed to `event_type`, each
    with a fresh webhook-id (`msg_` and a random UUID's 32 hex digits), in one statement: looking
    the endpoints up first would cost every command a round trip, and most have none."""
    message_id = func.concat("msg_", func.replace(func.gen_random_uuid().cast(Text), "-", ""))
    subscribed = select(
        webhook_endpoints.c.id,
        message_id,
        literal(event_type, Text),
        literal(payload, Text),
        literal("pending", Text),
        literal(0, Integer),
        literal(now, DateTime(timezone=True)),
        literal(now, DateTime(timezone=True)),
    ).where(
        webhook_endpoints.c.engagement_id == engagement_id,
        webhook_endpoints.c.enabled.is_(True),
        webhook_endpoints.c.event_types.contains([event_type]),
    )
    columns = [
        "endpoint_id",
        "message_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ]
    await session.execute(webhook_deliveries.insert().from_select(columns, subscribed))


async def deliveries_of(session: AsyncSession, endpoint_id: str, limit: int) -> list[DeliveryRecord]:
    query = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    return cast(list[DeliveryRecord], await all_rows(session, query))


async def attempts_of(session: AsyncSession, delivery_ids: list[int]) -> list[AttemptRecord]:
    query = (
        select(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(delivery_ids)).order_by(webhook_attempts.c.id)
    )
    return cast(list[AttemptRecord], await all_rows(session, query))


async def claim_due_deliveries(session: AsyncSession, limit: int, lease: timedelta) -> list[DueDelivery]:
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
    return cast(list[DueDelivery], await all_rows(session, query))


async def add_attempt(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(webhook_attempts.insert().values(**values))


async def update_delivery(session: AsyncSession, delivery_id: int, values: dict[str, Any]) -> None:
    await session.execute(webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(**values))
