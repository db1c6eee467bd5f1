"""Incident consumers: intake's own request events page and settle pages; SLA events escalate."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import ReceivedEvent, Subscriptions
from k8sops_common.bus.tracing import current_trace_id
from k8sops_common.events.catalog import CreditIssuedV1, RequestOpenedV1, RequestUpdatedV1, SlaWarningV1
from k8sops_common.service import ServiceContext

from ..requests import repository as intake_repository
from . import repository
from .paging import escalate, page_on_call_if_due, settle_pages
from .report import schedule_report

log = logging.getLogger(__name__)

CHANGE_SUMMARY = {
    "acknowledged": "Acknowledged",
    "status_changed": "Status {previous_status} → {status}",
    "priority_changed": "Priority {previous_priority} → {priority}",
    "commented": "Comment added",
}


def incident_subscriptions(context: ServiceContext, subscriptions: Subscriptions) -> Subscriptions:
    outbox = context.outbox

    async def on_request_opened(session: AsyncSession, event: ReceivedEvent) -> None:
        opened = event.data
        assert isinstance(opened, RequestOpenedV1)
        found = await repository.request_with_policy(session, opened.request_id)
        if found is None:
            return
        request, policy = found
        # The trace the request was opened in: actions other services take for it carry the same id.
        await repository.add_log(
            session, opened.request_id, opened.opened_at, "request.opened", opened.opened_by,
            f"Opened as {opened.priority} {opened.category}: {opened.title}",
            {"trace_id": current_trace_id(), "origin": opened.origin},
        )  # fmt: skip
        await page_on_call_if_due(session, outbox, request, policy=policy)

    async def on_request_updated(session: AsyncSession, event: ReceivedEvent) -> None:
        update = event.data
        assert isinstance(update, RequestUpdatedV1)
        request = await intake_repository.get_request(session, update.request_id, for_update=True)
        if request is None:
            return
        summary = CHANGE_SUMMARY[update.change].format(**update.model_dump())
        await repository.add_log(
            session, update.request_id, update.changed_at, f"request.{update.change}", update.changed_by, summary,
            {"status": update.status, "priority": update.priority, "trace_id": current_trace_id()},
        )  # fmt: skip
        if update.change == "priority_changed":
            await page_on_call_if_due(session, outbox, request)
        settled = await settle_pages(session, outbox, request, update.change, update.status)
        if settled and update.status == "resolved":
            await schedule_report(session, request)

    async def on_sla_warning(session: AsyncSession, event: ReceivedEvent) -> None:
        warning = event.data
        assert isinstance(warning, SlaWarningV1)
        request = await intake_repository.get_request(session, warning.request_id, for_update=True)
        if request is None:
            log.warning("sla.warning for unknown request %s; ignored", warning.request_id)
            return
        await repository.add_log(
            session, warning.request_id, warning.warned_at, "sla.warning", "sla-timer",
            f"80 % of the response budget used; deadline {warning.deadline.isoformat()}",
            {"deadline": warning.deadline.isoformat()},
        )  # fmt: skip
        note = f"not acknowledged at 80 % of the SLA; deadline {warning.deadline.isoformat()}"
        await escalate(session, outbox, request, "sla_warning", note)

    async def on_credit_issued(session: AsyncSession, event: ReceivedEvent) -> None:
        credit = event.data
        assert isinstance(credit, CreditIssuedV1)
        request = await intake_repository.get_request(session, credit.request_id, for_update=True)
        if request is None:
            log.warning("credit.issued for unknown request %s; ignored", credit.request_id)
            return
        await repository.add_log(
            session, credit.request_id, request["sla_breached_at"] or event.envelope.time, "sla.breached",
            "sla-timer", f"Response SLA breached; credit {credit.amount_bdt} BDT ({credit.period})",
            {"breach_id": credit.breach_id, "credit_bdt": str(credit.amount_bdt), "reason": credit.reason},
        )  # fmt: skip
        note = f"SLA breached, credit at stake {credit.amount_bdt} BDT"
        await escalate(session, outbox, request, "sla_breach", note)

    return (
        subscriptions.on(RequestOpenedV1, on_request_opened)
        .on(RequestUpdatedV1, on_request_updated)
        .on(SlaWarningV1, on_sla_warning)
        .on(CreditIssuedV1, on_credit_issued)
    )
