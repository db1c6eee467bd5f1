"""Quarters of the engagement's own calendar: which quarter an instant falls in and when a quarter
starts depend on the timezone, daylight saving time included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from k8sops_cost_analyzer.domain.report import _when
from k8sops_cost_analyzer.domain.review import Quarter, zone_of

DHAKA, NEW_YORK, LONDON = ZoneInfo("Asia/Dhaka"), ZoneInfo("America/New_York"), ZoneInfo("Europe/London")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_dhaka_quarters_start_at_local_midnight_six_hours_before_utc() -> None:
    assert Quarter(2027, 2).starts_at(DHAKA) == utc(2027, 3, 31, 18)
    assert Quarter(2027, 1).starts_at(DHAKA) == utc(2026, 12, 31, 18)
    assert Quarter(2027, 2).starts_at(DHAKA).tzinfo is UTC
    # 19:00 UTC on 31 March is 01:00 on 1 April in Dhaka.
    assert Quarter.of(utc(2027, 3, 31, 19), DHAKA) == Quarter(2027, 2)
    assert Quarter.of(utc(2027, 3, 31, 19)) == Quarter(2027, 1)
    assert Quarter.of(utc(2027, 3, 31, 17, 59), DHAKA) == Quarter(2027, 1)


@pytest.mark.parametrize(
    ("zone", "quarter", "start"),
    [
        (NEW_YORK, Quarter(2027, 1), utc(2027, 1, 1, 5)),  # EST, UTC-5
        (NEW_YORK, Quarter(2027, 2), utc(2027, 4, 1, 4)),  # EDT since 14 March, UTC-4
        (NEW_YORK, Quarter(2026, 4), utc(2026, 10, 1, 4)),  # still EDT (ends 1 November)
        (LONDON, Quarter(2027, 1), utc(2027, 1, 1, 0)),  # GMT
        (LONDON, Quarter(2027, 2), utc(2027, 3, 31, 23)),  # BST since 28 March, UTC+1
        (LONDON, Quarter(2026, 4), utc(2026, 9, 30, 23)),  # BST until 25 October
    ],
)
def test_daylight_saving_zones_start_their_quarters_at_local_midnight(
    zone: ZoneInfo, quarter: Quarter, start: datetime
) -> None:
    assert quarter.starts_at(zone) == start
    assert start.astimezone(zone).replace(tzinfo=None) == datetime.combine(quarter.start(), datetime.min.time())
    assert Quarter.of(start, zone) == quarter
    assert Quarter.of(start - timedelta(microseconds=1), zone) == quarter.previous()


def test_london_and_new_york_disagree_on_the_same_instant() -> None:
    moment = utc(2027, 3, 31, 23, 30)  # 00:30 BST on 1 April, 19:30 EDT on 31 March
    assert Quarter.of(moment, LONDON) == Quarter(2027, 2)
    assert Quarter.of(moment, NEW_YORK) == Quarter(2027, 1)


def test_a_midnight_swallowed_by_a_dst_gap_starts_the_quarter_at_the_gaps_end() -> None:
    # Paraguay sprang forward at 00:00 on 1 October 2023: that day began at 01:00 local (UTC-3).
    start = Quarter(2023, 4).starts_at(ZoneInfo("America/Asuncion"))
    assert start == utc(2023, 10, 1, 4)
    assert Quarter.of(start - timedelta(microseconds=1), ZoneInfo("America/Asuncion")) == Quarter(2023, 3)


def test_every_zone_agrees_with_itself_on_where_its_quarters_begin() -> None:
    for name in sorted(available_timezones()):
        zone = ZoneInfo(name)
        for quarter in (Quarter(2026, 4), Quarter(2027, 1), Quarter(2027, 2), Quarter(2027, 3)):
            start = quarter.starts_at(zone)
            assert Quarter.of(start, zone) == quarter, name
            assert Quarter.of(start - timedelta(microseconds=1), zone) == quarter.previous(), name


def test_unknown_timezones_and_dates_fall_back_to_utc() -> None:
    assert zone_of(None).key == zone_of("").key == zone_of("Mars/Olympus").key == "UTC"
    assert zone_of("America").key == "UTC"  # a folder of the tz database, not a zone
    assert zone_of("Asia/Dhaka") == DHAKA
    assert Quarter.of(datetime(2027, 3, 31, 19)) == Quarter(2027, 1)  # naive: read as UTC
    assert Quarter.of(datetime(2027, 3, 31, 19), DHAKA) == Quarter(2027, 2)
    assert Quarter.of(date(2027, 3, 31), DHAKA) == Quarter(2027, 1)  # a date is already local


def test_the_report_names_the_calendar_of_its_quarter() -> None:
    review = {"quarter": "2027-Q2", "timezone": "Asia/Dhaka", "generated_at": "2027-03-31T18:05:00+00:00"}
    assert _when(review) == "2027-Q2, Asia/Dhaka"
    assert _when({**review, "timezone": None}) == "2027-Q2"  # stored before the timezone was kept
    assert _when({"quarter": None, "generated_at": "2027-03-31T18:05:00+00:00"}) == "2027-03-31"
