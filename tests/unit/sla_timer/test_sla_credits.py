"""Credits per breach with the monthly cap, billing periods and breach patterns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from k8sops_sla_timer.domain.credits import billing_period, compute_credit, escalations_due
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


DAY_0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def breaches_on(*days: int) -> list[tuple[str, datetime]]:
    return [(f"b{day}", DAY_0 + timedelta(days=day)) for day in days]


@pytest.mark.parametrize(
    ("days", "covered", "expected"),
    [
        pytest.param([0, 1, 2, 25, 26, 27], [], [("b0", "b1", "b2"), ("b25", "b26", "b27")], id="issue-two-patterns"),
        pytest.param([0, 1, 2, 3], [], [("b0", "b1", "b2")], id="fourth-starts-a-new-count"),
        pytest.param([0, 1, 2, 3, 4, 5], [], [("b0", "b1", "b2"), ("b3", "b4", "b5")], id="six-in-a-row"),
        pytest.param([0, 10, 30], [], [("b0", "b10", "b30")], id="window-ends-included"),
        pytest.param([0, 10, 31], [], [], id="first-too-old-for-the-third"),
        pytest.param([0, 1], [], [], id="only-two"),
        pytest.param([0, 1, 2, 3], ["b0", "b1", "b2"], [], id="covered-by-an-earlier-escalation"),
        pytest.param([0, 1, 2, 3, 4], ["b0", "b1", "b2"], [], id="two-uncovered-are-not-a-pattern"),
        pytest.param([2, 0, 1], [], [("b0", "b1", "b2")], id="any-input-order"),
    ],
)
def test_every_pattern_of_three_uncovered_breaches_within_30_days_escalates(
    days: list[int], covered: list[str], expected: list[tuple[str, ...]]
) -> None:
    assert escalations_due(breaches_on(*days), covered, "Asia/Dhaka") == expected


def test_the_window_is_30_days_of_the_engagement_calendar_not_720_hours() -> None:
    london = ZoneInfo("Europe/London")
    # Across the autumn change 30 local days are 721 hours: 10 Oct 12:00 BST to 9 Nov 12:00 GMT is in.
    autumn = [
        ("a", datetime(2026, 10, 10, 12, tzinfo=london)),
        ("b", datetime(2026, 10, 20, 12, tzinfo=london)),
        ("c", datetime(2026, 11, 9, 12, tzinfo=london)),
    ]
    assert escalations_due(autumn, [], london) == [("a", "b", "c")]
    # Across the spring change they are 719 hours: 1 Mar 11:30 GMT is 719.5 h before 31 Mar 12:00
    # BST, inside 720 hours but before 1 Mar 12:00, so outside the 30 days.
    spring = [
        ("a", datetime(2026, 3, 1, 11, 30, tzinfo=london)),
        ("b", datetime(2026, 3, 20, 12, tzinfo=london)),
        ("c", datetime(2026, 3, 31, 12, tzinfo=london)),
    ]
    assert escalations_due(spring, [], london) == []
    # Counted in UTC the same three would escalate: 30 UTC days before 11:00 UTC start at 11:00.
    assert escalations_due(spring, [], "UTC") == [("a", "b", "c")]
