"""An engagement's official holiday calendar, uploaded as an iCalendar (.ics) file.

Governments and HR systems publish holidays as all-day VEVENTs (RFC 5545): DTSTART is a date and
DTEND, when present, the day after the last day, so Eid's three days are one event. The file is
parsed with the `icalendar` library and reduced to the set of dates; anything the deadline
arithmetic could not use (a timed event, a recurrence rule, an unreadable date) is refused with a
message naming the event, so the customer fixes the file instead of losing a holiday silently.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import icalendar

# One event spanning more than a month is a mistake in the file, not a holiday.
MAX_EVENT_DAYS = 31
MAX_DATES = 1000
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100


class HolidayCalendarError(ValueError):
    """The file is not a holiday calendar this service can use; the message says what to fix."""


def holiday_dates(ics: bytes) -> list[date]:
    """Every date the calendar's events cover, sorted and without repeats."""
    try:
        calendar = icalendar.Calendar.from_ical(ics)
    except ValueError as error:
        raise HolidayCalendarError(f"not an iCalendar file (RFC 5545): {error}") from None
    events = calendar.walk("VEVENT")
    if not events:
        raise HolidayCalendarError("the calendar has no VEVENT: list each holiday as an all-day event")
    days: set[date] = set()
    for number, event in enumerate(events, start=1):
        days.update(_event_days(event, f"event {number} ({event.get('SUMMARY', 'no summary')})"))
        if len(days) > MAX_DATES:
            raise HolidayCalendarError(f"more than {MAX_DATES} holiday dates: upload a few years at a time")
    return sorted(days)


def _event_days(event: icalendar.cal.Component, name: str) -> list[date]:
    if "RRULE" in event or "RDATE" in event:
        raise HolidayCalendarError(f"{name} repeats (RRULE/RDATE); list each year's date as its own event")
    first = _date_of(event, "DTSTART", name)
    if first is None:
        raise HolidayCalendarError(f"{name} has no DTSTART")
    end = _date_of(event, "DTEND", name)
    if "DURATION" in event:
        duration = event.decoded("DURATION")
        if not isinstance(duration, timedelta) or duration.days < 1 or duration.seconds:
            raise HolidayCalendarError(f"{name} has a DURATION that is not whole days")
        end = first + timedelta(days=duration.days)
    end = end or first + timedelta(days=1)  # an all-day event without an end lasts one day
    span = (end - first).days
    if span < 1:
        raise HolidayCalendarError(f"{name} ends ({end}) before it starts ({first})")
    if span > MAX_EVENT_DAYS:
        raise HolidayCalendarError(f"{name} spans {span} days; a holiday lasts at most {MAX_EVENT_DAYS}")
    if not EARLIEST_YEAR <= first.year <= LATEST_YEAR:
        raise HolidayCalendarError(f"{name} is in {first.year}, outside {EARLIEST_YEAR}-{LATEST_YEAR}")
    return [first + timedelta(days=offset) for offset in range(span)]


def _date_of(event: icalendar.cal.Component, field: str, name: str) -> date | None:
    if field not in event:
        return None
    value = event.decoded(field)
    # datetime is a subclass of date: a timed event has a time of day the calendar cannot use.
    if isinstance(value, datetime):
        raise HolidayCalendarError(f"{name} has a time of day in {field}; holidays are all-day events (VALUE=DATE)")
    if not isinstance(value, date):
        raise HolidayCalendarError(f"{name} has an unreadable {field} {str(event[field])!r}; use YYYYMMDD")
    return value
