"""Intake's use cases: each runs inside the caller's unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import AuditTargetV1, RequestOpenedV1
from k8sops_common.events.envelope import utc_now
from sqlalchemy.ext.asyncio import AsyncSession

from . import repository
from .schemas import RequestCreate, RequestOut


@dataclass(frozen=True)
class OpenedRequest:
    request: RequestOut
    is_new: bool


def new_request_id() -> str:
    return f"req-{uuid.uuid4().hex[:20]}"


async def open_request(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    body: RequestCreate,
    idempotency_key: str | None,
    fingerprint: str,
) -> OpenedRequest:
    request_id = new_request_id()
    if idempotency_key is not None:
        stored_fingerprint, stored_id = await repository.claim_idempotency_key(
            session, principal.sub, idempotency_key, fingerprint, request_id
        )
        if stored_id != request_id:
            if stored_fingerprint != fingerprint:
                raise ProblemError(
                    422,
                    "Idempotency key reused",
                    "This Idempotency-Key was used with a different body; use a new key for a new request.",
                    problem_type="idempotency-key-reused",
                )
            existing = await repository.get_request(session, stored_id)
            assert existing is not None  # written in the same transaction as the key
            return OpenedRequest(RequestOut.model_validate(existing), is_new=False)
    opened_at = utc_now()
    values = {
        "id": request_id,
        **body.model_dump(),
        "status": "opened",
        "opened_by": principal.sub,
        "opened_at": opened_at,
    }
    await repository.add_request(session, values)
    await outbox.add(
        session,
        RequestOpenedV1(
            request_id=request_id,
            engagement_id=body.engagement_id,
            cluster_id=body.cluster_id,
            category=body.category,
            priority=body.priority,
            title=body.title,
            opened_at=opened_at,
            opened_by=principal.sub,
        ),
    )
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="request.open",
        target=AuditTargetV1(kind="Request", name=request_id, cluster=body.cluster_id),
        engagement_id=body.engagement_id,
        details={"category": body.category, "priority": body.priority},
    )
    return OpenedRequest(RequestOut.model_validate(values), is_new=True)
