"""The review's scorecard: findings counted per category and severity, and the movement since the
previous review. The score weighs each finding by its severity (info 0 … critical 4), so the
movement reads the same way for security, reliability and cost: lower is better."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

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


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int  # 1..4

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @classmethod
    def of(cls, moment: datetime | date) -> Quarter:
        return cls(moment.year, (moment.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> Quarter:
        year, _, number = text.partition("-Q")
        if not (year.isdigit() and number in ("1", "2", "3", "4")):
            raise ValueError(f"quarter must look like 2026-Q3, not {text!r}")
        return cls(int(year), int(number))

    def start(self) -> date:
        return date(self.year, 3 * (self.number - 1) + 1, 1)

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
