"""Service credits for breaches, their billing period, and breach patterns.

Amounts are Decimal BDT with two places. The billing period of a breach is the calendar month in
the engagement's timezone: that is the month the customer's own invoice and clocks show, so a
breach at 02:00 on 1 March in Dhaka (20:00 UTC on 28 February) belongs to March.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from k8sops_sla_timer.domain.calendar import as_utc
from k8sops_sla_timer.domain.policy import DEFAULT_CREDIT_RULES, CreditRule, Tier

CENT = Decimal("0.01")
ZERO_BDT = Decimal("0.00")
BREACH_PATTERN_THRESHOLD = 3
BREACH_PATTERN_WINDOW_DAYS = 30


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


def escalations_due(
    breaches: Iterable[tuple[str, datetime]],
    covered: Collection[str],
    timezone: str | ZoneInfo,
    threshold: int = BREACH_PATTERN_THRESHOLD,
    window_days: int = BREACH_PATTERN_WINDOW_DAYS,
) -> list[tuple[str, ...]]:
    """The escalations an engagement's breaches call for, each as the ids of the breaches it covers.

    Breaches are taken in time order; a breach escalates when it and the breaches not covered by
    an earlier escalation within `window_days` before it (calendar days in the engagement's
    timezone, both ends included) number `threshold`. That escalation covers them, so every
    pattern is escalated once and no breach counts towards two escalations. `breaches` are
    (breach id, breached at) pairs; `covered` the ids earlier escalations already named.
    """
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    already = set(covered)
    pending: list[tuple[str, datetime]] = []
    due: list[tuple[str, ...]] = []
    for breach_id, breached_at in sorted(breaches, key=lambda breach: (as_utc(breach[1]), breach[0])):
        if breach_id in already:
            continue
        at = as_utc(breached_at)
        window_start = _days_before(at, window_days, zone)
        pending = [breach for breach in pending if breach[1] >= window_start] + [(breach_id, at)]
        if len(pending) >= threshold:
            due.append(tuple(breach[0] for breach in pending))
            already.update(due[-1])
            pending = []
    return due


def _days_before(instant: datetime, days: int, zone: ZoneInfo) -> datetime:
    # The same wall-clock time `days` calendar days earlier: 30 days across a DST change are
    # 719 or 721 hours, as the customer's own calendar counts them.
    local = instant.astimezone(zone).replace(tzinfo=None) - timedelta(days=days)
    return local.replace(tzinfo=zone).astimezone(UTC)
