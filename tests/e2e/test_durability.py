"""Issue 11's outages under load: a service killed with SIGKILL, the broker killed while a consumer
is behind. Every request must end as exactly one timer and exactly one audit entry of each kind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from k8sops_platform.embedded import TansuBroker
from k8sops_platform.services import ServiceProcess

from .conftest import StartService, steadily
from .test_first_thread import new_request, set_up_engagement

Eventually = Callable[..., Awaitable[object]]


class Load:
    """Six clients opening requests back to back until stopped; every answer must be a 201."""

    def __init__(self, intake_url: str, headers: dict[str, str], clients: int = 6) -> None:
        self.intake_url = intake_url
        self.headers = headers
        self.request_ids: list[str] = []
        self._stopping = asyncio.Event()
        self._tasks = [asyncio.create_task(self._client(number)) for number in range(clients)]

    async def _client(self, number: int) -> None:
        async with httpx.AsyncClient(timeout=30, headers=self.headers) as client:
            while not self._stopping.is_set():
                response = await self._open(client, new_request(f"load {number}"))
                assert response.status_code in (200, 201), response.text
                self.request_ids.append(response.json()["id"])

    async def _open(self, client: httpx.AsyncClient, body: dict[str, str]) -> httpx.Response:
        # As a careful client does: a dropped connection is retried with the same key, which
        # answers the request it may already have created instead of creating a second one.
        key = str(uuid.uuid4())
        for _ in range(5):
            try:
                return await client.post(f"{self.intake_url}/v1/requests", json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                await asyncio.sleep(0.5)
        return await client.post(f"{self.intake_url}/v1/requests", json=body, headers={"Idempotency-Key": key})

    async def progressed(self, requests: int) -> None:
        """Waits until `requests` more have been opened."""
        target = len(self.request_ids) + requests
        await steadily(self._opened, lambda opened: opened >= target)

    async def _opened(self) -> int:
        for task in self._tasks:
            if task.done():
                task.result()  # a failed client fails the test here
        return len(self.request_ids)

    async def stop(self) -> list[str]:
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        return self.request_ids


async def effects(isolation) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What each request must have caused exactly once, and how many of it are duplicates."""
    intake, sla, audit = (isolation.schema_for(name) for name in ("intake", "sla-timer", "audit"))
    [row] = await isolation.fetch(
        f"""
        SELECT
          (SELECT count(*) FROM {intake}.requests) AS requests,
          (SELECT count(*) FROM {sla}.timers) AS timers,
          (SELECT count(DISTINCT target_name) FROM {audit}.audit_entries WHERE action = 'request.open') AS opened,
          (SELECT count(DISTINCT target_name) FROM {audit}.audit_entries WHERE action = 'sla.timer.arm') AS armed,
          (SELECT count(*) - count(DISTINCT (action, target_name)) FROM {audit}.audit_entries
            WHERE action IN ('request.open', 'sla.timer.arm')) AS duplicates
        """
    )
    return dict(row)


async def restart(process: ServiceProcess) -> None:
    process.start()
    await asyncio.to_thread(process.wait_ready, 120)


async def test_sigkill_of_a_service_and_a_broker_restart_under_load_lose_and_duplicate_nothing(
    isolation: Any, start_service: StartService, requester_headers: dict[str, str], own_broker: TansuBroker
) -> None:
    broker, bootstrap = own_broker, isolation.bootstrap
    intake = await start_service("intake", bootstrap=bootstrap)
    sla = await start_service("sla-timer", bootstrap=bootstrap)
    audit = await start_service("audit", bootstrap=bootstrap)
    await set_up_engagement(intake.url)
    load = Load(intake.url, requester_headers)
    await load.progressed(40)

    sla.kill()  # a consumer and a relay die with work in hand
    await load.progressed(40)
    await restart(sla)
    await load.progressed(40)

    audit.kill()  # its consumer falls behind: what piles up lives only in the broker
    await load.progressed(40)
    broker.stop()  # memory storage: everything not yet consumed is gone
    await load.progressed(20)  # intake keeps accepting into its outbox
    broker.start()
    await isolation.ensure_topics()  # as `k8sops run` does after restarting the broker
    await restart(audit)
    await load.progressed(40)
    opened = len(await load.stop())

    expected = {"requests": opened, "timers": opened, "opened": opened, "armed": opened, "duplicates": 0}
    await steadily(lambda: effects(isolation), lambda counts: counts == expected)
