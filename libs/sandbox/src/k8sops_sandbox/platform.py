"""The provider side of a managed cluster: control-plane and node-pool upgrades as long-running
operations, surge quota, rollback. The HTTP layer is platform_api.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .cluster import NODES, ClusterState, PoolState
from .operations import Operation, OperationFailed, PlatformError
from .pool_rollout import roll_pool
from .scenario import Scenario, format_version, parse_version

MAX_KUBELET_SKEW = 3  # minors a kubelet may trail the control plane (since 1.28)


def minor_of(version: tuple[int, int, int]) -> str:
    return f"{version[0]}.{version[1]}"


class PlatformService:
    def __init__(self, clusters: dict[str, ClusterState], scenario: Scenario) -> None:
        self.clusters = clusters
        self.scenario = scenario
        self.operations: dict[str, Operation] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for operation in self.operations.values():
            operation.finished.set()  # a client waiting on one gets its answer (not done) before shutdown

    # --- reads -----------------------------------------------------------------------------
    def cluster(self, name: str) -> ClusterState:
        if name not in self.clusters:
            raise PlatformError(
                404,
                "cluster-not-found",
                "Cluster not found",
                f"no cluster {name!r}; known clusters: {', '.join(self.clusters)}",
            )
        return self.clusters[name]

    def pool(self, cluster: ClusterState, name: str) -> PoolState:
        if name not in cluster.pools:
            raise PlatformError(
                404,
                "node-pool-not-found",
                "Node pool not found",
                f"cluster {cluster.name} has no node pool {name!r}; it has {', '.join(cluster.pools)}",
            )
        return cluster.pools[name]

    def describe_cluster(self, cluster: ClusterState) -> dict[str, Any]:
        return {
            "name": cluster.name,
            "environment": cluster.spec.environment,
            "paired_cluster": cluster.spec.paired_with,
            "region": cluster.spec.region,
            "control_plane": {"version": format_version(cluster.version), "minor": minor_of(cluster.version)},
            "kubernetes_api_url": cluster.kube_url,
            "status": "RECONCILING" if cluster.busy_operation else "RUNNING",
            "current_operation": cluster.busy_operation,
            "node_pools": [self.describe_pool(cluster, pool) for pool in cluster.pools.values()],
            "surge_quota": self.quota(cluster),
        }

    def describe_pool(self, cluster: ClusterState, pool: PoolState) -> dict[str, Any]:
        instance = self.scenario.instance_types[pool.instance_type]
        nodes = cluster.pool_nodes(pool.name)
        return {
            "name": pool.name,
            "version": format_version(pool.version),
            "previous_version": format_version(pool.previous_version) if pool.previous_version else None,
            "instance_type": pool.instance_type,
            "capacity_type": pool.capacity_type,
            "instance": {
                "cpu": instance.cpu,
                "memory": instance.memory,
                "price_bdt_per_hour": instance.price_bdt_hour_spot
                if pool.capacity_type == "spot"
                else instance.price_bdt_hour_on_demand,
                "price_bdt_per_hour_on_demand": instance.price_bdt_hour_on_demand,
                "price_bdt_per_hour_spot": instance.price_bdt_hour_spot,
            },
            "status": pool.status,
            "node_count": len(nodes),
            "nodes": [
                {
                    "name": n["metadata"]["name"],
                    "version": cluster.node_version(n).lstrip("v"),
                    "ready": cluster.node_ready(n),
                    "unschedulable": bool(n["spec"].get("unschedulable")),
                    "surge": n["metadata"]["name"] in cluster.surge_nodes,
                }
                for n in nodes
            ],
        }

    def quota(self, cluster: ClusterState) -> dict[str, int]:
        return {
            "limit": cluster.surge_quota,
            "in_use": cluster.surge_nodes_in_use,
            "available": cluster.surge_quota - cluster.surge_nodes_in_use,
        }

    def operation(self, operation_id: str) -> Operation:
        if operation_id not in self.operations:
            raise PlatformError(404, "operation-not-found", "Operation not found", f"no operation {operation_id!r}")
        return self.operations[operation_id]

    # --- commands --------------------------------------------------------------------------
    def upgrade_control_plane(self, cluster_name: str, version: str) -> Operation:
        cluster = self.cluster(cluster_name)
        self._ensure_idle(cluster)
        target = self._parse(version)
        current = cluster.version
        if target[:2] == current[:2]:
            raise PlatformError(
                409,
                "already-at-version",
                "Control plane already at this version",
                f"the control plane of {cluster.name} already runs {minor_of(current)}",
            )
        if target[0] != current[0] or target[1] != current[1] + 1:
            raise PlatformError(
                422,
                "version-skip",
                "Control plane upgrades go one minor version at a time",
                f"{cluster.name} runs {minor_of(current)}: the only allowed target is "
                f"{current[0]}.{current[1] + 1}, not {minor_of(target)}; upgrade step by step",
            )
        oldest = min(pool.version[1] for pool in cluster.pools.values())
        if target[1] - oldest > MAX_KUBELET_SKEW:
            raise PlatformError(
                422,
                "node-skew",
                "Node pools too old for this control plane",
                f"a node pool runs 1.{oldest}; a {minor_of(target)} control plane supports kubelets "
                f"down to 1.{target[1] - MAX_KUBELET_SKEW}: upgrade the node pools first",
            )
        operation = self._start(cluster, "UPGRADE_CONTROL_PLANE", target, None)

        async def run() -> None:
            operation.step(f"upgrading control plane {format_version(current)} -> {format_version(target)}")
            await asyncio.sleep(self.scenario.timing.control_plane_upgrade_seconds)
            cluster.version = (target[0], target[1], target[2] if len(version.split(".")) == 3 else 0)
            operation.step("control plane upgraded")

        self._spawn(cluster, operation, run)
        return operation

    def upgrade_node_pool(
        self, cluster_name: str, pool_name: str, version: str, max_surge: int = 1, rollback: bool = False
    ) -> Operation:
        cluster = self.cluster(cluster_name)
        pool = self.pool(cluster, pool_name)
        self._ensure_idle(cluster)
        if rollback:
            if pool.previous_version is None:
                raise PlatformError(
                    409,
                    "no-previous-version",
                    "Nothing to roll back to",
                    f"node pool {pool_name} has not been upgraded, so it has no previous version",
                )
            target = pool.previous_version
        else:
            target = self._parse(version)
            if target[:2] > cluster.version[:2]:
                raise PlatformError(
                    422,
                    "version-above-control-plane",
                    "Node pool cannot be newer than the control plane",
                    f"the control plane runs {minor_of(cluster.version)}; upgrade it before moving "
                    f"node pool {pool_name} to {minor_of(target)}",
                )
            if target < pool.version:
                raise PlatformError(
                    422,
                    "downgrade",
                    "Use rollback to go back",
                    f"node pool {pool_name} runs {format_version(pool.version)}; "
                    "downgrades go through the rollback endpoint",
                )
            if target[1] - pool.version[1] > 1:
                raise PlatformError(
                    422,
                    "version-skip",
                    "Node pools upgrade one minor at a time",
                    f"node pool {pool_name} runs {minor_of(pool.version)}; next allowed is 1.{pool.version[1] + 1}",
                )
        if max_surge < 0:
            raise PlatformError(422, "invalid-surge", "max_surge must be 0 or more", "max_surge must be >= 0")
        available = cluster.surge_quota - cluster.surge_nodes_in_use
        if max_surge > available:
            raise PlatformError(
                409,
                "surge-quota-exceeded",
                "Not enough surge quota",
                f"the upgrade needs {max_surge} surge node(s) but only {available} of "
                f"{cluster.surge_quota} are available; lower max_surge or raise the quota",
            )
        kind = "ROLLBACK_NODE_POOL" if rollback else "UPGRADE_NODE_POOL"
        operation = self._start(cluster, kind, target, pool_name)
        operation.progress = {"nodes_total": len(cluster.pool_nodes(pool_name)), "nodes_done": 0}

        async def run() -> None:
            await roll_pool(self, cluster, pool, target, max_surge, operation)

        self._spawn(cluster, operation, run)
        return operation

    def upgrade_node(self, cluster_name: str, pool_name: str, node_name: str, version: str) -> Operation:
        """Replace one node at a version (the caller has cordoned and drained it)."""
        cluster = self.cluster(cluster_name)
        pool = self.pool(cluster, pool_name)
        node = cluster.store.find(NODES, "", node_name)
        if node is None or node["metadata"]["labels"].get("sandbox.k8sops.dev/node-pool") != pool_name:
            raise PlatformError(
                404, "node-not-found", "Node not found", f"node pool {pool_name} has no node {node_name!r}"
            )
        target = self.node_version_allowed(cluster, version)
        operation = self._start(cluster, "UPGRADE_NODE", target, pool_name, exclusive=False)
        operation.node = node_name

        async def run() -> None:
            if pool.previous_version is None or pool.previous_version[:2] != target[:2]:
                pool.previous_version = pool.version if pool.version != target else pool.previous_version
            operation.step(f"replacing {node_name} at {format_version(target)}")
            cluster.begin_node_upgrade(node_name, target)
            await self._wait_ready(cluster, node_name, operation)
            if all(cluster.node_version(n) == f"v{format_version(target)}" for n in cluster.pool_nodes(pool_name)):
                pool.version = target
            operation.step(f"{node_name} Ready at {format_version(target)}")

        self._spawn(cluster, operation, run, exclusive=False)
        return operation

    async def _wait_ready(self, cluster: ClusterState, name: str, operation: Operation) -> None:
        # A node that never comes back fails the operation instead of hanging it.
        limit = self.scenario.timing.node_ready_timeout_seconds
        deadline = time.monotonic() + limit
        while (remaining := deadline - time.monotonic()) > 0:
            node = cluster.store.find(NODES, "", name)
            if node is not None and cluster.node_ready(node):
                return
            # Woken when the kubelet reports Ready, so the operation ends when the node is back
            # (a 0.1 s poll here added up to 0.1 s to every replace); a look every second anyway.
            became_ready = cluster.ready_events.setdefault(name, asyncio.Event())
            try:
                await asyncio.wait_for(became_ready.wait(), min(remaining, 1.0))
            except TimeoutError:
                pass
        raise OperationFailed("NODE_NOT_READY", f"node {name} did not become Ready within {limit:g}s")

    # --- plumbing --------------------------------------------------------------------------
    def node_version_allowed(self, cluster: ClusterState, version: str) -> tuple[int, int, int]:
        """The parsed version a node may run: never above the control plane."""
        target = self._parse(version)
        if target[:2] > cluster.version[:2]:
            raise PlatformError(
                422,
                "version-above-control-plane",
                "Node cannot be newer than the control plane",
                f"the control plane runs {minor_of(cluster.version)}",
            )
        return target

    def _parse(self, version: str) -> tuple[int, int, int]:
        try:
            return parse_version(version)
        except ValueError as error:
            raise PlatformError(422, "invalid-version", "Invalid version", str(error)) from None

    @staticmethod
    def _ensure_idle(cluster: ClusterState) -> None:
        if cluster.busy_operation is not None:
            raise PlatformError(
                409,
                "operation-in-progress",
                "Another operation is running",
                f"operation {cluster.busy_operation} is still running on {cluster.name}; "
                "poll it and retry when it is done",
            )

    def _start(
        self, cluster: ClusterState, kind: str, target: tuple[int, int, int], pool: str | None, exclusive: bool = True
    ) -> Operation:
        if exclusive:
            self._ensure_idle(cluster)
        operation = Operation(f"op-{next(self._ids):05d}", kind, cluster.name, format_version(target), pool)
        self.operations[operation.id] = operation
        return operation

    def _spawn(
        self, cluster: ClusterState, operation: Operation, body: Callable[[], Awaitable[None]], exclusive: bool = True
    ) -> None:
        if exclusive:
            cluster.busy_operation = operation.id

        async def wrapper() -> None:
            operation.status = "RUNNING"
            try:
                await body()
            except OperationFailed as failure:
                operation.error = {"code": failure.code, "message": failure.message}
                operation.step(f"failed: {failure.message}")
                operation.finish("FAILED")
            else:
                operation.finish("DONE")
            finally:
                if exclusive and cluster.busy_operation == operation.id:
                    cluster.busy_operation = None

        task = asyncio.create_task(wrapper(), name=operation.id)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
