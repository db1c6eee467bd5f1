"""upgrade-runner's state-changing routes, each called for real (see examples.py)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from k8sops_sandbox.server import run_sandbox

from .support import Call, Example, World

ENGAGEMENT = "eng-cov"
CLUSTER = "cov-1"
OPERATOR = ("k8s-ops.operator",)
ADMIN = ("k8s-ops.admin",)


async def sql(world: World, statement: str, *args: object) -> None:
    isolation: Any = world.isolation  # the conftest's Isolation
    schema = isolation.schema_for("upgrade-runner")
    await isolation.fetch(statement.replace("{schema}", schema), *args)


async def with_cluster(world: World, endpoint: str = "https://cov-1.k8s.example:6443") -> None:
    """The copies engagement.changed would have left (the service has no API to write them)."""
    await sql(
        world,
        "INSERT INTO {schema}.engagements (engagement_id, name, tier, timezone, changed_at) "
        "VALUES ($1, 'Coverage Ltd', 'k8s-247', 'Asia/Dhaka', now()) ON CONFLICT DO NOTHING",
        ENGAGEMENT,
    )
    await sql(
        world,
        "INSERT INTO {schema}.clusters (cluster_id, engagement_id, name, environment, api_endpoint) "
        "VALUES ($1, $2, $1, 'non-prod', $3) ON CONFLICT (cluster_id) DO UPDATE SET api_endpoint = $3",
        CLUSTER,
        ENGAGEMENT,
        endpoint,
    )


async def with_operation(world: World, state: str, **columns: Any) -> str:
    await with_cluster(world)
    body = {"engagement_id": ENGAGEMENT, "cluster_id": CLUSTER}
    response = await world.client.post("/v1/operations", json=body, headers=world.headers(*OPERATOR))
    assert response.is_success, response.text
    operation_id = str(response.json()["operation_id"])
    # The runner is not running here: put the operation where the route under test needs it.
    await sql(world, "UPDATE {schema}.operations SET state = $2 WHERE operation_id = $1", operation_id, state)
    for column, value in columns.items():
        await sql(world, f"UPDATE {{schema}}.operations SET {column} = $2 WHERE operation_id = $1", operation_id, value)
    return operation_id


async def create_plan(world: World) -> Call:
    await with_cluster(world)
    body = {"engagement_id": ENGAGEMENT, "cluster_id": CLUSTER}
    return lambda: world.client.post("/v1/operations", json=body, headers=world.headers(*OPERATOR))


def command(route: str, state: str, roles: tuple[str, ...], body: Any = None, **columns: Any) -> Example:
    async def example(world: World) -> Call:
        operation_id = await with_operation(world, state, **columns)
        path = f"/v1/operations/{operation_id}/{route}"
        return lambda: world.client.post(path, json=body, headers=world.headers(*roles))

    return example


async def authorise(world: World) -> Call:
    await with_cluster(world)
    body = {
        "engagement_id": ENGAGEMENT,
        "cluster_id": CLUSTER,
        "action": "delete-namespace",
        "target": {"kind": "Namespace", "name": "old"},
        "reason": "decommissioned",
    }
    return lambda: world.client.post("/v1/authorisations", json=body, headers=world.headers(*ADMIN))


def in_sandbox(act: Callable[[str], Awaitable[httpx.Response]]) -> Example:
    """A route that reads or acts in a cluster: the sandbox, only for the duration of the call."""

    async def example(world: World) -> Call:
        await with_cluster(world)

        async def call() -> httpx.Response:
            with tempfile.TemporaryDirectory() as folder:
                async with run_sandbox("healthy-small", kubeconfig_path=Path(folder) / "kubeconfig") as sandbox:
                    kube = sandbox.kube_urls["acme-prod"]
                    await with_cluster(world, kube)
                    return await act(kube)

        return call

    return example


def cluster_action(world: World) -> Awaitable[Call]:
    async def cordon(kube: str) -> httpx.Response:
        async with httpx.AsyncClient() as http:
            node = (await http.get(f"{kube}/api/v1/nodes")).json()["items"][0]["metadata"]["name"]
        body = {"action": "cordon", "target": {"kind": "Node", "name": node}}
        return await world.client.post(f"/v1/clusters/{CLUSTER}/actions", json=body, headers=world.headers(*OPERATOR))

    return in_sandbox(cordon)(world)


def record_baseline(world: World) -> Awaitable[Call]:
    async def record(kube: str) -> httpx.Response:
        return await world.client.post(f"/v1/clusters/{CLUSTER}/baseline", headers=world.headers(*OPERATOR))

    return in_sandbox(record)(world)


async def drift_check(world: World) -> Call:
    # A baseline as `POST .../baseline` records it (one object), so the check has a desired state.
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
    await with_cluster(world)
    await sql(
        world,
        "INSERT INTO {schema}.cluster_baselines (cluster_id, object_key, object, recorded_at, recorded_by, reason) "
        "VALUES ($1, 'v1/ConfigMap/shop/c', $2, now(), 'oncall@provider.example', 'onboarding')",
        CLUSTER,
        json.dumps(config_map),
    )

    async def check(kube: str) -> httpx.Response:
        return await world.client.post(f"/v1/clusters/{CLUSTER}/drift-checks", headers=world.headers(*OPERATOR))

    return await in_sandbox(check)(world)


def git_repository(folder: str) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
    (Path(folder) / "c.yaml").write_text(json.dumps(manifest))
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "desired"]):
        subprocess.run(["git", "-c", "user.name=c", "-c", "user.email=c@example", *command], cwd=folder, check=True)


async def git_desired_state(world: World) -> Call:
    await with_cluster(world)

    async def call() -> httpx.Response:
        with tempfile.TemporaryDirectory() as folder:
            git_repository(folder)
            # The service reads this when the test gives it no runner settings of its own.
            os.environ["K8SOPS_UPGRADE_GIT_ALLOW_LOCAL"] = "true"
            try:
                body = {"repository": f"file://{folder}", "ref": "main", "path": "."}
                path = f"/v1/clusters/{CLUSTER}/desired-state"
                return await world.client.post(path, json=body, headers=world.headers(*OPERATOR))
            finally:
                os.environ.pop("K8SOPS_UPGRADE_GIT_ALLOW_LOCAL")

    return call


async def create_drift_reconcile(world: World) -> Call:
    await with_cluster(world)
    body = {"engagement_id": ENGAGEMENT, "cluster_id": CLUSTER}
    return lambda: world.client.post("/v1/operations/drift-reconcile", json=body, headers=world.headers(*OPERATOR))


async def create_addon_operation(world: World) -> Call:
    await with_cluster(world)
    body = {"engagement_id": ENGAGEMENT, "cluster_id": CLUSTER, "addon": "ingress-nginx", "version": "1.11.3"}
    return lambda: world.client.post("/v1/operations/addons", json=body, headers=world.headers(*OPERATOR))


async def create_migration(world: World) -> Call:
    await with_cluster(world)
    body = {
        "engagement_id": ENGAGEMENT,
        "cluster_id": CLUSTER,
        "new_cluster": {
            "name": "cov-2",
            "version": "1.30.4",
            "node_pools": [{"name": "a", "instance_type": "m5.xlarge", "count": 1}],
        },
        "topology": "one cluster",
        "workloads": [{"kind": "Deployment", "namespace": "shop", "name": "web"}],
    }
    return lambda: world.client.post("/v1/operations/migration", json=body, headers=world.headers(*OPERATOR))


async def decommission(world: World) -> Call:
    operation_id = await with_operation(
        world, "awaiting_decommission", kind="migration", spec=json.dumps({"workloads": []})
    )
    grant = {
        "engagement_id": ENGAGEMENT,
        "cluster_id": CLUSTER,
        "action": "decommission-cluster",
        "target": {"kind": "Cluster", "name": CLUSTER},
        "reason": "migrated",
    }
    granted = await world.client.post("/v1/authorisations", json=grant, headers=world.headers(*ADMIN))
    assert granted.is_success, granted.text
    body = {"authorisation_id": granted.json()["authorisation_id"]}
    path = f"/v1/operations/{operation_id}/decommission"
    return lambda: world.client.post(path, json=body, headers=world.headers(*OPERATOR))


STAGE = json.dumps({"stage_ref": "stage-cov", "result": "passed"})
UPGRADE_EXAMPLES: dict[tuple[str, str, str], Example] = {
    ("upgrade-runner", "POST", "/v1/operations"): create_plan,
    ("upgrade-runner", "POST", "/v1/operations/addons"): create_addon_operation,
    ("upgrade-runner", "POST", "/v1/operations/drift-reconcile"): create_drift_reconcile,
    ("upgrade-runner", "POST", "/v1/operations/migration"): create_migration,
    ("upgrade-runner", "POST", "/v1/operations/{operation_id}/decommission"): decommission,
    ("upgrade-runner", "POST", "/v1/clusters/{cluster_id}/baseline"): record_baseline,
    ("upgrade-runner", "POST", "/v1/clusters/{cluster_id}/desired-state"): git_desired_state,
    ("upgrade-runner", "POST", "/v1/clusters/{cluster_id}/drift-checks"): drift_check,
    ("upgrade-runner", "POST", "/v1/operations/{operation_id}/sign-off"): command(
        "sign-off", "awaiting_signoff", ADMIN, {"stage_ref": "stage-cov"}, stage=STAGE
    ),
    ("upgrade-runner", "POST", "/v1/operations/{operation_id}/start"): command("start", "scheduled", OPERATOR, {}),
    ("upgrade-runner", "POST", "/v1/operations/{operation_id}/cancel"): command("cancel", "planned", OPERATOR),
    ("upgrade-runner", "POST", "/v1/operations/{operation_id}/recheck"): command(
        "recheck", "precheck_failed", OPERATOR
    ),
    ("upgrade-runner", "POST", "/v1/authorisations"): authorise,
    ("upgrade-runner", "POST", "/v1/clusters/{cluster_id}/actions"): cluster_action,
}
