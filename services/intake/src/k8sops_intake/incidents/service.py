"""Incident response use cases behind the API: pager setup and bridge, paging policies, timeline, report."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import AuditTargetV1
from k8sops_common.events.envelope import utc_now
from k8sops_common.service import ServiceContext

from ..domain.webhooks import new_secret, target_refusal
from ..engagements import repository as engagements_repository
from ..engagements.service import visible_engagement
from ..kit import new_id
from ..requests.repository import RequestRecord
from ..requests.service import visible_request
from ..webhooks import repository as webhooks_repository
from ..webhooks.repository import EndpointRecord
from . import repository
from .audit_client import entries_of_request
from .domain import PagerRole
from .report import local_entries
from .repository import PagerTargetRecord, PolicyRecord, SetupRecord
from .schemas import (
    IncidentReportOut,
    IncidentResponseIn,
    IncidentResponseOut,
    PagerIn,
    PagerOut,
    PagingPolicyIn,
    PagingPolicyOut,
    TimelineEntryOut,
    TimelineOut,
)
from .settings import incident_settings
from .timeline import Entry, audit_note, linked_entries, ordered, render_report

ROLES: dict[str, PagerRole] = {"on_call": "on_call", "senior_on_call": "senior"}


# --- pager setup and bridge ----------------------------------------------------------------------


async def _setup_view(session: AsyncSession, engagement_id: str, secrets: dict[str, str]) -> IncidentResponseOut:
    setup = await repository.get_setup(session, engagement_id)
    targets = await repository.targets_of(session, engagement_id)
    pagers: dict[str, PagerOut | None] = {}
    for field, role in ROLES.items():
        target = targets.get(role)
        endpoint = await webhooks_repository.get_endpoint(session, target["webhook_endpoint_id"]) if target else None
        pagers[field] = (
            PagerOut(
                kind=target["kind"],
                url=endpoint["url"],
                webhook_id=endpoint["id"],
                enabled=endpoint["enabled"],
                secret=secrets.get(role),
            )
            if target and endpoint
            else None
        )
    return IncidentResponseOut(
        engagement_id=engagement_id,
        bridge_template=setup["bridge_template"] if setup else None,
        on_call=pagers["on_call"],
        senior_on_call=pagers["senior_on_call"],
        updated_by=setup["updated_by"] if setup else None,
        updated_at=setup["updated_at"] if setup else None,
    )


async def get_setup(session: AsyncSession, principal: Principal, engagement_id: str) -> IncidentResponseOut:
    await visible_engagement(session, principal, engagement_id, for_update=True)
    return await _setup_view(session, engagement_id, {})


async def _put_pager(
    session: AsyncSession,
    principal: Principal,
    engagement_id: str,
    role: PagerRole,
    pager: PagerIn,
    current: PagerTargetRecord | None,
) -> str | None:
    """Keeps an unchanged pager (and its secret); a changed one gets an endpoint of its own, and the
    old endpoint stays so the acknowledge and resolve of pages already sent reach where they went."""
    if current is not None:
        endpoint = await webhooks_repository.get_endpoint(session, current["webhook_endpoint_id"])
        if endpoint and (current["kind"], endpoint["url"], current["routing_key"]) == (
            pager.kind,
            pager.url,
            pager.routing_key,
        ):
            return None
    endpoint_id, secret = new_id("whk"), new_secret()
    await webhooks_repository.add_endpoint(
        session,
        EndpointRecord(
            id=endpoint_id,
            engagement_id=engagement_id,
            url=pager.url,
            event_types=[],  # no subscriptions: only pages are delivered here
            secret=secret,
            enabled=True,
            consecutive_failures=0,
            disabled_reason=None,
            created_by=principal.sub,
            created_at=utc_now(),
        ),
    )
    await repository.put_target(
        session,
        PagerTargetRecord(
            engagement_id=engagement_id,
            role=role,
            kind=pager.kind,
            webhook_endpoint_id=endpoint_id,
            routing_key=pager.routing_key,
        ),
    )
    return secret if pager.kind == "standard-webhooks" else None


async def put_setup(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    body: IncidentResponseIn,
    allow_private_targets: bool,
) -> IncidentResponseOut:
    await visible_engagement(session, principal, engagement_id, for_update=True)
    for field in ROLES:
        pager: PagerIn | None = getattr(body, field)
        refusal = target_refusal(pager.url, allow_private_targets) if pager else None
        if pager and refusal:
            raise ProblemError(
                422,
                "Pager target refused",
                f"{field}.url {pager.url}: {refusal}.",
                problem_type="webhook-target-refused",
            )
    now = utc_now()
    await repository.put_setup(
        session,
        SetupRecord(
            engagement_id=engagement_id, bridge_template=body.bridge_template, updated_by=principal.sub, updated_at=now
        ),
    )
    targets = await repository.targets_of(session, engagement_id)
    secrets: dict[str, str] = {}
    for field, role in ROLES.items():
        pager = getattr(body, field)
        if pager is None:
            await repository.delete_target(session, engagement_id, role)
            continue
        secret = await _put_pager(session, principal, engagement_id, role, pager, targets.get(role))
        if secret:
            secrets[role] = secret
    details: dict[str, str | int | bool | None] = {
        "bridge_template": body.bridge_template,
        "on_call": body.on_call.kind if body.on_call else None,
        "senior_on_call": body.senior_on_call.kind if body.senior_on_call else None,
    }
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="engagement.incident_response.update",
        target=AuditTargetV1(kind="Engagement", name=engagement_id),
        engagement_id=engagement_id,
        details=details,
    )
    return await _setup_view(session, engagement_id, secrets)


# --- paging policies -----------------------------------------------------------------------------


async def list_policies(session: AsyncSession) -> list[PagingPolicyOut]:
    return [PagingPolicyOut.model_validate(row) for row in await repository.policy_rows(session)]


async def put_policy(
    session: AsyncSession, outbox: Outbox, principal: Principal, key: dict[str, str], body: PagingPolicyIn
) -> PagingPolicyOut:
    values = cast(PolicyRecord, {**key, **body.model_dump(), "updated_by": principal.sub, "updated_at": utc_now()})
    before = await repository.upsert_policy(session, values)
    details: dict[str, str | int | bool | None] = {
        **key,
        "mode": body.mode,
        "escalate": body.escalate,
        "previous_mode": before["mode"] if before else None,
        "previous_escalate": before["escalate"] if before else None,
    }
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="paging_policy.update",
        target=AuditTargetV1(kind="PagingPolicy", name="/".join(key.values())),
        engagement_id=None,
        details=details,
    )
    return PagingPolicyOut.model_validate(values)


# --- timeline and report -------------------------------------------------------------------------


async def _timeline(
    context: ServiceContext, principal: Principal, request_id: str, authorization: str
) -> tuple[RequestRecord, str, list[Entry], str | None]:
    """The request, its tier, every entry, and why audit entries are missing (or None).

    The database transaction ends before the audit service is asked."""
    async with context.database.unit_of_work() as session:
        request = await visible_request(session, principal, request_id)
        engagement = await engagements_repository.get_engagement(session, request["engagement_id"])
        entries, trace_ids = await local_entries(session, request)
    tier = engagement["tier"] if engagement else "unknown"
    read = await entries_of_request(incident_settings(context), authorization, request)
    linked = linked_entries(read.entries, request_id, trace_ids, request["cluster_id"])
    return request, tier, ordered([*entries, *linked]), read.unavailable


def _entry_out(entry: Entry) -> TimelineEntryOut:
    details: dict[str, Any] = {
        key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in entry.details.items()
    }
    return TimelineEntryOut(
        at=entry.at, kind=entry.kind, actor=entry.actor, summary=entry.summary, source=entry.source, details=details
    )


async def timeline(context: ServiceContext, principal: Principal, request_id: str, authorization: str) -> TimelineOut:
    _, _, entries, unavailable = await _timeline(context, principal, request_id, authorization)
    return TimelineOut(
        request_id=request_id, entries=[_entry_out(entry) for entry in entries], audit_unavailable=unavailable
    )


async def incident_report(
    context: ServiceContext, principal: Principal, request_id: str, authorization: str
) -> IncidentReportOut:
    """The draft rendered now from the full timeline, beside the one attached at resolution."""
    async with context.database.unit_of_work() as session:
        await visible_request(session, principal, request_id)
        stored = await repository.get_report(session, request_id)
    request, tier, entries, unavailable = await _timeline(context, principal, request_id, authorization)
    return IncidentReportOut(
        request_id=request_id,
        markdown=render_report(request, tier, entries, audit_note(unavailable)),
        attached_markdown=stored["markdown"] if stored else None,
        attached_at=stored["drafted_at"] if stored else None,
    )
