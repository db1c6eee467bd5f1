"""A node pool's rolling upgrade as the provider runs it (`POST .../node-pools/{pool}/upgrade`):
surge nodes first, then each old node cordoned, drained by evictions, replaced and awaited Ready."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from .cluster import NODES, ClusterState, EvictionRefused, PoolState
from .objects import controller_of
from .operations import Operation, OperationFailed
from .scenario import format_version

if TYPE_CHECKING:
    from .platform import PlatformService


async def roll_pool(
    service: PlatformService,
    cluster: ClusterState,
    pool: PoolState,
    target: tuple[int, int, int],
    max_surge: int,
    operation: Operation,
) -> None:
    """Surge nodes at the target version first, then each old node: cordon, drain by evictions
    (PDBs respected, bounded wait), replace at the new version, wait Ready, uncordon."""
    source = pool.version
    pool.status = "UPGRADING"
    surge_names: list[str] = []
    try:
        for index in range(max_surge):
            name = f"{cluster.name}-{pool.name}-surge-{operation.id.split('-')[-1]}-{index}"
            cluster.add_node(pool, name, target, ready=False)
            cluster.node_ready_at[name] = time.monotonic() + service.scenario.timing.node_ready_seconds
            cluster.surge_nodes_in_use += 1
            surge_names.append(name)
            operation.step(f"surge node {name} created at {format_version(target)}")
        for name in surge_names:
            await service._wait_ready(cluster, name, operation)
        old_nodes = [
            n["metadata"]["name"] for n in cluster.pool_nodes(pool.name) if n["metadata"]["name"] not in surge_names
        ]
        batch = max(1, max_surge)
        for start in range(0, len(old_nodes), batch):
            await asyncio.gather(
                *(_replace_node(service, cluster, name, target, operation) for name in old_nodes[start : start + batch])
            )
        pool.previous_version, pool.version = source, target
        pool.status = "RUNNING"
    except OperationFailed:
        pool.status = "DEGRADED"
        raise
    finally:
        for name in surge_names:
            if cluster.store.find(NODES, "", name) is not None:
                cluster.set_unschedulable(name, True)
                await _drain(service, cluster, name, operation, strict=False)
                cluster.delete_node(name)
                operation.step(f"surge node {name} removed")
            cluster.surge_nodes_in_use -= 1


async def _replace_node(
    service: PlatformService, cluster: ClusterState, name: str, target: tuple[int, int, int], operation: Operation
) -> None:
    operation.step(f"cordon {name}")
    cluster.set_unschedulable(name, True)
    await _drain(service, cluster, name, operation, strict=True)
    operation.step(f"replace {name} at {format_version(target)}")
    cluster.begin_node_upgrade(name, target)
    await service._wait_ready(cluster, name, operation)
    cluster.set_unschedulable(name, False)
    operation.step(f"{name} Ready at {format_version(target)}, uncordoned")
    operation.progress["nodes_done"] = operation.progress.get("nodes_done", 0) + 1


async def _drain(
    service: PlatformService, cluster: ClusterState, name: str, operation: Operation, strict: bool
) -> None:
    deadline = time.monotonic() + service.scenario.timing.drain_timeout_seconds
    while True:
        blocked: list[str] = []
        for pod in cluster.pods_on_node(name):
            owner = controller_of(pod)
            if owner is not None and owner["kind"] == "DaemonSet":
                continue
            try:
                cluster.evict(pod["metadata"]["namespace"], pod["metadata"]["name"])
            except EvictionRefused as refused:
                cause = refused.causes[0]["message"] if refused.causes else refused.message
                blocked.append(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}: {cause}")
        if not blocked:
            return
        if time.monotonic() >= deadline:
            if not strict:
                return
            raise OperationFailed(
                "DRAIN_TIMEOUT",
                f"draining {name} did not finish within {service.scenario.timing.drain_timeout_seconds:g}s: "
                + "; ".join(blocked),
            )
        await asyncio.sleep(0.5)
