"""Crash safety and exclusivity: a runner that dies mid-drain (its task gone, its lease left to
expire, as after kill -9) is taken over by another from the persisted node phase, finished nodes
are never upgraded again, and of two competing replicas only one ever acts on the cluster."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from k8sops_upgrade_runner.repository import acquire_leases, holds_leases

from .conftest import SENIOR, Harness, cluster_event, engagement_event, fast_runner, pin_a_pod_behind_a_strict_budget

CLUSTER = "acme-prod"


async def test_kill_mid_drain_resumes_without_repeating_nodes_and_one_replica_acts(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    kube = sandbox.kube_urls[CLUSTER]
    first = await healthy.start_runner(fast_runner(sandbox, runner_id="runner-1", drain_timeout_s=600, lease_ttl_s=5))
    api = healthy.api
    assert api is not None
    await healthy.deliver(engagement_event([cluster_event(sandbox, CLUSTER, environment="non-prod")], None))
    async with httpx.AsyncClient() as http:
        names = sorted(node["metadata"]["name"] for node in (await http.get(f"{kube}/api/v1/nodes")).json()["items"])
    blocked_node = names[2]  # two nodes finish first
    await pin_a_pod_behind_a_strict_budget(kube, blocked_node)

    body = {"engagement_id": "eng-acme", "cluster_id": CLUSTER, "force": True}
    created = await api.post("/v1/operations", json=body, headers=SENIOR)
    assert created.status_code == 201, created.text
    operation_id = created.json()["operation_id"]

    async def phases() -> dict[str, str]:
        rows = await healthy.rows("SELECT node, phase FROM operation_nodes WHERE operation_id = :id", id=operation_id)
        return {row["node"]: row["phase"] for row in rows}

    stuck = await healthy.until(phases, lambda p: p.get(blocked_node) == "cordoned", 60)
    assert [stuck[name] for name in names[:2]] == ["done", "done"]

    # kill -9: the runner's tasks vanish mid-drain; nothing is released, the lease has to run out.
    runner_task = next(task for task in asyncio.all_tasks() if task.get_name().startswith(f"operation-{operation_id}"))
    loop_tasks = [task for task in asyncio.all_tasks() if task.get_name() == "run_runner"]
    for task in [runner_task, *loop_tasks]:
        task.cancel()
    await asyncio.gather(runner_task, *loop_tasks, return_exceptions=True)
    assert (await healthy.rows("SELECT holder FROM cluster_leases"))[0]["holder"] == "runner-1"
    del first

    async with httpx.AsyncClient(base_url=kube) as http:
        assert (await http.delete("/apis/policy/v1/namespaces/shop/poddisruptionbudgets/pinned")).status_code == 200
    holders: set[str] = set()

    async def watch_holders() -> None:
        while True:
            holders.update(row["holder"] for row in await healthy.rows("SELECT holder FROM cluster_leases"))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_holders())
    # runner-1's short lease is what runs out; the survivors' long one means a renewal delayed by a
    # busy machine cannot hand the cluster from one survivor to the other (that is not what is tested).
    await healthy.start_runner(fast_runner(sandbox, runner_id="runner-2", lease_ttl_s=30))
    await healthy.start_runner(fast_runner(sandbox, runner_id="runner-3", lease_ttl_s=30))
    done = await healthy.until_state(operation_id, "completed", "rolled_back", timeout_s=90)
    watcher.cancel()
    assert done["state"] == "completed", done["failure"]
    assert holders - {"runner-1"} in ({"runner-2"}, {"runner-3"}), holders  # one replica took over, never both

    async with httpx.AsyncClient() as http:
        operations = (await http.get(f"{sandbox.platform_url}/v1/operations", params={"cluster": CLUSTER})).json()
    upgrades = Counter(op["node"] for op in operations["operations"] if op["type"] == "UPGRADE_NODE")
    assert upgrades == Counter(dict.fromkeys(names, 1)), upgrades  # every node replaced exactly once
    steps = [
        row["to_state"]
        for row in await healthy.rows(
            "SELECT to_state FROM operation_steps WHERE operation_id = :id ORDER BY step_id", id=operation_id
        )
    ]
    assert steps == [
        "planned",
        "prechecking",
        "scheduled",
        "upgrading_control_plane",
        "upgrading_nodes",
        "postchecking",
        "completed",
    ]


async def test_a_cluster_lease_has_one_holder_until_it_expires(healthy: Harness) -> None:
    await healthy.start_runner(fast_runner(healthy.sandbox))
    database = healthy.apps[0].state.context.database
    soon = datetime.now(UTC) + timedelta(seconds=30)
    async with database.unit_of_work() as session:
        assert await acquire_leases(session, {"c1", "c2"}, "a", "op-1", soon)
    async with database.unit_of_work() as session:
        assert not await acquire_leases(session, {"c2"}, "b", "op-2", soon)
        assert await acquire_leases(session, {"c1", "c2"}, "a", "op-1", soon)  # renewal
        assert not await holds_leases(session, {"c1"}, "b")
    async with database.unit_of_work() as session:
        await acquire_leases(session, {"c1"}, "a", "op-1", datetime.now(UTC) - timedelta(seconds=1))
    async with database.unit_of_work() as session:
        assert await acquire_leases(session, {"c1"}, "b", "op-2", soon)  # expired: taken over
        assert not await holds_leases(session, {"c1"}, "a")
