"""Partner use cases: linking a partner's ticketing system, and turning its signed ticket events into
requests (a new ticket opens one; a redelivered or edited ticket changes only what changed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import ActorV1, AuditTargetV1
from k8sops_common.events.envelope import utc_now

from ..domain.lifecycle import TERMINAL_STATUSES, Action, Side
from ..domain.webhooks import SignatureRejected, new_secret, verify
from ..engagements import repository as engagements_repository
from ..engagements.service import visible_engagement
from ..kit import Created, fingerprint_of, new_id, problem, replayed_id
from ..requests import repository as requests_repository
from ..requests.repository import RequestRecord
from ..requests.schemas import RequestOut
from ..requests.service import apply_transition, open_new_request, set_priority
from . import repository
from .repository import PartnerRecord
from .schemas import PartnerCreate, PartnerCreated, PartnerOut, PartnerTicket, PartnerTicketEvent, PartnerTicketReceipt


def _partner_out(row: PartnerRecord) -> dict[str, Any]:
    return {**row, "webhook_path": f"/v1/partners/{row['id']}/webhooks"}


async def register_partner(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    body: PartnerCreate,
    idempotency_key: str | None,
) -> Created[PartnerCreated]:
    await visible_engagement(session, principal, engagement_id)
    replayed = await replayed_id(
        session, principal, "partner.create", idempotency_key, fingerprint_of(body, engagement_id), body.id
    )
    if replayed is not None:
        existing = await repository.get_partner(session, replayed)
        assert existing is not None
        return Created(PartnerCreated.model_validate(_partner_out(existing)), is_new=False)
    partner = PartnerRecord(
        id=body.id,
        name=body.name,
        engagement_id=engagement_id,
        secret=new_secret(),
        created_by=principal.sub,
        created_at=utc_now(),
    )
    if not await repository.add_partner(session, partner):
        raise problem(409, "Partner exists", f"Partner id {body.id!r} is taken; choose another id.", "conflict")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="partner.register",
        target=AuditTargetV1(kind="Partner", name=body.id),
        engagement_id=engagement_id,
    )
    return Created(PartnerCreated.model_validate(_partner_out(partner)), is_new=True)


async def list_partners(session: AsyncSession, principal: Principal, engagement_id: str) -> list[PartnerOut]:
    await visible_engagement(session, principal, engagement_id)
    return [
        PartnerOut.model_validate(_partner_out(row)) for row in await repository.partners_of(session, engagement_id)
    ]


def _malformed(detail: str, errors: list[dict[str, Any]] | None = None) -> ProblemError:
    extensions = {"errors": errors} if errors else {}
    return problem(422, "Malformed webhook body", detail, "webhook-body-malformed", **extensions)


async def receive_partner_webhook(
    session: AsyncSession, outbox: Outbox, partner_id: str, headers: dict[str, str | None], body: bytes, now: datetime
) -> Created[PartnerTicketReceipt]:
    """A signed ticket event becomes or updates a request; any refusal stores nothing."""
    partner = await repository.get_partner(session, partner_id)
    if partner is None:
        raise problem(404, "Unknown partner", f"No partner {partner_id!r} is registered here.", "unknown-partner")
    try:
        message_id = verify(partner["secret"], headers, body, now)
    except SignatureRejected as rejected:
        raise problem(401, "Webhook refused", rejected.detail, rejected.problem_type) from rejected
    try:
        event = PartnerTicketEvent.model_validate_json(body)
    except ValidationError as error:
        problems = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in error.errors()]
        raise _malformed("The body is not a ticket event this endpoint accepts; see errors.", problems) from error
    if not await repository.claim_partner_message(session, partner_id, message_id):
        raise problem(
            409,
            "Webhook replayed",
            f"webhook-id {message_id!r} was received before; send each message once.",
            "webhook-replayed",
        )
    engagement_id = partner["engagement_id"]
    ticket = event.ticket
    actor = ActorV1(sub=f"partner:{partner_id}", roles=[])
    request_id = new_id("req")
    mapped = await repository.claim_partner_ticket(session, partner_id, ticket.id, request_id)
    if mapped == request_id:
        if ticket.cluster_id is not None:
            cluster = await engagements_repository.get_cluster(session, ticket.cluster_id, engagement_id=engagement_id)
            if cluster is None:
                raise _malformed(f"ticket.cluster_id {ticket.cluster_id!r} is not a cluster of this engagement.")
        fields = {
            "engagement_id": engagement_id,
            "cluster_id": ticket.cluster_id,
            "category": ticket.category,
            "priority": ticket.priority,
            "title": ticket.title,
            "description": ticket.description,
            "origin": "partner",
            "partner_id": partner_id,
            "partner_ticket_id": ticket.id,
        }
        opened = await open_new_request(session, outbox, actor, request_id, fields)
        if ticket.status == "cancelled" and opened.status == "opened":
            row = await requests_repository.get_request(session, request_id, for_update=True)
            assert row is not None
            opened = RequestOut.model_validate(
                await apply_transition(session, outbox, actor, Side.CUSTOMER, row, Action.CANCEL, None)
            )
        return Created(PartnerTicketReceipt(request_id=request_id, created=True, status=opened.status), is_new=True)
    row = await requests_repository.get_request(session, mapped, for_update=True)
    assert row is not None
    row = await _apply_ticket_update(session, outbox, actor, row, ticket)
    receipt = PartnerTicketReceipt.model_validate({"request_id": mapped, "created": False, "status": row["status"]})
    return Created(receipt, is_new=False)


async def _apply_ticket_update(
    session: AsyncSession, outbox: Outbox, actor: ActorV1, row: RequestRecord, ticket: PartnerTicket
) -> RequestRecord:
    """A redelivered or edited ticket: only what changed is applied, so a redelivery changes nothing."""
    if row["status"] in TERMINAL_STATUSES:
        return row
    if ticket.status == "cancelled":
        return await apply_transition(session, outbox, actor, Side.CUSTOMER, row, Action.CANCEL, None)
    if ticket.priority != row["priority"]:
        return await set_priority(session, outbox, actor, row, ticket.priority)
    return row
