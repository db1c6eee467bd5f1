"""K8SOPS_HTTP_WORKERS: one port served by several processes, each building the whole service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import psutil
import pytest

from k8sops_platform.services import ServiceProcess

pytestmark = pytest.mark.e2e
StartService = Callable[..., Awaitable[ServiceProcess]]
Eventually = Callable[..., Awaitable[object]]
STARTED = "Application startup complete"


def spawned_workers(process: ServiceProcess) -> list[psutil.Process]:
    assert process.process is not None
    children = psutil.Process(process.process.pid).children()
    return [child for child in children if "spawn_main" in " ".join(child.cmdline())]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_two_workers_serve_one_port_and_die_with_the_service(
    start_service: StartService, eventually: Eventually
) -> None:
    service = await start_service("cost-analyzer", env={"K8SOPS_HTTP_WORKERS": "2"}, wait=False)
    # Every worker imports the whole service again (spawn): slow on a loaded machine.
    await asyncio.to_thread(service.wait_ready, 150)

    async def started_apps() -> int:
        return (await asyncio.to_thread(service.log_path.read_text, errors="replace")).count(STARTED)

    # Each worker runs the app's startup (relay, consumer, loops) once: the module's own
    # `service_main` call must not start a server again inside a worker.
    await eventually(started_apps, lambda count: count == 2, timeout_s=120)
    workers = spawned_workers(service)
    assert len(workers) == 2
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{service.url}/readyz")).status_code == 200

    service.kill()  # a crash: no worker may keep the port and its place in the consumer group

    async def workers_alive() -> int:
        return sum(alive(worker.pid) for worker in workers)

    await eventually(workers_alive, lambda count: count == 0)
