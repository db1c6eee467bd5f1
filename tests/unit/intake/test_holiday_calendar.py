"""Official holiday calendars uploaded as .ics files: the dates they cover, and what is refused."""

from __future__ import annotations

from datetime import date

import pytest

from k8sops_intake.domain.holiday_calendar import HolidayCalendarError, holiday_dates


def ics(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{n}@gov.example\r\n{event}END:VEVENT\r\n" for n, event in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//gov.example//holidays//EN\r\n{body}END:VCALENDAR\r\n".encode()


def all_day(start: str, end: str | None = None, summary: str = "Holiday") -> str:
    ending = f"DTEND;VALUE=DATE:{end}\r\n" if end else ""
    return f"SUMMARY:{summary}\r\nDTSTART;VALUE=DATE:{start}\r\n{ending}"


def test_all_day_events_become_dates_and_dtend_is_exclusive() -> None:
    # Bangladesh 2027: Eid-ul-Fitr holidays 8-12 March (DTEND the 13th), Victory Day 16 December,
    # and a one-day event without DTEND; a repeated date is listed once.
    calendar = ics(
        all_day("20270308", "20270313", "Eid-ul-Fitr"),
        all_day("20271216", "20271217", "Victory Day"),
        all_day("20270321", summary="Shab-e-Qadr"),
        all_day("20270310", summary="Eid-ul-Fitr (again)"),
    )
    assert holiday_dates(calendar) == [
        date(2027, 3, 8),
        date(2027, 3, 9),
        date(2027, 3, 10),
        date(2027, 3, 11),
        date(2027, 3, 12),
        date(2027, 3, 21),
        date(2027, 12, 16),
    ]


def test_a_duration_in_whole_days_counts_like_dtend() -> None:
    assert holiday_dates(ics("SUMMARY:Durga Puja\r\nDTSTART;VALUE=DATE:20271019\r\nDURATION:P2D\r\n")) == [
        date(2027, 10, 19),
        date(2027, 10, 20),
    ]


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        pytest.param(b"holidays: 2027-03-29", "not an iCalendar file", id="not-ics"),
        pytest.param(ics(), "no VEVENT", id="no-events"),
        pytest.param(ics("SUMMARY:Meeting\r\nDTSTART:20270329T090000Z\r\n"), "time of day", id="timed-event"),
        pytest.param(ics("SUMMARY:Odd\r\nDTSTART;VALUE=DATE:2027XX01\r\n"), "unreadable DTSTART", id="bad-date"),
        pytest.param(ics("SUMMARY:No start\r\n"), "no DTSTART", id="no-start"),
        pytest.param(ics(all_day("20270101") + "RRULE:FREQ=YEARLY\r\n"), "repeats", id="recurring"),
        pytest.param(ics(all_day("20270110", "20270101")), "before it starts", id="backwards"),
        pytest.param(ics(all_day("20270101", "20270301")), "spans 59 days", id="too-long"),
        pytest.param(ics(all_day("18990101")), "outside", id="far-past"),
    ],
)
def test_unusable_calendars_are_refused_naming_the_problem(calendar: bytes, message: str) -> None:
    with pytest.raises(HolidayCalendarError, match=message):
        holiday_dates(calendar)
