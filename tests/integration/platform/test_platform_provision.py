"""Each service's role can use only its own schema; provisioning is safe to repeat."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from k8sops_common.migrations import migrate
from k8sops_platform.provision import ensure_database, provision_service


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


async def test_a_service_role_sees_only_its_own_schema(postgres_admin_url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    database = f"prov_{suffix}"
    await ensure_database(postgres_admin_url, database)
    await ensure_database(postgres_admin_url, database)  # a second run changes nothing
    intake = await provision_service(postgres_admin_url, database, f"intake_{suffix}", f"intake_{suffix}", "pw")
    audit = await provision_service(postgres_admin_url, database, f"audit_{suffix}", f"audit_{suffix}", "pw")
    assert intake.runtime_url == intake.migration_url
    intake_url, audit_url = intake.migration_url, audit.migration_url
    await provision_service(postgres_admin_url, database, f"intake_{suffix}", f"intake_{suffix}", "pw")

    # Migrations run as the service's own role, and the version table lands in its schema.
    await asyncio.to_thread(migrate, "k8sops_intake.migrations", intake_url, f"intake_{suffix}")
    await asyncio.to_thread(migrate, "k8sops_audit.migrations", audit_url, f"audit_{suffix}")

    intake = await connect(intake_url)
    try:
        assert await intake.fetchval("SELECT version_num FROM alembic_version") == "0001"
        assert await intake.fetchval("SELECT count(*) FROM outbox") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.fetch(f"SELECT * FROM audit_{suffix}.audit_entries")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute("CREATE TABLE public.sneaky (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute(f"CREATE SCHEMA another_{suffix}")
    finally:
        await intake.close()
