"""HTTP routes of the platform API and the sandbox admin endpoints (faults, timing)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from . import provisioning, surge
from .operations import PlatformError
from .provisioning import NewCluster
from .scenario import Fault

if TYPE_CHECKING:
    from .server import Sandbox

PROBLEM_BASE = "https://k8sops.dev/problems/sandbox/"
MAX_WAIT_SECONDS = 60.0


class UpgradeControlPlane(BaseModel):
    version: str = Field(description="Target version, e.g. '1.30' or '1.30.2'; one minor above the current")


class UpgradeNodePool(BaseModel):
    version: str
    max_surge: int = Field(1, ge=0, description="Extra nodes created at the new version during the upgrade")


class RollbackNodePool(BaseModel):
    max_surge: int = Field(1, ge=0)


class UpgradeNode(BaseModel):
    version: str


class QuotaUpdate(BaseModel):
    surge_nodes: int = Field(ge=0)


class TimingUpdate(BaseModel):
    node_ready_seconds: float | None = None
    pod_start_seconds: float | None = None
    control_plane_upgrade_seconds: float | None = None
    drain_timeout_seconds: float | None = None
    node_ready_timeout_seconds: float | None = None
    pod_termination_seconds: float | None = Field(default=None, ge=0)


def problem(status: int, kind: str, title: str, detail: str, instance: str) -> JSONResponse:
    return JSONResponse(
        {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail, "instance": instance},
        status_code=status,
        media_type="application/problem+json",
    )


def build_platform_app(sandbox: Sandbox) -> FastAPI:
    service = sandbox.platform
    app = FastAPI(title="Sandbox platform API", version="1")

    @app.exception_handler(PlatformError)
    async def _platform_error(request: Request, error: PlatformError) -> JSONResponse:
        return problem(error.status, error.kind, error.title, error.detail, request.url.path)

    @app.exception_handler(ValidationError)
    async def _invalid(request: Request, error: ValidationError) -> JSONResponse:
        return problem(422, "invalid-request", "Invalid request", str(error), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid_body(request: Request, error: RequestValidationError) -> JSONResponse:
        # The same problem+json as every other refusal, naming each field to fix.
        fixes = "; ".join(f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors())
        return problem(422, "invalid-request", "Invalid request", fixes, request.url.path)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/clusters")
    async def list_clusters() -> dict[str, Any]:
        return {"clusters": [service.describe_cluster(c) for c in service.clusters.values()]}

    @app.post("/v1/clusters", status_code=201)
    async def create_cluster(body: NewCluster) -> dict[str, Any]:
        """A new cluster, running when the call returns (its Kubernetes API in `kubernetes_api_url`)."""
        return service.describe_cluster(await provisioning.create_cluster(sandbox, body))

    @app.delete("/v1/clusters/{cluster}")
    async def delete_cluster(cluster: str) -> dict[str, Any]:
        return await provisioning.delete_cluster(sandbox, cluster)

    @app.get("/v1/clusters/{cluster}")
    async def get_cluster(cluster: str) -> dict[str, Any]:
        return service.describe_cluster(service.cluster(cluster))

    @app.get("/v1/clusters/{cluster}/node-pools")
    async def list_pools(cluster: str) -> dict[str, Any]:
        state = service.cluster(cluster)
        return {"node_pools": [service.describe_pool(state, p) for p in state.pools.values()]}

    @app.get("/v1/clusters/{cluster}/node-pools/{pool}")
    async def get_pool(cluster: str, pool: str) -> dict[str, Any]:
        state = service.cluster(cluster)
        return service.describe_pool(state, service.pool(state, pool))

    @app.get("/v1/clusters/{cluster}/quota")
    async def get_quota(cluster: str) -> dict[str, Any]:
        return {"surge_nodes": service.quota(service.cluster(cluster))}

    @app.post("/v1/clusters/{cluster}/control-plane/upgrade", status_code=202)
    async def upgrade_control_plane(cluster: str, body: UpgradeControlPlane) -> dict[str, Any]:
        return service.upgrade_control_plane(cluster, body.version).as_dict()

    @app.post("/v1/clusters/{cluster}/node-pools/{pool}/upgrade", status_code=202)
    async def upgrade_pool(cluster: str, pool: str, body: UpgradeNodePool) -> dict[str, Any]:
        return service.upgrade_node_pool(cluster, pool, body.version, body.max_surge).as_dict()

    @app.post("/v1/clusters/{cluster}/node-pools/{pool}/rollback", status_code=202)
    async def rollback_pool(cluster: str, pool: str, body: RollbackNodePool | None = None) -> dict[str, Any]:
        surge = body.max_surge if body else 1
        return service.upgrade_node_pool(cluster, pool, "", surge, rollback=True).as_dict()

    @app.post("/v1/clusters/{cluster}/node-pools/{pool}/nodes/{node}/upgrade", status_code=202)
    async def upgrade_node(cluster: str, pool: str, node: str, body: UpgradeNode) -> dict[str, Any]:
        return service.upgrade_node(cluster, pool, node, body.version).as_dict()

    @app.post("/v1/clusters/{cluster}/node-pools/{pool}/nodes", status_code=202)
    async def add_node(cluster: str, pool: str, body: UpgradeNode) -> dict[str, Any]:
        """A surge node at `version` (counted against the surge quota), DONE once Ready."""
        return surge.add_surge_node(service, cluster, pool, body.version).as_dict()

    @app.delete("/v1/clusters/{cluster}/node-pools/{pool}/nodes/{node}", status_code=202)
    async def remove_node(cluster: str, pool: str, node: str) -> dict[str, Any]:
        return surge.remove_node(service, cluster, pool, node).as_dict()

    @app.get("/v1/operations")
    async def list_operations(cluster: str | None = None, node: str | None = None) -> dict[str, Any]:
        """Every operation, or a cluster's, or those acting on one node (as a provider's list filter)."""
        return {
            "operations": [
                op.as_dict()
                for op in service.operations.values()
                if cluster in (None, op.cluster) and node in (None, op.node)
            ]
        }

    @app.get("/v1/operations/{operation_id}")
    async def get_operation(operation_id: str) -> dict[str, Any]:
        return service.operation(operation_id).as_dict()

    @app.post("/v1/operations/{operation_id}/wait")
    async def wait_operation(operation_id: str, timeout_seconds: str = "30") -> dict[str, Any]:
        """The operation once it is done, or as it is after `timeout_seconds` (at most 60): like
        GCE's operations wait, best effort, so a client asks again while it is not done."""
        try:
            timeout = float(timeout_seconds)
        except ValueError:
            timeout = -1.0  # read as text so that a word gets the same problem as a bad number
        if not 0 <= timeout <= MAX_WAIT_SECONDS:
            raise PlatformError(
                422,
                "invalid-timeout",
                "Invalid wait timeout",
                f"timeout_seconds must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}, not {timeout_seconds!r}",
            )
        operation = service.operation(operation_id)
        try:
            await asyncio.wait_for(operation.finished.wait(), timeout)
        except TimeoutError:
            pass
        return operation.as_dict()

    # --- admin: what a test or a demo changes at runtime -----------------------------------
    @app.get("/admin/faults")
    async def list_faults() -> dict[str, Any]:
        return {"faults": [f.as_dict() for f in sandbox.faults.active.values()]}

    @app.post("/admin/faults", status_code=201)
    async def add_fault(fault: Fault) -> dict[str, Any]:
        return sandbox.faults.add(fault).as_dict()

    @app.delete("/admin/faults/{fault_id}", status_code=204)
    async def remove_fault(fault_id: str, request: Request) -> None:
        if not sandbox.faults.remove(fault_id):
            raise PlatformError(404, "fault-not-found", "Fault not found", f"no active fault {fault_id!r}")

    @app.delete("/admin/faults", status_code=204)
    async def clear_faults() -> None:
        sandbox.faults.clear()

    @app.patch("/admin/timing")
    async def set_timing(body: TimingUpdate) -> dict[str, Any]:
        timing = sandbox.scenario.timing
        for key, value in body.model_dump(exclude_none=True).items():
            setattr(timing, key, value)
        return timing.model_dump()

    @app.put("/admin/clusters/{cluster}/quota")
    async def set_quota(cluster: str, body: QuotaUpdate) -> dict[str, Any]:
        state = service.cluster(cluster)
        state.surge_quota = body.surge_nodes
        return {"surge_nodes": service.quota(state)}

    @app.get("/admin/sandbox")
    async def describe() -> dict[str, Any]:
        return sandbox.describe()

    return app
