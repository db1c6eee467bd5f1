"""Drives one operation from its persisted state, one readable function per state.

Every write first checks that this runner still holds the cluster leases (fencing), in the same
transaction, so a runner that lost its lease cannot record progress it no longer owns.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from kubernetes_asyncio.client.exceptions import ApiException
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.service import ServiceContext

from .. import repository, service
from ..domain.addons import compatibility_findings, inventory
from ..domain.checks import Baseline, baseline_of, evaluate_precheck, postcheck_problems
from ..domain.node_plan import node_rows
from ..domain.operation import State, Trigger
from ..domain.removed_apis import from_helm, from_last_applied, from_metrics, kinds_to_scan
from ..domain.versions import Version, check_target, next_minor, version_skip_finding
from ..domain.window import MaintenanceWindow
from ..settings import RunnerSettings
from .cluster import ClusterClient
from .credentials import CredentialsError, open_cluster, refused_credentials
from .nodes import NodeFailed, NodeRoller
from .platform_api import PlatformError
from .surge import Surge

T = TypeVar("T")
RETRY_UNKNOWN_CLUSTER = timedelta(seconds=5)
NO_WINDOW_RECHECK = timedelta(hours=1)


class LeaseLost(RuntimeError):
    """Another runner holds the cluster now; this one must stop touching it."""


class Driver:
    def __init__(
        self,
        context: ServiceContext,
        settings: RunnerSettings,
        http: httpx.AsyncClient,
        operation_id: str,
        leased: set[str],
    ) -> None:
        self.context = context
        self.settings = settings
        self.http = http
        self.operation_id = operation_id
        self.leased = leased
        self.clients: dict[str, ClusterClient] = {}

    def now(self) -> datetime:
        return service.now_utc()

    async def save(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.context.database.unit_of_work() as session:
            if not await repository.holds_leases(session, self.leased, self.settings.runner_id):
                raise LeaseLost(f"lost the lease on {sorted(self.leased)}")
            return await work(session)

    async def load(self) -> RowMapping:
        async with self.context.database.sessions() as session:
            operation = await repository.get_operation(session, self.operation_id)
        assert operation is not None
        return operation

    async def move(self, trigger: Trigger, detail: str = "", **changes: Any) -> RowMapping:
        async def apply(session: AsyncSession) -> RowMapping:
            operation = await repository.get_operation(session, self.operation_id, for_update=True)
            assert operation is not None
            return await service.transition(
                session, self.context.outbox, operation, trigger, detail=detail, changes=changes
            )

        return await self.save(apply)

    async def defer(self, until: datetime | None, **changes: Any) -> None:
        async def apply(session: AsyncSession) -> None:
            await repository.update_operation(session, self.operation_id, {"next_run_at": until, **changes})

        await self.save(apply)

    async def staging_pair(self, operation: RowMapping) -> RowMapping | None:
        """The paired non-prod cluster a stage runs on; None (and the stage failed) when unknown."""
        cluster = await self.cluster(operation["cluster_id"])
        assert cluster is not None
        pair = await self.cluster(cluster["paired_cluster_id"])
        if pair is None:
            await self.move(Trigger.STAGE_FAILED, "the paired non-prod cluster is unknown", failure="no staging pair")
        return pair

    async def cluster(self, cluster_id: str) -> RowMapping | None:
        async with self.context.database.sessions() as session:
            return await repository.get_cluster(session, cluster_id)

    async def client(self, cluster: Mapping[Any, Any]) -> ClusterClient:
        if cluster["name"] not in self.clients:
            self.clients[cluster["name"]] = open_cluster(cluster, self.settings, self.http)
        return self.clients[cluster["name"]]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()

    def handlers(self) -> dict[State, Callable[[RowMapping], Awaitable[bool]]]:
        """One function per state of the kind's machine; other kinds override this."""
        return {
            State.PLANNED: self.planned,
            State.PRECHECKING: self.prechecking,
            State.STAGING: self.staging,
            State.SCHEDULED: self.scheduled,
            State.UPGRADING_CONTROL_PLANE: self.upgrading_control_plane,
            State.UPGRADING_NODES: self.upgrading_nodes,
            State.POSTCHECKING: self.postchecking,
            State.ROLLING_BACK: self.rolling_back,
        }

    async def run(self) -> None:
        """Advances the operation until it has to wait (for a person, a window, or for good)."""
        handlers = self.handlers()
        try:
            while True:
                operation = await self.load()
                handler = handlers.get(State(operation["state"]))
                if handler is None or not await handler(operation):
                    return
        finally:
            await self.close()

    # --- one function per state --------------------------------------------------------------
    async def planned(self, operation: RowMapping) -> bool:
        await self.move(Trigger.START_PRECHECK)
        return True

    async def prechecking(self, operation: RowMapping) -> bool:
        try:
            return await self.precheck(operation)
        except (CredentialsError, ApiException) as error:
            finding = refused_credentials(error)  # re-raises anything but a refused credential
            await self.move(
                Trigger.PRECHECK_BLOCKED, f"1 blocking finding(s): {finding['message']}", findings=[finding]
            )
            return False

    async def precheck(self, operation: RowMapping) -> bool:
        cluster = await self.cluster(operation["cluster_id"])
        if cluster is None:
            await self.defer(self.now() + RETRY_UNKNOWN_CLUSTER)
            return False
        client = await self.client(cluster)
        current = Version.parse((await client.platform_cluster())["control_plane"]["version"])
        target = Version.parse(operation["to_version"]) if operation["to_version"] else next_minor(current)
        findings: list[dict[str, Any]] = []
        try:
            check_target(current, target)
        except ValueError as error:
            findings.append(version_skip_finding(current, error))
        kinds = kinds_to_scan(target)
        removed = (
            from_metrics(await client.metrics_text(), target)
            + from_last_applied(await client.annotated_objects(kinds), target)
            + from_helm(await client.helm_releases(), target)
        )
        snapshot = await client.snapshot(current, await client.surge_available())
        evaluated = evaluate_precheck(snapshot, target, removed)
        addons = inventory(await client.workloads(), await client.helm_releases())
        findings += [finding.as_dict() for finding in [*evaluated, *compatibility_findings(addons, target)]]
        blocking = [f for f in findings if f["severity"] == "blocking"]
        changes = {
            "from_version": str(current),
            "to_version": target.minor_text,
            "findings": findings,
            "baseline": baseline_of(snapshot).as_dict(),
        }
        if blocking and not operation["force"]:
            detail = f"{len(blocking)} blocking finding(s): " + "; ".join(f["message"] for f in blocking)
            await self.move(Trigger.PRECHECK_BLOCKED, detail, **changes)
            return False
        detail = f"forced past {len(blocking)} blocking finding(s)" if blocking else "no blocking finding"
        await self.move(Trigger.PRECHECK_PASSED, detail, **changes)
        return True

    async def staging(self, operation: RowMapping) -> bool:
        pair = await self.staging_pair(operation)
        if pair is None:
            return True
        client = await self.client(pair)
        target = Version.parse(operation["to_version"])
        stage = dict(operation["stage"] or {})
        if not stage:
            current = Version.parse((await client.platform_cluster())["control_plane"]["version"])
            snapshot = await client.snapshot(current, 0)
            stage = {
                "stage_ref": f"stage-{uuid.uuid4().hex[:12]}",
                "cluster_id": pair["cluster_id"],
                "cluster_name": pair["name"],
                "to_version": target.minor_text,
                "result": "running",
                "baseline": baseline_of(snapshot).as_dict(),
            }
            await self.defer(self.now() + timedelta(seconds=self.settings.lease_ttl_s), stage=stage)
        try:
            await self.upgrade_control_plane_of(client, target)
            await self.prepare_nodes(client, pair["name"])
            await self.roll_nodes(client, pair["name"], pausable=False)
            problems = await self.wait_postcheck(client, Baseline.from_dict(stage["baseline"]), target, self.now())
        except (NodeFailed, PlatformError) as failure:
            problems = [str(failure)]
        if problems:
            stage.update(result="failed", problems=problems, finished_at=self.now().isoformat())
            await self.move(Trigger.STAGE_FAILED, "; ".join(problems), stage=stage, failure="stage: " + problems[0])
            return True
        stage.update(result="passed", finished_at=self.now().isoformat())
        await self.move(Trigger.STAGE_PASSED, f"stage {stage['stage_ref']} passed on {pair['name']}", stage=stage)
        return False

    async def scheduled(self, operation: RowMapping) -> bool:
        cluster = await self.cluster(operation["cluster_id"])
        if operation["emergency_authorisation_id"]:
            await self.move(
                Trigger.WINDOW_OPENED, f"emergency: authorisation {operation['emergency_authorisation_id']}"
            )
            return True
        if not service.is_staged(cluster):
            await self.move(Trigger.WINDOW_OPENED, "non-prod cluster: no window to wait for")
            return True
        window = await self.window()
        now = self.now()
        if window is None:
            await self.defer(now + NO_WINDOW_RECHECK)
            return False
        if window.is_open(now):
            await self.move(Trigger.WINDOW_OPENED, f"inside the maintenance window until {window.current(now)[1]}")  # type: ignore[index]
            return True
        await self.defer(window.next_opening(now))
        return False

    async def upgrading_control_plane(self, operation: RowMapping) -> bool:
        cluster = await self.cluster(operation["cluster_id"])
        assert cluster is not None
        client = await self.client(cluster)
        try:
            await self.upgrade_control_plane_of(client, Version.parse(operation["to_version"]))
            await self.prepare_nodes(client, cluster["name"])
        except (NodeFailed, PlatformError) as failure:
            await self.move(Trigger.FAILED, str(failure), failure=f"control plane: {failure}")
            return True
        await self.move(Trigger.CONTROL_PLANE_DONE, "control plane upgraded")
        return True

    async def upgrading_nodes(self, operation: RowMapping) -> bool:
        cluster = await self.cluster(operation["cluster_id"])
        assert cluster is not None
        client = await self.client(cluster)
        pausable = service.is_staged(cluster) and not operation["emergency_authorisation_id"]
        try:
            finished = await self.roll_nodes(client, cluster["name"], pausable=pausable)
        except (NodeFailed, PlatformError) as failure:
            await self.move(Trigger.FAILED, str(failure), failure=f"nodes: {failure}")
            return True
        if not finished:
            return False
        await self.move(Trigger.NODES_DONE, "every node replaced and uncordoned")
        return True

    async def postchecking(self, operation: RowMapping) -> bool:
        cluster = await self.cluster(operation["cluster_id"])
        assert cluster is not None
        client = await self.client(cluster)
        baseline = Baseline.from_dict(operation["baseline"])
        problems = await self.wait_postcheck(
            client, baseline, Version.parse(operation["to_version"]), operation["updated_at"]
        )
        if problems:
            await self.move(
                Trigger.FAILED,
                "; ".join(problems),
                postcheck={"problems": problems},
                failure="post-check: " + problems[0],
            )
            return True
        await self.move(Trigger.POSTCHECK_PASSED, "post-check green against the baseline", postcheck={"problems": []})
        return False

    async def rolling_back(self, operation: RowMapping) -> bool:
        actions = []
        async with self.context.database.sessions() as session:
            rows = list(reversed(await repository.nodes_of(session, self.operation_id)))
        cluster_ids = {operation["cluster_id"], (operation["stage"] or {}).get("cluster_id")} - {None}
        clusters = {row["name"]: row for row in [await self.cluster(str(c)) for c in cluster_ids] if row is not None}
        for row in rows:
            roller = NodeRoller(
                await self.client(clusters[row["cluster_name"]]), self.save_node, self.now, self.settings
            )
            try:
                done = await roller.roll_back(row)
            except (NodeFailed, PlatformError) as failure:
                done = f"{row['node']}: rollback failed: {failure}"
            if done:
                actions.append(done)
        for cluster in clusters.values():  # and the surge nodes it had added
            roller = NodeRoller(await self.client(cluster), self.save_node, self.now, self.settings)
            actions += await Surge(self.operation_id, roller, cluster["name"], self.save, self.settings).remove_all()
        # Node rows exist only once a control plane was upgraded.
        for cluster_name in sorted({row["cluster_name"] for row in rows}):
            actions.append(
                f"control plane of {cluster_name} left at {operation['to_version']}: managed control planes are "
                "not downgraded, and kubelets of the previous minor stay within the supported skew"
            )
        await self.move(
            Trigger.ROLLBACK_DONE, "; ".join(actions) or "nothing had been changed", rollback={"actions": actions}
        )
        return False

    # --- shared steps --------------------------------------------------------------------------
    async def upgrade_control_plane_of(self, client: ClusterClient, target: Version) -> None:
        """Idempotent: a control plane already at the target is left alone, a running upgrade awaited."""
        described = await client.platform_cluster()
        if Version.parse(described["control_plane"]["version"]).minor >= target.minor:
            return
        running = described.get("current_operation")
        operation = {"id": running} if running else await client.upgrade_control_plane(target)
        roller = NodeRoller(client, self.save_node, self.now, self.settings)
        await roller.wait_platform(operation["id"], "control plane")

    async def prepare_nodes(self, client: ClusterClient, cluster_name: str) -> None:
        """The node list of the run, fixed once: later resumes work through the same rows."""
        version = (await client.platform_cluster())["control_plane"]["version"]
        rows = node_rows(self.operation_id, cluster_name, version, await client.node_pools())

        async def insert(session: AsyncSession) -> None:
            await repository.insert_nodes(session, rows)

        await self.save(insert)

    async def roll_nodes(self, client: ClusterClient, cluster_name: str, *, pausable: bool) -> bool:
        """True when every node is done; False when paused because the window closed."""
        async with self.context.database.sessions() as session:
            rows = await repository.nodes_of(session, self.operation_id, cluster_name)
        roller = NodeRoller(client, self.save_node, self.now, self.settings)
        surge = Surge(self.operation_id, roller, cluster_name, self.save, self.settings)
        last_of_pool = {row["pool"]: row["node"] for row in rows}
        for row in rows:
            if row["phase"] != "done" and pausable and row["phase"] == "pending":
                # Read before every node: the engagement may have moved its window meanwhile.
                window = await self.window()
                if window is not None and not window.is_open(self.now()):
                    # Work that would overrun the window waits for the next one, between two nodes,
                    # without surge nodes idling (and billed) meanwhile.
                    await surge.remove_all()
                    await self.defer(window.next_opening(self.now()))
                    return False
            if row["phase"] != "done":
                await surge.ensure(row["pool"], row["to_version"])
                await roller.upgrade(row)
            if row["node"] == last_of_pool[row["pool"]]:
                await surge.remove(row["pool"])
        return True

    async def window(self) -> MaintenanceWindow | None:
        async with self.context.database.sessions() as session:
            operation = await repository.get_operation(session, self.operation_id)
            assert operation is not None
            return service.window_of(await repository.get_engagement(session, operation["engagement_id"]))

    async def save_node(self, row: RowMapping, values: dict[str, Any]) -> RowMapping:
        async def apply(session: AsyncSession) -> RowMapping:
            return await repository.update_node(session, row["operation_id"], row["cluster_name"], row["node"], values)

        return await self.save(apply)

    async def wait_postcheck(
        self, client: ClusterClient, baseline: Baseline, target: Version, since: datetime
    ) -> list[str]:
        """Problems left once the bound is over (pods may stay Pending a while after a drain)."""
        deadline = since + timedelta(seconds=self.settings.postcheck_timeout_s)
        while True:
            described = await client.platform_cluster()
            snapshot = await client.snapshot(Version.parse(described["control_plane"]["version"]), 0)
            problems = postcheck_problems(baseline, snapshot, target)
            if not problems or self.now() >= deadline:
                return problems
            await asyncio.sleep(self.settings.platform_poll_s)
