"""Surge nodes: before a pool's first node is drained, up to `MAX_SURGE` extra nodes at the target
version are added through the platform API, so the drained pods have room at once; they are
drained and removed after the pool's last node (or before a pause for the window, or by a
rollback). Without surge quota the pool is replaced in place. Which way each pool went, and every
surge node, is kept in `operations.spec["surge"]` (so a resumed runner knows them, and the report
says so)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException
from sqlalchemy.ext.asyncio import AsyncSession

from .. import repository
from ..settings import RunnerSettings
from .cluster import ClusterClient
from .nodes import NodeRoller
from .platform_api import PlatformError

Saver = Callable[[Callable[[AsyncSession], Awaitable[Any]]], Awaitable[Any]]


class Surge:
    def __init__(
        self,
        operation_id: str,
        roller: NodeRoller,
        cluster_name: str,
        save: Saver,
        settings: RunnerSettings,
    ) -> None:
        self.operation_id = operation_id
        self.settings = settings
        self._pools: dict[str, Any] | None = None
        self._operation_created_at: datetime | None = None
        self._ready: set[str] = set()
        self.client: ClusterClient = roller.client
        self.cluster_name = cluster_name
        self.roller = roller
        self.save = save

    async def pools(self) -> dict[str, Any]:
        """Read once per run: only the lease holder writes them, through `record`."""
        if self._pools is None:

            async def read(session: AsyncSession) -> dict[str, Any]:
                operation = await repository.get_operation(session, self.operation_id)
                assert operation is not None
                self._operation_created_at = operation["created_at"]
                return dict((operation["spec"] or {}).get("surge") or {})

            self._pools = dict(await self.save(read))
        return self._pools

    async def record(self, pool: str, entry: dict[str, Any]) -> None:
        async def write(session: AsyncSession) -> None:
            operation = await repository.get_operation(session, self.operation_id, for_update=True)
            assert operation is not None
            spec = dict(operation["spec"] or {})
            spec["surge"] = {**(spec.get("surge") or {}), f"{self.cluster_name}/{pool}": entry}
            await repository.update_operation(session, self.operation_id, {"spec": spec})

        await self.save(write)
        self._pools = {**await self.pools(), f"{self.cluster_name}/{pool}": entry}

    async def ensure(self, pool: str, version: str) -> None:
        """Surge nodes up and Ready for the pool (created once; awaited again on a resume)."""
        max_surge = self.settings.max_surge
        entry = (await self.pools()).get(f"{self.cluster_name}/{pool}")
        if entry is None or entry["state"] == "removed":
            nodes = await self.unrecorded(pool)
            wanted = min(max_surge, await self.client.surge_available()) if max_surge > 0 else 0
            adopted = len(nodes)
            for _ in range(wanted - adopted):
                try:
                    created = await self.client.add_node(pool, version)
                except PlatformError as error:
                    if error.problem_type != "surge-quota-exceeded":
                        raise
                    break  # another pool or cluster took the quota meanwhile
                nodes.append({"name": created["node"], "platform_operation": created["id"]})
                # Saved after each one: a surge node is never left unknown to a resumed runner.
                await self.record(pool, self.entry(max_surge, version, nodes, "up"))
            entry = self.entry(max_surge, version, nodes, "up" if nodes else "in-place")
            if len(nodes) == adopted:  # nothing added now: in place, or only the unrecorded ones
                await self.record(pool, entry)
        for node in entry["nodes"] if entry["state"] == "up" and pool not in self._ready else []:
            await self.roller.wait_platform(node["platform_operation"], node["name"])
        self._ready.add(pool)  # awaited once per run, not before every node

    async def unrecorded(self, pool: str) -> list[dict[str, Any]]:
        """Surge nodes this operation had the platform add to the pool but never recorded (a crash
        or a lost lease between the platform's answer and the write): taken as this run's own
        instead of asking for more. Only the lease holder adds nodes to a cluster's pools."""
        await self.pools()
        assert self._operation_created_at is not None
        since = self._operation_created_at.replace(microsecond=0)  # the platform's times are whole seconds
        found = []
        for operation in await self.client.platform_operations("CREATE_NODE", pool=pool):
            if operation["status"] == "FAILED" or datetime.fromisoformat(operation["created_at"]) < since:
                continue
            try:
                await self.client.node(operation["node"])
            except ApiException as error:
                if error.status != 404:
                    raise
                continue  # added and removed again: not a surge node of this pool any more
            found.append({"name": operation["node"], "platform_operation": operation["id"]})
        return found

    @staticmethod
    def entry(max_surge: int, version: str, nodes: list[dict[str, Any]], state: str) -> dict[str, Any]:
        mode = "surge" if nodes else "in-place"
        reason = (
            f"{len(nodes)} surge node(s) at {version}"
            if nodes
            else ("max surge is 0" if max_surge <= 0 else "no surge quota on the platform")
        )
        return {"mode": mode, "state": state, "version": version, "nodes": nodes, "reason": reason}

    async def remove(self, pool: str) -> list[str]:
        """Drains (bounded) and removes the pool's surge nodes; what was done, for the report."""
        key = f"{self.cluster_name}/{pool}"
        entry = (await self.pools()).get(key)
        if entry is None or entry["state"] != "up":
            return []
        done = []
        for node in entry["nodes"]:
            name = node["name"]
            try:
                await self.client.set_unschedulable(name, True)
                blocked = await self.roller.drain(
                    name, self.roller.clock() + timedelta(seconds=self.settings.drain_timeout_s)
                )
                removal = await self.client.remove_node(pool, name)
                await self.roller.wait_platform(removal["id"], name)
            except (PlatformError, ApiException) as error:
                if error.status != 404:  # gone already: a resumed removal whose record was lost
                    raise
                blocked = []
            suffix = f" (its drain was blocked by {'; '.join(blocked)})" if blocked else ""
            done.append(f"surge node {name} drained and removed{suffix}")
        await self.record(pool, {**entry, "state": "removed"})
        self._ready.discard(pool)
        return done

    async def remove_all(self) -> list[str]:
        done = []
        for key, entry in (await self.pools()).items():
            cluster_name, pool = key.split("/", 1)
            if cluster_name == self.cluster_name and entry["state"] == "up":
                done += await self.remove(pool)
        return done
