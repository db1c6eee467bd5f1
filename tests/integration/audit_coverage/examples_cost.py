"""cost-analyzer's state-changing routes, each called for real (see examples.py)."""

from __future__ import annotations

from typing import Any

from .support import Call, Example, World

ENGAGEMENT = "eng-cov"
OPERATOR = ("k8s-ops.operator",)
ADMIN = ("k8s-ops.admin",)


async def _sql(world: World, statement: str, *args: object) -> None:
    isolation: Any = world.isolation  # the conftest's Isolation
    await isolation.fetch(statement.replace("{schema}", isolation.schema_for("cost-analyzer")), *args)


async def _cost_cluster(world: World) -> str:
    """cost-analyzer learns clusters from `engagement.changed`; the row its consumer would write."""
    await _sql(
        world,
        "INSERT INTO {schema}.clusters (cluster_id, engagement_id, name, environment, changed_at)"
        " VALUES ('cov-1', $1, 'cov-1', 'prod', now()) ON CONFLICT DO NOTHING",
        ENGAGEMENT,
    )
    return "cov-1"


async def _cost_recommendation(world: World) -> str:
    """An open recommendation as an analysis leaves it (analyses read a live cluster, so it is seeded)."""
    cluster_id = await _cost_cluster(world)
    await _sql(
        world,
        "INSERT INTO {schema}.recommendations (recommendation_id, engagement_id, cluster_id, kind, target, title,"
        " detail, monthly_savings_bdt, effort, status, last_analysis_id, created_at, updated_at)"
        " VALUES ('rec-cov', $1, $2, 'over-requesting', 'shop/web', 'Right-size shop/web', 'p95 8 % of request',"
        " 12000.00, 'low', 'open', 'an-cov', now(), now())",
        ENGAGEMENT,
        cluster_id,
    )
    return "rec-cov"


async def request_cost_analysis(world: World) -> Call:
    cluster_id = await _cost_cluster(world)
    path = f"/v1/cost/clusters/{cluster_id}/analyses"
    return lambda: world.client.post(path, json={"kind": "cost-analysis"}, headers=world.headers(*OPERATOR))


async def record_cost_position(world: World) -> Call:
    path = f"/v1/cost/recommendations/{await _cost_recommendation(world)}/positions"
    body = {"position": "Requests sized for the peak season; keep them until March."}
    return lambda: world.client.post(path, json=body, headers=world.headers(*ADMIN))


async def decide_cost_recommendation(world: World) -> Call:
    path = f"/v1/cost/recommendations/{await _cost_recommendation(world)}/decisions"
    return lambda: world.client.post(path, json={"status": "accepted"}, headers=world.headers(*ADMIN))


async def put_cost_price(world: World) -> Call:
    body = {"cpu_cores": "4", "memory_gib": "16", "on_demand_bdt_hour": "24.0000", "spot_bdt_hour": "9.0000"}
    return lambda: world.client.put("/v1/cost/prices/m5.xlarge", json=body, headers=world.headers(*OPERATOR))


COST_EXAMPLES: dict[tuple[str, str, str], Example] = {
    ("cost-analyzer", "POST", "/v1/cost/clusters/{cluster_id}/analyses"): request_cost_analysis,
    ("cost-analyzer", "POST", "/v1/cost/recommendations/{recommendation_id}/positions"): record_cost_position,
    ("cost-analyzer", "POST", "/v1/cost/recommendations/{recommendation_id}/decisions"): decide_cost_recommendation,
    ("cost-analyzer", "PUT", "/v1/cost/prices/{instance_type}"): put_cost_price,
}
