"""Reads and writes of the incident tables; callers own the transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict, cast

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import engagements, requests, webhook_deliveries
from ..queries import all_rows, first
from ..requests.repository import RequestRecord
from .domain import (
    ANY_CATEGORY,
    EventAction,
    PageReason,
    PagerKind,
    PagerRole,
    PagingMode,
    Policy,
    PolicyRule,
    policy_for,
)
from .tables import (
    incident_jobs,
    incident_log,
    incident_reports,
    incident_setups,
    pager_targets,
    pages,
    paging_policies,
)


class PolicyRecord(TypedDict):
    tier: str
    priority: str
    category: str
    mode: PagingMode
    escalate: bool
    updated_by: str
    updated_at: datetime


class SetupRecord(TypedDict):
    engagement_id: str
    bridge_template: str | None
    updated_by: str
    updated_at: datetime


class PagerTargetRecord(TypedDict):
    engagement_id: str
    role: PagerRole
    kind: PagerKind
    webhook_endpoint_id: str
    routing_key: str | None


class PageRecord(TypedDict):
    """A page with the status of the delivery that carries it."""

    id: int
    request_id: str
    role: PagerRole
    reason: PageReason
    event_action: EventAction
    dedup_key: str
    webhook_endpoint_id: str
    delivery_id: int
    created_at: datetime
    delivery_status: str
    attempts: int
    delivered_at: datetime | None


class LogRecord(TypedDict):
    id: int
    request_id: str
    at: datetime
    kind: str
    actor: str
    summary: str
    details: dict[str, Any]


JobKind = Literal["report", "page"]


class JobRecord(TypedDict):
    """A report to draft after resolution, or a page held back to the next coverage start."""

    id: int
    request_id: str
    kind: JobKind
    due_at: datetime
    attempts: int
    done_at: datetime | None
    created_at: datetime


class ReportRecord(TypedDict):
    request_id: str
    markdown: str
    drafted_at: datetime


# --- paging policies -----------------------------------------------------------------------------


async def policy_rows(session: AsyncSession) -> list[PolicyRecord]:
    query = select(paging_policies).order_by(
        paging_policies.c.tier, paging_policies.c.priority, paging_policies.c.category
    )
    return cast(list[PolicyRecord], await all_rows(session, query))


async def policy_rules(session: AsyncSession, tier: str, priority: str) -> list[PolicyRule]:
    query = select(paging_policies).where(paging_policies.c.tier == tier, paging_policies.c.priority == priority)
    return [
        PolicyRule(row["tier"], row["priority"], row["category"], Policy(row["mode"], row["escalate"]))
        for row in await all_rows(session, query)
    ]


async def request_with_policy(session: AsyncSession, request_id: str) -> tuple[RequestRecord, Policy] | None:
    """The request, locked as `get_request(..., for_update=True)` locks it, with the paging policy
    that applies to it, in that one statement: a request whose policy never pages costs no
    statement more than its timeline entry. One row per matching rule (its category's, `*`'s)."""
    rule_matches = and_(
        paging_policies.c.tier == engagements.c.tier,
        paging_policies.c.priority == requests.c.priority,
        paging_policies.c.category.in_([requests.c.category, ANY_CATEGORY]),
    )
    query = (
        select(
            requests,
            engagements.c.tier.label("rule_tier"),
            paging_policies.c.category.label("rule_category"),
            paging_policies.c.mode.label("rule_mode"),
            paging_policies.c.escalate.label("rule_escalate"),
        )
        .select_from(
            requests.outerjoin(engagements, engagements.c.id == requests.c.engagement_id).outerjoin(
                paging_policies, rule_matches
            )
        )
        .where(requests.c.id == request_id)
        .with_for_update(of=requests)
    )
    rows = (await session.execute(query)).mappings().all()
    if not rows:
        return None
    request = cast(RequestRecord, {name: rows[0][name] for name in requests.c.keys()})
    tier = rows[0]["rule_tier"] or ""
    rules = [
        PolicyRule(tier, request["priority"], row["rule_category"], Policy(row["rule_mode"], row["rule_escalate"]))
        for row in rows
        if row["rule_category"] is not None
    ]
    return request, policy_for(rules, tier, request["priority"], request["category"])


async def upsert_policy(session: AsyncSession, values: PolicyRecord) -> PolicyRecord | None:
    """The rule as it was before (None when new); the row is locked until the transaction ends."""
    key = (
        paging_policies.c.tier == values["tier"],
        paging_policies.c.priority == values["priority"],
        paging_policies.c.category == values["category"],
    )
    before = (await session.execute(select(paging_policies).where(*key).with_for_update())).mappings().first()
    update = {name: values[name] for name in ("mode", "escalate", "updated_by", "updated_at")}
    await session.execute(
        insert(paging_policies)
        .values(**values)
        .on_conflict_do_update(index_elements=["tier", "priority", "category"], set_=update)
    )
    return cast(PolicyRecord, dict(before)) if before else None


# --- bridge and pager targets --------------------------------------------------------------------


async def get_setup(session: AsyncSession, engagement_id: str) -> SetupRecord | None:
    row = await first(session, incident_setups, incident_setups.c.engagement_id == engagement_id)
    return cast(SetupRecord | None, row)


async def bridge_of(session: AsyncSession, request_id: str, engagement_id: str) -> tuple[str | None, str | None]:
    """The link the request's bridge was posted with (None before), and the engagement's bridge
    template (None without one), in one round trip."""
    posted = (
        select(incident_log.c.details["link"].astext)
        .where(incident_log.c.request_id == request_id, incident_log.c.kind == "bridge.opened")
        .order_by(incident_log.c.id)
        .limit(1)
        .scalar_subquery()
    )
    template = (
        select(incident_setups.c.bridge_template)
        .where(incident_setups.c.engagement_id == engagement_id)
        .scalar_subquery()
    )
    row = (await session.execute(select(posted, template))).one()
    return row[0], row[1]


async def put_setup(session: AsyncSession, values: SetupRecord) -> None:
    await session.execute(
        insert(incident_setups)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["engagement_id"],
            set_={name: values[name] for name in ("bridge_template", "updated_by", "updated_at")},
        )
    )


async def targets_of(session: AsyncSession, engagement_id: str) -> dict[str, PagerTargetRecord]:
    query = select(pager_targets).where(pager_targets.c.engagement_id == engagement_id)
    return {row["role"]: cast(PagerTargetRecord, row) for row in await all_rows(session, query)}


async def put_target(session: AsyncSession, values: PagerTargetRecord) -> None:
    await session.execute(
        insert(pager_targets)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["engagement_id", "role"],
            set_={name: values[name] for name in ("kind", "webhook_endpoint_id", "routing_key")},
        )
    )


async def delete_target(session: AsyncSession, engagement_id: str, role: str) -> None:
    await session.execute(
        pager_targets.delete().where(pager_targets.c.engagement_id == engagement_id, pager_targets.c.role == role)
    )


# --- pages ---------------------------------------------------------------------------------------


async def claim_page(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when this page action was recorded before (a redelivered event)."""
    result = await session.execute(
        insert(pages).values(**values).on_conflict_do_nothing(constraint="pages_once").returning(pages.c.id)
    )
    return result.first() is not None


