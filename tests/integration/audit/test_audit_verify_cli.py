"""`python -m k8sops_audit verify` that cannot check says why in one line and exits 7, never 1 (tampered)."""

from __future__ import annotations

import asyncio
import os
import sys

from k8sops_platform.embedded import free_port


async def verify_with(env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "k8sops_audit",
        "verify",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    return int(process.returncode or 0), stdout.decode(), stderr.decode()


async def test_an_unreachable_database_or_missing_schema_is_could_not_check(postgres_admin_url: str) -> None:
    status, stdout, stderr = await verify_with(
        {"DATABASE_URL": f"postgresql://audit:s3cret@127.0.0.1:{free_port()}/k8sops", "K8SOPS_DB_SCHEMA": "audit"}
    )
    assert status == 7 and not stdout
    assert "Traceback" not in stderr and "DATABASE_URL" in stderr and "K8SOPS_DB_SCHEMA" in stderr
    assert "s3cret" not in stderr, "the password is not printed"

    status, stdout, stderr = await verify_with(
        {"DATABASE_URL": postgres_admin_url, "K8SOPS_DB_SCHEMA": "no_such_schema"}
    )
    assert status == 7 and not stdout
    assert "Traceback" not in stderr and "no_such_schema" in stderr
