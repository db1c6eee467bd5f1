"""Intake's own record of an incident as timeline entries, and the report draft attached after resolution.

The consumer that sees the resolution only schedules the draft (a job row in its unit of work); the
job loop writes it: intake's record read in one transaction, the audit trail read outside any
transaction with intake's service credential, then the draft stored, audited and filed in another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.events.catalog import AuditTargetV1
from k8sops_common.events.envelope import utc_now
from k8sops_common.service import ServiceContext

from ..engagements import repository as engagements_repository
from ..kit import system_audit
from ..requests import repository as requests_repository
from ..requests.repository import RequestRecord
from ..webhooks.service import notify_subscribers
from . import repository
from .audit_client import entries_of_request, service_authorization
from .paging import BRIDGE_AUTHOR
from .repository import JobRecord, PageRecord
from .settings import incident_settings
from .timeline import Entry, audit_note, linked_entries, ordered, render_report


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


async def schedule_report(session: AsyncSession, request: RequestRecord) -> None:
    """At resolution of an incident or a paged request: the draft is written once, by the job loop."""
    entries, _ = await local_entries(session, request)
    if request["category"] == "incident" or was_paged(entries):
        await repository.schedule_job(session, request["id"], "report", utc_now())


async def write_report(context: ServiceContext, job: JobRecord) -> None:
    """Stores the draft with the cluster actions from the audit trail (or why they are missing),
    and files it to the partner ticket."""
    settings = incident_settings(context)
    async with context.database.unit_of_work() as session:
        request = await requests_repository.get_request(session, job["request_id"])
        if request is None:
            await repository.finish_job(session, job["id"])
            return
        engagement = await engagements_repository.get_engagement(session, request["engagement_id"])
        entries, trace_ids = await local_entries(session, request)
    authorization = service_authorization(context.settings, request["engagement_id"], settings.audit_token_ttl_s)
    read = await entries_of_request(settings, authorization, request)
    actions = linked_entries(read.entries, request["id"], trace_ids, request["cluster_id"])
    tier = engagement["tier"] if engagement else "unknown"
    markdown = render_report(request, tier, ordered([*entries, *actions]), audit_note(read.unavailable))
    async with context.database.unit_of_work() as session:
        await repository.finish_job(session, job["id"])
        now = utc_now()
        if not await repository.add_report(session, request["id"], markdown, now):
            return
        summary = "Post-incident report drafted" + (" (cluster actions missing)." if read.unavailable else ".")
        await repository.add_log(session, request["id"], now, "report.drafted", "system", summary)
        await system_audit(
            session,
            context.outbox,
            "incident.report.draft",
            AuditTargetV1(kind="Request", name=request["id"], cluster=request["cluster_id"]),
            request["engagement_id"],
            {"partner_ticket_id": request["partner_ticket_id"], "cluster_actions": len(actions)},
        )
        if request["partner_ticket_id"] is not None:
            data = {
                "request_id": request["id"],
                "partner_id": request["partner_id"],
                "partner_ticket_id": request["partner_ticket_id"],
                "markdown": markdown,
            }
            await notify_subscribers(session, request["engagement_id"], "incident.report", data)
