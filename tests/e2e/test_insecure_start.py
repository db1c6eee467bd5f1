"""A service outside development mode refuses the published development JWT secret, and says why."""

from __future__ import annotations

import asyncio
import os
import sys


async def test_a_service_will_not_start_with_the_development_secret_outside_dev_mode(isolation) -> None:  # type: ignore[no-untyped-def]
    env = {key: value for key, value in os.environ.items() if key not in ("K8SOPS_JWT_SECRET", "K8SOPS_DEV_MODE")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "k8sops_audit", "serve",
        env={**env, **isolation.service_env("audit"), "K8SOPS_HTTP_PORT": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode != 0
    assert "K8SOPS_JWT_SECRET" in stderr.decode() and "K8SOPS_DEV_MODE=1" in stderr.decode(), stderr.decode()[-2000:]
