"""Business calendar arithmetic: worked examples, holidays, DST, edges and validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from k8sops_sla_timer.domain.calendar import (
    SUNDAY_TO_THURSDAY,
    BusinessCalendar,
    Weekday,
    add_business_time,
    business_time_between,
    is_within_calendar,
)

FOUR_HOURS = timedelta(hours=4)
LONDON = "Europe/London"
DHAKA = "Asia/Dhaka"
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
MONDAY_TO_FRIDAY_LONDON = BusinessCalendar(LONDON)
SUNDAY_TO_THURSDAY_DHAKA = BusinessCalendar(DHAKA, SUNDAY_TO_THURSDAY, holiday_country="BD")


def local(timezone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A local wall-clock time, as the UTC instant the domain works with."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def test_monday_to_friday_p3_opened_friday_1700_is_due_monday_1100() -> None:
    opened = local(LONDON, 2026, 1, 9, 17)  # a Friday
    assert add_business_time(opened, FOUR_HOURS, MONDAY_TO_FRIDAY_LONDON) == local(LONDON, 2026, 1, 12, 11)


def test_sunday_to_thursday_opened_thursday_1700_is_due_sunday_1100() -> None:
    opened = local(DHAKA, 2026, 1, 8, 17)  # a Thursday; Friday and Saturday are the weekend
    due = add_business_time(opened, FOUR_HOURS, SUNDAY_TO_THURSDAY_DHAKA)
    assert due == local(DHAKA, 2026, 1, 11, 11)
    assert due.astimezone(ZoneInfo(DHAKA)).weekday() == Weekday.SUNDAY


def test_deadline_that_uses_the_budget_exactly_at_closing_stays_at_closing() -> None:
    opened = local(LONDON, 2026, 1, 6, 14)  # Tuesday 14:00 + 4 h = 18:00, closing time
    assert add_business_time(opened, FOUR_HOURS, MONDAY_TO_FRIDAY_LONDON) == local(LONDON, 2026, 1, 6, 18)


@pytest.mark.parametrize(
    ("opened", "due"),
    [
        pytest.param((2026, 1, 6, 2), (2026, 1, 6, 12), id="tuesday-night-before-opening"),
        pytest.param((2026, 1, 6, 19), (2026, 1, 7, 12), id="tuesday-evening-after-closing"),
        pytest.param((2026, 1, 6, 18), (2026, 1, 7, 12), id="exactly-at-closing"),
        pytest.param((2026, 1, 6, 8), (2026, 1, 6, 12), id="exactly-at-opening"),
        pytest.param((2026, 1, 10, 3), (2026, 1, 12, 12), id="saturday-night"),
        pytest.param((2026, 1, 11, 23), (2026, 1, 12, 12), id="sunday-late"),
    ],
)
def test_clock_started_outside_business_hours_starts_at_next_opening(
    opened: tuple[int, int, int, int], due: tuple[int, int, int, int]
) -> None:
    assert add_business_time(local(LONDON, *opened), FOUR_HOURS, MONDAY_TO_FRIDAY_LONDON) == local(LONDON, *due)


def test_public_holiday_is_skipped_as_a_whole_day() -> None:
    # 2026-12-16 (a Wednesday) is Victory Day in Bangladesh.
    opened = local(DHAKA, 2026, 12, 15, 17)
    with_holidays = add_business_time(opened, FOUR_HOURS, SUNDAY_TO_THURSDAY_DHAKA)
    without_holidays = add_business_time(opened, FOUR_HOURS, BusinessCalendar(DHAKA, SUNDAY_TO_THURSDAY))
    assert with_holidays == local(DHAKA, 2026, 12, 17, 11)
    assert without_holidays == local(DHAKA, 2026, 12, 16, 11)


def test_extra_holiday_dates_are_skipped_like_public_holidays() -> None:
    # Victory Day (public) then Thursday 17 December (extra date), then the Friday-Saturday weekend.
    calendar = BusinessCalendar(
        DHAKA,
        SUNDAY_TO_THURSDAY,
        holiday_country="BD",
        extra_holidays=frozenset({date(2026, 12, 17)}),
    )
    opened = local(DHAKA, 2026, 12, 15, 17)
    assert add_business_time(opened, FOUR_HOURS, calendar) == local(DHAKA, 2026, 12, 20, 11)
    assert not is_within_calendar(local(DHAKA, 2026, 12, 17, 10), calendar)


@pytest.mark.parametrize(
    ("timezone", "opened", "due", "due_utc"),
    [
        pytest.param(
            NEW_YORK,
            (2026, 3, 6, 17),
            (2026, 3, 9, 11),
            datetime(2026, 3, 9, 15, tzinfo=UTC),
            id="new-york-spring-forward",
        ),
        pytest.param(
            NEW_YORK,
            (2026, 10, 30, 17),
            (2026, 11, 2, 11),
            datetime(2026, 11, 2, 16, tzinfo=UTC),
            id="new-york-fall-back",
        ),
        pytest.param(
            BERLIN,
            (2026, 3, 27, 16),
            (2026, 3, 30, 10),
            datetime(2026, 3, 30, 8, tzinfo=UTC),
            id="berlin-spring-forward",
        ),
        pytest.param(
            BERLIN,
            (2026, 10, 23, 17),
            (2026, 10, 26, 11),
            datetime(2026, 10, 26, 10, tzinfo=UTC),
            id="berlin-fall-back",
        ),
    ],
)
def test_business_hours_follow_local_wall_clock_across_dst_weekends(
    timezone: str,
    opened: tuple[int, int, int, int],
    due: tuple[int, int, int, int],
    due_utc: datetime,
) -> None:
    calendar = BusinessCalendar(timezone)
    deadline = add_business_time(local(timezone, *opened), FOUR_HOURS, calendar)
    assert deadline == local(timezone, *due)
    assert deadline == due_utc
    assert deadline.tzinfo is UTC


def test_business_time_across_a_dst_weekend_counts_ten_hours_per_working_day() -> None:
    calendar = BusinessCalendar(NEW_YORK)
    friday_opening = local(NEW_YORK, 2026, 3, 6, 8)
    monday_closing = local(NEW_YORK, 2026, 3, 9, 18)
    assert business_time_between(friday_opening, monday_closing, calendar) == timedelta(hours=20)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param((2026, 1, 6, 9), (2026, 1, 6, 11, 30), timedelta(hours=2, minutes=30), id="same-day"),
        pytest.param((2026, 1, 6, 17), (2026, 1, 7, 9), timedelta(hours=2), id="overnight"),
        pytest.param((2026, 1, 9, 18), (2026, 1, 12, 8), timedelta(0), id="whole-weekend"),
        pytest.param((2026, 1, 10, 1), (2026, 1, 10, 23), timedelta(0), id="inside-saturday"),
        pytest.param((2026, 1, 5, 8), (2026, 1, 12, 8), timedelta(hours=50), id="one-week"),
        pytest.param((2026, 1, 6, 12), (2026, 1, 6, 12), timedelta(0), id="empty-span"),
    ],
)
def test_business_time_between_examples(start: tuple[int, ...], end: tuple[int, ...], expected: timedelta) -> None:
    assert business_time_between(local(LONDON, *start), local(LONDON, *end), MONDAY_TO_FRIDAY_LONDON) == expected


def test_a_whole_year_of_business_time_uses_every_working_day() -> None:
    # 2026 starts and ends on a Thursday: 52 whole weeks plus one Thursday = 261 working days.
    year_start = local(LONDON, 2026, 1, 1, 0)
    year_end = local(LONDON, 2027, 1, 1, 0)
    a_years_budget = timedelta(hours=261 * 10)
    assert business_time_between(year_start, year_end, MONDAY_TO_FRIDAY_LONDON) == a_years_budget
    assert add_business_time(year_start, a_years_budget, MONDAY_TO_FRIDAY_LONDON) == local(LONDON, 2026, 12, 31, 18)


def test_a_budget_of_whole_working_weeks_ends_at_friday_closing() -> None:
    saturday = local(LONDON, 2026, 1, 3, 12)
    two_working_weeks = timedelta(hours=2 * 5 * 10)
    assert add_business_time(saturday, two_working_weeks, MONDAY_TO_FRIDAY_LONDON) == local(LONDON, 2026, 1, 16, 18)


def test_a_local_date_the_timezone_skipped_has_no_business_hours() -> None:
    # Samoa jumped over 30 December 2011; its 08:00-18:00 must not count a second 31 December.
    every_day = BusinessCalendar("Pacific/Apia", working_weekdays=frozenset(Weekday))
    start = datetime(2011, 12, 29, tzinfo=ZoneInfo("Pacific/Apia"))
    end = datetime(2012, 1, 1, tzinfo=ZoneInfo("Pacific/Apia"))
    assert business_time_between(start, end, every_day) == timedelta(hours=20)


def test_is_within_calendar_includes_opening_and_excludes_closing() -> None:
    calendar = MONDAY_TO_FRIDAY_LONDON
    assert is_within_calendar(local(LONDON, 2026, 1, 6, 8), calendar)
    assert is_within_calendar(local(LONDON, 2026, 1, 6, 17, 59), calendar)
    assert not is_within_calendar(local(LONDON, 2026, 1, 6, 18), calendar)
    assert not is_within_calendar(local(LONDON, 2026, 1, 6, 7, 59), calendar)
    assert not is_within_calendar(local(LONDON, 2026, 1, 10, 12), calendar)  # Saturday


def test_public_holiday_is_outside_the_calendar() -> None:
    assert not is_within_calendar(local(DHAKA, 2026, 12, 16, 12), SUNDAY_TO_THURSDAY_DHAKA)
    assert is_within_calendar(local(DHAKA, 2026, 12, 15, 12), SUNDAY_TO_THURSDAY_DHAKA)


def test_custom_opening_hours_are_honoured() -> None:
    calendar = BusinessCalendar(LONDON, opens_at=time(9, 30), closes_at=time(17, 0))
    opened = local(LONDON, 2026, 1, 6, 16)
    assert add_business_time(opened, FOUR_HOURS, calendar) == local(LONDON, 2026, 1, 7, 12, 30)


def test_zero_budget_is_due_at_the_start() -> None:
    saturday = local(LONDON, 2026, 1, 10, 3)
    assert add_business_time(saturday, timedelta(0), MONDAY_TO_FRIDAY_LONDON) == saturday


def test_inputs_in_any_timezone_give_utc_results() -> None:
    opened_in_dhaka = datetime(2026, 1, 9, 23, tzinfo=ZoneInfo(DHAKA))  # Friday 17:00 in London
    due = add_business_time(opened_in_dhaka, FOUR_HOURS, MONDAY_TO_FRIDAY_LONDON)
    assert due == local(LONDON, 2026, 1, 12, 11)
    assert due.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(datetime(2026, 1, 6, 9), FOUR_HOURS, MONDAY_TO_FRIDAY_LONDON)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_within_calendar(datetime(2026, 1, 6, 9), MONDAY_TO_FRIDAY_LONDON)


def test_negative_budget_and_reversed_span_are_refused() -> None:
    start = local(LONDON, 2026, 1, 6, 9)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(start, -FOUR_HOURS, MONDAY_TO_FRIDAY_LONDON)
    with pytest.raises(ValueError, match="before start"):
        business_time_between(start, start - FOUR_HOURS, MONDAY_TO_FRIDAY_LONDON)


def test_calendar_built_from_plain_lists_is_normalised_and_hashable() -> None:
    from_rows = BusinessCalendar(DHAKA, [6, 0, 1, 2, 3], extra_holidays=[date(2026, 12, 17)])  # type: ignore[arg-type]
    assert from_rows.working_weekdays == SUNDAY_TO_THURSDAY
    assert all(isinstance(day, Weekday) for day in from_rows.working_weekdays)
    assert hash(from_rows) == hash(
        BusinessCalendar(DHAKA, SUNDAY_TO_THURSDAY, extra_holidays=frozenset({date(2026, 12, 17)}))
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"timezone": "Mars/Olympus_Mons"}, "unknown timezone", id="timezone"),
        pytest.param({"timezone": DHAKA, "holiday_country": "XX"}, "country code", id="country"),
        pytest.param({"timezone": DHAKA, "working_weekdays": frozenset()}, "working weekday", id="week"),
        pytest.param({"timezone": DHAKA, "working_weekdays": frozenset({7})}, "numbered 0", id="weekday"),
        pytest.param({"timezone": DHAKA, "opens_at": time(18), "closes_at": time(8)}, "before closing", id="hours"),
    ],
)
def test_invalid_calendars_are_refused_with_a_reason(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**arguments)  # type: ignore[arg-type]


def test_a_subdivision_adds_its_own_holidays_to_the_country_ones() -> None:
    # Easter Monday 29 March 2027 is a bank holiday in England, not in Scotland; Good Friday is in both.
    england = BusinessCalendar("Europe/London", holiday_country="GB-ENG")
    scotland = BusinessCalendar("Europe/London", holiday_country="GB-SCT")
    assert england.is_holiday(date(2027, 3, 29)) and not scotland.is_holiday(date(2027, 3, 29))
    assert england.is_holiday(date(2027, 3, 26)) and scotland.is_holiday(date(2027, 3, 26))
    # Labour Day: New South Wales keeps the first Monday of October (4 October 2027), Victoria the
    # second Monday of March (8 March 2027).
    sydney = BusinessCalendar("Australia/Sydney", holiday_country="AU-NSW")
    melbourne = BusinessCalendar("Australia/Melbourne", holiday_country="AU-VIC")
    assert sydney.is_holiday(date(2027, 10, 4)) and not melbourne.is_holiday(date(2027, 10, 4))
    assert melbourne.is_holiday(date(2027, 3, 8)) and not sydney.is_holiday(date(2027, 3, 8))


def test_an_unknown_subdivision_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="GB-ENG, GB-NIR, GB-SCT, GB-WLS"):
        BusinessCalendar("Europe/London", holiday_country="GB-XX")
