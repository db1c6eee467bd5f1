"""Maintenance windows: weekday + local start + duration, in the engagement's timezone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class MaintenanceWindow:
    weekday: int  # 0 = Monday
    start_local: time
    duration: timedelta
    timezone: str

    @classmethod
    def of(cls, weekday: int, start_local: str, duration_minutes: int, timezone: str) -> MaintenanceWindow:
        hours, minutes = (int(part) for part in start_local.split(":"))
        return cls(weekday, time(hours, minutes), timedelta(minutes=duration_minutes), timezone)

    def _opening_on(self, day: date) -> datetime:
        # Wall-clock start in the engagement's zone, in UTC so that adding the duration counts
        # elapsed time: a window across a DST change lasts what the contract says.
        return datetime.combine(day, self.start_local, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def _openings_around(self, now: datetime) -> list[datetime]:
        local_today = now.astimezone(ZoneInfo(self.timezone)).date()
        days = (local_today + timedelta(days=offset) for offset in range(-7, 8))
        return [self._opening_on(day) for day in days if day.weekday() == self.weekday]

    def current(self, now: datetime) -> tuple[datetime, datetime] | None:
        """(opens, closes) of the window `now` is in, if any."""
        for opens in self._openings_around(now):
            closes = opens + self.duration
            if opens <= now < closes:
                return opens, closes
        return None

    def is_open(self, now: datetime) -> bool:
        return self.current(now) is not None

    def next_opening(self, now: datetime) -> datetime:
        """When the next window opens (now, if one is open)."""
        if self.current(now) is not None:
            return now
        return min(opens for opens in self._openings_around(now) if opens > now)

    def remaining(self, now: datetime) -> timedelta:
        window = self.current(now)
        return window[1] - now if window else timedelta(0)
