"""Service credits for breaches, their billing period, and breach patterns.

Amounts are Decimal BDT with two places. The billing period of a breach is the calendar month in
the engagement's timezone: that is the month the customer's own invoice and clocks show, so a
breach at 02:00 on 1 March in Dhaka (20:00 UTC on 28 February) belongs to March.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from k8sops_sla_timer.domain.calendar import as_utc
from k8sops_sla_timer.domain.policy import DEFAULT_CREDIT_RULES, CreditRule, Tier

CENT = Decimal("0.01")
ZERO_BDT = Decimal("0.00")
BREACH_PATTERN_THRESHOLD = 3
BREACH_PATTERN_WINDOW = timedelta(days=30)


def compute_credit(
    retainer_bdt: Decimal,
    tier: Tier,
    already_credited_this_month: Decimal,
    rules: Mapping[Tier, CreditRule] = DEFAULT_CREDIT_RULES,
) -> Decimal:
    """The credit for one breach on a cluster, honouring the cluster's monthly cap.

    The tier's share of the retainer, reduced to whatever room the monthly cap has left (zero
    once the cap is reached). The cap is rounded down to the cent so that the month's credits
    never add up to more than the cap.
    """
    if retainer_bdt < 0:
        raise ValueError(f"a monthly retainer cannot be negative, got {retainer_bdt}")
    if already_credited_this_month < 0:
        raise ValueError(f"credits already issued this month cannot be negative, got {already_credited_this_month}")
    rule = rules[tier]
    per_breach = (retainer_bdt * rule.percent_of_retainer / 100).quantize(CENT, ROUND_HALF_UP)
    monthly_cap = (retainer_bdt * rule.monthly_cap_percent_of_retainer / 100).quantize(CENT, ROUND_DOWN)
    room_left = (monthly_cap - already_credited_this_month).quantize(CENT, ROUND_DOWN)
    return max(ZERO_BDT, min(per_breach, room_left))


def billing_period(instant: datetime, timezone: str | ZoneInfo) -> str:
    """The billing month ("YYYY-MM") of `instant`, read in the engagement's timezone."""
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    local = as_utc(instant).astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def is_breach_pattern(
    breach_times: Iterable[datetime],
    now: datetime,
    threshold: int = BREACH_PATTERN_THRESHOLD,
    window: timedelta = BREACH_PATTERN_WINDOW,
) -> bool:
    """Whether an engagement's breaches form a pattern: `threshold` or more within `window`.

    A breach counts when it happened no later than `now` and no earlier than `now - window`
    (both ends included).
    """
    now_utc = as_utc(now, "now")
    window_start = now_utc - window
    recent = sum(1 for breached_at in breach_times if window_start <= as_utc(breached_at) <= now_utc)
    return recent >= threshold
