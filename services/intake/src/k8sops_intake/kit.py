"""What every intake use case shares: fresh ids, problems, the acting party, idempotent creation."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import ActorV1, AuditTargetV1

from .models import idempotency_keys

T = TypeVar("T")
# Who acts: a caller's token, or a partner system / the platform itself.
Actor: TypeAlias = Principal | ActorV1


@dataclass(frozen=True)
class Created(Generic[T]):
    value: T
    is_new: bool


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def problem(status: int, title: str, detail: str, problem_type: str, **extensions: Any) -> ProblemError:
    return ProblemError(status, title, detail, problem_type=problem_type, **extensions)


def fingerprint_of(body: BaseModel, *scope: str) -> str:
    """What a replay must match: the body and the path it was sent to."""
    return hashlib.sha256("\n".join([*scope, body.model_dump_json()]).encode()).hexdigest()


async def claim_idempotency_key(
    session: AsyncSession, principal_sub: str, operation: str, key: str, fingerprint: str, resource_id: str
) -> tuple[str, str] | None:
    """Stores the key for this resource (None), or returns the (fingerprint, resource id) an earlier use stored.

    Concurrent requests with one key serialise on the primary key: the loser waits for the
    winner's commit and then sees its row.
    """
    claimed = await session.execute(
        insert(idempotency_keys)
        .values(
            principal_sub=principal_sub, operation=operation, key=key, fingerprint=fingerprint, resource_id=resource_id
        )
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    )
    if claimed.first() is not None:
        return None
    row = (
        await session.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.resource_id).where(
                idempotency_keys.c.principal_sub == principal_sub,
                idempotency_keys.c.operation == operation,
                idempotency_keys.c.key == key,
            )
        )
    ).one()
    return row.fingerprint, row.resource_id


async def replayed_id(
    session: AsyncSession, principal: Principal, operation: str, key: str | None, fingerprint: str, fresh_id: str
) -> str | None:
    """None when this is a first use (go ahead and create `fresh_id`); else the id the key created."""
    if key is None:
        return None
    earlier = await claim_idempotency_key(session, principal.sub, operation, key, fingerprint, fresh_id)
    if earlier is None:
        return None
    stored_fingerprint, stored_id = earlier
    if stored_fingerprint != fingerprint:
        raise problem(
            422,
            "Idempotency key reused",
            "This Idempotency-Key was used with a different body; use a new key for a new request.",
            "idempotency-key-reused",
        )
    return stored_id


async def system_audit(
    session: AsyncSession,
    outbox: Outbox,
    action: str,
    target: AuditTargetV1,
    engagement_id: str,
    details: dict[str, str | int | bool | None],
) -> None:
    await record_audit(
        session, outbox, actor=SYSTEM_ACTOR, action=action, target=target, engagement_id=engagement_id, details=details
    )