async def pages_of(session: AsyncSession, request_id: str) -> list[PageRecord]:
    """Each page with its delivery's status, oldest first."""
    query = (
        select(
            pages,
            webhook_deliveries.c.status.label("delivery_status"),
            webhook_deliveries.c.attempts,
            webhook_deliveries.c.delivered_at,
        )
        .join(webhook_deliveries, webhook_deliveries.c.id == pages.c.delivery_id)
        .where(pages.c.request_id == request_id)
        .order_by(pages.c.id)
    )
    return cast(list[PageRecord], await all_rows(session, query))


# --- log and report ------------------------------------------------------------------------------


async def add_log(
    session: AsyncSession,
    request_id: str,
    at: datetime,
    kind: str,
    actor: str,
    summary: str,
    details: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        incident_log.insert().values(
            request_id=request_id, at=at, kind=kind, actor=actor, summary=summary, details=details or {}
        )
    )


async def log_of(session: AsyncSession, request_id: str) -> list[LogRecord]:
    query = select(incident_log).where(incident_log.c.request_id == request_id).order_by(incident_log.c.id)
    return cast(list[LogRecord], await all_rows(session, query))


async def add_report(session: AsyncSession, request_id: str, markdown: str, drafted_at: datetime) -> bool:
    result = await session.execute(
        insert(incident_reports)
        .values(request_id=request_id, markdown=markdown, drafted_at=drafted_at)
        .on_conflict_do_nothing()
        .returning(incident_reports.c.request_id)
    )
    return result.first() is not None


async def get_report(session: AsyncSession, request_id: str) -> ReportRecord | None:
    row = await first(session, incident_reports, incident_reports.c.request_id == request_id)
    return cast(ReportRecord | None, row)


# --- jobs ----------------------------------------------------------------------------------------


async def schedule_job(session: AsyncSession, request_id: str, kind: JobKind, due_at: datetime) -> None:
    """One job of a kind per request: a report is scheduled once; a page held back again (a
    priority change outside coverage) is due again at the new time."""
    statement = insert(incident_jobs).values(
        request_id=request_id, kind=kind, due_at=due_at, attempts=0, created_at=func.now()
    )
    if kind == "report":
        await session.execute(statement.on_conflict_do_nothing(constraint="incident_jobs_once"))
        return
    await session.execute(
        statement.on_conflict_do_update(
            constraint="incident_jobs_once", set_={"due_at": due_at, "done_at": None, "attempts": 0}
        )
    )


async def claim_due_jobs(session: AsyncSession, limit: int, lease: timedelta) -> list[JobRecord]:
    """Due jobs, leased (their due time moved on by the lease) so no other replica runs them
    meanwhile; the lease commits before the work, and a replica that dies leaves it to expire."""
    due = (
        select(incident_jobs.c.id)
        .where(incident_jobs.c.done_at.is_(None), incident_jobs.c.due_at <= func.now())
        .order_by(incident_jobs.c.due_at, incident_jobs.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.execute(due)).scalars())
    if not ids:
        return []
    claimed = (
        incident_jobs.update()
        .where(incident_jobs.c.id.in_(ids))
        .values(due_at=func.now() + lease, attempts=incident_jobs.c.attempts + 1)
        .returning(*incident_jobs.c)
    )
    return [cast(JobRecord, dict(row)) for row in (await session.execute(claimed)).mappings()]


async def finish_job(session: AsyncSession, job_id: int) -> None:
    await session.execute(incident_jobs.update().where(incident_jobs.c.id == job_id).values(done_at=func.now()))
