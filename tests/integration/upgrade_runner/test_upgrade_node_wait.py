"""A replaced node is awaited with the platform's operation wait (one call, answered as the node is
back), and by polling on a platform without one (`platform_wait_s` 0)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx

from k8sops_sandbox.server import run_sandbox
from k8sops_upgrade_runner.domain.versions import Version
from k8sops_upgrade_runner.runner.credentials import open_cluster
from k8sops_upgrade_runner.runner.nodes import NodeRoller

from .conftest import fast_runner, speed_up


async def test_a_replace_is_awaited_with_the_platform_wait_or_polled_without_it(tmp_path: Path) -> None:
    async with run_sandbox("healthy-small", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        speed_up(sandbox)
        cluster = {
            "name": "acme-prod",
            "api_endpoint": sandbox.kube_urls["acme-prod"],
            "credentials_ref": "vault://k8s/acme-prod/admin",
        }
        asked: list[httpx.Request] = []

        async def record(request: httpx.Request) -> None:
            asked.append(request)

        async def save(row: Any, values: dict[str, Any]) -> Any:
            return {**row, **values}

        def clock() -> datetime:
            return datetime.now(UTC)

        async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
            calls: dict[float, list[str]] = {}
            for wait_s in (20.0, 0.0):
                settings = fast_runner(sandbox, platform_wait_s=wait_s, platform_poll_s=0.02)
                client = open_cluster(cluster, settings, http)
                try:
                    roller = NodeRoller(client, save, clock, settings)
                    if wait_s:  # the first pass upgrades the control plane, awaited the same way
                        current = Version.parse((await client.platform_cluster())["control_plane"]["version"])
                        target = Version(current.major, current.minor + 1, 0)
                        await roller.wait_platform((await client.upgrade_control_plane(target))["id"], "control plane")
                    version = (await client.platform_cluster())["control_plane"]["version"]
                    pool = sorted(await client.node_pools(), key=lambda pool: pool["name"])[0]
                    node = sorted(n["name"] for n in pool["nodes"] if n["version"] != version)[0]
                    row = {"node": node, "pool": pool["name"], "phase": "pending", "touched": [], "ready_at": None}
                    row |= {"from_version": "", "to_version": version}
                    asked.clear()
                    done = await roller.upgrade(cast(Any, row))
                finally:
                    await client.close()
                assert done["phase"] == "done" and done["touched"][-1] == "uncordoned"
                operation = done["platform_operation"]
                calls[wait_s] = [f"{r.method} {r.url.path}" for r in asked if operation in r.url.path]
        assert calls[20.0] and all(call.endswith("/wait") for call in calls[20.0])
        assert len(calls[20.0]) == 1, calls[20.0]
        assert calls[0.0] and all(call == f"GET /v1/operations/{operation}" for call in calls[0.0])
