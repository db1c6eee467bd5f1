"""Reads and writes of sla-timer's tables; callers own the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    breaches,
    clusters,
    credit_rules,
    credits,
    engagements,
    escalations,
    parked_updates,
    response_targets,
    timers,
)

# The calendar and on-call columns the scheduler needs beside each claimed timer.
ENGAGEMENT_COLUMNS = (
    engagements.c.timezone,
    engagements.c.working_days,
    engagements.c.holiday_country,
    engagements.c.extra_holidays,
    engagements.c.on_call,
)


# Policies


async def response_target_rows(session: AsyncSession) -> Sequence[RowMapping]:
    query = select(response_targets).order_by(response_targets.c.tier, response_targets.c.priority)
    return (await session.execute(query)).mappings().all()


async def credit_rule_rows(session: AsyncSession) -> Sequence[RowMapping]:
    return (await session.execute(select(credit_rules).order_by(credit_rules.c.tier))).mappings().all()


async def response_target_rows_of_tier(session: AsyncSession, tier: str) -> Sequence[RowMapping]:
    query = select(response_targets).where(response_targets.c.tier == tier)
    return (await session.execute(query)).mappings().all()


async def update_response_target(
    session: AsyncSession, tier: str, priority: str, budget_minutes: int, clock: str, updated_by: str
) -> RowMapping | None:
    """Stores the new target and returns the row as it was before, or None if there is no such target."""
    before = (
        (
            await session.execute(
                select(response_targets)
                .where(response_targets.c.tier == tier, response_targets.c.priority == priority)
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if before is not None:
        await session.execute(
            update(response_targets)
            .where(response_targets.c.tier == tier, response_targets.c.priority == priority)
            .values(budget_minutes=budget_minutes, clock=clock, updated_by=updated_by, updated_at=func.now())
        )
    return before


async def update_credit_rule(
    session: AsyncSession, tier: str, percent: Decimal, cap_percent: Decimal, updated_by: str
) -> RowMapping | None:
    before = (
        (await session.execute(select(credit_rules).where(credit_rules.c.tier == tier).with_for_update()))
        .mappings()
        .first()
    )
    if before is not None:
        await session.execute(
            update(credit_rules)
            .where(credit_rules.c.tier == tier)
            .values(
                percent_of_retainer=percent,
                monthly_cap_percent_of_retainer=cap_percent,
                updated_by=updated_by,
                updated_at=func.now(),
            )
        )
    return before


# Engagements


async def upsert_engagement(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Stores the engagement unless the stored copy is newer; True if this version was applied."""
    statement = insert(engagements).values(**values)
    upsert = statement.on_conflict_do_update(
        index_elements=[engagements.c.engagement_id],
        set_={name: statement.excluded[name] for name in values if name != "engagement_id"},
        where=engagements.c.changed_at <= statement.excluded.changed_at,
    ).returning(engagements.c.engagement_id)
    return (await session.execute(upsert)).first() is not None


async def replace_clusters(session: AsyncSession, engagement_id: str, rows: list[dict[str, Any]]) -> None:
    await session.execute(delete(clusters).where(clusters.c.engagement_id == engagement_id))
    if rows:
        await session.execute(insert(clusters).values(rows).on_conflict_do_nothing())


async def get_engagement(session: AsyncSession, engagement_id: str) -> RowMapping | None:
    query = select(engagements).where(engagements.c.engagement_id == engagement_id)
    return (await session.execute(query)).mappings().first()


async def get_engagements(session: AsyncSession, engagement_ids: Collection[str]) -> dict[str, RowMapping]:
    query = select(engagements).where(engagements.c.engagement_id.in_(engagement_ids))
    return {row["engagement_id"]: row for row in (await session.execute(query)).mappings()}


async def get_clusters(session: AsyncSession, cluster_ids: Collection[str]) -> dict[str, RowMapping]:
    query = select(clusters).where(clusters.c.cluster_id.in_(cluster_ids))
    return {row["cluster_id"]: row for row in (await session.execute(query)).mappings()}


async def lock_engagements_for_arming(session: AsyncSession, engagement_ids: Collection[str]) -> None:
    """Serialises arming per engagement across replicas until the transaction ends.

    Opening timers and applying their engagement each read what the other writes: taken after
    inserting the timers and before reading the engagement (or the unarmed timers), whichever
    commits second sees the other's rows. Keys are taken in sorted order so that two batches
    holding several engagements cannot deadlock; the schema keeps services and tests apart, and
    the "sla-arm:" prefix keeps the keys apart from the breach lock's.
    """
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended('sla-arm:' || current_schema() || ':' || id, 0))"
            " FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS locks(id, position) ORDER BY position"
        ),
        {"ids": sorted(set(engagement_ids))},
    )


# Timers


