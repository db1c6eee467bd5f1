"""The bar: an analysis of the `cost-review` sandbox cluster finds each kind of saving, with the
figures worked out here by hand from the scenario (m5.2xlarge: 8 cores, 32 GiB, 47.0 BDT/h on
demand, 17.6 spot; 65 % of a node's price pays for CPU; 730 hours a month)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from .conftest import ADMIN, CLUSTER, OPERATOR, VIEWER, CostHarness, cost_request, engagement_event

CORE_MONTH = 47.0 * 0.65 / 8 * 730  # 2787.6875 BDT per core-month
GIB_MONTH = 47.0 * 0.35 / 32 * 730  # 375.265625 BDT per GiB-month
SPOT_CORE_MONTH = 17.6 * 0.65 / 8 * 730  # 1043.9
SPOT_GIB_MONTH = 17.6 * 0.35 / 32 * 730  # 140.525


async def test_each_finding_with_hand_computed_savings(cost: CostHarness) -> None:
    assessment = await cost.onboard()
    response = await cost.api.get(f"/v1/cost/analyses/{assessment['analysis_id']}/findings", headers=VIEWER)
    findings = {(f["kind"], f["target"]): f for f in response.json()}
    assert set(findings) == {
        ("over-requesting", "shop/web"),
        ("hpa-right-sizing", "shop/api"),
        ("no-hpa", "shop/checkout"),
        ("no-spot-mix", CLUSTER),
        ("unused-namespace", "legacy-reports"),
        ("not-enough-data", "shop/fresh"),
    }

    # shop/web, 4 replicas: CPU 1000m used 8 % = 80m -> 80m x 1.15 = 92m;
    # memory 2Gi used 15 % = 307.2Mi -> 307.2 x 1.15 = 353.28 -> 354Mi.
    web = findings[("over-requesting", "shop/web")]
    per_replica = (1 - 0.092) * CORE_MONTH + (2048 - 354) / 1024 * GIB_MONTH
    assert float(web["monthly_savings_bdt"]) == pytest.approx(round(4 * per_replica, 2))  # 12,608.08
    assert {(c["resource"], c["to"]) for c in web["change"]["requests"]} == {("cpu", 0.092), ("memory", 354 * 2**20)}

    # shop/api, 3 replicas, HPA at 50 % of 500m = 250m per pod. Usage 40m x 1.15 = 46m would need a
    # 543 % target; capped at 90 %: request 250 / 0.9 = 277.8 -> 278m, target 250 / 278 = 89.9 -> 90 %.
    api = findings[("hpa-right-sizing", "shop/api")]
    (change,) = api["change"]["requests"]
    assert change["to"] == pytest.approx(0.278)
    assert change["hpa_average_utilization"] == {"from": 50, "to": 90}
    assert 0.90 * 278 == pytest.approx(250, abs=0.5)  # the absolute threshold is kept
    assert float(api["monthly_savings_bdt"]) == pytest.approx(round(3 * (0.5 - 0.278) * CORE_MONTH, 2))  # 1,856.60

    # shop/checkout, 6 fixed replicas of 250m / 512Mi, load 50 % +- 60 % over the day, replicas in step.
    # Mean over 14 whole days of 2-hourly samples = the mean; peak = the highest sample of the wave,
    # 1 + 0.6 x s with s between cos 15 deg (samples 30 deg apart) and 1. An HPA runs replicas / swing on
    # average: savings (1 - 1/swing) x (1.5 cores x CORE_MONTH + 3 GiB x GIB_MONTH).
    checkout = findings[("no-hpa", "shop/checkout")]
    requests_cost = 1.5 * CORE_MONTH + 3 * GIB_MONTH  # 5,307.33
    low = (1 - 1 / (1 + 0.6 * math.cos(math.radians(15)))) * requests_cost  # 1,947.3
    high = (1 - 1 / 1.6) * requests_cost  # 1,990.25
    assert low - 0.01 <= float(checkout["monthly_savings_bdt"]) <= high + 0.01

    # Every node on demand; stateless Deployments outside kube-system, idle ones excluded:
    # web 4 x (1 core, 2 GiB), api 3 x (0.5, 1), checkout 6 x (0.25, 0.5), fresh 2 x (1, 1) = 9 cores, 16 GiB.
    # Half of them on spot saves 0.5 x (on demand - spot).
    spot = findings[("no-spot-mix", CLUSTER)]
    on_demand = 9 * CORE_MONTH + 16 * GIB_MONTH  # 31,093.44
    on_spot = 9 * SPOT_CORE_MONTH + 16 * SPOT_GIB_MONTH  # 11,643.50
    assert float(spot["monthly_savings_bdt"]) == pytest.approx(round(0.5 * (on_demand - on_spot), 2))  # 9,724.97
    assert spot["effort"] == "high"

    # legacy-reports: 2 replicas of 500m / 1Gi using 0.2 % of their CPU.
    unused = findings[("unused-namespace", "legacy-reports")]
    assert float(unused["monthly_savings_bdt"]) == pytest.approx(round(2 * (0.5 * CORE_MONTH + GIB_MONTH), 2))

    # shop/fresh was deployed 24 hours ago: 2-hourly samples fall far short of 100, so no guess.
    fresh = findings[("not-enough-data", "shop/fresh")]
    assert float(fresh["monthly_savings_bdt"]) == 0 and not fresh["recommended"]
    assert int(fresh["detail"].split(" samples")[0]) < 100

    recommended = sum(float(f["monthly_savings_bdt"]) for f in findings.values() if f["recommended"])
    assert float(assessment["monthly_savings_bdt"]) == pytest.approx(recommended)
    recommendations = (await cost.api.get("/v1/cost/recommendations", headers=VIEWER)).json()
    assert {r["kind"] for r in recommendations} == {k for (k, _), f in findings.items() if f["recommended"]}
    assert {r["status"] for r in recommendations} == {"open"}


async def test_assessment_reports_posture_and_topology(cost: CostHarness) -> None:
    assessment = await cost.onboard()
    report = (await cost.api.get(f"/v1/cost/analyses/{assessment['analysis_id']}/report.json", headers=VIEWER)).json()
    assert report["topology"]["version"] == "v1.30.4" and report["topology"]["nodes"] == 3
    assert report["topology"]["node_types"] == {"m5.2xlarge": 3}
    checks = {(p["check"], p["target"]) for p in report["posture"]}
    assert ("privileged", "monitoring/node-exporter") in checks
    assert ("host-path", "monitoring/node-exporter") in checks
    assert ("cluster-admin-binding", "ci-deployer-admin") in checks
    assert ("no-network-policy", "legacy-reports") in checks and ("no-network-policy", "shop") not in checks
    assert ("latest-tag", "legacy-reports/report-builder") in checks
    assert {card["movement"] for card in report["scorecard"]} == {"new"}


async def test_cost_optimization_request_runs_an_analysis_announced_with_its_request(cost: CostHarness) -> None:
    await cost.onboard()
    await cost.deliver(cost_request("req-cost-1", cost.now))
    assert await cost.run_jobs() == 1
    reports = await cost.events("cost.report")
    answer = next(r for r in reports if r.get("request_id") == "req-cost-1")
    assert answer["kind"] == "cost-analysis" and answer["cluster_id"] == CLUSTER and answer["findings"] == 6
    analyses = (await cost.api.get("/v1/cost/analyses?kind=cost-analysis", headers=VIEWER)).json()
    assert [a["request_id"] for a in analyses] == ["req-cost-1"]
    audit = await cost.events("audit.event")
    assert {"cost.cluster.track", "cost.onboarding-assessment.complete", "cost.cost-analysis.complete"} <= {
        a["action"] for a in audit
    }


async def test_onboarding_runs_once_and_analyses_on_demand_are_for_operators(cost: CostHarness) -> None:
    await cost.onboard()
    again = await cost.api.post(
        f"/v1/cost/clusters/{CLUSTER}/analyses", json={"kind": "onboarding-assessment"}, headers=OPERATOR
    )
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    forbidden = await cost.api.post(f"/v1/cost/clusters/{CLUSTER}/analyses", json={}, headers=ADMIN)
    assert forbidden.status_code == 403
    bad = await cost.api.post(f"/v1/cost/clusters/{CLUSTER}/analyses", json={"kind": "astrology"}, headers=OPERATOR)
    assert bad.status_code == 422 and "kind" in bad.text
    unknown = await cost.api.post("/v1/cost/clusters/nope/analyses", json={}, headers=OPERATOR)
    assert unknown.status_code == 404
    keyed = {**OPERATOR, "Idempotency-Key": "review-once"}
    queued = await cost.api.post(f"/v1/cost/clusters/{CLUSTER}/analyses", json={"kind": "health-review"}, headers=keyed)
    assert queued.status_code == 202, queued.text
    replay = await cost.api.post(f"/v1/cost/clusters/{CLUSTER}/analyses", json={"kind": "health-review"}, headers=keyed)
    assert replay.status_code == 202 and replay.json()["job_id"] == queued.json()["job_id"]
    reused = await cost.api.post(f"/v1/cost/clusters/{CLUSTER}/analyses", json={"kind": "cost-analysis"}, headers=keyed)
    assert reused.status_code == 422 and reused.json()["type"].endswith("idempotency-key-reused")
    assert await cost.run_jobs() == 1
    reviews = (await cost.api.get("/v1/cost/reviews", headers=VIEWER)).json()
    assert [r["requested_by"] for r in reviews] == ["oncall@provider.example"]


async def test_an_unreachable_cluster_is_retried_then_the_job_fails_audited(cost: CostHarness) -> None:
    cost.sandbox.inject_fault({"type": "api_error", "status": 500})
    await cost.deliver(engagement_event(cost.now))
    for attempt in range(3):
        assert await cost.run_jobs() == 1, f"attempt {attempt + 1}"
        cost.now += timedelta(minutes=2 ** (attempt + 1) + 1)  # past the back-off
    assert await cost.run_jobs() == 0
    (job,) = [j for j in (await cost.api.get("/v1/cost/jobs", headers=VIEWER)).json() if j["kind"] != "health-review"]
    assert (job["status"], job["attempts"]) == ("failed", 3) and "500" in job["last_error"]
    assert (await cost.api.get("/v1/cost/assessments", headers=VIEWER)).json() == []
    failures = [a for a in await cost.events("audit.event") if a["outcome"] == "failure"]
    assert [a["action"] for a in failures] == ["cost.onboarding-assessment.run"]


async def test_price_table_is_data_edited_by_operators_and_audited(cost: CostHarness) -> None:
    prices = (await cost.api.get("/v1/cost/prices", headers=VIEWER)).json()
    assert {p["instance_type"]: p["on_demand_bdt_hour"] for p in prices}["m5.2xlarge"] == "47.0000"
    body = {"cpu_cores": "8", "memory_gib": "32", "on_demand_bdt_hour": "94.0", "spot_bdt_hour": "35.2"}
    assert (await cost.api.put("/v1/cost/prices/m5.2xlarge", json=body, headers=ADMIN)).status_code == 403
    dearer_spot = {**body, "spot_bdt_hour": "100"}
    refused = await cost.api.put("/v1/cost/prices/m5.2xlarge", json=dearer_spot, headers=OPERATOR)
    assert refused.status_code == 422 and "spot_bdt_hour" in refused.text
    assert (await cost.api.put("/v1/cost/prices/m5.2xlarge", json=body, headers=OPERATOR)).status_code == 200
    (edit,) = [a for a in await cost.events("audit.event") if a["action"] == "cost.price.update"]
    assert edit["details"] == {
        "on_demand_before": "47",
        "on_demand_after": "94",
        "spot_before": "17.6",
        "spot_after": "35.2",
    }

    # Twice the price, twice the savings: shop/web's 12,608.08 BDT becomes 4 x 2 x 3,152.02.
    assessment = await cost.onboard()
    findings = (await cost.api.get(f"/v1/cost/analyses/{assessment['analysis_id']}/findings", headers=VIEWER)).json()
    web = next(f for f in findings if f["target"] == "shop/web")
    per_replica = (1 - 0.092) * 2 * CORE_MONTH + (2048 - 354) / 1024 * 2 * GIB_MONTH
    assert float(web["monthly_savings_bdt"]) == pytest.approx(round(4 * per_replica, 2))
