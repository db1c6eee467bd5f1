"""Cluster create and delete through the platform API, as a managed Kubernetes provider offers:
a new cluster gets its own Kubernetes API server, controllers and nodes while the sandbox runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import uvicorn
from pydantic import BaseModel, Field

from .cluster import ClusterState, all_workloads
from .controller import Controller
from .kube_api import KubeApi
from .operations import PlatformError
from .scenario import Cluster, NodePool
from .usage import UsageModel

if TYPE_CHECKING:
    from .server import Sandbox


class NewNodePool(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    instance_type: str
    count: int = Field(ge=1, le=50)


class NewCluster(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    environment: Literal["prod", "non-prod"] = "prod"
    region: str = "ap-south-1"
    node_pools: list[NewNodePool] = Field(min_length=1)


@dataclass
class Served:
    server: uvicorn.Server
    task: asyncio.Task[None]


async def create_cluster(sandbox: Sandbox, body: NewCluster) -> ClusterState:
    if body.name in sandbox.clusters:
        raise PlatformError(409, "cluster-exists", "Cluster exists", f"a cluster named {body.name!r} exists already")
    unknown = [p.instance_type for p in body.node_pools if p.instance_type not in sandbox.scenario.instance_types]
    if unknown:
        known = ", ".join(sandbox.scenario.instance_types)
        raise PlatformError(422, "invalid-request", "Unknown instance type", f"{unknown[0]!r}; offered: {known}")
    spec = Cluster(
        name=body.name,
        environment=body.environment,
        version=body.version,
        region=body.region,
        node_pools=[NodePool(name=p.name, instance_type=p.instance_type, count=p.count) for p in body.node_pools],
    )
    cluster = ClusterState(sandbox.scenario, spec, sandbox.faults)
    cluster.seed()
    controller = Controller(cluster)
    controller.reconcile(instant=True)
    cluster.store.clock = lambda: datetime.now(UTC)
    sandbox.clusters[body.name] = cluster
    sandbox.controllers[body.name] = controller
    sandbox.usage[body.name] = UsageModel(cluster, all_workloads(spec))
    from .server import SignalFreeServer, bind, url_of  # the server module imports this one

    sock = bind(sandbox.host, 0)
    cluster.kube_url = sandbox.kube_urls[body.name] = url_of(sandbox.host, sock)
    server = SignalFreeServer(
        uvicorn.Config(
            sandbox.auth.guard(body.name, KubeApi(cluster, sandbox.usage[body.name]).app),
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    sandbox.provisioned[body.name] = Served(server, task)
    controller.start()
    while not server.started:
        if task.done():
            raise RuntimeError(f"the Kubernetes API of {body.name} failed to start") from task.exception()
        await asyncio.sleep(0.01)
    return cluster


async def delete_cluster(sandbox: Sandbox, name: str) -> dict[str, Any]:
    cluster = sandbox.platform.cluster(name)
    if cluster.busy_operation:
        raise PlatformError(409, "cluster-busy", "Cluster busy", f"{name} is running {cluster.busy_operation}")
    await sandbox.controllers.pop(name).stop()
    served = sandbox.provisioned.pop(name, None) or sandbox.serving.get(name)
    if served is not None:
        served.server.should_exit = True
        await asyncio.gather(served.task, return_exceptions=True)
    del sandbox.clusters[name]
    sandbox.kube_urls.pop(name, None)
    sandbox.usage.pop(name, None)
    return {"name": name, "status": "DELETED"}
