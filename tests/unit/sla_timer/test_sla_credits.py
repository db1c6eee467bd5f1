"""Credits per breach with the monthly cap, billing periods and breach patterns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from k8sops_sla_timer.domain.credits import billing_period, compute_credit, is_breach_pattern
from k8sops_sla_timer.domain.policy import CreditRule, Tier

RETAINER = Decimal("100000.00")


@pytest.mark.parametrize(
    ("tier", "credit"),
    [
        (Tier.BUSINESS, Decimal("5000.00")),
        (Tier.ROUND_THE_CLOCK, Decimal("10000.00")),
        (Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, Decimal("15000.00")),
    ],
)
def test_credit_is_the_tier_share_of_the_monthly_retainer(tier: Tier, credit: Decimal) -> None:
    assert compute_credit(RETAINER, tier, Decimal("0")) == credit


@pytest.mark.parametrize(
    ("already_credited", "credit"),
    [
        pytest.param(Decimal("15000.00"), Decimal("15000.00"), id="room-for-a-whole-credit"),
        pytest.param(Decimal("20000.00"), Decimal("10000.00"), id="cut-to-the-cap"),
        pytest.param(Decimal("30000.00"), Decimal("0.00"), id="cap-reached"),
        pytest.param(Decimal("35000.00"), Decimal("0.00"), id="over-the-cap-never-negative"),
    ],
)
def test_credit_is_capped_at_thirty_percent_per_cluster_and_month(already_credited: Decimal, credit: Decimal) -> None:
    assert compute_credit(RETAINER, Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, already_credited) == credit


def test_repeated_business_breaches_stop_paying_at_the_cap() -> None:
    credited = Decimal("0")
    credits = []
    for _ in range(8):
        credit = compute_credit(RETAINER, Tier.BUSINESS, credited)
        credits.append(credit)
        credited += credit
    assert credits == [Decimal("5000.00")] * 6 + [Decimal("0.00")] * 2
    assert credited == Decimal("30000.00")


def test_credit_is_rounded_to_two_places() -> None:
    credit = compute_credit(Decimal("12345.67"), Tier.BUSINESS, Decimal("0"))
    assert credit == Decimal("617.28")
    assert credit.as_tuple().exponent == -2


def test_credit_rules_are_data() -> None:
    generous = {tier: CreditRule(Decimal("50"), Decimal("60")) for tier in Tier}
    assert compute_credit(RETAINER, Tier.BUSINESS, Decimal("40000"), generous) == Decimal("20000.00")


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="retainer"):
        compute_credit(Decimal("-1"), Tier.BUSINESS, Decimal("0"))
    with pytest.raises(ValueError, match="already issued"):
        compute_credit(RETAINER, Tier.BUSINESS, Decimal("-0.01"))


@pytest.mark.parametrize(
    ("instant", "timezone", "period"),
    [
        pytest.param(datetime(2026, 2, 28, 20, tzinfo=UTC), "Asia/Dhaka", "2026-03", id="dhaka-ahead"),
        pytest.param(datetime(2026, 2, 28, 20, tzinfo=UTC), "UTC", "2026-02", id="utc"),
        pytest.param(datetime(2026, 1, 1, 3, tzinfo=UTC), "America/New_York", "2025-12", id="new-york"),
        pytest.param(
            datetime(2026, 12, 31, 23, 59, tzinfo=ZoneInfo("Asia/Dhaka")),
            ZoneInfo("Asia/Dhaka"),
            "2026-12",
            id="zoneinfo-argument",
        ),
    ],
)
def test_billing_period_is_the_month_in_the_engagement_timezone(
    instant: datetime, timezone: str | ZoneInfo, period: str
) -> None:
    assert billing_period(instant, timezone) == period


NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days_ago", "is_pattern"),
    [
        pytest.param([1, 5, 29], True, id="three-within-30-days"),
        pytest.param([1, 2, 3, 4], True, id="four-within-30-days"),
        pytest.param([1, 5], False, id="only-two"),
        pytest.param([1, 5, 31], False, id="third-is-too-old"),
        pytest.param([0, 10, 30], True, id="window-ends-included"),
        pytest.param([1, 5, -1], False, id="future-breach-not-counted"),
        pytest.param([], False, id="no-breaches"),
    ],
)
def test_three_breaches_within_thirty_days_is_a_pattern(days_ago: list[int], is_pattern: bool) -> None:
    breaches = [NOW - timedelta(days=days) for days in days_ago]
    assert is_breach_pattern(breaches, NOW) is is_pattern
