"""Node by node: cordon, drain by evictions (PDBs respected, bounded wait), replace through the
platform API, wait Ready at the new version, uncordon; and the reverse for a rollback.

Each phase is persisted before the next starts, so a runner that dies mid-node resumes there: a
finished node is never touched again and the unfinished one repeats only idempotent calls.
The drain deadline counts from the persisted `started_at`, so a restart does not extend it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping

from ..domain.pods import node_is_ready, owned_by_daemonset
from ..domain.versions import Version
from .cluster import ClusterClient

NodeSaver = Callable[[RowMapping, dict[str, Any]], Awaitable[RowMapping]]
Clock = Callable[[], Any]


class NodeFailed(RuntimeError):
    """The node could not be moved on; the message is what the report says about it."""


class NodeRoller:
    def __init__(self, client: ClusterClient, save: NodeSaver, clock: Clock, settings: Any) -> None:
        self.client = client
        self.save = save
        self.clock = clock
        self.settings = settings

    async def upgrade(self, row: RowMapping) -> RowMapping:
        """Moves one node from whatever phase it reached to `done`, or raises NodeFailed."""
        if row["phase"] == "pending":
            await self.client.set_unschedulable(row["node"], True)
            row = await self.save(row, {"phase": "cordoned", "started_at": self.clock(), "touched": ["cordoned"]})
        if row["phase"] == "cordoned":
            blocked = await self.drain(
                row["node"], row["started_at"] + timedelta(seconds=self.settings.drain_timeout_s)
            )
            if blocked:
                await self.client.set_unschedulable(row["node"], False)
                detail = (
                    f"drain of {row['node']} timed out after {self.settings.drain_timeout_s:g}s, blocked by "
                    + "; ".join(blocked)
                    + "; node uncordoned, not replaced"
                )
                await self.save(
                    row, {"phase": "restored", "detail": detail, "touched": [*row["touched"], "uncordoned"]}
                )
                raise NodeFailed(detail)
        if row["phase"] in ("cordoned", "drained"):  # `drained` rows come from runners before 2026-11
            # Drained and replace-requested are saved together (one write less per node): a resume
            # from `cordoned` finds the node empty at once, and asks the platform first whether this
            # run already requested the replace (a crash or a lost lease between the platform call
            # and this write), so a node is never replaced twice.
            operation = await self.requested_replace(row) or await self.client.upgrade_node(
                row["pool"], row["node"], row["to_version"]
            )
            touched = [*row["touched"], *([] if "drained" in row["touched"] else ["drained"]), "replaced"]
            values = {"platform_operation": operation["id"], "replace_requested_at": self.clock(), "touched": touched}
            row = await self.save(row, {"phase": "upgrading", **values})
        if row["phase"] in ("upgrading", "ready"):  # `ready` rows come from runners before 2026-11
            # Ready and uncordoned are saved together: a resume repeats only idempotent calls.
            await self.wait_platform(row["platform_operation"], row["node"])
            await self.wait_ready(row["node"], row["to_version"])
            ready_at = row["ready_at"] or self.clock()
            await self.client.set_unschedulable(row["node"], False)
            values = {"ready_at": ready_at, "finished_at": self.clock(), "touched": [*row["touched"], "uncordoned"]}
            row = await self.save(row, {"phase": "done", **values})
        return row

    async def requested_replace(self, row: RowMapping) -> dict[str, Any] | None:
        """A replace of this node to its target that this run asked for since cordoning it, if any."""
        since = row["started_at"].replace(microsecond=0)  # the platform's times are whole seconds
        wanted = Version.parse(row["to_version"])
        for operation in await self.client.platform_operations("UPGRADE_NODE", node=row["node"]):
            if (
                operation["status"] != "FAILED"
                and Version.parse(operation["target_version"]) == wanted
                and datetime.fromisoformat(operation["created_at"]) >= since
            ):
                return operation
        return None

    async def roll_back(self, row: RowMapping) -> str:
        """Puts one node back as it was before the operation; returns what was done to it."""
        node = row["node"]
        if row["phase"] in ("pending", "rolled_back"):
            return ""
        if row["phase"] == "restored":
            return str(row["detail"])
        if row["phase"] in ("cordoned", "drained"):
            await self.client.set_unschedulable(node, False)
            await self.save(row, {"phase": "restored", "touched": [*row["touched"], "uncordoned"]})
            return f"{node}: uncordoned (it had not been replaced)"
        # Replaced (or being replaced): the same careful path back to the version it had.
        await self.client.set_unschedulable(node, True)
        if row["phase"] == "upgrading":
            await self.wait_platform(row["platform_operation"], node, tolerate_failure=True)
        blocked = await self.drain(node, self.clock() + timedelta(seconds=self.settings.drain_timeout_s))
        if blocked:
            await self.client.set_unschedulable(node, False)
            detail = f"{node}: left at {row['to_version']} and uncordoned, its drain was blocked by " + "; ".join(
                blocked
            )
            await self.save(row, {"phase": "rollback_blocked", "detail": detail})
            return detail
        operation = await self.client.upgrade_node(row["pool"], node, row["from_version"])
        await self.wait_platform(operation["id"], node)
        await self.wait_ready(node, row["from_version"])
        await self.client.set_unschedulable(node, False)
        touched = [*row["touched"], "rolled back", "uncordoned"]
        await self.save(row, {"phase": "rolled_back", "finished_at": self.clock(), "touched": touched})
        return f"{node}: replaced back at {row['from_version']} and uncordoned"

    async def drain(self, node: str, deadline: Any) -> list[str]:
        """Evicts each pod a drain moves once, then waits for it to be gone; what still blocks at the
        deadline (refused evictions, pods still terminating).

        As `kubectl drain`: an evicted pod stays listed while it shuts down (its deletionTimestamp is
        set), and evicting it again succeeds at once without doing anything, so terminating pods are
        waited for, listed again every `drain_poll_s`, never evicted again.
        """
        while True:
            pods = [
                pod
                for pod in await self.client.pods_on_node(node)
                if not owned_by_daemonset(pod) and pod["status"].get("phase") not in ("Succeeded", "Failed")
            ]
            if not pods:
                return []
            going = [pod for pod in pods if pod["metadata"].get("deletionTimestamp")]
            refusals = await asyncio.gather(
                *(
                    self.client.evict(pod["metadata"]["namespace"], pod["metadata"]["name"])
                    for pod in pods
                    if not pod["metadata"].get("deletionTimestamp")
                )
            )
            blocked = [refusal for refusal in refusals if refusal]
            if refusals and not blocked:
                continue  # all evicted: a cluster that deletes at once leaves the node empty already
            if self.clock() >= deadline:
                return blocked + [
                    f"{pod['metadata']['namespace']}/{pod['metadata']['name']}: still terminating" for pod in going
                ]
            await asyncio.sleep(self.settings.eviction_retry_s if blocked else self.settings.drain_poll_s)

    async def wait_platform(self, operation_id: str, node: str, *, tolerate_failure: bool = False) -> None:
        # The platform's wait answers as the operation ends: no poll latency, one call instead of
        # one per poll interval (polling every 20 ms was the runner's largest CPU cost per node).
        while True:
            asked = time.monotonic()
            operation = await self.client.platform_operation(operation_id, self.settings.platform_wait_s)
            if operation["status"] == "DONE":
                return
            if operation["status"] == "FAILED":
                if tolerate_failure:
                    return
                error = operation.get("error") or {}
                raise NodeFailed(f"replacing {node}: {error.get('code')}: {error.get('message')}")
            # A wait may answer early (it is best effort): never ask faster than the poll interval.
            await asyncio.sleep(max(0.0, self.settings.platform_poll_s - (time.monotonic() - asked)))

    async def wait_ready(self, node: str, version: str) -> None:
        deadline = self.clock() + timedelta(seconds=self.settings.node_ready_timeout_s)
        wanted = Version.parse(version)
        while True:
            found = await self.client.node(node)
            kubelet = Version.parse(found["status"]["nodeInfo"]["kubeletVersion"])
            if node_is_ready(found) and kubelet == wanted:
                return
            if self.clock() >= deadline:
                raise NodeFailed(f"{node} not Ready at {version} within {self.settings.node_ready_timeout_s:g}s")
            await asyncio.sleep(self.settings.platform_poll_s)
