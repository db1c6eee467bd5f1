"""Pure state of a request's SLA clocks: the response timer and the resolution clock.

The response timer is the contractual one: armed when the request opens, stopped by the first
acknowledgement, warned at 80 % of its budget and breached at its deadline. A priority change
re-targets it keeping the time already elapsed on the clock that was running until the change:
the elapsed time accumulates piecewise, one stretch per priority, each on its own clock.

The resolution clock is measured and reported only (no credit); it pauses while the request waits
on the customer.

Objects are immutable: every transition returns a new value, which the service persists. The
transitions are idempotent because events arrive at least once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from k8sops_sla_timer.domain.calendar import ZERO, BusinessCalendar, as_utc, is_within_calendar
from k8sops_sla_timer.domain.policy import (
    WARNING_AT_PERCENT_OF_BUDGET,
    ClockKind,
    ResponseTarget,
    advance_on_clock,
    compute_deadline,
    elapsed_on_clock,
)


class TimerAlert(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True)
class ResponseTimer:
    """The first-response clock of one request.

    `warn_at` and `due_at` are UTC instants. A response at or after `due_at` is a breach.
    `warned_at` and `breached_at` record that the alert went out, so each goes out once.
    `elapsed_before` is the time used under earlier priorities (each measured on its own clock)
    and `clock_since` the moment the current target's clock took over (the opening, or the last
    priority change).
    """

    opened_at: datetime
    target: ResponseTarget
    calendar: BusinessCalendar
    warn_at: datetime
    due_at: datetime
    acknowledged_at: datetime | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    elapsed_before: timedelta = ZERO
    clock_since: datetime | None = None

    def __post_init__(self) -> None:
        if self.clock_since is None:
            object.__setattr__(self, "clock_since", self.opened_at)

    @classmethod
    def arm(cls, opened_at: datetime, target: ResponseTarget, calendar: BusinessCalendar) -> ResponseTimer:
        deadline = compute_deadline(opened_at, target, calendar)
        return cls(
            opened_at=deadline.opened_at,
            target=target,
            calendar=calendar,
            warn_at=deadline.warn_at,
            due_at=deadline.due_at,
        )

    @property
    def is_running(self) -> bool:
        return self.acknowledged_at is None

    def acknowledge(self, at: datetime) -> ResponseTimer:
        """Stop the clock: the first acknowledgement is the first response; later ones change nothing."""
        if not self.is_running:
            return self
        return replace(self, acknowledged_at=as_utc(at, "at"))

    def retarget(self, new_target: ResponseTarget, now: datetime) -> ResponseTimer:
        """Apply a priority change at `now`: the time used so far stays used, the new clock takes over.

        Elapsed = the time used under earlier priorities plus the time since `clock_since`
        measured on the clock that was running (not on the new one). The new deadline is what is
        left of the new budget, counted on the new clock from `now`; due at once if nothing is
        left. A stopped, breached or already due timer is left as it is: the response happened,
        or the breach (and its credit) is already a fact at the old deadline.
        """
        now_utc = as_utc(now, "now")
        if not self.is_running or self.breached_at is not None or now_utc >= self.due_at:
            return self
        elapsed = self.elapsed(now_utc)
        warning_budget = new_target.budget * WARNING_AT_PERCENT_OF_BUDGET / 100
        return replace(
            self,
            target=new_target,
            elapsed_before=elapsed,
            clock_since=now_utc,
            warn_at=self._after_remaining(now_utc, warning_budget - elapsed, new_target.clock),
            due_at=self._after_remaining(now_utc, new_target.budget - elapsed, new_target.clock),
            # A new goal whose warning point is still ahead deserves its own warning.
            warned_at=None if elapsed < warning_budget else self.warned_at,
        )

    def on_calendar(self, calendar: BusinessCalendar, now: datetime) -> ResponseTimer:
        """The same target on a changed calendar (holidays, working week, timezone) from `now` on.

        The current stretch (since the last priority change) is measured again on the new
        calendar, so a holiday added for a day already in it gives that day's time back.
        """
        return replace(self, calendar=calendar).retarget(self.target, now)

    def record_warning(self, at: datetime) -> ResponseTimer:
        if self.warned_at is not None:
            return self
        return replace(self, warned_at=as_utc(at, "at"))

    def record_breach(self, at: datetime) -> ResponseTimer:
        if self.breached_at is not None:
            return self
        return replace(self, breached_at=as_utc(at, "at"))

    def elapsed(self, now: datetime) -> timedelta:
        """Time used up to the response or to `now`: earlier priorities' stretches plus the current one."""
        assert self.clock_since is not None  # set in __post_init__
        current = elapsed_on_clock(self.clock_since, self._response_moment(now), self.target.clock, self.calendar)
        return self.elapsed_before + current

    def remaining(self, now: datetime) -> timedelta:
        """Budget left on the current target; negative once the budget is overrun."""
        return self.target.budget - self.elapsed(now)

    def is_breached(self, now: datetime) -> bool:
        return self.breached_at is not None or self._response_moment(now) >= self.due_at

    def alerts_due(self, now: datetime) -> tuple[TimerAlert, ...]:
        """Alerts that should go out at `now` and have not yet, in the order to send them.

        A warning only matters while nobody has responded; a breach is due even if the
        acknowledgement came late but before the scheduler got to it.
        """
        now_utc = as_utc(now, "now")
        alerts: list[TimerAlert] = []
        if self.is_running and self.warned_at is None and self.breached_at is None and now_utc >= self.warn_at:
            alerts.append(TimerAlert.WARNING)
        if self.breached_at is None and self.is_breached(now_utc):
            alerts.append(TimerAlert.BREACH)
        return tuple(alerts)

    @property
    def next_alert_at(self) -> datetime | None:
        """When the scheduler should next look at this timer; None when nothing is left to fire."""
        if self.breached_at is not None:
            return None
        if self.acknowledged_at is not None:
            return self.acknowledged_at if self.acknowledged_at >= self.due_at else None
        if self.warned_at is None:
            return self.warn_at
        return self.due_at

    def _response_moment(self, now: datetime) -> datetime:
        now_utc = as_utc(now, "now")
        if self.acknowledged_at is not None and self.acknowledged_at < now_utc:
            return self.acknowledged_at
        return now_utc

    def _after_remaining(self, now: datetime, remaining: timedelta, clock: ClockKind) -> datetime:
        if remaining <= ZERO:
            return now
        return advance_on_clock(now, remaining, clock, self.calendar)


