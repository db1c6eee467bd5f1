"""Incident paging rules, pure: which policy applies, whether it pages now, what the page says.

Pages go out in the PagerDuty Events API v2 shape (https://developer.pagerduty.com/docs/events-api-v2/)
or as a Standard Webhooks message of type `incident.page` carrying the same fields.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import holidays

PagingMode = Literal["immediately", "business_hours", "never"]
PagerRole = Literal["on_call", "senior"]
PagerKind = Literal["events-api-v2", "standard-webhooks"]
EventAction = Literal["trigger", "acknowledge", "resolve"]
PageReason = Literal["opened", "sla_warning", "sla_breach"]
ANY_CATEGORY = "*"
COVERAGE_START, COVERAGE_END = time(8, 0), time(18, 0)  # the k8s-business coverage (SPEC section 3)
SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
BRIDGE_FIELDS = frozenset({"request_id", "engagement_id"})


@dataclass(frozen=True)
class Policy:
    mode: PagingMode
    escalate: bool  # page the senior on-call at the SLA warning and again at a breach while unacknowledged


NEVER = Policy("never", escalate=False)


@dataclass(frozen=True)
class PolicyRule:
    tier: str
    priority: str
    category: str
    policy: Policy


def policy_for(rules: Iterable[PolicyRule], tier: str, priority: str, category: str) -> Policy:
    """The rule naming the category wins over the `*` rule; no rule at all means no page."""
    matching = {rule.category: rule.policy for rule in rules if (rule.tier, rule.priority) == (tier, priority)}
    return matching.get(category) or matching.get(ANY_CATEGORY) or NEVER


@dataclass(frozen=True)
class Calendar:
    timezone: str
    working_days: Sequence[int]  # 0 = Monday
    holiday_country: str | None
    extra_holidays: Sequence[date]


def is_holiday(calendar: Calendar, day: date) -> bool:
    if day in calendar.extra_holidays:
        return True
    if calendar.holiday_country is None:
        return False
    country, _, subdivision = calendar.holiday_country.partition("-")
    return day in holidays.country_holidays(country, subdiv=subdivision or None, years=day.year)


def within_coverage(calendar: Calendar, now: datetime) -> bool:
    """08:00 to 18:00 on a working day that is no holiday, in the engagement's timezone."""
    local = now.astimezone(ZoneInfo(calendar.timezone))
    if local.weekday() not in calendar.working_days or is_holiday(calendar, local.date()):
        return False
    return COVERAGE_START <= local.time() < COVERAGE_END


def next_coverage_start(calendar: Calendar, now: datetime) -> datetime | None:
    """When a page held back outside coverage goes out: `now` inside coverage, else 08:00 of the
    next working day that is no holiday; None if there is none within a year (no working days)."""
    if within_coverage(calendar, now):
        return now
    zone = ZoneInfo(calendar.timezone)
    local = now.astimezone(zone)
    for offset in range(366):
        day = local.date() + timedelta(days=offset)
        start = datetime.combine(day, COVERAGE_START, tzinfo=zone)
        if start > local and day.weekday() in calendar.working_days and not is_holiday(calendar, day):
            return start
    return None


def pages_now(policy: Policy, calendar: Calendar, now: datetime) -> bool:
    if policy.mode == "business_hours":
        return within_coverage(calendar, now)
    return policy.mode == "immediately"


def bridge_template_problem(template: str) -> str | None:
    """Why the template cannot make a bridge link, or None."""
    if not template.startswith(("https://", "http://")):
        return "the bridge template must be an http(s) URL, e.g. https://meet.example/{request_id}"
    try:
        parts = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)]
    except ValueError as error:
        return f"the bridge template is not a valid pattern: {error}"
    if any(name is not None and (spec or conversion) for name, spec, conversion in parts):
        return "placeholders take no format or conversion; write {request_id} or {engagement_id}"
    fields = {name for name, _, _ in parts if name is not None}
    unknown = fields - BRIDGE_FIELDS
    if unknown:
        return f"unknown placeholders {sorted(unknown)}; use {{request_id}} and {{engagement_id}}"
    return None


def bridge_link(template: str, request_id: str, engagement_id: str) -> str:
    return template.format(request_id=request_id, engagement_id=engagement_id)


@dataclass(frozen=True)
class PageContent:
    request_id: str
    engagement_id: str
    cluster_id: str | None
    category: str
    priority: str
    title: str
    reason: PageReason
    bridge: str | None
    note: str  # why this page, e.g. the credit at stake


def dedup_key(request_id: str, reason: PageReason) -> str:
    """The request id; a breach pages the senior again under a key of its own, because a trigger
    with the key of an alert that is still open is merged into it without notifying anyone."""
    return f"{request_id}:breach" if reason == "sla_breach" else request_id


def summary_of(content: PageContent) -> str:
    where = f" on {content.cluster_id}" if content.cluster_id else ""
    return f"[{content.priority} {content.category}] {content.title}{where} ({content.note})"[:1024]


def events_api_v2(
    routing_key: str, action: EventAction, key: str, content: PageContent | None, source: str
) -> dict[str, Any]:
    """The Events API v2 body: a trigger carries the payload, acknowledge and resolve only the key."""
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": key}
    if action == "trigger" and content is not None:
        event["payload"] = {
            "summary": summary_of(content),
            "severity": SEVERITY.get(content.priority, "error"),
            "source": source,
            "component": content.cluster_id,
            "group": content.engagement_id,
            "class": content.category,
            "custom_details": {"request_id": content.request_id, "reason": content.reason, "bridge": content.bridge},
        }
        if content.bridge:
            event["links"] = [{"href": content.bridge, "text": "Incident bridge"}]
    return event


def page_payload(
    kind: PagerKind, routing_key: str | None, action: EventAction, key: str, content: PageContent | None, source: str
) -> dict[str, Any]:
    """What one page delivery carries: the Events API v2 body, or the same fields as `incident.page` data."""
    if kind == "events-api-v2":
        return events_api_v2(routing_key or "", action, key, content, source)
    data = events_api_v2("", action, key, content, source)
    data.pop("routing_key")
    return data
