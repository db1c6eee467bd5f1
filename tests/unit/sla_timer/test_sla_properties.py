"""Property-based tests of the business calendar, re-targeting and credits."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from k8sops_sla_timer.domain.calendar import (
    MONDAY_TO_FRIDAY,
    SUNDAY_TO_THURSDAY,
    BusinessCalendar,
    Weekday,
    add_business_time,
    business_time_between,
    is_within_calendar,
)
from k8sops_sla_timer.domain.credits import compute_credit
from k8sops_sla_timer.domain.policy import (
    DEFAULT_CREDIT_RULES,
    DEFAULT_RESPONSE_TARGETS,
    ClockKind,
    ResponseTarget,
    Tier,
    advance_on_clock,
    elapsed_on_clock,
)
from k8sops_sla_timer.domain.timer import ResolutionClock, ResponseTimer

ONE_MICROSECOND = timedelta(microseconds=1)

# Zones with DST at different local times and sizes (Lord Howe: 30 min), odd offsets
# (Kathmandu, Chatham), DST at midnight (Santiago) and a skipped day (Apia, 2011-12-30).
TIMEZONES = [
    "UTC",
    "Asia/Dhaka",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Santiago",
    "Pacific/Apia",
]
# 00:00-23:59 puts DST changes inside business hours, which the 08:00-18:00 default never sees.
OPENING_HOURS = [(time(8), time(18)), (time(9, 30), time(17)), (time(0), time(23, 59))]

calendars = st.builds(
    lambda timezone, working_weekdays, opening_hours, holiday_country, extra_holidays: BusinessCalendar(
        timezone=timezone,
        working_weekdays=working_weekdays,
        opens_at=opening_hours[0],
        closes_at=opening_hours[1],
        holiday_country=holiday_country,
        extra_holidays=extra_holidays,
    ),
    timezone=st.sampled_from(TIMEZONES),
    working_weekdays=st.one_of(
        st.just(MONDAY_TO_FRIDAY),
        st.just(SUNDAY_TO_THURSDAY),
        st.frozensets(st.sampled_from(list(Weekday)), min_size=1),
    ),
    opening_hours=st.sampled_from(OPENING_HOURS),
    holiday_country=st.sampled_from([None, "BD", "US", "DE"]),
    extra_holidays=st.frozensets(st.dates(min_value=date(2010, 1, 1), max_value=date(2031, 12, 31)), max_size=20),
)
instants = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))
budgets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=400))
positive_budgets = st.timedeltas(min_value=ONE_MICROSECOND, max_value=timedelta(hours=400))
response_targets = st.sampled_from(sorted(set(DEFAULT_RESPONSE_TARGETS.values()), key=repr))


@given(calendar=calendars, start=instants, budget=positive_budgets)
@settings(deadline=None)
def test_deadline_is_never_inside_closed_hours_except_exactly_at_closing(
    calendar: BusinessCalendar, start: datetime, budget: timedelta
) -> None:
    due = add_business_time(start, budget, calendar)
    closes_exactly_now = not is_within_calendar(due, calendar) and is_within_calendar(due - ONE_MICROSECOND, calendar)
    assert due > start
    assert is_within_calendar(due, calendar) or closes_exactly_now


@given(calendar=calendars, start=instants, first=budgets, second=budgets)
@settings(deadline=None)
def test_adding_budgets_in_two_steps_equals_adding_them_at_once(
    calendar: BusinessCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    in_two_steps = add_business_time(add_business_time(start, first, calendar), second, calendar)
    assert in_two_steps == add_business_time(start, first + second, calendar)


@given(calendar=calendars, start=instants, budget=budgets)
@settings(deadline=None)
def test_business_time_from_start_to_deadline_equals_the_budget(
    calendar: BusinessCalendar, start: datetime, budget: timedelta
) -> None:
    due = add_business_time(start, budget, calendar)
    assert business_time_between(start, due, calendar) == budget


@given(
    calendar=calendars,
    start=instants,
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=120)),
)
@settings(deadline=None)
def test_skipping_whole_weeks_matches_summing_day_by_day(
    calendar: BusinessCalendar, start: datetime, span: timedelta
) -> None:
    end = start + span
    boundaries = [start + timedelta(days=days) for days in range(span.days + 1)] + [end]
    summed_by_day = sum(
        (business_time_between(a, b, calendar) for a, b in pairwise(boundaries)),
        timedelta(0),
    )
    assert business_time_between(start, end, calendar) == summed_by_day
    assert summed_by_day <= span  # business time is real time inside the open windows


@given(calendar=calendars, start=instants, budget=budgets)
@settings(deadline=None)
def test_a_large_budget_lands_where_small_steps_land(
    calendar: BusinessCalendar, start: datetime, budget: timedelta
) -> None:
    step = timedelta(hours=7)
    stepped = start
    left = budget
    while left > step:
        stepped = add_business_time(stepped, step, calendar)
        left -= step
    assert add_business_time(start, budget, calendar) == add_business_time(stepped, left, calendar)


@given(
    calendar=calendars,
    opened=instants,
    first_target=response_targets,
    new_target=response_targets,
    waited=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
)
@settings(deadline=None)
def test_retarget_keeps_the_elapsed_time(
    calendar: BusinessCalendar,
    opened: datetime,
    first_target: ResponseTarget,
    new_target: ResponseTarget,
    waited: timedelta,
) -> None:
    now = opened + waited
    timer = ResponseTimer.arm(opened, first_target, calendar)
    retargeted = timer.retarget(new_target, now)
    if now >= timer.due_at:
        # Already due: the breach is a fact at the old deadline, whatever the new priority.
        assert retargeted == timer
        return
    # Measured on the clock that ran until the change, not on the new one.
    elapsed = elapsed_on_clock(opened, now, first_target.clock, calendar)

    assert retargeted.opened_at == opened
    assert retargeted.elapsed(now) == elapsed
    if elapsed < new_target.budget:
        expected_due = advance_on_clock(now, new_target.budget - elapsed, new_target.clock, calendar)
        assert retargeted.due_at == expected_due
        assert elapsed_on_clock(now, retargeted.due_at, new_target.clock, calendar) == new_target.budget - elapsed
    else:
        assert retargeted.due_at == now
        assert retargeted.is_breached(now)


@given(
    calendar=calendars,
    clock_kind=st.sampled_from(list(ClockKind)),
    opened=instants,
    stretches=st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)), max_size=8),
)
@settings(deadline=None)
def test_resolution_clock_counts_only_the_running_stretches(
    calendar: BusinessCalendar, clock_kind: ClockKind, opened: datetime, stretches: list[timedelta]
) -> None:
    # Stretches alternate: running, waiting on the customer, running, ...
    clock = ResolutionClock.start(opened, clock_kind, calendar)
    moment = opened
    running_time = timedelta(0)
    for index, stretch in enumerate(stretches):
        if index % 2 == 0:
            running_time += elapsed_on_clock(moment, moment + stretch, clock_kind, calendar)
            moment += stretch
            clock = clock.pause(moment)
        else:
            moment += stretch
            clock = clock.resume(moment)
    assert clock.elapsed(moment) == running_time


@given(
    retainer=st.decimals(min_value=0, max_value=10_000_000, places=2),
    tier=st.sampled_from(list(Tier)),
    breaches_this_month=st.integers(min_value=1, max_value=15),
)
def test_credits_never_exceed_the_monthly_cap(retainer: Decimal, tier: Tier, breaches_this_month: int) -> None:
    cap = retainer * DEFAULT_CREDIT_RULES[tier].monthly_cap_percent_of_retainer / 100
    credited = Decimal("0.00")
    for _ in range(breaches_this_month):
        credit = compute_credit(retainer, tier, credited)
        assert credit >= 0
        assert credit.as_tuple().exponent == -2
        credited += credit
    assert credited <= cap
