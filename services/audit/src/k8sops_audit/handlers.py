"""Audit's consumer: every batch of `audit.event`s is appended to the chain in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import ReceivedEvent, Subscriptions
from k8sops_common.events.catalog import AuditEventV1
from k8sops_common.service import ServiceContext

from .service import append_events
from .tasks import tail_guard


def subscriptions(context: ServiceContext) -> Subscriptions:
    guard = tail_guard(context)

    async def append_audit_events(session: AsyncSession, events: list[ReceivedEvent]) -> None:
        guard.appended(await append_events(session, events, guard))

    return Subscriptions().on_batch(AuditEventV1, append_audit_events)
