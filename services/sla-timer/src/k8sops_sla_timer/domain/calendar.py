"""Business calendars: when an engagement's business-hours SLA clock runs.

A calendar opens at a local wall-clock time (08:00) and closes at another (18:00) on the
engagement's working days, in its IANA timezone, except on public holidays (from the `holidays`
library, by country code or country and subdivision, `GB-ENG`) and extra dates the engagement adds
(its own list and the official calendar it uploaded). The open windows are fixed in local
wall-clock time, so 08:00 stays 08:00 across DST changes; the business time inside a window is the
real elapsed time, which is the same as wall-clock time unless a DST change falls inside business
hours (no current timezone does that).

Every function takes timezone-aware datetimes (any zone) and returns UTC. The scheduler computes
deadlines for many thousands of timers, so the arithmetic walks whole days and skips whole weeks
(cached per calendar) instead of stepping minute by minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(days=7)


class Weekday(IntEnum):
    """Days of the week, numbered as `date.weekday()` numbers them."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


MONDAY_TO_FRIDAY: frozenset[Weekday] = frozenset(
    {Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY}
)
# Common in Bangladesh: Friday and Saturday are the weekend.
SUNDAY_TO_THURSDAY: frozenset[Weekday] = frozenset(
    {Weekday.SUNDAY, Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY}
)
DEFAULT_OPENS_AT = time(8, 0)
DEFAULT_CLOSES_AT = time(18, 0)


@dataclass(frozen=True)
class BusinessCalendar:
    """An engagement's business hours: timezone, working week, opening hours and holidays."""

    timezone: str
    working_weekdays: frozenset[Weekday] = MONDAY_TO_FRIDAY
    opens_at: time = DEFAULT_OPENS_AT
    closes_at: time = DEFAULT_CLOSES_AT
    holiday_country: str | None = None
    extra_holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown timezone {self.timezone!r}: use an IANA name such as 'Asia/Dhaka'") from error
        if not self.working_weekdays:
            raise ValueError("a business calendar needs at least one working weekday")
        try:
            weekdays = frozenset(Weekday(day) for day in self.working_weekdays)
        except ValueError as error:
            raise ValueError("working weekdays are numbered 0 (Monday) to 6 (Sunday)") from error
        # Rows from the database arrive as lists of ints; keep the value hashable and typed.
        object.__setattr__(self, "working_weekdays", weekdays)
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        if self.opens_at.tzinfo is not None or self.closes_at.tzinfo is not None:
            raise ValueError("opening and closing times are local wall-clock times without tzinfo")
        if not self.opens_at < self.closes_at:
            raise ValueError(f"opening time {self.opens_at} must be before closing time {self.closes_at}")
        if self.holiday_country is not None:
            holiday_region(self.holiday_country)

    @property
    def zone(self) -> ZoneInfo:
        # ZoneInfo caches instances per key, so this is a dictionary lookup.
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        if self.holiday_country is None:
            return False
        return day in _public_holidays(*holiday_region(self.holiday_country), day.year)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.working_weekdays and not self.is_holiday(day)


def add_business_time(start: datetime, budget: timedelta, calendar: BusinessCalendar) -> datetime:
    """The instant at which `budget` of business time has passed since `start`.

    Started outside business hours, the clock starts at the next opening. A deadline that uses
    up the budget exactly at closing time stays at closing; it is not moved to the next opening.
    A zero budget is due at `start` itself.
    """
    cursor = as_utc(start, "start")
    if budget < ZERO:
        raise ValueError(f"a business-time budget cannot be negative, got {budget}")
    if budget == ZERO:
        return cursor
    remaining = budget
    day = cursor.astimezone(calendar.zone).date()
    on_first_day = True
    while True:
        # After the first day the cursor sits before every window of a new week, so a week that
        # cannot use up the budget is skipped whole (strictly less: a budget ending exactly at
        # the week's last closing must land there, found by the day-by-day walk).
        if not on_first_day and day.weekday() == Weekday.MONDAY:
            week_total = _business_time_in_week(calendar, day)
            if week_total < remaining:
                remaining -= week_total
                day += ONE_WEEK
                continue
        window = _open_window(calendar, day)
        if window is not None:
            opens, closes = window
            begins = max(opens, cursor)
            if begins < closes:
                available = closes - begins
                if remaining <= available:
                    return begins + remaining
                remaining -= available
                cursor = closes
        day += ONE_DAY
        on_first_day = False