@dataclass(frozen=True)
class ResolutionClock:
    """Time to resolution, paused while the request waits on the customer.

    `banked` holds the time of the running stretches that have ended; `running_since` is set
    while the clock runs. Pausing or resuming twice, or after resolution, changes nothing.
    """

    started_at: datetime
    clock: ClockKind
    calendar: BusinessCalendar
    banked: timedelta = ZERO
    running_since: datetime | None = None
    resolved_at: datetime | None = None

    @classmethod
    def start(cls, opened_at: datetime, clock: ClockKind, calendar: BusinessCalendar) -> ResolutionClock:
        opened_utc = as_utc(opened_at, "opened_at")
        return cls(started_at=opened_utc, clock=clock, calendar=calendar, running_since=opened_utc)

    @property
    def is_paused(self) -> bool:
        return self.running_since is None and self.resolved_at is None

    def pause(self, at: datetime) -> ResolutionClock:
        """The request now waits on the customer."""
        if self.running_since is None:
            return self
        return replace(self, banked=self.elapsed(at), running_since=None)

    def resume(self, at: datetime) -> ResolutionClock:
        """The customer answered: the clock runs again."""
        if not self.is_paused:
            return self
        return replace(self, running_since=as_utc(at, "at"))

    def resolve(self, at: datetime) -> ResolutionClock:
        if self.resolved_at is not None:
            return self
        return replace(self, banked=self.elapsed(at), running_since=None, resolved_at=as_utc(at))

    def elapsed(self, now: datetime) -> timedelta:
        if self.running_since is None:
            return self.banked
        return self.banked + elapsed_on_clock(self.running_since, as_utc(now, "now"), self.clock, self.calendar)


@dataclass(frozen=True)
class SlaState:
    """A request's response SLA as the API shows it."""

    goal: ResponseTarget
    started_at: datetime
    deadline: datetime
    elapsed: timedelta
    remaining: timedelta
    breached: bool
    # The contractual response clock never pauses; it only stops at the first response.
    paused: bool
    within_calendar: bool
    stopped_at: datetime | None


@dataclass(frozen=True)
class ResolutionState:
    """A request's resolution clock as the API shows it (reported, not credited)."""

    started_at: datetime
    elapsed: timedelta
    paused: bool
    within_calendar: bool
    resolved_at: datetime | None


def sla_state(timer: ResponseTimer, now: datetime) -> SlaState:
    return SlaState(
        goal=timer.target,
        started_at=timer.opened_at,
        deadline=timer.due_at,
        elapsed=timer.elapsed(now),
        remaining=timer.remaining(now),
        breached=timer.is_breached(now),
        paused=False,
        within_calendar=_clock_runs_at(now, timer.target.clock, timer.calendar),
        stopped_at=timer.acknowledged_at,
    )


def resolution_state(clock: ResolutionClock, now: datetime) -> ResolutionState:
    return ResolutionState(
        started_at=clock.started_at,
        elapsed=clock.elapsed(now),
        paused=clock.is_paused,
        within_calendar=_clock_runs_at(now, clock.clock, clock.calendar),
        resolved_at=clock.resolved_at,
    )


def _clock_runs_at(now: datetime, clock: ClockKind, calendar: BusinessCalendar) -> bool:
    # A wall clock has no closed hours: 24x7 coverage is always within its calendar.
    return clock is ClockKind.WALL or is_within_calendar(now, calendar)
