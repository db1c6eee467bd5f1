"""Reads and writes of cost-analyzer's tables; callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import analyses, cluster_drift, clusters, findings, jobs, prices, recommendation_history, recommendations

# Clusters


async def upsert_cluster(session: AsyncSession, values: dict[str, Any]) -> tuple[RowMapping | None, bool]:
    """Stores the cluster unless a later change of it is stored; returns the row as it was before
    (None when unknown) and whether this change was written."""
    query = select(clusters).where(clusters.c.cluster_id == values["cluster_id"]).with_for_update()
    before = (await session.execute(query)).mappings().first()
    statement = insert(clusters).values(**values, deleted=False)
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[clusters.c.cluster_id],
            set_={**{k: statement.excluded[k] for k in values if k != "cluster_id"}, "deleted": False},
            where=clusters.c.changed_at <= statement.excluded.changed_at,
        ).returning(clusters.c.cluster_id)
    )
    return before, result.first() is not None


async def upsert_drift(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Keeps the cluster's latest drift measurement; False when a later one is stored already."""
    statement = insert(cluster_drift).values(**values)
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[cluster_drift.c.cluster_id],
            set_={k: statement.excluded[k] for k in values if k != "cluster_id"},
            where=cluster_drift.c.measured_at < statement.excluded.measured_at,
        ).returning(cluster_drift.c.cluster_id)
    )
    return result.first() is not None


async def drift_of(session: AsyncSession, cluster_id: str) -> RowMapping | None:
    query = select(cluster_drift).where(cluster_drift.c.cluster_id == cluster_id)
    return (await session.execute(query)).mappings().first()


async def delete_clusters(
    session: AsyncSession, engagement_id: str, keep: Sequence[str], changed_at: datetime
) -> list[str]:
    """Marks the engagement's clusters not in `keep` deleted and cancels their pending work."""
    query = (
        update(clusters)
        .where(clusters.c.engagement_id == engagement_id, clusters.c.cluster_id.not_in(keep), ~clusters.c.deleted)
        .values(deleted=True, changed_at=changed_at)
        .returning(clusters.c.cluster_id)
    )
    gone = list((await session.execute(query)).scalars())
    if gone:
        await session.execute(
            update(jobs).where(jobs.c.cluster_id.in_(gone), jobs.c.status == "pending").values(status="cancelled")
        )
    return gone


async def get_cluster(session: AsyncSession, cluster_id: str) -> RowMapping | None:
    return (await session.execute(select(clusters).where(clusters.c.cluster_id == cluster_id))).mappings().first()


# Prices


async def price_rows(session: AsyncSession) -> Sequence[RowMapping]:
    return (await session.execute(select(prices).order_by(prices.c.instance_type))).mappings().all()


async def put_price(session: AsyncSession, values: dict[str, Any]) -> RowMapping | None:
    """Stores the price and returns the row as it was before (None for a new instance type)."""
    query = select(prices).where(prices.c.instance_type == values["instance_type"]).with_for_update()
    before = (await session.execute(query)).mappings().first()
    statement = insert(prices).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[prices.c.instance_type],
            set_={k: statement.excluded[k] for k in values if k != "instance_type"},
        )
    )
    return before


# Jobs