def business_time_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> timedelta:
    """How much business time passes from `start` to `end` (`end` must not be before `start`)."""
    start_utc = as_utc(start, "start")
    end_utc = as_utc(end, "end")
    if end_utc < start_utc:
        raise ValueError(f"end {end_utc.isoformat()} is before start {start_utc.isoformat()}")
    zone = calendar.zone
    first_day = start_utc.astimezone(zone).date()
    last_day = end_utc.astimezone(zone).date()
    total = ZERO
    day = first_day
    while day <= last_day:
        # A week strictly between the first and the last day lies wholly inside the span.
        if day > first_day and day.weekday() == Weekday.MONDAY and day + 6 * ONE_DAY < last_day:
            total += _business_time_in_week(calendar, day)
            day += ONE_WEEK
            continue
        window = _open_window(calendar, day)
        if window is not None:
            opens, closes = window
            overlap = min(closes, end_utc) - max(opens, start_utc)
            if overlap > ZERO:
                total += overlap
        day += ONE_DAY
    return total


def is_within_calendar(instant: datetime, calendar: BusinessCalendar) -> bool:
    """Whether the business clock runs at `instant` (opening included, closing excluded)."""
    instant_utc = as_utc(instant, "instant")
    window = _open_window(calendar, instant_utc.astimezone(calendar.zone).date())
    if window is None:
        return False
    opens, closes = window
    return opens <= instant_utc < closes


def as_utc(instant: datetime, name: str = "instant") -> datetime:
    """`instant` in UTC; naive datetimes are refused because their meaning is a guess."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)


@lru_cache(maxsize=16_384)
def _open_window(calendar: BusinessCalendar, day: date) -> tuple[datetime, datetime] | None:
    """The UTC instants at which `day` (a local date) opens and closes, or None if it is closed."""
    if not calendar.is_working_day(day):
        return None
    zone = calendar.zone
    opens = datetime.combine(day, calendar.opens_at, zone).astimezone(UTC)
    closes = datetime.combine(day, calendar.closes_at, zone).astimezone(UTC)
    # A local date a timezone skipped entirely (Pacific/Apia, 2011-12-30) would otherwise map
    # onto the next day's window and count it twice.
    if opens.astimezone(zone).date() != day or closes.astimezone(zone).date() != day:
        return None
    if closes <= opens:
        return None
    return opens, closes


@lru_cache(maxsize=4_096)
def _business_time_in_week(calendar: BusinessCalendar, monday: date) -> timedelta:
    total = ZERO
    for offset in range(7):
        window = _open_window(calendar, monday + offset * ONE_DAY)
        if window is not None:
            total += window[1] - window[0]
    return total


@cache
def holiday_region(code: str) -> tuple[str, str | None]:
    """`BD` -> ("BD", None), `GB-ENG` -> ("GB", "ENG"): a country, optionally one of its subdivisions,
    as the `holidays` library names them. Without its subdivision GB misses England's Easter Monday."""
    country, _, subdivision = code.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"no public holiday calendar for country code {code!r}: use an ISO 3166-1 code such as 'BD' or 'GB-ENG'"
        )
    if subdivision and subdivision not in supported[country]:
        raise ValueError(
            f"{country} has no subdivision {subdivision!r} with a holiday calendar: "
            f"use one of {', '.join(f'{country}-{name}' for name in supported[country])}"
        )
    return country, subdivision or None


@cache
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())
