"""The durable loop: operations are rows, not sleeping tasks.

Each poll claims due operations (`FOR UPDATE SKIP LOCKED`) and, in the same transaction, the
lease of every cluster they touch; only then does a task drive them. A lease is renewed while the
task runs and expires if the process dies, so another runner picks the operation up from its
persisted step. Two runners never act on one cluster: the lease row allows one holder at a time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta

import httpx

from k8sops_common.jobs import poll_rounds
from k8sops_common.service import ServiceContext

from .. import repository, service
from ..domain.operation import OperationKind
from ..settings import RunnerSettings
from .addons import AddonDriver
from .drift import DriftDriver
from .engine import Driver, LeaseLost
from .migration import MigrationDriver

log = logging.getLogger(__name__)
RETRY_AFTER_ERROR = timedelta(seconds=5)
DRIVERS: dict[OperationKind, type[Driver]] = {
    OperationKind.UPGRADE: Driver,
    OperationKind.ADDON: AddonDriver,
    OperationKind.DRIFT_RECONCILE: DriftDriver,
    OperationKind.MIGRATION: MigrationDriver,
}


class _NotAcquired(Exception):
    pass


class Runner:
    def __init__(self, context: ServiceContext, settings: RunnerSettings) -> None:
        self.context = context
        self.settings = settings
        self.active: dict[str, asyncio.Task[None]] = {}

    async def claim(self, http: httpx.AsyncClient) -> int:
        """Claims what is due and not already driven here; starts a task per operation."""
        capacity = self.settings.max_parallel - len(self.active)
        if capacity <= 0:
            return 0
        now = service.now_utc()
        lease_until = now + timedelta(seconds=self.settings.lease_ttl_s)
        claimed: list[tuple[str, set[str]]] = []
        async with self.context.database.unit_of_work() as session:
            for operation in await repository.claim_due_operations(
                session, now, capacity, set(self.active), self.settings.runner_id
            ):
                cluster = await repository.get_cluster(session, operation["cluster_id"])
                leased = {operation["cluster_id"]}
                if cluster is not None and cluster["paired_cluster_id"]:
                    leased.add(cluster["paired_cluster_id"])
                try:
                    async with session.begin_nested():
                        if not await repository.acquire_leases(
                            session, leased, self.settings.runner_id, operation["operation_id"], lease_until
                        ):
                            raise _NotAcquired
                except _NotAcquired:
                    continue
                # Looked at again only if this runner dies and its lease runs out.
                await repository.update_operation(session, operation["operation_id"], {"next_run_at": lease_until})
                claimed.append((operation["operation_id"], leased))
        for operation_id, leased in claimed:
            task = asyncio.create_task(self.drive(http, operation_id, leased), name=f"operation-{operation_id}")
            self.active[operation_id] = task
            task.add_done_callback(functools.partial(self._forget, operation_id))
        return len(claimed)

    def _forget(self, operation_id: str, _: asyncio.Task[None]) -> None:
        self.active.pop(operation_id, None)

    async def drive(self, http: httpx.AsyncClient, operation_id: str, leased: set[str]) -> None:
        async with self.context.database.sessions() as session:
            operation = await repository.get_operation(session, operation_id)
        kind = OperationKind(operation["kind"]) if operation is not None else OperationKind.UPGRADE
        driver = DRIVERS.get(kind, Driver)(self.context, self.settings, http, operation_id, leased)
        heartbeat = asyncio.create_task(self.renew(operation_id, leased, asyncio.current_task()))
        try:
            await driver.run()
        except LeaseLost as lost:
            log.warning("operation %s: %s; another runner carries on", operation_id, lost)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            # A cluster or database hiccup: the persisted step is intact, so try again shortly.
            log.exception("operation %s failed in this pass; retrying", operation_id)
            await self.reschedule(operation_id, leased)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        await self.release(leased)

    async def renew(self, operation_id: str, leased: set[str], owner: asyncio.Task[None] | None) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_ttl_s / 3)
            until = service.now_utc() + timedelta(seconds=self.settings.lease_ttl_s)
            try:
                async with self.context.database.unit_of_work() as session:
                    held = await repository.holds_leases(session, leased, self.settings.runner_id)
                    if held:
                        await repository.acquire_leases(session, leased, self.settings.runner_id, operation_id, until)
            except Exception as error:
                log.warning("operation %s: lease renewal failed: %s", operation_id, error)
                continue
            if not held and owner is not None:
                owner.cancel()
                return

    async def reschedule(self, operation_id: str, leased: set[str]) -> None:
        async with self.context.database.unit_of_work() as session:
            if await repository.holds_leases(session, leased, self.settings.runner_id):
                await repository.update_operation(
                    session, operation_id, {"next_run_at": service.now_utc() + RETRY_AFTER_ERROR}
                )

    async def release(self, leased: set[str]) -> None:
        async with self.context.database.unit_of_work() as session:
            await repository.release_leases(session, leased, self.settings.runner_id)

    async def run(self, stopping: asyncio.Event) -> None:
        async with httpx.AsyncClient() as http:
            try:
                await poll_rounds(lambda: self.claim(http), self.settings.poll_interval_s, stopping, "upgrade runner")
            finally:
                tasks = list(self.active.values())
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


async def run_runner(context: ServiceContext, stopping: asyncio.Event) -> None:
    await Runner(context, context.extras.get("runner_settings") or RunnerSettings()).run(stopping)
