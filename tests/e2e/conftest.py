"""The services as real processes (`python -m k8sops_<name> serve`) on free ports.

Every test here carries the `e2e` marker (`-m "not e2e"` leaves them out). They wait for
conditions, never for fixed windows: `steadily` keeps waiting while the watched value still
moves, so a loaded machine makes them slower, not red.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from k8sops_common.auth import mint_token
from k8sops_common.settings import DEV_JWT_SECRET
from k8sops_platform.embedded import free_port
from k8sops_platform.services import SERVICES_BY_NAME, ServiceProcess
from tests.conftest import DAY_S
from tests.support.otlp import otlp_receiver  # noqa: F401 - a fixture for the tests here

StartService = Callable[..., Awaitable[ServiceProcess]]
T = TypeVar("T")
E2E = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)


async def steadily(
    check: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, stall_s: float = 90.0, limit_s: float = 600.0
) -> T:
    """Polls until `accept` holds; fails only when the result stopped changing for `stall_s` (or after `limit_s`)."""
    loop = asyncio.get_running_loop()
    started = changed_at = loop.time()
    last: object = object()
    while True:
        result = await check()
        if accept(result):
            return result
        if result != last:
            last, changed_at = result, loop.time()
        if loop.time() - changed_at > stall_s or loop.time() - started > limit_s:
            raise AssertionError(f"stuck at {result!r} for {loop.time() - changed_at:.0f}s")
        await asyncio.sleep(0.2)


async def caught_up(service_url: str, topic: str) -> bool:
    """Whether the service's consumer has handled a batch of `topic` and reports no lag anywhere on it."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{service_url}/metrics")).text
    pattern = rf'k8sops_consumer_lag{{partition="\d+",service="[^"]+",topic="{re.escape(topic)}"}} ([0-9.e+]+)'
    lags = [float(lag) for lag in re.findall(pattern, text)]
    return bool(lags) and not any(lags)


@pytest.fixture
def start_service(isolation, tmp_path: Path) -> Iterator[StartService]:  # type: ignore[no-untyped-def]
    started: list[ServiceProcess] = []

    async def start(
        name: str, *, bootstrap: str | None = None, wait: bool = True, env: dict[str, str] | None = None
    ) -> ServiceProcess:
        spec = SERVICES_BY_NAME[name]
        await isolation.settings(name, spec.migrations_package)
        env = {**isolation.service_env(name), **(env or {})}
        if bootstrap:
            env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        process = ServiceProcess(spec, free_port(), env, tmp_path / f"{name}.log")
        process.start()
        started.append(process)
        if wait:
            process.wait_ready(60)
        return process

    yield start
    for process in started:
        process.stop()


def bearer(roles: list[str], engagements: list[str], sub: str = "alice@customer.example") -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, sub=sub, roles=roles, engagements=engagements, ttl_s=DAY_S)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def requester_headers() -> dict[str, str]:
    return bearer(["k8s-ops.requester"], ["eng-e2e"])


@pytest.fixture
def auditor_headers() -> dict[str, str]:
    return bearer(["k8s-ops.auditor"], [], sub="auditor@provider.example")
