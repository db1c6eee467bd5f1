"""Timers follow their requests and engagements: armed on request.opened, stopped, re-targeted,
paused and resumed on request.updated, re-computed when an engagement's calendar changes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from opentelemetry import context as otel_context
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.bus.tracing import traceparent_of, within_trace
from k8sops_common.errors import ProblemError, not_found
from k8sops_common.events.catalog import EngagementChangedV1, RequestOpenedV1, RequestUpdatedV1

from .. import repository
from ..domain.policy import RESOLUTION_CLOCK_BY_TIER, ClockKind, Priority, Tier
from ..domain.timer import ResolutionClock, ResponseTimer, resolution_state, sla_state
from ..schemas import GoalOut, ResolutionOut, SlaStateOut
from .conversions import (
    cached_calendar,
    calendar_of,
    request_target,
    request_trace,
    resolution_clock_of,
    resolution_columns,
    response_timer_columns,
    response_timer_of,
)
from .policies import policy_targets

log = logging.getLogger(__name__)


# Statuses after which the request needs no more work: the resolution clock stops for good.
FINAL_STATUSES = frozenset({"resolved", "closed", "declined", "cancelled"})


async def apply_engagement_change(session: AsyncSession, outbox: Outbox, data: EngagementChangedV1) -> None:
    """Keeps the calendar and cluster copies current; arms timers that waited for this engagement.

    Running business-hours timers are re-computed on the new calendar (an added holiday moves
    their deadline), keeping the time they have used. Running timers keep the tier they were
    armed with: the contract in force when the request opened is the one it is measured on.
    """
    # The calendar needs only the union of the engagement's own extra days and its uploaded ones.
    holidays_off = sorted({*data.extra_holidays, *data.official_holidays})
    new_calendar = cached_calendar(  # validates timezone, weekdays and holiday region before storing
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
    await repository.lock_engagements_for_arming(session, [data.engagement_id])
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
                target=request_target(timer_row["request_id"], timer_row["cluster_id"]),
                engagement_id=data.engagement_id,
                details={
                    "reason": "engagement calendar changed",
                    "from_deadline": timer_row["due_at"].isoformat(),
                    "deadline": moved.due_at.isoformat(),
                },
            )


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
    # A replica applying one of these engagements right now cannot see the rows just inserted:
    # wait for it, so that this transaction sees its engagement (or it sees these rows).
    await repository.lock_engagements_for_arming(session, by_engagement)
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
        with within_trace((traces or {}).get(timer_row["request_id"]) or request_trace(timer_row)):
            await record_audit(
                session,
                outbox,
                actor=SYSTEM_ACTOR,
                action="sla.timer.arm",
                target=request_target(timer_row["request_id"], timer_row["cluster_id"]),
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
    target = request_target(data.request_id, timer_row["cluster_id"])
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


async def request_sla(session: AsyncSession, principal: Principal, request_id: str, now: datetime) -> SlaStateOut:
    """The request's response SLA and resolution time as of `now`, if the caller may read it."""
    row = await repository.get_timer(session, request_id)
    if row is None or not principal.can_see_engagement(row["engagement_id"]):
        raise not_found("request", request_id)
    if row["due_at"] is None:
        raise ProblemError(
            404,
            "SLA not armed yet",
            f"Request {request_id!r} is known but its engagement's calendar has not arrived yet; "
            "its SLA is armed from the opening time as soon as it does.",
            problem_type="sla-not-armed",
        )
    engagement = await repository.get_engagement(session, row["engagement_id"])
    assert engagement is not None  # an armed timer's engagement is known
    calendar = calendar_of(engagement)
    timer = response_timer_of(row, calendar)
    state = sla_state(timer, now)
    resolution = resolution_state(resolution_clock_of(row, calendar), now)
    return SlaStateOut(
        request_id=request_id,
        engagement_id=row["engagement_id"],
        cluster_id=row["cluster_id"],
        tier=row["tier"],
        priority=row["priority"],
        goal=GoalOut(budget_minutes=int(state.goal.budget.total_seconds() // 60), clock=state.goal.clock.value),
        started_at=state.started_at,
        deadline=state.deadline,
        warn_at=timer.warn_at,
        elapsed_seconds=state.elapsed.total_seconds(),
        remaining_seconds=state.remaining.total_seconds(),
        breached=state.breached,
        paused=state.paused,
        within_calendar=state.within_calendar,
        stopped_at=state.stopped_at,
        warned_at=timer.warned_at,
        breach_recorded_at=timer.breached_at,
        resolution=ResolutionOut(
            started_at=resolution.started_at,
            elapsed_seconds=resolution.elapsed.total_seconds(),
            paused=resolution.paused,
            within_calendar=resolution.within_calendar,
            resolved_at=resolution.resolved_at,
        ),
        as_of=now,
    )