async def schedule_job(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Inserts the job unless one with its dedup key exists; True when inserted."""
    result = await session.execute(
        insert(jobs).values(**values).on_conflict_do_nothing(index_elements=[jobs.c.dedup_key]).returning(jobs.c.job_id)
    )
    return result.first() is not None


async def job_by_dedup_key(session: AsyncSession, dedup_key: str) -> RowMapping | None:
    return (await session.execute(select(jobs).where(jobs.c.dedup_key == dedup_key))).mappings().first()


async def claim_due_job(session: AsyncSession, now: datetime, lease: timedelta) -> RowMapping | None:
    """Leases one due job; a job another replica holds is skipped, an expired lease is taken over."""
    query = (
        select(jobs)
        .where(
            jobs.c.status == "pending",
            jobs.c.due_at <= now,
            (jobs.c.claimed_until.is_(None)) | (jobs.c.claimed_until < now),
        )
        .order_by(jobs.c.due_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    claimed = (
        update(jobs)
        .where(jobs.c.job_id == row["job_id"])
        .values(claimed_until=now + lease, attempts=jobs.c.attempts + 1)
        .returning(jobs)
    )
    return (await session.execute(claimed)).mappings().one()


async def pending_quarterly_reviews(session: AsyncSession, cluster_id: str) -> Sequence[RowMapping]:
    """The cluster's scheduled reviews not tried yet (a retried one is past its quarter's start)."""
    query = (
        select(jobs)
        .where(
            jobs.c.cluster_id == cluster_id,
            jobs.c.status == "pending",
            jobs.c.attempts == 0,
            jobs.c.dedup_key.startswith("review/"),
        )
        .with_for_update()
    )
    return (await session.execute(query)).mappings().all()


async def move_job(session: AsyncSession, job_id: str, due_at: datetime) -> None:
    await session.execute(update(jobs).where(jobs.c.job_id == job_id).values(due_at=due_at))


async def finish_job(session: AsyncSession, job_id: str, analysis_id: str) -> None:
    await session.execute(
        update(jobs).where(jobs.c.job_id == job_id).values(status="done", analysis_id=analysis_id, last_error=None)
    )


async def retry_or_fail_job(session: AsyncSession, job_id: str, error: str, retry_at: datetime | None) -> None:
    values: dict[str, Any] = {"last_error": error[:2000], "claimed_until": None}
    values.update({"due_at": retry_at} if retry_at else {"status": "failed"})
    await session.execute(update(jobs).where(jobs.c.job_id == job_id).values(**values))


async def list_jobs(session: AsyncSession, engagement_ids: Sequence[str] | None) -> Sequence[RowMapping]:
    query = select(jobs).order_by(jobs.c.due_at)
    if engagement_ids is not None:
        query = query.where(jobs.c.engagement_id.in_(engagement_ids))
    return (await session.execute(query)).mappings().all()


# Analyses and findings


async def insert_analysis(session: AsyncSession, values: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(analyses).values(**values))
    if rows:
        await session.execute(insert(findings), rows)


async def get_analysis(session: AsyncSession, analysis_id: str) -> RowMapping | None:
    return (await session.execute(select(analyses).where(analyses.c.analysis_id == analysis_id))).mappings().first()


async def list_analyses(
    session: AsyncSession, engagement_ids: Sequence[str] | None, cluster_id: str | None, kind: str | None
) -> Sequence[RowMapping]:
    columns = [c for c in analyses.c if c.name != "report"]
    query = select(*columns).order_by(analyses.c.generated_at.desc()).limit(200)
    if engagement_ids is not None:
        query = query.where(analyses.c.engagement_id.in_(engagement_ids))
    if cluster_id:
        query = query.where(analyses.c.cluster_id == cluster_id)
    if kind:
        query = query.where(analyses.c.kind == kind)
    return (await session.execute(query)).mappings().all()


async def previous_reviews(
    session: AsyncSession, cluster_id: str, before_quarter: str, limit: int
) -> Sequence[RowMapping]:
    """The latest review of each earlier quarter, newest first (for the trend and its chart)."""
    query = (
        select(analyses.c.quarter, analyses.c.scores, analyses.c.report["cost"].label("cost"))
        .where(
            analyses.c.cluster_id == cluster_id,
            analyses.c.kind.in_(("health-review", "onboarding-assessment")),
            analyses.c.quarter < before_quarter,
        )
        .distinct(analyses.c.quarter)
        .order_by(analyses.c.quarter.desc(), analyses.c.generated_at.desc())
        .limit(limit)
    )
    return (await session.execute(query)).mappings().all()


async def findings_of(session: AsyncSession, analysis_id: str) -> Sequence[RowMapping]:
    query = select(findings).where(findings.c.analysis_id == analysis_id).order_by(findings.c.position)
    return (await session.execute(query)).mappings().all()


# Recommendations


async def recommendation_for_target(
    session: AsyncSession, cluster_id: str, kind: str, target: str
) -> RowMapping | None:
    query = (
        select(recommendations)
        .where(
            recommendations.c.cluster_id == cluster_id,
            recommendations.c.kind == kind,
            recommendations.c.target == target,
        )
        .with_for_update()
    )
    return (await session.execute(query)).mappings().first()


async def insert_recommendation(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(recommendations).values(**values))


async def update_recommendation(session: AsyncSession, recommendation_id: str, values: dict[str, Any]) -> RowMapping:
    query = (
        update(recommendations)
        .where(recommendations.c.recommendation_id == recommendation_id)
        .values(**values)
        .returning(recommendations)
    )
    return (await session.execute(query)).mappings().one()


async def get_recommendation(session: AsyncSession, recommendation_id: str, *, lock: bool = False) -> RowMapping | None:
    query = select(recommendations).where(recommendations.c.recommendation_id == recommendation_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def list_recommendations(
    session: AsyncSession, engagement_ids: Sequence[str] | None, cluster_id: str | None, status: str | None
) -> Sequence[RowMapping]:
    query = select(recommendations).order_by(recommendations.c.monthly_savings_bdt.desc(), recommendations.c.target)
    if engagement_ids is not None:
        query = query.where(recommendations.c.engagement_id.in_(engagement_ids))
    if cluster_id:
        query = query.where(recommendations.c.cluster_id == cluster_id)
    if status:
        query = query.where(recommendations.c.status == status)
    return (await session.execute(query)).mappings().all()


async def not_adopted_before(session: AsyncSession, cluster_id: str, quarter: str) -> Sequence[RowMapping]:
    query = (
        select(recommendations)
        .where(
            recommendations.c.cluster_id == cluster_id,
            recommendations.c.status == "not_adopted",
            recommendations.c.decided_quarter < quarter,
        )
        .with_for_update()
    )
    return (await session.execute(query)).mappings().all()


async def add_history(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(recommendation_history).values(**values))


async def history_of(session: AsyncSession, recommendation_id: str) -> Sequence[RowMapping]:
    query = (
        select(recommendation_history)
        .where(recommendation_history.c.recommendation_id == recommendation_id)
        .order_by(recommendation_history.c.id)
    )
    return (await session.execute(query)).mappings().all()
