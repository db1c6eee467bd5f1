"""The review's scorecard: findings counted per category and severity, and the movement since the
previous review. The score weighs each finding by its severity (info 0 … critical 4), so the
movement reads the same way for security, reliability and cost: lower is better. Quarters are
those of the engagement's calendar, in its timezone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from .posture import Category, Severity


@dataclass(frozen=True)
class CategoryScore:
    category: Category
    counts: dict[str, int]  # severity name -> count
    score: int
    previous_score: int | None

    @property
    def movement(self) -> str:
        if self.previous_score is None:
            return "new"
        if self.score < self.previous_score:
            return "better"
        if self.score > self.previous_score:
            return "worse"
        return "same"


def scorecard(findings: Iterable[tuple[Category, Severity]], previous: Mapping[str, int] | None) -> list[CategoryScore]:
    counts: dict[Category, dict[str, int]] = {c: {s.name.lower(): 0 for s in Severity} for c in Category}
    scores: dict[Category, int] = dict.fromkeys(Category, 0)
    for category, severity in findings:
        counts[category][severity.name.lower()] += 1
        scores[category] += int(severity)
    return [
        CategoryScore(c, counts[c], scores[c], None if previous is None else previous.get(c.value)) for c in Category
    ]


def zone_of(name: str | None) -> ZoneInfo:
    """The engagement's IANA timezone. UTC where it is unknown: clusters recorded before the
    timezone was kept, or a name this host's tz database lacks (intake validated it against its own)."""
    return ZoneInfo(name if name in _known_zones() else "UTC")


@cache
def _known_zones() -> frozenset[str]:
    # The names ZoneInfo can load; checked first, as ZoneInfo("America") fails with IsADirectoryError.
    return frozenset(available_timezones())


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter of the engagement's own calendar: which quarter an instant belongs to
    depends on the timezone (2027-03-31T19:00Z is 2027-Q2 in Asia/Dhaka, 2027-Q1 in UTC)."""

    year: int
    number: int  # 1..4

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @classmethod
    def of(cls, moment: datetime | date, zone: ZoneInfo | None = None) -> Quarter:
        """The quarter of a date, or of an instant on the wall clock of `zone` (UTC if None; a
        naive instant is read as UTC)."""
        if isinstance(moment, datetime):
            aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
            moment = aware.astimezone(zone or UTC).date()
        return cls(moment.year, (moment.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> Quarter:
        year, _, number = text.partition("-Q")
        if not (year.isdigit() and number in ("1", "2", "3", "4")):
            raise ValueError(f"quarter must look like 2026-Q3, not {text!r}")
        return cls(int(year), int(number))

    def start(self) -> date:
        return date(self.year, 3 * (self.number - 1) + 1, 1)

    def starts_at(self, zone: ZoneInfo) -> datetime:
        """The quarter's first instant in `zone`, as a UTC instant: 00:00 local on its first day.
        Where a DST gap swallows that midnight, fold=0 yields the gap's end, the day's first instant."""
        start = self.start()
        return datetime(start.year, start.month, start.day, tzinfo=zone).astimezone(UTC)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)


# Kubernetes minor versions with their end of standard support (upstream: about 14 months).
END_OF_SUPPORT: dict[str, date] = {
    "1.26": date(2024, 2, 28),
    "1.27": date(2024, 6, 28),
    "1.28": date(2024, 10, 28),
    "1.29": date(2025, 2, 28),
    "1.30": date(2025, 6, 28),
    "1.31": date(2025, 10, 28),
    "1.32": date(2026, 2, 28),
    "1.33": date(2026, 6, 28),
    "1.34": date(2026, 10, 27),
    "1.35": date(2027, 2, 28),
}


def support_status(minor: str, today: date) -> str:
    end = END_OF_SUPPORT.get(minor)
    if end is None:
        return "unknown (not in the support table)"
    if today > end:
        return f"end of support since {end.isoformat()}"
    return f"supported until {end.isoformat()}"
