"""Audit's consumer: every `audit.event` becomes one appended entry (a batch per transaction)."""

from __future__ import annotations

from typing import Any

from k8sops_common.bus import ReceivedEvent, Subscriptions
from k8sops_common.bus.tracing import trace_id_from_traceparent
from k8sops_common.events.catalog import AuditEventV1
from k8sops_common.events.envelope import utc_now
from sqlalchemy.ext.asyncio import AsyncSession

from . import repository


def entry_row(event: ReceivedEvent, seq: int) -> dict[str, Any]:
    data = event.data
    assert isinstance(data, AuditEventV1)
    return {
        "seq": seq,
        "event_id": event.id,
        "occurred_at": data.occurred_at,
        "recorded_at": utc_now(),
        "source_service": data.source_service,
        "actor_sub": data.actor.sub,
        "actor_roles": list(data.actor.roles),
        "action": data.action,
        "target_kind": data.target.kind,
        "target_name": data.target.name,
        "target_namespace": data.target.namespace,
        "target_cluster": data.target.cluster,
        "engagement_id": data.engagement_id,
        "outcome": data.outcome,
        "authorization_ref": data.authorization_ref,
        # The trace the action ran in; the Kafka header is the fallback for producers without it.
        "trace_id": data.trace_id or trace_id_from_traceparent(event.traceparent),
        "details": dict(data.details),
    }


async def append_audit_events(session: AsyncSession, events: list[ReceivedEvent]) -> None:
    first_seq = await repository.lock_for_append(session)
    await repository.append_entries(session, [entry_row(event, first_seq + i) for i, event in enumerate(events)])


def subscriptions(_: object) -> Subscriptions:
    return Subscriptions().on_batch(AuditEventV1, append_audit_events)
