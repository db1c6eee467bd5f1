"""Intake's consumers: SLA breaches, upgrade steps, operation and cost reports update the request and
notify subscribers."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR
from k8sops_common.bus import ReceivedEvent, Subscriptions
from k8sops_common.events.catalog import AuditTargetV1, CostReportV1, SlaBreachedV1, UpgradeReportV1, UpgradeStepV1
from k8sops_common.events.envelope import utc_now
from k8sops_common.service import ServiceContext

from .domain.lifecycle import Side
from .domain.requests import OperationStep, upgrade_step_action, upgrade_step_comment
from .incidents.handlers import incident_subscriptions
from .kit import new_id, system_audit
from .operation_reports.service import attach_report
from .requests import repository
from .requests.repository import CommentRecord
from .requests.service import apply_transition
from .webhooks.service import notify_subscribers

log = logging.getLogger(__name__)


def subscriptions(context: ServiceContext) -> Subscriptions:
    outbox = context.outbox

    async def on_sla_breached(session: AsyncSession, event: ReceivedEvent) -> None:
        breach = event.data
        assert isinstance(breach, SlaBreachedV1)
        request = await repository.get_request(session, breach.request_id, for_update=True)
        if request is None:
            log.warning("sla.breached for unknown request %s; ignored", breach.request_id)
            return
        if request["sla_breached_at"] is None:
            await repository.update_request(session, breach.request_id, {"sla_breached_at": breach.breached_at})
        await system_audit(
            session,
            outbox,
            "request.record_sla_breach",
            AuditTargetV1(kind="Request", name=breach.request_id, cluster=breach.cluster_id),
            breach.engagement_id,
            {"breach_id": breach.breach_id, "deadline": breach.deadline.isoformat()},
        )
        await notify_subscribers(session, breach.engagement_id, "sla.breached", breach.model_dump(mode="json"))

    async def on_upgrade_step(session: AsyncSession, event: ReceivedEvent) -> None:
        step = event.data
        assert isinstance(step, UpgradeStepV1)
        await notify_subscribers(session, step.engagement_id, "upgrade.step", step.model_dump(mode="json"))
        if step.request_id is None:
            return
        request = await repository.get_request(session, step.request_id, for_update=True)
        if request is None:
            log.warning("upgrade.step for unknown request %s; ignored", step.request_id)
            return
        request = await repository.update_request(
            session, step.request_id, {"upgrade_step": step.step, "upgrade_status": step.status}
        )
        progress = OperationStep(step.kind, step.step, step.status, step.state, step.plan_id, step.detail)
        comment = upgrade_step_comment(progress)
        if comment is not None:
            await repository.add_comment(
                session,
                CommentRecord(
                    id=new_id("cmt"),
                    request_id=step.request_id,
                    author="upgrade-runner",
                    side=Side.PROVIDER.value,
                    body=comment,
                    created_at=step.at,
                ),
            )
        action = upgrade_step_action(progress, request["status"])
        if action is not None:
            await apply_transition(session, outbox, SYSTEM_ACTOR, Side.PROVIDER, request, action, None)
        else:
            await system_audit(
                session,
                outbox,
                "request.record_upgrade_step",
                AuditTargetV1(kind="Request", name=step.request_id, cluster=step.cluster_id),
                step.engagement_id,
                {
                    "plan_id": step.plan_id,
                    "kind": step.kind,
                    "step": step.step,
                    "status": step.status,
                    "state": step.state,
                },
            )

    async def on_cost_report(session: AsyncSession, event: ReceivedEvent) -> None:
        report = event.data
        assert isinstance(report, CostReportV1)
        # Filed to the customer's tracker through their webhook, like every other report.
        await notify_subscribers(session, report.engagement_id, "cost.report", report.model_dump(mode="json"))
        if report.request_id is None:
            return
        request = await repository.get_request(session, report.request_id, for_update=True)
        if request is None:
            log.warning("cost.report for unknown request %s; ignored", report.request_id)
            return
        base = f"/v1/cost/analyses/{report.analysis_id}/report"
        body = (
            f"The {report.kind} of cluster {report.cluster_id} is ready: {report.findings} findings, "
            f"{report.monthly_savings_bdt:,.2f} BDT per month in recommended savings. "
            f"Report (cost-analyzer API): {base}.html, {base}.md, {base}.json"
        )
        await repository.add_comment(
            session,
            CommentRecord(
                id=f"cmt-{report.analysis_id}",
                request_id=report.request_id,
                author="cost-analyzer",
                side=Side.PROVIDER.value,
                body=body,
                created_at=utc_now(),
            ),
        )
        await system_audit(
            session,
            outbox,
            "request.attach_cost_report",
            AuditTargetV1(kind="Request", name=report.request_id, cluster=report.cluster_id),
            report.engagement_id,
            {"analysis_id": report.analysis_id, "monthly_savings_bdt": str(report.monthly_savings_bdt)},
        )

    async def on_upgrade_report(session: AsyncSession, event: ReceivedEvent) -> None:
        report = event.data
        assert isinstance(report, UpgradeReportV1)
        await attach_report(session, outbox, report)

    subscribed = (
        Subscriptions()
        .on(SlaBreachedV1, on_sla_breached)
        .on(UpgradeStepV1, on_upgrade_step)
        .on(UpgradeReportV1, on_upgrade_report)
        .on(CostReportV1, on_cost_report)
    )
    return incident_subscriptions(context, subscribed)
