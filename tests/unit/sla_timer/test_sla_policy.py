"""The default policy table (SPEC section 3) and deadline computation on both clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from k8sops_sla_timer.domain.calendar import BusinessCalendar
from k8sops_sla_timer.domain.policy import (
    DEFAULT_CREDIT_RULES,
    DEFAULT_POLICY,
    DEFAULT_RESPONSE_TARGETS,
    ClockKind,
    CreditRule,
    Deadline,
    Priority,
    ResponseTarget,
    SlaPolicy,
    Tier,
    compute_deadline,
)

BUSINESS = ClockKind.BUSINESS
WALL = ClockKind.WALL
LONDON = "Europe/London"
NEW_YORK = "America/New_York"


def local(timezone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


@pytest.mark.parametrize(
    ("tier", "priority", "budget", "clock"),
    [
        ("k8s-business", "P1", timedelta(hours=4), BUSINESS),
        ("k8s-business", "P2", timedelta(hours=4), BUSINESS),
        ("k8s-business", "P3", timedelta(hours=4), BUSINESS),
        ("k8s-business", "P4", timedelta(hours=4), BUSINESS),
        ("k8s-247", "P1", timedelta(minutes=30), WALL),
        ("k8s-247", "P2", timedelta(hours=2), WALL),
        ("k8s-247", "P3", timedelta(hours=4), BUSINESS),
        ("k8s-247", "P4", timedelta(hours=4), BUSINESS),
        ("k8s-247-cluster-admin", "P1", timedelta(minutes=15), WALL),
        ("k8s-247-cluster-admin", "P2", timedelta(hours=1), WALL),
        ("k8s-247-cluster-admin", "P3", timedelta(hours=4), BUSINESS),
        ("k8s-247-cluster-admin", "P4", timedelta(hours=4), BUSINESS),
    ],
)
def test_default_response_targets_match_the_spec_table(
    tier: str, priority: str, budget: timedelta, clock: ClockKind
) -> None:
    assert DEFAULT_POLICY.response_target(Tier(tier), Priority(priority)) == ResponseTarget(budget, clock)


def test_default_table_has_exactly_one_target_per_tier_and_priority() -> None:
    assert len(DEFAULT_RESPONSE_TARGETS) == len(Tier) * len(Priority)


@pytest.mark.parametrize(
    ("tier", "percent"),
    [("k8s-business", "5"), ("k8s-247", "10"), ("k8s-247-cluster-admin", "15")],
)
def test_default_credit_rules_match_the_spec(tier: str, percent: str) -> None:
    assert DEFAULT_CREDIT_RULES[Tier(tier)] == CreditRule(Decimal(percent), Decimal("30"))


def test_a_policy_missing_a_target_is_refused() -> None:
    incomplete = {
        key: target for key, target in DEFAULT_RESPONSE_TARGETS.items() if key != (Tier.ROUND_THE_CLOCK, Priority.P4)
    }
    with pytest.raises(ValueError, match="k8s-247/P4"):
        SlaPolicy(response_targets=incomplete)


def test_an_edited_policy_is_used_instead_of_the_defaults() -> None:
    faster_p3 = ResponseTarget(timedelta(hours=2), BUSINESS)
    edited = SlaPolicy(response_targets={**DEFAULT_RESPONSE_TARGETS, (Tier.BUSINESS, Priority.P3): faster_p3})
    assert edited.response_target(Tier.BUSINESS, Priority.P3) == faster_p3
    assert edited.credit_rule(Tier.BUSINESS) == DEFAULT_CREDIT_RULES[Tier.BUSINESS]


def test_business_p3_opened_friday_1700_warns_monday_1012_and_is_due_monday_1100() -> None:
    target = DEFAULT_POLICY.response_target(Tier.BUSINESS, Priority.P3)
    opened = local(LONDON, 2026, 1, 9, 17)
    # 80 % of 4 business hours is 3 h 12 min: 1 h on Friday, 2 h 12 min on Monday.
    assert compute_deadline(opened, target, BusinessCalendar(LONDON)) == Deadline(
        opened_at=opened,
        warn_at=local(LONDON, 2026, 1, 12, 10, 12),
        due_at=local(LONDON, 2026, 1, 12, 11),
    )


def test_cluster_admin_p1_at_0300_on_a_saturday_is_due_0315() -> None:
    target = DEFAULT_POLICY.response_target(Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, Priority.P1)
    opened = local("Asia/Dhaka", 2026, 1, 10, 3)  # Saturday night, the calendar is closed
    deadline = compute_deadline(opened, target, BusinessCalendar("Asia/Dhaka"))
    assert deadline.due_at == local("Asia/Dhaka", 2026, 1, 10, 3, 15)
    assert deadline.warn_at == local("Asia/Dhaka", 2026, 1, 10, 3, 12)


def test_wall_clock_target_counts_real_time_across_a_dst_change() -> None:
    # 01:30 EST on the night clocks spring forward; two real hours later it is 04:30 EDT.
    target = DEFAULT_POLICY.response_target(Tier.ROUND_THE_CLOCK, Priority.P2)
    opened = local(NEW_YORK, 2026, 3, 8, 1, 30)
    deadline = compute_deadline(opened, target, BusinessCalendar(NEW_YORK))
    assert deadline.due_at == opened + timedelta(hours=2)
    assert deadline.due_at == local(NEW_YORK, 2026, 3, 8, 4, 30)


def test_response_targets_need_a_positive_budget() -> None:
    with pytest.raises(ValueError, match="positive"):
        ResponseTarget(timedelta(0), WALL)


def test_compute_deadline_refuses_a_naive_opening_time() -> None:
    target = DEFAULT_POLICY.response_target(Tier.BUSINESS, Priority.P1)
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_deadline(datetime(2026, 1, 9, 17), target, BusinessCalendar(LONDON))
