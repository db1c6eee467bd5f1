"""A business-hours engagement's incident opened out of hours is paged at the next coverage start
(issue 17): a job row due then, run by intake's own loop; time travels through its due time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .conftest import ADMIN, OPERATOR, OWN, SENIOR
from .test_intake_incidents import PAGING, EventsApi, set_up_pagers

Eventually = Callable[..., Awaitable[Any]]
DHAKA = ZoneInfo("Asia/Dhaka")


async def test_an_incident_out_of_hours_is_paged_at_the_next_coverage_start_unless_acknowledged(
    running_intake: Any, serve: Any, eventually: Eventually
) -> None:
    intake = await running_intake(PAGING)
    receiver = EventsApi(failures=0)
    receiver.url = await serve(receiver) + "/v2/enqueue"
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
    assert [(job["request_id"], job["due_at"]) for job in jobs] == [
        (paged["id"], coverage_start),
        (answered["id"], coverage_start),
    ]
    held = await intake.rows("incident_log", "kind = 'page.held_back' AND request_id = $1", paged["id"])
    assert coverage_start.isoformat() in held[0]["summary"]
    assert receiver.accepted == [] and await intake.rows("pages") == []

    acknowledged = await intake.client.post(
        f"/v1/requests/{answered['id']}/transitions", json={"action": "acknowledge"}, headers=OPERATOR
    )
    assert acknowledged.status_code == 200, acknowledged.text
    # The next morning comes: both jobs are due now.
    await intake.isolation.fetch(f"UPDATE {intake.schema}.incident_jobs SET due_at = now() RETURNING id")

    await eventually(lambda: asyncio.sleep(0, receiver.of("rk-oncall")), bool, timeout_s=30)
    done = await eventually(
        lambda: intake.rows("incident_jobs", "kind = 'page' ORDER BY id"),
        lambda rows: all(row["done_at"] is not None for row in rows),
        timeout_s=30,
    )
    assert [job["attempts"] for job in done] == [1, 1]
    assert receiver.of("rk-oncall") == [("trigger", paged["id"])], "the acknowledged request is not paged"
    (trigger,) = receiver.accepted
    assert "held back to coverage start" in trigger["payload"]["summary"]
    assert trigger["links"] == [{"href": f"https://meet.example/{paged['id']}", "text": "Incident bridge"}]
