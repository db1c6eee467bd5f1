"""Surge nodes stay right when the write after a platform call is lost (a crash or a lost lease
between the platform's answer and the runner's record): a resumed run neither adds a second surge
node nor fails on removing one that is already gone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.service import create_app
from k8sops_upgrade_runner import service
from k8sops_upgrade_runner.app import DEFINITION
from k8sops_upgrade_runner.runner.cluster import ClusterClient
from k8sops_upgrade_runner.runner.credentials import open_cluster
from k8sops_upgrade_runner.runner.nodes import NodeRoller
from k8sops_upgrade_runner.runner.surge import Surge

from .conftest import SENIOR, Harness, cluster_event, cluster_record, engagement_event, fast_runner


class WriteLost(RuntimeError):
    """The runner lost its lease: the fenced write did not happen."""


async def test_a_resumed_run_adopts_an_unrecorded_surge_node_and_finishes_a_removal(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    # The service's app without its lifespan: its database and API, no runner loop taking the plan.
    app = create_app(DEFINITION, healthy.settings)
    database = app.state.context.database
    async with database.unit_of_work() as session:
        await service.apply_engagement_change(
            session, engagement_event([cluster_event(sandbox, "acme-prod", "non-prod")], None)
        )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://upgrade-runner") as api:
        body = {"engagement_id": "eng-acme", "cluster_id": "acme-prod", "force": True}
        created = await api.post("/v1/operations", json=body, headers=SENIOR)
        assert created.status_code == 201, created.text
        operation_id = created.json()["operation_id"]

    settings = fast_runner(sandbox, max_surge=1)
    async with httpx.AsyncClient() as http:
        client = open_cluster(cluster_record(sandbox, "acme-prod"), settings, http)
        try:
            pool = sorted(await client.node_pools(), key=lambda pool: pool["name"])[0]
            version = pool["nodes"][0]["version"]

            def surge(lose_write: int | None) -> Surge:
                """A run's Surge whose `lose_write`-th database call (reads count too) is lost."""
                calls = 0

                async def save(work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
                    nonlocal calls
                    calls += 1
                    if calls == lose_write:
                        raise WriteLost
                    async with database.unit_of_work() as session:
                        return await work(session)

                def clock() -> datetime:
                    return datetime.now(UTC)

                async def no_node_rows(row: Any, values: dict[str, Any]) -> Any:
                    raise AssertionError(f"surge nodes write no node rows: {values}")

                roller = NodeRoller(client, no_node_rows, clock, settings)
                return Surge(operation_id, roller, "acme-prod", save, settings)

            # 1: read the pools, 2: record the node the platform just added: lost.
            try:
                await surge(lose_write=2).ensure(pool["name"], version)
                raise AssertionError("the record after adding the surge node was never reached")
            except WriteLost:
                pass
            await surge(lose_write=None).ensure(pool["name"], version)
            added = await creations(client, pool["name"])
            assert len(added) == 1, added
            recorded = (await surge(lose_write=None).pools())[f"acme-prod/{pool['name']}"]
            assert (recorded["state"], [n["name"] for n in recorded["nodes"]]) == ("up", [added[0]["node"]])

            # 1: read the pools, 2: record the removal the platform just made: lost.
            try:
                await surge(lose_write=2).remove(pool["name"])
                raise AssertionError("the record after removing the surge node was never reached")
            except WriteLost:
                pass
            done = await surge(lose_write=None).remove(pool["name"])
            assert done == [f"surge node {added[0]['node']} drained and removed"], done
            recorded = (await surge(lose_write=None).pools())[f"acme-prod/{pool['name']}"]
            assert recorded["state"] == "removed"
        finally:
            await client.close()
            await database.dispose()


async def creations(client: ClusterClient, pool: str) -> list[dict[str, Any]]:
    return await client.platform_operations("CREATE_NODE", pool=pool)
