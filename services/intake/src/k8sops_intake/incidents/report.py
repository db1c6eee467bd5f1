"""Intake's own record of an incident as timeline entries, and the report draft stored at resolution."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1
from k8sops_common.events.envelope import utc_now

from ..engagements import repository as engagements_repository
from ..kit import system_audit
from ..requests import repository as requests_repository
from ..requests.repository import RequestRecord
from ..webhooks.service import notify_subscribers
from . import repository
from .paging import BRIDGE_AUTHOR
from .repository import PageRecord
from .timeline import Entry, ordered, render_report

CLUSTER_ACTIONS_LATER = (
    "Cluster actions come from the audit trail, which intake reads with a reader's token: "
    "GET /v1/requests/{id}/incident-report and /timeline list them."
)


async def local_entries(session: AsyncSession, request: RequestRecord) -> tuple[list[Entry], set[str]]:
    """The request's history, pages (with their delivery status), SLA events and comments; and the
    trace ids the request was worked in, which link other services' audit entries to it."""
    delivery: dict[Any, PageRecord] = {
        page["delivery_id"]: page for page in await repository.pages_of(session, request["id"])
    }
    entries: list[Entry] = []
    trace_ids: set[str] = set()
    for row in await repository.log_of(session, request["id"]):
        details = dict(row["details"])
        if details.get("trace_id"):
            trace_ids.add(details["trace_id"])
        if row["kind"] == "request.commented":
            continue  # the comment itself is listed below, with its text
        page = delivery.get(details.get("delivery_id"))
        if page is not None:
            details |= {"delivery_status": page["delivery_status"], "delivered_at": page["delivered_at"]}
        entries.append(Entry(row["at"], row["kind"], row["actor"], row["summary"], "intake", details))
    kinds = {entry.kind for entry in entries}
    if "request.opened" not in kinds:
        summary = f"Opened as {request['priority']} {request['category']}: {request['title']}"
        entries.append(Entry(request["opened_at"], "request.opened", request["opened_by"], summary))
    if request["sla_breached_at"] is not None and "sla.breached" not in kinds:
        # The breach is recorded on the request even before (or without) its credit arriving.
        entries.append(Entry(request["sla_breached_at"], "sla.breached", "sla-timer", "Response SLA breached"))
    for comment in await requests_repository.comments_of(session, request["id"]):
        if comment["author"] != BRIDGE_AUTHOR:
            text = comment["body"] if len(comment["body"]) <= 200 else comment["body"][:199] + "…"
            entries.append(Entry(comment["created_at"], "request.comment", comment["author"], text))
    return ordered(entries), trace_ids


def was_paged(entries: list[Entry]) -> bool:
    return any(entry.kind == "page.trigger" for entry in entries)


async def draft_report(session: AsyncSession, outbox: Outbox, request: RequestRecord) -> None:
    """Stores the draft once, for incidents and paged requests, and files it to the partner ticket."""
    entries, _ = await local_entries(session, request)
    if request["category"] != "incident" and not was_paged(entries):
        return
    engagement = await engagements_repository.get_engagement(session, request["engagement_id"])
    tier = engagement["tier"] if engagement else "unknown"
    markdown = render_report(request, tier, entries, CLUSTER_ACTIONS_LATER)
    now = utc_now()
    if not await repository.add_report(session, request["id"], markdown, now):
        return
    await repository.add_log(session, request["id"], now, "report.drafted", "system", "Post-incident report drafted.")
    await system_audit(
        session,
        outbox,
        "incident.report.draft",
        AuditTargetV1(kind="Request", name=request["id"], cluster=request["cluster_id"]),
        request["engagement_id"],
        {"partner_ticket_id": request["partner_ticket_id"]},
    )
    if request["partner_ticket_id"] is not None:
        data = {
            "request_id": request["id"],
            "partner_id": request["partner_id"],
            "partner_ticket_id": request["partner_ticket_id"],
            "markdown": markdown,
        }
        await notify_subscribers(session, request["engagement_id"], "incident.report", data)
