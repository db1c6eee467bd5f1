"""Response timer transitions, re-targeting, alerts, the resolution clock and the SLA view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from k8sops_sla_timer.domain.calendar import SUNDAY_TO_THURSDAY, BusinessCalendar
from k8sops_sla_timer.domain.policy import (
    DEFAULT_POLICY,
    ClockKind,
    Priority,
    Tier,
    compute_deadline,
)
from k8sops_sla_timer.domain.timer import (
    ResolutionClock,
    ResponseTimer,
    TimerAlert,
    resolution_state,
    sla_state,
)

DHAKA = "Asia/Dhaka"
CALENDAR = BusinessCalendar(DHAKA, SUNDAY_TO_THURSDAY, holiday_country="BD")
P1_247 = DEFAULT_POLICY.response_target(Tier.ROUND_THE_CLOCK, Priority.P1)  # 30 min wall
P2_247 = DEFAULT_POLICY.response_target(Tier.ROUND_THE_CLOCK, Priority.P2)  # 2 h wall
P3_247 = DEFAULT_POLICY.response_target(Tier.ROUND_THE_CLOCK, Priority.P3)  # 4 business hours


def dhaka(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A 2026 wall-clock time in Dhaka as a UTC instant."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo(DHAKA)).astimezone(UTC)


def test_arming_uses_the_computed_deadline() -> None:
    opened = dhaka(1, 6, 10)
    timer = ResponseTimer.arm(opened, P3_247, CALENDAR)
    deadline = compute_deadline(opened, P3_247, CALENDAR)
    assert (timer.opened_at, timer.warn_at, timer.due_at) == (
        deadline.opened_at,
        deadline.warn_at,
        deadline.due_at,
    )
    assert timer.is_running


def test_acknowledgement_stops_the_clock_and_only_the_first_counts() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P1_247, CALENDAR)
    acknowledged = timer.acknowledge(dhaka(1, 6, 10, 20))
    assert acknowledged.acknowledge(dhaka(1, 6, 10, 25)) == acknowledged
    assert not acknowledged.is_running
    assert acknowledged.elapsed(dhaka(1, 6, 23)) == timedelta(minutes=20)
    assert not acknowledged.is_breached(dhaka(1, 6, 23))
    assert acknowledged.alerts_due(dhaka(1, 6, 23)) == ()
    assert acknowledged.next_alert_at is None


def test_late_acknowledgement_is_a_breach_even_if_the_scheduler_had_not_fired() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P1_247, CALENDAR)
    late = timer.acknowledge(dhaka(1, 6, 10, 40))
    assert late.is_breached(dhaka(1, 6, 10, 40))
    assert late.next_alert_at == dhaka(1, 6, 10, 40)
    assert late.alerts_due(dhaka(1, 6, 10, 40)) == (TimerAlert.BREACH,)


def test_warning_then_breach_each_go_out_once() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P1_247, CALENDAR)
    assert timer.next_alert_at == dhaka(1, 6, 10, 24)
    assert timer.alerts_due(dhaka(1, 6, 10, 23)) == ()
    assert timer.alerts_due(dhaka(1, 6, 10, 24)) == (TimerAlert.WARNING,)

    warned = timer.record_warning(dhaka(1, 6, 10, 24))
    assert warned.record_warning(dhaka(1, 6, 10, 25)) == warned
    assert warned.next_alert_at == dhaka(1, 6, 10, 30)
    assert warned.alerts_due(dhaka(1, 6, 10, 29)) == ()
    assert warned.alerts_due(dhaka(1, 6, 10, 30)) == (TimerAlert.BREACH,)

    breached = warned.record_breach(dhaka(1, 6, 10, 30))
    assert breached.alerts_due(dhaka(1, 6, 11)) == ()
    assert breached.next_alert_at is None


def test_a_timer_found_overdue_after_downtime_sends_both_alerts_in_order() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P1_247, CALENDAR)
    assert timer.alerts_due(dhaka(1, 6, 12)) == (TimerAlert.WARNING, TimerAlert.BREACH)


def test_raising_priority_keeps_the_elapsed_time() -> None:
    # A P2 (2 h) raised to P1 (30 min) after 20 minutes is due 10 minutes later, not 30.
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P2_247, CALENDAR)
    raised = timer.retarget(P1_247, dhaka(1, 6, 10, 20))
    assert raised.opened_at == dhaka(1, 6, 10)
    assert raised.due_at == dhaka(1, 6, 10, 30)
    assert raised.warn_at == dhaka(1, 6, 10, 24)
    assert raised.elapsed(dhaka(1, 6, 10, 20)) == timedelta(minutes=20)
    assert raised.remaining(dhaka(1, 6, 10, 20)) == timedelta(minutes=10)


def test_lowering_priority_keeps_the_elapsed_time_and_allows_a_new_warning() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P1_247, CALENDAR).record_warning(dhaka(1, 6, 10, 24))
    lowered = timer.retarget(P2_247, dhaka(1, 6, 10, 26))
    assert lowered.due_at == dhaka(1, 6, 12)
    assert lowered.warn_at == dhaka(1, 6, 11, 36)
    assert lowered.warned_at is None


def test_retarget_past_the_new_budget_is_due_immediately() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P2_247, CALENDAR)
    now = dhaka(1, 6, 10, 45)
    raised = timer.retarget(P1_247, now)
    assert raised.due_at == now
    assert raised.warn_at == now
    assert raised.alerts_due(now) == (TimerAlert.WARNING, TimerAlert.BREACH)
    assert raised.remaining(now) == timedelta(minutes=-15)


def test_retarget_from_wall_clock_to_business_hours_measures_business_time() -> None:
    # A P1 opened Tuesday 17:50 lowered to P3 at 18:00 has used 10 business minutes.
    timer = ResponseTimer.arm(dhaka(1, 6, 17, 50), P1_247, CALENDAR)
    lowered = timer.retarget(P3_247, dhaka(1, 6, 18))
    assert lowered.elapsed(dhaka(1, 6, 18)) == timedelta(minutes=10)
    assert lowered.due_at == dhaka(1, 7, 11, 50)


def test_retarget_from_business_hours_to_wall_clock_measures_wall_time() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P3_247, CALENDAR)
    raised = timer.retarget(P1_247, dhaka(1, 6, 10, 10))
    assert raised.due_at == dhaka(1, 6, 10, 30)
    assert raised.target.clock is ClockKind.WALL


def test_retarget_leaves_stopped_and_breached_timers_alone() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 10), P1_247, CALENDAR)
    acknowledged = timer.acknowledge(dhaka(1, 6, 10, 5))
    assert acknowledged.retarget(P2_247, dhaka(1, 6, 10, 6)) == acknowledged
    breached = timer.record_breach(dhaka(1, 6, 10, 30))
    assert breached.retarget(P2_247, dhaka(1, 6, 10, 31)) == breached


def test_sla_state_of_a_business_timer_overnight() -> None:
    timer = ResponseTimer.arm(dhaka(1, 6, 16), P3_247, CALENDAR)
    state = sla_state(timer, dhaka(1, 6, 22))
    assert state.goal == P3_247
    assert state.started_at == dhaka(1, 6, 16)
    assert state.deadline == dhaka(1, 7, 10)
    assert state.elapsed == timedelta(hours=2)
    assert state.remaining == timedelta(hours=2)
    assert not state.breached
    assert not state.paused
    assert not state.within_calendar
    assert state.stopped_at is None


def test_sla_state_of_a_breached_wall_clock_timer() -> None:
    timer = ResponseTimer.arm(dhaka(1, 9, 3), P1_247, CALENDAR)  # Friday night: weekend in Dhaka
    state = sla_state(timer, dhaka(1, 9, 3, 40))
    assert state.breached
    assert state.remaining == timedelta(minutes=-10)
    assert state.within_calendar  # a 24x7 wall clock has no closed hours


def test_resolution_clock_pauses_while_waiting_on_the_customer() -> None:
    clock = ResolutionClock.start(dhaka(1, 6, 10), ClockKind.WALL, CALENDAR)
    waiting = clock.pause(dhaka(1, 6, 11))
    assert waiting.is_paused
    assert waiting.pause(dhaka(1, 6, 12)) == waiting
    assert waiting.elapsed(dhaka(1, 6, 20)) == timedelta(hours=1)

    answered = waiting.resume(dhaka(1, 6, 15))
    assert answered.resume(dhaka(1, 6, 16)) == answered
    assert answered.elapsed(dhaka(1, 6, 17)) == timedelta(hours=3)

    resolved = answered.resolve(dhaka(1, 6, 18))
    assert resolved.elapsed(dhaka(1, 7, 18)) == timedelta(hours=4)
    assert resolved.pause(dhaka(1, 7, 19)) == resolved
    assert resolved.resume(dhaka(1, 7, 19)) == resolved
    assert not resolved.is_paused


def test_resolution_clock_on_business_hours_skips_nights() -> None:
    clock = ResolutionClock.start(dhaka(1, 6, 17), ClockKind.BUSINESS, CALENDAR)
    state = resolution_state(clock.pause(dhaka(1, 7, 9)), dhaka(1, 7, 12))
    assert state.elapsed == timedelta(hours=2)
    assert state.paused
    assert state.within_calendar
    assert state.resolved_at is None
