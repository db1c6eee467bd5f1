"""sla-timer's use cases: each runs inside the caller's unit of work.

Timers live in the `timers` table and are turned into the pure domain objects
(`ResponseTimer`, `ResolutionClock`) for every decision, so the rules stay in `domain/`.
Every change is written with the events it raises (and its audit event) in one transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.bus.tracing import context_from_traceparent, traced, traceparent_of, within_trace
from k8sops_common.events.catalog import (
    AuditTargetV1,
    CreditIssuedV1,
    EngagementChangedV1,
    RequestOpenedV1,
    RequestUpdatedV1,
    SlaBreachedV1,
    SlaEscalatedV1,
    SlaWarningV1,
)

from . import repository
from .domain.calendar import BusinessCalendar, Weekday
from .domain.credits import BREACH_PATTERN_WINDOW_DAYS, ZERO_BDT, billing_period, compute_credit, escalations_due
from .domain.policy import (
    DEFAULT_RESPONSE_TARGETS,
    RESOLUTION_CLOCK_BY_TIER,
    ClockKind,
    CreditRule,
    Priority,
    ResponseTarget,
    Tier,
)
from .domain.timer import ResolutionClock, ResponseTimer, TimerAlert

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# SPEC section 3: "the P1 figures are contractual"; operators may edit every other target.
CONTRACTUAL_TARGETS = frozenset(
    {(Tier.ROUND_THE_CLOCK, Priority.P1), (Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, Priority.P1)}
)
# Statuses after which the request needs no more work: the resolution clock stops for good.
FINAL_STATUSES = frozenset({"resolved", "closed", "declined", "cancelled"})


class PolicyError(ValueError):
    """A policy edit the service refuses; the message says why."""


# Rows <-> domain objects


@lru_cache(maxsize=4096)
def _calendar(
    timezone: str, working_days: tuple[int, ...], holiday_country: str | None, extra_holidays: tuple[date, ...]
) -> BusinessCalendar:
    return BusinessCalendar(
        timezone,
        frozenset(Weekday(day) for day in working_days),
        holiday_country=holiday_country,
        extra_holidays=frozenset(extra_holidays),
    )


def calendar_of(row: Mapping[Any, Any]) -> BusinessCalendar:
    """The business calendar of an engagement row (or of a timer row joined with its engagement)."""
    return _calendar(
        row["timezone"],
        tuple(sorted(row["working_days"])),
        row["holiday_country"],
        tuple(sorted(row["extra_holidays"])),
    )


def response_timer_of(row: Mapping[Any, Any], calendar: BusinessCalendar) -> ResponseTimer:
    return ResponseTimer(
        opened_at=row["opened_at"],
        target=ResponseTarget(row["budget"], ClockKind(row["clock"])),
        calendar=calendar,
        warn_at=row["warn_at"],
        due_at=row["due_at"],
        acknowledged_at=row["acknowledged_at"],
        warned_at=row["warned_at"],
        breached_at=row["breached_at"],
        elapsed_before=row["response_elapsed_before"],
        clock_since=row["response_clock_since"],
    )


def response_timer_columns(timer: ResponseTimer) -> dict[str, Any]:
    return {
        "budget": timer.target.budget,
        "clock": str(timer.target.clock),
        "warn_at": timer.warn_at,
        "due_at": timer.due_at,
        "acknowledged_at": timer.acknowledged_at,
        "warned_at": timer.warned_at,
        "breached_at": timer.breached_at,
        "next_alert_at": timer.next_alert_at,
        "response_elapsed_before": timer.elapsed_before,
        "response_clock_since": timer.clock_since,
    }


def resolution_clock_of(row: Mapping[Any, Any], calendar: BusinessCalendar) -> ResolutionClock:
    return ResolutionClock(
        started_at=row["opened_at"],
        clock=ClockKind(row["resolution_clock"]),
        calendar=calendar,
        banked=row["resolution_banked"],
        running_since=row["resolution_running_since"],
        resolved_at=row["resolved_at"],
    )


def resolution_columns(clock: ResolutionClock) -> dict[str, Any]:
    return {
        "resolution_clock": str(clock.clock),
        "resolution_banked": clock.banked,
        "resolution_running_since": clock.running_since,
        "resolved_at": clock.resolved_at,
    }


async def policy_targets(session: AsyncSession, tier: Tier) -> dict[Priority, ResponseTarget]:
    """The response targets in force for every priority of `tier`."""
    targets = {
        Priority(row["priority"]): ResponseTarget(timedelta(minutes=row["budget_minutes"]), ClockKind(row["clock"]))
        for row in await repository.response_target_rows_of_tier(session, tier)
    }
    missing = set(Priority) - targets.keys()
    if missing:
        raise LookupError(f"no response target for {tier}/{sorted(missing)}: the policy table is incomplete")
    return targets


async def credit_rules_in_force(session: AsyncSession) -> dict[Tier, CreditRule]:
    return {
        Tier(row["tier"]): CreditRule(row["percent_of_retainer"], row["monthly_cap_percent_of_retainer"])
        for row in await repository.credit_rule_rows(session)
    }


def _request_target(request_id: str, cluster_id: str | None) -> AuditTargetV1:
    return AuditTargetV1(kind="Request", name=request_id, cluster=cluster_id)


# engagement.changed


async def apply_engagement_change(session: AsyncSession, outbox: Outbox, data: EngagementChangedV1) -> None:
    """Keeps the calendar and cluster copies current; arms timers that waited for this engagement.

    Running business-hours timers are re-computed on the new calendar (an added holiday moves
    their deadline), keeping the time they have used. Running timers keep the tier they were
    armed with: the contract in force when the request opened is the one it is measured on.
    """
    # The calendar needs only the union of the engagement's own extra days and its uploaded ones.
    holidays_off = sorted({*data.extra_holidays, *data.official_holidays})
    new_calendar = _calendar(  # validates timezone, weekdays and holiday region before storing
        data.timezone, tuple(sorted(data.working_days)), data.holiday_country, tuple(holidays_off)
    )
    previous = await repository.get_engagement(session, data.engagement_id)
    applied = await repository.upsert_engagement(
        session,
        {
            "engagement_id": data.engagement_id,
            "tier": data.tier,
            "timezone": data.timezone,
            "working_days": sorted(data.working_days),
            "holiday_country": data.holiday_country,
            "extra_holidays": holidays_off,
            "on_call": data.on_call,
            "deleted": data.change == "deleted",
            "changed_at": data.changed_at,
        },
    )
    if not applied:
        log.info("engagement %s: ignoring a version older than the stored one", data.engagement_id)
        return
    await repository.replace_clusters(
        session,
        data.engagement_id,
        [
            {
                "cluster_id": cluster.cluster_id,
                "engagement_id": data.engagement_id,
                "name": cluster.name,
                "monthly_retainer_bdt": cluster.monthly_retainer_bdt,
            }
            for cluster in data.clusters
        ],
    )
    if data.change == "deleted":
        return
    engagement = await repository.get_engagement(session, data.engagement_id)
    assert engagement is not None  # written above in this transaction
    await _arm_timers(session, outbox, await repository.unarmed_timers(session, data.engagement_id), engagement)
    if previous is not None and calendar_of(previous) != new_calendar:
        for timer_row in await repository.running_timers_on_clock(session, data.engagement_id, ClockKind.BUSINESS):
            timer = response_timer_of(timer_row, calendar_of(previous))
            moved = timer.on_calendar(new_calendar, data.changed_at)
            if moved.due_at == timer_row["due_at"]:
                continue
            await repository.update_timer(session, timer_row["request_id"], response_timer_columns(moved))
            await record_audit(
                session,
                outbox,
                actor=SYSTEM_ACTOR,
                action="sla.timer.retarget",
                target=_request_target(timer_row["request_id"], timer_row["cluster_id"]),
                engagement_id=data.engagement_id,
                details={
                    "reason": "engagement calendar changed",
                    "from_deadline": timer_row["due_at"].isoformat(),
                    "deadline": moved.due_at.isoformat(),
                },
            )


# request.opened / request.updated


async def open_timers(
    session: AsyncSession,
    outbox: Outbox,
    requests: list[RequestOpenedV1],
    traces: Mapping[str, otel_context.Context] | None = None,
) -> None:
    """Arms the requests' response timers and starts their resolution clocks.

    A request whose engagement is not known yet (its engagement.changed not consumed yet) gets a
    timer row without a deadline; the engagement's arrival arms it from the original opening
    time, so the time spent waiting counts and an overdue timer fires at once.
    """
    rows: dict[str, dict[str, Any]] = {
        data.request_id: {
            "request_id": data.request_id,
            "engagement_id": data.engagement_id,
            "cluster_id": data.cluster_id,
            "priority": data.priority,
            "opened_at": data.opened_at,
            "traceparent": traceparent_of((traces or {}).get(data.request_id)),
        }
        for data in requests
    }
    new_ids = await repository.insert_timers(session, list(rows.values()))
    by_engagement: dict[str, list[dict[str, Any]]] = {}
    for request_id in new_ids:
        by_engagement.setdefault(rows[request_id]["engagement_id"], []).append(rows[request_id])
    known = await repository.get_engagements(session, by_engagement)
    for engagement_id, timer_rows in by_engagement.items():
        engagement = known.get(engagement_id)
        if engagement is None or engagement["deleted"]:
            log.info("%d requests wait for engagement %s before arming", len(timer_rows), engagement_id)
            continue
        await _arm_timers(session, outbox, timer_rows, engagement, traces)


async def _arm_timers(
    session: AsyncSession,
    outbox: Outbox,
    timer_rows: Sequence[Mapping[Any, Any]],
    engagement: Mapping[Any, Any],
    traces: Mapping[str, otel_context.Context] | None = None,
) -> None:
    if not timer_rows:
        return
    tier = Tier(engagement["tier"])
    calendar = calendar_of(engagement)
    targets = await policy_targets(session, tier)
    changes = []
    for timer_row in timer_rows:
        target = targets[Priority(timer_row["priority"])]
        timer = ResponseTimer.arm(timer_row["opened_at"], target, calendar)
        resolution = ResolutionClock.start(timer_row["opened_at"], RESOLUTION_CLOCK_BY_TIER[tier], calendar)
        changes.append(
            {
                "request_id": timer_row["request_id"],
                "tier": str(tier),
                **response_timer_columns(timer),
                **resolution_columns(resolution),
            }
        )
        # The request's own trace: the event's, or the one stored with a timer armed later.
        with within_trace((traces or {}).get(timer_row["request_id"]) or _request_trace(timer_row)):
            await record_audit(
                session,
                outbox,
                actor=SYSTEM_ACTOR,
                action="sla.timer.arm",
                target=_request_target(timer_row["request_id"], timer_row["cluster_id"]),
                engagement_id=timer_row["engagement_id"],
                details={
                    "tier": str(tier),
                    "priority": timer_row["priority"],
                    "budget_minutes": int(target.budget.total_seconds() // 60),
                    "clock": str(target.clock),
                    "deadline": timer.due_at.isoformat(),
                },
            )
    await repository.update_timers(session, changes)
    for parked in await repository.take_parked_updates(session, [row["request_id"] for row in timer_rows]):
        update = RequestUpdatedV1.model_validate(parked["payload"])
        await apply_request_update(session, outbox, parked["event_id"], update)


async def apply_request_update(session: AsyncSession, outbox: Outbox, event_id: str, data: RequestUpdatedV1) -> None:
    """Stops, re-targets, pauses or resumes the request's clocks as of the update's own time.

    The first update that moves a request out of `opened` is the first response (an
    acknowledgement, or an operator going straight to work, declining, or the customer
    cancelling) and stops the response clock. An update for a timer not armed yet is parked and
    replayed when it is armed: request.updated and request.opened travel on different topics.
    """
    timer_row = await repository.get_timer(session, data.request_id, for_update=True)
    if timer_row is None or timer_row["due_at"] is None:
        payload = data.model_dump(mode="json")
        await repository.park_update(session, event_id, data.request_id, data.changed_at, payload)
        return
    engagement = await repository.get_engagement(session, timer_row["engagement_id"])
    assert engagement is not None  # an armed timer's engagement is known
    calendar = calendar_of(engagement)
    before = response_timer_of(timer_row, calendar)
    timer = before
    at = data.changed_at
    if data.priority != timer_row["priority"]:
        targets = await policy_targets(session, Tier(timer_row["tier"]))
        timer = timer.retarget(targets[Priority(data.priority)], at)
    if data.status != "opened":
        timer = timer.acknowledge(at)
    resolution = _advance_resolution(resolution_clock_of(timer_row, calendar), data.status, at)
    await repository.update_timer(
        session,
        data.request_id,
        {"priority": data.priority, **response_timer_columns(timer), **resolution_columns(resolution)},
    )
    target = _request_target(data.request_id, timer_row["cluster_id"])
    if before.due_at != timer.due_at:
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action="sla.timer.retarget",
            target=target,
            engagement_id=data.engagement_id,
            details={
                "from_priority": timer_row["priority"],
                "to_priority": data.priority,
                "from_deadline": before.due_at.isoformat(),
                "deadline": timer.due_at.isoformat(),
                "changed_by": data.changed_by,
            },
        )
    if before.is_running and not timer.is_running:
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action="sla.timer.stop",
            target=target,
            engagement_id=data.engagement_id,
            details={"status": data.status, "responded_by": data.changed_by, "within_sla": at < timer.due_at},
        )


def _advance_resolution(clock: ResolutionClock, status: str, at: datetime) -> ResolutionClock:
    if status in FINAL_STATUSES:
        return clock.resolve(at)
    if status == "waiting_on_customer":
        return clock.pause(at)
    return clock.resume(at)


# The scheduler's work


@dataclass
class FiredAlerts:
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    timers: int = 0


@dataclass
class _CreditLedger:
    """Clusters and credits of one scheduler batch, so each cluster's month is read once."""

    session: AsyncSession
    rules: Mapping[Tier, CreditRule]
    clusters: Mapping[str, RowMapping]
    credited: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    async def credit_for(
        self, row: Mapping[Any, Any], tier: Tier, deadline: datetime, period: str
    ) -> tuple[Decimal, str]:
        missed = f"{tier} {row['priority']} first response due {deadline.isoformat()} was missed"
        cluster = self.clusters.get(row["cluster_id"]) if row["cluster_id"] else None
        if cluster is None:
            # Still one credit per breach, so billing sees the breach and can settle it by hand.
            return ZERO_BDT, f"{missed}; the request names no known cluster, so there is no retainer to credit"
        key = (cluster["cluster_id"], period)
        if key not in self.credited:
            self.credited[key] = await repository.credited_in_period(self.session, *key)
        already = self.credited[key]
        retainer: Decimal = cluster["monthly_retainer_bdt"]
        amount = compute_credit(retainer, tier, already, self.rules)
        self.credited[key] = already + amount
        rule = self.rules[tier]
        reason = (
            f"{missed}: {rule.percent_of_retainer}% of the {retainer} BDT monthly retainer of cluster "
            f"{cluster['name']}, capped at {rule.monthly_cap_percent_of_retainer}% per month"
        )
        if amount < compute_credit(retainer, tier, ZERO_BDT, self.rules):
            reason += f"; {already} BDT already credited in {period}"
        return amount, reason


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
    ledger = _CreditLedger(
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
                breach, credit = await _breach_and_credit(session, outbox, row, timer, ledger, now)
                breach_rows.append(breach)
                credit_rows.append(credit)
                fired.breaches += 1
        timer_changes.append({"request_id": row["request_id"], **response_timer_columns(timer)})
    await repository.insert_breaches_and_credits(session, breach_rows, credit_rows)
    await repository.update_timers(session, timer_changes)
    for row in breached.values():
        with _alert_span(row, "sla.escalation check"):
            fired.escalations += await _escalate_patterns(session, outbox, row, now)
    return fired


def _request_trace(row: Mapping[Any, Any]) -> otel_context.Context | None:
    return context_from_traceparent(row["traceparent"]) if row.get("traceparent") else None


@contextmanager
def _alert_span(row: Mapping[Any, Any], name: str) -> Iterator[None]:
    """The scheduler's work for one timer, as a span in the trace of the request that opened it."""
    with traced(_request_trace(row)), tracer.start_as_current_span(name, attributes={"request_id": row["request_id"]}):
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


async def _breach_and_credit(
    session: AsyncSession,
    outbox: Outbox,
    row: Mapping[Any, Any],
    timer: ResponseTimer,
    ledger: _CreditLedger,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The breach and its one credit as rows to insert, with their events written to the outbox."""
    assert timer.breached_at is not None
    tier = Tier(row["tier"])
    request_id, engagement_id, cluster_id = row["request_id"], row["engagement_id"], row["cluster_id"]
    period = billing_period(timer.breached_at, row["timezone"])
    breach_id = f"breach-{uuid.uuid4().hex}"
    amount, reason = await ledger.credit_for(row, tier, timer.due_at, period)
    credit_id = f"credit-{uuid.uuid4().hex}"
    await outbox.add(
        session,
        SlaBreachedV1(
            breach_id=breach_id,
            request_id=request_id,
            engagement_id=engagement_id,
            cluster_id=cluster_id,
            tier=tier.value,
            priority=row["priority"],
            deadline=timer.due_at,
            breached_at=timer.breached_at,
        ),
    )
    await outbox.add(
        session,
        CreditIssuedV1(
            credit_id=credit_id,
            engagement_id=engagement_id,
            cluster_id=cluster_id,
            request_id=request_id,
            breach_id=breach_id,
            amount_bdt=amount,
            period=period,
            reason=reason,
        ),
    )
    await record_audit(
        session,
        outbox,
        actor=SYSTEM_ACTOR,
        action="sla.breach",
        target=_request_target(request_id, cluster_id),
        engagement_id=engagement_id,
        details={
            "breach_id": breach_id,
            "deadline": timer.due_at.isoformat(),
            "credit_id": credit_id,
            "credit_bdt": str(amount),
            "period": period,
        },
    )
    breach = {
        "breach_id": breach_id,
        "request_id": request_id,
        "engagement_id": engagement_id,
        "cluster_id": cluster_id,
        "tier": str(tier),
        "priority": row["priority"],
        "deadline": timer.due_at,
        "breached_at": timer.breached_at,
        "fired_at": now,
        "period": period,
    }
    credit = {
        "credit_id": credit_id,
        "breach_id": breach_id,
        "engagement_id": engagement_id,
        "cluster_id": cluster_id,
        "request_id": request_id,
        "amount_bdt": amount,
        "period": period,
        "reason": reason,
        "issued_at": now,
    }
    return breach, credit


async def _escalate_patterns(session: AsyncSession, outbox: Outbox, row: Mapping[Any, Any], now: datetime) -> int:
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


# Policies


async def edit_response_target(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    tier: Tier,
    priority: Priority,
    target: ResponseTarget,
) -> None:
    """Changes one response target; timers armed from now on use it, running ones keep theirs."""
    if (tier, priority) in CONTRACTUAL_TARGETS and target != DEFAULT_RESPONSE_TARGETS[(tier, priority)]:
        raise PolicyError(f"the {tier} {priority} response target is contractual and cannot be changed")
    budget_minutes = int(target.budget.total_seconds() // 60)
    before = await repository.update_response_target(
        session, tier, priority, budget_minutes, str(target.clock), principal.sub
    )
    if before is None:
        raise LookupError(f"no response target for {tier}/{priority}")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="sla.policy.response_target.update",
        target=AuditTargetV1(kind="SlaResponseTarget", name=f"{tier}/{priority}"),
        engagement_id=None,
        details={
            "from_budget_minutes": before["budget_minutes"],
            "from_clock": before["clock"],
            "budget_minutes": budget_minutes,
            "clock": str(target.clock),
        },
    )


async def edit_credit_rule(
    session: AsyncSession, outbox: Outbox, principal: Principal, tier: Tier, rule: CreditRule
) -> None:
    """Changes one tier's credit rule; breaches from now on use it."""
    before = await repository.update_credit_rule(
        session, tier, rule.percent_of_retainer, rule.monthly_cap_percent_of_retainer, principal.sub
    )
    if before is None:
        raise LookupError(f"no credit rule for {tier}")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="sla.policy.credit_rule.update",
        target=AuditTargetV1(kind="SlaCreditRule", name=str(tier)),
        engagement_id=None,
        details={
            "from_percent_of_retainer": str(before["percent_of_retainer"]),
            "from_monthly_cap_percent_of_retainer": str(before["monthly_cap_percent_of_retainer"]),
            "percent_of_retainer": str(rule.percent_of_retainer),
            "monthly_cap_percent_of_retainer": str(rule.monthly_cap_percent_of_retainer),
        },
    )
