"""The one way every service records an action: an `audit.event` in the same unit of work."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from .auth.principal import Principal
from .bus.outbox import Outbox
from .bus.tracing import current_trace_id
from .events.catalog import ActorV1, AuditEventV1, AuditTargetV1
from .events.envelope import utc_now

SYSTEM_ACTOR = ActorV1(sub="system", roles=[])


class AuditFields(TypedDict):
    actor: Principal | ActorV1
    action: str
    target: AuditTargetV1
    engagement_id: str | None
    outcome: NotRequired[Literal["success", "denied", "failure"]]
    authorization_ref: NotRequired[str | None]
    details: NotRequired[dict[str, str | int | bool | None] | None]


def audit_event(outbox: Outbox, **fields: Unpack[AuditFields]) -> AuditEventV1:
    """The audit event of an action, for a command that writes it with its other events in one
    `Outbox.add_all`."""
    actor = fields["actor"]
    if isinstance(actor, Principal):
        actor = ActorV1(sub=actor.sub, roles=actor.role_names)
    return AuditEventV1(
        actor=actor,
        action=fields["action"],
        target=fields["target"],
        engagement_id=fields["engagement_id"],
        outcome=fields.get("outcome", "success"),
        authorization_ref=fields.get("authorization_ref"),
        trace_id=current_trace_id(),
        source_service=outbox.source.rsplit("/", 1)[-1],
        occurred_at=utc_now(),
        details=fields.get("details") or {},
    )


async def record_audit(session: AsyncSession, outbox: Outbox, **fields: Unpack[AuditFields]) -> str:
    return await outbox.add(session, audit_event(outbox, **fields))
