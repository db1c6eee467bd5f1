"""Two plans at the same moment: the one that loses on a unique index is told which rule it broke
and which operation won, as a plan refused before its insert is (no cluster is contacted: no sandbox)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from k8sops_common.audit import SYSTEM_ACTOR
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import ClusterV1
from k8sops_common.service import ServiceContext, create_app
from k8sops_upgrade_runner import plans, service
from k8sops_upgrade_runner.app import DEFINITION
from tests.conftest import Isolation, poll_until

from .conftest import ENGAGEMENT, engagement_event


def cluster(name: str) -> ClusterV1:
    return ClusterV1(
        cluster_id=name,
        name=name,
        environment="non-prod",
        api_endpoint=f"https://{name}.example:6443",
        size_band="S",
        workload_band="<50",
        monthly_retainer_bdt=Decimal("1.00"),
    )


async def race(isolation: Isolation, context: ServiceContext, winner: tuple[str, str], loser: tuple[str, str]) -> Any:
    """`winner` is planned in a transaction held open until `loser`'s insert waits on it; answers the
    winner's operation and what the loser raised."""
    pid: list[int] = []

    async def plan(session: Any, cluster_and_request: tuple[str, str]) -> Any:
        cluster_id, request_id = cluster_and_request
        return await plans.create_plan(
            session,
            context.outbox,
            actor=SYSTEM_ACTOR,
            engagement_id=ENGAGEMENT,
            cluster_id=cluster_id,
            request_id=request_id,
            target_version=None,
            emergency=False,
            force=False,
        )

    async def losing() -> Any:
        async with context.database.unit_of_work() as session:
            pid.append(await session.scalar(text("SELECT pg_backend_pid()")))
            return await plan(session, loser)

    async with context.database.unit_of_work() as session:
        won = await plan(session, winner)
        attempt = asyncio.create_task(losing())
        query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
        await poll_until(lambda: isolation.fetch(query, pid[0] if pid else 0), lambda r: bool(r) and r[0][0] == "Lock")
    with pytest.raises(ProblemError) as refused:
        await attempt
    return won, refused.value


async def test_the_plan_that_loses_a_race_names_the_winner_and_its_rule(isolation: Isolation) -> None:
    settings = await isolation.settings("upgrade-runner", "k8sops_upgrade_runner.migrations")
    context: ServiceContext = create_app(DEFINITION, settings).state.context
    try:
        async with context.database.unit_of_work() as session:
            clusters = [cluster("pay-1"), cluster("pay-2"), cluster("pay-3")]
            await service.apply_engagement_change(session, engagement_event(clusters, None))
        # The same request on two clusters: the request's rule.
        won, refused = await race(
            isolation,
            context,
            ("pay-1", "req-1"),
            ("pay-2", "req-1"),
        )
        assert (refused.status, refused.problem_type) == (409, "request-has-operation")
        assert f"'req-1' already has operation {won['operation_id']} (upgrade, planned)" in refused.detail
        # Two requests on one cluster: the cluster's rule.
        won, refused = await race(
            isolation,
            context,
            ("pay-3", "req-2"),
            ("pay-3", "req-3"),
        )
        assert (refused.status, refused.problem_type) == (409, "operation-in-progress")
        assert f"'pay-3' already has live operation {won['operation_id']} (upgrade, planned)" in refused.detail
        rows = await isolation.fetch(f"SELECT request_id FROM {settings.schema_name}.operations ORDER BY request_id")
        assert [row["request_id"] for row in rows] == ["req-1", "req-2"]  # nothing half-written by the losers
    finally:
        await context.database.dispose()
