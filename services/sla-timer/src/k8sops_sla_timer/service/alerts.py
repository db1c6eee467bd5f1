"""The scheduler's work: warnings, breaches with their credits, and escalations, fired exactly once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry import trace
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import Outbox
from k8sops_common.bus.tracing import traced
from k8sops_common.events.catalog import SlaWarningV1

from .. import repository
from ..domain.timer import ResponseTimer, TimerAlert
from .conversions import calendar_of, request_trace, response_timer_columns, response_timer_of
from .credits import CreditLedger, breach_and_credit
from .escalations import escalate_patterns
from .policies import credit_rules_in_force

tracer = trace.get_tracer(__name__)


@dataclass
class FiredAlerts:
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    timers: int = 0


async def fire_due_alerts(session: AsyncSession, outbox: Outbox, schema: str, now: datetime, limit: int) -> FiredAlerts:
    """Claims up to `limit` timers with an alert due at `now` and fires those alerts.

    The claim (`FOR UPDATE SKIP LOCKED`), the alerts, breaches, credits, escalations and the
    timers' "fired" marks all commit together, so an alert goes out exactly once even when the
    process dies halfway or several replicas poll at once. `now` is never later than the real
    time, so nothing fires before it is due.
    """
    rows = await repository.claim_due_timers(session, now, limit)
    fired = FiredAlerts(timers=len(rows))
    if not rows:
        return fired
    ledger = CreditLedger(
        session,
        await credit_rules_in_force(session),
        await repository.get_clusters(session, {row["cluster_id"] for row in rows if row["cluster_id"]}),
    )
    breach_rows: list[dict[str, Any]] = []
    credit_rows: list[dict[str, Any]] = []
    breached: dict[str, RowMapping] = {}
    timer_changes = []
    # Engagement locks are taken in one global order, so two replicas never wait on each other in a cycle.
    for row in sorted(rows, key=lambda row: (row["engagement_id"], row["request_id"])):
        timer = response_timer_of(row, calendar_of(row))
        with _alert_span(row, "sla.alert"):
            for alert in timer.alerts_due(now):
                if alert is TimerAlert.WARNING:
                    timer = timer.record_warning(now)
                    await _send_warning(outbox, session, row, timer, now)
                    fired.warnings += 1
                    continue
                if row["engagement_id"] not in breached:
                    await repository.lock_engagement_for_breaches(session, schema, row["engagement_id"])
                    breached[row["engagement_id"]] = row
                # The breach happened at the deadline, whenever the scheduler got to it.
                timer = timer.record_breach(timer.due_at)
                breach, credit = await breach_and_credit(session, outbox, row, timer, ledger, now)
                breach_rows.append(breach)
                credit_rows.append(credit)
                fired.breaches += 1
        timer_changes.append({"request_id": row["request_id"], **response_timer_columns(timer)})
    await repository.insert_breaches_and_credits(session, breach_rows, credit_rows)
    await repository.update_timers(session, timer_changes)
    for row in breached.values():
        with _alert_span(row, "sla.escalation check"):
            fired.escalations += await escalate_patterns(session, outbox, row, now)
    return fired


@contextmanager
def _alert_span(row: Mapping[Any, Any], name: str) -> Iterator[None]:
    """The scheduler's work for one timer, as a span in the trace of the request that opened it."""
    with traced(request_trace(row)), tracer.start_as_current_span(name, attributes={"request_id": row["request_id"]}):
        yield


async def _send_warning(
    outbox: Outbox, session: AsyncSession, row: Mapping[Any, Any], timer: ResponseTimer, now: datetime
) -> None:
    await outbox.add(
        session,
        SlaWarningV1(
            timer_id=row["request_id"],
            request_id=row["request_id"],
            engagement_id=row["engagement_id"],
            cluster_id=row["cluster_id"],
            priority=row["priority"],
            deadline=timer.due_at,
            warned_at=now,
        ),
    )
