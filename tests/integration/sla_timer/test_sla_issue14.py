"""Issue 14 through the service's own consumer and scheduler: priority changes keep the elapsed
time, every breach pattern escalates, regional holidays and uploaded holiday calendars count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from .conftest import SlaHarness, engagement, opened, updated


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def test_running_timers_re_target_piecewise_through_request_updated(sla: SlaHarness) -> None:
    # k8s-247 in London (GMT in November): P3 opened Friday 27 Nov 17:50, 10 business minutes
    # before closing; raised to P1 Saturday 03:00 (20 of 30 wall minutes left) -> 03:20;
    # back to P3 at 03:10 (10 + 10 minutes used) -> Monday 08:00 + 3 h 40 = 11:40.
    await sla.deliver(
        engagement("eng-london", "k8s-247", "Europe/London", holiday_country="GB-ENG"),
        opened("req-raised", "eng-london", "P3", utc(2026, 11, 27, 17, 50)),
        updated("req-raised", "eng-london", status="opened", priority="P1", at=utc(2026, 11, 28, 3)),
    )
    raised = await sla.timer("req-raised")
    assert raised["due_at"] == utc(2026, 11, 28, 3, 20)
    assert (raised["response_elapsed_before"], raised["response_clock_since"]) == (
        timedelta(minutes=10),
        utc(2026, 11, 28, 3),
    )
    await sla.deliver(
        updated("req-raised", "eng-london", status="opened", priority="P3", at=utc(2026, 11, 28, 3, 10)),
    )
    assert (await sla.timer("req-raised"))["due_at"] == utc(2026, 11, 30, 11, 40)
    assert (await sla.fire(utc(2026, 11, 28, 3, 30))).breaches == 0
    retargets = [event for event in await sla.events("audit.event") if event["action"] == "sla.timer.retarget"]
    assert [event["details"]["deadline"] for event in retargets] == [
        "2026-11-28T03:20:00+00:00",
        "2026-11-30T11:40:00+00:00",
    ]


async def test_breaches_on_days_0_1_2_25_26_27_escalate_twice(sla: SlaHarness) -> None:
    await sla.deliver(engagement("eng-dhaka", "k8s-247", "Asia/Dhaka", on_call="rahman@provider.example"))
    day_0 = utc(2026, 3, 1, 4)
    for day in (0, 1, 2, 25, 26, 27):
        # A P1 is due 30 minutes after it opens; each is fired on its own day.
        await sla.deliver(opened(f"req-day-{day}", "eng-dhaka", "P1", day_0 + timedelta(days=day)))
        await sla.fire(day_0 + timedelta(days=day, hours=1))
    breach_of = {event["request_id"]: event["breach_id"] for event in await sla.events("sla.breached")}
    escalations = await sla.events("sla.escalated")
    assert [escalation["breach_ids"] for escalation in escalations] == [
        [breach_of[f"req-day-{day}"] for day in (0, 1, 2)],
        [breach_of[f"req-day-{day}"] for day in (25, 26, 27)],
    ]
    audits = [event for event in await sla.events("audit.event") if event["action"] == "sla.escalate"]
    assert [audit["details"]["breach_ids"] for audit in audits] == [
        ",".join(escalation["breach_ids"]) for escalation in escalations
    ]


async def test_england_skips_easter_monday_and_an_uploaded_holiday_is_skipped_too(sla: SlaHarness) -> None:
    # Thursday 25 March 2027 17:00 GMT, P3 = 4 business hours: 1 h on Thursday; Good Friday
    # (all of GB), the weekend and Easter Monday 29 March (England only) are closed; BST from
    # 28 March, so Tuesday 08:00 + 3 h = 11:00 BST = 10:00 UTC. With the uploaded calendar's
    # Tuesday 30 March (a date no library has) it is Wednesday 10:00 UTC.
    await sla.deliver(
        engagement("eng-england", "k8s-business", "Europe/London", holiday_country="GB-ENG"),
        engagement("eng-gb", "k8s-business", "Europe/London", holiday_country="GB"),
        engagement(
            "eng-own-calendar",
            "k8s-business",
            "Europe/London",
            holiday_country="GB-ENG",
            official_holidays=[date(2027, 3, 30)],
        ),
        opened("req-england", "eng-england", "P3", utc(2027, 3, 25, 17)),
        opened("req-gb", "eng-gb", "P3", utc(2027, 3, 25, 17)),
        opened("req-own-calendar", "eng-own-calendar", "P3", utc(2027, 3, 25, 17)),
    )
    assert (await sla.timer("req-england"))["due_at"] == utc(2027, 3, 30, 10)
    assert (await sla.timer("req-gb"))["due_at"] == utc(2027, 3, 29, 10)  # GB alone misses Easter Monday
    assert (await sla.timer("req-own-calendar"))["due_at"] == utc(2027, 3, 31, 10)
