"""Reads and writes of engagements and clusters; callers own the transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict, cast

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.auth import Principal

from ..models import clusters, engagements
from ..queries import all_rows, first, visible_to


class EngagementRecord(TypedDict):
    id: str
    name: str
    tier: str
    timezone: str
    working_days: list[int]
    holiday_country: str | None
    extra_holidays: list[str]
    official_holidays: list[str]
    maintenance_window: dict[str, Any] | None
    on_call: str | None
    cluster_admin: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class ClusterRecord(TypedDict):
    id: str
    engagement_id: str
    name: str
    environment: str
    paired_cluster_id: str | None
    api_endpoint: str
    credentials_ref: str
    size_band: str
    workload_band: str
    monthly_retainer_bdt: Decimal
    created_at: datetime
    updated_at: datetime


async def get_engagement(
    session: AsyncSession, engagement_id: str, *, readable_by: Principal | None = None, for_update: bool = False
) -> EngagementRecord | None:
    row = await first(
        session,
        engagements,
        engagements.c.id == engagement_id,
        visible_to(readable_by, engagements.c.id),
        for_update=for_update,
    )
    return cast(EngagementRecord | None, row)


async def add_engagement(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when the id is taken."""
    result = await session.execute(
        insert(engagements).values(**values).on_conflict_do_nothing().returning(engagements.c.id)
    )
    return result.first() is not None


async def update_engagement(session: AsyncSession, engagement_id: str, values: dict[str, Any]) -> None:
    await session.execute(engagements.update().where(engagements.c.id == engagement_id).values(**values))


async def list_engagements(session: AsyncSession, readable_by: Principal) -> list[EngagementRecord]:
    query = select(engagements).where(visible_to(readable_by, engagements.c.id)).order_by(engagements.c.id)
    return cast(list[EngagementRecord], await all_rows(session, query))


async def clusters_of(session: AsyncSession, engagement_ids: Collection[str]) -> list[ClusterRecord]:
    query = select(clusters).where(clusters.c.engagement_id.in_(list(engagement_ids))).order_by(clusters.c.id)
    return cast(list[ClusterRecord], await all_rows(session, query))


async def get_cluster(
    session: AsyncSession, cluster_id: str, *, engagement_id: str | None = None
) -> ClusterRecord | None:
    """The cluster; with `engagement_id`, only if it belongs to that engagement."""
    within = () if engagement_id is None else (clusters.c.engagement_id == engagement_id,)
    return cast(ClusterRecord | None, await first(session, clusters, clusters.c.id == cluster_id, *within))


async def add_cluster(session: AsyncSession, values: dict[str, Any]) -> bool:
    result = await session.execute(insert(clusters).values(**values).on_conflict_do_nothing().returning(clusters.c.id))
    return result.first() is not None


async def update_cluster(session: AsyncSession, cluster_id: str, values: dict[str, Any]) -> None:
    await session.execute(clusters.update().where(clusters.c.id == cluster_id).values(**values))


async def delete_cluster(session: AsyncSession, cluster_id: str) -> None:
    await session.execute(clusters.delete().where(clusters.c.id == cluster_id))


async def clusters_paired_with(session: AsyncSession, cluster_id: str) -> list[str]:
    rows = await session.execute(select(clusters.c.id).where(clusters.c.paired_cluster_id == cluster_id))
    return list(rows.scalars())
