"""Drift feeds the quarterly review, end to end through Kafka: the runner measures a cluster's
drift and publishes `drift.measured`; cost-analyzer (its own schema, its own consumer) keeps the
latest measurement, and the next health review shows it in JSON, Markdown and HTML."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from k8sops_common.bus import EventConsumer
from k8sops_common.service import ServiceContext, create_app
from k8sops_cost_analyzer.analysis import run_due_job
from k8sops_cost_analyzer.app import DEFINITION as COST
from k8sops_cost_analyzer.domain.findings import AnalysisConfig
from k8sops_cost_analyzer.domain.review import Quarter, zone_of
from k8sops_cost_analyzer.handlers import subscriptions as cost_subscriptions
from k8sops_cost_analyzer.settings import ClusterAccessSettings, CostSettings

from .conftest import OPERATOR, TIMEZONE, VIEWER, Harness, cluster_event, engagement_event, fast_runner

WEB = "/apis/apps/v1/namespaces/shop/deployments/web"


@pytest.fixture
async def cost_analyzer(isolation: Any, healthy: Harness) -> AsyncIterator[tuple[ServiceContext, httpx.AsyncClient]]:
    """cost-analyzer on the same broker and topic prefix as the runner: its consumer reads what
    the runner's relay published; jobs run when the test says so (clock set by the test)."""
    settings = await isolation.settings("cost-analyzer", "k8sops_cost_analyzer.migrations")
    app = create_app(COST, settings)
    context: ServiceContext = app.state.context
    sandbox = healthy.sandbox
    context.extras["cost_settings"] = (
        ClusterAccessSettings(kubeconfig=str(sandbox.kubeconfig_path), prometheus_url=sandbox.prometheus_url),
        CostSettings(),
        AnalysisConfig(),
    )
    consumer = EventConsumer(settings, context.database, cost_subscriptions(context), retry_delay_s=0.01)
    task = asyncio.create_task(consumer.run())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cost") as api:
            yield context, api
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 15)
        await context.database.dispose()


async def test_drift_measured_by_the_runner_appears_in_the_quarterly_review(
    healthy: Harness, cost_analyzer: tuple[ServiceContext, httpx.AsyncClient]
) -> None:
    cost, cost_api = cost_analyzer
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox))
    api = healthy.api
    assert api is not None
    await healthy.deliver(engagement_event([cluster_event(sandbox, "acme-staging", environment="non-prod")], None))
    assert (await api.post("/v1/clusters/acme-staging/drift-checks", headers=OPERATOR)).status_code == 409
    assert (await api.post("/v1/clusters/acme-staging/baseline", headers=OPERATOR)).status_code == 201
    assert (await api.post("/v1/clusters/acme-staging/drift-checks", headers=VIEWER)).status_code == 403

    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-staging"]) as kube:
        replicas = (await kube.get(WEB)).json()["spec"]["replicas"]
        patch = {"spec": {"replicas": replicas + 2}}
        merge = {"Content-Type": "application/merge-patch+json"}
        assert (await kube.patch(WEB, json=patch, headers=merge)).status_code == 200
    checked = await api.post("/v1/clusters/acme-staging/drift-checks", headers=OPERATOR)
    assert checked.status_code == 201, checked.text
    assert [(f["object"], f["drift"]) for f in checked.json()["findings"]] == [("Deployment shop/web", "changed")]
    (published,) = await healthy.events("drift.measured")
    assert (published["total"], published["trigger"], published["source"]) == (1, "check", "baseline")
    audit = [e for e in await healthy.events("audit.event") if e["action"] == "drift.checked"]
    assert audit and audit[0]["actor"]["sub"] == "oncall@provider.example"

    async def stored() -> list[dict[str, Any]]:
        async with cost.database.sessions() as session:
            rows = await session.execute(text("SELECT cluster_id, total, objects FROM cluster_drift"))
            return [dict(row) for row in rows.mappings()]

    (row,) = await healthy.until(stored, lambda rows: len(rows) == 1, 30)
    assert row["cluster_id"] == "acme-staging" and row["total"] == 1
    change = row["objects"][0]["changes"][0]
    assert (change["path"], change["desired"], change["live"]) == ("spec.replicas", replicas, replicas + 2)

    # The review due next quarter carries it (the onboarding assessment, due now, runs first).
    # Its quarters are the engagement's (Asia/Dhaka): the next one starts at 00:00 there.
    zone = zone_of(TIMEZONE)
    due = Quarter.of(datetime.now(UTC), zone).next().starts_at(zone)
    ran = 0
    while await run_due_job(cost, due + timedelta(minutes=5)):
        ran += 1
    assert ran == 2
    (review,) = (await cost_api.get("/v1/cost/reviews", headers=VIEWER)).json()
    base = f"/v1/cost/analyses/{review['analysis_id']}/report"
    report = (await cost_api.get(f"{base}.json", headers=VIEWER)).json()
    assert report["drift"]["measured"] and report["drift"]["total"] == 1
    assert report["drift"]["counts"] == {"missing": 0, "extra": 0, "changed": 1}
    markdown = (await cost_api.get(f"{base}.md", headers=VIEWER)).text
    assert (
        "## Configuration drift" in markdown
        and f"| `Deployment shop/web` | changed | `spec.replicas`: {replicas} → {replicas + 2} |" in markdown
    )
    html = (await cost_api.get(f"{base}.html", headers=VIEWER)).text
    assert "Configuration drift" in html and "Deployment shop/web" in html
    (assessment,) = (await cost_api.get("/v1/cost/assessments", headers=VIEWER)).json()
    assessment_report = (
        await cost_api.get(f"/v1/cost/analyses/{assessment['analysis_id']}/report.json", headers=VIEWER)
    ).json()
    assert assessment_report["drift"] is None  # drift is the quarterly review's
