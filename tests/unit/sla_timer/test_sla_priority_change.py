"""Issue 14, rule 1: a priority change keeps the time elapsed on the clock that was running.

The cases are computed by hand on a London k8s-247 engagement, Monday to Friday 08:00-18:00, in
November 2026 (GMT, so local time is UTC): P1 = 30 wall minutes, P2 = 120 wall minutes,
P3 = 4 business hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from k8sops_sla_timer.domain.calendar import MONDAY_TO_FRIDAY, BusinessCalendar
from k8sops_sla_timer.domain.policy import DEFAULT_POLICY, Priority, ResponseTarget, Tier
from k8sops_sla_timer.domain.timer import ResponseTimer, TimerAlert

LONDON = BusinessCalendar("Europe/London", MONDAY_TO_FRIDAY, holiday_country="GB-ENG")
P1, P2, P3 = (DEFAULT_POLICY.response_target(Tier.ROUND_THE_CLOCK, p) for p in (Priority.P1, Priority.P2, Priority.P3))


def nov(day: int, hour: int, minute: int = 0) -> datetime:
    # 27 November 2026 is a Friday; London is on GMT, so these are also UTC instants.
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_the_issue_case_friday_1750_p3_raised_to_p1_on_saturday_0300_is_due_0320() -> None:
    timer = ResponseTimer.arm(nov(27, 17, 50), P3, LONDON)
    assert timer.due_at == nov(30, 11, 50)  # 10 minutes on Friday, 3 h 50 on Monday
    raised = timer.retarget(P1, nov(28, 3))
    # 10 business minutes used on P3's clock; 20 of P1's 30 wall minutes left from 03:00.
    assert raised.elapsed(nov(28, 3)) == timedelta(minutes=10)
    assert raised.due_at == nov(28, 3, 20)
    assert raised.warn_at == nov(28, 3, 14)  # 80 % of 30 min = 24 min, 14 left
    assert raised.alerts_due(nov(28, 3)) == ()
    assert raised.elapsed(nov(28, 3, 15)) == timedelta(minutes=25)


def test_several_changes_accumulate_piecewise_each_stretch_on_its_own_clock() -> None:
    timer = ResponseTimer.arm(nov(27, 17, 50), P3, LONDON)
    # Saturday 03:00 to P2: 10 min used, 110 wall minutes left -> 04:50.
    to_p2 = timer.retarget(P2, nov(28, 3))
    assert to_p2.due_at == nov(28, 4, 50)
    # Saturday 03:30 back to P3: 10 + 30 wall minutes = 40 min used, 3 h 20 business left,
    # counted from Monday 08:00 -> 11:20 (30 minutes before the original 11:50).
    back_to_p3 = to_p2.retarget(P3, nov(28, 3, 30))
    assert back_to_p3.elapsed(nov(28, 3, 30)) == timedelta(minutes=40)
    assert back_to_p3.due_at == nov(30, 11, 20)
    # Saturday 04:00 to P1: the P3 stretch since 03:30 used no business time, still 40 min,
    # more than P1's 30: due at once, warning and breach both.
    to_p1 = back_to_p3.retarget(P1, nov(28, 4))
    assert to_p1.elapsed(nov(28, 4)) == timedelta(minutes=40)
    assert to_p1.due_at == nov(28, 4)
    assert to_p1.alerts_due(nov(28, 4)) == (TimerAlert.WARNING, TimerAlert.BREACH)


def test_lowering_from_wall_clock_counts_the_wall_minutes_then_business_time() -> None:
    # A P1 opened Saturday 03:00, lowered to P3 at 03:10: 10 wall minutes used, 3 h 50 of
    # business time left from Monday 08:00 -> 11:50.
    timer = ResponseTimer.arm(nov(28, 3), P1, LONDON).record_warning(nov(28, 3, 24))
    lowered = timer.retarget(P3, nov(28, 3, 10))
    assert lowered.due_at == nov(30, 11, 50)
    assert lowered.warn_at == nov(30, 11, 2)  # 80 % of 4 h = 3 h 12, 3 h 02 left
    assert lowered.warned_at is None


def test_a_change_after_the_deadline_leaves_the_breach_at_the_old_deadline() -> None:
    timer = ResponseTimer.arm(nov(28, 3), P1, LONDON)
    assert timer.retarget(P3, nov(28, 3, 31)) == timer


# Properties on the default k8s-247 and k8s-247-cluster-admin targets of every priority.

opened_instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
waits = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4))
tiers = st.sampled_from(list(Tier))
priorities = st.sampled_from(list(Priority))


def _target(tier: Tier, priority: Priority) -> ResponseTarget:
    return DEFAULT_POLICY.response_target(tier, priority)


@given(tier=tiers, old=priorities, new=priorities, opened=opened_instants, waited=waits, earlier=waits)
@settings(deadline=None, max_examples=300)
def test_raising_never_moves_a_deadline_later_and_lowering_never_earlier(
    tier: Tier, old: Priority, new: Priority, opened: datetime, waited: timedelta, earlier: timedelta
) -> None:
    # Start from a timer that has already had one change, so the piecewise state is exercised.
    first = ResponseTimer.arm(opened, _target(tier, Priority.P4), LONDON).retarget(_target(tier, old), opened + earlier)
    changed = first.retarget(_target(tier, new), opened + earlier + waited)
    # P1 is the highest priority; "raising" goes towards it.
    if new <= old:
        assert changed.due_at <= first.due_at
    if new >= old:
        assert changed.due_at >= first.due_at


@given(
    tier=tiers,
    original=priorities,
    other=priorities,
    opened=opened_instants,
    until_change=waits,
    until_back=waits,
)
@settings(deadline=None, max_examples=300)
def test_changing_and_changing_back_restores_the_original_deadline(
    tier: Tier,
    original: Priority,
    other: Priority,
    opened: datetime,
    until_change: timedelta,
    until_back: timedelta,
) -> None:
    original_target, other_target = _target(tier, original), _target(tier, other)
    # Back at the same instant, or later when both priorities run on the same kind of clock
    # (otherwise the stretch in between is, by the rule, measured on the other clock).
    if original_target.clock is not other_target.clock:
        until_back = timedelta(0)
    timer = ResponseTimer.arm(opened, original_target, LONDON)
    changed = timer.retarget(other_target, opened + until_change)
    back_at = opened + until_change + until_back
    assume(back_at < min(timer.due_at, changed.due_at))  # neither was due: no breach is a fact yet
    assert changed.retarget(original_target, back_at).due_at == timer.due_at
