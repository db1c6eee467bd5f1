"""upgrade-runner as a real process, killed with SIGKILL in the middle of a drain: a new process
takes the operation over once the dead one's cluster lease expires, and no node is replaced twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from k8sops_common.events.catalog import ClusterV1, EngagementChangedV1
from k8sops_platform.services import ServiceProcess
from k8sops_sandbox.server import run_sandbox
from tests.support.bus import publish

from .conftest import StartService, bearer

Eventually = Callable[..., Awaitable[Any]]
SENIOR = bearer(["k8s-ops.senior"], ["eng-e2e"], sub="senior@provider.example")
CLUSTER = "acme-prod"


def runner_env(platform_url: str, runner_id: str) -> dict[str, str]:
    return {
        "K8SOPS_UPGRADE_PLATFORM_API_URL": platform_url,
        "K8SOPS_UPGRADE_RUNNER_ID": runner_id,
        "K8SOPS_UPGRADE_LEASE_TTL_S": "2",
        "K8SOPS_UPGRADE_POLL_INTERVAL_S": "0.1",
        "K8SOPS_UPGRADE_PLATFORM_POLL_S": "0.05",
        "K8SOPS_UPGRADE_EVICTION_RETRY_S": "0.2",
        "K8SOPS_UPGRADE_POSTCHECK_TIMEOUT_S": "20",
    }


async def ready(process: ServiceProcess, eventually: Eventually) -> None:
    async def status() -> int:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{process.url}/readyz")).status_code
        except httpx.HTTPError:
            return 0

    await eventually(status, lambda code: code == 200, 60)


async def test_sigkill_mid_drain_and_a_new_process_finishes_without_repeating_nodes(
    start_service: StartService, isolation: Any, eventually: Eventually, tmp_path: Path
) -> None:
    async with run_sandbox("healthy-small", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        timing = sandbox.scenario.timing
        timing.node_ready_seconds, timing.pod_start_seconds, timing.control_plane_upgrade_seconds = 0.1, 0.05, 0.1
        kube = sandbox.kube_urls[CLUSTER]
        first = await start_service("upgrade-runner", wait=False, env=runner_env(sandbox.platform_url, "runner-1"))
        await ready(first, eventually)

        engagement = EngagementChangedV1(
            engagement_id="eng-e2e",
            change="created",
            name="Acme",
            tier="k8s-247",
            timezone="Asia/Dhaka",
            working_days=[6, 0, 1, 2, 3],
            clusters=[
                ClusterV1(
                    cluster_id=CLUSTER,
                    name=CLUSTER,
                    environment="non-prod",
                    api_endpoint=kube,
                    size_band="M",
                    workload_band="<50",
                    monthly_retainer_bdt=Decimal("1"),
                )
            ],
            changed_at=datetime.now(UTC),
        )
        await publish(isolation, "intake", engagement)

        async with httpx.AsyncClient(base_url=kube) as http:
            names = sorted(node["metadata"]["name"] for node in (await http.get("/api/v1/nodes")).json()["items"])
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "pinned", "namespace": "shop", "labels": {"pin": "yes"}},
                "spec": {"nodeName": names[2], "containers": [{"name": "c", "image": "busybox"}]},
            }
            budget = {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "pinned", "namespace": "shop"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"pin": "yes"}}},
            }
            assert (await http.post("/api/v1/namespaces/shop/pods", json=pod)).status_code == 201
            assert (
                await http.post("/apis/policy/v1/namespaces/shop/poddisruptionbudgets", json=budget)
            ).status_code == 201

            async def pinned_phase() -> str:  # Pending pods are always evictable: wait until it runs
                return str((await http.get("/api/v1/namespaces/shop/pods/pinned")).json()["status"].get("phase"))

            await eventually(pinned_phase, lambda phase: phase == "Running", 30)

        async with httpx.AsyncClient(base_url=first.url, headers=SENIOR) as api:

            async def planned() -> int:
                body = {"engagement_id": "eng-e2e", "cluster_id": CLUSTER, "force": True}
                return (await api.post("/v1/operations", json=body)).status_code

            await eventually(planned, lambda code: code == 201, 30)  # once the engagement has arrived
            operation_id = (await api.get("/v1/operations")).json()["items"][0]["operation_id"]

            async def phases() -> dict[str, str]:
                rows = (await api.get(f"/v1/operations/{operation_id}/nodes")).json()
                return {row["node"]: row["phase"] for row in rows}

            held = await eventually(phases, lambda p: p.get(names[2]) == "cordoned", 60)
            assert [held[name] for name in names[:2]] == ["done", "done"]
        first.kill()  # SIGKILL mid-drain: no clean-up, the lease is left to expire

        async with httpx.AsyncClient(base_url=kube) as http:
            assert (await http.delete("/apis/policy/v1/namespaces/shop/poddisruptionbudgets/pinned")).status_code == 200
        second = await start_service("upgrade-runner", wait=False, env=runner_env(sandbox.platform_url, "runner-2"))
        await ready(second, eventually)
        async with httpx.AsyncClient(base_url=second.url, headers=SENIOR) as api:

            async def state() -> str:
                return str((await api.get(f"/v1/operations/{operation_id}")).json()["state"])

            assert await eventually(state, lambda s: s in ("completed", "rolled_back"), 90) == "completed"
        async with httpx.AsyncClient(base_url=sandbox.platform_url) as http:
            operations = (await http.get("/v1/operations", params={"cluster": CLUSTER})).json()["operations"]
        assert Counter(op["node"] for op in operations if op["type"] == "UPGRADE_NODE") == Counter(
            dict.fromkeys(names, 1)
        )
        await asyncio.to_thread(second.stop)
