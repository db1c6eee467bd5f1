"""The services as real processes (`python -m k8sops_<name> serve`) on free ports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from k8sops_common.auth import mint_token
from k8sops_common.settings import DEV_JWT_SECRET
from k8sops_platform.embedded import free_port
from k8sops_platform.services import SERVICES_BY_NAME, ServiceProcess

StartService = Callable[..., Awaitable[ServiceProcess]]


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
    return {"Authorization": f"Bearer {mint_token(DEV_JWT_SECRET, sub=sub, roles=roles, engagements=engagements)}"}


@pytest.fixture
def requester_headers() -> dict[str, str]:
    return bearer(["k8s-ops.requester"], ["eng-e2e"])


@pytest.fixture
def auditor_headers() -> dict[str, str]:
    return bearer(["k8s-ops.auditor"], [], sub="auditor@provider.example")
