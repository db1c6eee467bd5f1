"""SLA policies as data: response targets per tier and priority, credit rules per tier.

The defaults are the table of SPEC section 3 (the P1 figures are contractual) and the credit rules
of section 5. Operators may edit policies; the service stores them in its schema and builds an
`SlaPolicy` from the rows, so nothing here is hard-wired into the timer logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from k8sops_common.vocabulary import Priority, Tier
from k8sops_sla_timer.domain.calendar import (
    ZERO,
    BusinessCalendar,
    add_business_time,
    as_utc,
    business_time_between,
)

# Warnings go out when this share of the budget is used, measured on the target's own clock.
WARNING_AT_PERCENT_OF_BUDGET = 80


class ClockKind(StrEnum):
    """How a budget is measured: elapsed real time, or business time on the engagement calendar."""

    WALL = "wall"
    BUSINESS = "business"


@dataclass(frozen=True)
class ResponseTarget:
    """A first-response goal: a budget of time on a given clock."""

    budget: timedelta
    clock: ClockKind

    def __post_init__(self) -> None:
        if self.budget <= ZERO:
            raise ValueError(f"a response budget must be positive, got {self.budget}")


@dataclass(frozen=True)
class CreditRule:
    """What a breach is worth: a share of the cluster's monthly retainer, capped per month."""

    percent_of_retainer: Decimal
    monthly_cap_percent_of_retainer: Decimal

    def __post_init__(self) -> None:
        if self.percent_of_retainer < 0 or self.monthly_cap_percent_of_retainer < 0:
            raise ValueError("credit percentages cannot be negative")


@dataclass(frozen=True)
class Deadline:
    """When a response is due and when to warn that it soon will be, both in UTC."""

    opened_at: datetime
    warn_at: datetime
    due_at: datetime


def advance_on_clock(start: datetime, duration: timedelta, clock: ClockKind, calendar: BusinessCalendar) -> datetime:
    """The instant `duration` after `start`, measured on `clock`."""
    if clock is ClockKind.BUSINESS:
        return add_business_time(start, duration, calendar)
    if duration < ZERO:
        raise ValueError(f"cannot advance a clock by a negative duration, got {duration}")
    return as_utc(start, "start") + duration


def elapsed_on_clock(start: datetime, end: datetime, clock: ClockKind, calendar: BusinessCalendar) -> timedelta:
    """Time from `start` to `end` measured on `clock`; zero if `end` is not after `start`."""
    start_utc = as_utc(start, "start")
    end_utc = as_utc(end, "end")
    if end_utc <= start_utc:
        return ZERO
    if clock is ClockKind.BUSINESS:
        return business_time_between(start_utc, end_utc, calendar)
    return end_utc - start_utc


def compute_deadline(opened_at: datetime, target: ResponseTarget, calendar: BusinessCalendar) -> Deadline:
    """Deadline and warning time of a response target for a request opened at `opened_at`."""
    warning_budget = target.budget * WARNING_AT_PERCENT_OF_BUDGET / 100
    return Deadline(
        opened_at=as_utc(opened_at, "opened_at"),
        warn_at=advance_on_clock(opened_at, warning_budget, target.clock, calendar),
        due_at=advance_on_clock(opened_at, target.budget, target.clock, calendar),
    )


def _business_hours(hours: int) -> ResponseTarget:
    return ResponseTarget(timedelta(hours=hours), ClockKind.BUSINESS)


def _wall_clock(minutes: int) -> ResponseTarget:
    return ResponseTarget(timedelta(minutes=minutes), ClockKind.WALL)


DEFAULT_RESPONSE_TARGETS: Mapping[tuple[Tier, Priority], ResponseTarget] = MappingProxyType(
    {
        (Tier.BUSINESS, Priority.P1): _business_hours(4),
        (Tier.BUSINESS, Priority.P2): _business_hours(4),
        (Tier.BUSINESS, Priority.P3): _business_hours(4),
        (Tier.BUSINESS, Priority.P4): _business_hours(4),
        (Tier.ROUND_THE_CLOCK, Priority.P1): _wall_clock(30),
        (Tier.ROUND_THE_CLOCK, Priority.P2): _wall_clock(120),
        (Tier.ROUND_THE_CLOCK, Priority.P3): _business_hours(4),
        (Tier.ROUND_THE_CLOCK, Priority.P4): _business_hours(4),
        (Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, Priority.P1): _wall_clock(15),
        (Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, Priority.P2): _wall_clock(60),
        (Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, Priority.P3): _business_hours(4),
        (Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, Priority.P4): _business_hours(4),
    }
)

MONTHLY_CREDIT_CAP_PERCENT = Decimal("30")
DEFAULT_CREDIT_RULES: Mapping[Tier, CreditRule] = MappingProxyType(
    {
        Tier.BUSINESS: CreditRule(Decimal("5"), MONTHLY_CREDIT_CAP_PERCENT),
        Tier.ROUND_THE_CLOCK: CreditRule(Decimal("10"), MONTHLY_CREDIT_CAP_PERCENT),
        Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN: CreditRule(Decimal("15"), MONTHLY_CREDIT_CAP_PERCENT),
    }
)

# The clock a request's resolution time is measured on follows the tier's coverage.
RESOLUTION_CLOCK_BY_TIER: Mapping[Tier, ClockKind] = MappingProxyType(
    {
        Tier.BUSINESS: ClockKind.BUSINESS,
        Tier.ROUND_THE_CLOCK: ClockKind.WALL,
        Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN: ClockKind.WALL,
    }
)


@dataclass(frozen=True)
class SlaPolicy:
    """A complete policy: a response target for every tier and priority, a credit rule per tier."""

    response_targets: Mapping[tuple[Tier, Priority], ResponseTarget] = field(
        default_factory=lambda: DEFAULT_RESPONSE_TARGETS
    )
    credit_rules: Mapping[Tier, CreditRule] = field(default_factory=lambda: DEFAULT_CREDIT_RULES)

    def __post_init__(self) -> None:
        missing_targets = [
            f"{tier}/{priority}"
            for tier in Tier
            for priority in Priority
            if (tier, priority) not in self.response_targets
        ]
        if missing_targets:
            raise ValueError(f"policy has no response target for {', '.join(missing_targets)}")
        missing_rules = [str(tier) for tier in Tier if tier not in self.credit_rules]
        if missing_rules:
            raise ValueError(f"policy has no credit rule for {', '.join(missing_rules)}")

    def response_target(self, tier: Tier, priority: Priority) -> ResponseTarget:
        return self.response_targets[(tier, priority)]

    def credit_rule(self, tier: Tier) -> CreditRule:
        return self.credit_rules[tier]


DEFAULT_POLICY = SlaPolicy()
