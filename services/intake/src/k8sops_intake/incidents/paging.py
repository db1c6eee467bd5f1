"""Paging use cases, run by intake's consumers in the unit of work of the event that caused them.

Intake listens to its own `request.opened` and `request.updated`, so a request opened or moved by
any path (API, partner ticket, upgrade step) pages the same way; `sla.warning` and `credit.issued`
(written by sla-timer in the breach's own transaction, with the exact credit) escalate. Each page is
a row in `pages` (unique per request, role, dedup key and action: a redelivered event pages nobody
twice) plus a delivery of the pager's webhook endpoint, sent by the outbound webhook loop.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1
from k8sops_common.events.envelope import utc_now

from ..engagements import repository as engagements_repository
from ..engagements.repository import EngagementRecord
from ..kit import new_id, system_audit
from ..models import request_comments, webhook_deliveries
from ..requests.repository import RequestRecord
from . import repository
from .domain import (
    Calendar,
    EventAction,
    PageContent,
    PageReason,
    PagerRole,
    Policy,
    bridge_link,
    dedup_key,
    next_coverage_start,
    page_payload,
    pages_now,
    policy_for,
)
from .repository import PagerTargetRecord

BRIDGE_AUTHOR = "intake:incident-response"
SETTLED = frozenset({"resolved", "closed", "cancelled", "declined"})
REASONS = {"opened": "request opened", "sla_warning": "SLA warning, unacknowledged", "sla_breach": "SLA breached"}


async def policy_of(session: AsyncSession, engagement: EngagementRecord, request: RequestRecord) -> Policy:
    rules = await repository.policy_rules(session, engagement["tier"], request["priority"])
    return policy_for(rules, engagement["tier"], request["priority"], request["category"])


def calendar_of(engagement: EngagementRecord) -> Calendar:
    extra = [*engagement["extra_holidays"], *engagement["official_holidays"]]
    return Calendar(
        engagement["timezone"],
        engagement["working_days"],
        engagement["holiday_country"],
        [date.fromisoformat(day) for day in extra],  # JSON columns hold ISO dates
    )


async def _queue_delivery(
    session: AsyncSession, target: PagerTargetRecord, action: EventAction, key: str, body: dict[str, Any]
) -> int:
    now = utc_now()
    if target["kind"] == "standard-webhooks":
        body = {"type": "incident.page", "timestamp": now.isoformat(), "data": body}
    result = await session.execute(
        webhook_deliveries.insert()
        .values(
            endpoint_id=target["webhook_endpoint_id"],
            message_id=f"msg_{uuid.uuid4().hex}",
            event_type=f"incident.page.{action}",
            payload=json.dumps(body, separators=(",", ":")),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            ordering_key=f"{target['webhook_endpoint_id']}:{key}",
        )
        .returning(webhook_deliveries.c.id)
    )
    return int(result.scalar_one())


async def _page(
    session: AsyncSession,
    outbox: Outbox,
    request: RequestRecord,
    role: PagerRole,
    reason: PageReason,
    action: EventAction,
    key: str,
    content: PageContent | None,
) -> bool:
    """Queues one page action to the engagement's pager of `role`; False if none is set up or it was sent."""
    target = (await repository.targets_of(session, request["engagement_id"])).get(role)
    if target is None:
        if action == "trigger":
            await repository.add_log(
                session, request["id"], utc_now(), "page.not_sent", "system",
                f"No {role.replace('_', ' ')} pager is set up for this engagement; nobody was paged ({reason}).",
            )  # fmt: skip
        return False
    source = f"k8sops/{request['engagement_id']}"
    body = page_payload(target["kind"], target["routing_key"], action, key, content, source)
    delivery_id = await _queue_delivery(session, target, action, key, body)
    paged_at = utc_now()
    values = {
        "request_id": request["id"],
        "role": role,
        "reason": reason,
        "event_action": action,
        "dedup_key": key,
        "webhook_endpoint_id": target["webhook_endpoint_id"],
        "delivery_id": delivery_id,
        "created_at": paged_at,
    }
    if not await repository.claim_page(session, values):
        await session.execute(webhook_deliveries.delete().where(webhook_deliveries.c.id == delivery_id))
        return False
    who = "senior on-call" if role == "senior" else "on-call"
    summary = {
        "trigger": f"Paged the {who} ({REASONS[reason]}).",
        "acknowledge": f"Page of the {who} acknowledged ({REASONS[reason]}).",
        "resolve": f"Page of the {who} resolved ({REASONS[reason]}).",
    }[action]
    await repository.add_log(
        session, request["id"], paged_at, f"page.{action}", "system", summary,
        {"role": role, "dedup_key": key, "delivery_id": delivery_id, "summary": body.get("payload", {}).get("summary")},
    )  # fmt: skip
    await system_audit(
        session,
        outbox,
        f"incident.page.{action}",
        AuditTargetV1(kind="Request", name=request["id"], cluster=request["cluster_id"]),
        request["engagement_id"],
        {"role": role, "reason": reason, "dedup_key": key, "delivery_id": delivery_id},
    )
    return True