async def insert_timers(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Inserts the timers and returns the request ids that had none yet (request.opened re-sent)."""
    statement = insert(timers).values(rows).on_conflict_do_nothing().returning(timers.c.request_id)
    return set((await session.execute(statement)).scalars())


async def get_timer(session: AsyncSession, request_id: str, *, for_update: bool = False) -> RowMapping | None:
    query = select(timers).where(timers.c.request_id == request_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def update_timer(session: AsyncSession, request_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(timers).where(timers.c.request_id == request_id).values(**values))


async def update_timers(session: AsyncSession, changes: list[dict[str, Any]]) -> None:
    """One executemany for many timers; every change has `request_id` and the same other keys."""
    if not changes:
        return
    columns = [name for name in changes[0] if name != "request_id"]
    statement = (
        update(timers)
        .where(timers.c.request_id == bindparam("timer_request_id"))
        .values({name: bindparam(f"new_{name}") for name in columns})
    )
    connection = await session.connection()
    await connection.execute(
        statement,
        [
            {"timer_request_id": change["request_id"], **{f"new_{name}": change[name] for name in columns}}
            for change in changes
        ],
    )


async def unarmed_timers(session: AsyncSession, engagement_id: str) -> Sequence[RowMapping]:
    query = (
        select(timers)
        .where(timers.c.engagement_id == engagement_id, timers.c.due_at.is_(None))
        .order_by(timers.c.opened_at)
        .with_for_update()
    )
    return (await session.execute(query)).mappings().all()


async def running_timers_on_clock(session: AsyncSession, engagement_id: str, clock: str) -> Sequence[RowMapping]:
    query = (
        select(timers)
        .where(
            timers.c.engagement_id == engagement_id,
            timers.c.clock == clock,
            timers.c.acknowledged_at.is_(None),
            timers.c.breached_at.is_(None),
        )
        .with_for_update()
    )
    return (await session.execute(query)).mappings().all()


async def claim_due_timers(session: AsyncSession, now: datetime, limit: int) -> Sequence[RowMapping]:
    """Locks up to `limit` timers with an alert due at `now`; rows another replica holds are skipped."""
    query = (
        select(timers, *ENGAGEMENT_COLUMNS)
        .join(engagements, engagements.c.engagement_id == timers.c.engagement_id)
        .where(timers.c.next_alert_at.is_not(None), timers.c.next_alert_at <= now)
        .order_by(timers.c.next_alert_at)
        .limit(limit)
        .with_for_update(of=timers, skip_locked=True)
    )
    return (await session.execute(query)).mappings().all()


async def park_update(
    session: AsyncSession, event_id: str, request_id: str, changed_at: datetime, payload: Any
) -> None:
    await session.execute(
        insert(parked_updates)
        .values(event_id=event_id, request_id=request_id, changed_at=changed_at, payload=payload)
        .on_conflict_do_nothing()
    )


async def take_parked_updates(session: AsyncSession, request_ids: Collection[str]) -> list[RowMapping]:
    """Removes and returns the requests' parked updates, oldest first."""
    statement = (
        delete(parked_updates)
        .where(parked_updates.c.request_id.in_(request_ids))
        .returning(parked_updates.c.event_id, parked_updates.c.changed_at, parked_updates.c.payload)
    )
    rows = (await session.execute(statement)).mappings().all()
    return sorted(rows, key=lambda row: (row["changed_at"], row["event_id"]))


# Breaches, credits, escalations


async def lock_engagement_for_breaches(session: AsyncSession, schema: str, engagement_id: str) -> None:
    """Serialises breach handling per engagement across replicas until the transaction ends.

    The monthly credit cap and the breach-pattern count are read-then-write decisions; two
    replicas breaching the same engagement at once would otherwise both see room under the cap.
    """
    digest = hashlib.sha256(f"sla-breach:{schema}:{engagement_id}".encode()).digest()
    await session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))


async def insert_breaches_and_credits(
    session: AsyncSession, breach_rows: list[dict[str, Any]], credit_rows: list[dict[str, Any]]
) -> None:
    if breach_rows:
        await session.execute(breaches.insert().values(breach_rows))
    if credit_rows:
        await session.execute(credits.insert().values(credit_rows))


async def insert_escalation(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(escalations.insert().values(**values))


async def credited_in_period(session: AsyncSession, cluster_id: str, period: str) -> Decimal:
    query = select(func.coalesce(func.sum(credits.c.amount_bdt), 0)).where(
        credits.c.cluster_id == cluster_id, credits.c.period == period
    )
    return Decimal(await session.scalar(query) or 0)


async def breaches_since(session: AsyncSession, engagement_id: str, since: datetime) -> Sequence[RowMapping]:
    query = (
        select(breaches.c.breach_id, breaches.c.breached_at)
        .where(breaches.c.engagement_id == engagement_id, breaches.c.breached_at >= since)
        .order_by(breaches.c.breached_at)
    )
    return (await session.execute(query)).mappings().all()


async def escalated_breach_ids_since(session: AsyncSession, engagement_id: str, since: datetime) -> set[str]:
    """The breaches that escalations since `since` covered."""
    query = select(func.unnest(escalations.c.breach_ids)).where(
        escalations.c.engagement_id == engagement_id, escalations.c.escalated_at >= since
    )
    return set((await session.execute(query)).scalars().all())


async def list_breaches(session: AsyncSession, engagement_id: str, period: str | None) -> Sequence[RowMapping]:
    query = select(breaches).where(breaches.c.engagement_id == engagement_id)
    if period is not None:
        query = query.where(breaches.c.period == period)
    return (await session.execute(query.order_by(breaches.c.breached_at, breaches.c.breach_id))).mappings().all()


async def list_credits(session: AsyncSession, engagement_id: str, period: str | None) -> Sequence[RowMapping]:
    query = select(credits).where(credits.c.engagement_id == engagement_id)
    if period is not None:
        query = query.where(credits.c.period == period)
    return (await session.execute(query.order_by(credits.c.issued_at, credits.c.credit_id))).mappings().all()
