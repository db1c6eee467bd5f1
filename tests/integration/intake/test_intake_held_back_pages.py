"""A business-hours engagement's incident opened out of hours is paged at the next coverage start
(issue 17): a job row due then, which a restarted intake runs (its job and delivery rounds, as
its loops call them); time travels through the job's due time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from k8sops_intake.incidents.jobs import run_due_jobs
from k8sops_intake.webhooks.tasks import deliver_due_webhooks

from .conftest import ADMIN, OPERATOR, OWN, SENIOR, Intake, build_intake
from .test_intake_incidents import PAGING, EventsApi, set_up_pagers

Eventually = Callable[..., Awaitable[Any]]
DHAKA = ZoneInfo("Asia/Dhaka")


@asynccontextmanager
async def running(isolation: Any) -> AsyncIterator[Intake]:
    """One intake process with its consumer and background loops, stopped on leaving."""
    intake = await build_intake(isolation, PAGING)
    lifespan = intake.app.router.lifespan_context(intake.app)
    await lifespan.__aenter__()
    try:
        yield intake
    finally:
        await lifespan.__aexit__(None, None, None)
        await intake.client.aclose()


async def hold_back_two_pages(intake: Intake, receiver: EventsApi, eventually: Eventually) -> tuple[str, str]:
    """Two incidents opened out of hours, both held back; the second acknowledged meanwhile."""
    await intake.setup_engagement()
    await set_up_pagers(intake, receiver)
    # Today is no working day of this k8s-business engagement, so it is out of hours all day.
    today = datetime.now(DHAKA).date()
    working = [day for day in range(7) if day != today.weekday()]
    url = f"/v1/engagements/{OWN}"
    tier = await intake.client.patch(url, json={"tier": "k8s-business"}, headers=SENIOR)
    assert tier.status_code == 200, tier.text
    calendar = {"working_days": working, "holiday_country": None, "extra_holidays": []}
    changed = await intake.client.patch(url, json=calendar, headers=ADMIN)
    assert changed.status_code == 200, changed.text

    paged = await intake.open_request(category="incident", priority="P1", title="ingress down")
    answered = await intake.open_request(category="incident", priority="P2", title="slow API")
    jobs = await eventually(lambda: intake.rows("incident_jobs", "kind = 'page' ORDER BY id"), lambda r: len(r) == 2)
    coverage_start = datetime.combine(today + timedelta(days=1), time(8), tzinfo=DHAKA)
    # The two request.opened events may be handled in either order.
    assert {job["request_id"]: job["due_at"] for job in jobs} == {
        paged["id"]: coverage_start,
        answered["id"]: coverage_start,
    }
    held = await intake.rows("incident_log", "kind = 'page.held_back' AND request_id = $1", paged["id"])
    assert coverage_start.isoformat() in held[0]["summary"]
    assert receiver.accepted == [] and await intake.rows("pages") == []
    acknowledged = await intake.client.post(
        f"/v1/requests/{answered['id']}/transitions", json={"action": "acknowledge"}, headers=OPERATOR
    )
    assert acknowledged.status_code == 200, acknowledged.text
    return paged["id"], answered["id"]


async def test_an_incident_out_of_hours_is_paged_at_the_next_coverage_start_unless_acknowledged(
    isolation: Any, serve: Any, eventually: Eventually
) -> None:
    receiver = EventsApi(failures=0)
    receiver.url = await serve(receiver) + "/v2/enqueue"
    async with running(isolation) as intake:
        paged, answered = await hold_back_two_pages(intake, receiver, eventually)
    # Restarted: the held-back pages are rows, so a new process sends them when they come due.
    restarted = await build_intake(isolation, PAGING)
    context = restarted.app.state.context
    try:
        # The next morning comes: both jobs are due now.
        await restarted.isolation.fetch(f"UPDATE {restarted.schema}.incident_jobs SET due_at = now() RETURNING id")
        assert await run_due_jobs(context) == 2
        async with httpx.AsyncClient() as client:
            await eventually(
                lambda: deliver_due_webhooks(context, client, PAGING), lambda _: bool(receiver.of("rk-oncall"))
            )
        done = await restarted.rows("incident_jobs", "kind = 'page' ORDER BY id")
        delivered = await restarted.rows("webhook_deliveries", "event_type = 'incident.page.trigger'")
    finally:
        await restarted.client.aclose()
        await context.database.dispose()
    assert all(job["done_at"] is not None for job in done)
    assert [job["attempts"] for job in done] == [1, 1]
    assert [row["status"] for row in delivered] == ["delivered"]
    assert receiver.of("rk-oncall") == [("trigger", paged)], f"{answered} was acknowledged: not paged"
    (trigger,) = receiver.accepted
    assert "held back to coverage start" in trigger["payload"]["summary"]
    assert trigger["links"] == [{"href": f"https://meet.example/{paged}", "text": "Incident bridge"}]
