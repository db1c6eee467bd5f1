"""Dispute use cases: opening one, and each side's entries up to the customer admin's decision."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1
from k8sops_common.events.envelope import utc_now

from ..auth import dispute_sides, ensure_engagement_in_token, found
from ..domain.disputes import EntryRefused, WrongSide, check_entry
from ..engagements.service import ensure_engagement_and_cluster
from ..kit import Created, fingerprint_of, new_id, problem, replayed_id
from ..requests import repository as requests_repository
from . import repository
from .repository import DisputeEntryRecord, DisputeRecord
from .schemas import DisputeCreate, DisputeEntryIn, DisputeEntryOut, DisputeOut


async def _dispute_view(session: AsyncSession, dispute: DisputeRecord) -> DisputeOut:
    history = [DisputeEntryOut.model_validate(row) for row in await repository.dispute_history(session, dispute["id"])]
    same_subject = await repository.disputes_on_subject(
        session, dispute["engagement_id"], dispute["subject_kind"], dispute["subject_id"]
    )
    earlier = [
        other["id"]
        for other in same_subject
        if (other["opened_at"], other["id"]) < (dispute["opened_at"], dispute["id"])
    ]
    return DisputeOut.model_validate({**dispute, "history": history, "earlier_disputes": earlier})


async def open_dispute(
    session: AsyncSession, outbox: Outbox, principal: Principal, body: DisputeCreate, idempotency_key: str | None
) -> Created[DisputeOut]:
    ensure_engagement_in_token(principal, body.engagement_id)
    dispute_id = new_id("dsp")
    replayed = await replayed_id(session, principal, "dispute.open", idempotency_key, fingerprint_of(body), dispute_id)
    if replayed is not None:
        existing = await repository.get_dispute(session, replayed)
        assert existing is not None
        return Created(await _dispute_view(session, existing), is_new=False)
    await ensure_engagement_and_cluster(session, body.engagement_id, None)
    if body.subject_kind == "request":
        request = await requests_repository.get_request(session, body.subject_id)
        if request is None or request["engagement_id"] != body.engagement_id:
            raise problem(
                422,
                "Unknown request",
                f"Engagement {body.engagement_id!r} has no request {body.subject_id!r}.",
                "unknown-request",
            )
    dispute = DisputeRecord(
        id=dispute_id,
        engagement_id=body.engagement_id,
        subject_kind=body.subject_kind,
        subject_id=body.subject_id,
        summary=body.summary,
        status="open",
        opened_by=principal.sub,
        opened_at=utc_now(),
        decided_at=None,
    )
    await repository.add_dispute(session, dispute)
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="dispute.open",
        target=AuditTargetV1(kind="Dispute", name=dispute_id),
        engagement_id=body.engagement_id,
        details={"subject_kind": body.subject_kind, "subject_id": body.subject_id},
    )
    return Created(await _dispute_view(session, dispute), is_new=True)


async def _visible_dispute(
    session: AsyncSession, principal: Principal, dispute_id: str, *, for_update: bool = False
) -> DisputeRecord:
    dispute = await repository.get_dispute(session, dispute_id, readable_by=principal, for_update=for_update)
    return found(dispute, "dispute", dispute_id)


async def get_dispute(session: AsyncSession, principal: Principal, dispute_id: str) -> DisputeOut:
    return await _dispute_view(session, await _visible_dispute(session, principal, dispute_id))


async def add_dispute_entry(
    session: AsyncSession, outbox: Outbox, principal: Principal, dispute_id: str, body: DisputeEntryIn
) -> DisputeOut:
    dispute = await _visible_dispute(session, principal, dispute_id, for_update=True)
    recorded = {entry["kind"] for entry in await repository.dispute_history(session, dispute_id)}
    try:
        check_entry(body.kind, dispute_sides(principal), recorded, dispute["status"] == "decided")
    except EntryRefused as refusal:
        status = 403 if isinstance(refusal, WrongSide) else 409
        raise problem(
            status, "Entry refused", f"Cannot add {body.kind}: {refusal}.", "dispute-entry-refused"
        ) from refusal
    now = utc_now()
    await repository.add_dispute_entry(
        session,
        DisputeEntryRecord(
            dispute_id=dispute_id, kind=body.kind, text=body.text, author=principal.sub, recorded_at=now
        ),
    )
    if body.kind == "decision":
        await repository.set_dispute_decided(session, dispute_id, now)
    await record_audit(
        session,
        outbox,
        actor=principal,
        action=f"dispute.{body.kind}",
        target=AuditTargetV1(kind="Dispute", name=dispute_id),
        engagement_id=dispute["engagement_id"],
    )
    updated = await repository.get_dispute(session, dispute_id)
    assert updated is not None
    return await _dispute_view(session, updated)
