"""Attaching an operation's report (`upgrade.report`) to its request and filing it to the tracker.

Like a cost report: the engagement's webhooks subscribed to `upgrade.report` get it (with the
partner and ticket ids when the request came from a partner ticket), and the request gets the
report itself plus a provider comment pointing at it, audited as `request.attach_operation_report`.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1, UpgradeReportV1
from k8sops_common.events.envelope import utc_now

from ..domain.lifecycle import Side
from ..domain.requests import report_comment
from ..kit import new_id, system_audit
from ..requests import repository as requests_repository
from ..requests.repository import CommentRecord
from ..requests.service import visible_request
from ..webhooks.service import notify_subscribers
from . import repository
from .repository import OperationReportRecord
from .schemas import OperationReportOut

log = logging.getLogger(__name__)
# Intake writes this comment (the runner's own step comments stay `upgrade-runner`'s).
REPORT_AUTHOR = "intake:operation-reports"


async def attach_report(session: AsyncSession, outbox: Outbox, event: UpgradeReportV1) -> None:
    data = event.model_dump(mode="json")
    if event.request_id is None:
        await notify_subscribers(session, event.engagement_id, "upgrade.report", data)
        return
    request = await requests_repository.get_request(session, event.request_id, for_update=True)
    if request is None:
        log.warning("upgrade.report for unknown request %s; filed without it", event.request_id)
        await notify_subscribers(session, event.engagement_id, "upgrade.report", data)
        return
    now = utc_now()
    record = OperationReportRecord(
        request_id=request["id"],
        operation_id=event.operation_id,
        kind=event.kind,
        outcome=data["outcome"],
        from_version=data["from_version"],
        to_version=data["to_version"],
        markdown=data["markdown"],
        report=data["report"],
        truncated=event.truncated,
        report_path=data["report_path"],
        reported_at=event.at,
        attached_at=now,
    )
    if not await repository.add_report(session, record):
        return
    body = report_comment(
        event.kind, event.operation_id, record["outcome"], event.truncated, request["id"], record["report_path"]
    )
    await requests_repository.add_comment(
        session,
        CommentRecord(
            id=new_id("cmt"),
            request_id=request["id"],
            author=REPORT_AUTHOR,
            side=Side.PROVIDER.value,
            body=body,
            created_at=now,
        ),
    )
    await system_audit(
        session,
        outbox,
        "request.attach_operation_report",
        AuditTargetV1(kind="Request", name=request["id"], cluster=event.cluster_id),
        event.engagement_id,
        {"operation_id": event.operation_id, "kind": event.kind, "outcome": record["outcome"]},
    )
    ticket = {"partner_id": request["partner_id"], "partner_ticket_id": request["partner_ticket_id"]}
    await notify_subscribers(session, event.engagement_id, "upgrade.report", {**data, **ticket})


async def list_reports(session: AsyncSession, principal: Principal, request_id: str) -> list[OperationReportOut]:
    await visible_request(session, principal, request_id)
    return [OperationReportOut.model_validate(row) for row in await repository.reports_of(session, request_id)]
