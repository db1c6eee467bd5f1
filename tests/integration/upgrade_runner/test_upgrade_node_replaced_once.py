"""A node is replaced once even when the write after the platform call is lost (a crash or a lost
lease between asking the platform to replace the node and recording that it asked)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx

from k8sops_sandbox.server import run_sandbox
from k8sops_upgrade_runner.domain.versions import Version
from k8sops_upgrade_runner.runner.credentials import open_cluster
from k8sops_upgrade_runner.runner.nodes import NodeRoller

from .conftest import cluster_record, fast_runner, speed_up


class WriteLost(RuntimeError):
    """The runner lost its lease: the fenced write of the node's next phase did not happen."""


async def test_a_replace_asked_for_before_a_lost_write_is_not_asked_for_again(tmp_path: Path) -> None:
    async with run_sandbox("healthy-small", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        speed_up(sandbox)
        settings = fast_runner(sandbox)
        async with httpx.AsyncClient() as http:
            client = open_cluster(cluster_record(sandbox, "acme-prod"), settings, http)
            try:
                current = Version.parse((await client.platform_cluster())["control_plane"]["version"])
                target = Version(current.major, current.minor + 1, 0)
                saved: list[dict[str, Any]] = []

                async def save(row: Any, values: dict[str, Any]) -> Any:
                    if values.get("phase") == "upgrading" and not any(s.get("phase") == "lost" for s in saved):
                        saved.append({"phase": "lost"})
                        raise WriteLost
                    saved.append(values)
                    return {**row, **values}

                def clock() -> datetime:
                    return datetime.now(UTC)

                roller = NodeRoller(client, save, clock, settings)
                await roller.wait_platform((await client.upgrade_control_plane(target))["id"], "control plane")
                version = (await client.platform_cluster())["control_plane"]["version"]
                pool = sorted(await client.node_pools(), key=lambda pool: pool["name"])[0]
                node = sorted(pool["nodes"], key=lambda node: node["name"])[0]
                row = {
                    "node": node["name"],
                    "pool": pool["name"],
                    "phase": "pending",
                    "from_version": node["version"],
                    "to_version": version,
                    "touched": [],
                    "ready_at": None,
                }
                cordoned: dict[str, Any] = {}
                try:
                    await roller.upgrade(cast(Any, row))
                except WriteLost:
                    cordoned = {**row, **next(s for s in saved if s.get("phase") == "cordoned")}
                assert cordoned, "the write after the platform call was never reached"

                # The resumed runner starts from the last phase it recorded: cordoned.
                done = await roller.upgrade(cast(Any, cordoned))
                assert done["phase"] == "done"
            finally:
                await client.close()
            listed = (await http.get(f"{sandbox.platform_url}/v1/operations", params={"cluster": "acme-prod"})).json()
        replaces = [op for op in listed["operations"] if op["type"] == "UPGRADE_NODE" and op["node"] == node["name"]]
        assert len(replaces) == 1, replaces