async def _open_bridge(session: AsyncSession, outbox: Outbox, request: RequestRecord) -> str | None:
    """Posts the bridge link on the request once; the link of an earlier post is reused."""
    posted, template = await repository.bridge_of(session, request["id"], request["engagement_id"])
    if posted is not None:
        return posted
    if not template:
        return None
    link = bridge_link(template, request["id"], request["engagement_id"])
    now = utc_now()
    await session.execute(
        request_comments.insert().values(
            id=new_id("cmt"),
            request_id=request["id"],
            author=BRIDGE_AUTHOR,
            side="provider",
            body=f"Incident bridge: {link}",
            created_at=now,
        )
    )
    await repository.add_log(
        session, request["id"], now, "bridge.opened", "system", f"Bridge open: {link}", {"link": link}
    )
    await system_audit(
        session,
        outbox,
        "incident.bridge.open",
        AuditTargetV1(kind="Request", name=request["id"], cluster=request["cluster_id"]),
        request["engagement_id"],
        {"link": link},
    )
    return link


def _content(request: RequestRecord, reason: PageReason, bridge: str | None, note: str) -> PageContent:
    return PageContent(
        request_id=request["id"],
        engagement_id=request["engagement_id"],
        cluster_id=request["cluster_id"],
        category=request["category"],
        priority=request["priority"],
        title=request["title"],
        reason=reason,
        bridge=bridge,
        note=note,
    )


async def page_on_call_if_due(
    session: AsyncSession,
    outbox: Outbox,
    request: RequestRecord,
    *,
    held_back: bool = False,
    policy: Policy | None = None,
) -> None:
    """On opening (or a priority change): page the named on-call if the policy says so now; outside
    coverage the page is held back (a job due at the next coverage start), and `held_back` is that
    job come due, which pages unless the request was acknowledged (or settled) meanwhile. `policy`
    is the request's when the caller read it with the request: one that never pages costs no read."""
    if request["status"] != "opened" or (policy is not None and policy.mode == "never"):
        return
    engagement = await engagements_repository.get_engagement(session, request["engagement_id"])
    if engagement is None:
        return
    if policy is None:
        policy = await policy_of(session, engagement, request)
    if policy.mode == "never":
        return
    now = utc_now()
    if not held_back and not pages_now(policy, calendar_of(engagement), now):
        due = next_coverage_start(calendar_of(engagement), now)
        if due is None:
            summary = "The engagement has no coverage hours: the on-call is not paged (policy business_hours)."
            await repository.add_log(session, request["id"], now, "page.not_sent", "system", summary)
            return
        await repository.schedule_job(session, request["id"], "page", due)
        summary = (
            f"Outside the engagement's coverage hours: the on-call is paged at {due.isoformat()} "
            "unless the request is acknowledged before (policy business_hours)."
        )
        await repository.add_log(
            session, request["id"], now, "page.held_back", "system", summary, {"due_at": due.isoformat()}
        )
        return
    bridge = await _open_bridge(session, outbox, request)
    note = f"{engagement['tier']} paging policy: {policy.mode}" + (", held back to coverage start" if held_back else "")
    key = dedup_key(request["id"], "opened")
    await _page(
        session, outbox, request, "on_call", "opened", "trigger", key, _content(request, "opened", bridge, note)
    )


async def escalate(
    session: AsyncSession, outbox: Outbox, request: RequestRecord, reason: PageReason, note: str
) -> None:
    """Pages the senior on-call while the request is still unacknowledged and the policy escalates."""
    if request["status"] != "opened" or request["acknowledged_at"] is not None:
        return
    engagement = await engagements_repository.get_engagement(session, request["engagement_id"])
    if engagement is None or not (await policy_of(session, engagement, request)).escalate:
        return
    bridge = await _open_bridge(session, outbox, request)
    content = _content(request, reason, bridge, note)
    await _page(session, outbox, request, "senior", reason, "trigger", dedup_key(request["id"], reason), content)


async def follow_up(session: AsyncSession, outbox: Outbox, request: RequestRecord, action: EventAction) -> None:
    """Acknowledge or resolve every page triggered for the request, at the pager it went to."""
    for page in await repository.pages_of(session, request["id"]):
        if page["event_action"] == "trigger":
            await _page(session, outbox, request, page["role"], page["reason"], action, page["dedup_key"], None)


async def settle_pages(session: AsyncSession, outbox: Outbox, request: RequestRecord, change: str, status: str) -> bool:
    """Acknowledgement acknowledges the pages; a settled request resolves them. True when it settled."""
    if change == "acknowledged":
        await follow_up(session, outbox, request, "acknowledge")
    if status in SETTLED:
        await follow_up(session, outbox, request, "resolve")
        return True
    return False
