"""Nodes a runner adds and removes itself (for a surge upgrade it drives node by node): a surge
node at a version, counted against the cluster's surge quota until it is removed."""

from __future__ import annotations

import time

from .cluster import NODES
from .operations import Operation, PlatformError
from .platform import PlatformService
from .scenario import format_version

POOL_LABEL = "sandbox.k8sops.dev/node-pool"


def add_surge_node(service: PlatformService, cluster_name: str, pool_name: str, version: str) -> Operation:
    """202 + operation, DONE once the new node is Ready; `409 surge-quota-exceeded` without quota."""
    cluster = service.cluster(cluster_name)
    pool = service.pool(cluster, pool_name)
    target = service.node_version_allowed(cluster, version)
    if cluster.surge_quota - cluster.surge_nodes_in_use < 1:
        raise PlatformError(
            409,
            "surge-quota-exceeded",
            "Not enough surge quota",
            f"all {cluster.surge_quota} surge node(s) of {cluster.name} are in use; remove one or raise the quota",
        )
    operation = service._start(cluster, "CREATE_NODE", target, pool_name, exclusive=False)
    name = f"{cluster.name}-{pool.name}-surge-{operation.id.split('-')[-1]}"
    operation.node = name
    cluster.add_node(pool, name, target, ready=False)
    cluster.node_ready_at[name] = time.monotonic() + service.scenario.timing.node_ready_seconds
    cluster.surge_nodes.add(name)
    cluster.surge_nodes_in_use += 1

    async def run() -> None:
        operation.step(f"surge node {name} created at {format_version(target)}")
        await service._wait_ready(cluster, name, operation)
        operation.step(f"{name} Ready")

    service._spawn(cluster, operation, run, exclusive=False)
    return operation


def remove_node(service: PlatformService, cluster_name: str, pool_name: str, node_name: str) -> Operation:
    """202 + operation: the node and whatever still runs on it are gone (the caller drained it);
    a surge node gives its quota back."""
    cluster = service.cluster(cluster_name)
    service.pool(cluster, pool_name)
    node = cluster.store.find(NODES, "", node_name)
    if node is None or node["metadata"]["labels"].get(POOL_LABEL) != pool_name:
        raise PlatformError(404, "node-not-found", "Node not found", f"node pool {pool_name} has no node {node_name!r}")
    operation = service._start(cluster, "DELETE_NODE", cluster.version, pool_name, exclusive=False)
    operation.node = node_name
    cluster.delete_node(node_name)
    if node_name in cluster.surge_nodes:
        cluster.surge_nodes.discard(node_name)
        cluster.surge_nodes_in_use -= 1

    async def run() -> None:
        operation.step(f"node {node_name} removed")

    service._spawn(cluster, operation, run, exclusive=False)
    return operation
