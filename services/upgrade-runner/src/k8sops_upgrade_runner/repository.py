"""Reads and writes of upgrade-runner's tables; callers own the transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    authorisations,
    cluster_actions,
    cluster_baselines,
    cluster_leases,
    clusters,
    engagements,
    operation_nodes,
    operation_steps,
    operations,
)

# Engagements and clusters


async def upsert_engagement(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Stores the engagement unless a newer version is already there; True if it was stored."""
    statement = insert(engagements).values(**values)
    upsert = statement.on_conflict_do_update(
        index_elements=[engagements.c.engagement_id],
        set_={key: statement.excluded[key] for key in values if key != "engagement_id"},
        where=engagements.c.changed_at <= statement.excluded.changed_at,
    ).returning(engagements.c.engagement_id)
    return (await session.execute(upsert)).first() is not None


async def replace_clusters(session: AsyncSession, engagement_id: str, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(delete(clusters).where(clusters.c.engagement_id == engagement_id))
    if rows:
        await session.execute(insert(clusters), list(rows))


async def get_engagement(session: AsyncSession, engagement_id: str) -> RowMapping | None:
    query = select(engagements).where(engagements.c.engagement_id == engagement_id)
    return (await session.execute(query)).mappings().first()


async def get_cluster(session: AsyncSession, cluster_id: str) -> RowMapping | None:
    return (await session.execute(select(clusters).where(clusters.c.cluster_id == cluster_id))).mappings().first()


# Operations


async def insert_operation(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(operations).values(**values))


async def get_operation(session: AsyncSession, operation_id: str, *, for_update: bool = False) -> RowMapping | None:
    query = select(operations).where(operations.c.operation_id == operation_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def live_operation_of_cluster(session: AsyncSession, cluster_id: str) -> RowMapping | None:
    query = select(operations).where(
        operations.c.cluster_id == cluster_id,
        operations.c.state.not_in(("completed", "rolled_back", "cancelled", "precheck_failed")),
    )
    return (await session.execute(query)).mappings().first()


async def operation_of_request(session: AsyncSession, request_id: str) -> RowMapping | None:
    query = select(operations).where(operations.c.request_id == request_id)
    return (await session.execute(query)).mappings().first()


async def list_operations(
    session: AsyncSession, engagement_ids: Collection[str] | None, cluster_id: str | None, limit: int
) -> Sequence[RowMapping]:
    query = select(operations).order_by(operations.c.created_at.desc()).limit(limit)
    if engagement_ids is not None:
        query = query.where(operations.c.engagement_id.in_(engagement_ids))
    if cluster_id is not None:
        query = query.where(operations.c.cluster_id == cluster_id)
    return (await session.execute(query)).mappings().all()


async def update_operation(session: AsyncSession, operation_id: str, values: dict[str, Any]) -> RowMapping:
    statement = (
        update(operations).where(operations.c.operation_id == operation_id).values(**values).returning(operations)
    )
    return (await session.execute(statement)).mappings().one()


async def wake_waiting_operations(session: AsyncSession, engagement_id: str, now: datetime) -> None:
    await session.execute(
        update(operations)
        .where(
            operations.c.engagement_id == engagement_id,
            operations.c.state.in_(("scheduled", "upgrading_nodes")),
            operations.c.next_run_at > now,
        )
        .values(next_run_at=now)
    )


async def insert_step(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(operation_steps).values(**values))


async def steps_of(session: AsyncSession, operation_id: str) -> Sequence[RowMapping]:
    query = (
        select(operation_steps)
        .where(operation_steps.c.operation_id == operation_id)
        .order_by(operation_steps.c.step_id)
    )
    return (await session.execute(query)).mappings().all()


async def claim_due_operations(
    session: AsyncSession, now: datetime, limit: int, skip: Collection[str], holder: str
) -> Sequence[RowMapping]:
    """Due operations whose cluster no other runner holds, locked so that other runners skip them
    while this transaction lasts (without the lease filter, operations another runner is driving
    would fill every batch and starve the free ones)."""
    held_elsewhere = (
        select(cluster_leases.c.cluster_id)
        .where(
            cluster_leases.c.cluster_id == operations.c.cluster_id,
            cluster_leases.c.holder != holder,
            cluster_leases.c.expires_at > func.now(),
        )
        .exists()
    )
    query = (
        select(operations)
        .where(operations.c.next_run_at <= now, ~held_elsewhere)
        .order_by(operations.c.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(operations.c.operation_id.not_in(skip))
    return (await session.execute(query)).mappings().all()


# Nodes


async def insert_nodes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(operation_nodes).on_conflict_do_nothing(), list(rows))


async def nodes_of(session: AsyncSession, operation_id: str, cluster_name: str | None = None) -> Sequence[RowMapping]:
    query = select(operation_nodes).where(operation_nodes.c.operation_id == operation_id)
    if cluster_name is not None:
        query = query.where(operation_nodes.c.cluster_name == cluster_name)
    return (
        (await session.execute(query.order_by(operation_nodes.c.cluster_name, operation_nodes.c.position)))
        .mappings()
        .all()
    )


async def update_node(
    session: AsyncSession, operation_id: str, cluster_name: str, node: str, values: dict[str, Any]
) -> RowMapping:
    statement = (
        update(operation_nodes)
        .where(
            operation_nodes.c.operation_id == operation_id,
            operation_nodes.c.cluster_name == cluster_name,
            operation_nodes.c.node == node,
        )
        .values(**values)
        .returning(operation_nodes)
    )
    return (await session.execute(statement)).mappings().one()


# Leases


async def acquire_leases(
    session: AsyncSession, cluster_ids: Collection[str], holder: str, operation_id: str, expires_at: datetime
) -> bool:
    """Takes (or renews) the lease of every cluster, or none: True only if all are this holder's."""
    now = func.now()
    for cluster_id in sorted(cluster_ids):
        statement = insert(cluster_leases).values(
            cluster_id=cluster_id, holder=holder, operation_id=operation_id, expires_at=expires_at
        )
        upsert = statement.on_conflict_do_update(
            index_elements=[cluster_leases.c.cluster_id],
            set_={"holder": holder, "operation_id": operation_id, "expires_at": expires_at},
            where=or_(cluster_leases.c.expires_at < now, cluster_leases.c.holder == holder),
        ).returning(cluster_leases.c.cluster_id)
        if (await session.execute(upsert)).first() is None:
            return False
    return True


async def holds_leases(session: AsyncSession, cluster_ids: Collection[str], holder: str) -> bool:
    """Fencing check inside a write transaction: the rows stay locked until it commits."""
    query = (
        select(cluster_leases.c.cluster_id)
        .where(
            cluster_leases.c.cluster_id.in_(cluster_ids),
            cluster_leases.c.holder == holder,
            cluster_leases.c.expires_at > func.now(),
        )
        .with_for_update()
    )
    return len((await session.execute(query)).all()) == len(set(cluster_ids))


async def release_leases(session: AsyncSession, cluster_ids: Collection[str], holder: str) -> None:
    await session.execute(
        delete(cluster_leases).where(
            and_(cluster_leases.c.cluster_id.in_(cluster_ids), cluster_leases.c.holder == holder)
        )
    )


async def lease_holders(session: AsyncSession) -> dict[str, str]:
    rows = (await session.execute(select(cluster_leases.c.cluster_id, cluster_leases.c.holder))).all()
    return {row.cluster_id: row.holder for row in rows}


# Authorisations and actions


async def insert_authorisation(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    return (await session.execute(insert(authorisations).values(**values).returning(authorisations))).mappings().one()


async def get_authorisation(
    session: AsyncSession, authorisation_id: str, *, for_update: bool = False
) -> RowMapping | None:
    query = select(authorisations).where(authorisations.c.authorisation_id == authorisation_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def use_authorisation(session: AsyncSession, authorisation_id: str, used_by: str, now: datetime) -> None:
    await session.execute(
        update(authorisations)
        .where(authorisations.c.authorisation_id == authorisation_id, authorisations.c.used_at.is_(None))
        .values(used_at=now, used_by=used_by)
    )


async def list_authorisations(session: AsyncSession, engagement_id: str) -> Sequence[RowMapping]:
    query = (
        select(authorisations)
        .where(authorisations.c.engagement_id == engagement_id)
        .order_by(authorisations.c.granted_at.desc())
    )
    return (await session.execute(query)).mappings().all()


async def insert_action(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    return (await session.execute(insert(cluster_actions).values(**values).returning(cluster_actions))).mappings().one()


async def get_action(session: AsyncSession, cluster_id: str, action_id: str) -> RowMapping | None:
    query = select(cluster_actions).where(
        cluster_actions.c.cluster_id == cluster_id, cluster_actions.c.action_id == action_id
    )
    return (await session.execute(query)).mappings().first()


async def list_actions(session: AsyncSession, cluster_id: str, limit: int) -> Sequence[RowMapping]:
    query = (
        select(cluster_actions)
        .where(cluster_actions.c.cluster_id == cluster_id)
        .order_by(cluster_actions.c.at.desc())
        .limit(limit)
    )
    return (await session.execute(query)).mappings().all()


# Baselines (drift)


async def replace_baseline(session: AsyncSession, cluster_id: str, rows: list[dict[str, Any]]) -> None:
    await session.execute(delete(cluster_baselines).where(cluster_baselines.c.cluster_id == cluster_id))
    if rows:
        await session.execute(insert(cluster_baselines), rows)


async def baseline_of(session: AsyncSession, cluster_id: str) -> list[RowMapping]:
    query = (
        select(cluster_baselines)
        .where(cluster_baselines.c.cluster_id == cluster_id)
        .order_by(cluster_baselines.c.object_key)
    )
    return list((await session.execute(query)).mappings())
