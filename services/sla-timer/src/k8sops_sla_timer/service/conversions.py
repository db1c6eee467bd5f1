"""Timer rows to the pure domain objects and back, so every decision is made in `domain/`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from opentelemetry import context as otel_context

from k8sops_common.bus.tracing import context_from_traceparent
from k8sops_common.events.catalog import AuditTargetV1

from ..domain.calendar import BusinessCalendar, Weekday
from ..domain.policy import ClockKind, ResponseTarget
from ..domain.timer import ResolutionClock, ResponseTimer


@lru_cache(maxsize=4096)
def cached_calendar(
    timezone: str, working_days: tuple[int, ...], holiday_country: str | None, extra_holidays: tuple[date, ...]
) -> BusinessCalendar:
    return BusinessCalendar(
        timezone,
        frozenset(Weekday(day) for day in working_days),
        holiday_country=holiday_country,
        extra_holidays=frozenset(extra_holidays),
    )


def calendar_of(row: Mapping[Any, Any]) -> BusinessCalendar:
    """The business calendar of an engagement row (or of a timer row joined with its engagement)."""
    return cached_calendar(
        row["timezone"],
        tuple(sorted(row["working_days"])),
        row["holiday_country"],
        tuple(sorted(row["extra_holidays"])),
    )


def response_timer_of(row: Mapping[Any, Any], calendar: BusinessCalendar) -> ResponseTimer:
    return ResponseTimer(
        opened_at=row["opened_at"],
        target=ResponseTarget(row["budget"], ClockKind(row["clock"])),
        calendar=calendar,
        warn_at=row["warn_at"],
        due_at=row["due_at"],
        acknowledged_at=row["acknowledged_at"],
        warned_at=row["warned_at"],
        breached_at=row["breached_at"],
        elapsed_before=row["response_elapsed_before"],
        clock_since=row["response_clock_since"],
    )


def response_timer_columns(timer: ResponseTimer) -> dict[str, Any]:
    return {
        "budget": timer.target.budget,
        "clock": str(timer.target.clock),
        "warn_at": timer.warn_at,
        "due_at": timer.due_at,
        "acknowledged_at": timer.acknowledged_at,
        "warned_at": timer.warned_at,
        "breached_at": timer.breached_at,
        "next_alert_at": timer.next_alert_at,
        "response_elapsed_before": timer.elapsed_before,
        "response_clock_since": timer.clock_since,
    }


def resolution_clock_of(row: Mapping[Any, Any], calendar: BusinessCalendar) -> ResolutionClock:
    return ResolutionClock(
        started_at=row["opened_at"],
        clock=ClockKind(row["resolution_clock"]),
        calendar=calendar,
        banked=row["resolution_banked"],
        running_since=row["resolution_running_since"],
        resolved_at=row["resolved_at"],
    )


def resolution_columns(clock: ResolutionClock) -> dict[str, Any]:
    return {
        "resolution_clock": str(clock.clock),
        "resolution_banked": clock.banked,
        "resolution_running_since": clock.running_since,
        "resolved_at": clock.resolved_at,
    }


def request_target(request_id: str, cluster_id: str | None) -> AuditTargetV1:
    return AuditTargetV1(kind="Request", name=request_id, cluster=cluster_id)


def request_trace(row: Mapping[Any, Any]) -> otel_context.Context | None:
    return context_from_traceparent(row["traceparent"]) if row.get("traceparent") else None
