"""The one way every service records an action: an `audit.event` in the same unit of work."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from .auth.principal import Principal
from .bus.outbox import Outbox
from .bus.tracing import current_trace_id
from .events.catalog import ActorV1, AuditEventV1, AuditTargetV1
from .events.envelope import utc_now

SYSTEM_ACTOR = ActorV1(sub="system", roles=[])


async def record_audit(
    session: AsyncSession,
    outbox: Outbox,
    *,
    actor: Principal | ActorV1,
    action: str,
    target: AuditTargetV1,
    engagement_id: str | None,
    outcome: Literal["success", "denied", "failure"] = "success",
    authorization_ref: str | None = None,
    details: dict[str, str | int | bool | None] | None = None,
) -> str:
    if isinstance(actor, Principal):
        actor = ActorV1(sub=actor.sub, roles=actor.role_names)
    event = AuditEventV1(
        actor=actor,
        action=action,
        target=target,
        engagement_id=engagement_id,
        outcome=outcome,
        authorization_ref=authorization_ref,
        trace_id=current_trace_id(),
        source_service=outbox.source.rsplit("/", 1)[-1],
        occurred_at=utc_now(),
        details=details or {},
    )
    return await outbox.add(session, event)
