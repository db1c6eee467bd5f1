"""Quarters of the engagement's own calendar (SPEC 3, 7): an Asia/Dhaka customer's review falls due
at 00:00 Dhaka on the quarter's first day (18:00 UTC the day before), a decision belongs to the
quarter of Dhaka's wall clock, and a timezone change moves the pending review to the new local start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .conftest import ADMIN, VIEWER, CostHarness, engagement_event


async def _pending_review(cost: CostHarness) -> dict[str, Any]:
    jobs = (await cost.api.get("/v1/cost/jobs", headers=VIEWER)).json()
    (job,) = [j for j in jobs if j["kind"] == "health-review" and j["status"] == "pending"]
    return dict(job)


async def _review_report(cost: CostHarness, quarter: str) -> dict[str, Any]:
    reviews = (await cost.api.get("/v1/cost/reviews", headers=VIEWER)).json()
    (review,) = [r for r in reviews if r["quarter"] == quarter]
    report = await cost.api.get(f"/v1/cost/analyses/{review['analysis_id']}/report.json", headers=VIEWER)
    return dict(report.json())


async def test_reviews_and_decisions_fall_in_the_quarters_of_dhaka(cost: CostHarness) -> None:
    cost.now = datetime(2027, 2, 10, 9, 0, tzinfo=UTC)  # 2027-Q1 everywhere
    await cost.onboard()
    review_job = await _pending_review(cost)
    assert (review_job["quarter"], review_job["due_at"]) == ("2027-Q2", "2027-03-31T18:00:00Z")  # 00:00 Dhaka

    cost.now = datetime(2027, 3, 31, 17, 59, tzinfo=UTC)  # 23:59 in Dhaka, still Q1
    assert await cost.run_jobs() == 0
    cost.now = datetime(2027, 3, 31, 18, 5, tzinfo=UTC)
    assert await cost.run_jobs() == 1
    q2 = await _review_report(cost, "2027-Q2")
    assert q2["resurfaced"] == [] and q2["timezone"] == "Asia/Dhaka"

    # 01:00 on 1 April in Dhaka: a decision of Q2 although UTC still says 31 March.
    cost.now = datetime(2027, 3, 31, 19, 0, tzinfo=UTC)
    listing = (await cost.api.get("/v1/cost/recommendations", headers=VIEWER)).json()
    web = next(r for r in listing if r["kind"] == "over-requesting")
    declined = await cost.api.post(
        f"/v1/cost/recommendations/{web['recommendation_id']}/decisions",
        json={"status": "not_adopted", "note": "after the audit"},
        headers=ADMIN,
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["decided_quarter"] == "2027-Q2"

    cost.now = datetime(2027, 4, 1, 0, 5, tzinfo=UTC)  # the UTC quarter start: nothing more is due
    assert await cost.run_jobs() == 0
    review_job = await _pending_review(cost)
    assert (review_job["quarter"], review_job["due_at"]) == ("2027-Q3", "2027-06-30T18:00:00Z")
    cost.now = datetime(2027, 6, 30, 18, 5, tzinfo=UTC)
    assert await cost.run_jobs() == 1
    q3 = await _review_report(cost, "2027-Q3")
    assert [(r["recommendation_id"], r["not_adopted_in"]) for r in q3["resurfaced"]] == [
        (web["recommendation_id"], "2027-Q2")
    ]
    markdown = (await cost.api.get(f"/v1/cost/analyses/{q3['analysis_id']}/report.md", headers=VIEWER)).text
    assert markdown.startswith("# Quarterly health review: cost-prod (2027-Q3, Asia/Dhaka)")


async def test_a_timezone_change_moves_the_pending_review_to_the_new_local_quarter_start(cost: CostHarness) -> None:
    cost.now = datetime(2027, 2, 10, 9, 0, tzinfo=UTC)
    await cost.deliver(engagement_event(cost.now))
    assert (await _pending_review(cost))["due_at"] == "2027-03-31T18:00:00Z"

    moved = cost.now + timedelta(minutes=1)
    await cost.deliver(engagement_event(moved, timezone="America/New_York"))
    review_job = await _pending_review(cost)
    assert (review_job["quarter"], review_job["due_at"]) == ("2027-Q2", "2027-04-01T04:00:00Z")  # 00:00 EDT
    # An older change arriving late (another partition's replay) moves nothing back.
    await cost.deliver(engagement_event(cost.now - timedelta(minutes=1), timezone="Asia/Dhaka"))
    assert (await _pending_review(cost))["due_at"] == "2027-04-01T04:00:00Z"
    audit = [e for e in await cost.events("audit.event") if e["action"] == "cost.health-review.reschedule"]
    assert [(a["details"]["previous_timezone"], a["details"]["timezone"]) for a in audit] == [
        ("Asia/Dhaka", "America/New_York")
    ]
    assert audit[0]["details"]["due_at"] == "2027-04-01T04:00:00+00:00"
