"""Timers from events: worked examples, alerts exactly once and never early, acknowledgement,
re-targeting, the resolution clock, and events that arrive in an awkward order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .conftest import SlaHarness, engagement, opened, updated

LONDON = "Europe/London"
DHAKA = "Asia/Dhaka"
SUNDAY_TO_THURSDAY = [6, 0, 1, 2, 3]


def local(timezone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_worked_examples_from_the_issue(sla: SlaHarness) -> None:
    await sla.deliver(
        engagement("eng-london", "k8s-business", LONDON),
        engagement("eng-dhaka", "k8s-business", DHAKA, working_days=SUNDAY_TO_THURSDAY, holiday_country="BD"),
        engagement("eng-admin", "k8s-247-cluster-admin", DHAKA, working_days=SUNDAY_TO_THURSDAY),
        opened("req-friday", "eng-london", "P3", local(LONDON, 2026, 1, 9, 17)),
        opened("req-thursday", "eng-dhaka", "P3", local(DHAKA, 2026, 1, 8, 17)),
        opened("req-saturday-p1", "eng-admin", "P1", local(DHAKA, 2026, 1, 10, 3)),
        opened("req-before-victory-day", "eng-dhaka", "P4", local(DHAKA, 2026, 12, 15, 17)),
    )
    friday = await sla.timer("req-friday")
    assert friday["due_at"] == local(LONDON, 2026, 1, 12, 11)
    assert friday["warn_at"] == local(LONDON, 2026, 1, 12, 10, 12)  # 80 % of 4 business hours
    assert (await sla.timer("req-thursday"))["due_at"] == local(DHAKA, 2026, 1, 11, 11)
    saturday = await sla.timer("req-saturday-p1")
    assert saturday["due_at"] == local(DHAKA, 2026, 1, 10, 3, 15)
    assert saturday["warn_at"] == local(DHAKA, 2026, 1, 10, 3, 12)
    # Wednesday 16 December 2026 is Victory Day: the whole day is skipped.
    assert (await sla.timer("req-before-victory-day"))["due_at"] == local(DHAKA, 2026, 12, 17, 11)
    armed = [event for event in await sla.events("audit.event") if event["action"] == "sla.timer.arm"]
    assert sorted(event["target"]["name"] for event in armed) == sorted(
        ["req-friday", "req-thursday", "req-saturday-p1", "req-before-victory-day"]
    )


async def test_warning_and_breach_fire_once_each_and_never_early(sla: SlaHarness) -> None:
    await sla.deliver(
        engagement("eng-247", "k8s-247", LONDON, retainers={"prod-1": "200000.00"}),
        opened("req-p1", "eng-247", "P1", utc("2026-01-06T10:00:00"), cluster_id="prod-1"),
    )
    just_before_warning = utc("2026-01-06T10:24:00") - timedelta(microseconds=1)
    assert (await sla.fire(just_before_warning)).warnings == 0
    assert (await sla.fire(utc("2026-01-06T10:24:00"))).warnings == 1
    assert (await sla.fire(utc("2026-01-06T10:24:30"))).warnings == 0
    just_before_deadline = utc("2026-01-06T10:30:00") - timedelta(microseconds=1)
    assert (await sla.fire(just_before_deadline)).breaches == 0
    assert (await sla.fire(utc("2026-01-06T10:30:00"))).breaches == 1
    assert (await sla.fire(utc("2026-01-06T11:30:00"))).timers == 0

    warnings = await sla.events("sla.warning")
    breaches = await sla.events("sla.breached")
    credits = await sla.events("credit.issued")
    assert len(warnings) == 1 and warnings[0]["deadline"] == "2026-01-06T10:30:00Z"
    assert len(breaches) == 1 and breaches[0]["breached_at"] == "2026-01-06T10:30:00Z"
    assert len(credits) == 1
    assert credits[0]["breach_id"] == breaches[0]["breach_id"]
    assert credits[0]["amount_bdt"] == "20000.00"  # k8s-247: 10 % of the retainer
    assert credits[0]["period"] == "2026-01"
    assert (await sla.timer("req-p1"))["next_alert_at"] is None


async def test_a_timer_found_overdue_sends_warning_then_breach_in_one_go(sla: SlaHarness) -> None:
    await sla.deliver(
        engagement("eng-247", "k8s-247", LONDON),
        opened("req-p1", "eng-247", "P1", utc("2026-01-06T10:00:00")),
    )
    fired = await sla.fire(utc("2026-01-06T12:00:00"))
    assert (fired.warnings, fired.breaches) == (1, 1)
    # No cluster: still exactly one credit, worth nothing, saying why.
    [credit] = await sla.events("credit.issued")
    assert credit["amount_bdt"] == "0.00" and "no known cluster" in credit["reason"]


async def test_acknowledgement_stops_the_clock_and_a_late_one_still_breaches(sla: SlaHarness) -> None:
    await sla.deliver(
        engagement("eng-247", "k8s-247", LONDON),
        opened("req-in-time", "eng-247", "P1", utc("2026-01-06T10:00:00")),
        opened("req-late", "eng-247", "P1", utc("2026-01-06T10:00:00")),
        updated("req-in-time", "eng-247", status="acknowledged", priority="P1", at=utc("2026-01-06T10:10:00")),
    )
    assert (await sla.timer("req-in-time"))["next_alert_at"] is None
    await sla.deliver(
        updated("req-late", "eng-247", status="acknowledged", priority="P1", at=utc("2026-01-06T10:31:00")),
    )
    fired = await sla.fire(utc("2026-01-06T10:40:00"))
    # The late response came after the deadline: a breach, but no warning for a stopped clock.
    assert (fired.warnings, fired.breaches) == (0, 1)
    assert [event["request_id"] for event in await sla.events("sla.breached")] == ["req-late"]
    stops = [event for event in await sla.events("audit.event") if event["action"] == "sla.timer.stop"]
    assert {event["target"]["name"]: event["details"]["within_sla"] for event in stops} == {
        "req-in-time": True,
        "req-late": False,
    }


async def test_a_priority_change_keeps_the_elapsed_time(sla: SlaHarness) -> None:
    await sla.deliver(
        engagement("eng-247", "k8s-247", LONDON),
        opened("req-raised", "eng-247", "P2", utc("2026-01-06T10:00:00")),
        updated(
            "req-raised",
            "eng-247",
            status="opened",
            priority="P1",
            at=utc("2026-01-06T10:20:00"),
            change="priority_changed",
        ),
    )
    timer = await sla.timer("req-raised")
    # A P2 (2 h) raised to P1 (30 min) after 20 minutes is due 10 minutes later, not 30.
    assert timer["due_at"] == utc("2026-01-06T10:30:00")
    assert timer["opened_at"] == utc("2026-01-06T10:00:00")
    assert timer["priority"] == "P1"
    [retarget] = [event for event in await sla.events("audit.event") if event["action"] == "sla.timer.retarget"]
    assert retarget["details"]["from_deadline"] == "2026-01-06T12:00:00+00:00"


async def test_the_resolution_clock_pauses_while_waiting_on_the_customer(sla: SlaHarness) -> None:
    request = "req-waiting"
    await sla.deliver(
        engagement("eng-247", "k8s-247", LONDON),
        opened(request, "eng-247", "P2", utc("2026-01-06T10:00:00")),
        updated(request, "eng-247", status="acknowledged", priority="P2", at=utc("2026-01-06T10:05:00")),
        updated(request, "eng-247", status="waiting_on_customer", priority="P2", at=utc("2026-01-06T10:10:00")),
    )
    paused = await sla.timer(request)
    assert paused["resolution_running_since"] is None
    assert paused["resolution_banked"] == timedelta(minutes=10)
    await sla.deliver(
        updated(request, "eng-247", status="in_progress", priority="P2", at=utc("2026-01-06T11:10:00")),
        updated(request, "eng-247", status="resolved", priority="P2", at=utc("2026-01-06T11:30:00")),
    )
    resolved = await sla.timer(request)
    assert resolved["resolution_banked"] == timedelta(minutes=30)  # the hour waiting on the customer is out
    assert resolved["resolved_at"] == utc("2026-01-06T11:30:00")
    assert resolved["acknowledged_at"] == utc("2026-01-06T10:05:00")


async def test_events_that_arrive_before_their_engagement_or_request_are_applied_in_order(sla: SlaHarness) -> None:
    # The acknowledgement overtakes request.opened (another topic), which overtakes the engagement.
    await sla.deliver(
        updated("req-early", "eng-late", status="acknowledged", priority="P1", at=utc("2026-01-06T10:40:00")),
        opened("req-early", "eng-late", "P1", utc("2026-01-06T10:00:00")),
    )
    waiting = await sla.timer("req-early")
    assert waiting["due_at"] is None and waiting["next_alert_at"] is None
    assert (await sla.fire(utc("2026-01-06T12:00:00"))).timers == 0

    await sla.deliver(engagement("eng-late", "k8s-247", LONDON))
    armed = await sla.timer("req-early")
    # Armed from the opening, not from the engagement's arrival; the parked late acknowledgement applies.
    assert armed["due_at"] == utc("2026-01-06T10:30:00")
    assert armed["acknowledged_at"] == utc("2026-01-06T10:40:00")
    fired = await sla.fire(utc("2026-01-06T12:00:00"))
    assert (fired.warnings, fired.breaches) == (0, 1)


async def test_a_calendar_change_moves_running_business_deadlines(sla: SlaHarness) -> None:
    await sla.deliver(
        engagement("eng-biz", "k8s-business", LONDON),
        opened("req-biz", "eng-biz", "P3", local(LONDON, 2026, 1, 9, 17)),
    )
    assert (await sla.timer("req-biz"))["due_at"] == local(LONDON, 2026, 1, 12, 11)
    # The customer adds Monday 12 January as a company holiday.
    holiday = engagement("eng-biz", "k8s-business", LONDON, changed_at=local(LONDON, 2026, 1, 10, 9))
    await sla.deliver(
        holiday.model_copy(update={"change": "updated", "extra_holidays": [datetime(2026, 1, 12).date()]})
    )
    assert (await sla.timer("req-biz"))["due_at"] == local(LONDON, 2026, 1, 13, 11)
    retargets = [event for event in await sla.events("audit.event") if event["action"] == "sla.timer.retarget"]
    assert [event["details"]["reason"] for event in retargets] == ["engagement calendar changed"]
