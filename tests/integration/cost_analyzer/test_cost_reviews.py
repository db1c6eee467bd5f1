"""Recommendations through their lifecycle, the quarterly review reached by time travel, and the
review's three formats: the HTML page opened in a real headless Chromium, Markdown and JSON alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.browser import dump_dom

from .conftest import ADMIN, OPERATOR, SENIOR, VIEWER, CostHarness, bearer


async def _recommendation(cost: CostHarness, kind: str) -> dict[str, Any]:
    listing = (await cost.api.get("/v1/cost/recommendations", headers=VIEWER)).json()
    return dict(next(r for r in listing if r["kind"] == kind))


async def _decide(
    cost: CostHarness, rec: dict[str, Any], headers: dict[str, str], status: str, note: str | None = None
) -> Any:
    body = {"status": status} if note is None else {"status": status, "note": note}
    return await cost.api.post(
        f"/v1/cost/recommendations/{rec['recommendation_id']}/decisions", json=body, headers=headers
    )


async def test_rejection_keeps_both_positions_and_decisions_are_the_customers(cost: CostHarness) -> None:
    await cost.onboard()
    spot = await _recommendation(cost, "no-spot-mix")
    path = f"/v1/cost/recommendations/{spot['recommendation_id']}"

    early = await _decide(cost, spot, ADMIN, "rejected", "spot interruptions scare our auditors")
    assert early.status_code == 409 and "provider's position" in early.json()["detail"]
    provider = await cost.api.post(
        f"{path}/positions", json={"position": "saves 9,724.97 BDT a month; PDBs cover interruptions"}, headers=SENIOR
    )
    assert provider.status_code == 200
    assert (await _decide(cost, spot, OPERATOR, "rejected", "no")).status_code == 403  # the customer decides
    assert (await _decide(cost, spot, VIEWER, "rejected", "no")).status_code == 403  # an admin, not a viewer
    rejected = await _decide(cost, spot, ADMIN, "rejected", "spot interruptions scare our auditors")
    assert rejected.status_code == 200, rejected.text
    record = rejected.json()
    assert record["status"] == "rejected"
    assert (
        record["provider_position"].startswith("saves 9,724.97")
        and record["provider_position_by"] == "senior@provider.example"
    )
    assert record["customer_position"] == "spot interruptions scare our auditors"
    assert record["customer_position_by"] == "rahim@customer.example"
    assert [h["action"] for h in record["history"]] == ["opened", "provider-position", "decision"]
    assert (await _decide(cost, spot, ADMIN, "accepted")).status_code == 409  # final

    web = await _recommendation(cost, "over-requesting")
    assert (await _decide(cost, web, ADMIN, "implemented")).status_code == 403  # operators mark implemented
    assert (await _decide(cost, web, OPERATOR, "implemented")).status_code == 409  # not accepted yet
    assert (await _decide(cost, web, ADMIN, "accepted")).status_code == 200
    done = await _decide(cost, web, OPERATOR, "implemented")
    assert done.status_code == 200 and done.json()["status"] == "implemented"
    bad = await _decide(cost, web, ADMIN, "maybe")
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    other = bearer(["k8s-ops.admin"], engagements=("eng-other",))
    assert (await cost.api.get(path, headers=other)).status_code == 404
    assert (await cost.api.get("/v1/cost/recommendations/rec-unknown", headers=ADMIN)).status_code == 404

    audit = [a for a in await cost.events("audit.event") if a["action"].startswith("cost.recommendation")]
    assert [a["action"] for a in audit] == [
        "cost.recommendation.position.provider",
        "cost.recommendation.decide",
        "cost.recommendation.decide",
        "cost.recommendation.decide",
    ]


async def test_not_adopted_resurfaces_in_next_quarters_review(cost: CostHarness) -> None:
    cost.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # 2026-Q4
    await cost.onboard()
    web = await _recommendation(cost, "over-requesting")
    declined = await _decide(cost, web, ADMIN, "not_adopted", "peak season; revisit next quarter")
    assert declined.json()["decided_quarter"] == "2026-Q4"
    jobs = (await cost.api.get("/v1/cost/jobs", headers=VIEWER)).json()
    review_job = next(j for j in jobs if j["kind"] == "health-review")
    # 00:00 on 1 January in the engagement's timezone, Asia/Dhaka (UTC+6).
    assert (review_job["quarter"], review_job["due_at"]) == ("2027-Q1", "2026-12-31T18:00:00Z")

    cost.now = datetime(2026, 12, 31, 17, 59, tzinfo=UTC)
    assert await cost.run_jobs() == 0  # not due yet
    cost.now = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert await cost.run_jobs() == 1

    (review,) = (await cost.api.get("/v1/cost/reviews", headers=VIEWER)).json()
    assert review["quarter"] == "2027-Q1"
    report = (await cost.api.get(f"/v1/cost/analyses/{review['analysis_id']}/report.json", headers=VIEWER)).json()
    assert [r["recommendation_id"] for r in report["resurfaced"]] == [web["recommendation_id"]]
    assert report["resurfaced"][0]["not_adopted_in"] == "2026-Q4"
    again = (await cost.api.get(f"/v1/cost/recommendations/{web['recommendation_id']}", headers=VIEWER)).json()
    assert again["status"] == "open"
    assert again["history"][-1]["action"] == "resurfaced"
    assert {c["movement"] for c in report["scorecard"]} <= {"better", "worse", "same"}  # against 2026-Q4
    assert [p["quarter"] for p in report["trend"]] == ["2026-Q4", "2027-Q1"]
    jobs = (await cost.api.get("/v1/cost/jobs", headers=VIEWER)).json()
    assert any(j["kind"] == "health-review" and j["quarter"] == "2027-Q2" and j["status"] == "pending" for j in jobs)


MONEY = re.compile(r"([\d,]+\.\d\d) BDT")


async def test_review_html_opens_in_chromium_with_its_chart_and_formats_agree(
    cost: CostHarness, chromium: str, tmp_path: Path
) -> None:
    cost.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    await cost.onboard()
    cost.now = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert await cost.run_jobs() == 1
    (review,) = (await cost.api.get("/v1/cost/reviews", headers=VIEWER)).json()
    base = f"/v1/cost/analyses/{review['analysis_id']}/report"
    report = (await cost.api.get(f"{base}.json", headers=VIEWER)).json()
    markdown = (await cost.api.get(f"{base}.md", headers=VIEWER)).text
    page = await cost.api.get(f"{base}.html", headers=VIEWER)
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text and "http://" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")

    html_path = tmp_path / "review.html"
    html_path.write_text(page.text)
    dom = await dump_dom(chromium, html_path)
    assert 'id="cost-trend"' in dom and "<svg" in dom
    bars = re.findall(r'<rect class="(monthly_request_cost_bdt|recommended_savings_bdt)"', dom)
    assert len(bars) == 2 * len(report["trend"]) == 4
    assert "Quarterly health review" in dom

    # The same numbers in every format: each figure of the JSON is in the Markdown, and no other.
    figures = {f"{f['monthly_savings_bdt']:,.2f}" for f in report["findings"]}
    figures |= {f"{value:,.2f}" for key, value in report["cost"].items() if key.endswith("_bdt")}
    figures |= {
        f"{p[key]:,.2f}" for p in report["trend"] for key in ("monthly_request_cost_bdt", "recommended_savings_bdt")
    }
    in_markdown = set(MONEY.findall(markdown.split("### How each figure")[0] + markdown.split("## Cost trend")[1]))
    assert figures == in_markdown
    for finding in report["findings"]:
        row = next(
            line for line in markdown.splitlines() if f"`{finding['target']}` | " in line and finding["title"] in line
        )
        assert f"{finding['monthly_savings_bdt']:,.2f} BDT" in row
    for card in report["scorecard"]:
        assert f"| {card['category']} | {card['score']} |" in markdown
    assert set(MONEY.findall(dom)) >= figures
