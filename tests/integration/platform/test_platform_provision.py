"""Each service's role can use only its own schema; provisioning is safe to repeat."""

from __future__ import annotations

import asyncio
import uuid
from importlib import resources

import asyncpg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from k8sops_common.migrations import migrate
from k8sops_platform.provision import ensure_database, provision_service


def script_config(package: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files(package)))
    return config


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
        # The version table is the service's own, in its schema, at the newest revision.
        head = ScriptDirectory.from_config(script_config("k8sops_intake.migrations")).get_current_head()
        assert await intake.fetchval("SELECT version_num FROM alembic_version") == head
        assert await intake.fetchval("SELECT count(*) FROM outbox") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.fetch(f"SELECT * FROM audit_{suffix}.audit_entries")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute("CREATE TABLE public.sneaky (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute(f"CREATE SCHEMA another_{suffix}")
    finally:
        await intake.close()
