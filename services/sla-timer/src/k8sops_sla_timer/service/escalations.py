"""Escalations: three breaches of one engagement within 30 days page the senior on call."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1, SlaEscalatedV1

from .. import repository
from ..domain.credits import BREACH_PATTERN_WINDOW_DAYS, escalations_due


async def escalate_patterns(session: AsyncSession, outbox: Outbox, row: Mapping[Any, Any], now: datetime) -> int:
    """Escalates every pattern of three breaches within 30 days that no escalation covered yet.

    A breach that could still join a pattern happened at most 30 local days ago; one more day
    covers any DST shift. Escalations after the oldest of those name the breaches already covered.
    """
    engagement_id = row["engagement_id"]
    since = now - timedelta(days=BREACH_PATTERN_WINDOW_DAYS + 1)
    recent = await repository.breaches_since(session, engagement_id, since)
    covered = await repository.escalated_breach_ids_since(session, engagement_id, since)
    patterns = escalations_due(
        [(breach["breach_id"], breach["breached_at"]) for breach in recent], covered, row["timezone"]
    )
    for breach_ids in patterns:
        escalation_id = f"escalation-{uuid.uuid4().hex}"
        await repository.insert_escalation(
            session,
            {
                "escalation_id": escalation_id,
                "engagement_id": engagement_id,
                "breach_ids": list(breach_ids),
                "senior_on_call": row["on_call"],
                "escalated_at": now,
            },
        )
        await outbox.add(
            session,
            SlaEscalatedV1(
                escalation_id=escalation_id,
                engagement_id=engagement_id,
                breach_ids=list(breach_ids),
                senior_on_call=row["on_call"],
                escalated_at=now,
            ),
        )
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action="sla.escalate",
            target=AuditTargetV1(kind="Engagement", name=engagement_id),
            engagement_id=engagement_id,
            details={
                "escalation_id": escalation_id,
                "breach_ids": ",".join(breach_ids),
                "senior_on_call": row["on_call"],
            },
        )
    return len(patterns)
